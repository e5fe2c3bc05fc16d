package gateway

import (
	"bufio"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/confabhq/confab/domain"
	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"
)

// WebSocket close codes of the API (4000-4999 are the application's).
const (
	closeSignedOut    = 4001 // the session ended
	closeAuthTimeout  = 4002 // no hello in time
	closeSlowConsumer = 4008 // the outbound queue overflowed; resume later
	closeFlood        = 4029 // too many rate-limited frames

	closeTooManyConnections = 4009 // the user holds the most WebSockets they may
)

// closeGrace is how long a closing connection waits for the client's
// answer to its close frame.
const closeGrace = time.Second

// drain reads and discards what the peer still sends until it closes its
// side or closeGrace passes, so that closing does not reset the
// connection while frames the peer has not read yet (our close frame)
// are in flight. Only call it when nothing else reads ws.
func drain(ws *websocket.Conn) {
	nc := ws.UnderlyingConn()
	nc.SetReadDeadline(time.Now().Add(closeGrace))
	io.Copy(io.Discard, nc)
}

// closeNow sends a close frame with code and reason on a connection that
// has no writer yet, waits a moment for the client's answer, and closes
// the socket.
func closeNow(ws *websocket.Conn, code int, reason string, wait time.Duration) {
	ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(wait))
	drain(ws)
	ws.Close()
}

// conn is one authenticated WebSocket connection. Its reader runs in a
// goroutine of its own while the client sends, and waits for more in a
// small one (Gateway.park); its writer is the only goroutine writing
// frames to the socket, from the bounded queue. The writer runs only while
// there is something to write: an idle connection has no writer goroutine
// and no queue, just a timer for its next ping.
type conn struct {
	ws        *websocket.Conn
	bc        *batchConn      // the socket under ws
	br        *bufio.Reader   // what ws reads from bc through
	rc        syscall.RawConn // bc's socket, to wait for it to be readable; nil if it cannot park (TLS)
	id        string
	user      domain.UserID
	username  string
	sessionID string
	slot      *connSlot // its place in the per-user and per-address counts
	// tokenHash and sessionStart are the session's, for its expiry.
	tokenHash    string
	sessionStart time.Time
	// touchedAt is when the session loop last looked at the session's
	// use (only that loop uses it after the connection starts).
	touchedAt time.Time
	limiter   *rate.Limiter
	limited   int // consecutive rate-limited frames; reader only
	metrics   Metrics
	logger    *slog.Logger

	maxQueue  int           // frames queued (and in the writer's hands) before the connection counts as slow
	writeWait time.Duration // one write, and the close frame
	pingEvery time.Duration

	done       chan struct{} // closed when the connection starts closing
	readerDone chan struct{} // closed when the reader stopped reading
	slow       atomic.Bool   // closing as a slow consumer: drop what is queued

	qmu   sync.Mutex
	queue []*websocket.PreparedMessage // frames for the writer to take
	// replies is the reply lane: the connection's own conversation
	// (ready, answers to its frames, a subscription's catch-up, call
	// signalling), written before anything in queue (the room fan-out),
	// so that an ack never waits behind deliveries.
	replies   []*websocket.PreparedMessage
	replying  atomic.Bool                  // replies is not empty: the writer looks between frames
	spare     []*websocket.PreparedMessage // an emptied queue, kept for reuse while small
	inflight  atomic.Int32                 // frames the writer took and has not written yet
	writing   bool                         // a writer runs, or one is about to start
	pingDue   bool
	pingTimer *time.Timer
	closing   bool
	closeCode int
	closeText string

	callMu sync.Mutex
	call   *callSeat      // the call the connection is in, if any
	rejoin *pendingRejoin // the call its client was told to rejoin, if any

	mu      sync.Mutex
	subs    map[domain.RoomID]*subscription // nil until the first subscription
	typedAt map[domain.RoomID]time.Time     // last typing frame sent per room
}

// keepSpare is the largest emptied queue (in frames) a connection keeps
// for its next burst; larger ones go to the garbage collector, so that an
// idle connection holds no big buffers.
const keepSpare = 16

// send queues a frame without blocking. A connection whose queue is full
// is too slow for the rest of the room: it is closed, and its client
// resumes from its last sequence numbers once it reconnects.
func (c *conn) send(pm *websocket.PreparedMessage) {
	if c.enqueue(pm) {
		go c.writeLoop()
	}
}

// reply queues a frame on the reply lane: it is written before every
// frame of the fan-out queue, after the replies queued before it. Replies
// count towards the slow-consumer bound as the rest.
func (c *conn) reply(pm *websocket.PreparedMessage) {
	c.qmu.Lock()
	start := c.pushLocked(true, pm)
	c.qmu.Unlock()
	if start {
		go c.writeLoop()
	}
}

