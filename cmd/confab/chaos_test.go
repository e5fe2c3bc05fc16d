package main

// TestChaos runs two confab nodes as child processes on a PostgreSQL
// server and a NATS server of its own, keeps clients of one room chatting
// on both nodes (two WebSocket senders and a REST poster, about 50
// messages/s), and causes one fault at a time: PostgreSQL restarted fast
// and immediate, held down for a few seconds, its connections terminated
// with pg_terminate_backend; NATS killed and restarted; then one node
// stopped with SIGTERM and with SIGKILL and started again. In each, no
// node exits (but the one signalled), the health endpoints tell the truth (/healthz stays 200, /readyz
// says 503 while a dependency is away and 200 again after), clients that
// were told `unavailable` retry and succeed after recovery, nobody is told
// `internal`, and in the end every connection saw every acknowledged
// message once, in one contiguous order. Recovery times are logged, not
// asserted.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/confabhq/confab/internal/apitest"
	"github.com/confabhq/confab/internal/natstest"
	"github.com/confabhq/confab/internal/pgtest"
	"github.com/gorilla/websocket"
)

// chaosProbe returns the status and body of GET base+path.
func chaosProbe(base, path string) (int, string) {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(base + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// chaosHealth watches the health endpoints of the nodes while a fault
// lasts.
type chaosHealth struct {
	stop chan struct{}
	done chan struct{}

	mu         sync.Mutex
	unready    map[string]string // node -> a 503 reason seen
	notAlive   []string          // /healthz answers that were not 200
	firstReady map[string]time.Time
}

// watchHealth polls /healthz and /readyz of the nodes until stopped.
func watchHealth(nodes map[string]*invChild) *chaosHealth {
	h := &chaosHealth{stop: make(chan struct{}), done: make(chan struct{}), unready: map[string]string{}}
	go func() {
		defer close(h.done)
		for {
			for name, n := range nodes {
				if code, body := chaosProbe(n.base, "/healthz"); code != http.StatusOK {
					h.mu.Lock()
					h.notAlive = append(h.notAlive, fmt.Sprintf("%s: %d %s", name, code, body))
					h.mu.Unlock()
				}
				if code, body := chaosProbe(n.base, "/readyz"); code == http.StatusServiceUnavailable {
					h.mu.Lock()
					h.unready[name] = body
					h.mu.Unlock()
				}
			}
			select {
			case <-h.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return h
}

func (h *chaosHealth) end() {
	close(h.stop)
	<-h.done
}

// chaosChat sends messages to a room from WebSocket senders and a REST
// poster until stopped, retrying what the server refuses with
// `unavailable` (or `rate_limited`, `conflict`) under the same
// client_msg_id, and counting the refusals by code.
type chaosChat struct {
	stopping atomic.Bool
	wg       sync.WaitGroup

	mu      sync.Mutex
	refused map[string]int
	errs    []error
}

func startChaosChat(ctx context.Context, room, prefix string, senders []*invSender, poster *apitest.Client, ledger *invLedger) *chaosChat {
	c := &chaosChat{refused: map[string]int{}}
	run := func(n int, send func(id, text string) (invAcked, error)) {
		c.wg.Go(func() {
			for i := 0; !c.stopping.Load(); i++ {
				id := fmt.Sprintf("%s-%d-%d", prefix, n, i)
				text := "message " + id
				for {
					m, err := send(id, text)
					if err == nil {
						ledger.add(m)
						break
					}
					var ae *apitest.Error
					if !errors.As(err, &ae) || !invRetryable(err) || ctx.Err() != nil {
						c.mu.Lock()
						c.errs = append(c.errs, fmt.Errorf("send %s: %w", id, err))
						c.mu.Unlock()
						return
					}
					c.mu.Lock()
					c.refused[ae.Code]++
					c.mu.Unlock()
					time.Sleep(50 * time.Millisecond)
				}
			}
		})
	}
	for n, s := range senders {
		run(n, func(id, text string) (invAcked, error) {
			if err := s.lim.Wait(ctx); err != nil {
				return invAcked{}, err
			}
			seq, err := s.ws.SendMessage(ctx, room, id, text)
			return invAcked{Seq: seq, Sender: s.user, ID: id, Text: text}, err
		})
	}
	run(len(senders), func(id, text string) (invAcked, error) {
		time.Sleep(50 * time.Millisecond)
		m, err := poster.Post(ctx, room, id, text)
		return invAcked{Seq: m.Seq, Sender: poster.User.ID, ID: id, Text: text}, err
	})
	return c
}

// stop waits for the senders to finish their message and fails the test
// on any send that was refused for good; it returns the refusals retried.
func (c *chaosChat) stop(t *testing.T) map[string]int {
	t.Helper()
	c.stopping.Store(true)
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, err := range c.errs {
		t.Errorf("chat: %v", err)
	}
	return c.refused
}

func TestChaos(t *testing.T) {
	started := time.Now()
	ctx := invariantCtx(t)
	pg := pgtest.StartForTest(t)
	pgURL, err := pg.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	dbname := strings.TrimPrefix(u.Path, "/")
	nats := natstest.New(t)
	args := []string{"--store", "postgres", "--postgres-url", pgURL, "--nats-url", nats.URL(), "--metrics-token", testMetricsToken}
	nodes := map[string]*invChild{"node0": startInvChild(t, args), "node1": startInvChild(t, args)}
	n0, n1 := nodes["node0"].base, nodes["node1"].base
	t.Logf("2 nodes up after %v", time.Since(started).Round(time.Millisecond))

	alice := invSignUp(t, ctx, n0, "alice")
	bob := invOn(invSignUp(t, ctx, n1, "bob"), n1)
	carol := invSignUp(t, ctx, n0, "carol")
	room := invRoom(t, ctx, alice, bob, invOn(carol, n1))
	aliceWS := mnDial(t, ctx, "alice@0", alice)
	bobWS := mnDial(t, ctx, "bob@1", bob)
	carolWS := mnDial(t, ctx, "carol@1", invOn(carol, n1))
	for _, mc := range []*mnConn{aliceWS, bobWS, carolWS} {
		if _, err := mc.ws.Subscribe(ctx, room, 0); err != nil {
			t.Fatalf("%s subscribes: %v", mc.name, err)
		}
	}
	acked := newInvLedger()
	senders := []*invSender{aliceWS.invSender, bobWS.invSender}
	poster := invOn(carol, n0)

	// alive fails the test if a node exited.
	alive := func(when string) {
		t.Helper()
		for name, n := range nodes {
			select {
			case <-n.exited:
				t.Fatalf("%s exited %s:\n%s", name, when, n.logTail())
			default:
			}
		}
	}
	// ready waits until both nodes answer /readyz with 200.
	ready := func(what string) {
		t.Helper()
		invWaitFor(t, ctx, 2*time.Minute, "both nodes ready "+what, func() (bool, string) {
			for name, n := range nodes {
				if code, body := chaosProbe(n.base, "/readyz"); code != http.StatusOK {
					return false, fmt.Sprintf("%s: %d %s", name, code, body)
				}
			}
			return true, ""
		})
	}
	ready("at the start")

	faults := []struct {
		name string
		// down says whether /readyz must have said 503 during the fault.
		down  bool
		fault func(t *testing.T)
	}{
		{"postgres restart fast", false, func(t *testing.T) {
			if err := pg.Restart("fast"); err != nil {
				t.Fatal(err)
			}
		}},
		{"postgres restart immediate", false, func(t *testing.T) {
			if err := pg.Restart("immediate"); err != nil {
				t.Fatal(err)
			}
		}},
		{"postgres down for 3s", true, func(t *testing.T) {
			if err := pg.Halt("immediate"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * time.Second) // the fault itself, not a wait for a state
			if err := pg.Resume(); err != nil {
				t.Fatal(err)
			}
		}},
		{"postgres connections terminated", false, func(t *testing.T) {
			n, err := pg.TerminateBackends(ctx, dbname)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("terminated %d connections", n)
		}},
		{"nats down for 3s", true, func(t *testing.T) {
			nats.Shutdown()
			time.Sleep(3 * time.Second) // the fault itself
			nats.Resume(t)
		}},
	}
	for i, f := range faults {
		t.Run(strings.ReplaceAll(f.name, " ", "_"), func(t *testing.T) {
			chat := startChaosChat(ctx, room, fmt.Sprintf("f%d", i), senders, poster, acked)
			before := acked.maxSeq() + 30
			invWaitFor(t, ctx, time.Minute, "30 messages before the fault", func() (bool, string) {
				return acked.maxSeq() >= before, fmt.Sprint("last acked ", acked.maxSeq())
			})
			health := watchHealth(nodes)
			faulted := time.Now()
			f.fault(t)
			ended := time.Now()
			ready("after " + f.name)
			recovered := time.Now()
			health.end()
			after := acked.maxSeq() + 30
			invWaitFor(t, ctx, time.Minute, "30 messages after the fault", func() (bool, string) {
				return acked.maxSeq() >= after, fmt.Sprint("last acked ", acked.maxSeq())
			})
			served := time.Now()
			refused := chat.stop(t)
			alive("after " + f.name)
			if len(health.notAlive) > 0 {
				t.Errorf("/healthz (liveness) failed during the fault: %v", health.notAlive[:min(3, len(health.notAlive))])
			}
			if f.down {
				for name := range nodes {
					if health.unready[name] == "" {
						t.Errorf("%s: /readyz never said 503 while %s", name, f.name)
					}
				}
			}
			if f.down && strings.HasPrefix(f.name, "postgres") {
				// The loops' metrics show the retries, and that they run again.
				for name, n := range nodes {
					m := scrape(t, n.base+"/metrics")
					retries := 0.0
					for _, l := range []string{"relay", "projections", "hub follower"} {
						retries += metric(t, m, `confab_loop_retries_total{loop="`+l+`"}`)
						if v := metric(t, m, `confab_loop_state{loop="`+l+`",state="running"}`); v != 1 {
							t.Errorf("%s: loop %s not running after %s: %v", name, l, f.name, v)
						}
					}
					if retries == 0 {
						t.Errorf("%s: no loop retries counted during %s", name, f.name)
					}
				}
			}
			for name, n := range nodes {
				if tail := n.logTail(); strings.Contains(tail, `"msg":"internal error"`) {
					t.Errorf("%s logged internal errors during %s:\n%s", name, f.name, tail)
				}
			}
			t.Logf("%s: fault lasted %v; both nodes ready %v after it ended, sending again %v after; refusals retried %v; /readyz said %v",
				f.name, ended.Sub(faulted).Round(time.Millisecond), recovered.Sub(ended).Round(time.Millisecond),
				served.Sub(ended).Round(time.Millisecond), refused, health.unready)
		})
		if t.Failed() {
			break
		}
	}

	// Node 1 is stopped under load, gracefully then with SIGKILL: node 0
	// goes on serving, node 1's clients get close 1001 (SIGTERM) or lose
	// their connection, and resume on node 1 once it is back, after their
	// last seq; a send in flight when it went is retried there, once.
	var earlier = map[string][]invEvent{} // events of connections that ended, by user
	parent := t                           // the restarted node and the new connections outlive the subtest
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		if t.Failed() {
			break
		}
		t.Run("node_"+sig.String(), func(t *testing.T) {
			chat := startChaosChat(ctx, room, "sig"+strconv.Itoa(int(sig)), []*invSender{aliceWS.invSender}, poster, acked)
			inflight := make(chan string, 1)
			go func() {
				for i := 0; ; i++ {
					id := fmt.Sprintf("bob-%d-%d", sig, i)
					seq, err := bobWS.send(ctx, room, id, "message "+id)
					if err != nil {
						inflight <- id
						return
					}
					acked.add(invAcked{Seq: seq, Sender: bob.User.ID, ID: id, Text: "message " + id})
				}
			}()
			before := acked.maxSeq() + 30
			invWaitFor(t, ctx, time.Minute, "30 messages before the signal", func() (bool, string) {
				return acked.maxSeq() >= before, fmt.Sprint("last acked ", acked.maxSeq())
			})
			health := watchHealth(map[string]*invChild{"node0": nodes["node0"]})
			if err := nodes["node1"].cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			signaled := time.Now()
			select {
			case <-nodes["node1"].exited:
			case <-time.After(time.Minute):
				t.Fatalf("node 1 did not exit after %v", sig)
			}
			exited := time.Now()
			id := <-inflight
			<-bobWS.done
			<-carolWS.done
			if code := bobWS.ws.CloseCode(); sig == syscall.SIGTERM && code != websocket.CloseGoingAway {
				t.Errorf("bob's WebSocket closed with %d (%v), want 1001 going away", code, bobWS.ws.CloseErr)
			}
			after := acked.maxSeq() + 30
			invWaitFor(t, ctx, time.Minute, "node 0 to serve 30 messages while node 1 is down", func() (bool, string) {
				return acked.maxSeq() >= after, fmt.Sprint("last acked ", acked.maxSeq())
			})

			nodes["node1"] = startInvChild(parent, args)
			n1 = nodes["node1"].base
			ready("after node 1 restarted")
			restarted := time.Now()
			resume := func(old *mnConn, c *apitest.Client, name string) *mnConn {
				evs := old.events(room)
				if g := invGap(evs, 1+uint64(len(earlier[c.User.ID]))); g != "" {
					t.Fatalf("%s before %v: %s", old.name, sig, g)
				}
				earlier[c.User.ID] = append(earlier[c.User.ID], evs...)
				all := earlier[c.User.ID]
				mc := mnDial(parent, ctx, name, invOn(c, n1))
				ack, err := mc.ws.Subscribe(ctx, room, all[len(all)-1].Seq)
				if err != nil || ack["too_many_missed"] == true {
					t.Fatalf("%s resubscribes after %d: %v %v", name, all[len(all)-1].Seq, ack, err)
				}
				return mc
			}
			bobWS = resume(bobWS, bob, "bob@1 after "+sig.String())
			carolWS = resume(carolWS, carol, "carol@1 after "+sig.String())
			seq, err := bobWS.send(ctx, room, id, "message "+id)
			if err != nil {
				t.Fatalf("bob retries %s on node 1: %v", id, err)
			}
			acked.add(invAcked{Seq: seq, Sender: bob.User.ID, ID: id, Text: "message " + id})
			refused := chat.stop(t)
			health.end()
			if len(health.notAlive) > 0 || health.unready["node0"] != "" {
				t.Errorf("node 0 was not healthy and ready while node 1 was down: %v %q", health.notAlive, health.unready["node0"])
			}
			senders = []*invSender{aliceWS.invSender, bobWS.invSender}
			t.Logf("node 1 %v: exited %v after the signal; back and ready %v after it exited; node 0 stayed ready; refusals retried %v",
				sig, exited.Sub(signaled).Round(time.Millisecond), restarted.Sub(exited).Round(time.Millisecond), refused)
		})
	}

	// Every connection saw every acknowledged message, once, in one order;
	// Bob and Carol across their connections.
	last := invSentinel(t, ctx, alice, room, "the-end", acked)
	acked.check(t)
	evs := mnSameEvents(t, ctx, room, last, acked, aliceWS)
	for _, u := range []struct {
		c  *apitest.Client
		mc *mnConn
	}{{bob, bobWS}, {carol, carolWS}} {
		u.mc.waitSeq(t, ctx, room, last)
		all := append(slices.Clone(earlier[u.c.User.ID]), invUpTo(u.mc.events(room), last)...)
		if g := invGap(all, 1); g != "" {
			t.Fatalf("%s across the restarts: %s", u.c.User.Username, g)
		}
		if !slices.Equal(all, evs) {
			t.Errorf("%s's %d events across the restarts differ from alice's %d", u.c.User.Username, len(all), len(evs))
		}
	}
	alive("at the end")
	t.Logf("%d events, %d acknowledged messages, seen alike by 3 users on 2 nodes, after %v",
		len(evs), acked.count(), time.Since(started).Round(time.Millisecond))
}
