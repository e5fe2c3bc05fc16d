package main

// Tests of the invariants in DESIGN.md, through the public API only (REST
// and WebSocket), on every event store:
//
//	1. an acknowledged message is durable      TestAckMeansDurable
//	2. no duplicates on retry                  TestNoDuplicatesOnRetry
//	3. one order per room                      TestOneOrderPerRoom
//	4. gap-free resume                         TestGapFreeResume
//	9. a slow client never stalls others       TestSlowClientDoesNotStallOthers
//
// They wait for states with pollers and generous deadlines, never for a
// fixed time, so that a busy machine makes them slower but not flaky.

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/confabhq/confab/internal/apitest"
	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"
)

// invariantTimeout bounds one invariant test on one store. It is generous:
// the tests run under -race on shared two-core machines.
const invariantTimeout = 5 * time.Minute

func invariantCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), invariantTimeout)
	t.Cleanup(cancel)
	return ctx
}

// invWaitFor polls cond until it holds, failing the test after limit (or when
// ctx ends) with what and cond's last explanation.
func invWaitFor(t *testing.T, ctx context.Context, limit time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, why := cond()
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v; last: %s", what, ctx.Err(), why)
		case <-tick.C:
		}
	}
}

func invSignUp(t *testing.T, ctx context.Context, base, name string) *apitest.Client {
	t.Helper()
	c, err := apitest.SignUp(ctx, base, name, "invariant password "+name)
	if err != nil {
		t.Fatalf("sign up %s: %v", name, err)
	}
	return c
}

// invRoom creates a room of owner's that members join by invite code.
func invRoom(t *testing.T, ctx context.Context, owner *apitest.Client, members ...*apitest.Client) string {
	t.Helper()
	room, err := owner.CreateRoom(ctx, "invariants")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		if _, err := m.Join(ctx, room.InviteCode); err != nil {
			t.Fatalf("%s joins: %v", m.User.Username, err)
		}
	}
	return room.ID
}

// ---------------------------------------------------------------------------
// A confab child process, for crashes.

// invChild is `confab serve` run by the test binary in a child process (see
// TestMain), so that it can be killed with SIGKILL.
type invChild struct {
	cmd    *exec.Cmd
	base   string
	exited chan struct{}

	mu   sync.Mutex
	tail []string // the last lines of its log
}

// startInvChild starts confab serve with the store flags args, and returns
// once it listens.
func startInvChild(t *testing.T, args []string) *invChild {
	t.Helper()
	full := append([]string{"serve", "--addr", "127.0.0.1:0", "--log-format", "json"}, args...)
	for _, a := range full {
		if a == "" || strings.ContainsAny(a, " \t\n") {
			t.Fatalf("child argument %q: CONFAB_TEST_ARGS is split on spaces", a)
		}
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "CONFAB_TEST_MAIN=1", "CONFAB_TEST_ARGS="+strings.Join(full, " "))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &invChild{cmd: cmd, exited: make(chan struct{})}
	listening := make(chan string, 1)
	go func() {
		defer close(c.exited)
		logs := bufio.NewScanner(stderr)
		logs.Buffer(make([]byte, 64<<10), 4<<20)
		for logs.Scan() {
			c.log(logs.Text())
			var line struct{ Msg, Addr string }
			if json.Unmarshal(logs.Bytes(), &line) == nil && line.Msg == "listening" {
				select {
				case listening <- line.Addr:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
		err := cmd.Wait()
		c.log(fmt.Sprintf("(child exited: %v)", err))
	}()
	t.Cleanup(func() {
		c.kill()
		if t.Failed() {
			t.Logf("child log tail:\n%s", c.logTail())
		}
	})
	select {
	case addr := <-listening:
		c.base = "http://" + addr
		return c
	case <-c.exited:
		t.Fatalf("child exited before listening:\n%s", c.logTail())
	case <-time.After(2 * time.Minute):
		t.Fatalf("child did not listen:\n%s", c.logTail())
	}
	return nil
}

func (c *invChild) log(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tail = append(c.tail, line)
	if len(c.tail) > 200 {
		c.tail = c.tail[len(c.tail)-100:]
	}
}

func (c *invChild) logTail() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.tail, "\n")
}

// kill sends SIGKILL and waits for the process to end.
func (c *invChild) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.exited
}

// invOn returns a copy of client c that talks to base: the same user and
// session, another server process.
func invOn(c *apitest.Client, base string) *apitest.Client {
	cp := *c
	cp.Base = base
	cp.HTTP = &http.Client{Timeout: 30 * time.Second}
	return &cp
}

// ---------------------------------------------------------------------------
// Sending, and keeping track of what the server acknowledged.

// invRetryable reports whether a refused send may be retried as it is: the
// server asked the client to slow down or to try again.
func invRetryable(err error) bool {
	var ae *apitest.Error
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.Code {
	case "rate_limited", "unavailable", "conflict":
		return true
	}
	return ae.Status == http.StatusTooManyRequests || ae.Status == http.StatusServiceUnavailable
}

// invSender sends one user's messages over one WebSocket, paced below the
// server's frame rate limit (20/s, bursts of 50). Only one goroutine may
// use a sender at a time (gorilla allows one writer).
type invSender struct {
	ws   *apitest.WS
	user string
	lim  *rate.Limiter
}

func invDialSender(t *testing.T, ctx context.Context, c *apitest.Client) *invSender {
	t.Helper()
	ws, err := c.Dial(ctx)
	if err != nil {
		t.Fatalf("%s dials: %v", c.User.Username, err)
	}
	t.Cleanup(func() { ws.Close() })
	return &invSender{ws: ws, user: c.User.ID, lim: rate.NewLimiter(18, 30)}
}

// send sends a message and returns the seq of its ack; refusals that
// invite a retry are retried with the same client_msg_id.
func (s *invSender) send(ctx context.Context, room, id, text string) (uint64, error) {
	for {
		if err := s.lim.Wait(ctx); err != nil {
			return 0, err
		}
		seq, err := s.ws.SendMessage(ctx, room, id, text)
		if err == nil || !invRetryable(err) {
			return seq, err
		}
	}
}

