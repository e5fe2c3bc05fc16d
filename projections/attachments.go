package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/confabhq/confab/domain"
)

// Attachments: a message's attachments are a JSON column of its row
// (proj_messages.attachments); proj_attachments keeps a row per upload
// that is not discarded, which the blob endpoints authorize with and the
// garbage collector reads.

type attachmentRow struct {
	id, uploader, room, message, digest, thumb, name, ctype string
	size, width, height, seq, uploaded, released            int64
}

// Attachments are loaded by ID and by message (a deletion releases all
// of a message's).
var attachmentsDef = def("proj_attachments",
	"attachment_id uploader_id room_id message digest thumbnail name content_type size:int width:int height:int seq:int uploaded_at:int released_at:int",
	1, []int{0}, []int{3})

const attachmentsByMessage = 1

func attachmentFields(r *attachmentRow) []any {
	return []any{&r.id, &r.uploader, &r.room, &r.message, &r.digest, &r.thumb, &r.name, &r.ctype,
		&r.size, &r.width, &r.height, &r.seq, &r.uploaded, &r.released}
}

// msgRef names a message in proj_attachments.message.
func msgRef(room string, seq int64) string { return room + "/" + strconv.FormatInt(seq, 10) }

// encodeAttachments returns attachments as stored: JSON, never null.
func encodeAttachments(as []domain.Attachment) (string, error) {
	if len(as) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(as)
	return string(b), err
}

func decodeAttachments(s string) ([]domain.Attachment, error) {
	var as []domain.Attachment
	if s == "" {
		return nil, nil
	}
	if err := json.Unmarshal([]byte(s), &as); err != nil {
		return nil, err
	}
	if len(as) == 0 {
		return nil, nil
	}
	return as, nil
}

// withoutAttachments returns stored attachments without those removed.
func withoutAttachments(stored string, removed []string) (string, error) {
	as, err := decodeAttachments(stored)
	if err != nil {
		return "", err
	}
	as = slices.DeleteFunc(as, func(a domain.Attachment) bool { return slices.Contains(removed, a.ID) })
	return encodeAttachments(as)
}

// The fold (PostgreSQL).

func (b *batch) queueAttachments(room string, seq int64, ev domain.Event) {
	switch ev := ev.(type) {
	case domain.MessagePosted:
		for _, a := range ev.Attachments {
			b.attachments.wantKey(key1(a.ID))
		}
	case domain.MessageEdited:
		for _, id := range ev.RemovedAttachments {
			b.attachments.wantKey(key1(id))
		}
	case domain.MessageDeleted:
		b.attachments.want(attachmentsByMessage, key1(msgRef(room, int64(ev.Seq))))
	}
}

func (b *batch) foldUpload(user string, ev domain.Event, at int64) error {
	switch ev := ev.(type) {
	case domain.AttachmentUploaded:
		e, err := b.attachments.get(key1(ev.Attachment.ID))
		if err == nil && !e.has {
			a := ev.Attachment
			e.set(attachmentRow{id: a.ID, uploader: user, room: string(ev.RoomID), digest: a.Digest, thumb: ev.Thumbnail, name: a.Name,
				ctype: a.ContentType, size: a.Size, width: int64(a.Width), height: int64(a.Height), uploaded: at})
		}
		return err
	case domain.AttachmentDiscarded:
		e, err := b.attachments.get(key1(ev.ID))
		if err == nil && e.has && e.now.uploader == user {
			e.remove()
		}
		return err
	}
	return nil
}

// foldMessageAttachments applies what a message event does to
// proj_attachments; e is the message's row (for an edit or a deletion, as
// it was before the event).
func (b *batch) foldMessageAttachments(room string, seq int64, ev domain.Event, at int64) error {
	switch ev := ev.(type) {
	case domain.MessagePosted:
		for _, a := range ev.Attachments {
			e, err := b.attachments.get(key1(a.ID))
			if err != nil {
				return err
			}
			if e.has && e.now.seq == 0 && e.now.room == room {
				e.now.seq, e.now.message = seq, msgRef(room, seq)
			}
		}
	case domain.MessageEdited:
		ref := msgRef(room, int64(ev.Seq))
		for _, id := range ev.RemovedAttachments {
			e, err := b.attachments.get(key1(id))
			if err != nil {
				return err
			}
			if e.has && e.now.message == ref && e.now.released == 0 {
				e.now.released = at
			}
		}
	case domain.MessageDeleted:
		ref := msgRef(room, int64(ev.Seq))
		b.attachments.each(func(e *entry[attachmentRow]) {
			if e.now.message == ref && e.now.released == 0 {
				e.now.released = at
			}
		})
	}
	return nil
}

// The statements (SQLite).

func (a *applier) runUpload(ctx context.Context, user domain.UserID, ev domain.Event, at int64) error {
	var err error
	switch ev := ev.(type) {
	case domain.AttachmentUploaded:
		f := ev.Attachment
		_, err = a.run(ctx, `INSERT INTO proj_attachments (attachment_id, uploader_id, room_id, message, digest, thumbnail, name, content_type,
			size, width, height, seq, uploaded_at, released_at) VALUES (?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, 0, ?, 0)
			ON CONFLICT (attachment_id) DO NOTHING`,
			f.ID, string(user), string(ev.RoomID), f.Digest, ev.Thumbnail, f.Name, f.ContentType, f.Size, int64(f.Width), int64(f.Height), at)
	case domain.AttachmentDiscarded:
		_, err = a.run(ctx, `DELETE FROM proj_attachments WHERE attachment_id = ? AND uploader_id = ?`, ev.ID, string(user))
	}
	return err
}

