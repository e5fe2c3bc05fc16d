package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/confabhq/confab/domain"
)

// Threads: a reply in a thread is a message of the room
// (proj_messages.thread_root is its root's seq); proj_threads keeps per
// root its live replies and its latest reply, and proj_thread_reads each
// user's read marker per thread. The room's timeline (Messages,
// MessagesAround, RoomsOf's unread counts) leaves the replies out:
// they show, and count as unread, in their thread (ThreadMessages,
// Threads).

type threadRow struct {
	room                           string
	root, replies, lastSeq, lastAt int64
}

type threadReadRow struct {
	user, room string
	root, seq  int64
}

var (
	threadsDef     = def("proj_threads", "room_id root_seq:int reply_count:int last_reply_seq:int last_reply_at:int", 2)
	threadReadsDef = def("proj_thread_reads", "user_id room_id root_seq:int seq:int", 3)
)

func threadFields(r *threadRow) []any {
	return []any{&r.room, &r.root, &r.replies, &r.lastSeq, &r.lastAt}
}

func threadReadFields(r *threadReadRow) []any { return []any{&r.user, &r.room, &r.root, &r.seq} }

func threadReadKey(user, room string, root int64) rowKey {
	return rowKey{s: [3]string{user, room}, n: root}
}

// The fold (PostgreSQL, and Timeline).

// foldThreadReply counts the reply posted at seq in its thread.
func (b *batch) foldThreadReply(room string, seq int64, ev domain.MessagePosted, at int64) error {
	if ev.ThreadRoot == 0 {
		return nil
	}
	t, err := b.threads.get(msgKey(room, int64(ev.ThreadRoot)))
	if err != nil {
		return err
	}
	if !t.has {
		t.set(threadRow{room: room, root: int64(ev.ThreadRoot)})
	}
	t.now.replies++
	t.now.lastSeq, t.now.lastAt = seq, at
	return nil
}

// foldThreadDelete uncounts a live reply that ev deletes; m is its row,
// as it is before the deletion.
func (b *batch) foldThreadDelete(room string, m *entry[messageRow], ev domain.MessageDeleted) error {
	if ev.ThreadRoot == 0 || !m.has || m.now.deleted != 0 || m.now.threadRoot != int64(ev.ThreadRoot) {
		return nil
	}
	t, err := b.threads.get(msgKey(room, int64(ev.ThreadRoot)))
	if err == nil && t.has && t.now.replies > 0 {
		t.now.replies--
	}
	return err
}

func (b *batch) foldThreadRead(user string, ev domain.ThreadRead) error {
	e, err := b.threadReads.get(threadReadKey(user, string(ev.RoomID), int64(ev.Root)))
	if err != nil {
		return err
	}
	if !e.has || e.now.seq < int64(ev.Seq) {
		e.set(threadReadRow{user: user, room: string(ev.RoomID), root: int64(ev.Root), seq: int64(ev.Seq)})
	}
	return nil
}

// The statements (SQLite).

const insertThreadRead = "INSERT INTO proj_thread_reads (user_id, room_id, root_seq, seq) VALUES (?, ?, ?, ?) " +
	"ON CONFLICT (user_id, room_id, root_seq) DO UPDATE SET seq = excluded.seq WHERE proj_thread_reads.seq < excluded.seq"

// runThreadReply counts the reply at seq, which res inserted (if it
// inserted a row), in its thread.
func (a *applier) runThreadReply(ctx context.Context, res sql.Result, room string, seq int64, ev domain.MessagePosted, at int64) error {
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err // applied before
	}
	_, err := a.run(ctx, `INSERT INTO proj_threads (room_id, root_seq, reply_count, last_reply_seq, last_reply_at) VALUES (?, ?, 1, ?, ?)
		ON CONFLICT (room_id, root_seq) DO UPDATE SET reply_count = proj_threads.reply_count + 1,
		last_reply_seq = excluded.last_reply_seq, last_reply_at = excluded.last_reply_at`,
		room, int64(ev.ThreadRoot), seq, at)
	return err
}

// runThreadDelete uncounts the live reply ev deletes; it runs before the
// deletion.
func (a *applier) runThreadDelete(ctx context.Context, room string, ev domain.MessageDeleted) error {
	_, err := a.run(ctx, `UPDATE proj_threads SET reply_count = reply_count - 1
		WHERE room_id = ? AND root_seq = ? AND reply_count > 0
		AND EXISTS (SELECT 1 FROM proj_messages WHERE room_id = ? AND seq = ? AND deleted = 0 AND thread_root = ?)`,
		room, int64(ev.ThreadRoot), room, int64(ev.Seq), int64(ev.ThreadRoot))
	return err
}

// Queries.

// summary returns the thread of a root, nil if it has had no reply.
func (t *threadRow) summary() *ThreadSummary {
	if t.lastSeq == 0 {
		return nil
	}
	return &ThreadSummary{Replies: int(t.replies), LastReplySeq: uint64(t.lastSeq), LastReplyAt: fromMicros(t.lastAt)}
}

