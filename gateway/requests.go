package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/confabhq/confab/commands"
	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/gorilla/websocket"
)

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
			res, err = g.cmds.PostMessage.Handle(ctx, commands.PostMessage{Room: room, Sender: c.user, ClientMsgID: f.ClientMsgID, Text: f.Text, ReplyTo: f.ReplyTo, ThreadRoot: f.ThreadRoot, Attachments: derefIDs(f.Attachments)})
			ack.Seq, ack.ClientMsgID = res.Revision, f.ClientMsgID
		}
	case FrameEdit:
		err = g.roomCommand(ctx, f, &ack, func(room domain.RoomID) (commands.Result, error) {
			return g.cmds.EditMessage.Handle(ctx, commands.EditMessage{Room: room, Actor: c.user, Seq: f.Seq, Text: f.Text, Attachments: keepList(f.Attachments)})
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
