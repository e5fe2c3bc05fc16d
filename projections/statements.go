package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/confabhq/confab/domain"
)

// On SQLite, in the process, a statement costs no round trip, and the
// applier runs each event's statements as it comes (runUser, runRoom),
// except that a room's last_seq and activity are written once per batch
// (flushRooms). Reading the rows first to fold a batch in memory, as on
// PostgreSQL (fold.go), cost more there than it saved: each read row costs
// about what a write does. TestFoldEqualsStatements checks that both give
// the same rows.

// roomTouch is what a batch's last event changes on a room's row.
type roomTouch struct {
	seq         uint64
	activity    int64 // time of the room's last message in the batch
	hasActivity bool
}

// The inserts of the read models, one row each.
const (
	insertUser = "INSERT INTO proj_users (user_id, username, created_at, last_seen) VALUES (?, ?, ?, 0) " +
		"ON CONFLICT (user_id) DO UPDATE SET username = excluded.username, created_at = excluded.created_at"
	insertSession = "INSERT INTO proj_sessions (token_hash, user_id, session_id, created_at, user_agent, ip, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?) " +
		"ON CONFLICT (token_hash) DO UPDATE SET user_id = excluded.user_id, session_id = excluded.session_id, created_at = excluded.created_at, " +
		"user_agent = excluded.user_agent, ip = excluded.ip, last_used_at = excluded.last_used_at"
	insertReadMarker = "INSERT INTO proj_read_markers (user_id, room_id, seq) VALUES (?, ?, ?) " +
		"ON CONFLICT (user_id, room_id) DO UPDATE SET seq = excluded.seq WHERE proj_read_markers.seq < excluded.seq"
	insertConnection = "INSERT INTO proj_connections (user_id, conn_id, node_id, opened_at) VALUES (?, ?, ?, ?) " +
		"ON CONFLICT (user_id, conn_id) DO NOTHING"
	insertRoom = "INSERT INTO proj_rooms (room_id, kind, name, owner_id, invite_code, created_at, last_seq, last_activity_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) " +
		"ON CONFLICT (room_id) DO NOTHING"
	insertMember = "INSERT INTO proj_members (room_id, user_id, role, joined_at) VALUES (?, ?, ?, ?) " +
		"ON CONFLICT (room_id, user_id) DO UPDATE SET role = excluded.role"
	insertBan = "INSERT INTO proj_bans (room_id, user_id, banned_by, banned_at) VALUES (?, ?, ?, ?) " +
		"ON CONFLICT (room_id, user_id) DO NOTHING"
	insertMessage = "INSERT INTO proj_messages (room_id, seq, sender_id, client_msg_id, text, reply_to, mentions, created_at, edited_at, deleted, attachments, thread_root) " +
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?) ON CONFLICT (room_id, seq) DO NOTHING"
)

// insertRow runs an insert of one row.
func (a *applier) insertRow(ctx context.Context, query string, args ...any) error {
	_, err := a.run(ctx, query, args...)
	return err
}

