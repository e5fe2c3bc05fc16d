package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	natsbus "github.com/confabhq/confab/bus/nats"
	"github.com/confabhq/confab/internal/apitest"
	"github.com/confabhq/confab/internal/natstest"
	"github.com/confabhq/confab/internal/pgtest"
	"github.com/confabhq/confab/internal/rtctest"
	natsgo "github.com/nats-io/nats.go"
)

// chNodes starts one `confab serve` child per set of extra args, all on
// one PostgreSQL database and one NATS server, with /metrics on --addr.
func chNodes(t *testing.T, extra ...[]string) []*invChild {
	t.Helper()
	nodes, _ := chNodesOn(t, extra...)
	return nodes
}

// chNodesOn is chNodes, returning the NATS URL too.
func chNodesOn(t *testing.T, extra ...[]string) ([]*invChild, string) {
	t.Helper()
	pgURL, natsURL := pgtest.NewTestDatabase(t), natstest.Start(t)
	var nodes []*invChild
	for _, e := range extra {
		args := append([]string{"--store", "postgres", "--postgres-url", pgURL, "--nats-url", natsURL, "--metrics-token", testMetricsToken}, e...)
		nodes = append(nodes, startInvChild(t, args))
	}
	return nodes, natsURL
}

// chJoin joins user's call in room over a WebSocket to base, publishing
// audio and video.
func chJoin(t *testing.T, ctx context.Context, user *apitest.Client, base, room string) *rtctest.WSCall {
	t.Helper()
	return chJoinWith(t, ctx, user, base, room, rtctest.Options{Loopback: true, Publish: []string{"audio", "video"}})
}

// chJoinWith is chJoin with the client's options.
func chJoinWith(t *testing.T, ctx context.Context, user *apitest.Client, base, room string, opts rtctest.Options) *rtctest.WSCall {
	t.Helper()
	ws, err := invOn(user, base).Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	c, err := rtctest.JoinWS(ctx, ws, room, opts)
	if err != nil {
		t.Fatalf("%s joins the call on %s: %v", user.User.Username, base, err)
	}
	t.Cleanup(c.Close)
	return c
}

// chObserve returns a WebSocket of user subscribed to room from its
// start, to watch the room's events; it is closed at the end of the test.
func chObserve(t *testing.T, ctx context.Context, user *apitest.Client, room string) *apitest.WS {
	t.Helper()
	obs, err := user.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { obs.Close() })
	if _, err := obs.Subscribe(ctx, room, 0); err != nil {
		t.Fatal(err)
	}
	return obs
}

// chMetrics returns a node's /metrics series.
func chMetrics(t *testing.T, node *invChild) map[string]float64 {
	t.Helper()
	return scrape(t, node.base+"/metrics")
}

