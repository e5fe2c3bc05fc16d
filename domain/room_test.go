package domain

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The people of the test rooms.
var (
	owner    = UserIDFor("olive")
	admin    = UserIDFor("adam")
	admin2   = UserIDFor("ada")
	member   = UserIDFor("mia")
	member2  = UserIDFor("max")
	stranger = UserIDFor("sam")    // never a member
	bandit   = UserIDFor("bandit") // banned from the group room
	dana     = UserIDFor("dana")   // dana and dave share a DM room
	dave     = UserIDFor("dave")
)

// Messages of the group room, by sequence number.
const (
	msgMember  = 8  // posted by member
	msgOwner   = 9  // posted by owner
	msgDeleted = 10 // posted by member, deleted
)

// group returns the events of a group room "general" with invite code
// "code1": an owner, two admins, two members, three messages (one deleted)
// and a banned user.
func group() []Event {
	return []Event{
		RoomCreated{RoomID: "g", Kind: KindGroup, Name: "general", OwnerID: owner, Members: []UserID{owner}, InviteCode: "code1"},
		MemberJoined{UserID: admin},
		MemberRoleChanged{UserID: admin, Role: RoleAdmin, By: owner},
		MemberJoined{UserID: admin2},
		MemberRoleChanged{UserID: admin2, Role: RoleAdmin, By: owner},
		MemberJoined{UserID: member},
		MemberJoined{UserID: member2},
		MessagePosted{SenderID: member, ClientMsgID: "m1", Text: "hello"},  // 8
		MessagePosted{SenderID: owner, ClientMsgID: "o1", Text: "welcome"}, // 9
		MessagePosted{SenderID: member, ClientMsgID: "m2", Text: "oops"},   // 10
		MessageDeleted{Seq: msgDeleted, By: member},                        // 11
		MemberBanned{UserID: bandit, By: owner},                            // 12
	}
}

// dmMembers are dana and dave, sorted.
var dmMembers = func() []UserID { m := []UserID{dana, dave}; slices.Sort(m); return m }()

// dm returns the events of dana's and dave's DM room, with a message of
// dana's at sequence number 2.
func dm() []Event {
	return []Event{
		RoomCreated{RoomID: DMRoomID(dana, dave), Kind: KindDM, Members: dmMembers},
		MessagePosted{SenderID: dana, ClientMsgID: "d1", Text: "hi"},
	}
}

// roomOf returns the room built from events with sequence numbers 1, 2, ...
func roomOf(events ...Event) *Room {
	return apply(new(Room), events...)
}

// apply applies events to r with the sequence numbers that follow r's.
func apply(r *Room, events ...Event) *Room {
	for _, e := range events {
		r.Apply(r.Seq+1, e)
	}
	return r
}

type roomTest struct {
	name  string
	given []Event // the room's stream
	do    func(r *Room) ([]Event, error)
	want  []Event
	kind  Kind // of the error; noError if none
}

// runRoomTests runs each test's decision on the room built from its events
// and checks the result, and that deciding changed nothing.
func runRoomTests(t *testing.T, tests []roomTest) {
	t.Helper()
	for _, tt := range tests {
		before, r := roomOf(tt.given...), roomOf(tt.given...)
		got, err := tt.do(r)
		checkDecision(t, tt.name, got, err, tt.want, tt.kind)
		if !reflect.DeepEqual(r, before) {
			t.Errorf("%s: the decision changed the room", tt.name)
		}
	}
}

// with returns events followed by more.
func with(events []Event, more ...Event) []Event { return slices.Concat(events, more) }

func TestCreateRoom(t *testing.T) {
	runRoomTests(t, []roomTest{
		{"create", nil,
			func(r *Room) ([]Event, error) { return r.CreateRoom("g", owner, "  general ", "code1", now) },
			[]Event{RoomCreated{RoomID: "g", Kind: KindGroup, Name: "general", OwnerID: owner, Members: []UserID{owner}, InviteCode: "code1", At: now}}, noError},
		{"create existing", group(),
			func(r *Room) ([]Event, error) { return r.CreateRoom("g", owner, "general", "code1", now) },
			nil, KindConflict},
		{"create nameless", nil,
			func(r *Room) ([]Event, error) { return r.CreateRoom("g", owner, " ", "code1", now) },
			nil, KindInvalid},
		{"create with control character", nil,
			func(r *Room) ([]Event, error) { return r.CreateRoom("g", owner, "gen\x00eral", "code1", now) },
			nil, KindInvalid},
	})
}

