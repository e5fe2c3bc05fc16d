package apitest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
)

// Frame is a server frame, decoded loosely.
type Frame map[string]any

// Type returns the frame's type.
func (f Frame) Type() string { s, _ := f["type"].(string); return s }

// Str returns a string field.
func (f Frame) Str(k string) string { s, _ := f[k].(string); return s }

// Uint returns a number field.
func (f Frame) Uint(k string) uint64 { n, _ := f[k].(float64); return uint64(n) }

// Data returns the data object of an event frame.
func (f Frame) Data() Frame { d, _ := f["data"].(map[string]any); return Frame(d) }

// Presence returns the presence changes a presence or presence_batch
// frame carries, each with user_id, status and maybe last_seen (a
// presence frame's own fields); none for another frame.
func (f Frame) Presence() []Frame {
	switch f.Type() {
	case "presence":
		return []Frame{f}
	case "presence_batch":
		users, _ := f["users"].([]any)
		out := make([]Frame, 0, len(users))
		for _, u := range users {
			if m, ok := u.(map[string]any); ok {
				out = append(out, Frame(m))
			}
		}
		return out
	}
	return nil
}

// PresenceOf returns user's presence change in a presence or
// presence_batch frame, if it has one.
func (f Frame) PresenceOf(user string) (Frame, bool) {
	for _, p := range f.Presence() {
		if p.Str("user_id") == user {
			return p, true
		}
	}
	return nil, false
}

// WS is a WebSocket connection to the API. Acks and errors are matched to
// requests by id; every other frame is queued for Next.
type WS struct {
	Conn   *websocket.Conn
	nextID atomic.Int64
	wmu    sync.Mutex // one writer at a time, as gorilla requires

	mu      sync.Mutex
	waiting map[string]chan Frame
	frames  chan Frame
	closed  chan struct{}
	// CloseErr is the error that ended the reader (e.g. a close frame).
	CloseErr error
}

// Dial opens a WebSocket authenticated with the client's token in the
// Authorization header.
func (c *Client) Dial(ctx context.Context) (*WS, error) {
	h := http.Header{}
	if c.Token != "" {
		h.Set("Authorization", "Bearer "+c.Token)
	}
	return DialWS(ctx, c.Base, h)
}

// DialWS opens a WebSocket to the server at base with headers h, and
// waits for the ready frame unless the connection is unauthenticated.
func DialWS(ctx context.Context, base string, h http.Header) (*WS, error) {
	url := "ws" + strings.TrimPrefix(base, "http") + "/api/v1/ws"
	conn, resp, err := websocket.DefaultDialer.DialContext(ctx, url, h)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial: %w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, err
	}
	ws := &WS{Conn: conn, waiting: map[string]chan Frame{}, frames: make(chan Frame, 100000), closed: make(chan struct{})}
	go ws.read()
	if h.Get("Authorization") != "" {
		f, err := ws.Next(ctx)
		if err != nil {
			return nil, err
		}
		if f.Type() != "ready" {
			return nil, fmt.Errorf("first frame %v, want ready", f)
		}
	}
	return ws, nil
}

func (ws *WS) read() {
	defer close(ws.closed)
	for {
		_, data, err := ws.Conn.ReadMessage()
		if err != nil {
			ws.CloseErr = err
			return
		}
		var f Frame
		if err := json.Unmarshal(data, &f); err != nil {
			ws.CloseErr = fmt.Errorf("server sent non-JSON: %q", data)
			return
		}
		id := f.Str("id")
		if t := f.Type(); (t == "ack" || t == "error" || t == "pong") && id != "" {
			ws.mu.Lock()
			ch := ws.waiting[id]
			delete(ws.waiting, id)
			ws.mu.Unlock()
			if ch != nil {
				ch <- f
				continue
			}
		}
		ws.frames <- f
	}
}

// Closed is closed when the connection's reader ends.
func (ws *WS) Closed() <-chan struct{} { return ws.closed }

// Send writes a frame without waiting for an answer.
func (ws *WS) Send(frame map[string]any) error {
	ws.wmu.Lock()
	defer ws.wmu.Unlock()
	return ws.Conn.WriteJSON(frame)
}

// Request sends frame with a fresh id and returns its ack; an error frame
// becomes an *Error.
func (ws *WS) Request(ctx context.Context, frame map[string]any) (Frame, error) {
	id := "r" + strconv.FormatInt(ws.nextID.Add(1), 10)
	frame["id"] = id
	ch := make(chan Frame, 1)
	ws.mu.Lock()
	ws.waiting[id] = ch
	ws.mu.Unlock()
	if err := ws.Send(frame); err != nil {
		return nil, err
	}
	select {
	case f := <-ch:
		if f.Type() == "error" {
			return f, &Error{Code: f.Str("code"), Message: f.Str("message")}
		}
		return f, nil
	case <-ws.closed:
		return nil, fmt.Errorf("connection closed while waiting for %s: %w", id, ws.CloseErr)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Next returns the next frame that is not an answer to a request.
func (ws *WS) Next(ctx context.Context) (Frame, error) {
	select {
	case f := <-ws.frames:
		return f, nil
	default:
	}
	select {
	case f := <-ws.frames:
		return f, nil
	case <-ws.closed:
		select {
		case f := <-ws.frames:
			return f, nil
		default:
		}
		return nil, fmt.Errorf("connection closed: %w", ws.CloseErr)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// NextOf returns the next frame of type typ, skipping others.
func (ws *WS) NextOf(ctx context.Context, typ string) (Frame, error) {
	for {
		f, err := ws.Next(ctx)
		if err != nil {
			return nil, err
		}
		if f.Type() == typ {
			return f, nil
		}
	}
}

// Subscribe subscribes to a room after a sequence number and returns the
// ack (its seq is the last event sent).
func (ws *WS) Subscribe(ctx context.Context, room string, after uint64) (Frame, error) {
	return ws.Request(ctx, map[string]any{"type": "subscribe", "room_id": room, "after_seq": after})
}

// SendMessage sends a message and returns the ack's seq.
func (ws *WS) SendMessage(ctx context.Context, room, clientMsgID, text string) (uint64, error) {
	ack, err := ws.Request(ctx, map[string]any{"type": "send", "room_id": room, "client_msg_id": clientMsgID, "text": text})
	if err != nil {
		return 0, err
	}
	return ack.Uint("seq"), nil
}

// Close closes the connection with a normal close frame.
func (ws *WS) Close() error {
	ws.wmu.Lock()
	defer ws.wmu.Unlock()
	ws.Conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	return ws.Conn.Close()
}

// CloseCode returns the close code the server sent, or 0.
func (ws *WS) CloseCode() int {
	var ce *websocket.CloseError
	if errors.As(ws.CloseErr, &ce) {
		return ce.Code
	}
	return 0
}
