package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/confabhq/confab/internal/apitest"
)

type pinsAnswer struct {
	Pins []struct {
		Seq      uint64          `json:"seq"`
		PinnedBy string          `json:"pinned_by"`
		Message  apitest.Message `json:"message"`
	} `json:"pins"`
}

func pinSeqs(t *testing.T, ctx context.Context, c *apitest.Client, room string) []uint64 {
	t.Helper()
	var out pinsAnswer
	if err := c.Do(ctx, "GET", "/api/v1/rooms/"+room+"/pins", nil, &out); err != nil {
		t.Fatalf("pins: %v", err)
	}
	var seqs []uint64
	for _, p := range out.Pins {
		if p.Message.Seq != p.Seq {
			t.Errorf("pin %d holds message %d", p.Seq, p.Message.Seq)
		}
		seqs = append(seqs, p.Seq)
	}
	return seqs
}

func wantStatus(t *testing.T, what string, err error, status int) {
	t.Helper()
	var e *apitest.Error
	if !errors.As(err, &e) || e.Status != status {
		t.Fatalf("%s: %v, want status %d", what, err, status)
	}
}

// roomOf returns the caller's room id from GET /rooms.
func roomOf(t *testing.T, ctx context.Context, c *apitest.Client, id string) apitest.Room {
	t.Helper()
	rooms, err := c.Rooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rooms {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("room %s is not in the list", id)
	return apitest.Room{}
}

// TestPinsAPI pins and unpins over REST on both stores: who may, what
// subscribers see live, that a deleted pinned message drops off, and that
// refusals change nothing. Then notification levels.
func TestPinsAPI(t *testing.T) {
	for name, args := range stores(t) {
		t.Run(name, func(t *testing.T) {
			addr, stop := startServe(t, args...)
			defer stop()
			base := "http://" + addr
			ctx := testCtx(t)
			alice := apitest.MustSignUp(t, ctx, base, "alice", "correct horse")
			bob := apitest.MustSignUp(t, ctx, base, "bob", "battery staple")
			carol := apitest.MustSignUp(t, ctx, base, "carol", "tr0ub4dor&3")
			room := alice.MustCreateRoom(t, ctx, "general", bob)
			m1, err := alice.Post(ctx, room.ID, "a1", "the plan")
			if err != nil {
				t.Fatal(err)
			}
			m2, err := bob.Post(ctx, room.ID, "b1", "the venue")
			if err != nil {
				t.Fatal(err)
			}
			ws := bob.MustDial(t, ctx)
			ack, err := ws.Subscribe(ctx, room.ID, m2.Seq)
			if err != nil {
				t.Fatal(err)
			}
			pinPath := func(seq uint64) string { return fmt.Sprintf("/api/v1/rooms/%s/pins/%d", room.ID, seq) }

			// The owner pins; bob sees it live.
			var out pinsAnswer
			if err := alice.Do(ctx, "PUT", pinPath(m1.Seq), nil, &out); err != nil || len(out.Pins) != 1 || out.Pins[0].Seq != m1.Seq ||
				out.Pins[0].PinnedBy != alice.User.ID || out.Pins[0].Message.Text != "the plan" {
				t.Fatalf("pin: %+v, %v", out, err)
			}
			f := nextEvent(t, ctx, ws)
			if f.Str("event") != "message.pinned" || f.Data().Uint("seq") != m1.Seq || f.Data().Str("by") != alice.User.ID || f.Uint("seq") != ack.Uint("seq")+1 {
				t.Fatalf("live pin: %v", f)
			}
			// Pinning again changes nothing.
			if err := alice.Do(ctx, "PUT", pinPath(m1.Seq), nil, nil); err != nil {
				t.Fatal(err)
			}

			// A plain member may not pin, nor unpin; a non-member is not
			// told the room exists; nothing changes.
			wantStatus(t, "member pins", bob.Do(ctx, "PUT", pinPath(m2.Seq), nil, nil), http.StatusForbidden)
			wantStatus(t, "member unpins", bob.Do(ctx, "DELETE", pinPath(m1.Seq), nil, nil), http.StatusForbidden)
			wantStatus(t, "non-member pins", carol.Do(ctx, "PUT", pinPath(m2.Seq), nil, nil), http.StatusNotFound)
			wantStatus(t, "non-member lists", carol.Do(ctx, "GET", "/api/v1/rooms/"+room.ID+"/pins", nil, nil), http.StatusNotFound)
			wantStatus(t, "member changes settings", bob.Do(ctx, "PATCH", "/api/v1/rooms/"+room.ID+"/settings", map[string]any{"members_can_pin": true}, nil), http.StatusForbidden)
			wantStatus(t, "pin no message", alice.Do(ctx, "PUT", pinPath(999), nil, nil), http.StatusNotFound)
			wantStatus(t, "pin a membership event", alice.Do(ctx, "PUT", pinPath(2), nil, nil), http.StatusNotFound)
			wantStatus(t, "settings without the field", alice.Do(ctx, "PATCH", "/api/v1/rooms/"+room.ID+"/settings", map[string]any{}, nil), http.StatusBadRequest)
			if got := pinSeqs(t, ctx, bob, room.ID); fmt.Sprint(got) != fmt.Sprint([]uint64{m1.Seq}) {
				t.Fatalf("pins after refusals: %v", got)
			}
			if r := roomOf(t, ctx, bob, room.ID); r.MembersCanPin || r.LastSeq != m1.Seq+2 {
				t.Fatalf("room after refusals: %+v, want last_seq %d", r, m1.Seq+2)
			}

			// The owner lets members pin: bob pins his message.
			var settled struct{ Room apitest.Room }
			if err := alice.Do(ctx, "PATCH", "/api/v1/rooms/"+room.ID+"/settings", map[string]any{"members_can_pin": true}, &settled); err != nil || !settled.Room.MembersCanPin {
				t.Fatalf("settings: %+v, %v", settled, err)
			}
			if f := nextEvent(t, ctx, ws); f.Str("event") != "room.settings_changed" || f.Data()["members_can_pin"] != true {
				t.Fatalf("live settings: %v", f)
			}
			if err := bob.Do(ctx, "PUT", pinPath(m2.Seq), nil, nil); err != nil {
				t.Fatal(err)
			}
			nextEvent(t, ctx, ws)
			if got := pinSeqs(t, ctx, alice, room.ID); fmt.Sprint(got) != fmt.Sprint([]uint64{m2.Seq, m1.Seq}) {
				t.Fatalf("pins: %v, want newest first", got)
			}
			// Unpin; and a deleted pinned message drops off.
			if err := bob.Do(ctx, "DELETE", pinPath(m1.Seq), nil, nil); err != nil {
				t.Fatal(err)
			}
			if f := nextEvent(t, ctx, ws); f.Str("event") != "message.unpinned" || f.Data().Uint("seq") != m1.Seq {
				t.Fatalf("live unpin: %v", f)
			}
			if err := bob.Do(ctx, "DELETE", fmt.Sprintf("/api/v1/rooms/%s/messages/%d", room.ID, m2.Seq), nil, nil); err != nil {
				t.Fatal(err)
			}
			if got := pinSeqs(t, ctx, alice, room.ID); len(got) != 0 {
				t.Fatalf("pins after deleting the pinned message: %v", got)
			}

			// The limit: 50 pins, then a clear conflict.
			for i := range 50 {
				m, err := alice.Post(ctx, room.ID, fmt.Sprint("p", i), "pin me")
				if err != nil {
					t.Fatal(err)
				}
				if err := alice.Do(ctx, "PUT", pinPath(m.Seq), nil, nil); err != nil {
					t.Fatalf("pin %d: %v", i, err)
				}
			}
			wantStatus(t, "the 51st pin", alice.Do(ctx, "PUT", pinPath(m1.Seq), nil, nil), http.StatusConflict)
			if got := pinSeqs(t, ctx, alice, room.ID); len(got) != 50 {
				t.Fatalf("%d pins, want 50", len(got))
			}

			// Notification levels: bob's own, sent to his connections.
			var set struct{ Room apitest.Room }
			if err := bob.Do(ctx, "PUT", "/api/v1/rooms/"+room.ID+"/notify", map[string]string{"level": "none"}, &set); err != nil || set.Room.Notify != "none" {
				t.Fatalf("mute: %+v, %v", set, err)
			}
			if f, err := ws.NextOf(ctx, "notify_level"); err != nil || f.Str("room_id") != room.ID || f.Str("level") != "none" {
				t.Fatalf("notify_level frame: %v, %v", f, err)
			}
			wantStatus(t, "bad level", bob.Do(ctx, "PUT", "/api/v1/rooms/"+room.ID+"/notify", map[string]string{"level": "loud"}, nil), http.StatusBadRequest)
			wantStatus(t, "non-member level", carol.Do(ctx, "PUT", "/api/v1/rooms/"+room.ID+"/notify", map[string]string{"level": "none"}, nil), http.StatusNotFound)
			if r := roomOf(t, ctx, bob, room.ID); r.Notify != "none" {
				t.Fatalf("bob's room: %+v", r)
			}
			if r := roomOf(t, ctx, alice, room.ID); r.Notify != "all" {
				t.Fatalf("alice's room: %+v, want notify all", r)
			}
			// Mentions are counted among the unread.
			if _, err := alice.Post(ctx, room.ID, "men1", "@bob look"); err != nil {
				t.Fatal(err)
			}
			if r := roomOf(t, ctx, bob, room.ID); r.Mentions != 1 || r.Unread < 2 {
				t.Fatalf("bob's room after a mention: %+v", r)
			}
		})
	}
}
