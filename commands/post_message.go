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
	// ThreadRoot, if not 0, posts the message as a reply in the thread
	// of this message (domain.Room.PostInThread).
	ThreadRoot uint64
	// Attachments are the IDs of the sender's uploads to the room that
	// the message carries (at most domain.MaxAttachments).
	Attachments []string
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
	files, err := h.agg.uploads(ctx, cmd.Sender, cmd.Room, cmd.Attachments)
	if err != nil {
		return Result{}, err
	}
	id := uuid.UUID(domain.MessageEventID(cmd.Room, cmd.Sender, cmd.ClientMsgID))
	return h.agg.combineRoom(ctx, cmd.Room, func(int, domain.Event) uuid.UUID { return id }, func(r *domain.Room) ([]domain.Event, error) {
		return r.PostInThread(cmd.Sender, cmd.ClientMsgID, cmd.Text, cmd.ReplyTo, cmd.ThreadRoot, mentioned, files, h.agg.now())
	})
}

// uploads returns the attachments ids name: uploads of user to room
// that are not discarded, else an invalid error. An upload already on a
// message the room refuses (domain.Room.PostFiles).
func (a *Aggregates) uploads(ctx context.Context, user domain.UserID, room domain.RoomID, ids []string) ([]domain.Attachment, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if len(ids) > domain.MaxAttachments {
		return nil, domain.Errorf(domain.KindInvalid, "post message", "a message carries at most %d attachments", domain.MaxAttachments)
	}
	files := make([]domain.Attachment, 0, len(ids))
	err := a.readUser(ctx, user, func(u *domain.User) error {
		for _, id := range ids {
			up, ok := u.Upload(id)
			if !ok || up.Room != room {
				return domain.Errorf(domain.KindInvalid, "post message", "attachment %q is not an upload of yours to this room", id)
			}
			files = append(files, up.Attachment)
		}
		return nil
	})
	return files, err
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
