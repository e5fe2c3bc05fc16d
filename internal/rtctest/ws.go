package rtctest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/confabhq/confab/internal/apitest"
	"github.com/pion/webrtc/v4"
)

// WSCall is a participant that signals over confab's WebSocket API: it
// sends call.join, then answers the server's call.offer and
// call.candidate frames. It handles the server's frames in the order they
// come, the ack of its own call.offer included, as a browser does.
type WSCall struct {
	*Client
	WS     *apitest.WS
	Room   string
	CallID string
	// ICEServers are those the join's ack handed out.
	ICEServers []webrtc.ICEServer

	mu       sync.Mutex
	states   []apitest.Frame
	speakers []string
	removed  []string
	others   []apitest.Frame
	stop     chan struct{}
	pumped   chan struct{}

	pubMu  sync.Mutex
	pubSeq int
	pub    *pubRequest // the call.offer waiting for its ack
}

// pubRequest is a call.offer sent and not yet answered.
type pubRequest struct {
	id    string
	apply func(answer string) error
	done  chan error
}

// JoinWS joins room's call on ws and starts publishing. If opts has no
// ICEServers, the ones the server hands out are used.
func JoinWS(ctx context.Context, ws *apitest.WS, room string, opts Options) (*WSCall, error) {
	ack, err := ws.Request(ctx, map[string]any{"type": "call.join", "room_id": room})
	if err != nil {
		return nil, err
	}
	wc := &WSCall{WS: ws, Room: room, CallID: ack.Str("call_id"), stop: make(chan struct{}), pumped: make(chan struct{})}
	if raw, ok := ack["ice_servers"]; ok {
		b, _ := json.Marshal(raw)
		if err := json.Unmarshal(b, &wc.ICEServers); err != nil {
			return nil, fmt.Errorf("ice_servers: %w", err)
		}
	}
	if opts.ICEServers == nil {
		opts.ICEServers = wc.ICEServers
	}
	c, err := New(&wsSignaling{ws: ws, room: room, wc: wc}, opts)
	if err != nil {
		return nil, err
	}
	wc.Client = c
	go wc.pump()
	if err := c.Start(); err != nil {
		wc.Close()
		return nil, err
	}
	return wc, nil
}

// pump hands the server's call frames to the client and keeps the rest.
func (wc *WSCall) pump() {
	defer close(wc.pumped)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-wc.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		f, err := wc.WS.Next(ctx)
		if err != nil {
			return
		}
		if wc.answered(f) {
			continue
		}
		switch f.Type() {
		case "call.offer":
			wc.HandleOffer(f.Str("sdp"))
		case "call.candidate":
			var cand webrtc.ICECandidateInit
			b, _ := json.Marshal(f["candidate"])
			if json.Unmarshal(b, &cand) == nil {
				wc.HandleCandidate(f.Str("pc"), cand)
			}
		case "call.state":
			wc.mu.Lock()
			wc.states = append(wc.states, f)
			wc.mu.Unlock()
		case "call.speaker":
			wc.mu.Lock()
			wc.speakers = append(wc.speakers, f.Str("user_id"))
			wc.mu.Unlock()
		case "call.removed":
			wc.mu.Lock()
			wc.removed = append(wc.removed, f.Str("reason"))
			wc.mu.Unlock()
		default:
			wc.mu.Lock()
			wc.others = append(wc.others, f)
			wc.mu.Unlock()
		}
	}
}

// answered handles f if it answers the call.offer in flight: the answer is
// applied before the next frame is looked at, so that the candidates
// behind it find it.
func (wc *WSCall) answered(f apitest.Frame) bool {
	if t := f.Type(); t != "ack" && t != "error" {
		return false
	}
	wc.pubMu.Lock()
	req := wc.pub
	if req == nil || req.id != f.Str("id") {
		wc.pubMu.Unlock()
		return false
	}
	wc.pub = nil
	wc.pubMu.Unlock()
	if f.Type() == "error" {
		req.done <- &apitest.Error{Code: f.Str("code"), Message: f.Str("message")}
	} else {
		req.done <- req.apply(f.Str("sdp"))
	}
	return true
}