// invPost posts a message over REST, retrying refusals that invite it.
func invPost(ctx context.Context, c *apitest.Client, room, id, text string) (apitest.Message, error) {
	for {
		m, err := c.Post(ctx, room, id, text)
		if err == nil || !invRetryable(err) {
			return m, err
		}
		select {
		case <-ctx.Done():
			return m, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// invAcked is a message the server acknowledged.
type invAcked struct {
	Seq              uint64
	Sender, ID, Text string
}

// invLedger records acknowledged messages and notes any two acks that
// contradict each other.
type invLedger struct {
	mu    sync.Mutex
	bySeq map[uint64]invAcked
	byKey map[string]uint64
	max   uint64
	bad   []string
}

func newInvLedger() *invLedger {
	return &invLedger{bySeq: map[uint64]invAcked{}, byKey: map[string]uint64{}}
}

func (l *invLedger) add(m invAcked) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := m.Sender + "/" + m.ID
	if seq, ok := l.byKey[key]; ok && seq != m.Seq {
		l.bad = append(l.bad, fmt.Sprintf("message %s acked as seq %d and as seq %d", key, seq, m.Seq))
	}
	if o, ok := l.bySeq[m.Seq]; ok && (o.Sender != m.Sender || o.ID != m.ID) {
		l.bad = append(l.bad, fmt.Sprintf("seq %d acked for %s/%s and for %s", m.Seq, o.Sender, o.ID, key))
	}
	l.byKey[key] = m.Seq
	l.bySeq[m.Seq] = m
	l.max = max(l.max, m.Seq)
}

func (l *invLedger) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.bySeq)
}

func (l *invLedger) maxSeq() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.max
}

// all returns the acknowledged messages by seq.
func (l *invLedger) all() []invAcked {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]invAcked, 0, len(l.bySeq))
	for _, m := range l.bySeq {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b invAcked) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}

func (l *invLedger) check(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range l.bad {
		t.Errorf("contradicting acks: %s", b)
	}
}

// invChat keeps WebSocket senders and REST posters sending messages to a room
// until stopped, recording every ack in a ledger.
type invChat struct {
	stopping atomic.Bool
	wg       sync.WaitGroup
	mu       sync.Mutex
	errs     []error
}

// invChatConfig says who chats. Messages get client_msg_ids prefix-<n>-<i>
// and the texts text(id).
type invChatConfig struct {
	room    string
	prefix  string
	senders []*invSender
	posters []*apitest.Client
	text    func(id string) string
	ledger  *invLedger
	onAck   func(invAcked) // optional, called after the ledger has the ack
}

func startInvChat(ctx context.Context, cfg invChatConfig) *invChat {
	c := &invChat{}
	if cfg.text == nil {
		cfg.text = func(id string) string { return "message " + id }
	}
	ack := func(m invAcked) {
		cfg.ledger.add(m)
		if cfg.onAck != nil {
			cfg.onAck(m)
		}
	}
	run := func(n int, send func(id, text string) (invAcked, error)) {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for i := 0; !c.stopping.Load(); i++ {
				id := fmt.Sprintf("%s-%d-%d", cfg.prefix, n, i)
				m, err := send(id, cfg.text(id))
				if err != nil {
					c.mu.Lock()
					c.errs = append(c.errs, fmt.Errorf("send %s: %w", id, err))
					c.mu.Unlock()
					return
				}
				ack(m)
			}
		}()
	}
	for n, s := range cfg.senders {
		run(n, func(id, text string) (invAcked, error) {
			seq, err := s.send(ctx, cfg.room, id, text)
			return invAcked{Seq: seq, Sender: s.user, ID: id, Text: text}, err
		})
	}
	for n, p := range cfg.posters {
		run(len(cfg.senders)+n, func(id, text string) (invAcked, error) {
			m, err := invPost(ctx, p, cfg.room, id, text)
			return invAcked{Seq: m.Seq, Sender: p.User.ID, ID: id, Text: text}, err
		})
	}
	return c
}

// stop lets every sender finish the message it is sending, waits for them,
// and returns their errors.
func (c *invChat) stop() []error {
	c.stopping.Store(true)
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.errs
}

// stopClean stops the chat and fails the test on any send error.
func (c *invChat) stopClean(t *testing.T) {
	t.Helper()
	for _, err := range c.stop() {
		t.Errorf("chat: %v", err)
	}
	if t.Failed() {
		t.FailNow()
	}
}

// ---------------------------------------------------------------------------
// Receiving.

// invEvent is what a client sees of a room event frame.
type invEvent struct {
	Seq                     uint64
	Event, Sender, ID, Text string
}

func (e invEvent) String() string {
	text := e.Text
	if len(text) > 24 {
		text = text[:24] + "…"
	}
	return fmt.Sprintf("#%d %s %s/%s %q", e.Seq, e.Event, e.Sender, e.ID, text)
}

func invEventOf(f apitest.Frame) invEvent {
	d := f.Data()
	return invEvent{Seq: f.Uint("seq"), Event: f.Str("event"), Sender: d.Str("sender_id"), ID: d.Str("client_msg_id"), Text: d.Str("text")}
}

// invReceiver collects the events of one room that arrive on a WebSocket.
type invReceiver struct {
	mu     sync.Mutex
	events []invEvent
	err    error
	done   chan struct{}
}

func invReceive(ctx context.Context, ws *apitest.WS, room string) *invReceiver {
	r := &invReceiver{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			f, err := ws.Next(ctx)
			r.mu.Lock()
			if err != nil {
				r.err = err
				r.mu.Unlock()
				return
			}
			if f.Type() == "event" && f.Str("room_id") == room {
				r.events = append(r.events, invEventOf(f))
			}
			r.mu.Unlock()
		}
	}()
	return r
}

func (r *invReceiver) seen() []invEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

func (r *invReceiver) last() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.events) == 0 {
		return 0
	}
	return r.events[len(r.events)-1].Seq
}