// TestCallAcrossNodes: a call with one participant on each of two nodes
// is hosted by the first joiner's node; both hear and see each other,
// the host's SFU forwards (the other's forwards nothing), signaling is
// relayed, and mute crosses nodes.
func TestCallAcrossNodes(t *testing.T) {
	ctx := invariantCtx(t)
	nodes, natsURL := chNodesOn(t, nil, nil)
	a, b := nodes[0], nodes[1]
	alice := invSignUp(t, ctx, a.base, "alice")
	bob := invSignUp(t, ctx, b.base, "bob")
	room := invRoom(t, ctx, alice, invOn(bob, b.base))
	// The relay's subjects that carry requests: the host's.
	nc, err := natsgo.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	hostSubjects := make(chan string, 1024)
	if _, err := nc.Subscribe("confab.calls.>", func(m *natsgo.Msg) {
		if strings.Contains(string(m.Data), `"kind":"req"`) {
			select {
			case hostSubjects <- m.Subject:
			default:
			}
		}
	}); err != nil {
		t.Fatal(err)
	}

	// Alice is silent and Bob, on the node that relays, speaks: both are
	// told he is the active speaker.
	ac := chJoinWith(t, ctx, alice, a.base, room, rtctest.Options{Loopback: true, Publish: []string{"audio", "video"}, Level: 127})
	bc := chJoinWith(t, ctx, bob, b.base, room, rtctest.Options{Loopback: true, Publish: []string{"audio", "video"}, Level: 10})
	if ac.CallID == "" || ac.CallID != bc.CallID {
		t.Fatalf("call IDs %q and %q: want one call", ac.CallID, bc.CallID)
	}
	calls := map[string]*rtctest.WSCall{"alice@a": ac, "bob@b": bc}
	describe := func() string {
		return describeCalls(calls)() + fmt.Sprintf("node a: %v\nnode b: %v\n",
			callSeries(chMetrics(t, a)), callSeries(chMetrics(t, b)))
	}
	ids := []string{alice.User.ID, bob.User.ID}
	slices.Sort(ids)
	waitCall(t, 45*time.Second, "each to hear and see the other across nodes", func() bool {
		return hearsAndSees(ac, bob.User.ID) && hearsAndSees(bc, alice.User.ID) &&
			slices.Equal(ac.Participants(), ids) && slices.Equal(bc.Participants(), ids)
	}, describe)
	waitCall(t, 45*time.Second, "both to be told bob speaks", func() bool {
		return slices.Contains(ac.Speakers(), bob.User.ID) && slices.Contains(bc.Speakers(), bob.User.ID)
	}, describe)
	if slices.Contains(ac.Speakers(), alice.User.ID) || slices.Contains(bc.Speakers(), alice.User.ID) {
		t.Errorf("silent alice was named the active speaker: %v, %v", ac.Speakers(), bc.Speakers())
	}
	for name, c := range calls {
		if n := c.RefusedCandidates.Load(); n != 0 {
			t.Errorf("%s: %d of the server's candidates came before their description", name, n)
		}
	}

	ma, mb := chMetrics(t, a), chMetrics(t, b)
	if v := metric(t, ma, "confab_rtp_packets_forwarded_total"); v < 40 {
		t.Errorf("the host's forwarded packets: %v, want at least 40", v)
	}
	if v := metric(t, mb, "confab_rtp_packets_forwarded_total"); v != 0 {
		t.Errorf("node b forwarded %v packets: the call is hosted on node a", v)
	}
	if h, o := metric(t, ma, "confab_calls_hosted"), metric(t, mb, "confab_calls_hosted"); h != 1 || o != 0 {
		t.Errorf("calls hosted: node a %v, node b %v; want 1 and 0", h, o)
	}
	if v := metric(t, mb, `confab_call_relay_messages_total{kind="req"}`); v < 3 {
		t.Errorf("node b relayed %v requests, want its join, offer, answer and candidates", v)
	}
	if v := metric(t, ma, `confab_call_relay_messages_total{kind="push"}`); v < 2 {
		t.Errorf("node a pushed %v messages to node b, want its offer, candidates and states", v)
	}
	if v := metric(t, mb, `confab_call_relay_errors_total{reason="timeout"}`); v != 0 {
		t.Errorf("node b: %v relayed requests timed out", v)
	}

	// Bad envelopes on the host's subject are ignored, a request with a
	// token that is not the host's is refused, and the call goes on.
	var hostSubject string
	select {
	case hostSubject = <-hostSubjects:
	case <-time.After(10 * time.Second):
		t.Fatal("no relayed request seen")
	}
	replies := make(chan *natsgo.Msg, 4)
	if _, err := nc.Subscribe("confab.calls.test-node", func(m *natsgo.Msg) { replies <- m }); err != nil {
		t.Fatal(err)
	}
	nc.Publish(hostSubject, []byte("not json"))
	nc.Publish(hostSubject, []byte(`{"kind":"req","from":"test-node","op":"offer","sdp":"`+strings.Repeat("v", 40<<10)+`"}`))
	forged, _ := json.Marshal(map[string]any{"kind": "req", "id": "forged", "from": "test-node", "op": "restart_ice",
		"room": room, "user": bob.User.ID, "conn": "x", "token": 1 << 40})
	if err := nc.Publish(hostSubject, forged); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-replies:
		if !strings.Contains(string(m.Data), `"code":"not_host"`) {
			t.Errorf("reply to a request with a stale token: %s, want not_host", m.Data)
		}
	case <-time.After(10 * time.Second):
		t.Error("no reply to a request with a stale token")
	}
	waitCall(t, 10*time.Second, "the host to count 2 malformed envelopes", func() bool {
		return metric(t, chMetrics(t, a), `confab_call_relay_errors_total{reason="malformed"}`) >= 2
	}, describe)
	before := ac.Received(bob.User.ID, "video")
	waitCall(t, 10*time.Second, "alice to keep receiving bob", func() bool { return ac.Received(bob.User.ID, "video") > before+20 }, describe)

	// Bob mutes on node b: alice, on the host, sees it.
	if _, err := bc.WS.Request(ctx, map[string]any{"type": "call.media", "room_id": room, "audio": false, "video": true}); err != nil {
		t.Fatal(err)
	}
	waitCall(t, 10*time.Second, "alice to see bob muted", func() bool {
		audio, video, _, ok := ac.ParticipantMedia(bob.User.ID)
		return ok && !audio && video
	}, describe)

	// Bob joins again from node a: his seat on node b is told it moved.
	bc2 := chJoin(t, ctx, bob, a.base, room)
	calls["bob@a"] = bc2
	waitCall(t, 10*time.Second, "bob's node-b connection to be moved", func() bool {
		return slices.Contains(bc.Removed(), "moved")
	}, describe)
	waitCall(t, 30*time.Second, "alice to hear and see bob on his new connection", func() bool {
		return hearsAndSees(bc2, alice.User.ID) && slices.Equal(ac.Participants(), ids)
	}, describe)

	// Bob hangs up; the call goes on with alice alone.
	if err := bc2.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	waitCall(t, 10*time.Second, "alice to see bob gone", func() bool {
		return slices.Equal(ac.Participants(), []string{alice.User.ID})
	}, describe)
}

