package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
)

// applier applies events to the read models inside one transaction.
type applier struct {
	tx *sql.Tx
	d  Dialect
	// stmts holds the statements prepared in this transaction (SQLite;
	// pgx caches prepared statements per connection by itself).
	stmts map[string]*sql.Stmt
	// rooms collects, per room, what the batch's last event changes on
	// the room's row; flush writes it once per room.
	rooms     map[domain.RoomID]*roomTouch
	roomOrder []domain.RoomID
	// pending holds, per table, inserts not yet sent: consecutive inserts
	// into a table go as one multi-row statement (see insert).
	pending map[string]*pendingInsert
	// shadow makes the statements write the shadow tables of a rebuild
	// (shadow.go) instead of the live ones.
	shadow bool
}

type roomTouch struct {
	seq         uint64
	activity    int64 // time of the room's last message in the batch
	hasActivity bool
}

func newApplier(tx *sql.Tx, d Dialect) *applier {
	return &applier{tx: tx, d: d, stmts: map[string]*sql.Stmt{}, rooms: map[domain.RoomID]*roomTouch{}, pending: map[string]*pendingInsert{}}
}

func (a *applier) close() {
	for _, s := range a.stmts {
		s.Close()
	}
}

// exec runs a statement, after the pending inserts into the tables it
// names.
func (a *applier) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := a.flushTables(ctx, query); err != nil {
		return nil, err
	}
	return a.run(ctx, query, args...)
}

// run runs a statement now.
func (a *applier) run(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if a.shadow {
		query = shadowQuery(query)
	}
	if a.d != SQLite {
		return a.tx.ExecContext(ctx, a.d.Rebind(query), args...)
	}
	s, err := a.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, args...)
}

func (a *applier) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s := a.stmts[query]; s != nil {
		return s, nil
	}
	s, err := a.tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	a.stmts[query] = s
	return s, nil
}

// micros returns t as stored: Unix microseconds.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros returns a stored time; 0 is the zero time.
func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// eventTime returns when an event happened: its own At, or, if it has
// none, when the store recorded it. Never the clock: the read models are
// a function of the log.
func eventTime(ev domain.Event, recorded time.Time) time.Time {
	var at time.Time
	switch ev := ev.(type) {
	case domain.UserSignedUp:
		at = ev.At
	case domain.SessionStarted:
		at = ev.At
	case domain.SessionEnded:
		at = ev.At
	case domain.SessionUsed:
		at = ev.At
	case domain.RoomRead:
		at = ev.At
	case domain.ConnectionOpened:
		at = ev.At
	case domain.ConnectionClosed:
		at = ev.At
	case domain.RoomCreated:
		at = ev.At
	case domain.MemberJoined:
		at = ev.At
	case domain.MemberLeft:
		at = ev.At
	case domain.MemberKicked:
		at = ev.At
	case domain.MemberBanned:
		at = ev.At
	case domain.MemberUnbanned:
		at = ev.At
	case domain.MemberRoleChanged:
		at = ev.At
	case domain.RoomRenamed:
		at = ev.At
	case domain.InviteCodeRotated:
		at = ev.At
	case domain.MessagePosted:
		at = ev.At
	case domain.MessageEdited:
		at = ev.At
	case domain.MessageDeleted:
		at = ev.At
	case domain.ReactionAdded:
		at = ev.At
	case domain.ReactionRemoved:
		at = ev.At
	case domain.CallStarted:
		at = ev.At
	case domain.CallJoined:
		at = ev.At
	case domain.CallLeft:
		at = ev.At
	case domain.CallEnded:
		at = ev.At
	}
	if at.IsZero() {
		return recorded
	}
	return at
}

