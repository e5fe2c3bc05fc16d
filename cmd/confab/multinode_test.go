package main

// TestMultiNode runs three confab nodes as child processes on one
// PostgreSQL database and one NATS server (embedded in the test process),
// with clients of the same rooms on different nodes, and checks what a
// single node guarantees: every event reaches every subscriber once, in
// seq order; typing and presence cross nodes; concurrent senders on
// different nodes make one contiguous order; and a node killed with
// SIGKILL loses nothing: its users go offline elsewhere within the node
// lease, its clients resume on another node and get exactly what they
// missed, and a send that was in flight when it died is posted once when
// retried elsewhere.

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/confabhq/confab/bus"
	natsbus "github.com/confabhq/confab/bus/nats"
	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/eventstore/postgres"
	"github.com/confabhq/confab/internal/apitest"
	"github.com/confabhq/confab/internal/natstest"
	"github.com/confabhq/confab/internal/pgtest"
	natsgo "github.com/nats-io/nats.go"
)

// mnConn is a WebSocket whose frames (other than answers to requests) are
// all recorded.
type mnConn struct {
	name string
	ws   *apitest.WS
	*invSender

	mu     sync.Mutex
	frames []apitest.Frame
	err    error
	done   chan struct{}
}

// mnDial opens a WebSocket as c and records its frames.
func mnDial(t *testing.T, ctx context.Context, name string, c *apitest.Client) *mnConn {
	t.Helper()
	s := invDialSender(t, ctx, c)
	mc := &mnConn{name: name, ws: s.ws, invSender: s, done: make(chan struct{})}
	go func() {
		defer close(mc.done)
		for {
			f, err := s.ws.Next(ctx)
			mc.mu.Lock()
			if err != nil {
				mc.err = err
				mc.mu.Unlock()
				return
			}
			mc.frames = append(mc.frames, f)
			mc.mu.Unlock()
		}
	}()
	return mc
}

// events returns the room's event frames received so far.
func (mc *mnConn) events(room string) []invEvent {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	var evs []invEvent
	for _, f := range mc.frames {
		if f.Type() == "event" && f.Str("room_id") == room {
			evs = append(evs, invEventOf(f))
		}
	}
	return evs
}

// has reports whether a frame matching pred has arrived.
func (mc *mnConn) has(pred func(apitest.Frame) bool) bool {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	return slices.ContainsFunc(mc.frames, pred)
}

// waitFrame waits for a frame matching pred.
func (mc *mnConn) waitFrame(t *testing.T, ctx context.Context, limit time.Duration, what string, pred func(apitest.Frame) bool) {
	t.Helper()
	invWaitFor(t, ctx, limit, mc.name+" to get "+what, func() (bool, string) {
		if mc.has(pred) {
			return true, ""
		}
		mc.mu.Lock()
		defer mc.mu.Unlock()
		return false, fmt.Sprintf("%d frames, connection error %v", len(mc.frames), mc.err)
	})
}

// waitSeq waits until the room's event seq has arrived.
func (mc *mnConn) waitSeq(t *testing.T, ctx context.Context, room string, seq uint64) {
	t.Helper()
	invWaitFor(t, ctx, time.Minute, fmt.Sprintf("%s to receive seq %d", mc.name, seq), func() (bool, string) {
		evs := mc.events(room)
		if n := len(evs); n > 0 && evs[n-1].Seq >= seq {
			return true, ""
		}
		mc.mu.Lock()
		defer mc.mu.Unlock()
		return false, fmt.Sprintf("%d events, connection error %v", len(evs), mc.err)
	})
}

func presenceOf(user *apitest.Client, status string) func(apitest.Frame) bool {
	return func(f apitest.Frame) bool {
		p, ok := f.PresenceOf(user.User.ID)
		return ok && p.Str("status") == status
	}
}

func typingOf(room string, user *apitest.Client) func(apitest.Frame) bool {
	return func(f apitest.Frame) bool {
		return f.Type() == "typing" && f.Str("room_id") == room && f.Str("user_id") == user.User.ID
	}
}

// mnSameEvents checks that every connection saw the room's events 1..last
// without a gap, all the same, and every acknowledged message at its seq.
func mnSameEvents(t *testing.T, ctx context.Context, room string, last uint64, acked *invLedger, conns ...*mnConn) []invEvent {
	t.Helper()
	var first []invEvent
	for i, mc := range conns {
		mc.waitSeq(t, ctx, room, last)
		evs := invUpTo(mc.events(room), last)
		if g := invGap(evs, 1); g != "" {
			t.Fatalf("%s: %s", mc.name, g)
		}
		if i == 0 {
			first = evs
			invCheckAcked(t, mc.name, evs, acked.all())
			continue
		}
		if !slices.Equal(evs, first) {
			for j := range min(len(evs), len(first)) {
				if evs[j] != first[j] {
					t.Fatalf("%s sees %v where %s sees %v", mc.name, evs[j], conns[0].name, first[j])
				}
			}
		}
	}
	return first
}