// enqueue queues a frame and reports whether the caller must start the
// writer (go c.writeLoop()): the hub queues a batch of events on many
// connections first and starts their writers after, so that each writes
// the batch with one syscall.
func (c *conn) enqueue(pm *websocket.PreparedMessage) (start bool) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return c.pushLocked(false, pm)
}

// pushLocked queues a frame on the reply lane or the fan-out queue, or
// closes the connection as a slow consumer if it holds too many already.
// It reports whether the caller must start the writer; c.qmu is held.
func (c *conn) pushLocked(reply bool, pm *websocket.PreparedMessage) (start bool) {
	if c.closing {
		return false
	}
	if c.queuedLocked() >= c.maxQueue {
		c.closeSlowLocked(slowQueueFull)
		// A writer stuck on the socket would wait for its write timeout:
		// make it give up now, while the close frame still fits.
		c.bc.interrupt()
		return c.claimWriterLocked()
	}
	if reply {
		c.replies = append(c.replies, pm)
		c.replying.Store(true)
		return c.claimWriterLocked()
	}
	if c.queue == nil {
		c.queue, c.spare = c.spare, nil
	}
	c.queue = append(c.queue, pm)
	return c.claimWriterLocked()
}

// queuedLocked counts the frames queued and in the writer's hands; c.qmu
// is held.
func (c *conn) queuedLocked() int {
	return len(c.queue) + len(c.replies) + int(c.inflight.Load())
}

// claimWriterLocked reports whether a writer must be started, and if so
// records that one is; c.qmu is held.
func (c *conn) claimWriterLocked() bool {
	if c.writing {
		return false
	}
	c.writing = true
	return true
}

// closeWith asks the writer to send what is queued, then a close frame
// with code, and end the connection.
func (c *conn) closeWith(code int, text string) {
	c.qmu.Lock()
	c.closeLocked(code, text)
	start := c.claimWriterLocked()
	c.qmu.Unlock()
	if start {
		go c.writeLoop()
	}
}

// closeLocked records the close, once; c.qmu is held.
func (c *conn) closeLocked(code int, text string) {
	if c.closing {
		return
	}
	c.closing, c.closeCode, c.closeText = true, code, text
	c.stopPingsLocked()
	if code == closeSlowConsumer {
		c.slow.Store(true)
	}
	close(c.done)
}

// Why a connection was closed as a slow consumer (the label of the
// metric).
const (
	slowQueueFull    = "queue_full"    // its outbound queue overflowed
	slowWriteStalled = "write_stalled" // the socket took nothing for a write timeout
)

// closeSlowLocked closes the connection as a slow consumer, once, and
// logs and counts it; c.qmu is held.
func (c *conn) closeSlowLocked(reason string) {
	if c.closing {
		return
	}
	queued := c.queuedLocked()
	c.closeLocked(closeSlowConsumer, CodeSlowConsumer)
	c.metrics.SlowConsumer(reason)
	if c.logger != nil {
		c.logger.Info("closing a slow consumer", "user", c.user, "conn", c.id, "reason", reason, "queued_frames", queued, "max_queue", c.maxQueue)
	}
}

// startPings pings the client every pingEvery while the connection lives;
// the pings go out through the writer.
func (c *conn) startPings() {
	c.qmu.Lock()
	c.pingTimer = time.AfterFunc(c.pingEvery, c.ping)
	c.qmu.Unlock()
}

// stopPingsLocked stops the pings; c.qmu is held.
func (c *conn) stopPingsLocked() {
	if c.pingTimer != nil {
		c.pingTimer.Stop()
	}
}

func (c *conn) ping() {
	c.qmu.Lock()
	if c.closing {
		c.qmu.Unlock()
		return
	}
	c.pingDue = true
	c.pingTimer.Reset(c.pingEvery)
	start := c.claimWriterLocked()
	c.qmu.Unlock()
	if start {
		go c.writeLoop()
	}
}

