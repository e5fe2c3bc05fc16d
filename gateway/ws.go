package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/confabhq/confab/commands"
	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"
)

// ackFrame acknowledges a request frame.
type ackFrame struct {
	Type          string `json:"type"` // "ack"
	ID            string `json:"id,omitempty"`
	RoomID        string `json:"room_id,omitempty"`
	Seq           uint64 `json:"seq,omitempty"`
	ClientMsgID   string `json:"client_msg_id,omitempty"`
	TooManyMissed bool   `json:"too_many_missed,omitempty"`
}

// errorFrame reports a failed request frame.
type errorFrame struct {
	Type    string `json:"type"` // "error"
	ID      string `json:"id,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

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
		s, err := g.lookupSession(r.Context(), token)
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

	if _, err := g.cmds.Connect.Handle(g.baseCtx, commands.Connect{User: c.user, ConnID: c.id, NodeID: g.nodeID}); err != nil {
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
	s, err := g.lookupSession(context.Background(), f.Token)
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

// frameID digs the id out of a frame that will not be handled.
func frameID(data []byte) string {
	var f struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(data, &f) != nil || len(f.ID) > maxFrameID {
		return ""
	}
	return f.ID
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

// parseRoomID checks a room ID from a client.
func parseRoomID(s string) (domain.RoomID, error) {
	u, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return "", domain.Errorf(domain.KindNotFound, "", "no such room, or you are not a member")
	}
	return domain.RoomID(u.String()), nil
}

// handleFrame runs one request frame and answers it with an ack or error.
func (g *Gateway) handleFrame(ctx context.Context, c *conn, f Frame) {
	ctx, cancel := context.WithTimeout(ctx, g.limits.CommandTimeout)
	defer cancel()
	ack := ackFrame{Type: "ack", ID: f.ID, RoomID: f.RoomID}
	var err error
	switch f.Type {
	case FramePing:
		g.sendJSON(c, struct {
			Type string `json:"type"`
			ID   string `json:"id,omitempty"`
		}{"pong", f.ID})
		return
	case FrameHello:
		err = domain.Errorf(domain.KindInvalid, "hello", "already authenticated")
	case FrameSubscribe:
		ack, err = g.subscribe(ctx, c, f)
	case FrameUnsubscribe:
		var room domain.RoomID
		if room, err = parseRoomID(f.RoomID); err == nil && !g.hub.unsubscribe(c, room) {
			err = &apiError{Code: CodeNotSubscribed, Message: "not subscribed to this room"}
		}
	case FrameSend:
		var room domain.RoomID
		var res commands.Result
		if room, err = parseRoomID(f.RoomID); err == nil {
			res, err = g.cmds.PostMessage.Handle(ctx, commands.PostMessage{Room: room, Sender: c.user, ClientMsgID: f.ClientMsgID, Text: f.Text, ReplyTo: f.ReplyTo})
			ack.Seq, ack.ClientMsgID = res.Revision, f.ClientMsgID
		}
	case FrameEdit:
		err = g.roomCommand(ctx, f, &ack, func(room domain.RoomID) (commands.Result, error) {
			return g.cmds.EditMessage.Handle(ctx, commands.EditMessage{Room: room, Actor: c.user, Seq: f.Seq, Text: f.Text})
		})
	case FrameDelete:
		err = g.roomCommand(ctx, f, &ack, func(room domain.RoomID) (commands.Result, error) {
			return g.cmds.DeleteMessage.Handle(ctx, commands.DeleteMessage{Room: room, Actor: c.user, Seq: f.Seq})
		})
	case FrameReact:
		err = g.roomCommand(ctx, f, &ack, func(room domain.RoomID) (commands.Result, error) {
			return g.cmds.React.Handle(ctx, commands.React{Room: room, Actor: c.user, Seq: f.Seq, Emoji: f.Emoji, Add: !f.Remove})
		})
	case FrameRead:
		err = g.roomCommand(ctx, f, &ack, func(room domain.RoomID) (commands.Result, error) {
			res, err := g.cmds.MarkRead.Handle(ctx, commands.MarkRead{User: c.user, Room: room, Seq: f.Seq})
			res.Revision = f.Seq
			return res, err
		})
	case FrameTyping:
		err = g.typing(ctx, c, f)
		if f.ID == "" && err == nil {
			return // typing needs no ack unless asked
		}
	default:
		if !isCallFrame(f.Type) {
			// parseFrame refuses unknown types before they get here.
			err = &apiError{Code: CodeUnknownType, Message: fmt.Sprintf("unknown frame type %q", truncate(f.Type, 32))}
			break
		}
		var reply any
		if reply, err = g.callFrameHandler(ctx, c, f); err == nil {
			g.sendJSON(c, reply)
			return
		}
	}
	if errors.Is(err, errAcked) {
		return
	}
	if err != nil {
		g.sendError(c, f.ID, err)
		return
	}
	g.sendJSON(c, ack)
}

// roomCommand runs a command on the frame's room and puts the resulting
// sequence number in the ack.
func (g *Gateway) roomCommand(_ context.Context, f Frame, ack *ackFrame, run func(domain.RoomID) (commands.Result, error)) error {
	room, err := parseRoomID(f.RoomID)
	if err != nil {
		return err
	}
	res, err := run(room)
	ack.Seq = res.Revision
	return err
}

// subscribe starts delivering a room's events to c: the ones after
// f.AfterSeq from the store, then live ones, each once and in order.
func (g *Gateway) subscribe(ctx context.Context, c *conn, f Frame) (ackFrame, error) {
	ack := ackFrame{Type: "ack", ID: f.ID, RoomID: f.RoomID}
	room, err := parseRoomID(f.RoomID)
	if err != nil {
		return ack, err
	}
	if err := g.checkSubscriptionCap(c, room); err != nil {
		return ack, err
	}
	member, head, err := g.cmds.Aggregates.IsMember(ctx, room, c.user)
	if err != nil {
		return ack, err
	}
	if !member {
		return ack, domain.Errorf(domain.KindNotFound, "subscribe", "no such room, or you are not a member")
	}
	if f.AfterSeq > head {
		return ack, domain.Errorf(domain.KindInvalid, "subscribe", "after_seq %d is past the room's last seq %d", f.AfterSeq, head)
	}
	// Register first, then read: whatever commits from now on reaches the
	// subscription live, and whatever committed before is in the read.
	s := g.hub.subscribe(c, room, f.AfterSeq)
	stream := domain.RoomStream(room)
	events, err := g.store.ReadStream(ctx, stream, f.AfterSeq+1, eventstore.Forwards, g.limits.MaxCatchUp+1)
	if err != nil {
		g.hub.unsubscribe(c, room)
		return ack, err
	}
	last := f.AfterSeq
	if len(events) > g.limits.MaxCatchUp {
		// Too many to send: the client pages history over REST up to the
		// head, and gets live events after it.
		tail, err := g.store.ReadStream(ctx, stream, eventstore.End, eventstore.Backwards, 1)
		if err != nil || len(tail) == 0 {
			g.hub.unsubscribe(c, room)
			return ack, errors.Join(err, errors.New("room stream is empty"))
		}
		last = tail[0].Revision
		ack.TooManyMissed = true
	} else {
		for i := range events {
			_, frame, _, ok, err := encodeRoomEvent(&events[i])
			if err != nil || !ok {
				g.logger.Error("cannot encode event for catch-up", "stream", stream, "rev", events[i].Revision, "err", err)
				continue
			}
			pm, err := websocket.NewPreparedMessage(websocket.TextMessage, frame)
			if err != nil {
				continue
			}
			// On the reply lane, in order before the subscription's ack.
			c.reply(pm)
			last = events[i].Revision
		}
	}
	// The ack goes out before the live events that arrived meanwhile:
	// everything after it has a seq above the ack's.
	if !s.finishCatchUp(last, func(seq uint64) *websocket.PreparedMessage {
		ack.Seq = seq
		pm, err := prepare(ack)
		if err != nil {
			g.logger.Error("cannot prepare ack", "err", err)
		}
		return pm
	}) {
		g.hub.unsubscribe(c, room)
		return ack, &apiError{Code: CodeSlowConsumer, Message: "too many events arrived while catching up; subscribe again"}
	}
	return ack, errAcked
}

// checkSubscriptionCap refuses a subscription to one more room when c
// holds MaxSubscriptions already; subscribing again to a room is allowed.
// Only the connection's reader subscribes, so the count cannot change
// between the check and the subscription.
func (g *Gateway) checkSubscriptionCap(c *conn, room domain.RoomID) error {
	limit := g.limits.MaxSubscriptions
	if limit <= 0 {
		return nil
	}
	c.mu.Lock()
	_, again := c.subs[room]
	n := len(c.subs)
	c.mu.Unlock()
	if !again && n >= limit {
		return &apiError{Code: CodeTooManySubscriptions, Message: fmt.Sprintf("a connection may subscribe to at most %d rooms; unsubscribe from one first", limit)}
	}
	return nil
}

// errAcked tells handleFrame that the answer has been queued already.
var errAcked = errors.New("acked")

// ephemeralTopic carries frames that are not stored (typing) between nodes.
const ephemeralTopic = "confab.ephemeral"

type typingMessage struct {
	RoomID   domain.RoomID `json:"room_id"`
	UserID   domain.UserID `json:"user_id"`
	Username string        `json:"username"`
}

// typing tells the room's other subscribers that c's user is typing, at
// most once per TypingInterval per room and connection.
func (g *Gateway) typing(ctx context.Context, c *conn, f Frame) error {
	room, err := parseRoomID(f.RoomID)
	if err != nil {
		return err
	}
	member, _, err := g.cmds.Aggregates.IsMember(ctx, room, c.user)
	if err != nil {
		return err
	}
	if !member {
		return domain.Errorf(domain.KindNotFound, "typing", "no such room, or you are not a member")
	}
	c.mu.Lock()
	if c.typedAt == nil {
		c.typedAt = map[domain.RoomID]time.Time{}
	}
	now := time.Now()
	if now.Sub(c.typedAt[room]) < g.limits.TypingInterval {
		c.mu.Unlock()
		return nil // coalesced
	}
	c.typedAt[room] = now
	c.mu.Unlock()
	payload, err := json.Marshal(typingMessage{RoomID: room, UserID: c.user, Username: c.username})
	if err != nil {
		return err
	}
	return g.pub.Publish(ephemeralTopic, message.NewMessage(uuid.NewString(), payload))
}

// followEphemeral delivers typing frames from every node to this node's
// subscribers, until ctx ends or the subscription does.
func (g *Gateway) followEphemeral(ctx context.Context) error {
	msgs, err := g.sub.Subscribe(ctx, ephemeralTopic)
	if err != nil {
		return eventstore.AsTransient(fmt.Errorf("typing: subscribe: %w", err))
	}
	g.loops.Loop(loopTyping).Healthy()
	for msg := range msgs {
		var t typingMessage
		if json.Unmarshal(msg.Payload, &t) == nil {
			g.hub.toRoom(t.RoomID, t.UserID, map[string]any{"type": "typing", "room_id": t.RoomID, "user_id": t.UserID, "username": t.Username})
		}
		msg.Ack()
	}
	if ctx.Err() == nil {
		return eventstore.AsTransient(errors.New("typing: subscription closed"))
	}
	return ctx.Err()
}
