package projections_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/google/uuid"
)

// gen writes a realistic random log to an event store: users sign up,
// sign in and out, connect from several nodes, create rooms and DMs, join,
// leave, moderate, post, edit, delete, react and read. Every event comes
// from the domain aggregates' decisions, so the log is one the real
// commands could write, and the aggregates it keeps are the truth the
// read models are checked against.
type gen struct {
	t     testing.TB
	store appender
	rng   *rand.Rand
	now   time.Time

	users   map[domain.UserID]*domain.User
	userIDs []domain.UserID // in sign-up order
	rooms   map[domain.RoomID]*domain.Room
	roomIDs []domain.RoomID          // in creation order
	hashes  map[string]domain.UserID // every token hash ever issued
	revs    map[string]uint64

	// chatty, once there are users and rooms, makes the log mostly
	// messages, as a busy server's is.
	chatty bool

	n        int // events appended
	accounts int // account steps taken (account)
	last     eventstore.Position
	seq      int // for unique names

	// texts holds what search should find (search_test.go).
	texts map[domain.RoomID]map[uint64]*searchable
	// mentions holds whom each message mentions now (verify_test.go).
	mentions map[domain.RoomID]map[uint64]map[domain.UserID]bool
}

// appender is the part of an event store gen writes to.
type appender interface {
	Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error)
}

func newGen(t testing.TB, store appender, seed uint64) *gen {
	return &gen{
		t: t, store: store, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		now:   time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC),
		users: map[domain.UserID]*domain.User{}, rooms: map[domain.RoomID]*domain.Room{},
		hashes: map[string]domain.UserID{}, revs: map[string]uint64{}, texts: map[domain.RoomID]map[uint64]*searchable{},
		mentions: map[domain.RoomID]map[uint64]map[domain.UserID]bool{},
	}
}

func (g *gen) next() string { g.seq++; return fmt.Sprint(g.seq) }

func (g *gen) randomID() uuid.UUID {
	var u uuid.UUID
	for i := range u {
		u[i] = byte(g.rng.UintN(256))
	}
	u[6], u[8] = u[6]&0x0f|0x40, u[8]&0x3f|0x80
	return u
}

// tick moves the clock by up to 5 s, to the microsecond and beyond.
func (g *gen) tick() time.Time {
	g.now = g.now.Add(time.Duration(1 + g.rng.Int64N(int64(5*time.Second))))
	return g.now
}

// emit appends the events a decision returned, if it returned any, and
// evolves the aggregate by them.
// genSessions is the session policy of generated logs: short, so that
// sign-ins end expired sessions and sessions past the limit, and touches
// record uses.
var genSessions = domain.SessionPolicy{IdleTimeout: 2 * time.Minute, MaxAge: 10 * time.Minute, MaxPerUser: 3}

func (g *gen) emit(stream string, evs []domain.Event, err error, id uuid.UUID) {
	if err != nil || len(evs) == 0 {
		return
	}
	data := make([]eventstore.EventData, len(evs))
	for i, ev := range evs {
		typ, b, err := domain.Encode(ev)
		if err != nil {
			g.t.Fatal(err)
		}
		data[i] = eventstore.EventData{ID: g.randomID(), Type: typ, Data: b}
	}
	if id != uuid.Nil {
		data[0].ID = id
	}
	res, err := g.store.Append(context.Background(), stream, eventstore.Exact(g.revs[stream]), data...)
	if err != nil {
		g.t.Fatalf("append to %s: %v", stream, err)
	}
	for _, ev := range evs {
		g.revs[stream]++
		if u, ok := domain.UserIDOfStream(stream); ok {
			g.users[u].Apply(ev)
		} else if r, ok := domain.RoomIDOfStream(stream); ok {
			g.rooms[r].Apply(g.revs[stream], ev)
			g.track(r, g.revs[stream], ev)
			g.trackMentions(r, g.revs[stream], ev)
		}
	}
	g.n += len(evs)
	g.last = res.Position
}

// trackMentions keeps whom the room's messages mention.
func (g *gen) trackMentions(room domain.RoomID, seq uint64, ev domain.Event) {
	set := func(seq uint64, ids []domain.UserID) {
		if g.mentions[room] == nil {
			g.mentions[room] = map[uint64]map[domain.UserID]bool{}
		}
		m := map[domain.UserID]bool{}
		for _, id := range ids {
			m[id] = true
		}
		g.mentions[room][seq] = m
	}
	switch ev := ev.(type) {
	case domain.MessagePosted:
		set(seq, ev.Mentions)
	case domain.MessageEdited:
		if !g.rooms[room].Messages[ev.Seq].Deleted {
			set(ev.Seq, ev.Mentions)
		}
	case domain.MessageDeleted:
		delete(g.mentions[room], ev.Seq)
	}
}

