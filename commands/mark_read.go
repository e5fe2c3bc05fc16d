package commands

import (
	"context"
	"errors"

	"github.com/confabhq/confab/domain"
)

// MarkRead moves a member's read marker in a room forward.
type MarkRead struct {
	User domain.UserID
	Room domain.RoomID
	Seq  uint64
}

// MarkReadHandler handles MarkRead.
type MarkReadHandler struct{ agg *Aggregates }

// NewMarkReadHandler returns a MarkRead handler.
func NewMarkReadHandler(agg *Aggregates) (*MarkReadHandler, error) {
	if agg == nil {
		return nil, errors.New("commands: nil aggregates")
	}
	return &MarkReadHandler{agg: agg}, nil
}

// Handle moves the marker, up to the room's last sequence number.
func (h *MarkReadHandler) Handle(ctx context.Context, cmd MarkRead) (Result, error) {
	var last uint64
	if err := h.agg.readRoom(ctx, cmd.Room, func(r *domain.Room) error {
		if !r.Exists || !r.IsMember(cmd.User) {
			return domain.Errorf(domain.KindNotFound, "mark read", "no such room, or you are not a member")
		}
		last = r.Seq
		return nil
	}); err != nil {
		return Result{}, err
	}
	if cmd.Seq > last {
		return Result{}, domain.Errorf(domain.KindInvalid, "mark read", "seq %d is past the room's last (%d)", cmd.Seq, last)
	}
	return h.agg.updateUser(ctx, cmd.User, func(u *domain.User) ([]domain.Event, error) {
		return u.MarkRead(cmd.Room, cmd.Seq, h.agg.now())
	})
}
