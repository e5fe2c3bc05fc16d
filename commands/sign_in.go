package commands

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/internal/password"
	"github.com/confabhq/confab/internal/throttle"
)

// SignIn starts a session with a username and password.
type SignIn struct {
	Username string
	Password string
	// IP is the client's address, for throttling.
	IP string
}

// SignInHandler handles SignIn. Wrong passwords are throttled per account
// and per IP address: past a few failures each further attempt must wait
// for a lockout that doubles with every failure.
type SignInHandler struct {
	agg      *Aggregates
	accounts *throttle.Throttle
	ips      *throttle.Throttle
}

// Throttle policies for sign-in.
var (
	AccountPolicy = throttle.Policy{Free: 5, Base: time.Second, Max: 15 * time.Minute, Forget: 15 * time.Minute}
	IPPolicy      = throttle.Policy{Free: 20, Base: time.Second, Max: 15 * time.Minute, Forget: 15 * time.Minute}
)

// NewSignInHandler returns a handler with the sign-in throttles.
func NewSignInHandler(agg *Aggregates) (*SignInHandler, error) {
	if agg == nil {
		return nil, errors.New("commands: nil aggregates")
	}
	return &SignInHandler{agg: agg, accounts: throttle.New(AccountPolicy, agg.now), ips: throttle.New(IPPolicy, agg.now)}, nil
}

// Handle checks the password and starts a session. A wrong username and a
// wrong password get the same error.
func (h *SignInHandler) Handle(ctx context.Context, cmd SignIn) (Session, error) {
	id := domain.UserIDFor(cmd.Username)
	accountKey, ipKey := "user:"+string(id), "ip:"+cmd.IP
	if wait := max(h.accounts.Check(accountKey), h.ips.Check(ipKey)); wait > 0 {
		return Session{}, &domain.Error{Kind: domain.KindRateLimited, Op: "sign in", RetryAfter: wait,
			Message: fmt.Sprintf("too many failed sign-ins; try again in %d s", int(math.Ceil(wait.Seconds())))}
	}
	var hash string
	if err := h.agg.readUser(ctx, id, func(u *domain.User) error {
		hash = u.PasswordHash
		return nil
	}); err != nil {
		return Session{}, err
	}
	ok := false
	if hash != "" {
		var err error
		if ok, err = password.Verify(cmd.Password, hash); err != nil {
			return Session{}, fmt.Errorf("sign in: %w", err)
		}
	} else {
		// Spend the same time on an unknown user as on a known one.
		password.Verify(cmd.Password, dummyHash)
	}
	if !ok {
		h.accounts.Fail(accountKey)
		h.ips.Fail(ipKey)
		return Session{}, domain.Errorf(domain.KindUnauthenticated, "sign in", "wrong username or password")
	}
	h.accounts.Succeed(accountKey)
	return h.agg.startSession(ctx, id)
}

// dummyHash is verified for unknown usernames.
var dummyHash, _ = password.Hash("not a password", password.Default)
