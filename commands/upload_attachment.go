package commands

import (
	"context"
	"errors"

	"github.com/confabhq/confab/domain"
)

// RecordUpload records a file a member uploaded to a room, whose bytes
// (and thumbnail) the blob store holds already.
type RecordUpload struct {
	User       domain.UserID
	Room       domain.RoomID
	Attachment domain.Attachment
	// Thumbnail is the digest of the thumbnail blob, "" if none.
	Thumbnail string
	// Quota is the most bytes the user's uploads that are not discarded
	// may take, this one included (0: no limit).
	Quota int64
}

// RecordUploadHandler handles RecordUpload.
type RecordUploadHandler struct{ agg *Aggregates }

// NewRecordUploadHandler returns a RecordUpload handler.
func NewRecordUploadHandler(agg *Aggregates) (*RecordUploadHandler, error) {
	if agg == nil {
		return nil, errors.New("commands: nil aggregates")
	}
	return &RecordUploadHandler{agg: agg}, nil
}

// Handle appends AttachmentUploaded to the uploader's stream if they are
// a member of the room and the upload fits in their quota.
func (h *RecordUploadHandler) Handle(ctx context.Context, cmd RecordUpload) (Result, error) {
	if err := h.agg.mustBeMember(ctx, cmd.Room, cmd.User, "upload"); err != nil {
		return Result{}, err
	}
	return h.agg.updateUser(ctx, cmd.User, func(u *domain.User) ([]domain.Event, error) {
		return u.RecordUpload(cmd.Room, cmd.Attachment, cmd.Thumbnail, cmd.Quota, h.agg.now())
	})
}

// mustBeMember returns the not-found error of a non-member of room.
func (a *Aggregates) mustBeMember(ctx context.Context, room domain.RoomID, user domain.UserID, op string) error {
	return a.readRoom(ctx, room, func(r *domain.Room) error {
		if !r.Exists || !r.IsMember(user) {
			return domain.Errorf(domain.KindNotFound, op, "no such room, or you are not a member")
		}
		return nil
	})
}

// UploadUsage returns the bytes of user's uploads that count against
// their quota, and whether they may upload to room (are a member).
func (a *Aggregates) UploadUsage(ctx context.Context, user domain.UserID, room domain.RoomID) (int64, error) {
	if err := a.mustBeMember(ctx, room, user, "upload"); err != nil {
		return 0, err
	}
	var n int64
	err := a.readUser(ctx, user, func(u *domain.User) error {
		n = u.UploadUsage()
		return nil
	})
	return n, err
}

// DiscardAttachment gives up an attachment nothing reaches any more: the
// garbage collector's command.
type DiscardAttachment struct {
	Uploader domain.UserID
	ID       string
}

// DiscardAttachmentHandler handles DiscardAttachment.
type DiscardAttachmentHandler struct{ agg *Aggregates }

// NewDiscardAttachmentHandler returns a DiscardAttachment handler.
func NewDiscardAttachmentHandler(agg *Aggregates) (*DiscardAttachmentHandler, error) {
	if agg == nil {
		return nil, errors.New("commands: nil aggregates")
	}
	return &DiscardAttachmentHandler{agg: agg}, nil
}

// Handle appends AttachmentDiscarded, once.
func (h *DiscardAttachmentHandler) Handle(ctx context.Context, cmd DiscardAttachment) (Result, error) {
	return h.agg.updateUser(ctx, cmd.Uploader, func(u *domain.User) ([]domain.Event, error) {
		return u.Discard(cmd.ID, h.agg.now())
	})
}
