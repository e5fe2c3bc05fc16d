package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// countingConn counts the writes that reach the socket.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes int
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes++
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *countingConn) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
}

// testConn is a server-side conn and the client's end of its WebSocket.
type testConn struct {
	c          *conn
	sock       *countingConn
	client     *websocket.Conn
	readerOnce sync.Once
}

// newTestConn upgrades a WebSocket the way serveWS does and returns the
// server's conn, not yet writing, with no reader: the test plays the
// reader's part.
func newTestConn(t *testing.T, maxQueue int, ping time.Duration) *testConn {
	t.Helper()
	made := make(chan *testConn, 1)
	up := websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024, WriteBufferPool: &sync.Pool{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hj := &batchHijacker{ResponseWriter: w}
		ws, err := up.Upgrade(hj, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		sock := &countingConn{Conn: hj.bc.Conn}
		hj.bc.Conn = sock
		c := &conn{
			ws: ws, bc: hj.bc, id: "c", metrics: noMetrics{},
			maxQueue: maxQueue, writeWait: 10 * time.Second, pingEvery: ping,
			done: make(chan struct{}), readerDone: make(chan struct{}),
		}
		c.startPings()
		made <- &testConn{c: c, sock: sock}
	}))
	t.Cleanup(srv.Close)
	client, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	tc := <-made
	tc.client = client
	t.Cleanup(func() {
		tc.c.closeWith(websocket.CloseNormalClosure, "")
		tc.closeReader()
	})
	return tc
}

// closeReader tells the conn that its (absent) reader stopped.
func (tc *testConn) closeReader() {
	tc.readerOnce.Do(func() { close(tc.c.readerDone) })
}

func testFrame(t *testing.T, i int) *websocket.PreparedMessage {
	t.Helper()
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, fmt.Appendf(nil, `{"n":%d}`, i))
	if err != nil {
		t.Fatal(err)
	}
	return pm
}

// readFrames reads n text frames and checks they are 0..n-1 in order.
func (tc *testConn) readFrames(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		_, data, err := tc.client.ReadMessage()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if want := fmt.Sprintf(`{"n":%d}`, i); string(data) != want {
			t.Fatalf("frame %d is %s, want %s", i, data, want)
		}
	}
}

// waitIdle waits until the conn's writer has returned.
func (tc *testConn) waitIdle(t *testing.T) {
	t.Helper()
	for range 1000 {
		tc.c.qmu.Lock()
		writing := tc.c.writing
		tc.c.qmu.Unlock()
		if !writing {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the writer is still running")
}

// TestWriterBatches: frames queued before the writer runs reach the socket
// with one write, in order; the writer then stops until the next frame.
func TestWriterBatches(t *testing.T) {
	tc := newTestConn(t, 1024, time.Hour)
	const n = 200
	starts := 0
	for i := range n {
		if tc.c.enqueue(testFrame(t, i)) {
			starts++
		}
	}
	if starts != 1 {
		t.Fatalf("enqueue asked to start %d writers, want 1", starts)
	}
	go tc.c.writeLoop()
	tc.readFrames(t, n)
	tc.waitIdle(t)
	if got := tc.sock.count(); got != 1 {
		t.Errorf("%d frames took %d writes, want 1", n, got)
	}
	// The next frame starts a writer again.
	tc.c.send(testFrame(t, 0))
	tc.readFrames(t, 1)
	tc.waitIdle(t)
	if got := tc.sock.count(); got != 2 {
		t.Errorf("%d writes after one more frame, want 2", got)
	}
}

// TestWriterLargeBatch: a batch larger than the buffer is sent in
// buffer-sized writes, in order.
func TestWriterLargeBatch(t *testing.T) {
	tc := newTestConn(t, 1024, time.Hour)
	big := strings.Repeat("x", 10<<10)
	var frames []*websocket.PreparedMessage
	for i := range 20 {
		pm, err := websocket.NewPreparedMessage(websocket.TextMessage, fmt.Appendf(nil, `{"n":%d,"pad":"%s"}`, i, big))
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, pm)
	}
	for _, pm := range frames {
		tc.c.send(pm)
	}
	for i := range frames {
		_, data, err := tc.client.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(data), fmt.Sprintf(`{"n":%d,`, i)) {
			t.Fatalf("frame %d is %.20s...", i, data)
		}
	}
	tc.waitIdle(t)
	if got := tc.sock.count(); got > 20 {
		t.Errorf("20 frames took %d writes", got)
	}
}