// waitSeq waits until r has received the event seq.
func (r *invReceiver) waitSeq(t *testing.T, ctx context.Context, name string, seq uint64) {
	t.Helper()
	invWaitFor(t, ctx, 2*time.Minute, fmt.Sprintf("%s to receive seq %d", name, seq), func() (bool, string) {
		r.mu.Lock()
		defer r.mu.Unlock()
		n := len(r.events)
		if n > 0 && r.events[n-1].Seq >= seq {
			return true, ""
		}
		if r.err != nil {
			return false, fmt.Sprintf("connection ended after %d events: %v", n, r.err)
		}
		return false, fmt.Sprintf("%d events so far", n)
	})
}

// invGap describes the first seq of evs that does not follow its predecessor
// (evs[0] must be from), or returns "".
func invGap(evs []invEvent, from uint64) string {
	want := from
	for i, e := range evs {
		if e.Seq != want {
			return fmt.Sprintf("event %d is seq %d, want %d (%v)", i, e.Seq, want, invAround(evs, i))
		}
		want++
	}
	return ""
}

func invAround(evs []invEvent, i int) []uint64 {
	var seqs []uint64
	for _, e := range evs[max(0, i-3):min(len(evs), i+4)] {
		seqs = append(seqs, e.Seq)
	}
	return seqs
}

// invUpTo returns the events of evs with seq <= last.
func invUpTo(evs []invEvent, last uint64) []invEvent {
	i := 0
	for i < len(evs) && evs[i].Seq <= last {
		i++
	}
	return evs[:i]
}

// invCheckAcked checks that every acknowledged message is the event of its seq
// in evs, which start at seq evs[0].Seq and have no gap.
func invCheckAcked(t *testing.T, name string, evs []invEvent, acked []invAcked) {
	t.Helper()
	if len(evs) == 0 {
		t.Fatalf("%s saw no events", name)
	}
	first := evs[0].Seq
	for _, m := range acked {
		if m.Seq < first {
			continue
		}
		if i := int(m.Seq - first); i >= len(evs) {
			t.Errorf("%s: acked seq %d (%s) never arrived; last event %d", name, m.Seq, m.ID, evs[len(evs)-1].Seq)
		} else if e := evs[i]; e.Event != "message.posted" || e.Sender != m.Sender || e.ID != m.ID || e.Text != m.Text {
			t.Errorf("%s: seq %d is %v, but it was acked for %s/%s", name, m.Seq, e, m.Sender, m.ID)
		}
	}
}

// invHistory returns the room's messages with seq > after, oldest first.
func invHistory(ctx context.Context, c *apitest.Client, room string, after uint64) ([]apitest.Message, error) {
	var out []apitest.Message
	before := uint64(0)
	for {
		page, err := c.Messages(ctx, room, before, 100)
		if err != nil {
			return nil, err
		}
		for _, m := range page {
			if m.Seq <= after {
				slices.Reverse(out)
				return out, nil
			}
			out = append(out, m)
		}
		if len(page) == 0 {
			slices.Reverse(out)
			return out, nil
		}
		before = page[len(page)-1].Seq
	}
}

// invHistoryBetween pages the room's messages with from <= seq <= to from
// before=to+1 down, as a client does after too_many_missed, and returns
// them oldest first.
func invHistoryBetween(ctx context.Context, c *apitest.Client, room string, from, to uint64) ([]apitest.Message, error) {
	var out []apitest.Message
	before := to + 1
	for before > from {
		page, err := c.Messages(ctx, room, before, 100)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			break
		}
		for _, m := range page {
			if m.Seq >= from {
				out = append(out, m)
			}
		}
		before = page[len(page)-1].Seq
	}
	slices.Reverse(out)
	return out, nil
}

func invMessageEvents(msgs []apitest.Message) []invEvent {
	evs := make([]invEvent, len(msgs))
	for i, m := range msgs {
		evs[i] = invEvent{Seq: m.Seq, Event: "message.posted", Sender: m.SenderID, ID: m.ClientMsgID, Text: m.Text}
	}
	return evs
}

// invSentinel posts a last message once a chat has stopped and returns its
// seq: every acknowledged message comes before it.
func invSentinel(t *testing.T, ctx context.Context, c *apitest.Client, room, id string, l *invLedger) uint64 {
	t.Helper()
	m, err := invPost(ctx, c, room, id, "the end "+id)
	if err != nil {
		t.Fatalf("sentinel: %v", err)
	}
	l.add(invAcked{Seq: m.Seq, Sender: c.User.ID, ID: id, Text: "the end " + id})
	return m.Seq
}

// ---------------------------------------------------------------------------
// 1. An acknowledged message is durable: kill -9 after the ack, restart,
// it is there.

func TestAckMeansDurable(t *testing.T) {
	for name, args := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := invariantCtx(t)
			srv := startInvChild(t, args)
			alice := invSignUp(t, ctx, srv.base, "alice")
			room := invRoom(t, ctx, alice)
			acked := newInvLedger()
			for round := range 2 {
				invCrashAfterAcks(t, ctx, srv, alice, room, fmt.Sprintf("r%d", round), acked, 20)
				srv = startInvChild(t, args)
				alice = invOn(alice, srv.base)
				invCheckDurable(t, ctx, alice, room, acked)
			}
		})
	}
}

// invCrashAfterAcks has alice send from three WebSockets and one REST client
// at once, and SIGKILLs the server right after the n-th ack of this round,
// with other sends in flight. Acks that arrive after the kill count too.
func invCrashAfterAcks(t *testing.T, ctx context.Context, srv *invChild, alice *apitest.Client, room, round string, acked *invLedger, n int) {
	t.Helper()
	var senders []*invSender
	for range 3 {
		senders = append(senders, invDialSender(t, ctx, alice))
	}
	before := acked.count()
	acks := make(chan invAcked, 100000)
	c := startInvChat(ctx, invChatConfig{
		room: room, prefix: round, senders: senders, posters: []*apitest.Client{alice},
		ledger: acked, onAck: func(m invAcked) { acks <- m },
	})
	for range n {
		select {
		case <-acks:
		case <-ctx.Done():
			t.Fatalf("round %s: only %d acks before %v: %v", round, acked.count()-before, ctx.Err(), c.stop())
		}
	}
	srv.kill()
	c.stop() // every sender ends with an error: the server is gone
	acked.check(t)
	t.Logf("round %s: %d messages acked, server killed after the %d-th", round, acked.count()-before, n)
}

