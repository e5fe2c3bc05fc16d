package commands

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/internal/password"
	"github.com/confabhq/confab/internal/throttle"
)

// SignUp opens an account and signs it in.
type SignUp struct {
	Username string
	Password string
	// IP is the client's address, for throttling.
	IP string
}

// SignUpHandler handles SignUp. Sign-ups are throttled per IP address (a
// token bucket), and passwords are hashed in the shared hashing limiter.
type SignUpHandler struct {
	agg     *Aggregates
	params  password.Params
	hashing *password.Limiter
	ips     *throttle.Buckets // nil: not throttled
}

// NewSignUpHandler returns a handler hashing passwords with params in
// hashing; ips throttles sign-ups per address (nil: not at all).
func NewSignUpHandler(agg *Aggregates, params password.Params, hashing *password.Limiter, ips *throttle.Buckets) (*SignUpHandler, error) {
	if agg == nil || hashing == nil {
		return nil, errors.New("commands: nil aggregates or hashing limiter")
	}
	return &SignUpHandler{agg: agg, params: params, hashing: hashing, ips: ips}, nil
}

// Handle opens the account (its stream must not exist: usernames are
// unique whatever their case) and starts a session. Bad input and a taken
// username are answered before the address's allowance is spent.
func (h *SignUpHandler) Handle(ctx context.Context, cmd SignUp) (Session, error) {
	if err := domain.ValidateUsername(cmd.Username); err != nil {
		return Session{}, err
	}
	if err := domain.ValidatePassword(cmd.Password); err != nil {
		return Session{}, err
	}
	if password.IsCommon(cmd.Password) {
		return Session{}, domain.Errorf(domain.KindInvalid, "sign up", "password is too common: it is one of the 10,000 most used passwords; choose another")
	}
	id := domain.UserIDFor(cmd.Username)
	if err := h.agg.readUser(ctx, id, func(u *domain.User) error {
		if u.Exists {
			return taken(cmd.Username)
		}
		return nil
	}); err != nil {
		return Session{}, err
	}
	undo := func() {}
	if h.ips != nil {
		var wait time.Duration
		if wait, undo = h.ips.Take("ip:" + cmd.IP); wait > 0 {
			return Session{}, &domain.Error{Kind: domain.KindRateLimited, Op: "sign up", RetryAfter: wait,
				Message: fmt.Sprintf("too many sign-ups from your address; try again in %d s", int(math.Ceil(wait.Seconds())))}
		}
	}
	hash, err := h.hashing.Hash(ctx, cmd.Password, h.params)
	if err != nil {
		undo()
		return Session{}, hashingError("sign up", err)
	}
	_, err = h.agg.users.update(ctx, string(id), true, nil, func(u *domain.User, _ uint64) ([]domain.Event, error) {
		return u.SignUp(cmd.Username, hash, h.agg.now())
	})
	if errors.Is(err, eventstore.ErrConflict) {
		return Session{}, taken(cmd.Username)
	}
	if err != nil {
		return Session{}, err
	}
	return h.agg.startSession(ctx, id)
}

func taken(username string) error {
	return domain.Errorf(domain.KindConflict, "sign up", "username %q is taken", username)
}