// TestCallFromNodeWithoutCalls: a user on a --calls=false node starts a
// call; it is hosted on the calls-enabled node, whose ICE servers the
// join's ack carries, and media flows both ways. A participant there
// whose media connections close is recorded as connection_failed by the
// host; one kicked is removed through the host.
func TestCallFromNodeWithoutCalls(t *testing.T) {
	ctx := invariantCtx(t)
	nodes := chNodes(t, nil, []string{"--calls=false"})
	a, c := nodes[0], nodes[1]
	alice := invSignUp(t, ctx, a.base, "alice")
	carol := invSignUp(t, ctx, c.base, "carol")
	dave := invSignUp(t, ctx, c.base, "dave")
	room := invRoom(t, ctx, alice, invOn(carol, c.base), invOn(dave, c.base))

	cc := chJoin(t, ctx, carol, c.base, room) // first: node a is asked to host
	ac := chJoin(t, ctx, alice, a.base, room)
	calls := map[string]*rtctest.WSCall{"carol@c": cc, "alice@a": ac}
	describe := func() string {
		return describeCalls(calls)() + fmt.Sprintf("node a: %v\nnode c: %v\n",
			callSeries(chMetrics(t, a)), callSeries(chMetrics(t, c)))
	}
	if cc.CallID == "" || cc.CallID != ac.CallID {
		t.Fatalf("call IDs %q and %q: want one call", cc.CallID, ac.CallID)
	}
	// Node c runs no TURN server: the ICE servers carol got are node a's.
	urls := func(wc *rtctest.WSCall) []string {
		var out []string
		for _, s := range wc.ICEServers {
			out = append(out, s.URLs...)
		}
		slices.Sort(out)
		return out
	}
	if got, want := urls(cc), urls(ac); len(got) == 0 || !slices.Equal(got, want) {
		t.Errorf("carol's ICE servers %v, want the host's %v", got, want)
	}
	waitCall(t, 45*time.Second, "each to hear and see the other", func() bool {
		return hearsAndSees(ac, carol.User.ID) && hearsAndSees(cc, alice.User.ID)
	}, describe)
	if v := metric(t, chMetrics(t, a), "confab_calls_hosted"); v != 1 {
		t.Errorf("node a hosts %v calls, want 1", v)
	}

	// Dave's media connections close (his WebSocket stays): the host
	// removes him after its grace and records connection_failed.
	obs := chObserve(t, ctx, invOn(alice, a.base), room)
	dc := chJoin(t, ctx, dave, c.base, room)
	waitCall(t, 30*time.Second, "alice to hear and see dave", func() bool { return hearsAndSees(ac, dave.User.ID) }, describe)
	dc.Close()
	for {
		f := nextEvent(t, ctx, obs)
		if f.Str("event") == "call.left" && f.Data().Str("user_id") == dave.User.ID {
			if r := f.Data().Str("reason"); r != "connection_failed" {
				t.Fatalf("dave left with %q, want connection_failed", r)
			}
			break
		}
	}

	// Alice kicks carol: the host removes her, and node c tells her client.
	if err := alice.Do(ctx, "POST", "/api/v1/rooms/"+room+"/members/"+carol.User.ID+"/kick", nil, nil); err != nil {
		t.Fatal(err)
	}
	waitCall(t, 10*time.Second, "carol to be removed from the call", func() bool {
		return slices.Contains(cc.Removed(), "removed") && slices.Equal(ac.Participants(), []string{alice.User.ID})
	}, describe)
}

