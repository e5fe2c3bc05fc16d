package domain

import (
	"errors"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Attachment limits.
const (
	// MaxAttachments is the most attachments one message carries.
	MaxAttachments = 10
	// MaxAttachmentNameLen is the longest file name, in bytes, kept of an
	// upload's name (longer ones are cut, at a character boundary, keeping
	// the extension).
	MaxAttachmentNameLen = 200
	// MaxAttachmentIDLen bounds an attachment ID given by a client.
	MaxAttachmentIDLen = 64
)

// Upload events, in the uploader's stream user-<id>: uploads are the
// user's (ownership and quota are a projection of their stream), and a
// room's members see an attachment only once a message holds it.
type (
	// AttachmentUploaded records a file a user uploaded to a room, stored
	// in the blob store under Attachment.Digest. Thumbnail is the digest of
	// its thumbnail blob, for images.
	AttachmentUploaded struct {
		RoomID     RoomID     `json:"room_id"`
		Attachment Attachment `json:"attachment"`
		Thumbnail  string     `json:"thumbnail,omitempty"`
		At         time.Time  `json:"at"`
	}
	// AttachmentDiscarded records that the garbage collector gave up an
	// attachment nothing reaches any more (its message deleted, taken off
	// by an edit, or never posted), after the grace period: its bytes no
	// longer count against the uploader's quota, and its blobs go once no
	// other attachment shares them.
	AttachmentDiscarded struct {
		ID string    `json:"id"`
		At time.Time `json:"at"`
	}
)

func (AttachmentUploaded) EventType() string  { return "AttachmentUploaded" }
func (AttachmentDiscarded) EventType() string { return "AttachmentDiscarded" }

func init() {
	register[AttachmentUploaded]()
	register[AttachmentDiscarded]()
}

// ErrQuotaExceeded is the cause of the error of an upload that would take
// its uploader past their quota.
var ErrQuotaExceeded = errors.New("upload quota exceeded")

// Upload is an attachment a user uploaded, as their state remembers it.
type Upload struct {
	Room       RoomID
	Attachment Attachment
}

// UploadUsage returns the bytes of the user's uploads that are not
// discarded: what counts against their quota.
func (u *User) UploadUsage() int64 { return u.uploadBytes }

// Upload returns the user's live upload id (not discarded), if any.
func (u *User) Upload(id string) (Upload, bool) {
	up, ok := u.uploads[id]
	return up, ok
}

func (u *User) applyUpload(e Event) {
	switch e := e.(type) {
	case AttachmentUploaded:
		if u.uploads == nil {
			u.uploads = map[string]Upload{}
		}
		if _, ok := u.uploads[e.Attachment.ID]; !ok {
			u.uploads[e.Attachment.ID] = Upload{Room: e.RoomID, Attachment: e.Attachment}
			u.uploadBytes += e.Attachment.Size
		}
	case AttachmentDiscarded:
		if up, ok := u.uploads[e.ID]; ok {
			delete(u.uploads, e.ID)
			u.uploadBytes -= up.Attachment.Size
		}
	}
}

// RecordUpload records an upload of the user to room, whose membership
// the caller checked. quota is the most bytes the user's live uploads may
// take (0: no limit).
func (u *User) RecordUpload(room RoomID, a Attachment, thumbnail string, quota int64, now time.Time) ([]Event, error) {
	if err := u.mustExist("upload"); err != nil {
		return nil, err
	}
	if a.ID == "" || len(a.ID) > MaxAttachmentIDLen || a.Size < 0 || !strings.HasPrefix(a.Digest, "sha256:") {
		return nil, Errorf(KindInvalid, "upload", "malformed attachment")
	}
	if _, ok := u.uploads[a.ID]; ok {
		return nil, nil
	}
	if quota > 0 && u.uploadBytes+a.Size > quota {
		return nil, &Error{Kind: KindConflict, Op: "upload", Message: "this upload would exceed your storage quota", Err: ErrQuotaExceeded}
	}
	return []Event{AttachmentUploaded{RoomID: room, Attachment: a, Thumbnail: thumbnail, At: now}}, nil
}

// Discard gives up the upload id; discarding a discarded or unknown one
// changes nothing.
func (u *User) Discard(id string, now time.Time) ([]Event, error) {
	if _, ok := u.uploads[id]; !ok {
		return nil, nil
	}
	return []Event{AttachmentDiscarded{ID: id, At: now}}, nil
}

// SanitizeFileName returns name fit to store and show as an attachment's
// name: its last path element, without control, format (bidirectional
// overrides, zero-width) or path characters, trimmed, cut to
// MaxAttachmentNameLen bytes keeping its extension; "file" if nothing is
// left.
func SanitizeFileName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case unicode.IsSpace(r):
			b.WriteByte(' ')
		case r == utf8.RuneError, unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == '"', r == ':', r == '*', r == '?', r == '<', r == '>', r == '|':
			continue
		default:
			b.WriteRune(r)
		}
	}
	name = strings.Trim(b.String(), " .")
	if len(name) > MaxAttachmentNameLen {
		ext := ""
		if i := strings.LastIndexByte(name, '.'); i > 0 && len(name)-i <= 16 {
			ext = name[i:]
		}
		cut := MaxAttachmentNameLen - len(ext)
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = strings.TrimRight(name[:cut], " .") + ext
	}
	if name == "" {
		return "file"
	}
	return name
}

// checkAttachments checks the attachments of a new message: at most
// MaxAttachments, each once, none on a message of the room already.
func (r *Room) checkAttachments(files []Attachment) error {
	if len(files) > MaxAttachments {
		return Errorf(KindInvalid, "post message", "a message carries at most %d attachments", MaxAttachments)
	}
	for i, a := range files {
		if _, used := r.Attachments[a.ID]; used {
			return Errorf(KindInvalid, "post message", "attachment %s is already on a message", a.ID)
		}
		if slices.ContainsFunc(files[:i], func(b Attachment) bool { return b.ID == a.ID }) {
			return Errorf(KindInvalid, "post message", "attachment %s is given twice", a.ID)
		}
	}
	return nil
}

// removedAttachments returns the attachments of m that keep does not
// list, or an error if keep lists one m does not hold.
func removedAttachments(m *MessageState, keep []string) ([]string, error) {
	for _, id := range keep {
		if !slices.Contains(m.Attachments, id) {
			return nil, Errorf(KindInvalid, "edit message", "attachment %s is not on this message", id)
		}
	}
	var removed []string
	for _, id := range m.Attachments {
		if !slices.Contains(keep, id) {
			removed = append(removed, id)
		}
	}
	return removed, nil
}