// TestCloseAfterQueued: closing sends what is queued, then the close frame.
func TestCloseAfterQueued(t *testing.T) {
	tc := newTestConn(t, 1024, time.Hour)
	for i := range 10 {
		tc.c.enqueue(testFrame(t, i))
	}
	tc.c.closeWith(closeSignedOut, "signed out")
	tc.c.send(testFrame(t, 99)) // after the close: dropped
	go tc.c.writeLoop()
	tc.readFrames(t, 10)
	_, _, err := tc.client.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != closeSignedOut {
		t.Fatalf("after the frames: %v, want close %d", err, closeSignedOut)
	}
	tc.closeReader()
}

// TestSlowConsumer: a connection whose queue overflows is closed with
// 4008, and what was queued is dropped.
func TestSlowConsumer(t *testing.T) {
	tc := newTestConn(t, 4, time.Hour)
	starts := 0
	for i := range 5 {
		if tc.c.enqueue(testFrame(t, i)) {
			starts++
		}
	}
	select {
	case <-tc.c.done:
	default:
		t.Fatal("the fifth frame did not close the connection")
	}
	if starts != 1 {
		t.Fatalf("%d writers to start, want 1", starts)
	}
	go tc.c.writeLoop()
	_, data, err := tc.client.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != closeSlowConsumer {
		t.Fatalf("read %q, %v; want close %d", data, err, closeSlowConsumer)
	}
	tc.closeReader()
}

// TestPings: an idle connection is pinged through a writer started for it.
func TestPings(t *testing.T) {
	tc := newTestConn(t, 1024, 20*time.Millisecond)
	pinged := make(chan struct{}, 10)
	tc.client.SetPingHandler(func(string) error {
		select {
		case pinged <- struct{}{}:
		default:
		}
		return nil
	})
	go func() {
		for {
			if _, _, err := tc.client.ReadMessage(); err != nil {
				return
			}
		}
	}()
	for range 3 {
		<-pinged
	}
}

// TestStalledClientGetsCloseFrame: a client that stops reading entirely
// is closed with 4008 while its socket can still take the close frame,
// whether its queue overflowed or a write waited writeWait: the frame is
// in the socket behind what the client did not read, and the client reads
// it once it reads again.
func TestStalledClientGetsCloseFrame(t *testing.T) {
	for _, tt := range []struct {
		name      string
		maxQueue  int
		writeWait time.Duration
	}{
		{slowQueueFull, 256, time.Hour},
		{slowWriteStalled, 1 << 20, 300 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tc := newTestConn(t, tt.maxQueue, time.Hour)
			if !tc.c.bc.capped {
				t.Skip("no TCP_NOTSENT_LOWAT on this system: a client that reads nothing may not get its close frame")
			}
			counted := &slowCounter{}
			tc.c.metrics, tc.c.writeWait = counted, tt.writeWait
			big := make([]byte, 16<<10)
			pm, err := websocket.NewPreparedMessage(websocket.TextMessage, big)
			if err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(time.Minute)
			for !tc.closed() {
				if time.Now().After(deadline) {
					t.Fatal("the connection of a client that reads nothing was not closed")
				}
				tc.c.send(pm)
				time.Sleep(time.Millisecond)
			}
			// The close frame is written (or the socket failed) before the
			// client reads anything.
			for !tc.c.bc.closeWritten() {
				if time.Now().After(deadline) {
					t.Fatal("no close frame written")
				}
				time.Sleep(10 * time.Millisecond)
			}
			tc.closeReader()
			frames := 0
			for {
				_, _, err := tc.client.ReadMessage()
				if err == nil {
					frames++
					continue
				}
				var ce *websocket.CloseError
				if !errors.As(err, &ce) || ce.Code != closeSlowConsumer {
					t.Fatalf("after %d frames: %v, want close %d", frames, err, closeSlowConsumer)
				}
				break
			}
			if got := counted.get(tt.name); got != 1 {
				t.Errorf("slow consumers counted as %s: %d, want 1", tt.name, got)
			}
			t.Logf("%d frames of 16 KiB, then close %d", frames, closeSlowConsumer)
		})
	}
}