func TestOpenDM(t *testing.T) {
	created := []Event{RoomCreated{RoomID: DMRoomID(dana, dave), Kind: KindDM, Members: dmMembers, At: now}}
	runRoomTests(t, []roomTest{
		{"open", nil,
			func(r *Room) ([]Event, error) { return r.OpenDM(dana, dave, now) },
			created, noError},
		{"open the other way round", nil,
			func(r *Room) ([]Event, error) { return r.OpenDM(dave, dana, now) },
			created, noError},
		{"open again", dm(),
			func(r *Room) ([]Event, error) { return r.OpenDM(dana, dave, now) },
			nil, noError},
		{"open again the other way round", dm(),
			func(r *Room) ([]Event, error) { return r.OpenDM(dave, dana, now) },
			nil, noError},
		{"open with yourself", nil,
			func(r *Room) ([]Event, error) { return r.OpenDM(dana, dana, now) },
			nil, KindInvalid},
	})
	if !slices.IsSorted(dmMembers) || len(dmMembers) != 2 {
		t.Errorf("dmMembers = %v", dmMembers)
	}
}

func TestJoin(t *testing.T) {
	join := func(user UserID, code string) func(r *Room) ([]Event, error) {
		return func(r *Room) ([]Event, error) { return r.Join(user, code, now) }
	}
	joined := func(user UserID) []Event { return []Event{MemberJoined{UserID: user, At: now}} }
	rotated := with(group(), InviteCodeRotated{InviteCode: "code2", By: owner})
	runRoomTests(t, []roomTest{
		{"join", group(), join(stranger, "code1"), joined(stranger), noError},
		{"join with wrong code", group(), join(stranger, "code2"), nil, KindNotFound},
		{"join with code's prefix", group(), join(stranger, "code"), nil, KindNotFound},
		{"join without code", group(), join(stranger, ""), nil, KindNotFound},
		{"join with old code", rotated, join(stranger, "code1"), nil, KindNotFound},
		{"join with new code", rotated, join(stranger, "code2"), joined(stranger), noError},
		{"join banned", group(), join(bandit, "code1"), nil, KindForbidden},
		{"join banned with wrong code", group(), join(bandit, "code2"), nil, KindNotFound},
		{"join unbanned", with(group(), MemberUnbanned{UserID: bandit, By: owner}), join(bandit, "code1"), joined(bandit), noError},
		{"join twice", group(), join(member, "code1"), nil, noError},
		{"join own room", group(), join(owner, "code1"), nil, noError},
		{"join after kick", with(group(), MemberKicked{UserID: member, By: owner}), join(member, "code1"), joined(member), noError},
		{"join after leaving", with(group(), MemberLeft{UserID: member}), join(member, "code1"), joined(member), noError},
		{"join DM", dm(), join(stranger, ""), nil, KindNotFound},
		{"join no room", nil, join(stranger, ""), nil, KindNotFound},
	})
}

func TestLeave(t *testing.T) {
	leave := func(user UserID) func(r *Room) ([]Event, error) {
		return func(r *Room) ([]Event, error) { return r.Leave(user, now) }
	}
	runRoomTests(t, []roomTest{
		{"member leaves", group(), leave(member), []Event{MemberLeft{UserID: member, At: now}}, noError},
		{"admin leaves", group(), leave(admin), []Event{MemberLeft{UserID: admin, At: now}}, noError},
		{"owner leaves", group(), leave(owner), nil, KindConflict},
		{"stranger leaves", group(), leave(stranger), nil, KindNotFound},
		{"banned leaves", group(), leave(bandit), nil, KindNotFound},
		{"leave twice", with(group(), MemberLeft{UserID: member}), leave(member), nil, KindNotFound},
		{"leave DM", dm(), leave(dana), nil, KindInvalid},
		{"leave no room", nil, leave(member), nil, KindNotFound},
	})
}

