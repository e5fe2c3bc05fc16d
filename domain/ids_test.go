package domain

import (
	"regexp"
	"testing"
)

// uuidV5 matches a canonical, lower-case RFC 9562 version 5 UUID.
var uuidV5 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNameUUID(t *testing.T) {
	// RFC 9562 appendix A.4: "www.example.com" in the DNS namespace.
	dns := [16]byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	if got, want := FormatUUID(NameUUID(dns, "www.example.com")), "2ed6657d-e927-568b-95e1-2665a8aea6a2"; got != want {
		t.Errorf("NameUUID(DNS, www.example.com) = %s, want %s", got, want)
	}
}

func TestFormatUUID(t *testing.T) {
	tests := []struct {
		u    [16]byte
		want string
	}{
		{[16]byte{}, "00000000-0000-0000-0000-000000000000"},
		{[16]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, "00010203-0405-0607-0809-0a0b0c0d0e0f"},
		{[16]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "ffffffff-ffff-ffff-ffff-ffffffffffff"},
	}
	for _, tt := range tests {
		if got := FormatUUID(tt.u); got != tt.want {
			t.Errorf("FormatUUID(%x) = %s, want %s", tt.u, got, tt.want)
		}
	}
}

func TestUserIDFor(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{"alice", "alice", true},
		{"alice", "ALICE", true},
		{"Alice", "aLiCe", true},
		{"bob.smith-2_x", "BOB.SMITH-2_X", true},
		{"alice", "alice2", false},
		{"alice", "alicf", false},
		{"a.b", "a-b", false},
		{"a.b", "a_b", false},
		{"alice", "bob", false},
	}
	for _, tt := range tests {
		a, b := UserIDFor(tt.a), UserIDFor(tt.b)
		if (a == b) != tt.same {
			t.Errorf("UserIDFor(%q) = %s, UserIDFor(%q) = %s: same = %t, want %t", tt.a, a, tt.b, b, a == b, tt.same)
		}
		for _, id := range []UserID{a, b} {
			if !uuidV5.MatchString(string(id)) {
				t.Errorf("UserIDFor: %q is not a canonical version 5 UUID", id)
			}
		}
	}
}

// IDs name streams in the store: if they ever change, every account and
// room written before is lost. These values were computed independently
// (Python's uuid.uuid5 with the package's namespaces).
func TestIDsAreStable(t *testing.T) {
	alice, bob := UserIDFor("alice"), UserIDFor("Bob")
	tests := []struct {
		name      string
		got, want string
	}{
		{"UserIDFor(alice)", string(alice), "791a6f79-854f-5b97-ac59-70eb56d46234"},
		{"UserIDFor(Bob)", string(bob), "948a1b32-a7ca-54e5-a6ea-854cc0e36223"},
		{"DMRoomID(alice, Bob)", string(DMRoomID(alice, bob)), "e44f5f17-805b-579a-8376-143994452dba"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %s, want %s", tt.name, tt.got, tt.want)
		}
	}
}

func TestDMRoomID(t *testing.T) {
	a, b, c := UserIDFor("alice"), UserIDFor("bob"), UserIDFor("carol")
	if DMRoomID(a, b) != DMRoomID(b, a) {
		t.Errorf("DMRoomID(a, b) = %s, DMRoomID(b, a) = %s; want the same", DMRoomID(a, b), DMRoomID(b, a))
	}
	ids := map[RoomID]string{}
	for _, p := range []struct {
		name string
		x, y UserID
	}{{"a,b", a, b}, {"a,c", a, c}, {"b,c", b, c}, {"a,a", a, a}} {
		id := DMRoomID(p.x, p.y)
		if !uuidV5.MatchString(string(id)) {
			t.Errorf("DMRoomID(%s) = %q, not a canonical version 5 UUID", p.name, id)
		}
		if prev, dup := ids[id]; dup {
			t.Errorf("DMRoomID(%s) = DMRoomID(%s) = %s", p.name, prev, id)
		}
		ids[id] = p.name
	}
	// Different namespaces: a DM room never shares its ID with a user.
	if string(DMRoomID(a, b)) == string(UserIDFor("alice")) {
		t.Error("DM room ID equals a user ID")
	}
}

func TestMessageEventID(t *testing.T) {
	room, alice, bob := RoomID("room1"), UserIDFor("alice"), UserIDFor("bob")
	base := MessageEventID(room, alice, "m1")
	if again := MessageEventID(room, alice, "m1"); again != base {
		t.Errorf("MessageEventID not deterministic: %x then %x", base, again)
	}
	if !uuidV5.MatchString(FormatUUID(base)) {
		t.Errorf("MessageEventID = %s, not a version 5 UUID", FormatUUID(base))
	}
	tests := []struct {
		name        string
		room        RoomID
		sender      UserID
		clientMsgID string
	}{
		{"other room", "room2", alice, "m1"},
		{"other sender", room, bob, "m1"},
		{"other client ID", room, alice, "m2"},
		{"client ID case", room, alice, "M1"},
	}
	for _, tt := range tests {
		if got := MessageEventID(tt.room, tt.sender, tt.clientMsgID); got == base {
			t.Errorf("%s: MessageEventID(%s, %s, %q) = the ID of (%s, %s, m1)", tt.name, tt.room, tt.sender, tt.clientMsgID, room, alice)
		}
	}
}

func TestStreams(t *testing.T) {
	uid, rid := UserIDFor("alice"), DMRoomID(UserIDFor("alice"), UserIDFor("bob"))
	if got, want := UserStream(uid), "user-"+string(uid); got != want {
		t.Errorf("UserStream = %q, want %q", got, want)
	}
	if got, want := RoomStream(rid), "room-"+string(rid); got != want {
		t.Errorf("RoomStream = %q, want %q", got, want)
	}
	if got, ok := UserIDOfStream(UserStream(uid)); !ok || got != uid {
		t.Errorf("UserIDOfStream(UserStream(%s)) = %q, %t", uid, got, ok)
	}
	if got, ok := RoomIDOfStream(RoomStream(rid)); !ok || got != rid {
		t.Errorf("RoomIDOfStream(RoomStream(%s)) = %q, %t", rid, got, ok)
	}

	tests := []struct {
		stream string
		room   bool // a room's stream
		user   bool // a user's stream
		id     string
	}{
		{"room-abc", true, false, "abc"},
		{"user-abc", false, true, "abc"},
		{"", false, false, ""},
		{"room", false, false, ""},
		{"rooms-abc", false, false, ""},
		{"Room-abc", false, false, ""},
		{"xroom-abc", false, false, ""},
	}
	for _, tt := range tests {
		r, rok := RoomIDOfStream(tt.stream)
		u, uok := UserIDOfStream(tt.stream)
		if rok != tt.room || uok != tt.user {
			t.Errorf("%q: room stream %t, user stream %t; want %t, %t", tt.stream, rok, uok, tt.room, tt.user)
		}
		if rok && string(r) != tt.id || uok && string(u) != tt.id {
			t.Errorf("%q: room %q, user %q; want ID %q", tt.stream, r, u, tt.id)
		}
	}
}