// runUser applies an event of user's stream that happened at at.
func (a *applier) runUser(ctx context.Context, user domain.UserID, ev domain.Event, at int64) error {
	var err error
	switch ev := ev.(type) {
	case domain.UserSignedUp:
		err = a.insertRow(ctx, insertUser, string(user), ev.Username, at)
	case domain.SessionStarted:
		err = a.insertRow(ctx, insertSession, ev.TokenHash, string(user), ev.SessionID, at, ev.UserAgent, ev.IP, at)
	case domain.SessionUsed:
		_, err = a.run(ctx, `UPDATE proj_sessions SET last_used_at = ? WHERE user_id = ? AND session_id = ? AND last_used_at < ?`,
			at, string(user), ev.SessionID, at)
	case domain.SessionEnded:
		_, err = a.run(ctx, `DELETE FROM proj_sessions WHERE user_id = ? AND session_id = ?`, string(user), ev.SessionID)
	case domain.RoomRead:
		err = a.insertRow(ctx, insertReadMarker, string(user), string(ev.RoomID), int64(ev.Seq))
	case domain.ThreadRead:
		err = a.insertRow(ctx, insertThreadRead, string(user), string(ev.RoomID), int64(ev.Root), int64(ev.Seq))
	case domain.ConnectionOpened:
		err = a.insertRow(ctx, insertConnection, string(user), ev.ConnID, ev.NodeID, at)
	case domain.ConnectionClosed:
		var res sql.Result
		res, err = a.run(ctx, `DELETE FROM proj_connections WHERE user_id = ? AND conn_id = ?`, string(user), ev.ConnID)
		if err != nil {
			break
		}
		var n int64
		if n, err = res.RowsAffected(); err != nil || n == 0 {
			break // closing an unknown connection changes nothing
		}
		_, err = a.run(ctx, `UPDATE proj_users SET last_seen = ? WHERE user_id = ? AND last_seen < ?`, at, string(user), at)
	case domain.AttachmentUploaded, domain.AttachmentDiscarded:
		err = a.runUpload(ctx, user, ev, at)
	case domain.RoomNotifySet:
		err = a.runNotify(ctx, user, ev)
	case domain.PasswordChanged, domain.DisplayNameChanged, domain.AvatarChanged, domain.AvatarRemoved,
		domain.UserDisabled, domain.UserEnabled, domain.UserDeleted:
		err = a.runAccount(ctx, user, ev)
	}
	return err
}

// runRoom applies an event of room's stream with sequence number seq,
// at position pos (its prepare position) of the log, that happened at at.
func (a *applier) runRoom(ctx context.Context, room domain.RoomID, seq uint64, pos int64, ev domain.Event, at int64) error {
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
		err = a.insertRow(ctx, insertRoom, string(room), ev.Kind, ev.Name, string(ev.OwnerID), ev.InviteCode, at, int64(seq), at)
		for _, m := range ev.Members {
			if err != nil {
				break
			}
			if m != ev.OwnerID {
				err = a.runUpsertMember(ctx, room, m, domain.RoleMember, at)
			}
		}
		if err == nil && ev.OwnerID != "" {
			err = a.runUpsertMember(ctx, room, ev.OwnerID, domain.RoleOwner, at)
		}
	case domain.MemberJoined:
		err = a.runUpsertMember(ctx, room, ev.UserID, domain.RoleMember, at)
	case domain.MemberLeft:
		err = a.runRemoveMember(ctx, room, ev.UserID)
	case domain.MemberKicked:
		err = a.runRemoveMember(ctx, room, ev.UserID)
	case domain.MemberBanned:
		if err = a.runRemoveMember(ctx, room, ev.UserID); err == nil {
			err = a.insertRow(ctx, insertBan, string(room), string(ev.UserID), string(ev.By), at)
		}
	case domain.MemberUnbanned:
		_, err = a.run(ctx, `DELETE FROM proj_bans WHERE room_id = ? AND user_id = ?`, string(room), string(ev.UserID))
	case domain.MemberRoleChanged:
		_, err = a.run(ctx, `UPDATE proj_members SET role = ? WHERE room_id = ? AND user_id = ?`, string(ev.Role), string(room), string(ev.UserID))
	case domain.RoomRenamed:
		_, err = a.run(ctx, `UPDATE proj_rooms SET name = ? WHERE room_id = ?`, ev.Name, string(room))
	case domain.InviteCodeRotated:
		_, err = a.run(ctx, `UPDATE proj_rooms SET invite_code = ? WHERE room_id = ?`, ev.InviteCode, string(room))
	case domain.MessagePosted:
		var mentions string
		if mentions, err = encodeIDs(ev.Mentions); err != nil {
			break
		}
		var files string
		if files, err = encodeAttachments(ev.Attachments); err != nil {
			break
		}
		var res sql.Result
		res, err = a.run(ctx, insertMessage, string(room), int64(seq), string(ev.SenderID), ev.ClientMsgID, ev.Text, int64(ev.ReplyTo), mentions, at, files, int64(ev.ThreadRoot))
		if err == nil && ev.ThreadRoot != 0 {
			err = a.runThreadReply(ctx, res, string(room), int64(seq), ev, at)
		}
		if err == nil {
			err = a.runSearchPost(ctx, newSearchRow(string(room), int64(seq), pos, ev, at))
		}
		touch.activity, touch.hasActivity = at, true
		if err == nil {
			err = a.runMessageAttachments(ctx, room, seq, ev, at)
		}
	case domain.MessageEdited:
		var mentions string
		if mentions, err = encodeIDs(ev.Mentions); err != nil {
			break
		}
		_, err = a.run(ctx, `UPDATE proj_messages SET text = ?, mentions = ?, edited_at = ? WHERE room_id = ? AND seq = ? AND deleted = 0`,
			ev.Text, mentions, at, string(room), int64(ev.Seq))
		if err == nil {
			err = a.runSearchEdit(ctx, string(room), ev)
		}
		if err == nil {
			err = a.runMessageAttachments(ctx, room, seq, ev, at)
		}
	case domain.MessageDeleted:
		if ev.ThreadRoot != 0 {
			if err = a.runThreadDelete(ctx, string(room), ev); err != nil {
				break
			}
		}
		_, err = a.run(ctx, `UPDATE proj_messages SET text = '', mentions = '[]', deleted = 1, attachments = '[]' WHERE room_id = ? AND seq = ?`, string(room), int64(ev.Seq))
		if err == nil {
			_, err = a.run(ctx, `DELETE FROM proj_reactions WHERE room_id = ? AND seq = ?`, string(room), int64(ev.Seq))
		}
		if err == nil {
			err = a.runSearchDelete(ctx, string(room), int64(ev.Seq))
		}
		if err == nil {
			err = a.runPin(ctx, room, ev, at)
		}
		if err == nil {
			err = a.runMessageAttachments(ctx, room, seq, ev, at)
		}
	case domain.ReactionAdded:
		// Only a live message takes reactions.
		_, err = a.run(ctx, `INSERT INTO proj_reactions (room_id, seq, emoji, user_id, reacted_at)
			SELECT room_id, seq, ?, ?, CAST(? AS BIGINT) FROM proj_messages WHERE room_id = ? AND seq = ? AND deleted = 0
			ON CONFLICT (room_id, seq, emoji, user_id) DO NOTHING`,
			ev.Emoji, string(ev.UserID), at, string(room), int64(ev.Seq))
	case domain.ReactionRemoved:
		_, err = a.run(ctx, `DELETE FROM proj_reactions WHERE room_id = ? AND seq = ? AND emoji = ? AND user_id = ?`,
			string(room), int64(ev.Seq), ev.Emoji, string(ev.UserID))
	case domain.CallStarted, domain.CallJoined, domain.CallLeft, domain.CallEnded:
		err = a.runCall(ctx, room, seq, ev, at)
	case domain.MessagePinned, domain.MessageUnpinned, domain.RoomSettingsChanged:
		err = a.runPin(ctx, room, ev, at)
	}
	return err
}

