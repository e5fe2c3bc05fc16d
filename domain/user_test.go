package domain

import (
	"reflect"
	"strings"
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
	policy := SessionPolicy{MaxPerUser: 3}
	started := func(id string, ago time.Duration) SessionStarted {
		return SessionStarted{SessionID: id, TokenHash: "h-" + id, At: now.Add(ago)}
	}

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
			func(u *User) ([]Event, error) { return u.StartSession("s1", "h1", SessionClient{}, policy, now) },
			[]Event{SessionStarted{SessionID: "s1", TokenHash: "h1", At: now}}, noError},
		{"start session with client", []Event{signedUp},
			func(u *User) ([]Event, error) {
				return u.StartSession("s1", "h1", SessionClient{UserAgent: " Mozilla/5.0\x00\xff\n" + strings.Repeat("é", 200), IP: "192.0.2.1"}, policy, now)
			},
			[]Event{SessionStarted{SessionID: "s1", TokenHash: "h1", UserAgent: "Mozilla/5.0\uFFFD" + strings.Repeat("é", (MaxUserAgentLen-len("Mozilla/5.0\uFFFD"))/2), IP: "192.0.2.1", At: now}}, noError},
		{"start session again", []Event{signedUp, started("s1", 0)},
			func(u *User) ([]Event, error) { return u.StartSession("s1", "h1", SessionClient{}, policy, now) },
			nil, noError},
		{"start second session", []Event{signedUp, started("s1", 0)},
			func(u *User) ([]Event, error) { return u.StartSession("s2", "h2", SessionClient{}, policy, now) },
			[]Event{SessionStarted{SessionID: "s2", TokenHash: "h2", At: now}}, noError},
		{"start session at the limit ends the oldest", []Event{signedUp, started("s2", -time.Minute), started("s1", -time.Minute), started("s3", -2*time.Minute)},
			func(u *User) ([]Event, error) { return u.StartSession("s4", "h4", SessionClient{}, policy, now) },
			[]Event{SessionEnded{SessionID: "s2", Reason: EndLimit, At: now}, SessionStarted{SessionID: "s4", TokenHash: "h4", At: now}}, noError},
		{"start session past the limit ends the oldest ones", []Event{signedUp, started("s1", 0), started("s2", 0), started("s3", 0)},
			func(u *User) ([]Event, error) {
				return u.StartSession("s4", "h4", SessionClient{}, SessionPolicy{MaxPerUser: 2}, now)
			},
			[]Event{SessionEnded{SessionID: "s1", Reason: EndLimit, At: now}, SessionEnded{SessionID: "s2", Reason: EndLimit, At: now},
				SessionStarted{SessionID: "s4", TokenHash: "h4", At: now}}, noError},
		{"start session ends expired ones first", []Event{signedUp, started("s1", -2*time.Hour), started("s2", -time.Minute),
			started("s3", -time.Minute), started("s4", -time.Minute), SessionUsed{SessionID: "s1", At: now.Add(-time.Minute)}},
			func(u *User) ([]Event, error) {
				return u.StartSession("s5", "h5", SessionClient{}, SessionPolicy{MaxAge: time.Hour, MaxPerUser: 3}, now)
			},
			[]Event{SessionEnded{SessionID: "s1", Reason: EndExpired, At: now}, SessionEnded{SessionID: "s2", Reason: EndLimit, At: now},
				SessionStarted{SessionID: "s5", TokenHash: "h5", At: now}}, noError},
		{"start session ends idle ones", []Event{signedUp, started("s1", -2*time.Hour), started("s2", -2*time.Hour), SessionUsed{SessionID: "s2", At: now.Add(-time.Minute)}},
			func(u *User) ([]Event, error) {
				return u.StartSession("s3", "h3", SessionClient{}, SessionPolicy{IdleTimeout: time.Hour}, now)
			},
			[]Event{SessionEnded{SessionID: "s1", Reason: EndExpired, At: now}, SessionStarted{SessionID: "s3", TokenHash: "h3", At: now}}, noError},
		{"start session without ID", []Event{signedUp},
			func(u *User) ([]Event, error) { return u.StartSession("", "h1", SessionClient{}, policy, now) },
			nil, KindInvalid},
		{"start session without hash", []Event{signedUp},
			func(u *User) ([]Event, error) { return u.StartSession("s1", "", SessionClient{}, policy, now) },
			nil, KindInvalid},
		{"start session of no one", nil,
			func(u *User) ([]Event, error) { return u.StartSession("s1", "h1", SessionClient{}, policy, now) },
			nil, KindNotFound},

		{"touch session", []Event{signedUp, started("s1", -time.Hour)},
			func(u *User) ([]Event, error) { return u.TouchSession("s1", policy, now) },
			[]Event{SessionUsed{SessionID: "s1", At: now}}, noError},
		{"touch session used recently", []Event{signedUp, started("s1", -2*time.Hour), SessionUsed{SessionID: "s1", At: now.Add(-59 * time.Minute)}},
			func(u *User) ([]Event, error) { return u.TouchSession("s1", policy, now) },
			nil, noError},
		{"touch session, a short idle timeout", []Event{signedUp, started("s1", -2*time.Second)},
			func(u *User) ([]Event, error) {
				return u.TouchSession("s1", SessionPolicy{IdleTimeout: 10 * time.Second}, now)
			},
			[]Event{SessionUsed{SessionID: "s1", At: now}}, noError},
		{"touch expired session", []Event{signedUp, started("s1", -2*time.Hour)},
			func(u *User) ([]Event, error) {
				return u.TouchSession("s1", SessionPolicy{IdleTimeout: time.Hour}, now)
			},
			nil, noError},
		{"touch ended session", []Event{signedUp, started("s1", -2*time.Hour), SessionEnded{SessionID: "s1"}},
			func(u *User) ([]Event, error) { return u.TouchSession("s1", policy, now) },
			nil, noError},

		{"end session", []Event{signedUp, started("s1", 0)},
			func(u *User) ([]Event, error) { return u.EndSession("s1", EndSignedOut, now) },
			[]Event{SessionEnded{SessionID: "s1", Reason: EndSignedOut, At: now}}, noError},
		{"end ended session", []Event{signedUp, started("s1", 0), SessionEnded{SessionID: "s1"}},
			func(u *User) ([]Event, error) { return u.EndSession("s1", EndSignedOut, now) },
			nil, noError},
		{"end unknown session", []Event{signedUp},
			func(u *User) ([]Event, error) { return u.EndSession("s1", EndSignedOut, now) },
			nil, noError},
		{"end session of no one", nil,
			func(u *User) ([]Event, error) { return u.EndSession("s1", EndSignedOut, now) },
			nil, KindNotFound},

		{"revoke session", []Event{signedUp, started("s1", 0), started("s2", 0)},
			func(u *User) ([]Event, error) { return u.RevokeSession("s1", now) },
			[]Event{SessionEnded{SessionID: "s1", Reason: EndRevoked, At: now}}, noError},
		{"revoke ended session", []Event{signedUp, started("s1", 0), SessionEnded{SessionID: "s1"}},
			func(u *User) ([]Event, error) { return u.RevokeSession("s1", now) },
			nil, KindNotFound},
		{"revoke unknown session", []Event{signedUp, started("s1", 0)},
			func(u *User) ([]Event, error) { return u.RevokeSession("other", now) },
			nil, KindNotFound},
		{"revoke others", []Event{signedUp, started("s2", 0), started("s1", 0), started("s3", 0)},
			func(u *User) ([]Event, error) { return u.RevokeOtherSessions("s1", now) },
			[]Event{SessionEnded{SessionID: "s2", Reason: EndRevoked, At: now}, SessionEnded{SessionID: "s3", Reason: EndRevoked, At: now}}, noError},
		{"revoke others, none", []Event{signedUp, started("s1", 0)},
			func(u *User) ([]Event, error) { return u.RevokeOtherSessions("s1", now) },
			nil, noError},

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
		SessionStarted{SessionID: "s2", TokenHash: "h2", UserAgent: "ua", IP: "::1", At: now},
		SessionUsed{SessionID: "s2", At: now.Add(time.Hour)},
		SessionUsed{SessionID: "s2", At: now.Add(time.Minute)},
		SessionUsed{SessionID: "s9", At: now},
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
		Sessions: map[string]Session{"s2": {TokenHash: "h2", UserAgent: "ua", IP: "::1",
			StartedAt: now, LastUsedAt: now.Add(time.Hour), Order: 2}},
		sessionsStarted: 2,
		ReadMarkers:     map[RoomID]uint64{"r1": 7, "r2": 1},
		Conns:           map[string]string{"c2": "n2"},
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
		{"start session", func() ([]Event, error) { return u.StartSession("s1", "h1", SessionClient{}, SessionPolicy{}, now) }},
		{"touch session", func() ([]Event, error) { return u.TouchSession("s1", SessionPolicy{}, now.Add(time.Hour)) }},
		{"end session", func() ([]Event, error) { return u.EndSession("s1", EndSignedOut, now) }},
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
