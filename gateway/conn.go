package gateway

import (
	"io"
	"sync"
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

// conn is one authenticated WebSocket connection. Its reader runs in the
// goroutine that accepted it; its writer is the only goroutine writing to
// the socket, from the bounded queue out.
type conn struct {
	ws        *websocket.Conn
	id        string
	user      domain.UserID
	username  string
	sessionID string
	limiter   *rate.Limiter
	limited   int // consecutive rate-limited frames; reader only
	metrics   Metrics

	out        chan *websocket.PreparedMessage
	done       chan struct{} // closed to stop the writer
	readerDone chan struct{} // closed when the reader stopped reading
	closeOnce  sync.Once
	closeCode  int
	closeText  string

	callMu sync.Mutex
	call   *callSeat // the call the connection is in, if any

	mu      sync.Mutex
	subs    map[domain.RoomID]*subscription
	typedAt map[domain.RoomID]time.Time // last typing frame sent per room
}

// send queues a frame without blocking. A connection whose queue is full
// is too slow for the rest of the room: it is closed, and its client
// resumes from its last sequence numbers once it reconnects.
func (c *conn) send(pm *websocket.PreparedMessage) {
	select {
	case <-c.done:
	case c.out <- pm:
	default:
		c.closeWith(closeSlowConsumer, CodeSlowConsumer)
	}
}

// closeWith asks the writer to send a close frame with code and stop.
func (c *conn) closeWith(code int, text string) {
	c.closeOnce.Do(func() {
		c.closeCode, c.closeText = code, text
		close(c.done)
	})
}

// writeLoop writes queued frames and pings until the connection is done.
func (c *conn) writeLoop(ping, writeWait time.Duration) {
	ticker := time.NewTicker(ping)
	defer ticker.Stop()
	defer c.ws.Close()
	for {
		select {
		case pm := <-c.out:
			c.ws.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.ws.WritePreparedMessage(pm); err != nil {
				c.closeWith(websocket.CloseAbnormalClosure, "")
				return
			}
			c.metrics.FrameOut()
		case <-ticker.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				c.closeWith(websocket.CloseAbnormalClosure, "")
				return
			}
		case <-c.done:
			// Flush what is queued (acks, errors) before the close frame,
			// unless the queue overflowed.
			if c.closeCode != closeSlowConsumer {
				for len(c.out) > 0 {
					c.ws.SetWriteDeadline(time.Now().Add(writeWait))
					if c.ws.WritePreparedMessage(<-c.out) != nil {
						break
					}
				}
			}
			if c.closeCode != websocket.CloseAbnormalClosure {
				msg := websocket.FormatCloseMessage(c.closeCode, c.closeText)
				c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(writeWait))
			}
			// Let the reader take in what the client still sends until it
			// answers the close or a moment passes: closing a socket with
			// unread data makes the kernel reset the connection, and the
			// client would never see the close frame.
			c.ws.SetReadDeadline(time.Now().Add(closeGrace))
			select {
			case <-c.readerDone:
				drain(c.ws)
			case <-time.After(2 * closeGrace):
			}
			return
		}
	}
}