// upload sometimes uploads one or two files of user to room and returns
// them.
func (g *gen) upload(room domain.RoomID, user domain.UserID, now time.Time) []domain.Attachment {
	if g.rng.IntN(5) != 0 || !g.rooms[room].IsMember(user) {
		return nil
	}
	var files []domain.Attachment
	for range 1 + g.rng.IntN(2) {
		n := g.next()
		a := domain.Attachment{ID: "att" + n, Name: "file" + n + ".png", Size: int64(g.rng.IntN(5000)), ContentType: "image/png",
			Width: 1 + g.rng.IntN(100), Height: 1 + g.rng.IntN(100), Digest: fmt.Sprintf("sha256:%064d", g.rng.IntN(50))}
		if g.rng.IntN(3) == 0 { // not an image: for has:file without has:image
			a.Name, a.ContentType, a.Width, a.Height = "file"+n+".pdf", "application/pdf", 0, 0
		}
		evs, err := g.users[user].RecordUpload(room, a, "sha256:"+n, 0, now)
		g.emit(domain.UserStream(user), evs, err, uuid.Nil)
		if up, ok := g.users[user].Upload(a.ID); ok {
			files = append(files, up.Attachment)
		}
	}
	return files
}

// discard gives up user's uploads ids, as the collector does.
func (g *gen) discard(user domain.UserID, ids []string, now time.Time) {
	for _, id := range ids {
		evs, err := g.users[user].Discard(id, now)
		g.emit(domain.UserStream(user), evs, err, uuid.Nil)
	}
}

func pick[T any](g *gen, xs []T) (T, bool) {
	var zero T
	if len(xs) == 0 {
		return zero, false
	}
	return xs[g.rng.IntN(len(xs))], true
}

func (g *gen) user() (domain.UserID, *domain.User, bool) {
	id, ok := pick(g, g.userIDs)
	return id, g.users[id], ok
}

func (g *gen) room() (domain.RoomID, *domain.Room, bool) {
	id, ok := pick(g, g.roomIDs)
	return id, g.rooms[id], ok
}

// member picks a member of r, or sometimes anyone, to exercise refusals.
func (g *gen) member(r *domain.Room) (domain.UserID, bool) {
	if g.rng.IntN(10) == 0 {
		id, _, ok := g.user()
		return id, ok
	}
	return pick(g, slices.Sorted(maps.Keys(r.Members)))
}

func (g *gen) message(r *domain.Room) (uint64, bool) {
	return pick(g, slices.Sorted(maps.Keys(r.Messages)))
}

