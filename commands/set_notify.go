package commands

import (
	"context"
	"errors"

	"github.com/confabhq/confab/domain"
)

// SetNotify sets a member's notification level in a room: domain.NotifyAll,
// NotifyMentions or NotifyNone.
type SetNotify struct {
	User  domain.UserID
	Room  domain.RoomID
	Level string
}

// SetNotifyHandler handles SetNotify.
type SetNotifyHandler struct{ agg *Aggregates }

// NewSetNotifyHandler returns a SetNotify handler.
func NewSetNotifyHandler(agg *Aggregates) (*SetNotifyHandler, error) {
	if agg == nil {
		return nil, errors.New("commands: nil aggregates")
	}
	return &SetNotifyHandler{agg: agg}, nil
}

// Handle sets the level of a member of the room, in the user's stream.
func (h *SetNotifyHandler) Handle(ctx context.Context, cmd SetNotify) (Result, error) {
	if err := h.agg.readRoom(ctx, cmd.Room, func(r *domain.Room) error {
		if !r.Exists || !r.IsMember(cmd.User) {
			return domain.Errorf(domain.KindNotFound, "set notifications", "no such room, or you are not a member")
		}
		return nil
	}); err != nil {
		return Result{}, err
	}
	return h.agg.updateUser(ctx, cmd.User, func(u *domain.User) ([]domain.Event, error) {
		return u.SetNotify(cmd.Room, cmd.Level, h.agg.now())
	})
}