// callSeries picks the call series of a node's metrics, for failures.
func callSeries(m map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if strings.HasPrefix(k, "confab_call") || strings.HasPrefix(k, "confab_rtp") {
			out[k] = v
		}
	}
	return out
}

// TestCallHostStops: the host node shuts down gracefully: it hands its
// call off at once, and the participants on the other node rejoin there.
func TestCallHostStops(t *testing.T) {
	ctx := invariantCtx(t)
	nodes := chNodes(t, nil, nil)
	a, b := nodes[0], nodes[1]
	alice := invSignUp(t, ctx, a.base, "alice")
	bob := invSignUp(t, ctx, b.base, "bob")
	carol := invSignUp(t, ctx, b.base, "carol")
	room := invRoom(t, ctx, alice, invOn(bob, b.base), invOn(carol, b.base))
	ac := chJoin(t, ctx, alice, a.base, room) // node a hosts
	bc := chJoin(t, ctx, bob, b.base, room)
	cc := chJoin(t, ctx, carol, b.base, room)
	calls := map[string]*rtctest.WSCall{"alice@a": ac, "bob@b": bc, "carol@b": cc}
	waitCall(t, 45*time.Second, "bob and carol to hear and see each other", func() bool {
		return hearsAndSees(bc, carol.User.ID) && hearsAndSees(cc, bob.User.ID)
	}, describeCalls(calls))

	stopped := time.Now()
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	delete(calls, "alice@a")
	waitCall(t, 30*time.Second, "bob and carol to be told to rejoin", func() bool {
		return chRejoinReason(bc, room) == "host_lost" && chRejoinReason(cc, room) == "host_lost"
	}, describeCalls(calls))
	t.Logf("call.rejoin %v after SIGTERM", time.Since(stopped).Round(100*time.Millisecond))
	bc, cc = chRejoin(t, bc), chRejoin(t, cc)
	calls = map[string]*rtctest.WSCall{"bob@b": bc, "carol@b": cc}
	waitCall(t, 45*time.Second, "bob and carol to hear and see each other again", func() bool {
		return hearsAndSees(bc, carol.User.ID) && hearsAndSees(cc, bob.User.ID)
	}, describeCalls(calls))
	t.Logf("media again %v after SIGTERM", time.Since(stopped).Round(100*time.Millisecond))
	select {
	case <-a.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("node a did not stop")
	}
	if !strings.Contains(a.logTail(), "child exited: <nil>") {
		t.Errorf("node a did not stop cleanly:\n%s", a.logTail())
	}
}

