package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// frame is a server frame; the fields the generator does not use are
// skipped by the decoder.
type frame struct {
	Type          string `json:"type"`
	ID            string `json:"id"`
	RoomID        string `json:"room_id"`
	Seq           uint64 `json:"seq"`
	Event         string `json:"event"`
	TooManyMissed bool   `json:"too_many_missed"`
	Code          string `json:"code"`
	Message       string `json:"message"`
	Data          struct {
		ClientMsgID string `json:"client_msg_id"`
		Text        string `json:"text"`
	} `json:"data"`
}

// room is one room of the run.
type room struct {
	idx        int
	id         string
	ownerToken string
	members    []*client
	ledger     *roomLedger
	checker    *client // the member whose deliveries fill ledger.posted
}

// sendRec is a send awaiting its answer.
type sendRec struct {
	room   int // index into client.rooms
	cmid   string
	text   string
	step   int
	sentAt time.Time
}

// wsConn is one WebSocket connection of a client; done is closed when its
// reader stops.
type wsConn struct {
	*websocket.Conn
	done chan struct{}
}

// client is one signed-in user with (at most) one WebSocket connection,
// subscribed to all of the user's rooms. When its connection drops it
// reconnects, resumes every room after the last seq it saw and resends
// unanswered sends with their client_msg_id, as a real client would.
type client struct {
	b     *bench
	idx   int
	user  stateUser
	rooms []*room
	live  atomic.Bool // connected and subscribed; mirrors conn != nil && subscribed

	wmu sync.Mutex // one writer at a time, as gorilla requires

	mu       sync.Mutex
	conn     *wsConn
	track    []*seqTracker // per rooms[i]
	pending  map[string]*sendRec
	subWait  map[string]chan frame
	nextID   uint64
	dropping bool      // the connection is being dropped on purpose (storm)
	liveAt   time.Time // when it last became live
}

func (c *client) roomIndex(id string) int {
	for i, r := range c.rooms {
		if r.id == id {
			return i
		}
	}
	return -1
}

var writeBufferPool = &sync.Pool{}

// dial opens the WebSocket of client i on its node, from the i-th source
// address when several are configured.
func (b *bench) dial(ctx context.Context, i int, token string) (*websocket.Conn, error) {
	nd := &net.Dialer{Timeout: 30 * time.Second}
	if len(b.srcIPs) > 0 {
		nd.LocalAddr = &net.TCPAddr{IP: b.srcIPs[i%len(b.srcIPs)]}
	}
	d := &websocket.Dialer{
		NetDialContext:   nd.DialContext,
		HandshakeTimeout: 30 * time.Second,
		ReadBufferSize:   2048,
		WriteBufferSize:  1024,
		WriteBufferPool:  writeBufferPool,
	}
	conn, resp, err := d.DialContext(ctx, b.wsURLOf(i), http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial: HTTP %d", resp.StatusCode)
		}
		return nil, fmt.Errorf("dial: %w", err)
	}
	return conn, nil
}