// encodeIDs returns a list of user IDs as stored: JSON, never null.
func encodeIDs(ids []domain.UserID) (string, error) {
	if len(ids) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(ids)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// decodeIDs reads a stored list of user IDs; an empty list is nil.
func decodeIDs(s string) ([]domain.UserID, error) {
	var ids []domain.UserID
	if err := json.Unmarshal([]byte(s), &ids); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return ids, nil
}

// apply applies one event.
func (a *applier) apply(ctx context.Context, e *eventstore.RecordedEvent) error {
	if !domain.KnownType(e.Type) {
		return nil
	}
	if user, ok := domain.UserIDOfStream(e.Stream); ok {
		ev, err := domain.Decode(e.Type, e.Data)
		if err != nil {
			return fmt.Errorf("%w: %w", eventstore.ErrCorrupt, err)
		}
		return a.applyUser(ctx, user, ev, micros(eventTime(ev, e.RecordedAt)))
	}
	if room, ok := domain.RoomIDOfStream(e.Stream); ok {
		ev, err := domain.Decode(e.Type, e.Data)
		if err != nil {
			return fmt.Errorf("%w: %w", eventstore.ErrCorrupt, err)
		}
		return a.applyRoom(ctx, room, e.Revision, ev, micros(eventTime(ev, e.RecordedAt)))
	}
	return nil
}

// applyUser applies an event of user's stream that happened at at.
func (a *applier) applyUser(ctx context.Context, user domain.UserID, ev domain.Event, at int64) error {
	var err error
	switch ev := ev.(type) {
	case domain.UserSignedUp:
		err = a.insert(ctx, insertUser, string(user), string(user), ev.Username, at)
	case domain.SessionStarted:
		err = a.insert(ctx, insertSession, ev.TokenHash, ev.TokenHash, string(user), ev.SessionID, at, ev.UserAgent, ev.IP, at)
	case domain.SessionUsed:
		_, err = a.exec(ctx, `UPDATE proj_sessions SET last_used_at = ? WHERE user_id = ? AND session_id = ? AND last_used_at < ?`,
			at, string(user), ev.SessionID, at)
	case domain.SessionEnded:
		_, err = a.exec(ctx, `DELETE FROM proj_sessions WHERE user_id = ? AND session_id = ?`, string(user), ev.SessionID)
	case domain.RoomRead:
		err = a.insert(ctx, insertReadMarker, string(user)+" "+string(ev.RoomID), string(user), string(ev.RoomID), int64(ev.Seq))
	case domain.ConnectionOpened:
		err = a.insert(ctx, insertConnection, "", string(user), ev.ConnID, ev.NodeID, at)
	case domain.ConnectionClosed:
		var res sql.Result
		res, err = a.exec(ctx, `DELETE FROM proj_connections WHERE user_id = ? AND conn_id = ?`, string(user), ev.ConnID)
		if err != nil {
			break
		}
		var n int64
		if n, err = res.RowsAffected(); err != nil || n == 0 {
			break // closing an unknown connection changes nothing
		}
		_, err = a.exec(ctx, `UPDATE proj_users SET last_seen = ? WHERE user_id = ? AND last_seen < ?`, at, string(user), at)
	}
	return err
}

// applyRoom applies an event of room's stream with sequence number seq
// that happened at at.
func (a *applier) applyRoom(ctx context.Context, room domain.RoomID, seq uint64, ev domain.Event, at int64) error {
	var err error
	touch := a.rooms[room]
	if touch == nil {
		touch = &roomTouch{}
		a.rooms[room] = touch
		a.roomOrder = append(a.roomOrder, room)
	}
	touch.seq = seq
	switch ev := ev.(type) {
	case domain.RoomCreated:
		err = a.insert(ctx, insertRoom, "", string(room), ev.Kind, ev.Name, string(ev.OwnerID), ev.InviteCode, at, int64(seq), at)
		for _, m := range ev.Members {
			if err != nil {
				break
			}
			if m != ev.OwnerID {
				err = a.upsertMember(ctx, room, m, domain.RoleMember, at)
			}
		}
		if err == nil && ev.OwnerID != "" {
			err = a.upsertMember(ctx, room, ev.OwnerID, domain.RoleOwner, at)
		}
	case domain.MemberJoined:
		err = a.upsertMember(ctx, room, ev.UserID, domain.RoleMember, at)
	case domain.MemberLeft:
		err = a.removeMember(ctx, room, ev.UserID)
	case domain.MemberKicked:
		err = a.removeMember(ctx, room, ev.UserID)
	case domain.MemberBanned:
		if err = a.removeMember(ctx, room, ev.UserID); err == nil {
			err = a.insert(ctx, insertBan, "", string(room), string(ev.UserID), string(ev.By), at)
		}
	case domain.MemberUnbanned:
		_, err = a.exec(ctx, `DELETE FROM proj_bans WHERE room_id = ? AND user_id = ?`, string(room), string(ev.UserID))
	case domain.MemberRoleChanged:
		_, err = a.exec(ctx, `UPDATE proj_members SET role = ? WHERE room_id = ? AND user_id = ?`, string(ev.Role), string(room), string(ev.UserID))
	case domain.RoomRenamed:
		_, err = a.exec(ctx, `UPDATE proj_rooms SET name = ? WHERE room_id = ?`, ev.Name, string(room))
	case domain.InviteCodeRotated:
		_, err = a.exec(ctx, `UPDATE proj_rooms SET invite_code = ? WHERE room_id = ?`, ev.InviteCode, string(room))
	case domain.MessagePosted:
		var mentions string
		if mentions, err = encodeIDs(ev.Mentions); err != nil {
			break
		}
		err = a.insert(ctx, insertMessage, "", string(room), int64(seq), string(ev.SenderID), ev.ClientMsgID, ev.Text, int64(ev.ReplyTo), mentions, at)
		touch.activity, touch.hasActivity = at, true
	case domain.MessageEdited:
		var mentions string
		if mentions, err = encodeIDs(ev.Mentions); err != nil {
			break
		}
		_, err = a.exec(ctx, `UPDATE proj_messages SET text = ?, mentions = ?, edited_at = ? WHERE room_id = ? AND seq = ? AND deleted = 0`,
			ev.Text, mentions, at, string(room), int64(ev.Seq))
	case domain.MessageDeleted:
		_, err = a.exec(ctx, `UPDATE proj_messages SET text = '', mentions = '[]', deleted = 1 WHERE room_id = ? AND seq = ?`, string(room), int64(ev.Seq))
		if err == nil {
			_, err = a.exec(ctx, `DELETE FROM proj_reactions WHERE room_id = ? AND seq = ?`, string(room), int64(ev.Seq))
		}
	case domain.ReactionAdded:
		// Only a live message takes reactions.
		_, err = a.exec(ctx, `INSERT INTO proj_reactions (room_id, seq, emoji, user_id, reacted_at)
			SELECT room_id, seq, ?, ?, CAST(? AS BIGINT) FROM proj_messages WHERE room_id = ? AND seq = ? AND deleted = 0
			ON CONFLICT (room_id, seq, emoji, user_id) DO NOTHING`,
			ev.Emoji, string(ev.UserID), at, string(room), int64(ev.Seq))
	case domain.ReactionRemoved:
		_, err = a.exec(ctx, `DELETE FROM proj_reactions WHERE room_id = ? AND seq = ? AND emoji = ? AND user_id = ?`,
			string(room), int64(ev.Seq), ev.Emoji, string(ev.UserID))
	case domain.CallStarted, domain.CallJoined, domain.CallLeft, domain.CallEnded:
		err = a.applyCall(ctx, room, seq, ev, at)
	}
	return err
}

// applyCall applies a call event of room's stream.
func (a *applier) applyCall(ctx context.Context, room domain.RoomID, seq uint64, ev domain.Event, at int64) error {
	var err error
	switch ev := ev.(type) {
	case domain.CallStarted:
		_, err = a.exec(ctx, `INSERT INTO proj_calls (room_id, call_id, seq, started_by, started_at, ended_seq, ended_at, participants)
			VALUES (?, ?, ?, ?, ?, 0, 0, 0) ON CONFLICT (room_id, call_id) DO NOTHING`,
			string(room), ev.CallID, int64(seq), string(ev.By), at)
	case domain.CallJoined:
		_, err = a.exec(ctx, `INSERT INTO proj_call_participants (room_id, user_id, call_id, node_id, conn_id, joined_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (room_id, user_id) DO UPDATE
			SET call_id = excluded.call_id, node_id = excluded.node_id, conn_id = excluded.conn_id, joined_at = excluded.joined_at`,
			string(room), string(ev.UserID), ev.CallID, ev.NodeID, ev.ConnID, at)
	case domain.CallLeft:
		_, err = a.exec(ctx, `DELETE FROM proj_call_participants WHERE room_id = ? AND user_id = ? AND call_id = ?`,
			string(room), string(ev.UserID), ev.CallID)
	case domain.CallEnded:
		_, err = a.exec(ctx, `UPDATE proj_calls SET ended_seq = ?, ended_at = ?, participants = ? WHERE room_id = ? AND call_id = ?`,
			int64(seq), at, ev.Participants, string(room), ev.CallID)
		if err == nil {
			_, err = a.exec(ctx, `DELETE FROM proj_call_participants WHERE room_id = ? AND call_id = ?`, string(room), ev.CallID)
		}
	}
	return err
}

// upsertMember makes user a member of room with role. For someone who is a
// member already it changes only the role, as domain.Room.Apply does.
func (a *applier) upsertMember(ctx context.Context, room domain.RoomID, user domain.UserID, role domain.Role, at int64) error {
	return a.insert(ctx, insertMember, string(room)+" "+string(user), string(room), string(user), string(role), at)
}

func (a *applier) removeMember(ctx context.Context, room domain.RoomID, user domain.UserID) error {
	_, err := a.exec(ctx, `DELETE FROM proj_members WHERE room_id = ? AND user_id = ?`, string(room), string(user))
	return err
}

// flush writes the rooms' sequence numbers and activity times the batch
// moved, and sends the pending inserts.
func (a *applier) flush(ctx context.Context) error {
	for _, id := range a.roomOrder {
		t := a.rooms[id]
		var err error
		if t.hasActivity {
			_, err = a.exec(ctx, `UPDATE proj_rooms SET last_seq = ?, last_activity_at = ? WHERE room_id = ?`, int64(t.seq), t.activity, string(id))
		} else {
			_, err = a.exec(ctx, `UPDATE proj_rooms SET last_seq = ? WHERE room_id = ?`, int64(t.seq), string(id))
		}
		if err != nil {
			return fmt.Errorf("update room %s: %w", id, err)
		}
	}
	return a.flushAll(ctx)
}
