package main

import (
	"strings"
	"testing"

	"github.com/confabhq/confab/domain"
)

// TestReplayShowsEveryEventType checks that replay's table has an entry
// for every event type domain registers, so that a new type cannot be
// replayed as a bare "(Type)" line by oversight, and that each entry
// describes an event of its own type.
func TestReplayShowsEveryEventType(t *testing.T) {
	types := domain.EventTypes()
	if len(types) < 25 {
		t.Fatalf("domain registers only %d event types: %v", len(types), types)
	}
	r := newReplay("r1", map[domain.UserID]string{})
	for _, typ := range types {
		show, ok := replayShows[typ]
		if !ok {
			t.Errorf("replayShows has no entry for %s: add one to admin_replay_events.go", typ)
			continue
		}
		if show.describe == nil {
			continue // a type of user streams
		}
		ev, err := domain.Decode(typ, []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		if s := r.describe(replayEvent{seq: 1, typ: typ, ev: ev}); s == "" || strings.HasPrefix(s, "(") {
			t.Errorf("%s is described as %q", typ, s)
		}
	}
	if len(replayShows) != len(types) {
		t.Errorf("replayShows has %d entries for %d event types", len(replayShows), len(types))
	}
}
