package projections

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/confabhq/confab/domain"
)

// Timeline is one room's read models folded in memory from its events,
// by the fold the applier uses on PostgreSQL (fold.go): the same rules
// shape a message's text after edits, its deletion and its reactions,
// the members and the calls. It needs no database; confab events replay
// shows a room's history with it. Its rows are kept across events: every
// row is absent before the room's first event.
type Timeline struct {
	room domain.RoomID
	b    *batch
}

// NewTimeline returns the empty timeline of room.
func NewTimeline(room domain.RoomID) *Timeline {
	return &Timeline{room: room, b: newBatch()}
}

// Apply folds the event with sequence number seq (its stream revision)
// of the room's stream, recorded at recorded, as Apply does.
func (t *Timeline) Apply(seq uint64, ev domain.Event, recorded time.Time) error {
	b := t.b
	// queueRoom marks the rows the event needs as loaded; nothing is
	// loaded, so those not made by earlier events are absent.
	// It has no log positions: its search rows (unused) take the seq.
	b.queueRoom(t.room, seq, int64(seq), ev, micros(EventTime(ev, recorded)))
	q := b.events[len(b.events)-1]
	b.events = b.events[:0]
	if err := b.foldRoom(string(t.room), int64(q.seq), q.pos, q.ev, q.at); err != nil {
		return fmt.Errorf("projections: timeline of %s: %T #%d: %w", t.room, ev, seq, err)
	}
	return nil
}

// Room returns the room as the read model has it, if it was created.
func (t *Timeline) Room() (RoomInfo, bool) {
	e := t.b.rooms.rows[key1(string(t.room))]
	if e == nil || !e.has {
		return RoomInfo{}, false
	}
	r := e.now
	return RoomInfo{ID: t.room, Kind: r.kind, Name: r.name, OwnerID: domain.UserID(r.owner), InviteCode: r.invite,
		LastSeq: uint64(r.lastSeq), CreatedAt: fromMicros(r.created)}, true
}

// Roles returns the room's members and their roles.
func (t *Timeline) Roles() map[domain.UserID]domain.Role {
	roles := map[domain.UserID]domain.Role{}
	t.b.members.each(func(e *entry[memberRow]) { roles[domain.UserID(e.now.user)] = domain.Role(e.now.role) })
	return roles
}

// Message returns the message with sequence number seq, with its
// reactions, as Projections.MessageBySeq does (but for SenderName).
func (t *Timeline) Message(seq uint64) (Message, bool) {
	e := t.b.messages.rows[msgKey(string(t.room), int64(seq))]
	if e == nil || !e.has {
		return Message{}, false
	}
	msgs := t.withReactions([]*messageRow{&e.now})
	return msgs[0], len(msgs) == 1
}

// Messages returns the room's timeline, oldest first, with the messages'
// reactions, as Projections.Messages does (but for SenderName): without
// the replies in threads (ThreadMessages).
func (t *Timeline) Messages() []Message { return t.messagesIn(0) }

// ThreadMessages returns the replies in the thread of root, oldest
// first, as Projections.ThreadMessages does (but for SenderName).
func (t *Timeline) ThreadMessages(root uint64) []Message {
	if root == 0 {
		return nil
	}
	return t.messagesIn(int64(root))
}

// messagesIn returns the messages whose thread_root is root.
func (t *Timeline) messagesIn(root int64) []Message {
	var rows []*messageRow
	t.b.messages.each(func(e *entry[messageRow]) {
		if e.now.threadRoot == root {
			rows = append(rows, &e.now)
		}
	})
	slices.SortFunc(rows, func(a, b *messageRow) int { return cmp.Compare(a.seq, b.seq) })
	return t.withReactions(rows)
}

// withReactions returns rows as messages with their reactions.
func (t *Timeline) withReactions(rows []*messageRow) []Message {
	msgs := make([]Message, 0, len(rows))
	bySeq := make(map[int64]int, len(rows))
	for _, r := range rows {
		m, err := r.message()
		if err != nil {
			continue // the fold encoded the mentions: they decode
		}
		if th := t.b.threads.rows[msgKey(string(t.room), r.seq)]; th != nil && th.has {
			m.Thread = th.now.summary()
		}
		bySeq[r.seq] = len(msgs)
		msgs = append(msgs, m)
	}
	t.b.reactions.each(func(e *entry[reactionRow]) {
		if i, ok := bySeq[e.now.seq]; ok {
			addReaction(&msgs[i], e.now.emoji, domain.UserID(e.now.user))
		}
	})
	for i := range msgs {
		sortReactions(&msgs[i])
	}
	return msgs
}

// Calls returns the room's calls, oldest first, each ongoing one with
// who is in it, as Projections.Calls does.
func (t *Timeline) Calls() []CallInfo {
	var calls []CallInfo
	t.b.calls.each(func(e *entry[callRow]) { calls = append(calls, e.now.info()) })
	slices.SortFunc(calls, func(a, b CallInfo) int { return cmp.Compare(a.Seq, b.Seq) })
	in := t.Participants()
	for i := range calls {
		for _, p := range in {
			if calls[i].EndedSeq == 0 && p.CallID == calls[i].ID {
				calls[i].InCall = append(calls[i].InCall, p.UserID)
			}
		}
	}
	return calls
}

// Participants returns who is in the room's calls now, by user.
func (t *Timeline) Participants() []CallParticipant {
	var parts []CallParticipant
	t.b.participants.each(func(e *entry[participantRow]) { parts = append(parts, e.now.participant()) })
	sortParticipants(parts)
	return parts
}
