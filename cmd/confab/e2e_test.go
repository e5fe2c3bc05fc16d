package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/confabhq/confab/internal/apitest"
	"github.com/confabhq/confab/internal/pgtest"
)

// stores returns serve flags for each event store a test runs on.
func stores(t *testing.T) map[string][]string {
	return map[string][]string{
		"sqlite":   {"--data", t.TempDir()},
		"postgres": {"--store", "postgres", "--postgres-url", pgtest.NewTestDatabase(t)},
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// nextEvent returns the next event frame of a connection, skipping others.
func nextEvent(t *testing.T, ctx context.Context, ws *apitest.WS) apitest.Frame {
	t.Helper()
	f, err := ws.NextOf(ctx, "event")
	if err != nil {
		t.Fatalf("waiting for an event: %v", err)
	}
	return f
}

// TestChatFlow walks the main path through the public API: two users sign
// up, one creates a room, the other joins by code, both chat live, history
// pages, presence flips on disconnect, and a DM works.
func TestChatFlow(t *testing.T) {
	for name, args := range stores(t) {
		t.Run(name, func(t *testing.T) {
			addr, stop := startServe(t, args...)
			defer stop()
			base := "http://" + addr
			ctx := testCtx(t)

			alice, err := apitest.SignUp(ctx, base, "alice", "correct horse")
			if err != nil {
				t.Fatal(err)
			}
			bob, err := apitest.SignUp(ctx, base, "Bob", "battery staple")
			if err != nil {
				t.Fatal(err)
			}
			room, err := alice.CreateRoom(ctx, "general")
			if err != nil {
				t.Fatal(err)
			}
			if room.InviteCode == "" || room.Role != "owner" {
				t.Fatalf("created room %+v: want an invite code and role owner", room)
			}
			joined, err := bob.Join(ctx, room.InviteCode)
			if err != nil || joined.ID != room.ID || joined.Role != "member" || joined.InviteCode != "" {
				t.Fatalf("bob joined %+v, %v", joined, err)
			}

			wsA, err := alice.Dial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer wsA.Close()
			wsB, err := bob.Dial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, ws := range []*apitest.WS{wsA, wsB} {
				ack, err := ws.Subscribe(ctx, room.ID, 0)
				if err != nil || ack.Uint("seq") != 2 {
					t.Fatalf("subscribe: %v %v, want seq 2 (created, joined)", ack, err)
				}
				for _, want := range []string{"room.created", "member.joined"} {
					if f := nextEvent(t, ctx, ws); f.Str("event") != want {
						t.Fatalf("catch-up event %v, want %s", f, want)
					}
				}
			}

			seq, err := wsA.SendMessage(ctx, room.ID, "a1", "hi @bob")
			if err != nil || seq != 3 {
				t.Fatalf("send: seq %d, %v; want 3", seq, err)
			}
			for _, ws := range []*apitest.WS{wsA, wsB} {
				f := nextEvent(t, ctx, ws)
				if f.Str("event") != "message.posted" || f.Uint("seq") != 3 || f.Data().Str("text") != "hi @bob" || f.Data().Str("client_msg_id") != "a1" {
					t.Fatalf("live event %v", f)
				}
			}
			if _, err := wsB.SendMessage(ctx, room.ID, "b1", "hey alice"); err != nil {
				t.Fatal(err)
			}
			if f := nextEvent(t, ctx, wsA); f.Data().Str("text") != "hey alice" || f.Data().Str("sender_id") != bob.User.ID {
				t.Fatalf("alice got %v", f)
			}
			nextEvent(t, ctx, wsB)

			// History pages newest first.
			for i := range 30 {
				if _, err := alice.Post(ctx, room.ID, fmt.Sprintf("h%d", i), fmt.Sprintf("history %d", i)); err != nil {
					t.Fatal(err)
				}
			}
			var got []uint64
			before := uint64(0)
			for {
				page, err := bob.Messages(ctx, room.ID, before, 10)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				for _, m := range page {
					got = append(got, m.Seq)
				}
				before = page[len(page)-1].Seq
			}
			if len(got) != 32 || got[0] != 34 || got[31] != 3 {
				t.Fatalf("history seqs %v: want 32 messages from 34 down to 3", got)
			}
			for i := 1; i < len(got); i++ {
				if got[i] >= got[i-1] {
					t.Fatalf("history not newest first: %v", got)
				}
			}
			msgs, _ := bob.Messages(ctx, room.ID, 4, 1)
			if len(msgs) != 1 || len(msgs[0].Mentions) != 1 || msgs[0].Mentions[0] != bob.User.ID || msgs[0].SenderName != "alice" {
				t.Fatalf("message 3 = %+v: want alice's mention of bob", msgs)
			}

			// Presence: bob disconnects; alice sees him go offline.
			members, err := alice.Members(ctx, room.ID)
			if err != nil || len(members) != 2 {
				t.Fatalf("members %+v %v", members, err)
			}
			for _, m := range members {
				if m.User.Status != "online" {
					t.Fatalf("member %s is %s, want online", m.User.Username, m.User.Status)
				}
			}
			wsB.Close()
			for {
				f, err := wsA.Next(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if p, ok := f.PresenceOf(bob.User.ID); ok && p.Str("status") == "offline" && p.Str("last_seen") != "" {
					break
				}
			}
			if u, err := alice.GetUser(ctx, bob.User.ID); err != nil || u.Status != "offline" || u.LastSeen == nil {
				t.Fatalf("bob after disconnect: %+v %v", u, err)
			}

			// DMs: both sides get the one room.
			dm, err := alice.DM(ctx, bob.User.ID)
			if err != nil || dm.Kind != "dm" {
				t.Fatalf("dm %+v %v", dm, err)
			}
			dm2, err := bob.DM(ctx, alice.User.ID)
			if err != nil || dm2.ID != dm.ID {
				t.Fatalf("bob's DM %+v %v, want %s", dm2, err, dm.ID)
			}
			if _, err := bob.Post(ctx, dm.ID, "d1", "psst"); err != nil {
				t.Fatal(err)
			}
			rooms, err := alice.Rooms(ctx)
			if err != nil || len(rooms) != 2 {
				t.Fatalf("alice's rooms %+v %v", rooms, err)
			}
			for _, r := range rooms {
				if r.ID == dm.ID && (r.Unread != 1 || r.DMPeer == nil || r.DMPeer.ID != bob.User.ID) {
					t.Fatalf("DM summary %+v: want 1 unread from bob", r)
				}
			}
		})
	}
}
