package commands

import (
	"context"
	"errors"

	"github.com/confabhq/confab/domain"
)

// React adds or removes the actor's reaction to a message.
type React struct {
	Room  domain.RoomID
	Actor domain.UserID
	Seq   uint64
	Emoji string
	// Add adds the reaction; false removes it.
	Add bool
}

// ReactHandler handles React.
type ReactHandler struct{ agg *Aggregates }

// NewReactHandler returns a React handler.
func NewReactHandler(agg *Aggregates) (*ReactHandler, error) {
	if agg == nil {
		return nil, errors.New("commands: nil aggregates")
	}
	return &ReactHandler{agg: agg}, nil
}

// Handle adds or removes the reaction; doing so twice changes nothing.
func (h *ReactHandler) Handle(ctx context.Context, cmd React) (Result, error) {
	return h.agg.updateRoom(ctx, cmd.Room, nil, func(r *domain.Room) ([]domain.Event, error) {
		return r.React(cmd.Actor, cmd.Seq, cmd.Emoji, cmd.Add, h.agg.now())
	})
}