// TestModeration is the permission matrix of kick, ban, unban and set role.
func TestModeration(t *testing.T) {
	who := map[UserID]string{owner: "owner", admin: "admin", admin2: "admin2", member: "member", member2: "member2",
		stranger: "stranger", bandit: "bandit", dana: "dana", dave: "dave"}
	type op struct {
		do    func(r *Room, actor, target UserID) ([]Event, error)
		event func(actor, target UserID) Event // the event when allowed
	}
	setRole := func(role Role) op {
		return op{
			func(r *Room, a, t UserID) ([]Event, error) { return r.SetRole(a, t, role, now) },
			func(a, t UserID) Event { return MemberRoleChanged{UserID: t, Role: role, By: a, At: now} },
		}
	}
	ops := map[string]op{
		"kick": {
			func(r *Room, a, t UserID) ([]Event, error) { return r.Kick(a, t, now) },
			func(a, t UserID) Event { return MemberKicked{UserID: t, By: a, At: now} },
		},
		"ban": {
			func(r *Room, a, t UserID) ([]Event, error) { return r.Ban(a, t, now) },
			func(a, t UserID) Event { return MemberBanned{UserID: t, By: a, At: now} },
		},
		"unban": {
			func(r *Room, a, t UserID) ([]Event, error) { return r.Unban(a, t, now) },
			func(a, t UserID) Event { return MemberUnbanned{UserID: t, By: a, At: now} },
		},
		"make admin":  setRole(RoleAdmin),
		"make member": setRole(RoleMember),
		"make owner":  setRole(RoleOwner),
		"make boss":   setRole("boss"),
	}

	tests := []struct {
		op            string
		actor, target UserID
		want          string // "ok", "none" (no events) or the error kind
	}{
		{"kick", owner, owner, "forbidden"},
		{"kick", owner, admin, "ok"},
		{"kick", owner, member, "ok"},
		{"kick", owner, stranger, "not_found"},
		{"kick", admin, owner, "forbidden"},
		{"kick", admin, admin, "forbidden"},
		{"kick", admin, admin2, "forbidden"},
		{"kick", admin, member, "ok"},
		{"kick", admin, stranger, "not_found"},
		{"kick", member, owner, "forbidden"},
		{"kick", member, admin, "forbidden"},
		{"kick", member, member, "forbidden"},
		{"kick", member, member2, "forbidden"},
		{"kick", member, stranger, "not_found"},
		{"kick", stranger, member, "not_found"},
		{"kick", bandit, member, "not_found"},

		{"ban", owner, owner, "forbidden"},
		{"ban", owner, admin, "ok"},
		{"ban", owner, member, "ok"},
		{"ban", owner, stranger, "ok"},
		{"ban", owner, bandit, "none"},
		{"ban", admin, owner, "forbidden"},
		{"ban", admin, admin, "forbidden"},
		{"ban", admin, admin2, "forbidden"},
		{"ban", admin, member, "ok"},
		{"ban", admin, stranger, "ok"},
		{"ban", admin, bandit, "none"},
		{"ban", member, owner, "forbidden"},
		{"ban", member, admin, "forbidden"},
		{"ban", member, member2, "forbidden"},
		{"ban", member, stranger, "forbidden"},
		{"ban", stranger, member, "not_found"},

		{"unban", owner, bandit, "ok"},
		{"unban", admin, bandit, "ok"},
		{"unban", owner, stranger, "none"},
		{"unban", owner, member, "none"},
		{"unban", member, bandit, "forbidden"},
		{"unban", stranger, bandit, "not_found"},
		{"unban", bandit, bandit, "not_found"},

		{"make admin", owner, member, "ok"},
		{"make admin", owner, admin, "none"},
		{"make member", owner, admin, "ok"},
		{"make member", owner, member, "none"},
		{"make admin", owner, owner, "conflict"},
		{"make member", owner, owner, "conflict"},
		{"make admin", owner, stranger, "not_found"},
		{"make admin", owner, bandit, "not_found"},
		{"make owner", owner, member, "invalid"},
		{"make boss", owner, member, "invalid"},
		{"make admin", admin, member, "forbidden"},
		{"make member", admin, admin2, "forbidden"},
		{"make member", admin, admin, "forbidden"},
		{"make admin", member, member, "forbidden"},
		{"make admin", member, member2, "forbidden"},
		{"make admin", stranger, member, "not_found"},
	}
	outcome := func(evs []Event, err error) string {
		switch {
		case err != nil:
			return KindOf(err).String()
		case len(evs) == 0:
			return "none"
		}
		return "ok"
	}
	for _, tt := range tests {
		r := roomOf(group()...)
		evs, err := ops[tt.op].do(r, tt.actor, tt.target)
		if got := outcome(evs, err); got != tt.want {
			t.Errorf("%s %s %s: %s (%v %v), want %s", who[tt.actor], tt.op, who[tt.target], got, evs, err, tt.want)
			continue
		}
		if want := []Event{ops[tt.op].event(tt.actor, tt.target)}; tt.want == "ok" && !reflect.DeepEqual(evs, want) {
			t.Errorf("%s %s %s:\n got %#v\nwant %#v", who[tt.actor], tt.op, who[tt.target], evs, want)
		}
	}
	// In a DM room, no one moderates.
	for _, op := range []string{"kick", "ban", "make admin", "make member"} {
		evs, err := ops[op].do(roomOf(dm()...), dana, dave)
		if got := outcome(evs, err); got != "invalid" {
			t.Errorf("DM: dana %s dave: %s (%v %v), want invalid", op, got, evs, err)
		}
	}
}