// connect opens a connection, waits for ready, subscribes to every room
// after the last seq seen there, and resends unanswered sends.
func (c *client) connect(ctx context.Context) error {
	b := c.b
	ws, err := b.dial(ctx, c.idx, c.user.Token)
	if err != nil {
		return err
	}
	ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, data, err := ws.ReadMessage()
	if err != nil {
		ws.Close()
		return fmt.Errorf("waiting for ready: %w", err)
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil || f.Type != "ready" {
		ws.Close()
		return fmt.Errorf("first frame %.100s, want ready", data)
	}
	ws.SetReadDeadline(time.Time{})
	w := &wsConn{Conn: ws, done: make(chan struct{})}

	c.mu.Lock()
	c.conn, c.dropping = w, false
	subs := make([][]byte, len(c.rooms))
	waits := make([]chan frame, len(c.rooms))
	for i, r := range c.rooms {
		c.nextID++
		id := "s" + strconv.FormatUint(c.nextID, 36)
		waits[i] = make(chan frame, 1)
		c.subWait[id] = waits[i]
		subs[i] = fmt.Appendf(nil, `{"type":"subscribe","id":%q,"room_id":%q,"after_seq":%d}`, id, r.id, c.track[i].last())
	}
	c.mu.Unlock()
	go c.read(w)

	fail := func(err error) error {
		c.mu.Lock()
		if c.conn == w {
			c.conn = nil
		}
		c.mu.Unlock()
		w.Close()
		return err
	}
	for _, s := range subs {
		if err := c.write(w, s); err != nil {
			return fail(err)
		}
	}
	timeout := time.NewTimer(60 * time.Second)
	defer timeout.Stop()
	for i, ch := range waits {
		select {
		case f := <-ch:
			if f.Type == "error" {
				b.errs.add("subscribe: " + f.Code)
				return fail(fmt.Errorf("subscribe to room %d: %s: %s", c.rooms[i].idx, f.Code, f.Message))
			}
			if f.TooManyMissed {
				b.tooManyMissed.Add(1)
			}
		case <-w.done:
			return fail(errors.New("connection closed while subscribing"))
		case <-timeout.C:
			return fail(errors.New("no answer to subscribe within 60 s"))
		case <-ctx.Done():
			return fail(ctx.Err())
		}
	}

	// Resend what the previous connection left unanswered, under new ids
	// but with the same client_msg_id and text: the server posts each
	// message once.
	c.mu.Lock()
	var resend [][]byte
	if len(c.pending) > 0 {
		old := c.pending
		c.pending = make(map[string]*sendRec, len(old))
		for _, rec := range old {
			c.nextID++
			id := "m" + strconv.FormatUint(c.nextID, 36)
			c.pending[id] = rec
			resend = append(resend, appendSend(nil, id, c.rooms[rec.room].id, rec.cmid, rec.text))
		}
	}
	c.mu.Unlock()
	for _, s := range resend {
		b.resent.Add(1)
		if err := c.write(w, s); err != nil {
			return fail(err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != w {
		return errors.New("connection closed while resending")
	}
	c.liveAt = time.Now()
	c.live.Store(true)
	return nil
}

// connectRetry connects, retrying with backoff until it works, attempts
// run out (0: forever) or ctx ends. Failures are counted by kind.
func (c *client) connectRetry(ctx context.Context, attempts int) error {
	b := c.b
	backoff := 100 * time.Millisecond
	for i := 1; ; i++ {
		select {
		case b.dialSem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		err := c.connect(ctx)
		<-b.dialSem
		if err == nil || ctx.Err() != nil || b.closing.Load() {
			return err
		}
		b.errs.add("connect: " + errKind(err))
		if attempts > 0 && i >= attempts {
			return err
		}
		b.log.Debug("connect failed", "client", c.idx, "err", err)
		select {
		case <-time.After(backoff/2 + rand.N(backoff)):
		case <-ctx.Done():
			return ctx.Err()
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// write writes one text frame.
func (c *client) write(w *wsConn, data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	w.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return w.WriteMessage(websocket.TextMessage, data)
}

// appendSend appends a send frame. The generator's ids, client_msg_ids
// and texts need no JSON escaping.
func appendSend(b []byte, id, roomID, cmid, text string) []byte {
	b = append(b, `{"type":"send","id":"`...)
	b = append(b, id...)
	b = append(b, `","room_id":"`...)
	b = append(b, roomID...)
	b = append(b, `","client_msg_id":"`...)
	b = append(b, cmid...)
	b = append(b, `","text":"`...)
	b = append(b, text...)
	return append(b, `"}`...)
}

// send sends one message to rooms[ri], stamped with the time; it returns
// false if the client is not connected.
func (c *client) send(ri, step int) bool {
	b := c.b
	st := b.steps[step]
	c.mu.Lock()
	w := c.conn
	if w == nil || !c.live.Load() {
		c.mu.Unlock()
		return false
	}
	c.nextID++
	id := "m" + strconv.FormatUint(c.nextID, 36)
	now := time.Now()
	rec := &sendRec{
		room: ri, step: step, sentAt: now,
		cmid: b.runID + "-" + strconv.FormatUint(b.msgSeq.Add(1), 36),
		text: b.marker + strconv.Itoa(step) + " " + strconv.FormatInt(now.UnixNano(), 10),
	}
	c.pending[id] = rec
	b.outstanding.Add(1)
	c.mu.Unlock()
	st.sent.Add(1)
	var buf [256]byte
	if err := c.write(w, appendSend(buf[:0], id, c.rooms[ri].id, rec.cmid, rec.text)); err != nil {
		// The reader notices too and reconnects; the send stays pending
		// and is resent then.
		w.Close()
	}
	return true
}

// read handles the connection's frames until it fails.
func (c *client) read(w *wsConn) {
	var err error
	for {
		var data []byte
		_, data, err = w.ReadMessage()
		if err != nil {
			break
		}
		var f frame
		if err = decodeFrame(data, &f); err != nil {
			err = fmt.Errorf("server sent bad JSON %.100q: %w", data, err)
			break
		}
		c.handle(&f, time.Now())
	}
	close(w.done)
	c.lost(w, err)
}

func (c *client) handle(f *frame, now time.Time) {
	b := c.b
	switch f.Type {
	case "event":
		ri := c.roomIndex(f.RoomID)
		if ri < 0 {
			b.errs.add("event of a room the client is not in")
			return
		}
		c.mu.Lock()
		c.track[ri].observe(f.Seq)
		c.mu.Unlock()
		if f.Event != "message.posted" {
			return
		}
		if step, sent, ok := b.parseText(f.Data.Text); ok {
			st := b.steps[step]
			st.deliveries.Add(1)
			st.lat.record(now.Sub(sent))
			st.lastDelivery.Store(now.UnixNano())
		}
		if r := c.rooms[ri]; r.checker == c {
			r.ledger.post(f.Seq, f.Data.ClientMsgID)
		}
	case "ack", "error":
		c.mu.Lock()
		rec := c.pending[f.ID]
		delete(c.pending, f.ID)
		ch := c.subWait[f.ID]
		delete(c.subWait, f.ID)
		c.mu.Unlock()
		switch {
		case rec != nil:
			b.outstanding.Add(-1)
			st := b.steps[rec.step]
			if f.Type == "error" {
				st.errs.add(f.Code)
				return
			}
			st.acked.Add(1)
			st.ackLat.record(now.Sub(rec.sentAt))
			c.rooms[rec.room].ledger.ack(f.Seq, rec.cmid)
		case ch != nil:
			ch <- *f
		case f.Type == "error":
			b.errs.add("frame error: " + f.Code)
		}
	default: // presence, typing, read_marker, rooms_changed, pong
		b.otherFrames.Add(1)
	}
}

// lost handles the end of connection w: the client goes offline and, if
// it had been live and the run is not ending, reconnects.
func (c *client) lost(w *wsConn, err error) {
	b := c.b
	c.mu.Lock()
	if c.conn != w {
		c.mu.Unlock()
		return
	}
	wasLive, dropped := c.live.Load(), c.dropping
	c.conn = nil
	c.live.Store(false)
	c.mu.Unlock()
	w.Close()
	if b.closing.Load() {
		return
	}
	if !dropped {
		b.errs.add("disconnected: " + closeKind(err))
		b.log.Debug("disconnected", "client", c.idx, "err", err)
	}
	if wasLive {
		go c.connectRetry(b.runCtx, 0)
	}
}

// drop closes the TCP connection without a close frame (a reconnect
// storm); the client reconnects by itself.
func (c *client) drop() {
	c.mu.Lock()
	w := c.conn
	c.dropping = true
	c.mu.Unlock()
	if w != nil {
		w.UnderlyingConn().Close()
	}
}

// close ends the connection with a normal close frame.
func (c *client) close() {
	c.mu.Lock()
	w := c.conn
	c.mu.Unlock()
	if w == nil {
		return
	}
	w.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	w.Close()
}

// closeKind names how a connection ended, for the error counts.
func closeKind(err error) string {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return "close " + strconv.Itoa(ce.Code)
	}
	return errKind(err)
}

// errKind shortens an error to a countable kind.
func errKind(err error) string {
	var ne net.Error
	var oe *net.OpError
	switch {
	case err == nil:
		return "none"
	case errors.As(err, &oe) && oe.Timeout():
		return oe.Op + ": timeout"
	case errors.As(err, &oe):
		return oe.Op + ": " + oe.Err.Error()
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	s := err.Error()
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}