// Participants returns the user IDs of the last call.state.
func (wc *WSCall) Participants() []string {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	if len(wc.states) == 0 {
		return nil
	}
	var ids []string
	parts, _ := wc.states[len(wc.states)-1]["participants"].([]any)
	for _, p := range parts {
		if m, ok := p.(map[string]any); ok {
			id, _ := m["user_id"].(string)
			ids = append(ids, id)
		}
	}
	return ids
}

// ParticipantMedia returns what the last call.state says user sends.
func (wc *WSCall) ParticipantMedia(user string) (audio, video, screen, ok bool) {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	if len(wc.states) == 0 {
		return
	}
	parts, _ := wc.states[len(wc.states)-1]["participants"].([]any)
	for _, p := range parts {
		if m, _ := p.(map[string]any); m["user_id"] == user {
			a, _ := m["audio"].(bool)
			v, _ := m["video"].(bool)
			s, _ := m["screen"].(bool)
			return a, v, s, true
		}
	}
	return
}

// Removed returns the reasons of the call.removed frames received.
func (wc *WSCall) Removed() []string {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	return append([]string(nil), wc.removed...)
}

// Speakers returns the user IDs of the call.speaker frames received.
func (wc *WSCall) Speakers() []string {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	return append([]string(nil), wc.speakers...)
}

// Others returns the frames other than call signaling received so far
// (room events, presence, ...).
func (wc *WSCall) Others() []apitest.Frame {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	return append([]apitest.Frame(nil), wc.others...)
}

// Leave sends call.leave.
func (wc *WSCall) Leave(ctx context.Context) error {
	_, err := wc.WS.Request(ctx, map[string]any{"type": "call.leave", "room_id": wc.Room})
	return err
}

// Close stops the client and the frame pump (not the WebSocket).
func (wc *WSCall) Close() {
	select {
	case <-wc.stop:
	default:
		close(wc.stop)
	}
	<-wc.pumped
	wc.Client.Close()
}

// wsSignaling sends a client's signaling as WebSocket requests.
type wsSignaling struct {
	ws   *apitest.WS
	room string
	wc   *WSCall
}

// Publish sends call.offer with an id of its own, so that its ack comes
// through the frame pump, in order with the candidates behind it.
func (s *wsSignaling) Publish(offer string, kinds map[string]string, apply func(answer string) error) error {
	s.wc.pubMu.Lock()
	if s.wc.pub != nil {
		s.wc.pubMu.Unlock()
		return errors.New("a call.offer is waiting for its answer already")
	}
	s.wc.pubSeq++
	req := &pubRequest{id: "call.offer-" + strconv.Itoa(s.wc.pubSeq), apply: apply, done: make(chan error, 1)}
	s.wc.pub = req
	s.wc.pubMu.Unlock()
	frame := map[string]any{"type": "call.offer", "id": req.id, "room_id": s.room, "sdp": offer, "tracks": kinds}
	if err := s.ws.Send(frame); err != nil {
		return err
	}
	select {
	case err := <-req.done:
		return err
	case <-s.wc.pumped:
		return fmt.Errorf("the connection closed while %s waited for its ack: %w", req.id, s.ws.CloseErr)
	}
}

func (s *wsSignaling) Answer(answer string) error {
	_, err := s.ws.Request(context.Background(), map[string]any{"type": "call.answer", "room_id": s.room, "sdp": answer})
	return err
}

func (s *wsSignaling) Candidate(pc string, c webrtc.ICECandidateInit) error {
	_, err := s.ws.Request(context.Background(), map[string]any{"type": "call.candidate", "room_id": s.room, "pc": pc, "candidate": c})
	return err
}
