package projections

import (
	"fmt"

	"github.com/confabhq/confab/domain"
)

// On PostgreSQL, where every statement is a round trip, a batch is
// applied in three steps, so that each row it touches is read at most
// once and written at most once, however many of its events change it (a
// room's last_seq and activity, a message posted then edited, reacted to
// and deleted, a user's read marker):
//
//  1. queue decodes the events and records which rows each needs: by key,
//     by message (reactions), by room (call participants) or by user
//     (sessions);
//  2. loadAll reads those rows, all tables in one query (bulk_postgres.go);
//  3. fold applies the events to the rows in memory, one after the other,
//     with the rules the statements of statements.go apply on SQLite (a
//     reaction only on a live message, a read marker that never moves
//     back, ...); then writeAll inserts each table's new rows, updates its
//     changed rows and deletes its removed rows, in one statement.
//
// Rows that cannot exist before the batch are not loaded: the message a
// MessagePosted inserts has the key (room, the event's revision), which no
// other event has and which is applied once, and reactions are only ever
// added to a message that exists. Should one exist after all, its insert
// fails on the primary key: an error, never a silent difference.

// queued is a decoded event of the batch.
type queued struct {
	isRoom bool
	user   domain.UserID // for user streams
	room   domain.RoomID // for room streams
	seq    uint64        // the room stream's revision
	pos    int64         // the event's prepare position
	ev     domain.Event
	at     int64
}

// batch holds the events of a batch and the rows they touch.
type batch struct {
	events       []queued
	users        *table[userRow]
	sessions     *table[sessionRow]
	rooms        *table[roomRow]
	members      *table[memberRow]
	bans         *table[banRow]
	messages     *table[messageRow]
	reactions    *table[reactionRow]
	readMarkers  *table[readMarkerRow]
	conns        *table[connRow]
	calls        *table[callRow]
	participants *table[participantRow]
	search       *table[searchRow]
	attachments  *table[attachmentRow]
	threads      *table[threadRow]
	threadReads  *table[threadReadRow]
	pins         *table[pinRow]
	roomSettings *table[roomSettingsRow]
	notify       *table[notifyRow]
	// tables lists them all, to load and write.
	tables []tableIO
}

// tableIO is what the applier does with each table of a batch.
type tableIO interface {
	tableDef() *tableDef
	// keys returns what load set g is to load rows by.
	keys(g int) []rowKey
	// addWide records a loaded row given as its text and its integer
	// columns (loadAll).
	addWide(texts []string, ints []int64)
	// columns returns the rows to write with op, one array per column.
	columns(op int) ([]any, bool)
	reset()
}

func newBatch() *batch {
	b := &batch{
		users: newTable(usersDef, func(r *userRow) []any {
			return []any{&r.id, &r.username, &r.created, &r.lastSeen, &r.displayName, &r.avatar, &r.avatarType, &r.status}
		}),
		sessions: newTable(sessionsDef, func(r *sessionRow) []any {
			return []any{&r.hash, &r.user, &r.session, &r.created, &r.agent, &r.ip, &r.used}
		}),
		rooms: newTable(roomsDef, func(r *roomRow) []any {
			return []any{&r.id, &r.kind, &r.name, &r.owner, &r.invite, &r.created, &r.lastSeq, &r.activity}
		}),
		members: newTable(membersDef, func(r *memberRow) []any { return []any{&r.room, &r.user, &r.role, &r.joined} }),
		bans:    newTable(bansDef, func(r *banRow) []any { return []any{&r.room, &r.user, &r.by, &r.at} }),
		messages: newTable(messagesDef, func(r *messageRow) []any {
			return []any{&r.room, &r.seq, &r.sender, &r.clientID, &r.text, &r.replyTo, &r.mentions, &r.created, &r.edited, &r.deleted, &r.attachments, &r.threadRoot}
		}),
		reactions:   newTable(reactionsDef, func(r *reactionRow) []any { return []any{&r.room, &r.seq, &r.emoji, &r.user, &r.at} }),
		readMarkers: newTable(readMarkersDef, func(r *readMarkerRow) []any { return []any{&r.user, &r.room, &r.seq} }),
		conns:       newTable(connsDef, func(r *connRow) []any { return []any{&r.user, &r.conn, &r.node, &r.opened} }),
		calls: newTable(callsDef, func(r *callRow) []any {
			return []any{&r.room, &r.call, &r.seq, &r.by, &r.started, &r.endedSeq, &r.ended, &r.people}
		}),
		participants: newTable(participantsDef, func(r *participantRow) []any {
			return []any{&r.room, &r.user, &r.call, &r.node, &r.conn, &r.joined}
		}),
		search: newTable(searchDef, func(r *searchRow) []any {
			return []any{&r.room, &r.seq, &r.pos, &r.sender, &r.created, &r.text, &r.mentions, &r.files, &r.images, &r.hasLink}
		}),
		attachments:  newTable(attachmentsDef, attachmentFields),
		threads:      newTable(threadsDef, threadFields),
		threadReads:  newTable(threadReadsDef, threadReadFields),
		pins:         newTable(pinsDef, pinFields),
		roomSettings: newTable(roomSettingsDef, roomSettingsFields),
		notify:       newTable(notifyDef, notifyFields),
	}
	b.tables = []tableIO{b.users, b.sessions, b.rooms, b.members, b.bans, b.messages, b.reactions, b.readMarkers, b.conns, b.calls, b.participants, b.search, b.attachments,
		b.threads, b.threadReads, b.pins, b.roomSettings, b.notify}
	return b
}

