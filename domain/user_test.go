package domain

import (
	"reflect"
	"testing"
	"time"
)

// now is the time of every decision in these tests.
var now = time.Date(2025, 3, 4, 5, 6, 7, 8, time.UTC)

// noError is the expected error kind of a decision that succeeds: domain
// decisions never fail with KindInternal.
const noError = KindInternal

// userOf returns the user built from events.
func userOf(events ...Event) *User {
	u := new(User)
	for _, e := range events {
		u.Apply(e)
	}
	return u
}

// checkDecision reports an error unless a decision returned want and no
// error (kind noError), or no events and an error of the given kind.
func checkDecision(t *testing.T, name string, got []Event, err error, want []Event, kind Kind) {
	t.Helper()
	switch {
	case kind == noError && err != nil:
		t.Errorf("%s: error %v, want %v", name, err, want)
	case kind != noError && err == nil:
		t.Errorf("%s: %v, want an error of kind %v", name, got, kind)
	case kind != noError && KindOf(err) != kind:
		t.Errorf("%s: error %v of kind %v, want kind %v", name, err, KindOf(err), kind)
	case err != nil && got != nil:
		t.Errorf("%s: events %v with error %v", name, got, err)
	case err == nil && !reflect.DeepEqual(got, want):
		t.Errorf("%s:\n got %#v\nwant %#v", name, got, want)
	}
}

func TestUser(t *testing.T) {
	alice := UserIDFor("alice")
	signedUp := UserSignedUp{UserID: alice, Username: "Alice", PasswordHash: "$argon2id$x", At: now}
	room1, room2 := RoomID("r1"), RoomID("r2")

	tests := []struct {
		name  string
		given []Event
		do    func(u *User) ([]Event, error)
		want  []Event
		kind  Kind
	}{
		{"sign up", nil,
			func(u *User) ([]Event, error) { return u.SignUp("Alice", "$argon2id$x", now) },
			[]Event{signedUp}, noError},
		{"sign up twice", []Event{signedUp},
			func(u *User) ([]Event, error) { return u.SignUp("Alice", "$argon2id$y", now) },
			nil, KindConflict},
		{"sign up bad name", nil,
			func(u *User) ([]Event, error) { return u.SignUp("al", "$argon2id$x", now) },
			nil, KindInvalid},

		{"start session", []Event{signedUp},
			func(u *User) ([]Event, error) { return u.StartSession("s1", "h1", now) },
			[]Event{SessionStarted{SessionID: "s1", TokenHash: "h1", At: now}}, noError},
		{"start session again", []Event{signedUp, SessionStarted{SessionID: "s1", TokenHash: "h1"}},
			func(u *User) ([]Event, error) { return u.StartSession("s1", "h1", now) },
			nil, noError},
		{"start second session", []Event{signedUp, SessionStarted{SessionID: "s1", TokenHash: "h1"}},
			func(u *User) ([]Event, error) { return u.StartSession("s2", "h2", now) },
			[]Event{SessionStarted{SessionID: "s2", TokenHash: "h2", At: now}}, noError},
		{"start session without ID", []Event{signedUp},
			func(u *User) ([]Event, error) { return u.StartSession("", "h1", now) },
			nil, KindInvalid},
		{"start session without hash", []Event{signedUp},
			func(u *User) ([]Event, error) { return u.StartSession("s1", "", now) },
			nil, KindInvalid},
		{"start session of no one", nil,
			func(u *User) ([]Event, error) { return u.StartSession("s1", "h1", now) },
			nil, KindNotFound},

		{"end session", []Event{signedUp, SessionStarted{SessionID: "s1", TokenHash: "h1"}},
			func(u *User) ([]Event, error) { return u.EndSession("s1", now) },
			[]Event{SessionEnded{SessionID: "s1", At: now}}, noError},
		{"end ended session", []Event{signedUp, SessionStarted{SessionID: "s1", TokenHash: "h1"}, SessionEnded{SessionID: "s1"}},
			func(u *User) ([]Event, error) { return u.EndSession("s1", now) },
			nil, noError},
		{"end unknown session", []Event{signedUp},
			func(u *User) ([]Event, error) { return u.EndSession("s1", now) },
			nil, noError},
		{"end session of no one", nil,
			func(u *User) ([]Event, error) { return u.EndSession("s1", now) },
			nil, KindNotFound},

		{"mark read", []Event{signedUp},
			func(u *User) ([]Event, error) { return u.MarkRead(room1, 5, now) },
			[]Event{RoomRead{RoomID: room1, Seq: 5, At: now}}, noError},
		{"mark read forward", []Event{signedUp, RoomRead{RoomID: room1, Seq: 5}},
			func(u *User) ([]Event, error) { return u.MarkRead(room1, 6, now) },
			[]Event{RoomRead{RoomID: room1, Seq: 6, At: now}}, noError},
		{"mark read same", []Event{signedUp, RoomRead{RoomID: room1, Seq: 5}},
			func(u *User) ([]Event, error) { return u.MarkRead(room1, 5, now) },
			nil, noError},
		{"mark read back", []Event{signedUp, RoomRead{RoomID: room1, Seq: 5}},
			func(u *User) ([]Event, error) { return u.MarkRead(room1, 4, now) },
			nil, noError},
		{"mark read zero", []Event{signedUp},
			func(u *User) ([]Event, error) { return u.MarkRead(room1, 0, now) },
			nil, noError},
		{"mark read other room", []Event{signedUp, RoomRead{RoomID: room1, Seq: 5}},
			func(u *User) ([]Event, error) { return u.MarkRead(room2, 1, now) },
			[]Event{RoomRead{RoomID: room2, Seq: 1, At: now}}, noError},
		{"mark read, markers applied out of order", []Event{signedUp, RoomRead{RoomID: room1, Seq: 5}, RoomRead{RoomID: room1, Seq: 3}},
			func(u *User) ([]Event, error) { return u.MarkRead(room1, 4, now) },
			nil, noError},
		{"mark read of no one", nil,
			func(u *User) ([]Event, error) { return u.MarkRead(room1, 5, now) },
			nil, KindNotFound},

		{"open connection", []Event{signedUp},
			func(u *User) ([]Event, error) { return u.OpenConnection("c1", "n1", now) },
			[]Event{ConnectionOpened{ConnID: "c1", NodeID: "n1", At: now}}, noError},
		{"open open connection", []Event{signedUp, ConnectionOpened{ConnID: "c1", NodeID: "n1"}},
			func(u *User) ([]Event, error) { return u.OpenConnection("c1", "n1", now) },
			nil, noError},
		{"open closed connection", []Event{signedUp, ConnectionOpened{ConnID: "c1", NodeID: "n1"}, ConnectionClosed{ConnID: "c1", Reason: "closed"}},
			func(u *User) ([]Event, error) { return u.OpenConnection("c1", "n2", now) },
			[]Event{ConnectionOpened{ConnID: "c1", NodeID: "n2", At: now}}, noError},
		{"open connection of no one", nil,
			func(u *User) ([]Event, error) { return u.OpenConnection("c1", "n1", now) },
			nil, KindNotFound},

		{"close connection", []Event{signedUp, ConnectionOpened{ConnID: "c1", NodeID: "n1"}},
			func(u *User) ([]Event, error) { return u.CloseConnection("c1", "node_lost", now) },
			[]Event{ConnectionClosed{ConnID: "c1", Reason: "node_lost", At: now}}, noError},
		{"close closed connection", []Event{signedUp, ConnectionOpened{ConnID: "c1", NodeID: "n1"}, ConnectionClosed{ConnID: "c1", Reason: "closed"}},
			func(u *User) ([]Event, error) { return u.CloseConnection("c1", "closed", now) },
			nil, noError},
		{"close unknown connection", []Event{signedUp},
			func(u *User) ([]Event, error) { return u.CloseConnection("c1", "closed", now) },
			nil, noError},
	}
	for _, tt := range tests {
		before, u := userOf(tt.given...), userOf(tt.given...)
		got, err := tt.do(u)
		checkDecision(t, tt.name, got, err, tt.want, tt.kind)
		if !reflect.DeepEqual(u, before) {
			t.Errorf("%s: the decision changed the user", tt.name)
		}
	}
}

