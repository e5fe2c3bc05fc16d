package commands

import (
	"context"
	"errors"

	"github.com/confabhq/confab/domain"
)

// InviteLookup finds the room an invite code opens. It is the rooms read
// model; the room itself checks that the code is still its current one.
type InviteLookup interface {
	RoomByInviteCode(ctx context.Context, code string) (domain.RoomID, error)
}

// JoinRoom makes a user a member of the room an invite code opens.
type JoinRoom struct {
	User       domain.UserID
	InviteCode string
}

// JoinRoomHandler handles JoinRoom.
type JoinRoomHandler struct {
	agg     *Aggregates
	invites InviteLookup
}

// NewJoinRoomHandler returns a JoinRoom handler.
func NewJoinRoomHandler(agg *Aggregates, invites InviteLookup) (*JoinRoomHandler, error) {
	if agg == nil || invites == nil {
		return nil, errors.New("commands: nil aggregates or invite lookup")
	}
	return &JoinRoomHandler{agg: agg, invites: invites}, nil
}

// Handle joins the room and returns its ID. Joining a room one is a member
// of changes nothing.
func (h *JoinRoomHandler) Handle(ctx context.Context, cmd JoinRoom) (domain.RoomID, Result, error) {
	invalid := domain.Errorf(domain.KindNotFound, "join room", "invalid invite code")
	if cmd.InviteCode == "" || len(cmd.InviteCode) > 64 {
		return "", Result{}, invalid
	}
	id, err := h.invites.RoomByInviteCode(ctx, cmd.InviteCode)
	if domain.KindOf(err) == domain.KindNotFound {
		return "", Result{}, invalid
	}
	if err != nil {
		return "", Result{}, err
	}
	res, err := h.agg.updateRoom(ctx, id, nil, func(r *domain.Room) ([]domain.Event, error) {
		return r.Join(cmd.User, cmd.InviteCode, h.agg.now())
	})
	return id, res, err
}