// Keys of the tables' rows.

func key1(a string) rowKey                 { return rowKey{s: [3]string{a}} }
func key2(a, b string) rowKey              { return rowKey{s: [3]string{a, b}} }
func msgKey(room string, seq int64) rowKey { return rowKey{s: [3]string{room}, n: seq} }
func reactionKey(room string, seq int64, emoji, user string) rowKey {
	return rowKey{s: [3]string{room, emoji, user}, n: seq}
}

// Load sets of proj_sessions.
const (
	sessionsByHash = 0
	sessionsByUser = 1
)

// queueUser records an event of user's stream and the rows it needs.
func (b *batch) queueUser(user domain.UserID, ev domain.Event, at int64) {
	u := string(user)
	switch ev := ev.(type) {
	case domain.UserSignedUp:
		b.users.wantKey(key1(u))
	case domain.SessionStarted:
		b.sessions.want(sessionsByHash, key1(ev.TokenHash))
	case domain.SessionUsed, domain.SessionEnded:
		b.sessions.want(sessionsByUser, key1(u))
	case domain.RoomRead:
		b.readMarkers.wantKey(key2(u, string(ev.RoomID)))
	case domain.ThreadRead:
		b.threadReads.wantKey(threadReadKey(u, string(ev.RoomID), int64(ev.Root)))
	case domain.ConnectionOpened:
		b.conns.wantKey(key2(u, ev.ConnID))
	case domain.ConnectionClosed:
		b.conns.wantKey(key2(u, ev.ConnID))
		b.users.wantKey(key1(u))
	case domain.PasswordChanged, domain.DisplayNameChanged, domain.AvatarChanged, domain.AvatarRemoved,
		domain.UserDisabled, domain.UserEnabled, domain.UserDeleted:
		b.users.wantKey(key1(u))
	case domain.AttachmentUploaded:
		b.attachments.wantKey(key1(ev.Attachment.ID))
	case domain.AttachmentDiscarded:
		b.attachments.wantKey(key1(ev.ID))
	case domain.RoomNotifySet:
		b.notify.wantKey(key2(u, string(ev.RoomID)))
	}
	b.events = append(b.events, queued{user: user, ev: ev, at: at})
}

