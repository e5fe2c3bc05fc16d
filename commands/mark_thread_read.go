package commands

import (
	"context"
	"errors"

	"github.com/confabhq/confab/domain"
)

// MarkThreadRead moves a member's read marker in a thread forward.
type MarkThreadRead struct {
	User domain.UserID
	Room domain.RoomID
	// Root is the sequence number of the thread's root message.
	Root uint64
	Seq  uint64
}

// MarkThreadReadHandler handles MarkThreadRead.
type MarkThreadReadHandler struct{ agg *Aggregates }

// NewMarkThreadReadHandler returns a MarkThreadRead handler.
func NewMarkThreadReadHandler(agg *Aggregates) (*MarkThreadReadHandler, error) {
	if agg == nil {
		return nil, errors.New("commands: nil aggregates")
	}
	return &MarkThreadReadHandler{agg: agg}, nil
}

// Handle moves the marker, up to the room's last sequence number. Root
// must be a message of the room that is not a reply in a thread.
func (h *MarkThreadReadHandler) Handle(ctx context.Context, cmd MarkThreadRead) (Result, error) {
	const op = "mark thread read"
	var last uint64
	if err := h.agg.readRoom(ctx, cmd.Room, func(r *domain.Room) error {
		if !r.Exists || !r.IsMember(cmd.User) {
			return domain.Errorf(domain.KindNotFound, op, "no such room, or you are not a member")
		}
		last = r.Seq
		return r.ThreadRoot(op, cmd.Root)
	}); err != nil {
		return Result{}, err
	}
	if cmd.Seq > last {
		return Result{}, domain.Errorf(domain.KindInvalid, op, "seq %d is past the room's last (%d)", cmd.Seq, last)
	}
	return h.agg.updateUser(ctx, cmd.User, func(u *domain.User) ([]domain.Event, error) {
		return u.MarkThreadRead(cmd.Room, cmd.Root, cmd.Seq, h.agg.now())
	})
}