// step makes one random decision; it may be refused and append nothing.
func (g *gen) step() {
	now := g.tick()
	k := g.rng.IntN(100)
	if g.chatty && len(g.userIDs) >= 9 && len(g.roomIDs) >= 12 {
		// Mostly messages, read markers and reactions, as in a busy
		// server.
		switch r := g.rng.IntN(100); {
		case r < 70:
			k = 50 // post
		case r < 82:
			k = 95 // mark read
		case r < 88:
			k = 85 // react
		case r < 90:
			k = 82 // pin, settings, notification levels
		case r < 93:
			k = 73 // edit
		case r < 95:
			k = 78 // delete
		case r < 97:
			k = 15 // connect
		default:
			k = 20 // disconnect
		}
	}
	switch {
	case k < 4 || len(g.userIDs) < 3:
		if len(g.userIDs) >= 9 {
			return
		}
		name := fmt.Sprintf("User%s", g.next())
		if g.rng.IntN(2) == 0 {
			name = strings.ToLower(name)
		}
		id := domain.UserIDFor(name)
		g.users[id] = &domain.User{}
		evs, err := g.users[id].SignUp(name, "$argon2id$x", now)
		if err == nil {
			g.userIDs = append(g.userIDs, id)
		}
		g.emit(domain.UserStream(id), evs, err, uuid.Nil)
	case k < 9:
		id, u, _ := g.user()
		sid := "s" + g.next()
		sum := sha256.Sum256([]byte(sid))
		hash := hex.EncodeToString(sum[:])
		g.hashes[hash] = id
		evs, err := u.StartSession(sid, hash, domain.SessionClient{UserAgent: "agent " + sid, IP: "192.0.2.1"}, genSessions, now)
		g.emit(domain.UserStream(id), evs, err, uuid.Nil)
	case k < 10:
		id, u, _ := g.user()
		sid, ok := pick(g, slices.Sorted(maps.Keys(u.Sessions)))
		if !ok {
			return
		}
		evs, err := u.EndSession(sid, domain.EndSignedOut, now)
		g.emit(domain.UserStream(id), evs, err, uuid.Nil)
	case k == 11:
		g.account(now)
	case k < 12:
		id, u, _ := g.user()
		sid, ok := pick(g, slices.Sorted(maps.Keys(u.Sessions)))
		if !ok {
			return
		}
		evs, err := u.TouchSession(sid, genSessions, now)
		g.emit(domain.UserStream(id), evs, err, uuid.Nil)
	case k < 18:
		id, u, _ := g.user()
		node, _ := pick(g, []string{"n1", "n2", "n3"})
		evs, err := u.OpenConnection("c"+g.next(), node, now)
		g.emit(domain.UserStream(id), evs, err, uuid.Nil)
	case k < 23:
		id, u, _ := g.user()
		conn, ok := pick(g, slices.Sorted(maps.Keys(u.Conns)))
		if !ok {
			return
		}
		reason, _ := pick(g, []string{"closed", "closed", "node_lost"})
		evs, err := u.CloseConnection(conn, reason, now)
		g.emit(domain.UserStream(id), evs, err, uuid.Nil)
	case k < 26 || len(g.roomIDs) == 0:
		owner, _, _ := g.user()
		id := domain.RoomID("room-" + g.next())
		r := &domain.Room{}
		evs, err := r.CreateRoom(id, owner, fmt.Sprintf(" Room %d ", g.seq), "code"+g.next(), now)
		if err == nil {
			g.rooms[id] = r
			g.roomIDs = append(g.roomIDs, id)
		}
		g.emit(domain.RoomStream(id), evs, err, uuid.Nil)
	case k < 28:
		a, _, _ := g.user()
		b, _, _ := g.user()
		id := domain.DMRoomID(a, b)
		r := g.rooms[id]
		if r == nil {
			r = &domain.Room{}
		}
		evs, err := r.OpenDM(a, b, now)
		if err == nil && len(evs) > 0 {
			g.rooms[id] = r
			g.roomIDs = append(g.roomIDs, id)
		}
		g.emit(domain.RoomStream(id), evs, err, uuid.Nil)
	case k < 36:
		id, r, _ := g.room()
		u, _, _ := g.user()
		code := r.InviteCode
		if g.rng.IntN(8) == 0 {
			code = "stale"
		}
		evs, err := r.Join(u, code, now)
		g.emit(domain.RoomStream(id), evs, err, uuid.Nil)
	case k < 39:
		id, r, _ := g.room()
		u, _ := g.member(r)
		evs, err := r.Leave(u, now)
		g.emit(domain.RoomStream(id), evs, err, uuid.Nil)
	case k < 41:
		id, r, _ := g.room()
		actor, _ := g.member(r)
		target, _ := g.member(r)
		evs, err := r.Kick(actor, target, now)
		g.emit(domain.RoomStream(id), evs, err, uuid.Nil)
	case k < 43:
		id, r, _ := g.room()
		actor, _ := g.member(r)
		target, _, _ := g.user()
		evs, err := r.Ban(actor, target, now)
		g.emit(domain.RoomStream(id), evs, err, uuid.Nil)
	case k < 45:
		id, r, _ := g.room()
		actor, _ := g.member(r)
		target, ok := pick(g, slices.Sorted(maps.Keys(r.Banned)))
		if !ok {
			return
		}
		evs, err := r.Unban(actor, target, now)
		g.emit(domain.RoomStream(id), evs, err, uuid.Nil)
	case k < 47:
		id, r, _ := g.room()
		target, _ := g.member(r)
		role, _ := pick(g, []domain.Role{domain.RoleAdmin, domain.RoleMember})
		evs, err := r.SetRole(r.Owner, target, role, now)
		g.emit(domain.RoomStream(id), evs, err, uuid.Nil)
	case k < 48:
		id, r, _ := g.room()
		actor, _ := g.member(r)
		evs, err := r.Rename(actor, "Renamed "+g.next(), now)
		g.emit(domain.RoomStream(id), evs, err, uuid.Nil)
	case k < 49:
		id, r, _ := g.room()
		evs, err := r.RotateInvite(r.Owner, "code"+g.next(), now)
		g.emit(domain.RoomStream(id), evs, err, uuid.Nil)
	case k < 72:
		id, r, _ := g.room()
		sender, _ := g.member(r)
		text := "message " + g.next()
		for range g.rng.IntN(3) {
			if u, _, ok := g.user(); ok {
				text += " @" + g.users[u].Username
			}
		}
		var mentioned []domain.UserID
		for _, name := range domain.ParseMentions(text) {
			mentioned = append(mentioned, domain.UserIDFor(name))
		}
		var replyTo uint64
		if g.rng.IntN(4) == 0 {
			replyTo, _ = g.message(r)
		}
		text += g.searchWords()
		cid := "m" + g.next()
		files := g.upload(id, sender, now)
		if len(files) > 0 && g.rng.IntN(6) == 0 {
			return // uploaded, never posted
		}
		// A quarter of the messages are replies in threads: on a root
		// mostly, sometimes on a reply or a deleted message (refused).
		var root uint64
		if g.rng.IntN(4) == 0 {
			if root, _ = g.message(r); root != 0 && r.Messages[root].ThreadRoot != 0 && g.rng.IntN(4) > 0 {
				root = r.Messages[root].ThreadRoot
			}
		}
		evs, err := r.PostInThread(sender, cid, text, replyTo, root, mentioned, files, now)
		g.emit(domain.RoomStream(id), evs, err, uuid.UUID(domain.MessageEventID(id, sender, cid)))
	case k < 77:
		id, r, _ := g.room()
		seq, ok := g.message(r)
		if !ok {
			return
		}
		actor := r.Messages[seq].Sender
		text := "edited " + g.next()
		var mentioned []domain.UserID
		if u, _, ok := g.user(); ok && g.rng.IntN(2) == 0 {
			text += " @" + g.users[u].Username
			mentioned = []domain.UserID{u}
		}
		text += g.searchWords()
		files := r.Messages[seq].Attachments
		if len(files) > 0 && g.rng.IntN(2) == 0 {
			keep := slices.Clone(files[:g.rng.IntN(len(files))])
			evs, err := r.EditFiles(actor, seq, text, mentioned, keep, true, now)
			g.emit(domain.RoomStream(id), evs, err, uuid.Nil)
			g.discard(actor, files[len(keep):], now)
			return
		}
		evs, err := r.Edit(actor, seq, text, mentioned, now)
		g.emit(domain.RoomStream(id), evs, err, uuid.Nil)
	case k < 81:
		id, r, _ := g.room()
		seq, ok := g.message(r)
		if !ok {
			return
		}
		actor := r.Messages[seq].Sender
		if g.rng.IntN(3) == 0 {
			actor = r.Owner
		}
		sender, files := r.Messages[seq].Sender, slices.Clone(r.Messages[seq].Attachments)
		evs, err := r.Delete(actor, seq, now)
		g.emit(domain.RoomStream(id), evs, err, uuid.Nil)
		if err == nil && g.rng.IntN(2) == 0 {
			g.discard(sender, files, now)
		}
	case k < 83:
		// Pins, room settings and notification levels.
		id, r, _ := g.room()
		actor, _ := g.member(r)
		switch g.rng.IntN(6) {
		case 0:
			if r.Kind == domain.KindGroup && g.rng.IntN(4) > 0 {
				actor = r.Owner // mostly one who may
			}
			evs, err := r.SetSettings(actor, g.rng.IntN(2) == 0, now)
			g.emit(domain.RoomStream(id), evs, err, uuid.Nil)
		case 1:
			level, _ := pick(g, []string{domain.NotifyAll, domain.NotifyMentions, domain.NotifyNone})
			if u := g.users[actor]; u != nil && r.IsMember(actor) {
				evs, err := u.SetNotify(id, level, now)
				g.emit(domain.UserStream(actor), evs, err, uuid.Nil)
			}
		case 2:
			// Unpin in a room that has pins, mostly as its owner (a
			// random member is mostly refused).
			var pinned []domain.RoomID
			for _, rid := range g.roomIDs {
				if len(g.rooms[rid].Pins) > 0 {
					pinned = append(pinned, rid)
				}
			}
			if id, ok := pick(g, pinned); ok {
				r = g.rooms[id]
				if r.Kind == domain.KindGroup && g.rng.IntN(4) > 0 {
					actor = r.Owner
				}
				seq, _ := pick(g, slices.Sorted(maps.Keys(r.Pins)))
				evs, err := r.Pin(actor, seq, false, now)
				g.emit(domain.RoomStream(id), evs, err, uuid.Nil)
			}
		default:
			seq, ok := g.message(r)
			if !ok {
				return
			}
			evs, err := r.Pin(actor, seq, true, now)
			g.emit(domain.RoomStream(id), evs, err, uuid.Nil)
		}
	case k < 90:
		id, r, _ := g.room()
		seq, ok := g.message(r)
		if !ok {
			return
		}
		actor, _ := g.member(r)
		emoji, _ := pick(g, []string{"👍", "🎉", "❤️", "👨‍👩‍👧"})
		add := g.rng.IntN(3) > 0
		if !add {
			// Mostly take back a reaction that is there (one picked at
			// random seldom is).
			if rs := r.Messages[seq].Reactions; len(rs) > 0 && g.rng.IntN(4) > 0 {
				emoji, _ = pick(g, slices.Sorted(maps.Keys(rs)))
				actor, _ = pick(g, slices.Sorted(maps.Keys(rs[emoji])))
			}
		}
		evs, err := r.React(actor, seq, emoji, add, now)
		g.emit(domain.RoomStream(id), evs, err, uuid.Nil)
	case k < 92:
		id, r, _ := g.room()
		u, _ := g.member(r)
		node, _ := pick(g, []string{"n1", "n2"})
		conn, _ := pick(g, []string{"c1", "c2"})
		evs, err := r.JoinCall(u, node, conn, "call"+g.next(), now)
		g.emit(domain.RoomStream(id), evs, err, uuid.Nil)
	case k < 94:
		id, r, _ := g.room()
		u, ok := pick(g, r.CallParticipants())
		if !ok {
			return
		}
		reason, _ := pick(g, []string{domain.CallLeaveLeft, domain.CallLeaveDisconnected, domain.CallLeaveNodeLost})
		evs, err := r.LeaveCall(u, "", reason, now)
		g.emit(domain.RoomStream(id), evs, err, uuid.Nil)
	default:
		id, r, _ := g.room()
		uid, ok := g.member(r)
		if !ok {
			return
		}
		if seq, ok := g.message(r); ok && g.rng.IntN(3) == 0 && r.Messages[seq].ThreadRoot == 0 {
			evs, err := g.users[uid].MarkThreadRead(id, seq, g.rng.Uint64N(r.Seq+1), now)
			g.emit(domain.UserStream(uid), evs, err, uuid.Nil)
			return
		}
		evs, err := g.users[uid].MarkRead(id, g.rng.Uint64N(r.Seq+1), now)
		g.emit(domain.UserStream(uid), evs, err, uuid.Nil)
	}
}