// queueRoom records an event of room's stream with sequence number seq,
// at prepare position pos, and the rows it needs.
func (b *batch) queueRoom(room domain.RoomID, seq uint64, pos int64, ev domain.Event, at int64) {
	r := string(room)
	b.rooms.wantKey(key1(r))
	switch ev := ev.(type) {
	case domain.RoomCreated:
		for _, m := range ev.Members {
			b.members.wantKey(key2(r, string(m)))
		}
		if ev.OwnerID != "" {
			b.members.wantKey(key2(r, string(ev.OwnerID)))
		}
	case domain.MemberJoined:
		b.members.wantKey(key2(r, string(ev.UserID)))
	case domain.MemberLeft:
		b.members.wantKey(key2(r, string(ev.UserID)))
	case domain.MemberKicked:
		b.members.wantKey(key2(r, string(ev.UserID)))
	case domain.MemberRoleChanged:
		b.members.wantKey(key2(r, string(ev.UserID)))
	case domain.MemberBanned:
		b.members.wantKey(key2(r, string(ev.UserID)))
		b.bans.wantKey(key2(r, string(ev.UserID)))
	case domain.MemberUnbanned:
		b.bans.wantKey(key2(r, string(ev.UserID)))
	case domain.MessagePosted:
		b.messages.absent(0, msgKey(r, int64(seq)))
		b.reactions.absent(0, msgKey(r, int64(seq)))
		b.search.absent(0, msgKey(r, int64(seq)))
		if ev.ThreadRoot != 0 {
			b.threads.wantKey(msgKey(r, int64(ev.ThreadRoot)))
		}
	case domain.MessageEdited:
		b.messages.wantKey(msgKey(r, int64(ev.Seq)))
		b.search.wantKey(msgKey(r, int64(ev.Seq)))
	case domain.MessageDeleted:
		b.messages.wantKey(msgKey(r, int64(ev.Seq)))
		b.search.wantKey(msgKey(r, int64(ev.Seq)))
		b.reactions.want(0, msgKey(r, int64(ev.Seq)))
		if ev.ThreadRoot != 0 {
			b.threads.wantKey(msgKey(r, int64(ev.ThreadRoot)))
		}
	case domain.ReactionAdded:
		b.messages.wantKey(msgKey(r, int64(ev.Seq)))
		b.reactions.want(0, msgKey(r, int64(ev.Seq)))
	case domain.ReactionRemoved:
		b.reactions.want(0, msgKey(r, int64(ev.Seq)))
	case domain.CallStarted:
		b.calls.wantKey(key2(r, ev.CallID))
	case domain.CallJoined, domain.CallLeft:
		b.participants.want(0, key1(r))
	case domain.CallEnded:
		b.calls.wantKey(key2(r, ev.CallID))
		b.participants.want(0, key1(r))
	}
	b.queueAttachments(r, int64(seq), ev)
	b.queuePin(r, int64(seq), ev)
	b.events = append(b.events, queued{isRoom: true, room: room, seq: seq, pos: pos, ev: ev, at: at})
}

// reset forgets the batch's events and rows.
func (b *batch) reset() {
	b.events = b.events[:0]
	for _, t := range b.tables {
		t.reset()
	}
}

// fold applies the queued events to the loaded rows.
func (b *batch) fold() error {
	for i := range b.events {
		q := &b.events[i]
		var err error
		if q.isRoom {
			err = b.foldRoom(string(q.room), int64(q.seq), q.pos, q.ev, q.at)
		} else {
			err = b.foldUser(string(q.user), q.ev, q.at)
		}
		if err != nil {
			return fmt.Errorf("%T at %d: %w", q.ev, q.at, err)
		}
	}
	return nil
}

// foldUser applies an event of user's stream that happened at at.
func (b *batch) foldUser(user string, ev domain.Event, at int64) error {
	switch ev := ev.(type) {
	case domain.UserSignedUp:
		e, err := b.users.get(key1(user))
		if err != nil {
			return err
		}
		r := userRow{id: user, status: domain.StatusActive} // last_seen 0, or kept
		if e.has {
			r = e.now
		}
		r.username, r.created = ev.Username, at
		e.set(r)
	case domain.SessionStarted:
		e, err := b.sessions.get(key1(ev.TokenHash))
		if err != nil {
			return err
		}
		e.set(sessionRow{hash: ev.TokenHash, user: user, session: ev.SessionID, created: at, agent: ev.UserAgent, ip: ev.IP, used: at})
	case domain.SessionUsed:
		b.sessions.each(func(e *entry[sessionRow]) {
			if e.now.user == user && e.now.session == ev.SessionID && e.now.used < at {
				e.now.used = at
			}
		})
	case domain.SessionEnded:
		b.sessions.each(func(e *entry[sessionRow]) {
			if e.now.user == user && e.now.session == ev.SessionID {
				e.remove()
			}
		})
	case domain.RoomRead:
		e, err := b.readMarkers.get(key2(user, string(ev.RoomID)))
		if err != nil {
			return err
		}
		if !e.has || e.now.seq < int64(ev.Seq) {
			e.set(readMarkerRow{user: user, room: string(ev.RoomID), seq: int64(ev.Seq)})
		}
	case domain.ThreadRead:
		return b.foldThreadRead(user, ev)
	case domain.ConnectionOpened:
		e, err := b.conns.get(key2(user, ev.ConnID))
		if err != nil {
			return err
		}
		if !e.has {
			e.set(connRow{user: user, conn: ev.ConnID, node: ev.NodeID, opened: at})
		}
	case domain.ConnectionClosed:
		e, err := b.conns.get(key2(user, ev.ConnID))
		if err != nil || !e.has {
			return err // closing an unknown connection changes nothing
		}
		e.remove()
		u, err := b.users.get(key1(user))
		if err != nil {
			return err
		}
		if u.has && u.now.lastSeen < at {
			u.now.lastSeen = at
		}
	case domain.AttachmentUploaded, domain.AttachmentDiscarded:
		return b.foldUpload(user, ev, at)
	case domain.RoomNotifySet:
		return b.foldNotify(user, ev)
	case domain.PasswordChanged, domain.DisplayNameChanged, domain.AvatarChanged, domain.AvatarRemoved,
		domain.UserDisabled, domain.UserEnabled, domain.UserDeleted:
		e, err := b.users.get(key1(user))
		if err != nil || !e.has {
			return err
		}
		r := e.now
		foldAccount(&r, ev)
		if r != e.now {
			e.set(r)
		}
	}
	return nil
}

