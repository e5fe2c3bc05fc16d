package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/internal/password"
)

// The operators' account actions (confab users): reset a password,
// disable, enable and delete an account. They append events like every
// other use case; nothing edits the read models.

// MembershipLookup lists the rooms a user is a member of. It is the
// read models: deleting a user ends their group memberships room by room.
type MembershipLookup interface {
	RoomIDsOf(ctx context.Context, user domain.UserID) ([]domain.RoomID, error)
}

// ResetPassword sets a user's password as an operator: every session of
// the user ends (domain.EndPasswordChanged).
type ResetPassword struct {
	UserID   domain.UserID
	Password string
}

// ResetPasswordHandler handles ResetPassword.
type ResetPasswordHandler struct {
	agg     *Aggregates
	params  password.Params
	hashing *password.Limiter
}

// NewResetPasswordHandler returns a handler hashing with params in hashing.
func NewResetPasswordHandler(agg *Aggregates, params password.Params, hashing *password.Limiter) (*ResetPasswordHandler, error) {
	if agg == nil || hashing == nil {
		return nil, errors.New("commands: nil aggregates or hashing limiter")
	}
	return &ResetPasswordHandler{agg: agg, params: params, hashing: hashing}, nil
}

// Handle checks the password against the sign-up rules, hashes it and
// appends PasswordChanged (ByOperator) with the end of every session.
func (h *ResetPasswordHandler) Handle(ctx context.Context, cmd ResetPassword) (Result, error) {
	const op = "reset password"
	if err := checkNewPassword(op, cmd.Password); err != nil {
		return Result{}, err
	}
	if err := h.agg.readUser(ctx, cmd.UserID, func(u *domain.User) error {
		if !u.Exists || u.Deleted {
			return domain.Errorf(domain.KindNotFound, op, "no such user")
		}
		return nil
	}); err != nil {
		return Result{}, err
	}
	hash, err := h.hashing.Hash(ctx, cmd.Password, h.params)
	if err != nil {
		return Result{}, hashingError(op, err)
	}
	return h.agg.updateUser(ctx, cmd.UserID, func(u *domain.User) ([]domain.Event, error) {
		return u.ChangePassword(hash, "", domain.ByOperator, h.agg.now())
	})
}

// SetUserEnabled disables (Enabled false) or enables an account. A
// disabled account cannot sign in, and disabling ends its sessions.
type SetUserEnabled struct {
	UserID  domain.UserID
	Enabled bool
}

// SetUserEnabledHandler handles SetUserEnabled.
type SetUserEnabledHandler struct{ agg *Aggregates }

// NewSetUserEnabledHandler returns a SetUserEnabled handler.
func NewSetUserEnabledHandler(agg *Aggregates) (*SetUserEnabledHandler, error) {
	if agg == nil {
		return nil, errors.New("commands: nil aggregates")
	}
	return &SetUserEnabledHandler{agg: agg}, nil
}

// Handle appends UserDisabled (with the ends of the sessions) or
// UserEnabled, unless the account is that way already.
func (h *SetUserEnabledHandler) Handle(ctx context.Context, cmd SetUserEnabled) (Result, error) {
	return h.agg.updateUser(ctx, cmd.UserID, func(u *domain.User) ([]domain.Event, error) {
		if cmd.Enabled {
			return u.Enable(h.agg.now())
		}
		return u.Disable(h.agg.now())
	})
}

// DeleteUser deletes an account.
type DeleteUser struct {
	UserID domain.UserID
}

// DeleteUserHandler handles DeleteUser.
type DeleteUserHandler struct {
	agg   *Aggregates
	rooms MembershipLookup
}

// NewDeleteUserHandler returns a DeleteUser handler finding the user's
// rooms in rooms.
func NewDeleteUserHandler(agg *Aggregates, rooms MembershipLookup) (*DeleteUserHandler, error) {
	if agg == nil || rooms == nil {
		return nil, errors.New("commands: nil aggregates or membership lookup")
	}
	return &DeleteUserHandler{agg: agg, rooms: rooms}, nil
}

// Handle appends UserDeleted and the ends of the user's sessions to the
// user's stream, then ends their membership of every group room
// (domain.Room.RemoveDeleted: a MemberLeft in each room's stream, so the
// rooms' own state agrees). The user can do nothing once UserDeleted is
// stored (no session, no sign-in), so the rooms the read models list
// then are all of them; a delete interrupted between the two steps is
// finished by running it again, which appends no second UserDeleted. The
// result holds every event appended, and the revision and position of
// the last.
func (h *DeleteUserHandler) Handle(ctx context.Context, cmd DeleteUser) (Result, error) {
	res, err := h.agg.updateUser(ctx, cmd.UserID, func(u *domain.User) ([]domain.Event, error) {
		return u.Delete(h.agg.now())
	})
	if err != nil {
		return Result{}, err
	}
	rooms, err := h.rooms.RoomIDsOf(ctx, cmd.UserID)
	if err != nil {
		return res, fmt.Errorf("delete user: rooms of %s: %w", cmd.UserID, err)
	}
	for _, room := range rooms {
		rr, err := h.agg.updateRoom(ctx, room, nil, func(r *domain.Room) ([]domain.Event, error) {
			return r.RemoveDeleted(cmd.UserID, h.agg.now())
		})
		if err != nil {
			return res, fmt.Errorf("delete user: leave room %s: %w", room, err)
		}
		if len(rr.Events) > 0 {
			res.Revision, res.Position = rr.Revision, rr.Position
			res.Events = append(res.Events, rr.Events...)
		}
	}
	return res, nil
}
