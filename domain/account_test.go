package domain

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// signedIn returns alice with sessions s1 and s2.
func signedIn(t *testing.T) *User {
	t.Helper()
	u := &User{}
	for _, e := range []Event{
		UserSignedUp{UserID: UserIDFor("alice"), Username: "alice", PasswordHash: "h1", At: now},
		SessionStarted{SessionID: "s1", TokenHash: "t1", At: now},
		SessionStarted{SessionID: "s2", TokenHash: "t2", At: now.Add(time.Second)},
	} {
		u.Apply(e)
	}
	return u
}

func applyAll(u *User, events []Event) {
	for _, e := range events {
		u.Apply(e)
	}
}

func TestChangePasswordEndsOtherSessions(t *testing.T) {
	u := signedIn(t)
	got, err := u.ChangePassword("h2", "s2", ByUser, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []Event{PasswordChanged{PasswordHash: "h2", By: ByUser, At: now}, SessionEnded{SessionID: "s1", Reason: EndPasswordChanged, At: now}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v, want %#v", got, want)
	}
	applyAll(u, got)
	if u.PasswordHash != "h2" || len(u.Sessions) != 1 {
		t.Fatalf("after: hash %q, sessions %v", u.PasswordHash, u.Sessions)
	}
	// An operator's reset ends them all.
	got, _ = u.ChangePassword("h3", "", ByOperator, now)
	if len(got) != 2 || got[1].(SessionEnded).SessionID != "s2" {
		t.Fatalf("reset: %#v", got)
	}
	if _, err := u.ChangePassword("h4", "", "someone", now); KindOf(err) != KindInvalid {
		t.Fatalf("unknown author: %v", err)
	}
}

func TestCleanDisplayName(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"  Alice Liddell ", "Alice Liddell", true},
		{"", "", true},
		{"   ", "", true},
		{"Zoë ☕", "Zoë ☕", true},
		{strings.Repeat("é", MaxDisplayNameLen), strings.Repeat("é", MaxDisplayNameLen), true},
		{strings.Repeat("é", MaxDisplayNameLen+1), "", false},
		{"a\x00b", "", false},
		{"a\nb", "", false},
		{"evil\u202Eexe", "", false},
		{"\u200B\u200B", "", false},
		{"\xff", "", false},
	} {
		got, err := CleanDisplayName(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("CleanDisplayName(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && KindOf(err) != KindInvalid {
			t.Errorf("CleanDisplayName(%q): kind %v", tc.in, KindOf(err))
		}
	}
}

func TestDisplayNameAndAvatar(t *testing.T) {
	u := signedIn(t)
	evs, err := u.SetDisplayName(" Alice ", now)
	if err != nil || len(evs) != 1 || evs[0].(DisplayNameChanged).DisplayName != "Alice" {
		t.Fatalf("set: %v %v", evs, err)
	}
	applyAll(u, evs)
	if evs, _ := u.SetDisplayName("Alice", now); len(evs) != 0 {
		t.Errorf("setting the same name: %v", evs)
	}
	if evs, _ := u.RemoveAvatar(now); len(evs) != 0 {
		t.Errorf("removing no avatar: %v", evs)
	}
	a := Avatar{Digest: "sha256:aa", ContentType: "image/png", Size: 10}
	evs, err = u.SetAvatar(a, now)
	if err != nil || len(evs) != 1 {
		t.Fatalf("avatar: %v %v", evs, err)
	}
	applyAll(u, evs)
	if evs, _ := u.SetAvatar(a, now); len(evs) != 0 {
		t.Errorf("same avatar: %v", evs)
	}
	if _, err := u.SetAvatar(Avatar{Digest: "x", ContentType: "text/html", Size: 1}, now); KindOf(err) != KindInvalid {
		t.Errorf("bad avatar: %v", err)
	}
	evs, _ = u.RemoveAvatar(now)
	applyAll(u, evs)
	if u.Avatar != nil {
		t.Errorf("avatar kept: %v", u.Avatar)
	}
}

func TestDisableEnableDelete(t *testing.T) {
	u := signedIn(t)
	evs, err := u.Disable(now)
	if err != nil || len(evs) != 3 || evs[1].(SessionEnded).Reason != EndDisabled {
		t.Fatalf("disable: %#v %v", evs, err)
	}
	applyAll(u, evs)
	if u.Status() != StatusDisabled || len(u.Sessions) != 0 {
		t.Fatalf("status %s, sessions %v", u.Status(), u.Sessions)
	}
	if _, err := u.StartSession("s3", "t3", SessionClient{}, SessionPolicy{}, now); KindOf(err) != KindForbidden {
		t.Fatalf("a disabled user signs in: %v", err)
	}
	if evs, _ := u.Disable(now); len(evs) != 0 {
		t.Errorf("disabling twice: %v", evs)
	}
	evs, _ = u.Enable(now)
	applyAll(u, evs)
	if u.Status() != StatusActive {
		t.Fatalf("enabled: %s", u.Status())
	}
	if _, err := u.StartSession("s3", "t3", SessionClient{}, SessionPolicy{}, now); err != nil {
		t.Fatalf("an enabled user cannot sign in: %v", err)
	}
	u = signedIn(t)
	applyAll(u, []Event{DisplayNameChanged{DisplayName: "Al", At: now}})
	evs, err = u.Delete(now)
	if err != nil || len(evs) != 3 || evs[2].(SessionEnded).Reason != EndDeleted {
		t.Fatalf("delete: %#v %v", evs, err)
	}
	applyAll(u, evs)
	if u.Status() != StatusDeleted || u.DisplayName != "" || len(u.Sessions) != 0 {
		t.Fatalf("deleted: %s %q %v", u.Status(), u.DisplayName, u.Sessions)
	}
	if evs, err := u.Delete(now); err != nil || len(evs) != 0 {
		t.Errorf("deleting twice: %v %v", evs, err)
	}
	for name, f := range map[string]func() ([]Event, error){
		"sign in":  func() ([]Event, error) { return u.StartSession("s9", "t9", SessionClient{}, SessionPolicy{}, now) },
		"password": func() ([]Event, error) { return u.ChangePassword("h", "", ByOperator, now) },
		"name":     func() ([]Event, error) { return u.SetDisplayName("x", now) },
		"disable":  func() ([]Event, error) { return u.Disable(now) },
	} {
		if _, err := f(); KindOf(err) != KindNotFound {
			t.Errorf("%s on a deleted user: %v", name, err)
		}
	}
	if _, err := (&User{}).Delete(now); KindOf(err) != KindNotFound {
		t.Errorf("deleting nobody: %v", err)
	}
}

func TestRemoveDeletedFromRooms(t *testing.T) {
	owner, other := UserIDFor("owner"), UserIDFor("other")
	r := &Room{}
	r.Apply(1, RoomCreated{RoomID: "r1", Kind: KindGroup, Name: "g", OwnerID: owner, Members: []UserID{owner}, InviteCode: "c", At: now})
	r.Apply(2, MemberJoined{UserID: other, At: now})
	evs, err := r.RemoveDeleted(owner, now)
	if err != nil || len(evs) != 1 || evs[0].(MemberLeft).UserID != owner {
		t.Fatalf("the owner's membership: %#v %v", evs, err)
	}
	dm := &Room{}
	dm.Apply(1, RoomCreated{RoomID: "d", Kind: KindDM, Members: []UserID{owner, other}, At: now})
	if evs, _ := dm.RemoveDeleted(owner, now); len(evs) != 0 {
		t.Errorf("a DM: %v", evs)
	}
}
