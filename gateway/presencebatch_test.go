package gateway

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/confabhq/confab/domain"
)

func TestPresenceBatcher(t *testing.T) {
	alice, bob, carol := domain.UserIDFor("alice"), domain.UserIDFor("bob"), domain.UserIDFor("carol")
	seen := time.Date(2026, 12, 7, 13, 0, 0, 0, time.UTC)
	online := func(u domain.UserID) presenceEntry { return presenceEntry{UserID: u, Status: "online"} }
	offline := func(u domain.UserID) presenceEntry {
		return presenceEntry{UserID: u, Status: "offline", LastSeen: &seen}
	}
	type add struct {
		to string
		e  presenceEntry
	}
	type sent struct {
		to    string
		frame map[string]any
	}
	frame := func(v any) map[string]any {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		json.Unmarshal(b, &m)
		return m
	}
	for _, tt := range []struct {
		name string
		adds []add
		want []sent
	}{
		{"nothing", nil, nil},
		{"one change: the presence frame", []add{{"a", online(bob)}},
			[]sent{{"a", frame(map[string]any{"type": "presence", "user_id": bob, "status": "online"})}}},
		{"offline with last seen", []add{{"a", offline(bob)}},
			[]sent{{"a", frame(map[string]any{"type": "presence", "user_id": bob, "status": "offline", "last_seen": seen})}}},
		{"online then offline: offline only", []add{{"a", online(bob)}, {"a", offline(bob)}},
			[]sent{{"a", frame(map[string]any{"type": "presence", "user_id": bob, "status": "offline", "last_seen": seen})}}},
		{"several users: one batch, each once, latest state", []add{
			{"a", online(bob)}, {"b", online(bob)}, {"a", online(carol)}, {"a", offline(bob)}, {"a", online(alice)}, {"a", online(bob)},
		}, []sent{
			{"a", frame(map[string]any{"type": "presence_batch", "users": []any{
				map[string]any{"user_id": bob, "status": "online"},
				map[string]any{"user_id": carol, "status": "online"},
				map[string]any{"user_id": alice, "status": "online"},
			}})},
			{"b", frame(map[string]any{"type": "presence", "user_id": bob, "status": "online"})},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newPresenceBatcher[string]()
			for _, a := range tt.adds {
				b.add(a.to, a.e)
			}
			if b.empty() != (len(tt.adds) == 0) {
				t.Errorf("empty() = %v with %d changes", b.empty(), len(tt.adds))
			}
			var got []sent
			flush := func(to string, f []byte) {
				var m map[string]any
				if err := json.Unmarshal(f, &m); err != nil {
					t.Fatalf("frame %s: %v", f, err)
				}
				got = append(got, sent{to, m})
			}
			b.flush(flush)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("flushed %v\nwant %v", got, tt.want)
			}
			if !b.empty() {
				t.Error("not empty after a flush")
			}
			got = nil
			b.flush(flush)
			if got != nil {
				t.Errorf("a second flush sent %v", got)
			}
		})
	}
}
