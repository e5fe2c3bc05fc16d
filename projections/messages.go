package projections

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/confabhq/confab/domain"
)

// MaxMessagesLimit is the most messages one Messages call returns.
const MaxMessagesLimit = 100

// Message is a message of a room's timeline, with its edits, deletion and
// reactions applied.
type Message struct {
	Seq         uint64
	SenderID    domain.UserID
	SenderName  string
	ClientMsgID string
	Text        string // "" once deleted
	ReplyTo     uint64 // 0 if not a reply
	// ThreadRoot is the root's seq for a reply in a thread, else 0.
	ThreadRoot uint64
	// Thread summarizes the replies of a message that has had some;
	// nil if it has had none.
	Thread      *ThreadSummary
	Mentions    []domain.UserID
	Attachments []domain.Attachment // none once deleted
	Reactions   []Reaction          // by emoji; none once deleted
	CreatedAt   time.Time
	EditedAt    *time.Time // nil if never edited
	Deleted     bool
}

// Reaction is the users who reacted to a message with one emoji.
type Reaction struct {
	Emoji string
	Users []domain.UserID // sorted
}

const messageColumns = `m.seq, m.sender_id, COALESCE(u.username, ''), m.client_msg_id, m.text, m.reply_to, m.mentions, m.created_at, m.edited_at, m.deleted, m.attachments, m.thread_root,
	COALESCE(t.reply_count, 0), COALESCE(t.last_reply_seq, 0), COALESCE(t.last_reply_at, 0)`

// timelineOnly leaves the replies in threads out of a query of messages.
const timelineOnly = ` AND m.thread_root = 0`

func scanMessage(rows *sql.Rows) (Message, error) {
	var (
		r    messageRow
		t    threadRow
		name string
	)
	if err := rows.Scan(&r.seq, &r.sender, &name, &r.clientID, &r.text, &r.replyTo, &r.mentions, &r.created, &r.edited, &r.deleted, &r.attachments, &r.threadRoot,
		&t.replies, &t.lastSeq, &t.lastAt); err != nil {
		return Message{}, err
	}
	m, err := r.message()
	m.SenderName = name
	m.Thread = t.summary()
	return m, err
}

// message returns a stored message, without its sender's name and
// reactions.
func (r *messageRow) message() (Message, error) {
	ids, err := decodeIDs(r.mentions)
	if err != nil {
		return Message{}, fmt.Errorf("message %d: mentions: %w", r.seq, err)
	}
	files, err := decodeAttachments(r.attachments)
	if err != nil {
		return Message{}, fmt.Errorf("message %d: attachments: %w", r.seq, err)
	}
	m := Message{Seq: uint64(r.seq), Attachments: files, SenderID: domain.UserID(r.sender), ClientMsgID: r.clientID, Text: r.text, ReplyTo: uint64(r.replyTo), ThreadRoot: uint64(r.threadRoot),
		Mentions: ids, CreatedAt: fromMicros(r.created), Deleted: r.deleted != 0}
	if r.edited != 0 {
		t := fromMicros(r.edited)
		m.EditedAt = &t
	}
	return m, nil
}

// Messages returns up to limit (1..MaxMessagesLimit) messages of room
// with sequence numbers below before (0: from the newest), newest first:
// the timeline, without the replies in threads (ThreadMessages).
// A room without messages, or that does not exist, has none.
func (p *Projections) Messages(ctx context.Context, room domain.RoomID, before uint64, limit int) ([]Message, error) {
	if limit < 1 || limit > MaxMessagesLimit {
		return nil, domain.Errorf(domain.KindInvalid, "list messages", "limit must be 1-%d", MaxMessagesLimit)
	}
	upper := int64(math.MaxInt64)
	if before != 0 {
		upper = int64(min(before, math.MaxInt64))
	}
	var msgs []Message
	err := p.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		msgs, err = p.queryMessages(ctx, tx, `m.room_id = ? AND m.seq < ?`+timelineOnly+` ORDER BY m.seq DESC LIMIT ?`, string(room), upper, limit)
		if err != nil || len(msgs) == 0 {
			return err
		}
		return p.addReactions(ctx, tx, room, msgs)
	})
	if err != nil {
		return nil, fmt.Errorf("projections: messages of %s: %w", room, err)
	}
	return msgs, nil
}

// MessagesAfter returns up to limit (1..MaxMessagesLimit) messages of
// room's timeline (no replies in threads) right after sequence number
// after, newest first.
func (p *Projections) MessagesAfter(ctx context.Context, room domain.RoomID, after uint64, limit int) ([]Message, error) {
	if limit < 1 || limit > MaxMessagesLimit {
		return nil, domain.Errorf(domain.KindInvalid, "list messages", "limit must be 1-%d", MaxMessagesLimit)
	}
	var msgs []Message
	err := p.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		msgs, err = p.messagesAfter(ctx, tx, room, after, limit)
		if err != nil || len(msgs) == 0 {
			return err
		}
		return p.addReactions(ctx, tx, room, msgs)
	})
	if err != nil {
		return nil, fmt.Errorf("projections: messages of %s after %d: %w", room, after, err)
	}
	return msgs, nil
}

// messagesAfter returns up to limit messages of room from seq from on
// (excluded), newest first.
func (p *Projections) messagesAfter(ctx context.Context, tx *sql.Tx, room domain.RoomID, from uint64, limit int) ([]Message, error) {
	if from >= math.MaxInt64 {
		return nil, nil
	}
	msgs, err := p.queryMessages(ctx, tx, `m.room_id = ? AND m.seq > ?`+timelineOnly+` ORDER BY m.seq LIMIT ?`, string(room), int64(from), limit)
	slices.Reverse(msgs)
	return msgs, err
}