// foldRoom applies an event of room's stream with sequence number seq
// that happened at at, then moves the room's last_seq (and, for a
// message, its activity).
func (b *batch) foldRoom(room string, seq, pos int64, ev domain.Event, at int64) error {
	var err error
	switch ev := ev.(type) {
	case domain.RoomCreated:
		err = b.createRoom(room, seq, ev, at)
	case domain.MemberJoined:
		err = b.upsertMember(room, string(ev.UserID), domain.RoleMember, at)
	case domain.MemberLeft:
		err = b.removeMember(room, string(ev.UserID))
	case domain.MemberKicked:
		err = b.removeMember(room, string(ev.UserID))
	case domain.MemberBanned:
		err = b.ban(room, ev, at)
	case domain.MemberUnbanned:
		var e *entry[banRow]
		if e, err = b.bans.get(key2(room, string(ev.UserID))); err == nil {
			e.remove()
		}
	case domain.MemberRoleChanged:
		var e *entry[memberRow]
		if e, err = b.members.get(key2(room, string(ev.UserID))); err == nil && e.has {
			e.now.role = string(ev.Role)
		}
	case domain.RoomRenamed, domain.InviteCodeRotated:
		// the room row is changed below
	case domain.MessagePosted, domain.MessageEdited, domain.MessageDeleted, domain.ReactionAdded, domain.ReactionRemoved:
		if err = b.foldMessage(room, seq, pos, ev, at); err == nil {
			err = b.foldMessageAttachments(room, seq, ev, at)
		}
		if _, ok := ev.(domain.MessageDeleted); ok && err == nil {
			err = b.foldPin(room, ev, at)
		}
	case domain.MessagePinned, domain.MessageUnpinned, domain.RoomSettingsChanged:
		err = b.foldPin(room, ev, at)
	case domain.CallStarted, domain.CallJoined, domain.CallLeft, domain.CallEnded:
		err = b.foldCall(room, seq, ev, at)
	}
	if err != nil {
		return err
	}
	r, err := b.rooms.get(key1(room))
	if err != nil || !r.has {
		return err
	}
	switch ev := ev.(type) {
	case domain.RoomRenamed:
		r.now.name = ev.Name
	case domain.InviteCodeRotated:
		r.now.invite = ev.InviteCode
	case domain.MessagePosted:
		r.now.activity = at
	}
	r.now.lastSeq = seq
	return nil
}

func (b *batch) createRoom(room string, seq int64, ev domain.RoomCreated, at int64) error {
	r, err := b.rooms.get(key1(room))
	if err != nil {
		return err
	}
	if !r.has {
		r.set(roomRow{id: room, kind: ev.Kind, name: ev.Name, owner: string(ev.OwnerID), invite: ev.InviteCode, created: at, lastSeq: seq, activity: at})
	}
	for _, m := range ev.Members {
		if m != ev.OwnerID {
			if err := b.upsertMember(room, string(m), domain.RoleMember, at); err != nil {
				return err
			}
		}
	}
	if ev.OwnerID != "" {
		return b.upsertMember(room, string(ev.OwnerID), domain.RoleOwner, at)
	}
	return nil
}

// upsertMember makes user a member of room with role. For someone who is a
// member already it changes only the role, as domain.Room.Apply does.
func (b *batch) upsertMember(room, user string, role domain.Role, at int64) error {
	e, err := b.members.get(key2(room, user))
	if err != nil {
		return err
	}
	if e.has {
		e.now.role = string(role)
	} else {
		e.set(memberRow{room: room, user: user, role: string(role), joined: at})
	}
	return nil
}

func (b *batch) removeMember(room, user string) error {
	e, err := b.members.get(key2(room, user))
	if err == nil {
		e.remove()
	}
	return err
}

func (b *batch) ban(room string, ev domain.MemberBanned, at int64) error {
	if err := b.removeMember(room, string(ev.UserID)); err != nil {
		return err
	}
	e, err := b.bans.get(key2(room, string(ev.UserID)))
	if err == nil && !e.has {
		e.set(banRow{room: room, user: string(ev.UserID), by: string(ev.By), at: at})
	}
	return err
}

