package commands

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/internal/password"
	"github.com/confabhq/confab/internal/throttle"
)

// ChangePassword changes a user's password from one of their sessions:
// the old password must be given again, and every other session of the
// user ends (domain.EndPasswordChanged); the caller's stays.
type ChangePassword struct {
	UserID    domain.UserID
	SessionID string // the caller's session, which stays
	Old, New  string
}

// ChangePasswordHandler handles ChangePassword. Wrong old passwords are
// throttled per account as sign-in's (account, IP) pairs are (PairPolicy:
// 5 free, then a lockout that doubles): a stolen session cannot guess
// its way to the password.
type ChangePasswordHandler struct {
	agg     *Aggregates
	params  password.Params
	hashing *password.Limiter
	fails   *throttle.Throttle
}

// NewChangePasswordHandler returns a handler hashing with params in
// hashing.
func NewChangePasswordHandler(agg *Aggregates, params password.Params, hashing *password.Limiter) (*ChangePasswordHandler, error) {
	if agg == nil || hashing == nil {
		return nil, errors.New("commands: nil aggregates or hashing limiter")
	}
	return &ChangePasswordHandler{agg: agg, params: params, hashing: hashing, fails: throttle.New(PairPolicy, agg.now, 0)}, nil
}

// checkNewPassword applies the sign-up rules to a new password.
func checkNewPassword(op, pw string) error {
	if err := domain.ValidatePassword(pw); err != nil {
		var de *domain.Error
		if errors.As(err, &de) {
			return domain.Errorf(domain.KindInvalid, op, "%s", de.Message)
		}
		return err
	}
	if password.IsCommon(pw) {
		return domain.Errorf(domain.KindInvalid, op, "password is too common: it is one of the 10,000 most used passwords; choose another")
	}
	return nil
}

// Handle checks the old password and appends PasswordChanged with the
// ends of the other sessions. A wrong old password is KindForbidden.
func (h *ChangePasswordHandler) Handle(ctx context.Context, cmd ChangePassword) (Result, error) {
	const op = "change password"
	if err := checkNewPassword(op, cmd.New); err != nil {
		return Result{}, err
	}
	key := "user:" + string(cmd.UserID)
	if wait, _ := h.fails.Reserve(key); wait > 0 {
		return Result{}, &domain.Error{Kind: domain.KindRateLimited, Op: op, RetryAfter: wait,
			Message: fmt.Sprintf("too many wrong passwords; try again in %d s", int(math.Ceil(wait.Seconds())))}
	}
	var old string
	if err := h.agg.readUser(ctx, cmd.UserID, func(u *domain.User) error {
		if !u.Exists || u.Deleted {
			return domain.Errorf(domain.KindNotFound, op, "no such user")
		}
		old = u.PasswordHash
		return nil
	}); err != nil {
		h.fails.Release(key)
		return Result{}, err
	}
	ok, err := h.hashing.Verify(ctx, cmd.Old, old)
	if err != nil {
		h.fails.Release(key)
		return Result{}, hashingError(op, err)
	}
	if !ok {
		h.fails.Fail(key)
		return Result{}, domain.Errorf(domain.KindForbidden, op, "the current password is wrong")
	}
	h.fails.Succeed(key)
	hash, err := h.hashing.Hash(ctx, cmd.New, h.params)
	if err != nil {
		return Result{}, hashingError(op, err)
	}
	return h.agg.updateUser(ctx, cmd.UserID, func(u *domain.User) ([]domain.Event, error) {
		if u.PasswordHash != old {
			return nil, domain.Errorf(domain.KindConflict, op, "the password changed meanwhile; try again")
		}
		return u.ChangePassword(hash, cmd.SessionID, domain.ByUser, h.agg.now())
	})
}
