package commands

import (
	"context"
	"errors"

	"github.com/confabhq/confab/domain"
)

// Pin pins or unpins a message of a room.
type Pin struct {
	Room  domain.RoomID
	Actor domain.UserID
	Seq   uint64
	// Pin pins the message; false unpins it.
	Pin bool
}

// PinHandler handles Pin.
type PinHandler struct{ agg *Aggregates }

// NewPinHandler returns a Pin handler.
func NewPinHandler(agg *Aggregates) (*PinHandler, error) {
	if agg == nil {
		return nil, errors.New("commands: nil aggregates")
	}
	return &PinHandler{agg: agg}, nil
}

// Handle pins or unpins; doing so twice changes nothing. The room
// decides who may (domain.Room.Pin).
func (h *PinHandler) Handle(ctx context.Context, cmd Pin) (Result, error) {
	return h.agg.updateRoom(ctx, cmd.Room, nil, func(r *domain.Room) ([]domain.Event, error) {
		return r.Pin(cmd.Actor, cmd.Seq, cmd.Pin, h.agg.now())
	})
}