func (a *applier) runMessageAttachments(ctx context.Context, room domain.RoomID, seq uint64, ev domain.Event, at int64) error {
	var err error
	switch ev := ev.(type) {
	case domain.MessagePosted:
		for _, f := range ev.Attachments {
			if _, err = a.run(ctx, `UPDATE proj_attachments SET seq = ?, message = ? WHERE attachment_id = ? AND seq = 0 AND room_id = ?`,
				int64(seq), msgRef(string(room), int64(seq)), f.ID, string(room)); err != nil {
				return err
			}
		}
	case domain.MessageEdited:
		if len(ev.RemovedAttachments) == 0 {
			return nil
		}
		ref := msgRef(string(room), int64(ev.Seq))
		for _, id := range ev.RemovedAttachments {
			if _, err = a.run(ctx, `UPDATE proj_attachments SET released_at = ? WHERE attachment_id = ? AND message = ? AND released_at = 0`, at, id, ref); err != nil {
				return err
			}
		}
		var stored string
		q := `SELECT attachments FROM proj_messages WHERE room_id = ? AND seq = ? AND deleted = 0`
		if a.shadow {
			q = shadowQuery(q)
		}
		err = a.tx.QueryRowContext(ctx, a.d.Rebind(q), string(room), int64(ev.Seq)).Scan(&stored)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if stored, err = withoutAttachments(stored, ev.RemovedAttachments); err != nil {
			return err
		}
		_, err = a.run(ctx, `UPDATE proj_messages SET attachments = ? WHERE room_id = ? AND seq = ?`, stored, string(room), int64(ev.Seq))
	case domain.MessageDeleted:
		_, err = a.run(ctx, `UPDATE proj_attachments SET released_at = ? WHERE message = ? AND released_at = 0`, at, msgRef(string(room), int64(ev.Seq)))
	}
	return err
}

// Queries.

// AttachmentInfo is an upload that is not discarded, as the blob
// endpoints and the collector see it.
type AttachmentInfo struct {
	Attachment domain.Attachment
	Uploader   domain.UserID
	Room       domain.RoomID
	Thumbnail  string // digest, "" if none
	Seq        uint64 // the message holding it, 0 before it is posted
	UploadedAt time.Time
	// Released is when it stopped being reachable (its message deleted,
	// or an edit took it off); zero if it was not.
	Released time.Time
}

const attachmentColumns = `attachment_id, uploader_id, room_id, digest, thumbnail, name, content_type, size, width, height, seq, uploaded_at, released_at`

func scanAttachment(sc interface{ Scan(...any) error }) (AttachmentInfo, error) {
	var (
		r  attachmentRow
		ai AttachmentInfo
	)
	if err := sc.Scan(&r.id, &r.uploader, &r.room, &r.digest, &r.thumb, &r.name, &r.ctype, &r.size, &r.width, &r.height, &r.seq, &r.uploaded, &r.released); err != nil {
		return ai, err
	}
	ai.Attachment = domain.Attachment{ID: r.id, Name: r.name, Size: r.size, ContentType: r.ctype, Width: int(r.width), Height: int(r.height), Digest: r.digest}
	ai.Uploader, ai.Room, ai.Thumbnail, ai.Seq = domain.UserID(r.uploader), domain.RoomID(r.room), r.thumb, uint64(r.seq)
	ai.UploadedAt = fromMicros(r.uploaded)
	if r.released != 0 {
		ai.Released = fromMicros(r.released)
	}
	return ai, nil
}

// Attachment returns the upload id, or a KindNotFound error if there is
// none (or it was discarded).
func (p *Projections) Attachment(ctx context.Context, id string) (AttachmentInfo, error) {
	var ai AttachmentInfo
	err := p.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		ai, err = scanAttachment(tx.QueryRowContext(ctx, p.d.Rebind(`SELECT `+attachmentColumns+` FROM proj_attachments WHERE attachment_id = ?`), id))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return AttachmentInfo{}, domain.Errorf(domain.KindNotFound, "find attachment", "no such attachment")
	}
	if err != nil {
		return AttachmentInfo{}, fmt.Errorf("projections: attachment %s: %w", id, err)
	}
	return ai, nil
}

// UnreachableAttachments returns up to limit uploads nothing has reached
// since before cutoff: released before it, or never posted and uploaded
// before it. The collector discards them.
func (p *Projections) UnreachableAttachments(ctx context.Context, cutoff time.Time, limit int) ([]AttachmentInfo, error) {
	var out []AttachmentInfo
	c := micros(cutoff)
	err := p.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, p.d.Rebind(`SELECT `+attachmentColumns+` FROM proj_attachments
			WHERE (released_at <> 0 AND released_at < ?) OR (seq = 0 AND uploaded_at < ?) ORDER BY attachment_id LIMIT ?`), c, c, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			ai, err := scanAttachment(rows)
			if err != nil {
				return err
			}
			out = append(out, ai)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("projections: unreachable attachments: %w", err)
	}
	return out, nil
}

// BlobReferenced reports whether an upload that is not discarded holds
// the blob digest (as its bytes or its thumbnail), or a user has it as
// their avatar.
func (p *Projections) BlobReferenced(ctx context.Context, digest string) (bool, error) {
	var n int
	err := p.readTx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, p.d.Rebind(`SELECT COUNT(*) FROM (SELECT 1 FROM proj_attachments WHERE digest = ? OR thumbnail = ?
			UNION ALL SELECT 1 FROM proj_users WHERE avatar = ? LIMIT 1) x`), digest, digest, digest).Scan(&n)
	})
	if err != nil {
		return false, fmt.Errorf("projections: blob %s: %w", digest, err)
	}
	return n > 0, nil
}