func TestRename(t *testing.T) {
	rename := func(actor UserID, name string) func(r *Room) ([]Event, error) {
		return func(r *Room) ([]Event, error) { return r.Rename(actor, name, now) }
	}
	runRoomTests(t, []roomTest{
		{"owner renames", group(), rename(owner, "random"), []Event{RoomRenamed{Name: "random", By: owner, At: now}}, noError},
		{"admin renames", group(), rename(admin, " random "), []Event{RoomRenamed{Name: "random", By: admin, At: now}}, noError},
		{"member renames", group(), rename(member, "random"), nil, KindForbidden},
		{"member renames badly", group(), rename(member, ""), nil, KindForbidden},
		{"stranger renames", group(), rename(stranger, "random"), nil, KindNotFound},
		{"rename to same name", group(), rename(owner, " general "), nil, noError},
		{"rename to nothing", group(), rename(owner, "  "), nil, KindInvalid},
		{"rename too long", group(), rename(owner, strings.Repeat("x", 101)), nil, KindInvalid},
		{"rename DM", dm(), rename(dana, "us"), nil, KindInvalid},
	})
}

func TestRotateInvite(t *testing.T) {
	rotate := func(actor UserID) func(r *Room) ([]Event, error) {
		return func(r *Room) ([]Event, error) { return r.RotateInvite(actor, "code2", now) }
	}
	runRoomTests(t, []roomTest{
		{"owner rotates", group(), rotate(owner), []Event{InviteCodeRotated{InviteCode: "code2", By: owner, At: now}}, noError},
		{"admin rotates", group(), rotate(admin), nil, KindForbidden},
		{"member rotates", group(), rotate(member), nil, KindForbidden},
		{"stranger rotates", group(), rotate(stranger), nil, KindNotFound},
		{"rotate in DM", dm(), rotate(dana), nil, KindInvalid},
	})
}