// writeLoop writes what is queued, with as few syscalls as it can: the
// frames it finds queued go into one buffer (see batchConn), sent when the
// queue is empty or the buffer is full. It returns once the queue is empty
// and sent, and ends the connection if it is closing.
func (c *conn) writeLoop() {
	c.bc.begin()
	for {
		c.qmu.Lock()
		batch, replies, ping, closing := c.queue, c.replies, c.pingDue, c.closing
		c.queue, c.replies, c.pingDue = nil, nil, false
		c.replying.Store(false)
		c.inflight.Store(int32(len(batch) + len(replies)))
		c.qmu.Unlock()
		if len(batch) == 0 && len(replies) == 0 && !ping && !closing {
			// Nothing more: send the buffer, then look again before
			// giving the socket up, so that no frame waits for a writer.
			if c.bc.end() != nil {
				c.writeFailed()
				return
			}
			c.qmu.Lock()
			if len(c.queue) == 0 && len(c.replies) == 0 && !c.pingDue && !c.closing {
				c.writing = false
				c.qmu.Unlock()
				return
			}
			c.qmu.Unlock()
			c.bc.begin()
			continue
		}
		if ping {
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.writeWait)); err != nil {
				c.writeFailed()
				return
			}
		}
		if !c.writeFrames(replies) {
			return
		}
		for i, pm := range batch {
			batch[i] = nil
			if c.slow.Load() {
				break // overflowed: what is queued is dropped
			}
			// Replies queued meanwhile go first.
			if c.replying.Load() && !c.writeReplies() {
				return
			}
			if !c.writeFrame(pm) {
				return
			}
		}
		c.qmu.Lock()
		c.inflight.Store(0)
		if batch != nil && cap(batch) <= keepSpare && c.spare == nil {
			c.spare = batch[:0]
		}
		closing = c.closing && len(c.queue) == 0 && len(c.replies) == 0
		c.qmu.Unlock()
		if closing || c.slow.Load() {
			c.finish()
			return
		}
	}
}

// writeReplies takes the replies queued and writes them; false if a write
// failed (the connection is then ended).
func (c *conn) writeReplies() bool {
	c.qmu.Lock()
	replies := c.replies
	c.replies = nil
	c.replying.Store(false)
	c.inflight.Add(int32(len(replies)))
	c.qmu.Unlock()
	return c.writeFrames(replies)
}

// writeFrames writes frames unless the connection overflowed (then they
// are dropped); false if a write failed (the connection is then ended).
func (c *conn) writeFrames(frames []*websocket.PreparedMessage) bool {
	for _, pm := range frames {
		if c.slow.Load() {
			return true
		}
		if !c.writeFrame(pm) {
			return false
		}
	}
	return true
}

// writeFrame writes one frame; false if the write failed (the connection
// is then ended).
func (c *conn) writeFrame(pm *websocket.PreparedMessage) bool {
	c.ws.SetWriteDeadline(time.Now().Add(c.writeWait))
	if err := c.ws.WritePreparedMessage(pm); err != nil {
		c.writeFailed()
		return false
	}
	c.inflight.Add(-1)
	c.metrics.FrameOut()
	return true
}

// writeFailed ends a connection whose write failed. A write that timed
// out (the client took nothing for writeWait, or the queue overflowed
// and interrupted it) leaves the socket able to take the close frame:
// the client is a slow consumer, closed with 4008. Otherwise the socket
// is broken.
func (c *conn) writeFailed() {
	if !c.bc.resumable() {
		c.fail()
		return
	}
	c.qmu.Lock()
	c.closeSlowLocked(slowWriteStalled)
	c.slow.Store(c.closeCode == closeSlowConsumer)
	c.qmu.Unlock()
	c.finish()
}

// fail ends a connection whose socket failed: no close frame. The writer
// stays claimed, so none starts again.
func (c *conn) fail() {
	c.qmu.Lock()
	c.closeLocked(websocket.CloseAbnormalClosure, "")
	c.writing = true
	c.qmu.Unlock()
	c.bc.abort()
	c.ws.Close()
}

// finish sends the close frame after what is queued (unless the queue
// overflowed), waits for the client's answer a moment, and closes the
// socket. The writer stays claimed, so none starts again.
func (c *conn) finish() {
	c.qmu.Lock()
	code, text := c.closeCode, c.closeText
	c.queue, c.replies, c.spare = nil, nil, nil
	c.qmu.Unlock()
	if code != websocket.CloseAbnormalClosure {
		// Past gorilla, which refuses to write after a failed write: the
		// rest of a frame a timed-out write cut, then the close frame.
		msg := websocket.FormatCloseMessage(code, text)
		frame := append([]byte{0x80 | websocket.CloseMessage, byte(len(msg))}, msg...)
		c.bc.writeClose(frame, c.slow.Load(), time.Now().Add(min(c.writeWait, closeGrace)))
	} else {
		c.bc.end()
	}
	// Let the reader take in what the client still sends until it answers
	// the close or a moment passes: closing a socket with unread data makes
	// the kernel reset the connection, and the client would never see the
	// close frame.
	c.ws.SetReadDeadline(time.Now().Add(closeGrace))
	t := time.NewTimer(2 * closeGrace)
	select {
	case <-c.readerDone:
		drain(c.ws)
	case <-t.C:
	}
	t.Stop()
	c.ws.Close()
}
