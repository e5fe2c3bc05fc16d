package commands

import (
	"context"
	"errors"

	"github.com/confabhq/confab/domain"
)

// ManageRoom is a change to a room's membership or settings by one of its
// members: leave, kick, ban, unban, set role, rename, rotate invite.
type ManageRoom struct {
	Room   domain.RoomID
	Actor  domain.UserID
	Action Action
	// Target is the user a kick, ban, unban or role change is about.
	Target domain.UserID
	// Role is the new role of a role change.
	Role domain.Role
	// Name is the new name of a rename.
	Name string
}

// Action names a ManageRoom change.
type Action string

// Actions of ManageRoom.
const (
	ActionLeave        Action = "leave"
	ActionKick         Action = "kick"
	ActionBan          Action = "ban"
	ActionUnban        Action = "unban"
	ActionSetRole      Action = "set_role"
	ActionRename       Action = "rename"
	ActionRotateInvite Action = "rotate_invite"
)

// ManageRoomHandler handles ManageRoom.
type ManageRoomHandler struct{ agg *Aggregates }

// NewManageRoomHandler returns a ManageRoom handler.
func NewManageRoomHandler(agg *Aggregates) (*ManageRoomHandler, error) {
	if agg == nil {
		return nil, errors.New("commands: nil aggregates")
	}
	return &ManageRoomHandler{agg: agg}, nil
}

// Handle applies the change; the room decides whether the actor may.
func (h *ManageRoomHandler) Handle(ctx context.Context, cmd ManageRoom) (Result, error) {
	if cmd.Action == ActionBan {
		exists := false
		if err := h.agg.readUser(ctx, cmd.Target, func(u *domain.User) error {
			exists = u.Exists
			return nil
		}); err != nil {
			return Result{}, err
		}
		if !exists {
			return Result{}, domain.Errorf(domain.KindNotFound, "ban", "no such user")
		}
	}
	var code string
	if cmd.Action == ActionRotateInvite {
		var err error
		if code, err = NewInviteCode(); err != nil {
			return Result{}, err
		}
	}
	return h.agg.updateRoom(ctx, cmd.Room, nil, func(r *domain.Room) ([]domain.Event, error) {
		now := h.agg.now()
		switch cmd.Action {
		case ActionLeave:
			return r.Leave(cmd.Actor, now)
		case ActionKick:
			return r.Kick(cmd.Actor, cmd.Target, now)
		case ActionBan:
			return r.Ban(cmd.Actor, cmd.Target, now)
		case ActionUnban:
			return r.Unban(cmd.Actor, cmd.Target, now)
		case ActionSetRole:
			return r.SetRole(cmd.Actor, cmd.Target, cmd.Role, now)
		case ActionRename:
			return r.Rename(cmd.Actor, cmd.Name, now)
		case ActionRotateInvite:
			return r.RotateInvite(cmd.Actor, code, now)
		}
		return nil, domain.Errorf(domain.KindInvalid, "manage room", "unknown action %q", cmd.Action)
	})
}
