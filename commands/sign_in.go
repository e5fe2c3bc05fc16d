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

// SignInHandler handles SignIn. Every attempt is reserved before its
// password is checked, in three throttles (docs/protocol.md, "Sign-in
// throttling"):
//   - per (account, IP): 5 failures are free, then a lockout of 1 s that
//     doubles with each further failure, up to 15 min; a success forgets
//     the failures;
//   - per IP, whatever the accounts: 20 failures are free, then the same
//     lockout; but an (account, IP) pair that has never failed still gets
//     its attempt checked (one at a time), so that a colleague behind the
//     same address signs in while another client of it guesses;
//   - per account, from anywhere: 10 failures are free, then attempts take
//     turns 0.5 s apart, doubling with each failure up to 5 s, each
//     waiting at most 10 s for its turn: the account is slowed down, never
//     locked, so an attacker elsewhere cannot lock its owner out.
//
// Passwords are checked in the shared hashing limiter, an unknown
// username against a dummy hash of the same cost: the same work and the
// same answer as a wrong password.
type SignInHandler struct {
	agg      *Aggregates
	hashing  *password.Limiter
	dummy    string
	pairs    *throttle.Throttle
	ips      *throttle.Throttle
	accounts *throttle.Pacer
}

// Throttle policies for sign-in.
var (
	PairPolicy    = throttle.Policy{Free: 5, Base: time.Second, Max: 15 * time.Minute, Forget: 15 * time.Minute}
	IPPolicy      = throttle.Policy{Free: 20, Base: time.Second, Max: 15 * time.Minute, Forget: 15 * time.Minute}
	AccountPolicy = throttle.PacePolicy{Free: 10, Base: 500 * time.Millisecond, Max: 5 * time.Second, MaxWait: 10 * time.Second, Forget: 15 * time.Minute}
)

// NewSignInHandler returns a handler with the sign-in throttles, checking
// passwords in hashing; params are the cost of the dummy hash verified
// for unknown usernames (that of new accounts).
func NewSignInHandler(agg *Aggregates, hashing *password.Limiter, params password.Params) (*SignInHandler, error) {
	if agg == nil || hashing == nil {
		return nil, errors.New("commands: nil aggregates or hashing limiter")
	}
	dummy, err := password.Hash("not a password", params)
	if err != nil {
		return nil, err
	}
	return &SignInHandler{
		agg: agg, hashing: hashing, dummy: dummy,
		pairs:    throttle.New(PairPolicy, agg.now, 0),
		ips:      throttle.New(IPPolicy, agg.now, 0),
		accounts: throttle.NewPacer(AccountPolicy, agg.now, 0),
	}, nil
}

// Handle checks the password and starts a session. A wrong username and a
// wrong password get the same error.
func (h *SignInHandler) Handle(ctx context.Context, cmd SignIn) (Session, error) {
	id := domain.UserIDFor(cmd.Username)
	a, err := h.begin(ctx, id, cmd.IP)
	if err != nil {
		return Session{}, err
	}
	ok, err := h.verify(ctx, id, cmd.Password)
	if err != nil {
		a.end(h, outcomeNone)
		return Session{}, err
	}
	if !ok {
		a.end(h, outcomeFailed)
		return Session{}, domain.Errorf(domain.KindUnauthenticated, "sign in", "wrong username or password")
	}
	a.end(h, outcomeOK)
	return h.agg.startSession(ctx, id)
}

// verify checks password against the account's hash, or against the
// dummy hash if there is no such account.
func (h *SignInHandler) verify(ctx context.Context, id domain.UserID, pw string) (bool, error) {
	var hash string
	if err := h.agg.readUser(ctx, id, func(u *domain.User) error {
		if !u.Deleted {
			hash = u.PasswordHash // a deleted account is as unknown
		}
		return nil
	}); err != nil {
		return false, err
	}
	known := hash != ""
	if !known {
		hash = h.dummy
	}
	ok, err := h.hashing.Verify(ctx, pw, hash)
	if err != nil {
		return false, hashingError("sign in", err)
	}
	return ok && known, nil
}

// signInAttempt is an attempt reserved in the three throttles.
type signInAttempt struct{ pair, ip, account string }

type outcome int

const (
	outcomeNone outcome = iota // not checked (busy, store error)
	outcomeFailed
	outcomeOK
)

// begin reserves an attempt, waiting for the account's turn if it is
// paced, or refuses it.
func (h *SignInHandler) begin(ctx context.Context, id domain.UserID, ip string) (*signInAttempt, error) {
	a := &signInAttempt{pair: "user:" + string(id) + " ip:" + ip, ip: "ip:" + ip, account: "user:" + string(id)}
	wait, first := h.pairs.Reserve(a.pair)
	if wait > 0 {
		return nil, signInThrottled("too many failed sign-ins", wait)
	}
	if wait, _ := h.ips.Reserve(a.ip); wait > 0 {
		if !first {
			h.pairs.Release(a.pair)
			return nil, signInThrottled("too many failed sign-ins from your address", wait)
		}
		h.ips.Hold(a.ip) // a pair that never failed goes on, and its failure counts
	}
	delay, ok := h.accounts.Schedule(a.account)
	if !ok {
		h.pairs.Release(a.pair)
		h.ips.Release(a.ip)
		return nil, signInThrottled("too many failed sign-ins for this account", delay)
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			a.end(h, outcomeNone)
			return nil, fmt.Errorf("sign in: waiting for the account's turn: %w", ctx.Err())
		}
	}
	return a, nil
}

// end ends the attempt in the three throttles. A success forgets only the
// pair's failures: the address's and the account's may be other clients'.
func (a *signInAttempt) end(h *SignInHandler, o outcome) {
	switch o {
	case outcomeFailed:
		h.pairs.Fail(a.pair)
		h.ips.Fail(a.ip)
		h.accounts.Fail(a.account)
	case outcomeOK:
		h.pairs.Succeed(a.pair)
		h.ips.Release(a.ip)
		h.accounts.Release(a.account)
	default:
		h.pairs.Release(a.pair)
		h.ips.Release(a.ip)
		h.accounts.Release(a.account)
	}
}

func signInThrottled(what string, wait time.Duration) error {
	return &domain.Error{Kind: domain.KindRateLimited, Op: "sign in", RetryAfter: wait,
		Message: fmt.Sprintf("%s; try again in %d s", what, int(math.Ceil(wait.Seconds())))}
}

// hashRetryAfter is what a client refused by a busy hashing limiter is
// told to wait.
const hashRetryAfter = time.Second

// hashingError turns the hashing limiter's ErrBusy into a 503.
func hashingError(op string, err error) error {
	if errors.Is(err, password.ErrBusy) {
		return &domain.Error{Kind: domain.KindUnavailable, Op: op, RetryAfter: hashRetryAfter, Err: err,
			Message: "the server is busy checking passwords; try again in 1 s"}
	}
	return fmt.Errorf("%s: %w", op, err)
}
