package commands

import (
	"context"
	"errors"

	"github.com/confabhq/confab/domain"
)

// DeleteMessage deletes a message.
type DeleteMessage struct {
	Room  domain.RoomID
	Actor domain.UserID
	Seq   uint64
}

// DeleteMessageHandler handles DeleteMessage.
type DeleteMessageHandler struct{ agg *Aggregates }

// NewDeleteMessageHandler returns a DeleteMessage handler.
func NewDeleteMessageHandler(agg *Aggregates) (*DeleteMessageHandler, error) {
	if agg == nil {
		return nil, errors.New("commands: nil aggregates")
	}
	return &DeleteMessageHandler{agg: agg}, nil
}

// Handle deletes the message: its sender may, and in a group room the
// owner and admins may delete any.
func (h *DeleteMessageHandler) Handle(ctx context.Context, cmd DeleteMessage) (Result, error) {
	return h.agg.updateRoom(ctx, cmd.Room, nil, func(r *domain.Room) ([]domain.Event, error) {
		return r.Delete(cmd.Actor, cmd.Seq, h.agg.now())
	})
}