// invCheckDurable checks on a restarted server that every acknowledged message
// is in the history with its acked seq, and that the seqs are contiguous.
func invCheckDurable(t *testing.T, ctx context.Context, alice *apitest.Client, room string, acked *invLedger) {
	t.Helper()
	want := acked.all()
	// The read models catch up after a restart.
	msgs := invWaitAcked(t, ctx, alice, room, acked)
	evs := invMessageEvents(msgs)
	// Seq 1 is the room's creation; the messages follow without a gap.
	if g := invGap(evs, 2); g != "" {
		t.Errorf("history after restart: %s", g)
	}
	invCheckAcked(t, "history", append([]invEvent{{Seq: 1, Event: "room.created"}}, evs...), want)

	// Retrying an acked send after the crash returns the original seq:
	// the message is in the event store, not only in a read model.
	for _, m := range want {
		got, err := invPost(ctx, alice, room, m.ID, m.Text)
		if err != nil || got.Seq != m.Seq || got.Text != m.Text {
			t.Errorf("resend %s after restart: seq %d %q %v; want seq %d", m.ID, got.Seq, got.Text, err, m.Seq)
		}
	}
	// And the room carries on after the last stored seq.
	m, err := invPost(ctx, alice, room, fmt.Sprintf("after-%d", len(want)), "still here")
	if err != nil {
		t.Fatal(err)
	}
	if last := evs[len(evs)-1].Seq; m.Seq <= last {
		t.Errorf("new message got seq %d, want one after %d", m.Seq, last)
	}
	msgs, err = invHistory(ctx, alice, room, 0)
	if err != nil {
		t.Fatal(err)
	}
	if g := invGap(invMessageEvents(msgs), 2); g != "" {
		t.Errorf("history after a new message: %s", g)
	}
	acked.add(invAcked{Seq: m.Seq, Sender: alice.User.ID, ID: m.ClientMsgID, Text: m.Text})
	if t.Failed() {
		t.FailNow()
	}
}

// ---------------------------------------------------------------------------
// 2. No duplicates: resending with the same client_msg_id yields one
// message.

func TestNoDuplicatesOnRetry(t *testing.T) {
	for name, args := range stores(t) {
		t.Run(name, func(t *testing.T) {
			addr, stop := startServe(t, args...)
			defer stop()
			base := "http://" + addr
			ctx := invariantCtx(t)
			alice := invSignUp(t, ctx, base, "alice")
			bob := invSignUp(t, ctx, base, "bob")
			room := invRoom(t, ctx, alice, bob)

			// Bob watches the room live.
			bobWS := invDialSender(t, ctx, bob)
			if _, err := bobWS.ws.Subscribe(ctx, room, 0); err != nil {
				t.Fatal(err)
			}
			watch := invReceive(ctx, bobWS.ws, room)

			type want struct {
				seq  uint64
				text string
			}
			stored := map[string]want{} // sender/client_msg_id
			expect := func(what, sender, id, text string, seq uint64, err error) {
				t.Helper()
				key := sender + "/" + id
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				w, ok := stored[key]
				if !ok {
					stored[key] = want{seq, text}
					return
				}
				if seq != w.seq {
					t.Errorf("%s: seq %d, want the original %d", what, seq, w.seq)
				}
			}
			a := invDialSender(t, ctx, alice)

			// One after another, over WebSocket and REST.
			for i := range 5 {
				seq, err := a.send(ctx, room, "once", "said once")
				expect(fmt.Sprintf("WS send %d", i), alice.User.ID, "once", "said once", seq, err)
			}
			for i := range 5 {
				m, err := invPost(ctx, alice, room, "once", "said once")
				expect(fmt.Sprintf("REST post %d", i), alice.User.ID, "once", "said once", m.Seq, err)
				if err == nil && (m.Text != "said once" || m.ClientMsgID != "once" || m.SenderID != alice.User.ID) {
					t.Errorf("REST retry answered %+v, want the original message", m)
				}
			}
			m, err := invPost(ctx, alice, room, "rest-first", "posted over REST")
			expect("REST post", alice.User.ID, "rest-first", "posted over REST", m.Seq, err)
			seq, err := a.send(ctx, room, "rest-first", "posted over REST")
			expect("WS retry of a REST post", alice.User.ID, "rest-first", "posted over REST", seq, err)

			// All at once, before any of them was stored: four WebSockets
			// three times each, and six REST requests.
			var (
				wg    sync.WaitGroup
				mu    sync.Mutex
				seqs  []uint64
				start = make(chan struct{})
			)
			record := func(what string, seq uint64, err error) {
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("%s: %v", what, err)
					return
				}
				seqs = append(seqs, seq)
			}
			for i := range 4 {
				s := invDialSender(t, ctx, alice)
				wg.Go(func() {
					<-start
					for j := range 3 {
						seq, err := s.send(ctx, room, "together", "sent at once")
						record(fmt.Sprintf("WS %d send %d", i, j), seq, err)
					}
				})
			}
			for i := range 6 {
				wg.Go(func() {
					<-start
					m, err := invPost(ctx, alice, room, "together", "sent at once")
					record(fmt.Sprintf("REST %d", i), m.Seq, err)
				})
			}
			close(start)
			wg.Wait()
			if len(seqs) != 18 {
				t.FailNow()
			}
			for _, s := range seqs {
				expect("concurrent send", alice.User.ID, "together", "sent at once", s, nil)
			}

			// The ack is lost: the frame goes out, the socket dies at once,
			// and the client retries on a new connection.
			lost, err := alice.Dial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			lost.Send(map[string]any{"type": "send", "id": "x", "room_id": room, "client_msg_id": "lost-ack", "text": "ack lost"})
			lost.Conn.UnderlyingConn().Close()
			again := invDialSender(t, ctx, alice)
			seq, err = again.send(ctx, room, "lost-ack", "ack lost")
			expect("retry after a lost ack", alice.User.ID, "lost-ack", "ack lost", seq, err)
			// Older ones, after the reconnect.
			for _, id := range []string{"once", "together"} {
				text := stored[alice.User.ID+"/"+id].text
				seq, err := again.send(ctx, room, id, text)
				expect("WS retry after reconnecting", alice.User.ID, id, text, seq, err)
			}
			// The same client_msg_id from another sender is another message.
			seq, err = bobWS.send(ctx, room, "once", "bob's once")
			expect("bob's send", bob.User.ID, "once", "bob's once", seq, err)
			if seq == stored[alice.User.ID+"/once"].seq {
				t.Errorf("bob's message %q got alice's seq %d", "once", seq)
			}
			last, err := again.send(ctx, room, "end", "the end")
			expect("last send", alice.User.ID, "end", "the end", last, err)

			// Bob saw each message once, in a gap-free sequence.
			watch.waitSeq(t, ctx, "bob", last)
			evs := invUpTo(watch.seen(), last)
			if g := invGap(evs, 1); g != "" {
				t.Errorf("bob's events: %s", g)
			}
			count := map[string]int{}
			for _, e := range evs {
				if e.Event == "message.posted" {
					count[e.Sender+"/"+e.ID]++
					if w := stored[e.Sender+"/"+e.ID]; w.seq != e.Seq || w.text != e.Text {
						t.Errorf("bob saw %v, want seq %d %q", e, w.seq, w.text)
					}
				}
			}
			for key := range stored {
				if count[key] != 1 {
					t.Errorf("bob saw message %s %d times, want once", key, count[key])
				}
			}
			if len(count) != len(stored) {
				t.Errorf("bob saw %d messages %v, want %d", len(count), count, len(stored))
			}

			// So does the history, once the read model has caught up (a
			// WebSocket ack does not wait for it).
			var msgs []apitest.Message
			invWaitFor(t, ctx, time.Minute, "the history to reach the last message", func() (bool, string) {
				var err error
				if msgs, err = invHistory(ctx, alice, room, 0); err != nil {
					return false, err.Error()
				}
				return len(msgs) > 0 && msgs[len(msgs)-1].Seq >= last, fmt.Sprintf("%d messages", len(msgs))
			})
			if len(msgs) != len(stored) {
				t.Errorf("history has %d messages, want %d: %v", len(msgs), len(stored), invMessageEvents(msgs))
			}
			for _, m := range msgs {
				if w, ok := stored[m.SenderID+"/"+m.ClientMsgID]; !ok || w.seq != m.Seq || w.text != m.Text {
					t.Errorf("history has %v, want seq %d %q", invMessageEvents([]apitest.Message{m}), w.seq, w.text)
				}
			}
		})
	}
}

