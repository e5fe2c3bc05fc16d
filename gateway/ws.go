package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/confabhq/confab/commands"
	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"
)

// serveWS upgrades to a WebSocket, authenticates the connection (by the
// request's token, or a hello frame), and serves its frames.
func (g *Gateway) serveWS(w http.ResponseWriter, r *http.Request) {
	slot, ok := g.caps.takeIP(g.clientIP(r))
	if !ok {
		g.writeError(w, errorf(http.StatusTooManyRequests, CodeTooManyConnections, "too many WebSockets from your address"))
		return
	}
	handedOff := false
	defer func() {
		if !handedOff {
			slot.release()
		}
	}()
	var sess *session
	if token := requestToken(r); token != "" {
		s, err := g.authenticate(r.Context(), token)
		switch {
		case err == nil:
			sess = s
		case r.Header.Get("Authorization") == "" && domain.KindOf(err) == domain.KindUnauthenticated:
			// A stale cookie: the client may still authenticate with hello.
		default:
			g.writeError(w, err)
			return
		}
	}
	if sess != nil && !slot.takeUser(sess.UserID) {
		g.writeError(w, errTooManyUserConns)
		return
	}
	hj := &batchHijacker{ResponseWriter: w}
	ws, err := g.upgrader.Upgrade(hj, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	// The connection goes on in a goroutine of its own: returning lets
	// the HTTP server drop what it held for the request (its buffers, the
	// request, a goroutine stack grown while upgrading).
	handedOff = true
	go g.serveConn(ws, hj, sess, slot)
}

var errTooManyUserConns = errorf(http.StatusTooManyRequests, CodeTooManyConnections, "you have too many WebSockets open; close some")

// serveConn authenticates a WebSocket that did not bring a token (sess
// nil), then reads and handles its frames until it ends. The connection
// holds slot until it ends.
func (g *Gateway) serveConn(ws *websocket.Conn, hj *batchHijacker, sess *session, slot *connSlot) {
	ws.SetReadLimit(int64(g.limits.MaxFrameBytes))
	if sess == nil {
		if sess = g.hello(ws); sess == nil {
			ws.Close()
			slot.release()
			return
		}
		if !slot.takeUser(sess.UserID) {
			g.failHandshake(ws, closeTooManyConnections, errTooManyUserConns.Code, errTooManyUserConns.Message)
			ws.Close()
			slot.release()
			return
		}
	}
	c := &conn{
		ws: ws, bc: hj.bc, br: hj.br, rc: rawConn(hj.bc.Conn), id: uuid.NewString(), user: sess.UserID, username: sess.Username, sessionID: sess.SessionID, tokenHash: sess.TokenHash, sessionStart: sess.CreatedAt, touchedAt: time.Now(), metrics: g.metrics, logger: g.logger,
		limiter:    rate.NewLimiter(rate.Limit(g.limits.FramesPerSecond), g.limits.FrameBurst),
		maxQueue:   g.limits.OutboundQueue,
		writeWait:  g.limits.WriteTimeout,
		pingEvery:  g.limits.PingInterval,
		slot:       slot,
		done:       make(chan struct{}),
		readerDone: make(chan struct{}),
	}
	if !g.track(c) {
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), time.Now().Add(time.Second))
		ws.Close()
		slot.release()
		return
	}
	c.startPings()
	// ready is always the first frame.
	g.sendJSON(c, map[string]any{"type": "ready", "conn_id": c.id, "user": map[string]any{"id": c.user, "username": c.username}})
	g.hub.addConn(c)

	if _, err := g.cmds.Connect.Handle(g.baseCtx, commands.Connect{User: c.user, ConnID: c.id, NodeID: g.nodeID, SessionID: c.sessionID}); err != nil {
		if eventstore.IsTransient(err) {
			// The store takes no writes now (it is down, or its disk is
			// full): try later.
			g.logger.Warn("cannot record connection", "err", err)
			c.closeWith(websocket.CloseTryAgainLater, CodeUnavailable)
		} else {
			g.logger.Error("cannot record connection", "err", err)
			c.closeWith(websocket.CloseInternalServerErr, "internal error")
		}
		g.endConn(c)
		return
	}
	g.startReading(c)
	if c.rc != nil {
		go g.park(c)
		return
	}
	g.readConn(c)
}

