package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/confabhq/confab/internal/apitest"
	"github.com/confabhq/confab/internal/natstest"
	"github.com/confabhq/confab/internal/pgtest"
	"github.com/confabhq/confab/internal/rtctest"
)

// chNodes starts one `confab serve` child per set of extra args, all on
// one PostgreSQL database and one NATS server, with /metrics on --addr.
func chNodes(t *testing.T, extra ...[]string) []*invChild {
	t.Helper()
	pgURL, natsURL := pgtest.NewTestDatabase(t), natstest.Start(t)
	var nodes []*invChild
	for _, e := range extra {
		args := append([]string{"--store", "postgres", "--postgres-url", pgURL, "--nats-url", natsURL, "--metrics-token", testMetricsToken}, e...)
		nodes = append(nodes, startInvChild(t, args))
	}
	return nodes
}

// chJoin joins user's call in room over a WebSocket to base, publishing
// audio and video.
func chJoin(t *testing.T, ctx context.Context, user *apitest.Client, base, room string) *rtctest.WSCall {
	t.Helper()
	ws, err := invOn(user, base).Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	c, err := rtctest.JoinWS(ctx, ws, room, rtctest.Options{Loopback: true, Publish: []string{"audio", "video"}})
	if err != nil {
		t.Fatalf("%s joins the call on %s: %v", user.User.Username, base, err)
	}
	t.Cleanup(c.Close)
	return c
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
	nodes := chNodes(t, nil, nil)
	a, b := nodes[0], nodes[1]
	alice := invSignUp(t, ctx, a.base, "alice")
	bob := invSignUp(t, ctx, b.base, "bob")
	room := invRoom(t, ctx, alice, invOn(bob, b.base))

	ac := chJoin(t, ctx, alice, a.base, room)
	bc := chJoin(t, ctx, bob, b.base, room)
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

	// Bob mutes on node b: alice, on the host, sees it.
	if _, err := bc.WS.Request(ctx, map[string]any{"type": "call.media", "room_id": room, "audio": false, "video": true}); err != nil {
		t.Fatal(err)
	}
	waitCall(t, 10*time.Second, "alice to see bob muted", func() bool {
		audio, video, _, ok := ac.ParticipantMedia(bob.User.ID)
		return ok && !audio && video
	}, describe)

	// Bob hangs up on node b: the host drops him, and the call goes on
	// with alice alone.
	if err := bc.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	waitCall(t, 10*time.Second, "alice to see bob gone", func() bool {
		return slices.Equal(ac.Participants(), []string{alice.User.ID})
	}, describe)
}

// TestCallFromNodeWithoutCalls: a user on a --calls=false node starts a
// call; it is hosted on the calls-enabled node, whose ICE servers the
// join's ack carries, and media flows both ways.
func TestCallFromNodeWithoutCalls(t *testing.T) {
	ctx := invariantCtx(t)
	nodes := chNodes(t, nil, []string{"--calls=false"})
	a, c := nodes[0], nodes[1]
	alice := invSignUp(t, ctx, a.base, "alice")
	carol := invSignUp(t, ctx, c.base, "carol")
	room := invRoom(t, ctx, alice, invOn(carol, c.base))

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