// runCall applies a call event of room's stream.
func (a *applier) runCall(ctx context.Context, room domain.RoomID, seq uint64, ev domain.Event, at int64) error {
	var err error
	switch ev := ev.(type) {
	case domain.CallStarted:
		_, err = a.run(ctx, `INSERT INTO proj_calls (room_id, call_id, seq, started_by, started_at, ended_seq, ended_at, participants)
			VALUES (?, ?, ?, ?, ?, 0, 0, 0) ON CONFLICT (room_id, call_id) DO NOTHING`,
			string(room), ev.CallID, int64(seq), string(ev.By), at)
	case domain.CallJoined:
		_, err = a.run(ctx, `INSERT INTO proj_call_participants (room_id, user_id, call_id, node_id, conn_id, joined_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (room_id, user_id) DO UPDATE
			SET call_id = excluded.call_id, node_id = excluded.node_id, conn_id = excluded.conn_id, joined_at = excluded.joined_at`,
			string(room), string(ev.UserID), ev.CallID, ev.NodeID, ev.ConnID, at)
	case domain.CallLeft:
		_, err = a.run(ctx, `DELETE FROM proj_call_participants WHERE room_id = ? AND user_id = ? AND call_id = ?`,
			string(room), string(ev.UserID), ev.CallID)
	case domain.CallEnded:
		_, err = a.run(ctx, `UPDATE proj_calls SET ended_seq = ?, ended_at = ?, participants = ? WHERE room_id = ? AND call_id = ?`,
			int64(seq), at, ev.Participants, string(room), ev.CallID)
		if err == nil {
			_, err = a.run(ctx, `DELETE FROM proj_call_participants WHERE room_id = ? AND call_id = ?`, string(room), ev.CallID)
		}
	}
	return err
}