// run appends at least n events.
func (g *gen) run(n int) {
	for target := g.n + n; g.n < target; {
		g.step()
	}
}

// account takes one of the account actions, in turn: display names set
// and cleared, avatars set and removed, passwords changed and reset,
// accounts disabled, enabled and (at most two) deleted, with the room
// memberships a deletion ends.
func (g *gen) account(now time.Time) {
	id, u, _ := g.user()
	g.accounts++
	var evs []domain.Event
	var err error
	switch g.accounts % 9 {
	case 0:
		evs, err = u.SetDisplayName("Name ☕ "+g.next(), now)
	case 1:
		evs, err = u.SetAvatar(domain.Avatar{Digest: fmt.Sprintf("sha256:%064d", g.rng.IntN(5)), ContentType: "image/png", Size: 100}, now)
	case 2:
		keep, _ := pick(g, slices.Sorted(maps.Keys(u.Sessions)))
		evs, err = u.ChangePassword("$argon2id$y"+g.next(), keep, domain.ByUser, now)
	case 3:
		evs, err = u.Disable(now)
	case 4:
		for _, d := range g.userIDs {
			if g.users[d].Disabled {
				id, u = d, g.users[d]
				break
			}
		}
		evs, err = u.Enable(now)
	case 5:
		evs, err = u.RemoveAvatar(now)
	case 6:
		evs, err = u.ChangePassword("$argon2id$z"+g.next(), "", domain.ByOperator, now)
	case 7:
		evs, err = u.SetDisplayName("", now)
	case 8:
		deleted := 0
		for _, d := range g.userIDs {
			if g.users[d].Deleted {
				deleted++
			}
		}
		if deleted >= 2 {
			return
		}
		evs, err = u.Delete(now)
		g.emit(domain.UserStream(id), evs, err, uuid.Nil)
		if err == nil && len(evs) > 0 {
			for _, rid := range g.roomIDs {
				revs, rerr := g.rooms[rid].RemoveDeleted(id, now)
				g.emit(domain.RoomStream(rid), revs, rerr, uuid.Nil)
			}
		}
		return
	}
	g.emit(domain.UserStream(id), evs, err, uuid.Nil)
}