func TestPost(t *testing.T) {
	post := func(sender UserID, clientMsgID, text string, replyTo uint64, mentioned ...UserID) func(r *Room) ([]Event, error) {
		return func(r *Room) ([]Event, error) { return r.Post(sender, clientMsgID, text, replyTo, mentioned, now) }
	}
	posted := func(sender UserID, text string, replyTo uint64, mentions ...UserID) []Event {
		return []Event{MessagePosted{SenderID: sender, ClientMsgID: "c1", Text: text, ReplyTo: replyTo, Mentions: mentions, At: now}}
	}
	runRoomTests(t, []roomTest{
		{"post", group(), post(member, "c1", "hi", 0), posted(member, "hi", 0), noError},
		{"post mentioning members", group(),
			post(member, "c1", "hi all", 0, member2, owner, member2, admin, owner),
			posted(member, "hi all", 0, member2, owner, admin), noError},
		{"post mentioning non-members", group(),
			post(member, "c1", "hi all", 0, stranger, owner, bandit, stranger),
			posted(member, "hi all", 0, owner), noError},
		{"post mentioning only non-members", group(),
			post(member, "c1", "hi", 0, stranger, bandit),
			posted(member, "hi", 0), noError},
		{"post reply", group(), post(member2, "c1", "yes", msgMember), posted(member2, "yes", msgMember), noError},
		{"post reply to owner", group(), post(member2, "c1", "yes", msgOwner), posted(member2, "yes", msgOwner), noError},
		{"post reply to room's creation", group(), post(member, "c1", "yes", 1), nil, KindInvalid},
		{"post reply to future", group(), post(member, "c1", "yes", 13), nil, KindInvalid},
		{"post reply to unknown", group(), post(member, "c1", "yes", 999), nil, KindInvalid},
		{"post as stranger", group(), post(stranger, "c1", "hi", 0), nil, KindNotFound},
		{"post as banned", group(), post(bandit, "c1", "hi", 0), nil, KindNotFound},
		{"post after kick", with(group(), MemberKicked{UserID: member, By: owner}), post(member, "c1", "hi", 0), nil, KindNotFound},
		{"post to no room", nil, post(member, "c1", "hi", 0), nil, KindNotFound},
		{"post blank", group(), post(member, "c1", " \n ", 0), nil, KindInvalid},
		{"post too long", group(), post(member, "c1", strings.Repeat("x", 4001), 0), nil, KindInvalid},
		{"post NUL", group(), post(member, "c1", "a\x00", 0), nil, KindInvalid},
		{"post invalid UTF-8", group(), post(member, "c1", "a\xff", 0), nil, KindInvalid},
		{"post without client ID", group(), post(member, "", "hi", 0), nil, KindInvalid},
		{"post with spaced client ID", group(), post(member, "c 1", "hi", 0), nil, KindInvalid},
		{"post in DM", dm(), post(dave, "c1", "hi @dana", 2, dana), posted(dave, "hi @dana", 2, dana), noError},
		{"post in DM as stranger", dm(), post(stranger, "c1", "hi", 0), nil, KindNotFound},
	})
}

func TestEdit(t *testing.T) {
	edit := func(actor UserID, seq uint64, text string, mentioned ...UserID) func(r *Room) ([]Event, error) {
		return func(r *Room) ([]Event, error) { return r.Edit(actor, seq, text, mentioned, now) }
	}
	runRoomTests(t, []roomTest{
		{"edit own", group(), edit(member, msgMember, "hello @olive", owner, stranger, owner),
			[]Event{MessageEdited{Seq: msgMember, Text: "hello @olive", Mentions: []UserID{owner}, By: member, At: now}}, noError},
		{"edit own, no mentions", group(), edit(owner, msgOwner, "welcome!"),
			[]Event{MessageEdited{Seq: msgOwner, Text: "welcome!", By: owner, At: now}}, noError},
		{"edit other's", group(), edit(member2, msgMember, "mine"), nil, KindForbidden},
		{"owner edits member's", group(), edit(owner, msgMember, "mine"), nil, KindForbidden},
		{"admin edits member's", group(), edit(admin, msgMember, "mine"), nil, KindForbidden},
		{"edit deleted", group(), edit(member, msgDeleted, "back"), nil, KindNotFound},
		{"edit unknown", group(), edit(member, 999, "hi"), nil, KindNotFound},
		{"edit room's creation", group(), edit(owner, 1, "hi"), nil, KindNotFound},
		{"edit blank", group(), edit(member, msgMember, " "), nil, KindInvalid},
		{"edit too long", group(), edit(member, msgMember, strings.Repeat("é", 4001)), nil, KindInvalid},
		{"edit as stranger", group(), edit(stranger, msgMember, "hi"), nil, KindNotFound},
		{"edit own after leaving", with(group(), MemberLeft{UserID: member}), edit(member, msgMember, "hi"), nil, KindNotFound},
		{"edit own in DM", dm(), edit(dana, 2, "hello"), []Event{MessageEdited{Seq: 2, Text: "hello", By: dana, At: now}}, noError},
		{"edit other's in DM", dm(), edit(dave, 2, "hello"), nil, KindForbidden},
	})
}