// The search index: proj_search and, on SQLite, its FTS5 table
// (search_index.go), whose rowid is pos.
const (
	insertSearch = "INSERT INTO proj_search (room_id, seq, pos, sender_id, created_at, text, mentions, files, images, has_link) " +
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (room_id, seq) DO NOTHING"
	insertSearchFTS = "INSERT INTO proj_search_fts (rowid, text, mentions) VALUES (?, ?, ?)"
	deleteSearchFTS = "DELETE FROM proj_search_fts WHERE rowid = ?"
)

func (a *applier) runSearchPost(ctx context.Context, r searchRow) error {
	res, err := a.run(ctx, insertSearch, r.room, r.seq, r.pos, r.sender, r.created, r.text, r.mentions, r.files, r.images, r.hasLink)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err // applied before
	}
	return a.insertRow(ctx, insertSearchFTS, r.pos, r.text, ftsMentions(r.mentions))
}

func (a *applier) runSearchEdit(ctx context.Context, room string, ev domain.MessageEdited) error {
	r := searchRow{room: room, seq: int64(ev.Seq)}
	err := a.queryRow(ctx, `SELECT pos, files, images FROM proj_search WHERE room_id = ? AND seq = ?`, room, int64(ev.Seq)).Scan(&r.pos, &r.files, &r.images)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // deleted, or never posted
	}
	if err != nil {
		return err
	}
	r.edit(ev)
	if _, err := a.run(ctx, `UPDATE proj_search SET text = ?, mentions = ?, files = ?, images = ?, has_link = ? WHERE room_id = ? AND seq = ?`,
		r.text, r.mentions, r.files, r.images, r.hasLink, room, r.seq); err != nil {
		return err
	}
	if _, err := a.run(ctx, deleteSearchFTS, r.pos); err != nil {
		return err
	}
	return a.insertRow(ctx, insertSearchFTS, r.pos, r.text, ftsMentions(r.mentions))
}

func (a *applier) runSearchDelete(ctx context.Context, room string, seq int64) error {
	var pos int64
	err := a.queryRow(ctx, `SELECT pos FROM proj_search WHERE room_id = ? AND seq = ?`, room, seq).Scan(&pos)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := a.run(ctx, deleteSearchFTS, pos); err != nil {
		return err
	}
	_, err = a.run(ctx, `DELETE FROM proj_search WHERE room_id = ? AND seq = ?`, room, seq)
	return err
}

// runUpsertMember makes user a member of room with role. For someone who is a
// member already it changes only the role, as domain.Room.Apply does.
func (a *applier) runUpsertMember(ctx context.Context, room domain.RoomID, user domain.UserID, role domain.Role, at int64) error {
	return a.insertRow(ctx, insertMember, string(room), string(user), string(role), at)
}

func (a *applier) runRemoveMember(ctx context.Context, room domain.RoomID, user domain.UserID) error {
	_, err := a.run(ctx, `DELETE FROM proj_members WHERE room_id = ? AND user_id = ?`, string(room), string(user))
	return err
}

// flushRooms writes the rooms' sequence numbers and activity times the
// batch moved.
func (a *applier) flushRooms(ctx context.Context) error {
	for _, id := range a.roomOrder {
		t := a.rooms[id]
		var err error
		if t.hasActivity {
			_, err = a.run(ctx, `UPDATE proj_rooms SET last_seq = ?, last_activity_at = ? WHERE room_id = ?`, int64(t.seq), t.activity, string(id))
		} else {
			_, err = a.run(ctx, `UPDATE proj_rooms SET last_seq = ? WHERE room_id = ?`, int64(t.seq), string(id))
		}
		if err != nil {
			return fmt.Errorf("update room %s: %w", id, err)
		}
	}
	return nil
}
