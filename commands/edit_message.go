package commands

import (
	"context"
	"errors"

	"github.com/confabhq/confab/domain"
)

// EditMessage replaces the text of one of the actor's messages.
type EditMessage struct {
	Room  domain.RoomID
	Actor domain.UserID
	Seq   uint64
	Text  string
	// Attachments, if not nil, lists the attachments the message keeps
	// (a subset of its current ones); the others are taken off. Nil keeps
	// them all.
	Attachments []string
}

// EditMessageHandler handles EditMessage.
type EditMessageHandler struct{ agg *Aggregates }

// NewEditMessageHandler returns an EditMessage handler.
func NewEditMessageHandler(agg *Aggregates) (*EditMessageHandler, error) {
	if agg == nil {
		return nil, errors.New("commands: nil aggregates")
	}
	return &EditMessageHandler{agg: agg}, nil
}

// Handle edits the message.
func (h *EditMessageHandler) Handle(ctx context.Context, cmd EditMessage) (Result, error) {
	mentioned := mentionedIDs(cmd.Text)
	return h.agg.updateRoom(ctx, cmd.Room, nil, func(r *domain.Room) ([]domain.Event, error) {
		return r.EditFiles(cmd.Actor, cmd.Seq, cmd.Text, mentioned, cmd.Attachments, cmd.Attachments != nil, h.agg.now())
	})
}