// MessagesAround returns the message of room with sequence number seq (if
// there is one, and it is not a reply in a thread) with up to (limit-1)/2 older and limit/2 newer messages:
// at most limit (1..MaxMessagesLimit), newest first. A client jumps to a
// search result with it.
func (p *Projections) MessagesAround(ctx context.Context, room domain.RoomID, seq uint64, limit int) ([]Message, error) {
	if limit < 1 || limit > MaxMessagesLimit {
		return nil, domain.Errorf(domain.KindInvalid, "list messages", "limit must be 1-%d", MaxMessagesLimit)
	}
	if seq == 0 || seq > math.MaxInt64 {
		return nil, domain.Errorf(domain.KindInvalid, "list messages", "around must be a sequence number")
	}
	var msgs []Message
	err := p.readTx(ctx, func(tx *sql.Tx) error {
		newer, err := p.messagesAfter(ctx, tx, room, seq-1, limit/2+1) // seq and newer
		if err != nil {
			return err
		}
		// seq itself, if it is a message, is the oldest of newer; if it
		// is not, newer holds one too many.
		if n := len(newer); n > limit/2 && newer[n-1].Seq != seq {
			newer = newer[1:]
		}
		var older []Message
		if k := (limit - 1) / 2; k > 0 {
			if older, err = p.queryMessages(ctx, tx, `m.room_id = ? AND m.seq < ?`+timelineOnly+` ORDER BY m.seq DESC LIMIT ?`, string(room), int64(seq), k); err != nil {
				return err
			}
		}
		msgs = append(newer, older...)
		if len(msgs) == 0 {
			return nil
		}
		return p.addReactions(ctx, tx, room, msgs)
	})
	if err != nil {
		return nil, fmt.Errorf("projections: messages of %s around %d: %w", room, seq, err)
	}
	return msgs, nil
}

// MessageBySeq returns the message with sequence number seq in room, or a
// KindNotFound error.
func (p *Projections) MessageBySeq(ctx context.Context, room domain.RoomID, seq uint64) (Message, error) {
	if seq == 0 || seq > math.MaxInt64 {
		return Message{}, domain.Errorf(domain.KindNotFound, "find message", "no message %d", seq)
	}
	var msgs []Message
	err := p.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		msgs, err = p.queryMessages(ctx, tx, `m.room_id = ? AND m.seq = ?`, string(room), int64(seq))
		if err != nil || len(msgs) == 0 {
			return err
		}
		return p.addReactions(ctx, tx, room, msgs)
	})
	if err != nil {
		return Message{}, fmt.Errorf("projections: message %d of %s: %w", seq, room, err)
	}
	if len(msgs) == 0 {
		return Message{}, domain.Errorf(domain.KindNotFound, "find message", "no message %d", seq)
	}
	return msgs[0], nil
}

func (p *Projections) queryMessages(ctx context.Context, tx *sql.Tx, where string, args ...any) ([]Message, error) {
	rows, err := tx.QueryContext(ctx, p.d.Rebind(`SELECT `+messageColumns+`
		FROM proj_messages m LEFT JOIN proj_users u ON u.user_id = m.sender_id
		LEFT JOIN proj_threads t ON t.room_id = m.room_id AND t.root_seq = m.seq
		WHERE `+where), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var msgs []Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
	}
	return msgs, rows.Err()
}

// addReactions fills in the reactions of msgs, messages of room.
func (p *Projections) addReactions(ctx context.Context, tx *sql.Tx, room domain.RoomID, msgs []Message) error {
	lo, hi := msgs[0].Seq, msgs[0].Seq
	bySeq := make(map[uint64]*Message, len(msgs))
	for i := range msgs {
		lo, hi = min(lo, msgs[i].Seq), max(hi, msgs[i].Seq)
		bySeq[msgs[i].Seq] = &msgs[i]
	}
	rows, err := tx.QueryContext(ctx, p.d.Rebind(`SELECT seq, emoji, user_id FROM proj_reactions WHERE room_id = ? AND seq >= ? AND seq <= ?`),
		string(room), int64(lo), int64(hi))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var emoji string
		var user domain.UserID
		if err := rows.Scan(&seq, &emoji, &user); err != nil {
			return err
		}
		if m := bySeq[uint64(seq)]; m != nil {
			addReaction(m, emoji, user)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range bySeq {
		sortReactions(m)
	}
	return nil
}

// addReaction adds user's reaction with emoji to m.
func addReaction(m *Message, emoji string, user domain.UserID) {
	i := slices.IndexFunc(m.Reactions, func(r Reaction) bool { return r.Emoji == emoji })
	if i < 0 {
		m.Reactions = append(m.Reactions, Reaction{Emoji: emoji})
		i = len(m.Reactions) - 1
	}
	m.Reactions[i].Users = append(m.Reactions[i].Users, user)
}

// sortReactions puts m's reactions in the order queries return them: by
// emoji, each one's users sorted.
func sortReactions(m *Message) {
	slices.SortFunc(m.Reactions, func(a, b Reaction) int { return strings.Compare(a.Emoji, b.Emoji) })
	for _, r := range m.Reactions {
		slices.Sort(r.Users)
	}
}