func TestUserApply(t *testing.T) {
	alice := UserIDFor("alice")
	u := userOf(
		UserSignedUp{UserID: alice, Username: "Alice", PasswordHash: "ph", At: now},
		SessionStarted{SessionID: "s1", TokenHash: "h1"},
		SessionStarted{SessionID: "s2", TokenHash: "h2"},
		SessionEnded{SessionID: "s1"},
		SessionEnded{SessionID: "s9"},
		RoomRead{RoomID: "r1", Seq: 7},
		RoomRead{RoomID: "r1", Seq: 3},
		RoomRead{RoomID: "r2", Seq: 1},
		ConnectionOpened{ConnID: "c1", NodeID: "n1"},
		ConnectionOpened{ConnID: "c2", NodeID: "n2"},
		ConnectionClosed{ConnID: "c1", Reason: "closed"},
		MessagePosted{Text: "not a user event"},
	)
	want := &User{
		ID:           alice,
		Username:     "Alice",
		PasswordHash: "ph",
		Exists:       true,
		Sessions:     map[string]string{"s2": "h2"},
		ReadMarkers:  map[RoomID]uint64{"r1": 7, "r2": 1},
		Conns:        map[string]string{"c2": "n2"},
	}
	if !reflect.DeepEqual(u, want) {
		t.Errorf("user:\n got %+v\nwant %+v", u, want)
	}
}

// The events a decision returns, applied, make the same decision a no-op.
func TestUserRetries(t *testing.T) {
	u := userOf(UserSignedUp{UserID: UserIDFor("alice"), Username: "alice"})
	steps := []struct {
		name string
		do   func() ([]Event, error)
	}{
		{"start session", func() ([]Event, error) { return u.StartSession("s1", "h1", now) }},
		{"end session", func() ([]Event, error) { return u.EndSession("s1", now) }},
		{"mark read", func() ([]Event, error) { return u.MarkRead("r1", 9, now) }},
		{"open connection", func() ([]Event, error) { return u.OpenConnection("c1", "n1", now) }},
		{"close connection", func() ([]Event, error) { return u.CloseConnection("c1", "closed", now) }},
	}
	for _, s := range steps {
		evs, err := s.do()
		if err != nil || len(evs) != 1 {
			t.Fatalf("%s: %v, %v; want one event", s.name, evs, err)
		}
		u.Apply(evs[0])
		if again, err := s.do(); err != nil || again != nil {
			t.Errorf("%s again: %v, %v; want no events", s.name, again, err)
		}
	}
}
