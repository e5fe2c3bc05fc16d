package rtctest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/confabhq/confab/internal/apitest"
	"github.com/pion/webrtc/v4"
)

// WSCall is a participant that signals over confab's WebSocket API: it
// sends call.join, then answers the server's call.offer and
// call.candidate frames. It handles the server's frames in the order they
// come, the ack of its own call.offer included, as a browser does. On
// call.rejoin it does what the browser does: it closes its connections,
// sends call.join again on the same WebSocket and publishes again.
type WSCall struct {
	*Client
	WS   *apitest.WS
	Room string
	// CallID and ICEServers are those the first join's ack handed out
	// (LastJoin has those of a join again).
	CallID     string
	ICEServers []webrtc.ICEServer

	mu sync.Mutex // guards what follows, up to stop
	// callID and iceServers are those of the last join's ack.
	callID     string
	iceServers []webrtc.ICEServer
	states     []apitest.Frame
	speakers   []string
	removed    []string
	rejoins    []Rejoin
	others     []apitest.Frame
	stop       chan struct{}
	pumped     chan struct{}
	bg         sync.WaitGroup // publishing again after a rejoin
	ownICE     bool           // the caller chose the ICE servers: keep them on rejoin
	noRejoin   bool           // Options.NoRejoin

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
	wc := &WSCall{WS: ws, Room: room, stop: make(chan struct{}), pumped: make(chan struct{}), ownICE: opts.ICEServers != nil, noRejoin: opts.NoRejoin}
	if err := wc.join(ctx); err != nil {
		return nil, err
	}
	wc.CallID, wc.ICEServers = wc.LastJoin()
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

// join sends call.join and keeps the call ID and ICE servers of its ack.
func (wc *WSCall) join(ctx context.Context) error {
	ack, err := wc.WS.Request(ctx, map[string]any{"type": "call.join", "room_id": wc.Room})
	if err != nil {
		return err
	}
	var ice []webrtc.ICEServer
	if raw, ok := ack["ice_servers"]; ok {
		b, _ := json.Marshal(raw)
		if err := json.Unmarshal(b, &ice); err != nil {
			return fmt.Errorf("ice_servers: %w", err)
		}
	}
	wc.mu.Lock()
	wc.callID, wc.iceServers = ack.Str("call_id"), ice
	wc.mu.Unlock()
	return nil
}

// LastJoin returns the call ID and ICE servers of the last join's ack:
// after a call.rejoin, those of the join again.
func (wc *WSCall) LastJoin() (callID string, iceServers []webrtc.ICEServer) {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	return wc.callID, wc.iceServers
}

// Rejoin is one call.rejoin the client followed.
type Rejoin struct {
	Reason string
	At     time.Time // when the frame came
	// Joined is when call.join was acknowledged again (zero if it was
	// not); Err is why joining or publishing again failed, if it did.
	Joined time.Time
	Err    error
}

// Rejoins returns the call.rejoin frames followed so far.
func (wc *WSCall) Rejoins() []Rejoin {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	return append([]Rejoin(nil), wc.rejoins...)
}

// rejoinTimeout bounds the retries of call.join after a call.rejoin.
const rejoinTimeout = time.Minute

// rejoin follows a call.rejoin frame as the browser does: it closes the
// connections, sends call.join again on the same WebSocket (retrying an
// error until rejoinTimeout), makes new connections with the ICE servers
// of the new ack, and publishes again what it published. It runs on the
// frame pump, so that the server's frames behind the new ack go to the
// new connections; publishing, which waits for the pump, runs beside it.
func (wc *WSCall) rejoin(ctx context.Context, reason string) {
	wc.mu.Lock()
	wc.rejoins = append(wc.rejoins, Rejoin{Reason: reason, At: time.Now()})
	i := len(wc.rejoins) - 1
	wc.mu.Unlock()
	fail := func(err error) {
		wc.mu.Lock()
		wc.rejoins[i].Err = err
		wc.mu.Unlock()
	}
	wc.dropPending(errors.New("call.rejoin came before the answer"))
	ctx, cancel := context.WithTimeout(ctx, rejoinTimeout)
	defer cancel()
	for {
		err := wc.join(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			fail(fmt.Errorf("call.join again: %w", err))
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
	wc.mu.Lock()
	wc.rejoins[i].Joined = time.Now()
	ice := wc.iceServers
	if wc.ownICE {
		ice = nil
	}
	wc.mu.Unlock()
	kinds, err := wc.Reconnect(ice)
	if err != nil {
		fail(err)
		return
	}
	wc.bg.Go(func() {
		if err := wc.Publish(kinds); err != nil {
			fail(fmt.Errorf("publish again: %w", err))
		}
	})
}

// dropPending fails the call.offer waiting for its ack, if any.
func (wc *WSCall) dropPending(err error) {
	wc.pubMu.Lock()
	req := wc.pub
	wc.pub = nil
	wc.pubMu.Unlock()
	if req != nil {
		req.done <- err
	}
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
		case "call.rejoin":
			if f.Str("room_id") == wc.Room && !wc.noRejoin {
				wc.rejoin(ctx, f.Str("reason"))
				break
			}
			fallthrough
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
	wc.bg.Wait()
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
