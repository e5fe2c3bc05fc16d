package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/confabhq/confab/internal/apitest"
)

// TestThreadsAPI runs threads on a real server, on both stores: replies
// posted over REST and WebSocket, the root's summary, the timeline that
// leaves replies out, unread counts and read markers per thread,
// deletions and refusals, and threads in a DM.
func TestThreadsAPI(t *testing.T) {
	for name, sut := range storesUnderTest(t) {
		t.Run(name, func(t *testing.T) {
			addr, stop := startServe(t, sut.args...)
			defer stop()
			base := "http://" + addr
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			signUp := func(name string) *apitest.Client { return apitest.MustSignUp(t, ctx, base, name, "password "+name) }
			alice, bob, carol, mallory := signUp("alice"), signUp("bob"), signUp("carol"), signUp("mallory")
			room := alice.MustCreateRoom(t, ctx, "Threads")
			for _, c := range []*apitest.Client{bob, carol} {
				if _, err := c.Join(ctx, room.InviteCode); err != nil {
					t.Fatal(err)
				}
			}
			root, err := alice.Post(ctx, room.ID, "root1", "shall we ship friday?")
			if err != nil {
				t.Fatal(err)
			}
			other, err := carol.Post(ctx, room.ID, "c1", "unrelated")
			if err != nil {
				t.Fatal(err)
			}

			// Bob watches the room live while alice replies over REST.
			ws := bob.MustDial(t, ctx)
			if _, err := ws.Subscribe(ctx, room.ID, other.Seq); err != nil {
				t.Fatal(err)
			}
			r1, err := bob.Reply(ctx, room.ID, root.Seq, "b1", "yes, after the tests")
			if err != nil {
				t.Fatal(err)
			}
			if r1.ThreadRoot != root.Seq {
				t.Fatalf("reply: %+v, want thread_root %d", r1, root.Seq)
			}
			again, err := bob.Reply(ctx, room.ID, root.Seq, "b1", "yes, after the tests")
			if err != nil || again.Seq != r1.Seq {
				t.Fatalf("retried reply: %+v, %v; want seq %d", again, err, r1.Seq)
			}
			ev, err := ws.NextOf(ctx, "event")
			if err != nil {
				t.Fatal(err)
			}
			if ev.Str("type") != "event" || ev.Uint("seq") != r1.Seq || ev.Data().Uint("thread_root") != root.Seq {
				t.Fatalf("live reply: %v", ev)
			}
			// A reply sent over the WebSocket.
			ack, err := ws.Request(ctx, map[string]any{"type": "send", "room_id": room.ID, "client_msg_id": "b2", "text": "and @carol reviews", "thread_root": root.Seq})
			if err != nil {
				t.Fatal(err)
			}
			r2 := ack.Uint("seq")
			r3, err := alice.Reply(ctx, room.ID, root.Seq, "a2", "ok")
			if err != nil {
				t.Fatal(err)
			}

			// The timeline leaves replies out; the root shows them.
			check := func(when string) { // when: what the check follows
				t.Helper()
				msgs, err := carol.Messages(ctx, room.ID, 0, 50)
				if err != nil {
					t.Fatal(err)
				}
				if len(msgs) != 2 || msgs[0].Seq != other.Seq || msgs[1].Seq != root.Seq {
					t.Fatalf("%s: timeline %+v, want the two timeline messages", when, msgs)
				}
				if th := msgs[1].Thread; th == nil || th.ReplyCount != 3 || th.LastReplySeq != r3.Seq {
					t.Fatalf("%s: root's thread %+v, want 3 replies, last %d", when, th, r3.Seq)
				}
				gotRoot, replies, err := carol.ThreadMessages(ctx, room.ID, root.Seq, 0)
				if err != nil {
					t.Fatal(err)
				}
				if gotRoot.Seq != root.Seq || len(replies) != 3 || replies[0].Seq != r1.Seq || replies[1].Seq != r2 || replies[2].Seq != r3.Seq {
					t.Fatalf("%s: thread %+v %+v", when, gotRoot, replies)
				}
				// Carol has read the room, not the thread: the room shows no
				// unread reply, the thread three, and carol takes part since
				// a reply mentions her.
				rooms, err := carol.Rooms(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rooms {
					if r.ID == room.ID && r.Unread != 1 { // alice's root
						t.Fatalf("%s: room unread %d, want 1 (replies count in their thread)", when, r.Unread)
					}
				}
				threads, err := carol.Threads(ctx, room.ID)
				if err != nil {
					t.Fatal(err)
				}
				if len(threads) != 1 || threads[0].Root.Seq != root.Seq || threads[0].Unread != 3 || !threads[0].Participating {
					t.Fatalf("%s: carol's threads %+v", when, threads)
				}
			}
			check("live")

			// Reading moves the marker; a deleted reply no longer counts.
			if err := carol.MarkThreadRead(ctx, room.ID, root.Seq, r2); err != nil {
				t.Fatal(err)
			}
			if err := alice.Do(ctx, "DELETE", fmt.Sprintf("/api/v1/rooms/%s/messages/%d", room.ID, r1.Seq), nil, nil); err != nil {
				t.Fatal(err)
			}
			threads, err := carol.Threads(ctx, room.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(threads) != 1 || threads[0].ReadSeq != r2 || threads[0].Unread != 1 || threads[0].Root.Thread.ReplyCount != 2 {
				t.Fatalf("after read and delete: %+v", threads)
			}
			bobs, err := bob.Threads(ctx, room.ID)
			if err != nil || len(bobs) != 1 || !bobs[0].Participating || bobs[0].Unread != 1 {
				t.Fatalf("bob's threads: %+v, %v", bobs, err)
			}

			// Refusals change nothing.
			wantErr := func(what string, err error, status int, code string) {
				t.Helper()
				var ae *apitest.Error
				if !errors.As(err, &ae) || ae.Status != status || code != "" && ae.Code != code {
					t.Errorf("%s: %v, want %d %s", what, err, status, code)
				}
			}
			_, err = bob.Reply(ctx, room.ID, r3.Seq, "b3", "nested")
			wantErr("reply to a reply", err, 400, "invalid")
			_, err = bob.Reply(ctx, room.ID, 999, "b4", "nowhere")
			wantErr("reply to no message", err, 404, "")
			_, err = mallory.Reply(ctx, room.ID, root.Seq, "m1", "let me in")
			wantErr("stranger replies", err, 404, "")
			_, _, err = mallory.ThreadMessages(ctx, room.ID, root.Seq, 0)
			wantErr("stranger reads", err, 404, "")
			_, err = mallory.Threads(ctx, room.ID)
			wantErr("stranger lists", err, 404, "")
			wantErr("stranger marks", mallory.MarkThreadRead(ctx, room.ID, root.Seq, r3.Seq), 404, "")
			_, _, err = carol.ThreadMessages(ctx, room.ID, r3.Seq, 0)
			wantErr("thread of a reply", err, 404, "")
			wantErr("mark a reply's thread", carol.MarkThreadRead(ctx, room.ID, r3.Seq, r3.Seq), 404, "")
			wantErr("mark past the end", carol.MarkThreadRead(ctx, room.ID, root.Seq, 1000), 400, "invalid")
			wantErr("bad root", carol.Do(ctx, "GET", "/api/v1/rooms/"+room.ID+"/threads/x/messages", nil, nil), 404, "")
			wantErr("bad limit", carol.Do(ctx, "GET", fmt.Sprintf("/api/v1/rooms/%s/threads/%d/messages?limit=1000", room.ID, root.Seq), nil, nil), 400, "")
			if err := alice.Do(ctx, "DELETE", fmt.Sprintf("/api/v1/rooms/%s/messages/%d", room.ID, root.Seq), nil, nil); err != nil {
				t.Fatal(err)
			}
			_, err = bob.Reply(ctx, room.ID, root.Seq, "b5", "too late")
			wantErr("reply to a deleted root", err, 400, "invalid")
			// The replies of a deleted root stay readable.
			_, replies, err := carol.ThreadMessages(ctx, room.ID, root.Seq, 0)
			if err != nil || len(replies) != 3 || !strings.Contains(replies[1].Text, "reviews") {
				t.Fatalf("thread of a deleted root: %+v, %v", replies, err)
			}

			// DMs have threads too.
			dm, err := alice.DM(ctx, bob.User.ID)
			if err != nil {
				t.Fatal(err)
			}
			dmRoot, err := alice.Post(ctx, dm.ID, "d1", "psst")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bob.Reply(ctx, dm.ID, dmRoot.Seq, "d2", "what"); err != nil {
				t.Fatal(err)
			}
			dmThreads, err := alice.Threads(ctx, dm.ID)
			if err != nil || len(dmThreads) != 1 || dmThreads[0].Unread != 1 || !dmThreads[0].Participating {
				t.Fatalf("DM threads: %+v, %v", dmThreads, err)
			}
		})
	}
}