// chRejoin waits until wc, told to rejoin, has joined the call again by
// itself (rtctest follows call.rejoin as the browser does): the same call.
func chRejoin(t *testing.T, wc *rtctest.WSCall) *rtctest.WSCall {
	t.Helper()
	waitCall(t, 45*time.Second, "a rejoin after call.rejoin", func() bool {
		rj := wc.Rejoins()
		return len(rj) > 0 && (!rj[len(rj)-1].Joined.IsZero() || rj[len(rj)-1].Err != nil)
	}, func() string { return fmt.Sprint(wc.Rejoins()) })
	rj := wc.Rejoins()
	if err := rj[len(rj)-1].Err; err != nil {
		t.Fatalf("rejoin: %v", err)
	}
	if id, _ := wc.LastJoin(); id != wc.CallID {
		t.Errorf("rejoined call %q, want the same call %q", id, wc.CallID)
	}
	return wc
}

// chRejoinReason returns the reason of the last call.rejoin wc got for
// room (followed, or kept with Others under NoRejoin), or "".
func chRejoinReason(wc *rtctest.WSCall, room string) string {
	reason := ""
	for _, f := range wc.Others() {
		if f.Type() == "call.rejoin" && f.Str("room_id") == room {
			reason = f.Str("reason")
		}
	}
	if rj := wc.Rejoins(); len(rj) > 0 && wc.Room == room {
		reason = rj[len(rj)-1].Reason
	}
	return reason
}

// TestCallHostLost: the host node is SIGKILLed; its lease expires, the
// participants on the other node are told to rejoin (call.rejoin
// host_lost), rejoin on the same WebSocket, and their call, the same one,
// is hosted by their own node, where they hear and see each other again.
// The one who does not rejoin leaves the call (connection_failed) after
// the grace; the host's own participant leaves it with node_lost.
func TestCallHostLost(t *testing.T) {
	ctx := invariantCtx(t)
	nodes := chNodes(t, nil, nil)
	a, b := nodes[0], nodes[1]
	alice := invSignUp(t, ctx, a.base, "alice")
	bob := invSignUp(t, ctx, b.base, "bob")
	carol := invSignUp(t, ctx, b.base, "carol")
	dave := invSignUp(t, ctx, b.base, "dave")
	room := invRoom(t, ctx, alice, invOn(bob, b.base), invOn(carol, b.base), invOn(dave, b.base))

	ac := chJoin(t, ctx, alice, a.base, room) // node a hosts
	bc := chJoin(t, ctx, bob, b.base, room)
	cc := chJoin(t, ctx, carol, b.base, room)
	// Dave's client is gone by the time it is told to rejoin.
	dc := chJoinWith(t, ctx, dave, b.base, room, rtctest.Options{Loopback: true, Publish: []string{"audio", "video"}, NoRejoin: true})
	calls := map[string]*rtctest.WSCall{"alice@a": ac, "bob@b": bc, "carol@b": cc, "dave@b": dc}
	waitCall(t, 45*time.Second, "everyone to hear and see the others", func() bool {
		return hearsAndSees(bc, alice.User.ID, carol.User.ID) && hearsAndSees(cc, alice.User.ID, bob.User.ID)
	}, describeCalls(calls))
	if v := metric(t, chMetrics(t, b), "confab_calls_hosted"); v != 0 {
		t.Fatalf("node b hosts %v calls before the failure, want 0", v)
	}

	killed := time.Now()
	a.kill()
	delete(calls, "alice@a")
	waitCall(t, 30*time.Second, "bob and carol to be told to rejoin", func() bool {
		return chRejoinReason(bc, room) == "host_lost" && chRejoinReason(cc, room) == "host_lost" && chRejoinReason(dc, room) == "host_lost"
	}, describeCalls(calls))
	t.Logf("call.rejoin %v after the host was killed", time.Since(killed).Round(100*time.Millisecond))

	bc, cc = chRejoin(t, bc), chRejoin(t, cc)
	calls = map[string]*rtctest.WSCall{"bob@b": bc, "carol@b": cc}
	waitCall(t, 45*time.Second, "bob and carol to hear and see each other again", func() bool {
		return hearsAndSees(bc, carol.User.ID) && hearsAndSees(cc, bob.User.ID)
	}, describeCalls(calls))
	t.Logf("media again %v after the host was killed", time.Since(killed).Round(100*time.Millisecond))
	if v := metric(t, chMetrics(t, b), "confab_calls_hosted"); v != 1 {
		t.Errorf("node b hosts %v calls after the failover, want 1", v)
	}
	// The timeline shows one call, still going on.
	calls2 := callsOf(t, ctx, invOn(bob, b.base), room)
	if len(calls2) != 1 || calls2[0]["ended_at"] != nil {
		t.Errorf("calls %v: want one, going on", calls2)
	}

	// Dave never rejoins; alice's node is gone: each leaves the call, with
	// the reason.
	obs := chObserve(t, ctx, invOn(bob, b.base), room)
	left := map[string]string{}
	for left[alice.User.ID] == "" || left[dave.User.ID] == "" {
		f := nextEvent(t, ctx, obs)
		switch f.Str("event") {
		case "call.left":
			left[f.Data().Str("user_id")] = f.Data().Str("reason")
		case "call.ended":
			t.Fatalf("the call ended; left so far: %v", left)
		}
	}
	if left[alice.User.ID] != "node_lost" || left[dave.User.ID] != "connection_failed" || left[bob.User.ID] != "" || left[carol.User.ID] != "" {
		t.Errorf("left the call: %v; want alice node_lost, dave connection_failed, bob and carol still in", left)
	}
}

