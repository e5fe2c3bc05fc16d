package projections

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/confabhq/confab/domain"
)

// Pinned messages (proj_pins), room settings (proj_room_settings) and
// notification levels (proj_notify), migration 00007. Both appliers
// write them: the statements of runPin and runNotify on SQLite, the fold
// of foldPin and foldNotify on PostgreSQL and in a Timeline.

// Pin is a pinned message of a room.
type Pin struct {
	Seq      uint64
	PinnedBy domain.UserID
	PinnedAt time.Time
	// Message is the message pinned, with its reactions.
	Message Message
}

var (
	pinsDef         = def("proj_pins", "room_id seq:int pinned_by pinned_at:int", 2)
	roomSettingsDef = def("proj_room_settings", "room_id members_can_pin:int", 1)
	notifyDef       = def("proj_notify", "user_id room_id level", 2)
)

type pinRow struct {
	room string
	seq  int64
	by   string
	at   int64
}

type roomSettingsRow struct {
	room          string
	membersCanPin int64
}

type notifyRow struct {
	user, room, level string
}

func pinFields(r *pinRow) []any { return []any{&r.room, &r.seq, &r.by, &r.at} }
func roomSettingsFields(r *roomSettingsRow) []any {
	return []any{&r.room, &r.membersCanPin}
}
func notifyFields(r *notifyRow) []any { return []any{&r.user, &r.room, &r.level} }

// queuePin records the rows a pin event (or a deletion, which unpins)
// needs.
func (b *batch) queuePin(room string, seq int64, ev domain.Event) {
	switch ev := ev.(type) {
	case domain.MessagePosted:
		b.pins.absent(0, msgKey(room, seq))
	case domain.MessagePinned:
		b.messages.wantKey(msgKey(room, int64(ev.Seq)))
		b.pins.wantKey(msgKey(room, int64(ev.Seq)))
	case domain.MessageUnpinned:
		b.pins.wantKey(msgKey(room, int64(ev.Seq)))
	case domain.MessageDeleted:
		b.pins.wantKey(msgKey(room, int64(ev.Seq)))
	case domain.RoomSettingsChanged:
		b.roomSettings.wantKey(key1(room))
	}
}

// foldPin applies a pin event, a deletion or a settings change.
func (b *batch) foldPin(room string, ev domain.Event, at int64) error {
	switch ev := ev.(type) {
	case domain.MessagePinned:
		// Only a live message is pinned.
		m, err := b.messages.get(msgKey(room, int64(ev.Seq)))
		if err != nil || !m.has || m.now.deleted != 0 {
			return err
		}
		e, err := b.pins.get(msgKey(room, int64(ev.Seq)))
		if err == nil && !e.has {
			e.set(pinRow{room: room, seq: int64(ev.Seq), by: string(ev.By), at: at})
		}
		return err
	case domain.MessageUnpinned:
		e, err := b.pins.get(msgKey(room, int64(ev.Seq)))
		if err == nil {
			e.remove()
		}
		return err
	case domain.MessageDeleted:
		e, err := b.pins.get(msgKey(room, int64(ev.Seq)))
		if err == nil {
			e.remove()
		}
		return err
	case domain.RoomSettingsChanged:
		e, err := b.roomSettings.get(key1(room))
		if err == nil {
			e.set(roomSettingsRow{room: room, membersCanPin: boolInt(ev.MembersCanPin)})
		}
		return err
	}
	return nil
}