func TestMultiNode(t *testing.T) {
	started := time.Now()
	ctx := invariantCtx(t)
	pgURL, natsURL := pgtest.NewTestDatabase(t), natstest.Start(t)
	args := []string{"--store", "postgres", "--postgres-url", pgURL, "--nats-url", natsURL}
	var nodes []*invChild
	for range 3 {
		nodes = append(nodes, startInvChild(t, args))
	}
	n0, n1, n2 := nodes[0].base, nodes[1].base, nodes[2].base
	t.Logf("3 nodes up after %v", time.Since(started).Round(time.Millisecond))

	// Accounts and the room are made through different nodes.
	alice := invSignUp(t, ctx, n0, "alice")
	bob := invOn(invSignUp(t, ctx, n1, "bob"), n1)
	carol := invOn(invSignUp(t, ctx, n2, "carol"), n2)
	dave := invSignUp(t, ctx, n2, "dave")
	room := invRoom(t, ctx, alice, bob, carol, invOn(dave, n2))

	// Alice (node 0) and Bob (node 1) are online first; Carol comes on
	// node 2, Dave on nodes 2 and 0. Presence crosses nodes.
	aliceWS := mnDial(t, ctx, "alice@0", alice)
	bobWS := mnDial(t, ctx, "bob@1", bob)
	carolWS := mnDial(t, ctx, "carol@2", carol)
	daveWS2 := mnDial(t, ctx, "dave@2", invOn(dave, n2))
	daveWS0 := mnDial(t, ctx, "dave@0", invOn(dave, n0))
	aliceWS.waitFrame(t, ctx, time.Minute, "carol online", presenceOf(carol, "online"))
	bobWS.waitFrame(t, ctx, time.Minute, "carol online", presenceOf(carol, "online"))
	carolWS.waitFrame(t, ctx, time.Minute, "bob online", presenceOf(bob, "online"))
	conns := []*mnConn{aliceWS, bobWS, carolWS, daveWS2, daveWS0}
	for _, mc := range conns {
		if _, err := mc.ws.Subscribe(ctx, room, 0); err != nil {
			t.Fatalf("%s subscribes: %v", mc.name, err)
		}
	}

	// Typing crosses nodes.
	if err := bobWS.ws.Send(map[string]any{"type": "typing", "room_id": room}); err != nil {
		t.Fatal(err)
	}
	for _, mc := range []*mnConn{aliceWS, carolWS, daveWS0} {
		mc.waitFrame(t, ctx, time.Minute, "bob typing", typingOf(room, bob))
	}

	// Concurrent senders on the three nodes, and a REST poster: one
	// contiguous order for everyone.
	acked := newInvLedger()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for _, mc := range []*mnConn{aliceWS, bobWS, carolWS} {
		wg.Go(func() {
			for i := range 30 {
				id := fmt.Sprintf("%s-%d", mc.name, i)
				text := "message " + id
				seq, err := mc.send(ctx, room, id, text)
				if err != nil {
					errs <- fmt.Errorf("%s: %w", id, err)
					return
				}
				acked.add(invAcked{Seq: seq, Sender: mc.user, ID: id, Text: text})
			}
		})
	}
	wg.Go(func() {
		for i := range 10 {
			id := fmt.Sprintf("dave-rest@1-%d", i)
			m, err := invPost(ctx, invOn(dave, n1), room, id, "message "+id)
			if err != nil {
				errs <- fmt.Errorf("%s: %w", id, err)
				return
			}
			acked.add(invAcked{Seq: m.Seq, Sender: dave.User.ID, ID: id, Text: "message " + id})
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	acked.check(t)
	if n := acked.count(); n != 100 {
		t.Fatalf("%d distinct acked seqs, want 100", n)
	}
	mnSameEvents(t, ctx, room, acked.maxSeq(), acked, conns...)
	t.Logf("100 concurrent messages from 3 nodes seen alike by 5 connections after %v", time.Since(started).Round(time.Millisecond))

	// Node 2 is killed with SIGKILL while everyone talks, Carol included.
	chat := startInvChat(ctx, invChatConfig{
		room: room, prefix: "before-kill", ledger: acked,
		senders: []*invSender{aliceWS.invSender, bobWS.invSender}, posters: []*apitest.Client{invOn(dave, n1)},
	})
	carolSent := make(chan string, 1) // the ID of the send that failed
	go func() {
		for i := 0; ; i++ {
			id := fmt.Sprintf("carol-kill-%d", i)
			seq, err := carolWS.send(ctx, room, id, "message "+id)
			if err != nil {
				carolSent <- id
				return
			}
			acked.add(invAcked{Seq: seq, Sender: carol.User.ID, ID: id, Text: "message " + id})
		}
	}()
	killAt := acked.maxSeq() + 30
	invWaitFor(t, ctx, time.Minute, "30 more messages", func() (bool, string) {
		return acked.maxSeq() >= killAt, fmt.Sprint("last acked ", acked.maxSeq())
	})
	nodes[2].kill()
	killed := time.Now()
	inflight := <-carolSent
	<-carolWS.done
	invWaitFor(t, ctx, time.Minute, "10 messages after the kill", func() (bool, string) {
		return acked.maxSeq() >= killAt+10, fmt.Sprint("last acked ", acked.maxSeq())
	})
	chat.stopClean(t)
	carolBefore := carolWS.events(room)
	if g := invGap(carolBefore, 1); g != "" {
		t.Fatalf("carol before the kill: %s", g)
	}
	carolLast := carolBefore[len(carolBefore)-1].Seq
	t.Logf("node 2 killed; carol had seq %d, her send %s was in flight", carolLast, inflight)

	// The survivors reap node 2's connections when its lease runs out:
	// Carol goes offline everywhere; Dave stays online (node 0).
	aliceWS.waitFrame(t, ctx, 2*time.Minute, "carol offline", presenceOf(carol, "offline"))
	bobWS.waitFrame(t, ctx, time.Minute, "carol offline", presenceOf(carol, "offline"))
	invWaitPresence(t, ctx, alice, carol, "offline", time.Minute)
	invWaitPresence(t, ctx, bob, carol, "offline", time.Minute)
	t.Logf("carol offline on the survivors %v after the kill", time.Since(killed).Round(time.Millisecond))
	for _, c := range []*apitest.Client{alice, bob} {
		u, err := c.GetUser(ctx, dave.User.ID)
		if err != nil {
			t.Fatal(err)
		}
		if u.Status != "online" {
			t.Errorf("dave is %s on %s, want online: his node 0 connection is open", u.Status, c.Base)
		}
	}

	// Carol reconnects to node 1 while the others talk, resumes after her
	// last seq, and retries her in-flight send.
	chat = startInvChat(ctx, invChatConfig{
		room: room, prefix: "after-kill", ledger: acked,
		senders: []*invSender{aliceWS.invSender, bobWS.invSender}, posters: []*apitest.Client{invOn(dave, n0)},
	})
	ackedBefore := acked.maxSeq()
	carol = invOn(carol, n1)
	carolWS = mnDial(t, ctx, "carol@1", carol)
	ack, err := carolWS.ws.Subscribe(ctx, room, carolLast)
	if err != nil {
		t.Fatal(err)
	}
	if ack["too_many_missed"] == true || ack.Uint("seq") < ackedBefore {
		t.Fatalf("carol resubscribes after %d: ack %v; want seq >= %d, no too_many_missed", carolLast, ack, ackedBefore)
	}
	seq, err := carolWS.send(ctx, room, inflight, "message "+inflight)
	if err != nil {
		t.Fatalf("carol retries %s on node 1: %v", inflight, err)
	}
	acked.add(invAcked{Seq: seq, Sender: carol.User.ID, ID: inflight, Text: "message " + inflight})
	invWaitFor(t, ctx, time.Minute, "alice to see carol online again", func() (bool, string) {
		fs := aliceWS.framesOf(func(f apitest.Frame) bool { _, ok := f.PresenceOf(carol.User.ID); return ok })
		var statuses []string
		for _, f := range fs {
			p, _ := f.PresenceOf(carol.User.ID)
			statuses = append(statuses, p.Str("status"))
		}
		return len(fs) >= 3 && statuses[len(statuses)-1] == "online", strings.Join(statuses, ",")
	})
	invWaitFor(t, ctx, time.Minute, "10 live events for carol", func() (bool, string) {
		evs := carolWS.events(room)
		return len(evs) > 0 && evs[len(evs)-1].Seq >= ack.Uint("seq")+10, fmt.Sprint(len(evs), " events")
	})
	chat.stopClean(t)
	last := invSentinel(t, ctx, alice, room, "the-end", acked)
	acked.check(t)

	// Everyone, Carol across her two connections, saw the same events,
	// each once, and every acknowledged message at its seq.
	carolWS.waitSeq(t, ctx, room, last)
	all := mnSameEvents(t, ctx, room, last, acked, aliceWS, bobWS, daveWS0)
	carolAll := append(carolBefore, invUpTo(carolWS.events(room), last)...)
	if g := invGap(carolAll, 1); g != "" {
		t.Fatalf("carol across the kill: %s", g)
	}
	if !slices.Equal(carolAll, all) {
		t.Errorf("carol's %d events across the kill differ from alice's %d", len(carolAll), len(all))
	}
	n := 0
	for _, e := range all {
		if e.Sender == carol.User.ID && e.ID == inflight {
			n++
		}
	}
	if n != 1 {
		t.Errorf("carol's retried message %s appears %d times, want once", inflight, n)
	}
	if bobWS.has(typingOf(room, bob)) {
		t.Error("bob got his own typing frame")
	}
	mnCheckStream(t, ctx, pgURL, natsURL)
	t.Logf("%d events, everyone alike, after %v", last, time.Since(started).Round(time.Millisecond))
}

// framesOf returns the frames that match pred.
func (mc *mnConn) framesOf(pred func(apitest.Frame) bool) []apitest.Frame {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	var out []apitest.Frame
	for _, f := range mc.frames {
		if pred(f) {
			out = append(out, f)
		}
	}
	return out
}

// mnCheckStream checks that the relays of all nodes, the killed one
// included, put every stored event on the JetStream stream once, in one
// chain of messages.
func mnCheckStream(t *testing.T, ctx context.Context, pgURL, natsURL string) {
	t.Helper()
	store, err := postgres.Open(ctx, pgURL, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var stored []eventstore.RecordedEvent
	for {
		after := eventstore.Start
		if len(stored) > 0 {
			after = stored[len(stored)-1].Position
		}
		evs, err := store.ReadAll(ctx, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		stored = append(stored, evs...)
	}

	nc, err := natsgo.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	sub, err := js.SubscribeSync(bus.Topic, natsgo.OrderedConsumer(), natsgo.DeliverAll())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	var carried []eventstore.RecordedEvent
	msgs := 0
	invWaitFor(t, ctx, time.Minute, "the stream to carry every stored event", func() (bool, string) {
		for {
			m, err := sub.NextMsg(100 * time.Millisecond)
			if err != nil {
				break
			}
			prev, evs, err := bus.Decode(message.NewMessage(m.Header.Get("_watermill_message_uuid"), m.Data))
			if err != nil {
				t.Fatal(err)
			}
			end := eventstore.Start
			if len(carried) > 0 {
				end = carried[len(carried)-1].Position
			}
			if prev != end {
				t.Fatalf("stream message %d follows %v, but the one before ended at %v", msgs, prev, end)
			}
			msgs++
			carried = append(carried, evs...)
		}
		return len(carried) >= len(stored), fmt.Sprintf("%d of %d events in %d messages", len(carried), len(stored), msgs)
	})
	if len(carried) != len(stored) {
		t.Fatalf("the stream carried %d events, the store has %d", len(carried), len(stored))
	}
	for i := range stored {
		if carried[i].ID != stored[i].ID || carried[i].Position != stored[i].Position {
			t.Fatalf("stream event %d is %s at %v, the store's is %s at %v", i, carried[i].ID, carried[i].Position, stored[i].ID, stored[i].Position)
		}
	}
	t.Logf("the stream carried all %d events once, in %d messages (stream %s)", len(stored), msgs, natsbus.DefaultStream)
}

// TestMultiNodeServe starts and stops a node on NATS in-process: it
// serves, and shuts down gracefully.
func TestMultiNodeServe(t *testing.T) {
	addr, stop := startServe(t, "--store", "postgres", "--postgres-url", pgtest.NewTestDatabase(t), "--nats-url", natstest.Start(t))
	if code, err := getHealth(addr); code != 200 || err != nil {
		t.Fatalf("GET /healthz: %d %v", code, err)
	}
	if err := stop(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
}

func TestMultiNodeFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--data", t.TempDir(), "--nats-url", "nats://127.0.0.1:1"}, "--store postgres"},
		{[]string{"--store", "postgres", "--postgres-url", pgtest.NewTestDatabase(t), "--nats-url", "nats://127.0.0.1:1"}, "nats"},
	}
	for _, tt := range tests {
		m := &Main{Stdout: io.Discard, Stderr: io.Discard}
		err := m.Run(context.Background(), append([]string{"confab", "serve", "--addr", "127.0.0.1:0"}, tt.args...))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("serve %v: err %v, want one mentioning %q", tt.args, err, tt.want)
		}
	}
}