// ---------------------------------------------------------------------------
// 3. One order per room: every client sees the same contiguous sequence.

func TestOneOrderPerRoom(t *testing.T) {
	const users, perUser = 5, 100
	for name, args := range stores(t) {
		t.Run(name, func(t *testing.T) {
			addr, stop := startServe(t, args...)
			defer stop()
			base := "http://" + addr
			ctx := invariantCtx(t)
			var clients []*apitest.Client
			for i := range users {
				clients = append(clients, invSignUp(t, ctx, base, fmt.Sprintf("user%d", i)))
			}
			room := invRoom(t, ctx, clients[0], clients[1:]...)
			var senders []*invSender
			var receivers []*invReceiver
			for _, c := range clients {
				s := invDialSender(t, ctx, c)
				if _, err := s.ws.Subscribe(ctx, room, 0); err != nil {
					t.Fatal(err)
				}
				senders = append(senders, s)
				receivers = append(receivers, invReceive(ctx, s.ws, room))
			}

			acked := newInvLedger()
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make(chan error, users)
			for i, s := range senders {
				wg.Go(func() {
					<-start
					for j := range perUser {
						id := fmt.Sprintf("u%d-%d", i, j)
						text := fmt.Sprintf("message %d of user %d", j, i)
						seq, err := s.send(ctx, room, id, text)
						if err != nil {
							errs <- fmt.Errorf("user %d message %d: %w", i, j, err)
							return
						}
						acked.add(invAcked{Seq: seq, Sender: s.user, ID: id, Text: text})
					}
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			acked.check(t)
			if n := acked.count(); n != users*perUser {
				t.Fatalf("%d distinct acked seqs, want %d", n, users*perUser)
			}
			last := acked.maxSeq()

			var first []invEvent
			for i, r := range receivers {
				r.waitSeq(t, ctx, clients[i].User.Username, last)
				evs := invUpTo(r.seen(), last)
				if g := invGap(evs, 1); g != "" {
					t.Errorf("%s: %s", clients[i].User.Username, g)
					continue
				}
				if i == 0 {
					first = evs
					invCheckAcked(t, clients[i].User.Username, evs, acked.all())
					continue
				}
				if !slices.Equal(evs, first) {
					for j := range min(len(evs), len(first)) {
						if evs[j] != first[j] {
							t.Errorf("%s sees %v where %s sees %v", clients[i].User.Username, evs[j], clients[0].User.Username, first[j])
							break
						}
					}
				}
			}
			// The history, a read model that WebSocket acks do not wait
			// for, catches up to the same sequence.
			var posted []invEvent
			for _, e := range first {
				if e.Event == "message.posted" {
					posted = append(posted, e)
				}
			}
			var got []invEvent
			invWaitFor(t, ctx, time.Minute, "the history to reach the last seq", func() (bool, string) {
				msgs, err := invHistory(ctx, clients[1], room, 0)
				if err != nil {
					return false, err.Error()
				}
				got = invMessageEvents(msgs)
				return len(got) > 0 && got[len(got)-1].Seq >= last, fmt.Sprintf("%d messages", len(got))
			})
			if !slices.Equal(got, posted) {
				t.Errorf("history (%d messages) differs from the live sequence (%d messages)", len(got), len(posted))
			}
		})
	}
}

// ---------------------------------------------------------------------------
// 4. Gap-free resume: a client that reconnects with its last sequence
// receives exactly what it missed, then live.

func TestGapFreeResume(t *testing.T) {
	for name, args := range stores(t) {
		t.Run(name, func(t *testing.T) {
			addr, stop := startServe(t, args...)
			defer stop()
			base := "http://" + addr
			ctx := invariantCtx(t)
			sam := invSignUp(t, ctx, base, "sam")
			rita := invSignUp(t, ctx, base, "rita")
			room := invRoom(t, ctx, sam, rita)
			acked := newInvLedger()
			cfg := invChatConfig{
				room: room, ledger: acked, posters: []*apitest.Client{sam},
				senders: []*invSender{invDialSender(t, ctx, sam), invDialSender(t, ctx, sam)},
			}

			// Rita follows the room from the start.
			ws, err := rita.Dial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ws.Subscribe(ctx, room, 0); err != nil {
				t.Fatal(err)
			}
			r := invReceive(ctx, ws, room)
			cfg.prefix = "a"
			c := startInvChat(ctx, cfg)
			invWaitFor(t, ctx, time.Minute, "rita to see 15 messages", func() (bool, string) {
				return r.last() >= 17, fmt.Sprint("last seq ", r.last())
			})

			// Her connection drops without a close frame while sam talks on.
			ws.Conn.UnderlyingConn().Close()
			<-r.done
			before := r.seen()
			if g := invGap(before, 1); g != "" {
				t.Fatalf("rita before the drop: %s", g)
			}
			lastSeen := r.last()
			invWaitFor(t, ctx, time.Minute, "30 messages while rita is away", func() (bool, string) {
				return acked.maxSeq() >= lastSeen+30, fmt.Sprint("last acked ", acked.maxSeq())
			})

			// She comes back with her last seq: the missed events, then live.
			ackedBefore := acked.maxSeq()
			ws, err = rita.Dial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ack, err := ws.Subscribe(ctx, room, lastSeen)
			if err != nil {
				t.Fatal(err)
			}
			if ack["too_many_missed"] == true || ack.Uint("seq") < ackedBefore {
				t.Fatalf("resubscribe after %d: ack %v; want seq >= %d (acked before), no too_many_missed", lastSeen, ack, ackedBefore)
			}
			r = invReceive(ctx, ws, room)
			invWaitFor(t, ctx, time.Minute, "20 live events after the catch-up", func() (bool, string) {
				return r.last() >= ack.Uint("seq")+20, fmt.Sprint("last seq ", r.last())
			})
			c.stopClean(t)
			last := invSentinel(t, ctx, sam, room, "end-a", acked)
			r.waitSeq(t, ctx, "rita", last)
			after := invUpTo(r.seen(), last)
			if g := invGap(after, lastSeen+1); g != "" {
				t.Fatalf("rita after resuming at %d (ack seq %d): %s", lastSeen, ack.Uint("seq"), g)
			}
			all := append(before, after...)
			invCheckAcked(t, "rita", all, acked.all())
			acked.check(t)
			t.Logf("short gap: away after seq %d, caught up to %d, live to %d", lastSeen, ack.Uint("seq"), last)

			t.Run("too_many_missed", func(t *testing.T) {
				if testing.Short() {
					t.Skip("appends over 1000 messages")
				}
				// Away for more than the catch-up limit (1000 events): the ack
				// says too_many_missed with the head's seq, live events follow
				// it, and the client pages the gap over REST.
				lastSeen = last
				ws.Conn.UnderlyingConn().Close()
				<-r.done
				cfg.prefix = "b"
				cfg.posters = []*apitest.Client{sam, rita}
				for _, u := range []*apitest.Client{sam, sam, rita, rita} {
					cfg.senders = append(cfg.senders, invDialSender(t, ctx, u))
				}
				started := time.Now()
				c = startInvChat(ctx, cfg)
				invWaitFor(t, ctx, 4*time.Minute, "1010 messages while rita is away", func() (bool, string) {
					return acked.maxSeq() >= lastSeen+1010, fmt.Sprint("last acked ", acked.maxSeq())
				})
				t.Logf("1010 messages in %v", time.Since(started).Round(time.Millisecond))
				ackedBefore = acked.maxSeq()
				ws, err = rita.Dial(ctx)
				if err != nil {
					t.Fatal(err)
				}
				ack, err = ws.Subscribe(ctx, room, lastSeen)
				if err != nil {
					t.Fatal(err)
				}
				head := ack.Uint("seq")
				if ack["too_many_missed"] != true || head < ackedBefore {
					t.Fatalf("resubscribe after %d, %d acked since: ack %v; want too_many_missed and seq >= %d", lastSeen, ackedBefore-lastSeen, ack, ackedBefore)
				}
				r = invReceive(ctx, ws, room)
				if page, err := rita.Messages(ctx, room, head+1, 1); err == nil && len(page) == 1 && page[0].Seq < head {
					t.Logf("right after the ack (seq %d), the history's newest message is %d: the read model trails", head, page[0].Seq)
				}
				invWaitFor(t, ctx, time.Minute, "10 live events after too_many_missed", func() (bool, string) {
					return r.last() >= head+10, fmt.Sprint("last seq ", r.last())
				})
				c.stopClean(t)
				last = invSentinel(t, ctx, sam, room, "end-b", acked)
				r.waitSeq(t, ctx, "rita", last)
				live := invUpTo(r.seen(), last)
				if g := invGap(live, head+1); g != "" {
					t.Fatalf("rita's live events after too_many_missed at %d: %s", head, g)
				}
				// The read model may trail the head a little: page until the
				// gap is filled.
				var paged []invEvent
				invWaitFor(t, ctx, time.Minute, "the history to fill the gap", func() (bool, string) {
					msgs, err := invHistoryBetween(ctx, rita, room, lastSeen+1, head)
					if err != nil {
						return false, err.Error()
					}
					paged = invMessageEvents(msgs)
					return len(paged) == int(head-lastSeen), fmt.Sprintf("%d of %d messages", len(paged), head-lastSeen)
				})
				if g := invGap(paged, lastSeen+1); g != "" {
					t.Fatalf("paged history %d..%d: %s", lastSeen+1, head, g)
				}
				all = append(all, paged...)
				all = append(all, live...)
				if g := invGap(all, 1); g != "" {
					t.Fatalf("rita's whole view: %s", g)
				}
				invCheckAcked(t, "rita", all, acked.all())
				acked.check(t)
				t.Logf("long gap: away after seq %d, head %d at resubscribe, live to %d", lastSeen, head, last)
			})
		})
	}
}

// ---------------------------------------------------------------------------
// 9. A slow client never stalls others: bounded per-connection queue, then
// disconnect; it resumes later.

// invBigText is a message text of 4000 runes (16 KB in UTF-8), so that few
// messages fill a socket's buffers.
func invBigText(id string) string {
	return id + " " + strings.Repeat("🦀", 3990-len(id))
}

// invDialRaw opens a WebSocket as c with gorilla directly, with a small TCP
// receive buffer, and reads nothing from it unless asked.
func invDialRaw(ctx context.Context, c *apitest.Client) (*websocket.Conn, error) {
	d := websocket.Dialer{
		ReadBufferSize:   1024,
		WriteBufferSize:  1024,
		HandshakeTimeout: 30 * time.Second,
		NetDialContext: (&net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			var err error
			cerr := rc.Control(func(fd uintptr) {
				err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			})
			return errors.Join(cerr, err)
		}}).DialContext,
	}
	h := http.Header{"Authorization": {"Bearer " + c.Token}}
	conn, _, err := d.DialContext(ctx, "ws"+strings.TrimPrefix(c.Base, "http")+"/api/v1/ws", h)
	if err != nil {
		return nil, err
	}
	conn.SetPingHandler(func(string) error { return nil }) // answer nothing
	return conn, nil
}

// invDrained is what a raw connection held once the server closed it.
type invDrained struct {
	events []invEvent
	code   int // the close frame's code; 1006 if there was none
	err    error
}

// drain reads conn until the server closes it, the first frames at pace.
func invDrain(conn *websocket.Conn, room string, slow <-chan struct{}, pace time.Duration) invDrained {
	var d invDrained
	for {
		select {
		case <-slow:
		default:
			time.Sleep(pace)
		}
		conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
		_, data, err := conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				d.code = ce.Code
			} else {
				d.err = err
			}
			return d
		}
		var f apitest.Frame
		if json.Unmarshal(data, &f) == nil && f.Type() == "event" && f.Str("room_id") == room {
			d.events = append(d.events, invEventOf(f))
		}
	}
}