// foldNotify applies a RoomNotifySet of user's stream.
func (b *batch) foldNotify(user string, ev domain.RoomNotifySet) error {
	e, err := b.notify.get(key2(user, string(ev.RoomID)))
	if err != nil {
		return err
	}
	if ev.Level == domain.NotifyAll {
		e.remove()
	} else {
		e.set(notifyRow{user: user, room: string(ev.RoomID), level: ev.Level})
	}
	return nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// runPin applies a pin event, a deletion or a settings change on SQLite.
func (a *applier) runPin(ctx context.Context, room domain.RoomID, ev domain.Event, at int64) error {
	var err error
	switch ev := ev.(type) {
	case domain.MessagePinned:
		// Only a live message is pinned.
		_, err = a.run(ctx, `INSERT INTO proj_pins (room_id, seq, pinned_by, pinned_at)
			SELECT room_id, seq, ?, CAST(? AS BIGINT) FROM proj_messages WHERE room_id = ? AND seq = ? AND deleted = 0
			ON CONFLICT (room_id, seq) DO NOTHING`, string(ev.By), at, string(room), int64(ev.Seq))
	case domain.MessageUnpinned:
		_, err = a.run(ctx, `DELETE FROM proj_pins WHERE room_id = ? AND seq = ?`, string(room), int64(ev.Seq))
	case domain.MessageDeleted:
		_, err = a.run(ctx, `DELETE FROM proj_pins WHERE room_id = ? AND seq = ?`, string(room), int64(ev.Seq))
	case domain.RoomSettingsChanged:
		_, err = a.run(ctx, `INSERT INTO proj_room_settings (room_id, members_can_pin) VALUES (?, ?)
			ON CONFLICT (room_id) DO UPDATE SET members_can_pin = excluded.members_can_pin`, string(room), boolInt(ev.MembersCanPin))
	}
	return err
}

// runNotify applies a RoomNotifySet of user's stream on SQLite.
func (a *applier) runNotify(ctx context.Context, user domain.UserID, ev domain.RoomNotifySet) error {
	if ev.Level == domain.NotifyAll {
		_, err := a.run(ctx, `DELETE FROM proj_notify WHERE user_id = ? AND room_id = ?`, string(user), string(ev.RoomID))
		return err
	}
	_, err := a.run(ctx, `INSERT INTO proj_notify (user_id, room_id, level) VALUES (?, ?, ?)
		ON CONFLICT (user_id, room_id) DO UPDATE SET level = excluded.level`, string(user), string(ev.RoomID), ev.Level)
	return err
}

// Pins returns the pinned messages of room, the most recently pinned
// first (at most domain.MaxPins), each with its message.
func (p *Projections) Pins(ctx context.Context, room domain.RoomID) ([]Pin, error) {
	var pins []Pin
	err := p.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, p.d.Rebind(`SELECT seq, pinned_by, pinned_at FROM proj_pins WHERE room_id = ? ORDER BY pinned_at DESC, seq DESC`), string(room))
		if err != nil {
			return err
		}
		defer rows.Close()
		bySeq := map[uint64]int{}
		var seqs []any
		for rows.Next() {
			var r pinRow
			if err := rows.Scan(&r.seq, &r.by, &r.at); err != nil {
				return err
			}
			bySeq[uint64(r.seq)] = len(pins)
			seqs = append(seqs, r.seq)
			pins = append(pins, Pin{Seq: uint64(r.seq), PinnedBy: domain.UserID(r.by), PinnedAt: fromMicros(r.at)})
		}
		if err := rows.Err(); err != nil || len(pins) == 0 {
			return err
		}
		rows.Close()
		msgs, err := p.queryMessages(ctx, tx, `m.room_id = ? AND m.seq IN (SELECT seq FROM proj_pins WHERE room_id = ?) ORDER BY m.seq`, string(room), string(room))
		if err != nil {
			return err
		}
		if err := p.addReactions(ctx, tx, room, msgs); err != nil {
			return err
		}
		for _, m := range msgs {
			if i, ok := bySeq[m.Seq]; ok {
				pins[i].Message = m
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("projections: pins of %s: %w", room, err)
	}
	return pins, nil
}

// MembersCanPin reports whether plain members may pin in room.
func (p *Projections) MembersCanPin(ctx context.Context, room domain.RoomID) (bool, error) {
	var n int64
	err := p.queryRow(ctx, `SELECT COALESCE(MAX(members_can_pin), 0) FROM proj_room_settings WHERE room_id = ?`, string(room)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("projections: settings of %s: %w", room, err)
	}
	return n != 0, nil
}

// Pins returns the room's pins, as Projections.Pins does (but for the
// messages' SenderName).
func (t *Timeline) Pins() []Pin {
	var pins []Pin
	t.b.pins.each(func(e *entry[pinRow]) {
		p := Pin{Seq: uint64(e.now.seq), PinnedBy: domain.UserID(e.now.by), PinnedAt: fromMicros(e.now.at)}
		p.Message, _ = t.Message(p.Seq)
		pins = append(pins, p)
	})
	slices.SortFunc(pins, func(a, b Pin) int { return cmp.Or(b.PinnedAt.Compare(a.PinnedAt), cmp.Compare(b.Seq, a.Seq)) })
	return pins
}

// MembersCanPin reports whether the room lets plain members pin.
func (t *Timeline) MembersCanPin() bool {
	e := t.b.roomSettings.rows[key1(string(t.room))]
	return e != nil && e.has && e.now.membersCanPin != 0
}