// closed reports whether the connection started closing.
func (tc *testConn) closed() bool {
	select {
	case <-tc.c.done:
		return true
	default:
		return false
	}
}

// closeWritten reports whether the close frame was sent, or the socket
// failed.
func (b *batchConn) closeWritten() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err != nil && !b.resumableLocked()
}

// slowCounter counts slow consumers by reason.
type slowCounter struct {
	noMetrics
	mu sync.Mutex
	n  map[string]int
}

func (s *slowCounter) SlowConsumer(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == nil {
		s.n = map[string]int{}
	}
	s.n[reason]++
}

func (s *slowCounter) get(reason string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[reason]
}

// replyFrame is a frame of the reply lane, told apart from testFrame's.
func replyFrame(t *testing.T, i int) *websocket.PreparedMessage {
	t.Helper()
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, fmt.Appendf(nil, `{"type":"ack","n":%d}`, i))
	if err != nil {
		t.Fatal(err)
	}
	return pm
}

// readAll reads n frames and returns them.
func (tc *testConn) readAll(t *testing.T, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range out {
		_, data, err := tc.client.ReadMessage()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		out[i] = string(data)
	}
	return out
}

// checkLanes checks that frames hold the deliveries 0..deliveries-1 in
// order and the replies 0..replies-1 in order, and returns where each
// reply was.
func checkLanes(t *testing.T, frames []string, deliveries, replies int) []int {
	t.Helper()
	var at []int
	next := 0
	for i, f := range frames {
		if strings.HasPrefix(f, `{"type":"ack"`) {
			if want := fmt.Sprintf(`{"type":"ack","n":%d}`, len(at)); f != want {
				t.Fatalf("reply %d is %s, want %s", len(at), f, want)
			}
			at = append(at, i)
			continue
		}
		if want := fmt.Sprintf(`{"n":%d`, next); !strings.HasPrefix(f, want) {
			t.Fatalf("frame %d is %.40s, want delivery %d", i, f, next)
		}
		next++
	}
	if next != deliveries || len(at) != replies {
		t.Fatalf("%d deliveries and %d replies, want %d and %d", next, len(at), deliveries, replies)
	}
	return at
}

// TestRepliesFirst: replies (acks) queued after many deliveries are
// written before them, in their own order, and nothing is lost.
func TestRepliesFirst(t *testing.T) {
	tc := newTestConn(t, 1024, time.Hour)
	const n = 500
	for i := range n {
		tc.c.enqueue(testFrame(t, i))
	}
	tc.c.reply(replyFrame(t, 0))
	tc.c.reply(replyFrame(t, 1))
	go tc.c.writeLoop()
	at := checkLanes(t, tc.readAll(t, n+2), n, 2)
	if at[0] != 0 || at[1] != 1 {
		t.Errorf("replies at %v of the frames, want [0 1]: ahead of the %d deliveries queued before them", at, n)
	}
}

// TestReplyOvertakesBatch: a reply queued while the writer is stuck in
// a batch of deliveries (the client reads nothing) is written before the
// rest of that batch.
func TestReplyOvertakesBatch(t *testing.T) {
	tc := newTestConn(t, 4096, time.Hour)
	// 2,000 frames of 10 KiB, far more than the kernel buffers of a
	// loopback socket hold: the writer waits in the batch until the
	// client reads.
	const n = 2000
	pad := strings.Repeat("x", 10<<10)
	for i := range n {
		pm, err := websocket.NewPreparedMessage(websocket.TextMessage, fmt.Appendf(nil, `{"n":%d,"pad":"%s"}`, i, pad))
		if err != nil {
			t.Fatal(err)
		}
		tc.c.enqueue(pm)
	}
	go tc.c.writeLoop()
	// The writer took the batch.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		tc.c.qmu.Lock()
		taken := len(tc.c.queue) == 0
		tc.c.qmu.Unlock()
		if taken {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the writer did not take the batch")
		}
	}
	tc.c.reply(replyFrame(t, 0))
	at := checkLanes(t, tc.readAll(t, n+1), n, 1)
	if at[0] >= n {
		t.Errorf("reply after all %d deliveries, want it ahead of the rest of the batch", n)
	}
	t.Logf("reply at %d of %d frames", at[0], n+1)
}
