package commands

import (
	"context"
	"errors"

	"github.com/confabhq/confab/domain"
	"github.com/google/uuid"
)

// PostMessage posts a message to a room.
type PostMessage struct {
	Room   domain.RoomID
	Sender domain.UserID
	// ClientMsgID is the client's ID for the message: a retried send with
	// the same ID returns the original message and appends nothing.
	ClientMsgID string
	Text        string
	ReplyTo     uint64
}

// PostMessageHandler handles PostMessage.
type PostMessageHandler struct{ agg *Aggregates }

// NewPostMessageHandler returns a PostMessage handler.
func NewPostMessageHandler(agg *Aggregates) (*PostMessageHandler, error) {
	if agg == nil {
		return nil, errors.New("commands: nil aggregates")
	}
	return &PostMessageHandler{agg: agg}, nil
}

// Handle posts the message; the result's Revision is its sequence number.
// Posts to one room that arrive while another's append is in flight are
// appended together, once it is done (see repo.combine): a busy room's
// posts share commits instead of taking one each.
func (h *PostMessageHandler) Handle(ctx context.Context, cmd PostMessage) (Result, error) {
	mentioned := mentionedIDs(cmd.Text)
	id := uuid.UUID(domain.MessageEventID(cmd.Room, cmd.Sender, cmd.ClientMsgID))
	return h.agg.combineRoom(ctx, cmd.Room, func(int, domain.Event) uuid.UUID { return id }, func(r *domain.Room) ([]domain.Event, error) {
		return r.Post(cmd.Sender, cmd.ClientMsgID, cmd.Text, cmd.ReplyTo, mentioned, h.agg.now())
	})
}

// mentionedIDs returns the IDs of the users text mentions.
func mentionedIDs(text string) []domain.UserID {
	names := domain.ParseMentions(text)
	ids := make([]domain.UserID, len(names))
	for i, n := range names {
		ids[i] = domain.UserIDFor(n)
	}
	return ids
}