// invWaitPresence waits until the server shows user's status to c.
func invWaitPresence(t *testing.T, ctx context.Context, c *apitest.Client, user *apitest.Client, status string, limit time.Duration) {
	t.Helper()
	invWaitFor(t, ctx, limit, user.User.Username+" "+status, func() (bool, string) {
		u, err := c.GetUser(ctx, user.User.ID)
		if err != nil {
			return false, err.Error()
		}
		return u.Status == status, u.Status
	})
}

// invSlowConsumers sums confab_ws_slow_consumers_total over its reasons.
func invSlowConsumers(t *testing.T, base string) float64 {
	t.Helper()
	var sum float64
	for series, v := range scrape(t, base+"/metrics") {
		if strings.HasPrefix(series, "confab_ws_slow_consumers_total{") {
			sum += v
		}
	}
	return sum
}

func TestSlowClientDoesNotStallOthers(t *testing.T) {
	fastNames := []string{"ann", "ben"}
	for name, args := range stores(t) {
		t.Run(name, func(t *testing.T) {
			addr, stop := startServe(t, append(args, "--metrics-token", testMetricsToken)...)
			defer stop()
			base := "http://" + addr
			ctx := invariantCtx(t)
			ann := invSignUp(t, ctx, base, "ann")
			ben := invSignUp(t, ctx, base, "ben")
			lou := invSignUp(t, ctx, base, "lou") // never reads
			liz := invSignUp(t, ctx, base, "liz") // reads slowly
			room := invRoom(t, ctx, ann, ben, lou, liz)
			acked := newInvLedger()

			// Ann and Ben chat from two WebSockets each, and follow the
			// room on one of them.
			var fast []*invReceiver
			var senders []*invSender
			for _, c := range []*apitest.Client{ann, ben} {
				s := invDialSender(t, ctx, c)
				if _, err := s.ws.Subscribe(ctx, room, 0); err != nil {
					t.Fatal(err)
				}
				fast = append(fast, invReceive(ctx, s.ws, room))
				senders = append(senders, s, invDialSender(t, ctx, c))
			}
			cfg := invChatConfig{room: room, ledger: acked, text: invBigText, senders: senders}

			// Lou subscribes and never reads.
			louWS, err := invDialRaw(ctx, lou)
			if err != nil {
				t.Fatal(err)
			}
			defer louWS.Close()
			if err := louWS.WriteJSON(map[string]any{"type": "subscribe", "id": "s", "room_id": room, "after_seq": 0}); err != nil {
				t.Fatal(err)
			}
			invWaitPresence(t, ctx, ann, lou, "online", time.Minute)

			// The others chat in 16 KB messages until the server has
			// dropped Lou (his queue overflowed, or a write to him timed
			// out) and the room has the history Liz needs.
			cfg.prefix = "a"
			c := startInvChat(ctx, cfg)
			started := time.Now()
			invWaitPresence(t, ctx, ann, lou, "offline", 3*time.Minute)
			t.Logf("lou dropped after %v, %d messages acked", time.Since(started).Round(time.Millisecond), acked.count())
			invWaitFor(t, ctx, 3*time.Minute, fmt.Sprint(lizCatchUp, " messages"), func() (bool, string) {
				return acked.maxSeq() >= lizCatchUp+10, fmt.Sprint("last acked ", acked.maxSeq())
			})
			c.stopClean(t)
			head := invSentinel(t, ctx, ann, room, "end-a", acked)
			// Ann and Ben kept receiving while Lou stalled.
			for i, r := range fast {
				r.waitSeq(t, ctx, fastNames[i], head)
			}

			// What Lou's socket held: a gap-free start of the room, then the
			// server's close.
			lous := invDrain(louWS, room, invNoPace, 0)
			if lous.err != nil {
				t.Fatalf("lou's connection: %v after %d events; want a close by the server", lous.err, len(lous.events))
			}
			if g := invGap(lous.events, 1); g != "" || len(lous.events) < 4 {
				t.Fatalf("lou's %d events before the drop: %s", len(lous.events), g)
			}
			// The server keeps room for the close frame in Lou's socket
			// (it caps what waits there unsent) and closes him once his
			// queue overflows or a write to him makes no progress for the
			// write timeout (10 s), well within the heartbeat timeout
			// (45 s): the close frame waits behind the events he did not
			// read.
			t.Logf("lou read %d events, then close code %d", len(lous.events), lous.code)
			if lous.code != invCloseSlowConsumer {
				t.Errorf("lou's close code %d, want %d (slow consumer)", lous.code, invCloseSlowConsumer)
			}

			// Liz reads, but slower than what she asks for: she subscribes
			// three times with lizCatchUp events of catch-up each and reads
			// a frame every 100 ms. Two catch-ups fit her queue (1024
			// frames) whatever she has read; the third overflows it unless
			// the socket and her reading took lizCatchUp frames meanwhile
			// (the socket holds a dozen frames of 16 KB). The server drops
			// her with close code 4008, which reaches her behind what she
			// has not read.
			lizWS, err := invDialRaw(ctx, liz)
			if err != nil {
				t.Fatal(err)
			}
			defer lizWS.Close()
			invWaitPresence(t, ctx, ann, liz, "online", time.Minute)
			for i := range 3 {
				if err := lizWS.WriteJSON(map[string]any{"type": "subscribe", "id": fmt.Sprint("s", i), "room_id": room, "after_seq": head - lizCatchUp}); err != nil {
					t.Fatal(err)
				}
			}
			subscribed := time.Now()
			hurry := make(chan struct{})
			lizDone := make(chan invDrained, 1)
			go func() { lizDone <- invDrain(lizWS, room, hurry, 100*time.Millisecond) }()
			invWaitPresence(t, ctx, ann, liz, "offline", 2*time.Minute)
			close(hurry)
			lizs := <-lizDone
			t.Logf("liz dropped %v after subscribing; she read %d events, then close code %d (%v)", time.Since(subscribed).Round(time.Millisecond), len(lizs.events), lizs.code, lizs.err)
			if lizs.code != invCloseSlowConsumer {
				t.Errorf("liz's connection ended with code %d (%v) after %d events, want %d", lizs.code, lizs.err, len(lizs.events), invCloseSlowConsumer)
			}
			// Both drops are counted.
			if n := invSlowConsumers(t, base); n < 2 {
				t.Errorf("confab_ws_slow_consumers_total: %v, want at least 2 (lou and liz)", n)
			}

			// The others go on; Lou comes back with his last seq and gets
			// everything: the history pages if he missed too much, then live.
			cfg.prefix, cfg.text = "b", nil
			c = startInvChat(ctx, cfg)
			lastSeen := lous.events[len(lous.events)-1].Seq
			ws, err := lou.Dial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ack, err := ws.Subscribe(ctx, room, lastSeen)
			if err != nil {
				t.Fatal(err)
			}
			resumed := ack.Uint("seq")
			r := invReceive(ctx, ws, room)
			invWaitFor(t, ctx, time.Minute, "lou to get 5 live events", func() (bool, string) {
				return r.last() >= max(resumed, head)+5, fmt.Sprint("last seq ", r.last())
			})
			c.stopClean(t)
			last := invSentinel(t, ctx, ann, room, "end-b", acked)
			r.waitSeq(t, ctx, "lou", last)
			all := lous.events
			if ack["too_many_missed"] == true {
				var paged []invEvent
				invWaitFor(t, ctx, time.Minute, "the history to fill lou's gap", func() (bool, string) {
					msgs, err := invHistoryBetween(ctx, lou, room, lastSeen+1, resumed)
					if err != nil {
						return false, err.Error()
					}
					paged = invMessageEvents(msgs)
					return len(paged) == int(resumed-lastSeen), fmt.Sprintf("%d of %d messages", len(paged), resumed-lastSeen)
				})
				all = append(all, paged...)
			}
			all = append(all, invUpTo(r.seen(), last)...)
			if g := invGap(all, 1); g != "" {
				t.Fatalf("lou after resuming at %d (ack %v): %s", lastSeen, ack, g)
			}
			invCheckAcked(t, "lou", all, acked.all())
			t.Logf("lou resumed after seq %d (too_many_missed %v, ack seq %d), live to %d", lastSeen, ack["too_many_missed"], resumed, last)

			// Ann and Ben got everything, in the same order, all along.
			for i, r := range fast {
				r.waitSeq(t, ctx, fastNames[i], last)
				evs := invUpTo(r.seen(), last)
				if g := invGap(evs, 1); g != "" {
					t.Fatalf("%s: %s", fastNames[i], g)
				}
				if !slices.Equal(evs, all) {
					t.Errorf("%s's events differ from lou's", fastNames[i])
				}
				invCheckAcked(t, fastNames[i], evs, acked.all())
			}
			acked.check(t)
		})
	}
}

// lizCatchUp is the catch-up each of Liz's subscriptions asks for: twice
// it, plus the ready frame, a presence frame and two acks, fit the
// outbound queue of 1024 frames.
const lizCatchUp = 505

// invCloseSlowConsumer is the close code of a connection whose outbound
// queue overflowed.
const invCloseSlowConsumer = 4008

// closed is a closed channel.
var invNoPace = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// invWaitAcked waits until the room's history holds every acknowledged
// message, and returns the history.
func invWaitAcked(t *testing.T, ctx context.Context, c *apitest.Client, room string, acked *invLedger) []apitest.Message {
	t.Helper()
	want := acked.all()
	var msgs []apitest.Message
	invWaitFor(t, ctx, time.Minute, "every acked message in the history", func() (bool, string) {
		var err error
		if msgs, err = invHistory(ctx, c, room, 0); err != nil {
			return false, err.Error()
		}
		have := map[uint64]bool{}
		for _, m := range msgs {
			have[m.Seq] = true
		}
		for _, m := range want {
			if !have[m.Seq] {
				return false, fmt.Sprintf("acked seq %d (%s) missing from %d messages", m.Seq, m.ID, len(msgs))
			}
		}
		return true, ""
	})
	return msgs
}
