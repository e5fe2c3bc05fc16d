package projections_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/projections"
	"github.com/google/uuid"
)

// t0 is when the tests' logs begin.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// at returns t0 plus n seconds.
func at(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

var (
	alice, bob, carol = domain.UserIDFor("alice"), domain.UserIDFor("bob"), domain.UserIDFor("carol")
	dave, erin        = domain.UserIDFor("dave"), domain.UserIDFor("erin")
	general           = domain.RoomID("general")
)

// logBuilder writes recorded events as a store would record them: each
// stream's revisions from 1, positions from 1 in order.
type logBuilder struct {
	t      *testing.T
	revs   map[string]uint64
	events []eventstore.RecordedEvent
}

func newLog(t *testing.T) *logBuilder { return &logBuilder{t: t, revs: map[string]uint64{}} }

func (l *logBuilder) raw(stream, typ string, data []byte) *logBuilder {
	l.revs[stream]++
	pos := uint64(len(l.events) + 1)
	l.events = append(l.events, eventstore.RecordedEvent{
		ID: uuid.New(), Stream: stream, Revision: l.revs[stream],
		Position: eventstore.Position{Commit: pos, Prepare: pos},
		Type:     typ, Data: data,
		RecordedAt: t0.Add(time.Duration(pos) * time.Millisecond),
	})
	return l
}

func (l *logBuilder) add(stream string, evs ...domain.Event) *logBuilder {
	for _, ev := range evs {
		typ, data, err := domain.Encode(ev)
		if err != nil {
			l.t.Fatal(err)
		}
		l.raw(stream, typ, data)
	}
	return l
}

func (l *logBuilder) user(id domain.UserID, evs ...domain.Event) *logBuilder {
	return l.add(domain.UserStream(id), evs...)
}

func (l *logBuilder) room(id domain.RoomID, evs ...domain.Event) *logBuilder {
	return l.add(domain.RoomStream(id), evs...)
}

// signUp signs users up at time 0.
func (l *logBuilder) signUp(names ...string) *logBuilder {
	for _, n := range names {
		l.user(domain.UserIDFor(n), domain.UserSignedUp{UserID: domain.UserIDFor(n), Username: n, PasswordHash: "x", At: at(0)})
	}
	return l
}

// group creates the room general owned by alice with invite code "c1" at
// time 1, and has others join at time 2.
func (l *logBuilder) group(others ...domain.UserID) *logBuilder {
	l.room(general, domain.RoomCreated{RoomID: general, Kind: domain.KindGroup, Name: "General", OwnerID: alice, Members: []domain.UserID{alice}, InviteCode: "c1", At: at(1)})
	for _, u := range others {
		l.room(general, domain.MemberJoined{UserID: u, At: at(2)})
	}
	return l
}

func wantKind(t *testing.T, err error, k domain.Kind) {
	t.Helper()
	if err == nil || domain.KindOf(err) != k {
		t.Fatalf("error %v, want kind %v", err, k)
	}
}

func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func ptr[T any](v T) *T { return &v }

var ctx = context.Background()

var applyTests = []struct {
	name  string
	log   func(l *logBuilder)
	check func(t *testing.T, p *projections.Projections)
}{
	{
		name: "sessions",
		log: func(l *logBuilder) {
			l.signUp("alice")
			l.user(alice,
				domain.SessionStarted{SessionID: "s1", TokenHash: "h1", At: at(1)},
				domain.SessionStarted{SessionID: "s2", TokenHash: "h2", UserAgent: "curl/8", IP: "192.0.2.1", At: at(2)},
				domain.SessionEnded{SessionID: "s1", Reason: domain.EndRevoked, At: at(3)},
				domain.SessionEnded{SessionID: "nope", At: at(4)},
				domain.SessionUsed{SessionID: "s2", At: at(6)},
				domain.SessionUsed{SessionID: "s2", At: at(5)}, // out of order: changes nothing
				domain.SessionUsed{SessionID: "s1", At: at(7)}, // ended: changes nothing
				domain.SessionStarted{SessionID: "s3", TokenHash: "h3", At: at(8)},
			)
		},
		check: func(t *testing.T, p *projections.Projections) {
			s := must[projections.Session](t)(p.SessionByTokenHash(ctx, "h2"))
			s2 := projections.Session{SessionID: "s2", UserID: alice, CreatedAt: at(2), LastUsedAt: at(6), UserAgent: "curl/8", IP: "192.0.2.1"}
			equal(t, "session h2", s, s2)
			s3 := projections.Session{SessionID: "s3", UserID: alice, CreatedAt: at(8), LastUsedAt: at(8)}
			equal(t, "sessions", must[[]projections.Session](t)(p.Sessions(ctx, alice)), []projections.Session{s2, s3})
			equal(t, "sessions of bob", must[[]projections.Session](t)(p.Sessions(ctx, bob)), nil)
			_, err := p.SessionByTokenHash(ctx, "h1")
			wantKind(t, err, domain.KindNotFound)
			_, err = p.SessionByTokenHash(ctx, "unknown")
			wantKind(t, err, domain.KindNotFound)
		},
	},
	{
		name: "account settings and deletion",
		log: func(l *logBuilder) {
			l.signUp("alice", "bob")
			av := domain.Avatar{Digest: "sha256:" + strings.Repeat("a", 64), ContentType: "image/png", Size: 9}
			l.user(alice,
				domain.DisplayNameChanged{DisplayName: "Alice ☕", At: at(1)},
				domain.AvatarChanged{Avatar: av, At: at(2)},
				domain.PasswordChanged{PasswordHash: "y", By: domain.ByUser, At: at(3)},
				domain.UserDisabled{At: at(4)},
			)
			l.user(bob,
				domain.DisplayNameChanged{DisplayName: "Bobby", At: at(1)},
				domain.AvatarChanged{Avatar: domain.Avatar{Digest: "sha256:" + strings.Repeat("b", 64), ContentType: "image/jpeg", Size: 9}, At: at(2)},
				domain.UserDisabled{At: at(3)},
				domain.UserEnabled{At: at(4)},
				domain.UserDeleted{At: at(5)},
				domain.UserEnabled{At: at(6)}, // a deleted user stays deleted
			)
		},
		check: func(t *testing.T, p *projections.Projections) {
			a := must[projections.User](t)(p.User(ctx, alice))
			if a.Username != "alice" || a.DisplayName != "Alice ☕" || a.Avatar != "sha256:"+strings.Repeat("a", 64) || a.AvatarType != "image/png" || a.Status != domain.StatusDisabled {
				t.Errorf("alice: %+v", a)
			}
			b := must[projections.User](t)(p.User(ctx, bob))
			if b.Username != "" || b.DisplayName != "" || b.Avatar != "" || b.AvatarType != "" || b.Status != domain.StatusDeleted {
				t.Errorf("bob, deleted: %+v", b)
			}
			if !must[bool](t)(p.BlobReferenced(ctx, "sha256:"+strings.Repeat("a", 64))) {
				t.Error("alice's avatar is not referenced: the collector would remove it")
			}
			if must[bool](t)(p.BlobReferenced(ctx, "sha256:"+strings.Repeat("b", 64))) {
				t.Error("a deleted user's avatar is still referenced")
			}
			list := must[[]projections.UserListing](t)(p.ListUsers(ctx))
			if len(list) != 2 || list[0].Status != domain.StatusDisabled || list[1].Status != domain.StatusDeleted || list[1].Username != "" {
				t.Errorf("users: %+v", list)
			}
		},
	},
	{
		name: "users",
		log: func(l *logBuilder) {
			l.user(alice, domain.UserSignedUp{UserID: alice, Username: "Alice", PasswordHash: "x", At: at(5)})
		},
		check: func(t *testing.T, p *projections.Projections) {
			want := projections.User{ID: alice, Username: "Alice", CreatedAt: at(5), Status: domain.StatusActive}
			equal(t, "user", must[projections.User](t)(p.User(ctx, alice)), want)
			equal(t, "by name", must[projections.User](t)(p.UserByUsername(ctx, "aLICE")), want)
			_, err := p.User(ctx, bob)
			wantKind(t, err, domain.KindNotFound)
			_, err = p.UserByUsername(ctx, "bob")
			wantKind(t, err, domain.KindNotFound)
		},
	},
	{
		name: "room, rename and invite rotation",
		log: func(l *logBuilder) {
			l.signUp("alice").group()
			l.room(general,
				domain.RoomRenamed{Name: "Lobby", By: alice, At: at(3)},
				domain.InviteCodeRotated{InviteCode: "c2", By: alice, At: at(4)},
			)
		},
		check: func(t *testing.T, p *projections.Projections) {
			equal(t, "room", must[projections.RoomInfo](t)(p.Room(ctx, general)), projections.RoomInfo{
				ID: general, Kind: domain.KindGroup, Name: "Lobby", OwnerID: alice, InviteCode: "c2", LastSeq: 3, CreatedAt: at(1),
			})
			equal(t, "current code", must[domain.RoomID](t)(p.RoomByInviteCode(ctx, "c2")), general)
			for _, code := range []string{"c1", "", "c3"} {
				_, err := p.RoomByInviteCode(ctx, code)
				wantKind(t, err, domain.KindNotFound)
			}
			_, err := p.Room(ctx, "nope")
			wantKind(t, err, domain.KindNotFound)
		},
	},
	{
		name: "join, leave, kick, ban, unban, roles",
		log: func(l *logBuilder) {
			l.signUp("alice", "bob", "carol", "dave", "erin").group(bob, carol, dave, erin)
			l.room(general,
				domain.MemberRoleChanged{UserID: bob, Role: domain.RoleAdmin, By: alice, At: at(3)}, // 6
				domain.MemberLeft{UserID: carol, At: at(4)},                                         // 7
				domain.MemberKicked{UserID: dave, By: bob, At: at(5)},                               // 8
				domain.MemberBanned{UserID: erin, By: bob, At: at(6)},                               // 9
				domain.MemberBanned{UserID: dave, By: alice, At: at(7)},                             // 10
				domain.MemberUnbanned{UserID: dave, By: alice, At: at(8)},                           // 11
				domain.MemberJoined{UserID: dave, At: at(9)},                                        // 12
			)
		},
		check: func(t *testing.T, p *projections.Projections) {
			for _, tt := range []struct {
				user domain.UserID
				role domain.Role
				ok   bool
			}{{alice, domain.RoleOwner, true}, {bob, domain.RoleAdmin, true}, {carol, "", false}, {dave, domain.RoleMember, true}, {erin, "", false}} {
				role, ok, err := p.Member(ctx, general, tt.user)
				if err != nil || role != tt.role || ok != tt.ok {
					t.Errorf("Member(%s) = %q, %v, %v; want %q, %v", tt.user, role, ok, err, tt.role, tt.ok)
				}
			}
			if _, ok, err := p.Member(ctx, "nope", alice); ok || err != nil {
				t.Errorf("Member of a missing room = %v, %v", ok, err)
			}
			for u, want := range map[domain.UserID]bool{erin: true, dave: false, carol: false, alice: false} {
				if got := must[bool](t)(p.Banned(ctx, general, u)); got != want {
					t.Errorf("Banned(%s) = %v, want %v", u, got, want)
				}
			}
			members := must[[]projections.Member](t)(p.Members(ctx, general))
			equal(t, "members", members, []projections.Member{
				{User: projections.User{ID: alice, Username: "alice", CreatedAt: at(0), Status: domain.StatusActive}, Role: domain.RoleOwner, JoinedAt: at(1)},
				{User: projections.User{ID: bob, Username: "bob", CreatedAt: at(0), Status: domain.StatusActive}, Role: domain.RoleAdmin, JoinedAt: at(2)},
				{User: projections.User{ID: dave, Username: "dave", CreatedAt: at(0), Status: domain.StatusActive}, Role: domain.RoleMember, JoinedAt: at(9)},
			})
			_, err := p.Members(ctx, "nope")
			wantKind(t, err, domain.KindNotFound)
			equal(t, "alice's room", must[projections.RoomInfo](t)(p.Room(ctx, general)).LastSeq, uint64(12))
			shared := must[[]domain.UserID](t)(p.SharedRoomMembers(ctx, alice))
			want := []domain.UserID{alice, bob, dave}
			slices.Sort(want)
			equal(t, "shared with alice", shared, want)
			equal(t, "shared with carol", must[[]domain.UserID](t)(p.SharedRoomMembers(ctx, carol)), []domain.UserID{carol})
			equal(t, "rooms of carol", len(must[[]projections.RoomSummary](t)(p.RoomsOf(ctx, carol))), 0)
			equal(t, "member IDs", must[[]domain.UserID](t)(p.MemberIDs(ctx, general)), want)
			equal(t, "member IDs of a missing room", len(must[[]domain.UserID](t)(p.MemberIDs(ctx, "nope"))), 0)
			equal(t, "room IDs of alice", must[[]domain.RoomID](t)(p.RoomIDsOf(ctx, alice)), []domain.RoomID{general})
			equal(t, "room IDs of carol", len(must[[]domain.RoomID](t)(p.RoomIDsOf(ctx, carol))), 0)
		},
	},
	{
		name: "direct messages and room order",
		log: func(l *logBuilder) {
			l.signUp("alice", "bob", "carol").group(carol)
			dm := domain.DMRoomID(alice, bob)
			members := []domain.UserID{alice, bob}
			slices.Sort(members)
			l.room(dm,
				domain.RoomCreated{RoomID: dm, Kind: domain.KindDM, Members: members, At: at(3)},
				domain.MessagePosted{SenderID: bob, ClientMsgID: "m1", Text: "hi", At: at(4)},
			)
			l.user(bob, domain.ConnectionOpened{ConnID: "b1", NodeID: "n1", At: at(5)})
		},
		check: func(t *testing.T, p *projections.Projections) {
			dm := domain.DMRoomID(alice, bob)
			rooms := must[[]projections.RoomSummary](t)(p.RoomsOf(ctx, alice))
			equal(t, "alice's rooms", rooms, []projections.RoomSummary{
				{ID: dm, Kind: domain.KindDM, Role: domain.RoleMember, LastSeq: 2, Unread: 1, LastActivity: at(4), Notify: domain.NotifyAll,
					DMPeer: &projections.User{ID: bob, Username: "bob", CreatedAt: at(0), Online: true, Status: domain.StatusActive}},
				{ID: general, Kind: domain.KindGroup, Name: "General", OwnerID: alice, Role: domain.RoleOwner, LastSeq: 2, LastActivity: at(1), Notify: domain.NotifyAll},
			})
			bobs := must[[]projections.RoomSummary](t)(p.RoomsOf(ctx, bob))
			if len(bobs) != 1 || bobs[0].DMPeer == nil || bobs[0].DMPeer.ID != alice || bobs[0].Unread != 0 {
				t.Errorf("bob's rooms: %+v", bobs)
			}
			shared := must[[]domain.UserID](t)(p.SharedRoomMembers(ctx, bob))
			want := []domain.UserID{alice, bob}
			slices.Sort(want)
			equal(t, "shared with bob", shared, want)
		},
	},
	{
		name: "messages with edits, deletes, replies, reactions and mentions",
		log: func(l *logBuilder) {
			l.signUp("alice", "bob").group(bob) // seq 1, 2
			l.room(general,
				domain.MessagePosted{SenderID: alice, ClientMsgID: "a1", Text: "hello", At: at(10)},                                                 // 3
				domain.MessagePosted{SenderID: bob, ClientMsgID: "b1", Text: "@alice hi", ReplyTo: 3, Mentions: []domain.UserID{alice}, At: at(11)}, // 4
				domain.MessageEdited{Seq: 3, Text: "hello @bob", Mentions: []domain.UserID{bob}, By: alice, At: at(12)},                             // 5
				domain.ReactionAdded{Seq: 3, Emoji: "👍", UserID: bob, At: at(13)},                                                                   // 6
				domain.ReactionAdded{Seq: 3, Emoji: "👍", UserID: alice, At: at(14)},                                                                 // 7
				domain.ReactionAdded{Seq: 3, Emoji: "🎉", UserID: bob, At: at(15)},                                                                   // 8
				domain.ReactionAdded{Seq: 3, Emoji: "+1", UserID: bob, At: at(15)},                                                                  // 9
				domain.ReactionRemoved{Seq: 3, Emoji: "🎉", UserID: bob, At: at(16)},                                                                 // 10
				domain.ReactionAdded{Seq: 4, Emoji: "❤️", UserID: alice, At: at(17)},                                                                // 11
				domain.MessagePosted{SenderID: alice, ClientMsgID: "a2", Text: "third", At: at(18)},                                                 // 12
				domain.MessageDeleted{Seq: 4, By: bob, At: at(19)},                                                                                  // 13
				domain.ReactionAdded{Seq: 4, Emoji: "x", UserID: alice, At: at(20)},                                                                 // 14: ignored, deleted
				domain.MessageEdited{Seq: 4, Text: "back", By: bob, At: at(21)},                                                                     // 15: ignored, deleted
			)
		},
		check: func(t *testing.T, p *projections.Projections) {
			users := []domain.UserID{alice, bob}
			slices.Sort(users)
			m3 := projections.Message{Seq: 3, SenderID: alice, SenderName: "alice", ClientMsgID: "a1", Text: "hello @bob",
				Mentions: []domain.UserID{bob}, CreatedAt: at(10), EditedAt: ptr(at(12)),
				Reactions: []projections.Reaction{{Emoji: "+1", Users: []domain.UserID{bob}}, {Emoji: "👍", Users: users}}}
			m4 := projections.Message{Seq: 4, SenderID: bob, SenderName: "bob", ClientMsgID: "b1", ReplyTo: 3, CreatedAt: at(11), Deleted: true}
			m12 := projections.Message{Seq: 12, SenderID: alice, SenderName: "alice", ClientMsgID: "a2", Text: "third", CreatedAt: at(18)}
			equal(t, "newest", must[[]projections.Message](t)(p.Messages(ctx, general, 0, 50)), []projections.Message{m12, m4, m3})
			equal(t, "before 12, limit 1", must[[]projections.Message](t)(p.Messages(ctx, general, 12, 1)), []projections.Message{m4})
			equal(t, "before 4", must[[]projections.Message](t)(p.Messages(ctx, general, 4, 100)), []projections.Message{m3})
			equal(t, "before 3", len(must[[]projections.Message](t)(p.Messages(ctx, general, 3, 100))), 0)
			equal(t, "by seq", must[projections.Message](t)(p.MessageBySeq(ctx, general, 3)), m3)
			equal(t, "deleted by seq", must[projections.Message](t)(p.MessageBySeq(ctx, general, 4)), m4)
			for _, seq := range []uint64{0, 1, 2, 5, 99} {
				_, err := p.MessageBySeq(ctx, general, seq)
				wantKind(t, err, domain.KindNotFound)
			}
			for _, limit := range []int{0, -1, 101} {
				_, err := p.Messages(ctx, general, 0, limit)
				wantKind(t, err, domain.KindInvalid)
			}
			equal(t, "other room", len(must[[]projections.Message](t)(p.Messages(ctx, "nope", 0, 10))), 0)
			r := must[projections.RoomInfo](t)(p.Room(ctx, general))
			equal(t, "last seq", r.LastSeq, uint64(15))
		},
	},
	{
		name: "unread counts and read markers",
		log: func(l *logBuilder) {
			l.signUp("alice", "bob", "carol").group(bob, carol) // seq 1-3
			l.room(general,
				domain.MessagePosted{SenderID: bob, ClientMsgID: "1", Text: "one", At: at(10)},    // 4
				domain.MessagePosted{SenderID: alice, ClientMsgID: "2", Text: "two", At: at(11)},  // 5
				domain.MessagePosted{SenderID: bob, ClientMsgID: "3", Text: "three", At: at(12)},  // 6
				domain.MessagePosted{SenderID: carol, ClientMsgID: "4", Text: "four", At: at(13)}, // 7
				domain.MessageDeleted{Seq: 6, By: bob, At: at(14)},                                // 8
				domain.MemberJoined{UserID: dave, At: at(15)},                                     // 9
			)
			l.user(alice, domain.RoomRead{RoomID: general, Seq: 4, At: at(20)})
			l.user(carol, domain.RoomRead{RoomID: general, Seq: 9, At: at(20)}, domain.RoomRead{RoomID: general, Seq: 5, At: at(21)})
		},
		check: func(t *testing.T, p *projections.Projections) {
			for _, tt := range []struct {
				user           domain.UserID
				readSeq        uint64
				unread         int
				lastSeq        uint64
				activityOffset int
			}{
				{alice, 4, 1, 9, 13}, // 7 by carol; 5 is hers, 6 deleted
				{bob, 0, 2, 9, 13},   // 5, 7
				{carol, 9, 0, 9, 13}, // the marker never moves back
			} {
				rooms := must[[]projections.RoomSummary](t)(p.RoomsOf(ctx, tt.user))
				if len(rooms) != 1 {
					t.Fatalf("rooms of %s: %+v", tt.user, rooms)
				}
				r := rooms[0]
				if r.ReadSeq != tt.readSeq || r.Unread != tt.unread || r.LastSeq != tt.lastSeq || !r.LastActivity.Equal(at(tt.activityOffset)) {
					t.Errorf("room of %s: read %d unread %d last %d activity %v; want %d %d %d %v", tt.user, r.ReadSeq, r.Unread, r.LastSeq, r.LastActivity, tt.readSeq, tt.unread, tt.lastSeq, at(tt.activityOffset))
				}
			}
		},
	},
	{
		name: "presence",
		log: func(l *logBuilder) {
			l.signUp("alice", "bob").group(bob)
			l.user(alice,
				domain.ConnectionOpened{ConnID: "a1", NodeID: "n1", At: at(10)},
				domain.ConnectionOpened{ConnID: "a2", NodeID: "n2", At: at(11)},
				domain.ConnectionClosed{ConnID: "a1", Reason: "closed", At: at(12)},
				domain.ConnectionClosed{ConnID: "zz", Reason: "closed", At: at(13)}, // unknown: nothing
			)
			l.user(bob,
				domain.ConnectionOpened{ConnID: "b1", NodeID: "n1", At: at(14)},
				domain.ConnectionClosed{ConnID: "b1", Reason: "closed", At: at(15)},
				domain.ConnectionOpened{ConnID: "b2", NodeID: "n2", At: at(16)},
				domain.ConnectionOpened{ConnID: "b3", NodeID: "n2", At: at(17)},
				domain.ConnectionClosed{ConnID: "b2", Reason: "node_lost", At: at(18)},
				domain.ConnectionClosed{ConnID: "b3", Reason: "node_lost", At: at(19)},
			)
		},
		check: func(t *testing.T, p *projections.Projections) {
			a := must[projections.User](t)(p.User(ctx, alice))
			if !a.Online || !a.LastSeen.Equal(at(12)) {
				t.Errorf("alice: online %v, last seen %v; want online, %v", a.Online, a.LastSeen, at(12))
			}
			b := must[projections.User](t)(p.User(ctx, bob))
			if b.Online || !b.LastSeen.Equal(at(19)) {
				t.Errorf("bob: online %v, last seen %v; want offline, %v", b.Online, b.LastSeen, at(19))
			}
			equal(t, "connections", must[[]projections.Conn](t)(p.OpenConnections(ctx)), []projections.Conn{
				{UserID: alice, ConnID: "a2", NodeID: "n2", OpenedAt: at(11)},
			})
			members := must[[]projections.Member](t)(p.Members(ctx, general))
			if len(members) != 2 || !members[0].User.Online || members[1].User.Online {
				t.Errorf("members: %+v", members)
			}
		},
	},
	{
		name: "unknown types and streams are skipped",
		log: func(l *logBuilder) {
			l.signUp("alice").group()
			l.raw(domain.RoomStream(general), "RoomArchived", []byte(`{}`))
			l.add("other-1", domain.RoomRenamed{Name: "Hacked", By: alice, At: at(5)})
			l.raw("other-2", "Whatever", []byte(`not json`))
		},
		check: func(t *testing.T, p *projections.Projections) {
			r := must[projections.RoomInfo](t)(p.Room(ctx, general))
			if r.Name != "General" || r.LastSeq != 1 {
				t.Errorf("room: %+v", r)
			}
			equal(t, "checkpoint", must[eventstore.Position](t)(p.Checkpoint(ctx)), eventstore.Position{Commit: 5, Prepare: 5})
		},
	},
}

// TestApply applies each log through Apply, checks the queries, and checks
// that applying it again, whole or in part, changes nothing.
func TestApply(t *testing.T) {
	for _, tt := range applyTests {
		t.Run(tt.name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, b *backend) {
				l := newLog(t)
				tt.log(l)
				p := b.open(t)
				if err := p.Apply(ctx, l.events); err != nil {
					t.Fatal(err)
				}
				last := l.events[len(l.events)-1].Position
				equal(t, "checkpoint", must[eventstore.Position](t)(p.Checkpoint(ctx)), last)
				tt.check(t, p)

				before := must[map[string][]string](t)(p.Dump(ctx))
				if err := p.Apply(ctx, l.events); err != nil {
					t.Fatal(err)
				}
				equal(t, "dump after applying again", must[map[string][]string](t)(p.Dump(ctx)), before)
				// A stale batch, as a redelivery brings it, then the tail.
				if err := p.Apply(ctx, l.events[:len(l.events)/2]); err != nil {
					t.Fatal(err)
				}
				equal(t, "dump after applying the first half again", must[map[string][]string](t)(p.Dump(ctx)), before)
				if err := p.Apply(ctx, l.events[len(l.events)/2:]); err != nil {
					t.Fatal(err)
				}
				equal(t, "dump after applying the tail again", must[map[string][]string](t)(p.Dump(ctx)), before)
				equal(t, "checkpoint after applying again", must[eventstore.Position](t)(p.Checkpoint(ctx)), last)
				tt.check(t, p)

				// Batches do not matter: one event at a time, the log gives
				// the same rows.
				one := b.fresh(t).open(t)
				for i := range l.events {
					if err := one.Apply(ctx, l.events[i:i+1]); err != nil {
						t.Fatal(err)
					}
				}
				equal(t, "dump applied one by one", must[map[string][]string](t)(one.Dump(ctx)), before)
			})
		})
	}
}

// TestEventTimeOfEveryType checks that EventTime knows every event type
// domain registers: an event's At, not when it was recorded.
func TestEventTimeOfEveryType(t *testing.T) {
	at, recorded := time.Date(2025, 6, 1, 9, 30, 0, 0, time.UTC), time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC)
	for _, typ := range domain.EventTypes() {
		ev, err := domain.Decode(typ, []byte(`{"at":"`+at.Format(time.RFC3339)+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		if got := projections.EventTime(ev, recorded); !got.Equal(at) {
			t.Errorf("EventTime of a %s at %v: %v", typ, at, got)
		}
	}
}