// endConn ends a connection once its reader stopped: it closes the
// socket (after a close frame), forgets the connection and records its end.
func (g *Gateway) endConn(c *conn) {
	defer g.untrack(c)
	defer c.slot.release()
	close(c.readerDone)
	c.closeWith(websocket.CloseNormalClosure, "")
	g.hub.removeConn(c)
	g.endCall(c)
	// Record the end even while shutting down; a bounded wait.
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(g.baseCtx), 5*time.Second)
	defer ccancel()
	if _, err := g.cmds.Connect.Handle(cctx, commands.Connect{User: c.user, ConnID: c.id, Close: true, Reason: "closed"}); err != nil {
		g.logger.Warn("cannot record a connection's end; the reaper will", "err", err)
	}
}

// hello waits for the hello frame of a connection that did not bring a
// token, and returns its session, or nil after telling the client why not.
func (g *Gateway) hello(ws *websocket.Conn) *session {
	fail := func(code int, apiCode, msg string) *session {
		g.failHandshake(ws, code, apiCode, msg)
		return nil
	}
	ws.SetReadDeadline(time.Now().Add(g.limits.HelloTimeout))
	_, data, err := ws.ReadMessage()
	if err != nil {
		var ne interface{ Timeout() bool }
		if errors.As(err, &ne) && ne.Timeout() {
			return fail(closeAuthTimeout, CodeAuthTimeout, "no hello frame in time")
		}
		return nil
	}
	f, err := DecodeFrame(data)
	if err == nil && f.Type != FrameHello {
		err = &frameError{code: CodeUnauthenticated, msg: "the first frame must be hello with a token"}
	}
	if err != nil {
		var fe *frameError
		errors.As(err, &fe)
		if fe.close != 0 {
			closeNow(ws, fe.close, fe.msg, g.limits.WriteTimeout)
			return nil
		}
		return fail(websocket.ClosePolicyViolation, fe.code, fe.msg)
	}
	s, err := g.authenticate(context.Background(), f.Token)
	if err != nil {
		ae := toAPIError(err, g.logger)
		return fail(closeSignedOut, ae.Code, ae.Message)
	}
	return s
}

// failHandshake tells a client that is not connected yet why not: an
// error frame, then a close frame with code and the error code as reason.
func (g *Gateway) failHandshake(ws *websocket.Conn, code int, apiCode, msg string) {
	b, _ := json.Marshal(errorFrame{Type: "error", Code: apiCode, Message: msg})
	deadline := time.Now().Add(g.limits.WriteTimeout)
	ws.SetWriteDeadline(deadline)
	ws.WriteMessage(websocket.TextMessage, b)
	ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, apiCode), deadline)
	// Drain until the client answers, so that closing does not reset
	// the connection before it reads the close frame.
	drain(ws)
}