func TestDelete(t *testing.T) {
	del := func(actor UserID, seq uint64) func(r *Room) ([]Event, error) {
		return func(r *Room) ([]Event, error) { return r.Delete(actor, seq, now) }
	}
	deleted := func(seq uint64, by UserID) []Event { return []Event{MessageDeleted{Seq: seq, By: by, At: now}} }
	runRoomTests(t, []roomTest{
		{"delete own", group(), del(member, msgMember), deleted(msgMember, member), noError},
		{"owner deletes member's", group(), del(owner, msgMember), deleted(msgMember, owner), noError},
		{"admin deletes member's", group(), del(admin, msgMember), deleted(msgMember, admin), noError},
		{"admin deletes owner's", group(), del(admin, msgOwner), deleted(msgOwner, admin), noError},
		{"member deletes other's", group(), del(member2, msgMember), nil, KindForbidden},
		{"member deletes owner's", group(), del(member, msgOwner), nil, KindForbidden},
		{"demoted admin deletes other's", with(group(), MemberRoleChanged{UserID: admin, Role: RoleMember, By: owner}),
			del(admin, msgMember), nil, KindForbidden},
		{"stranger deletes", group(), del(stranger, msgMember), nil, KindNotFound},
		{"delete deleted", group(), del(member, msgDeleted), nil, noError},
		{"owner deletes deleted", group(), del(owner, msgDeleted), nil, noError},
		{"delete unknown", group(), del(owner, 999), nil, KindNotFound},
		{"delete room's creation", group(), del(owner, 1), nil, KindNotFound},
		{"delete own in DM", dm(), del(dana, 2), deleted(2, dana), noError},
		{"delete other's in DM", dm(), del(dave, 2), nil, KindForbidden},
	})
}

func TestReact(t *testing.T) {
	react := func(actor UserID, seq uint64, emoji string, add bool) func(r *Room) ([]Event, error) {
		return func(r *Room) ([]Event, error) { return r.React(actor, seq, emoji, add, now) }
	}
	added := func(seq uint64, emoji string, user UserID) []Event {
		return []Event{ReactionAdded{Seq: seq, Emoji: emoji, UserID: user, At: now}}
	}
	thumbs := with(group(), ReactionAdded{Seq: msgMember, Emoji: "👍", UserID: member2})
	runRoomTests(t, []roomTest{
		{"react", group(), react(member2, msgMember, "👍", true), added(msgMember, "👍", member2), noError},
		{"react to own", group(), react(member, msgMember, "👍", true), added(msgMember, "👍", member), noError},
		{"react again", thumbs, react(member2, msgMember, "👍", true), nil, noError},
		{"react like another", thumbs, react(member, msgMember, "👍", true), added(msgMember, "👍", member), noError},
		{"react differently", thumbs, react(member2, msgMember, "🎉", true), added(msgMember, "🎉", member2), noError},
		{"react to another message", thumbs, react(member2, msgOwner, "👍", true), added(msgOwner, "👍", member2), noError},
		{"unreact", thumbs, react(member2, msgMember, "👍", false),
			[]Event{ReactionRemoved{Seq: msgMember, Emoji: "👍", UserID: member2, At: now}}, noError},
		{"unreact another's", thumbs, react(member, msgMember, "👍", false), nil, noError},
		{"unreact absent", group(), react(member2, msgMember, "👍", false), nil, noError},
		{"unreact twice", with(thumbs, ReactionRemoved{Seq: msgMember, Emoji: "👍", UserID: member2}),
			react(member2, msgMember, "👍", false), nil, noError},
		{"react to deleted", group(), react(member2, msgDeleted, "👍", true), nil, KindNotFound},
		{"unreact on deleted", with(thumbs, MessageDeleted{Seq: msgMember, By: member}),
			react(member2, msgMember, "👍", false), nil, KindNotFound},
		{"react to unknown", group(), react(member2, 999, "👍", true), nil, KindNotFound},
		{"react to room's creation", group(), react(member2, 1, "👍", true), nil, KindNotFound},
		{"react with nothing", group(), react(member2, msgMember, "", true), nil, KindInvalid},
		{"react with spaces", group(), react(member2, msgMember, "a b", true), nil, KindInvalid},
		{"react with a word", group(), react(member2, msgMember, "ok", true), nil, KindInvalid},
		{"react with a shortcode", group(), react(member2, msgMember, ":+1:", true), nil, KindInvalid},
		{"react with a skin tone", group(), react(member2, msgMember, "👍🏾", true), added(msgMember, "👍🏾", member2), noError},
		{"react with a flag", group(), react(member2, msgMember, "🇯🇵", true), added(msgMember, "🇯🇵", member2), noError},
		{"react with a keycap", group(), react(member2, msgMember, "7️⃣", true), added(msgMember, "7️⃣", member2), noError},
		{"react with a ZWJ sequence", group(), react(member2, msgMember, "🧑‍🚀", true), added(msgMember, "🧑‍🚀", member2), noError},
		{"unreact an old non-emoji reaction", with(group(), ReactionAdded{Seq: msgMember, Emoji: "+1", UserID: member2}),
			react(member2, msgMember, "+1", false), []Event{ReactionRemoved{Seq: msgMember, Emoji: "+1", UserID: member2, At: now}}, noError},
		{"unreact a non-emoji one never added", group(), react(member2, msgMember, "+1", false), nil, KindInvalid},
		{"react as stranger", group(), react(stranger, msgMember, "👍", true), nil, KindNotFound},
		{"react in DM", dm(), react(dave, 2, "👍", true), added(2, "👍", dave), noError},
	})
}