// foldMessage applies a message or reaction event of room's stream.
func (b *batch) foldMessage(room string, seq, pos int64, ev domain.Event, at int64) error {
	switch ev := ev.(type) {
	case domain.MessagePosted:
		mentions, err := encodeIDs(ev.Mentions)
		if err != nil {
			return err
		}
		files, err := encodeAttachments(ev.Attachments)
		if err != nil {
			return err
		}
		e, err := b.messages.get(msgKey(room, seq))
		if err != nil {
			return err
		}
		if !e.has {
			e.set(messageRow{room: room, seq: seq, sender: string(ev.SenderID), clientID: ev.ClientMsgID, text: ev.Text,
				replyTo: int64(ev.ReplyTo), mentions: mentions, created: at, attachments: files, threadRoot: int64(ev.ThreadRoot)})
			if err := b.foldThreadReply(room, seq, ev, at); err != nil {
				return err
			}
		}
		s, err := b.search.get(msgKey(room, seq))
		if err == nil && !s.has {
			s.set(newSearchRow(room, seq, pos, ev, at))
		}
		return err
	case domain.MessageEdited:
		mentions, err := encodeIDs(ev.Mentions)
		if err != nil {
			return err
		}
		e, err := b.messages.get(msgKey(room, int64(ev.Seq)))
		if err == nil && e.has && e.now.deleted == 0 {
			e.now.text, e.now.mentions, e.now.edited = ev.Text, mentions, at
			if len(ev.RemovedAttachments) > 0 {
				e.now.attachments, err = withoutAttachments(e.now.attachments, ev.RemovedAttachments)
			}
		}
		if err != nil {
			return err
		}
		s, err := b.search.get(msgKey(room, int64(ev.Seq)))
		if err == nil && s.has {
			s.now.edit(ev)
		}
		return err
	case domain.MessageDeleted:
		e, err := b.messages.get(msgKey(room, int64(ev.Seq)))
		if err != nil {
			return err
		}
		if err := b.foldThreadDelete(room, e, ev); err != nil {
			return err
		}
		if e.has {
			e.now.text, e.now.mentions, e.now.deleted, e.now.attachments = "", "[]", 1, "[]"
		}
		s, err := b.search.get(msgKey(room, int64(ev.Seq)))
		if err != nil {
			return err
		}
		s.remove()
		b.reactions.each(func(r *entry[reactionRow]) {
			if r.now.room == room && r.now.seq == int64(ev.Seq) {
				r.remove()
			}
		})
	case domain.ReactionAdded:
		// Only a live message takes reactions.
		m, err := b.messages.get(msgKey(room, int64(ev.Seq)))
		if err != nil || !m.has || m.now.deleted != 0 {
			return err
		}
		e, err := b.reactions.get(reactionKey(room, int64(ev.Seq), ev.Emoji, string(ev.UserID)))
		if err == nil && !e.has {
			e.set(reactionRow{room: room, seq: int64(ev.Seq), emoji: ev.Emoji, user: string(ev.UserID), at: at})
		}
		return err
	case domain.ReactionRemoved:
		e, err := b.reactions.get(reactionKey(room, int64(ev.Seq), ev.Emoji, string(ev.UserID)))
		if err == nil {
			e.remove()
		}
		return err
	}
	return nil
}

// foldCall applies a call event of room's stream.
func (b *batch) foldCall(room string, seq int64, ev domain.Event, at int64) error {
	switch ev := ev.(type) {
	case domain.CallStarted:
		e, err := b.calls.get(key2(room, ev.CallID))
		if err == nil && !e.has {
			e.set(callRow{room: room, call: ev.CallID, seq: seq, by: string(ev.By), started: at})
		}
		return err
	case domain.CallJoined:
		e, err := b.participants.get(key2(room, string(ev.UserID)))
		if err == nil {
			e.set(participantRow{room: room, user: string(ev.UserID), call: ev.CallID, node: ev.NodeID, conn: ev.ConnID, joined: at})
		}
		return err
	case domain.CallLeft:
		e, err := b.participants.get(key2(room, string(ev.UserID)))
		if err == nil && e.has && e.now.call == ev.CallID {
			e.remove()
		}
		return err
	case domain.CallEnded:
		e, err := b.calls.get(key2(room, ev.CallID))
		if err != nil {
			return err
		}
		if e.has {
			e.now.endedSeq, e.now.ended, e.now.people = seq, at, int64(ev.Participants)
		}
		b.participants.each(func(p *entry[participantRow]) {
			if p.now.room == room && p.now.call == ev.CallID {
				p.remove()
			}
		})
	}
	return nil
}