// startReading sets the connection's read deadline and the handlers of
// pings and pongs.
func (g *Gateway) startReading(c *conn) {
	c.ws.SetReadDeadline(time.Now().Add(g.limits.PongTimeout))
	c.ws.SetPongHandler(func(string) error { g.extendRead(c); return nil })
	c.ws.SetPingHandler(func(data string) error {
		g.extendRead(c)
		err := c.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(g.limits.WriteTimeout))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
}

// extendRead gives the client another PongTimeout to send something.
func (g *Gateway) extendRead(c *conn) {
	c.ws.SetReadDeadline(time.Now().Add(g.limits.PongTimeout))
}

// readConn reads and handles frames while the client sends them. When it
// has read everything the socket had, it waits for more in a new goroutine
// (see park) and returns; when the connection ends, it ends it. Unless the
// connection cannot park (TLS), it only runs once the socket is readable.
func (g *Gateway) readConn(c *conn) {
	if c.rc != nil && g.skipPongs(c) {
		go g.park(c)
		return
	}
	if g.readFrames(c) {
		go g.park(c)
		return
	}
	g.endConn(c)
}

// pongFrameLen is the length of a client's answer to our pings, which
// carry no data: FIN and opcode 10, the mask bit and length 0, the mask.
const pongFrameLen = 6

// skipPongs takes in the pongs at the head of what the client sent, as
// the pong handler would, and reports whether that was all: an idle
// client answers every ping, and gorilla/websocket would wait for the
// next data frame after a pong, on this goroutine's stack rather than a
// parked one's. Anything else is left for gorilla to read. The socket is
// readable, so the first fill does not block.
func (g *Gateway) skipPongs(c *conn) bool {
	if _, err := c.br.Peek(1); err != nil {
		return false // gorilla reports it
	}
	for {
		h, _ := c.br.Peek(min(c.br.Buffered(), pongFrameLen))
		if len(h) < pongFrameLen || h[0] != 0x8a || h[1] != 0x80 {
			return false
		}
		c.br.Discard(pongFrameLen)
		g.extendRead(c)
		if c.br.Buffered() == 0 {
			return true
		}
	}
}

// park waits until the client sends more, then reads it. It runs in a
// fresh goroutine, so that an idle connection waits on a small stack, not
// on the one its reader grew while handling frames (8 KiB and more).
func (g *Gateway) park(c *conn) {
	if err := waitReadable(c.rc); err != nil {
		// The read deadline passed, or the socket is closed: no more
		// frames.
		g.endConn(c)
		return
	}
	g.readConn(c)
}

// readFrames reads and handles frames until the connection ends (false)
// or, if the connection can park, until nothing is left to read (true).
func (g *Gateway) readFrames(c *conn) (park bool) {
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			// ErrReadLimit: gorilla has sent close 1009 (message too big).
			return false
		}
		if !g.handleMessage(c, typ, data) {
			return false
		}
		if c.rc != nil && c.br.Buffered() == 0 {
			return true
		}
	}
}

// handleMessage handles one frame read from c; false ends the connection.
func (g *Gateway) handleMessage(c *conn, typ int, data []byte) bool {
	select {
	case <-c.done:
		// Closing: discard what the client still sends until it answers
		// the close frame (the writer set a deadline).
		return true
	default:
	}
	g.extendRead(c)
	if !c.limiter.Allow() {
		c.limited++
		if c.limited > g.limits.FloodFrames {
			c.closeWith(closeFlood, CodeRateLimited)
			return false
		}
		g.sendError(c, frameID(data), &apiError{Code: CodeRateLimited, Message: "too many frames; slow down"})
		g.metrics.FrameIn(frameRateLimited)
		return true
	}
	c.limited = 0
	if typ != websocket.TextMessage {
		g.sendError(c, "", &apiError{Code: CodeInvalidJSON, Message: "frames must be text (JSON)"})
		g.metrics.FrameIn(frameInvalid)
		return true
	}
	f, err := DecodeFrame(data)
	if err != nil {
		var fe *frameError
		errors.As(err, &fe)
		if fe.close != 0 {
			g.metrics.FrameIn(frameInvalid)
			c.closeWith(fe.close, fe.msg)
			return false
		}
		id := f.ID
		if id == "" {
			id = frameID(data)
		}
		g.sendError(c, id, &apiError{Code: fe.code, Message: fe.msg})
		g.metrics.FrameIn(frameInvalid)
		return true
	}
	g.metrics.FrameIn(f.Type)
	// The connection's commands run under the gateway's context: nothing
	// of them outlives the connection.
	g.handleFrame(g.baseCtx, c, f)
	return true
}

// sendJSON sends v to c on its reply lane (see conn.reply): it is the
// connection's own conversation (ready, answers, call signalling), which
// never waits behind the room fan-out queued for it.
func (g *Gateway) sendJSON(c *conn, v any) {
	pm, err := prepare(v)
	if err != nil {
		g.logger.Error("cannot prepare frame", "err", err)
		return
	}
	c.reply(pm)
}

func (g *Gateway) sendError(c *conn, id string, err error) {
	ae := toAPIError(err, g.logger)
	g.sendJSON(c, errorFrame{Type: "error", ID: id, Code: ae.Code, Message: ae.Message})
}