// ThreadSummary is what a thread's root shows of its replies.
type ThreadSummary struct {
	// Replies counts the live replies.
	Replies int
	// LastReplySeq and LastReplyAt are the latest reply's, deleted or
	// not.
	LastReplySeq uint64
	LastReplyAt  time.Time
}

// Thread is a thread of a room as a user sees it.
type Thread struct {
	Root    Message // with its Thread summary
	ReadSeq uint64  // the user's read marker in the thread
	// Unread counts the live replies after ReadSeq that others sent.
	Unread int
	// Participating: the user wrote the root or a reply, or a reply
	// mentions them.
	Participating bool
}

// MaxThreadsLimit is the most threads one Threads call returns.
const MaxThreadsLimit = 100

// ThreadMessages returns up to limit (1..MaxMessagesLimit) replies in
// the thread of root in room, oldest first, from the one after after.
// It returns a KindNotFound error if root is not a thread's root (a
// message of the room that is not a reply).
func (p *Projections) ThreadMessages(ctx context.Context, room domain.RoomID, root, after uint64, limit int) ([]Message, error) {
	if limit < 1 || limit > MaxMessagesLimit {
		return nil, domain.Errorf(domain.KindInvalid, "list thread", "limit must be 1-%d", MaxMessagesLimit)
	}
	if root == 0 || root > math.MaxInt64 {
		return nil, domain.Errorf(domain.KindNotFound, "list thread", "no thread %d", root)
	}
	after = min(after, math.MaxInt64)
	var msgs []Message
	err := p.readTx(ctx, func(tx *sql.Tx) error {
		var tr int64
		err := tx.QueryRowContext(ctx, p.d.Rebind(`SELECT thread_root FROM proj_messages WHERE room_id = ? AND seq = ?`), string(room), int64(root)).Scan(&tr)
		if errors.Is(err, sql.ErrNoRows) || err == nil && tr != 0 {
			return domain.Errorf(domain.KindNotFound, "list thread", "no thread %d", root)
		}
		if err != nil {
			return err
		}
		msgs, err = p.queryMessages(ctx, tx, `m.room_id = ? AND m.thread_root = ? AND m.seq > ? ORDER BY m.seq LIMIT ?`, string(room), int64(root), int64(after), limit)
		if err != nil || len(msgs) == 0 {
			return err
		}
		return p.addReactions(ctx, tx, room, msgs)
	})
	if domain.KindOf(err) == domain.KindNotFound {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("projections: thread %d of %s: %w", root, room, err)
	}
	return msgs, nil
}

// Threads returns up to limit (1..MaxThreadsLimit) threads of room
// (roots that have had a reply), the most recently replied first, with
// user's read marker and unread count in each, and whether they
// participate. before, if not 0, pages: only threads whose latest
// reply's seq is below it.
func (p *Projections) Threads(ctx context.Context, user domain.UserID, room domain.RoomID, before uint64, limit int) ([]Thread, error) {
	if limit < 1 || limit > MaxThreadsLimit {
		return nil, domain.Errorf(domain.KindInvalid, "list threads", "limit must be 1-%d", MaxThreadsLimit)
	}
	upper := int64(math.MaxInt64)
	if before != 0 {
		upper = int64(min(before, math.MaxInt64))
	}
	var threads []Thread
	err := p.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, p.d.Rebind(`SELECT t.root_seq, COALESCE(tr.seq, 0),
				(SELECT COUNT(*) FROM proj_messages x WHERE x.room_id = t.room_id AND x.thread_root = t.root_seq
				  AND x.seq > COALESCE(tr.seq, 0) AND x.sender_id <> ? AND x.deleted = 0),
				CASE WHEN r.sender_id = ? OR EXISTS (SELECT 1 FROM proj_messages x WHERE x.room_id = t.room_id AND x.thread_root = t.root_seq
				  AND (x.sender_id = ? OR x.mentions LIKE ?)) THEN 1 ELSE 0 END
			FROM proj_threads t
			JOIN proj_messages r ON r.room_id = t.room_id AND r.seq = t.root_seq
			LEFT JOIN proj_thread_reads tr ON tr.user_id = ? AND tr.room_id = t.room_id AND tr.root_seq = t.root_seq
			WHERE t.room_id = ? AND t.last_reply_seq < ?
			ORDER BY t.last_reply_seq DESC LIMIT ?`),
			string(user), string(user), string(user), `%"`+string(user)+`"%`, string(user), string(room), upper, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var root, readSeq, unread, part int64
			if err := rows.Scan(&root, &readSeq, &unread, &part); err != nil {
				return err
			}
			threads = append(threads, Thread{Root: Message{Seq: uint64(root)}, ReadSeq: uint64(readSeq), Unread: int(unread), Participating: part != 0})
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		for i := range threads {
			msgs, err := p.queryMessages(ctx, tx, `m.room_id = ? AND m.seq = ?`, string(room), int64(threads[i].Root.Seq))
			if err != nil {
				return err
			}
			if len(msgs) == 1 {
				if err := p.addReactions(ctx, tx, room, msgs); err != nil {
					return err
				}
				threads[i].Root = msgs[0]
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("projections: threads of %s: %w", room, err)
	}
	return threads, nil
}
