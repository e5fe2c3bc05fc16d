package main

import (
	"strings"
	"testing"
	"time"

	"github.com/confabhq/confab/domain"
)

func TestCount(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{{0, "0 people"}, {1, "1 person"}, {2, "2 people"}, {1000, "1000 people"}} {
		if got := count(tt.n, "person", "people"); got != tt.want {
			t.Errorf("count(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

// TestAdminReplayOnePerson: a call one person was in, in a one-event
// room, reads "1 person" and "1 event", not "1 people" or "1 events".
func TestAdminReplayOnePerson(t *testing.T) {
	t.Parallel()
	store := admSQLite(t)
	t0 := time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)
	alice := domain.UserIDFor("alice")
	l := newAdmLog(t, sqliteStore(t, store.data))
	l.signUp(t0, "alice")
	l.room("r1", domain.RoomCreated{RoomID: "r1", Kind: domain.KindGroup, Name: "Solo", OwnerID: alice, Members: []domain.UserID{alice}, InviteCode: "c1", At: t0})
	out, _ := admRun(t, nil, append([]string{"events", "replay", "--room", "r1", "--until", "2025-06-01T09:00:30Z"}, store.args...)...)
	if !strings.Contains(out, ": 1 of 1 event\n") {
		t.Errorf("replay of one event says:\n%s", out)
	}
	l.room("r1",
		domain.CallStarted{CallID: "k1", By: alice, At: t0.Add(time.Minute)},
		domain.CallJoined{CallID: "k1", UserID: alice, NodeID: "n", ConnID: "a", At: t0.Add(time.Minute)},
		domain.CallLeft{CallID: "k1", UserID: alice, Reason: domain.CallLeaveLeft, At: t0.Add(3 * time.Minute)},
		domain.CallEnded{CallID: "k1", StartedAt: t0.Add(time.Minute), Participants: 1, At: t0.Add(3 * time.Minute)},
	)
	out, _ = admRun(t, nil, append([]string{"events", "replay", "--room", "r1", "--until", "2025-06-02"}, store.args...)...)
	for _, want := range []string{"alice started a call (ended 2025-06-01 09:03:00, after 2m0s, 1 person)", "the call ended after 2m0s, 1 person\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("replay lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "1 people") {
		t.Errorf("replay says 1 people:\n%s", out)
	}
}