func TestRoomApply(t *testing.T) {
	r := roomOf(with(group(),
		ReactionAdded{Seq: msgMember, Emoji: "👍", UserID: member},    // 13
		ReactionAdded{Seq: msgMember, Emoji: "👍", UserID: member2},   // 14
		ReactionAdded{Seq: msgMember, Emoji: "🎉", UserID: member},    // 15
		ReactionRemoved{Seq: msgMember, Emoji: "🎉", UserID: member},  // 16
		ReactionAdded{Seq: msgOwner, Emoji: "👍", UserID: member},     // 17
		MessageDeleted{Seq: msgOwner, By: owner},                     // 18
		MemberKicked{UserID: member2, By: owner},                     // 19
		MemberLeft{UserID: admin2},                                   // 20
		MemberBanned{UserID: stranger, By: admin},                    // 21
		MemberUnbanned{UserID: bandit, By: owner},                    // 22
		RoomRenamed{Name: "random", By: admin},                       // 23
		InviteCodeRotated{InviteCode: "code2", By: owner},            // 24
		MessagePosted{SenderID: admin, ClientMsgID: "a1", Text: "x"}, // 25
		ReactionAdded{Seq: 999, Emoji: "👍", UserID: member},          // 26: no such message
		UserSignedUp{Username: "not a room event"},                   // 27
	)...)
	want := &Room{
		ID: "g", Kind: KindGroup, Name: "random", Owner: owner, InviteCode: "code2", Exists: true, Seq: 27,
		Members: map[UserID]Role{owner: RoleOwner, admin: RoleAdmin, member: RoleMember},
		Banned:  map[UserID]bool{stranger: true},
		Messages: map[uint64]*MessageState{
			msgMember:  {Sender: member, Reactions: map[string]map[UserID]bool{"👍": {member: true, member2: true}}},
			msgOwner:   {Sender: owner, Deleted: true},
			msgDeleted: {Sender: member, Deleted: true},
			25:         {Sender: admin},
		},
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("room:\n got %+v\nwant %+v", r, want)
		for seq, m := range r.Messages {
			t.Logf("message %d: %+v", seq, m)
		}
	}

	d := roomOf(dm()...)
	wantDM := &Room{
		ID: DMRoomID(dana, dave), Kind: KindDM, Exists: true, Seq: 2,
		Members:  map[UserID]Role{dana: RoleMember, dave: RoleMember},
		Banned:   map[UserID]bool{},
		Messages: map[uint64]*MessageState{2: {Sender: dana}},
	}
	if !reflect.DeepEqual(d, wantDM) {
		t.Errorf("DM room:\n got %+v\nwant %+v", d, wantDM)
	}
}