// TestCallHostLosesLease: the host's lease disappears under it (as when
// NATS lost it, or a renewal came too late): the host stops hosting at
// once and its own participant is told to rejoin, as is the one on the
// other node, which now hosts the call; both hear and see each other
// again, in the same call.
func TestCallHostLosesLease(t *testing.T) {
	ctx := invariantCtx(t)
	nodes, natsURL := chNodesOn(t, nil, nil)
	a, b := nodes[0], nodes[1]
	alice := invSignUp(t, ctx, a.base, "alice")
	bob := invSignUp(t, ctx, b.base, "bob")
	room := invRoom(t, ctx, alice, invOn(bob, b.base))
	ac := chJoin(t, ctx, alice, a.base, room) // node a hosts
	bc := chJoin(t, ctx, bob, b.base, room)
	calls := map[string]*rtctest.WSCall{"alice@a": ac, "bob@b": bc}
	waitCall(t, 45*time.Second, "each to hear and see the other", func() bool {
		return hearsAndSees(ac, bob.User.ID) && hearsAndSees(bc, alice.User.ID)
	}, describeCalls(calls))

	nc, err := natsgo.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(natsbus.HostsBucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(room); err != nil {
		t.Fatal(err)
	}
	waitCall(t, 30*time.Second, "both to be told to rejoin", func() bool {
		return chRejoinReason(ac, room) == "host_lost" && chRejoinReason(bc, room) == "host_lost"
	}, describeCalls(calls))
	ac, bc = chRejoin(t, ac), chRejoin(t, bc)
	calls = map[string]*rtctest.WSCall{"alice@a": ac, "bob@b": bc}
	waitCall(t, 45*time.Second, "each to hear and see the other again", func() bool {
		return hearsAndSees(ac, bob.User.ID) && hearsAndSees(bc, alice.User.ID)
	}, describeCalls(calls))
	ha, hb := metric(t, chMetrics(t, a), "confab_calls_hosted"), metric(t, chMetrics(t, b), "confab_calls_hosted")
	if ha+hb != 1 {
		t.Errorf("calls hosted: node a %v, node b %v; want one host", ha, hb)
	}
	if got := callsOf(t, ctx, alice, room); len(got) != 1 || got[0]["ended_at"] != nil {
		t.Errorf("calls %v: want one, going on", got)
	}
}