// TestRoomStory decides and applies in turn, as the command layer does:
// the events of each step are applied before the next.
func TestRoomStory(t *testing.T) {
	r := new(Room)
	steps := []struct {
		name   string
		do     func() ([]Event, error)
		events int  // how many events the step returns
		kind   Kind // of the error; noError if none
	}{
		{"create", func() ([]Event, error) { return r.CreateRoom("g", owner, "general", "code1", now) }, 1, noError},
		{"create again", func() ([]Event, error) { return r.CreateRoom("g", owner, "general", "code1", now) }, 0, KindConflict},
		{"join", func() ([]Event, error) { return r.Join(member, "code1", now) }, 1, noError},
		{"join again", func() ([]Event, error) { return r.Join(member, "code1", now) }, 0, noError},
		{"promote", func() ([]Event, error) { return r.SetRole(owner, member, RoleAdmin, now) }, 1, noError},
		{"promote again", func() ([]Event, error) { return r.SetRole(owner, member, RoleAdmin, now) }, 0, noError},
		{"rotate", func() ([]Event, error) { return r.RotateInvite(owner, "code2", now) }, 1, noError},
		{"join with old code", func() ([]Event, error) { return r.Join(member2, "code1", now) }, 0, KindNotFound},
		{"join with new code", func() ([]Event, error) { return r.Join(member2, "code2", now) }, 1, noError},
		{"post", func() ([]Event, error) { return r.Post(member2, "c1", "hi @mia", 0, []UserID{member}, now) }, 1, noError}, // seq 6
		{"reply", func() ([]Event, error) { return r.Post(owner, "c2", "hi", 6, nil, now) }, 1, noError},
		{"react", func() ([]Event, error) { return r.React(member, 6, "👍", true, now) }, 1, noError},
		{"react again", func() ([]Event, error) { return r.React(member, 6, "👍", true, now) }, 0, noError},
		{"unreact", func() ([]Event, error) { return r.React(member, 6, "👍", false, now) }, 1, noError},
		{"unreact again", func() ([]Event, error) { return r.React(member, 6, "👍", false, now) }, 0, noError},
		{"admin deletes", func() ([]Event, error) { return r.Delete(member, 6, now) }, 1, noError},
		{"delete again", func() ([]Event, error) { return r.Delete(member2, 6, now) }, 0, noError},
		{"react to deleted", func() ([]Event, error) { return r.React(member, 6, "👍", true, now) }, 0, KindNotFound},
		{"ban", func() ([]Event, error) { return r.Ban(member, member2, now) }, 1, noError},
		{"ban again", func() ([]Event, error) { return r.Ban(member, member2, now) }, 0, noError},
		{"banned joins", func() ([]Event, error) { return r.Join(member2, "code2", now) }, 0, KindForbidden},
		{"unban", func() ([]Event, error) { return r.Unban(owner, member2, now) }, 1, noError},
		{"unban again", func() ([]Event, error) { return r.Unban(owner, member2, now) }, 0, noError},
		{"unbanned joins", func() ([]Event, error) { return r.Join(member2, "code2", now) }, 1, noError},
		{"kick", func() ([]Event, error) { return r.Kick(owner, member2, now) }, 1, noError},
		{"kick again", func() ([]Event, error) { return r.Kick(owner, member2, now) }, 0, KindNotFound},
		{"leave", func() ([]Event, error) { return r.Leave(member, now) }, 1, noError},
		{"leave again", func() ([]Event, error) { return r.Leave(member, now) }, 0, KindNotFound},
		{"owner leaves", func() ([]Event, error) { return r.Leave(owner, now) }, 0, KindConflict},
	}
	for _, s := range steps {
		evs, err := s.do()
		if len(evs) != s.events || (err == nil) != (s.kind == noError) || err != nil && KindOf(err) != s.kind {
			t.Fatalf("%s: %v, %v; want %d events, error kind %v", s.name, evs, err, s.events, s.kind)
		}
		apply(r, evs...)
	}
	if got, want := r.Seq, uint64(15); got != want {
		t.Errorf("Seq = %d, want %d", got, want)
	}
	if want := map[UserID]Role{owner: RoleOwner}; !reflect.DeepEqual(r.Members, want) {
		t.Errorf("Members = %v, want %v", r.Members, want)
	}
}
