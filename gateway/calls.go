package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/confabhq/confab/bus"
	"github.com/confabhq/confab/commands"
	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/media"
	"github.com/confabhq/confab/projections"
	"github.com/pion/webrtc/v4"
)

// Call signaling frames a client sends.
const (
	FrameCallJoin       = "call.join"
	FrameCallLeave      = "call.leave"
	FrameCallOffer      = "call.offer"       // the publish connection's offer; the ack carries the answer
	FrameCallAnswer     = "call.answer"      // the answer to the SFU's offer on the subscribe connection
	FrameCallCandidate  = "call.candidate"   // an ICE candidate of "pub" or "sub"
	FrameCallMedia      = "call.media"       // what the client sends: audio, video, screen
	FrameCallRestartICE = "call.restart_ice" // asks the SFU for an ICE restart of the subscribe connection
)

// Bounds of call frames.
const (
	maxSDPBytes       = 32 << 10
	maxCandidateBytes = 1024
	maxTracks         = 16
)

// ICEServer is a STUN or TURN server a client may use, in the form of the
// browser's RTCIceServer.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// candidateJSON is an ICE candidate as browsers write it
// (RTCIceCandidateInit).
type candidateJSON struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// callSeat is the call a connection is in.
type callSeat struct {
	room domain.RoomID
	p    seat
	ice  []ICEServer // the host's STUN/TURN servers, as the join's ack gave them
}

// seat is a connection's place in the SFU that hosts its room's call,
// wherever that SFU runs: a localSeat on this node's SFU, or a remoteSeat
// whose requests go to the host node (callrelay.go). The call frames'
// handlers do not care which.
type seat interface {
	// Publish takes the client's offer on "pub" and hands the answer to
	// deliver, which sends it to the client before any of the SFU's
	// candidates of that connection.
	Publish(offer string, kinds map[string]string, deliver func(answer string)) error
	Answer(answer string) error
	AddCandidate(pc string, c webrtc.ICECandidateInit) error
	SetMedia(m media.MediaState) error
	RestartICE() error
	// Leave takes the seat out of the call; Done is closed once it is out
	// (left, or removed by the SFU).
	Leave()
	Done() <-chan struct{}
}

// localSeat is a participant of this node's SFU.
type localSeat struct{ *media.Participant }

// SetMedia records what the participant sends; it cannot fail here.
func (s localSeat) SetMedia(m media.MediaState) error {
	s.Participant.SetMedia(m)
	return nil
}

// callAck is the ack of call.join and call.offer.
type callAck struct {
	Type       string      `json:"type"` // "ack"
	ID         string      `json:"id,omitempty"`
	RoomID     string      `json:"room_id"`
	CallID     string      `json:"call_id,omitempty"`
	SDP        string      `json:"sdp,omitempty"`
	ICEServers []ICEServer `json:"ice_servers,omitempty"`
}

// Frames the server sends about a call.
type (
	callOfferFrame struct {
		Type   string `json:"type"` // "call.offer"
		RoomID string `json:"room_id"`
		SDP    string `json:"sdp"`
	}
	callCandidateFrame struct {
		Type      string                  `json:"type"` // "call.candidate"
		RoomID    string                  `json:"room_id"`
		PC        string                  `json:"pc"`
		Candidate webrtc.ICECandidateInit `json:"candidate"`
	}
	callStateFrame struct {
		Type         string            `json:"type"` // "call.state"
		RoomID       string            `json:"room_id"`
		Participants []callStateMember `json:"participants"`
	}
	callStateMember struct {
		UserID string `json:"user_id"`
		Audio  bool   `json:"audio"`
		Video  bool   `json:"video"`
		Screen bool   `json:"screen"`
	}
	callSpeakerFrame struct {
		Type   string `json:"type"` // "call.speaker"
		RoomID string `json:"room_id"`
		UserID string `json:"user_id"` // "" when nobody speaks
	}
	callRemovedFrame struct {
		Type   string `json:"type"` // "call.removed"
		RoomID string `json:"room_id"`
		Reason string `json:"reason"`
	}
)

// callFrame returns the frame of an SFU message for a call in room.
func callFrame(room domain.RoomID, m media.Message) any {
	r := string(room)
	switch m := m.(type) {
	case media.Offer:
		return callOfferFrame{"call.offer", r, m.SDP}
	case media.Candidate:
		return callCandidateFrame{"call.candidate", r, m.PC, m.Candidate}
	case media.State:
		f := callStateFrame{Type: "call.state", RoomID: r, Participants: make([]callStateMember, 0, len(m.Participants))}
		for _, p := range m.Participants {
			f.Participants = append(f.Participants, callStateMember{p.UserID, p.Audio, p.Video, p.Screen})
		}
		return f
	case media.Speaker:
		return callSpeakerFrame{"call.speaker", r, m.UserID}
	case media.Removed:
		return callRemovedFrame{"call.removed", r, m.Reason}
	}
	return nil
}

// errNoCalls answers call frames on a gateway without an SFU.
var errNoCalls = &apiError{Status: http.StatusServiceUnavailable, Code: CodeCallsUnavailable, Message: "calls are not enabled on this server"}

// errNotInCall answers call frames of a connection that is not in the
// room's call.
var errNotInCall = &apiError{Status: http.StatusConflict, Code: CodeNotInCall, Message: "not in this room's call; send call.join first"}

// callFrameHandler runs a call frame. The reply it returns is sent unless
// it returns an error; errAcked means it sent its ack itself.
func (g *Gateway) callFrameHandler(ctx context.Context, c *conn, f Frame) (any, error) {
	if g.sfu == nil && g.hosts == nil {
		return nil, errNoCalls
	}
	room, err := parseRoomID(f.RoomID)
	if err != nil {
		return nil, err
	}
	ack := ackFrame{Type: "ack", ID: f.ID, RoomID: f.RoomID}
	if f.Type == FrameCallJoin {
		return g.joinCall(ctx, c, f, room)
	}
	seat := c.callIn(room)
	if seat == nil {
		if f.Type == FrameCallLeave {
			g.leaveRejoin(c, room)
			return ack, nil // leaving twice changes nothing
		}
		return nil, errNotInCall
	}
	if f.Type == FrameCallLeave {
		g.leaveCall(ctx, c, seat, domain.CallLeaveLeft)
		return ack, nil
	}
	reply, err := seatFrames[f.Type](g, c, f, seat.p)
	if err != nil {
		return nil, mediaError(err)
	}
	if reply == nil {
		return ack, nil
	}
	return reply, nil
}

// seatFrames run the call frames that act on the connection's seat, by
// type; a nil reply is answered with a plain ack. call.join and
// call.leave, which make and end the seat, are callFrameHandler's own.
var seatFrames = map[string]func(g *Gateway, c *conn, f Frame, p seat) (reply any, err error){
	FrameCallOffer: func(g *Gateway, c *conn, f Frame, p seat) (any, error) {
		// The ack with the answer must be queued before the SFU sends the
		// connection's first candidate: Publish waits for deliver.
		err := p.Publish(f.SDP, f.Tracks, func(answer string) {
			g.sendJSON(c, callAck{Type: "ack", ID: f.ID, RoomID: f.RoomID, SDP: answer})
		})
		if err != nil {
			return nil, err
		}
		return nil, errAcked
	},
	FrameCallAnswer: func(_ *Gateway, _ *conn, f Frame, p seat) (any, error) {
		return nil, p.Answer(f.SDP)
	},
	FrameCallCandidate: func(_ *Gateway, _ *conn, f Frame, p seat) (any, error) {
		return nil, p.AddCandidate(f.PC, webrtc.ICECandidateInit{Candidate: f.Candidate.Candidate, SDPMid: f.Candidate.SDPMid,
			SDPMLineIndex: f.Candidate.SDPMLineIndex, UsernameFragment: f.Candidate.UsernameFragment})
	},
	FrameCallMedia: func(_ *Gateway, _ *conn, f Frame, p seat) (any, error) {
		return nil, p.SetMedia(media.MediaState{Audio: f.Audio, Video: f.Video, Screen: f.Screen})
	},
	FrameCallRestartICE: func(_ *Gateway, _ *conn, _ Frame, p seat) (any, error) {
		return nil, p.RestartICE()
	},
}

// isCallFrame reports whether frames of type t are callFrameHandler's.
func isCallFrame(t string) bool {
	return t == FrameCallJoin || t == FrameCallLeave || seatFrames[t] != nil
}

// mediaError turns an SFU error into an API error.
func mediaError(err error) error {
	switch {
	case errors.Is(err, media.ErrClosed):
		return errNotInCall
	case errors.Is(err, media.ErrBadSDP), errors.Is(err, media.ErrNotAnswer), errors.Is(err, media.ErrBadPC), errors.Is(err, media.ErrBadKind):
		return &apiError{Status: http.StatusBadRequest, Code: CodeInvalidSDP, Message: err.Error()}
	}
	return err
}

// joinCall puts the connection in the room's call: the command records it
// (members only), then the SFU of the node hosting the call admits it
// (this node's, or another's through the relay). A connection is in one
// call at a time: joining another leaves the first. A connection told to
// rejoin (call.rejoin) joins again with the same seat in the log.
func (g *Gateway) joinCall(ctx context.Context, c *conn, f Frame, room domain.RoomID) (any, error) {
	if seat := c.callIn(room); seat != nil {
		// Fresh credentials: this node's TURN takes them as the host's
		// does (one --turn-secret); a node without TURN repeats the host's.
		ice := g.iceServers(c.user)
		if ice == nil {
			ice = seat.ice
		}
		return callAck{Type: "ack", ID: f.ID, RoomID: f.RoomID, ICEServers: ice}, nil
	}
	c.callMu.Lock()
	defer c.callMu.Unlock()
	if old := c.call; old != nil {
		g.leaveCallLocked(ctx, c, old, domain.CallLeaveLeft)
	}
	if r, ok := g.cancelRejoinLocked(c); ok && r != room {
		g.recordLeave(r, c.user, c.id, domain.CallLeaveLeft)
	}
	host, err := g.callHost(ctx, room)
	if err != nil {
		return nil, err
	}
	callID, res, err := g.cmds.JoinCall.Handle(ctx, commands.JoinCall{Room: room, User: c.user, NodeID: g.nodeID, ConnID: c.id})
	if err != nil {
		return nil, err
	}
	s, ice, err := g.takeSeat(ctx, c, room, host, res.Revision)
	if err != nil {
		// Undo the join the command recorded.
		g.recordLeave(room, c.user, c.id, domain.CallLeaveFailed)
		return nil, err
	}
	c.call = &callSeat{room: room, p: s, ice: ice}
	return callAck{Type: "ack", ID: f.ID, RoomID: f.RoomID, CallID: callID, ICEServers: ice}, nil
}

// takeSeat seats c in room's call on host's SFU: here, or through the
// relay; a host that says it is not the host any more is looked up again
// once.
func (g *Gateway) takeSeat(ctx context.Context, c *conn, room domain.RoomID, host bus.HostLease, seq uint64) (seat, []ICEServer, error) {
	for try := 0; ; try++ {
		if host.Node == g.nodeID {
			s, err := g.hostedSeat(c, room, seq)
			return s, g.iceServers(c.user), err
		}
		s, ice, err := g.joinRemote(ctx, c, room, host, seq)
		if err == nil || try > 0 || !errors.Is(err, errHostUnavailable) {
			return s, ice, err
		}
		if host, err = g.callHost(ctx, room); err != nil {
			return nil, nil, err
		}
	}
}

// leaveRejoin records the leave of a connection that was told to rejoin
// room's call and hung up instead.
func (g *Gateway) leaveRejoin(c *conn, room domain.RoomID) {
	c.callMu.Lock()
	pending := c.rejoin != nil && c.rejoin.room == room
	if pending {
		g.cancelRejoinLocked(c)
	}
	c.callMu.Unlock()
	if pending {
		g.recordLeave(room, c.user, c.id, domain.CallLeaveLeft)
	}
}

func (g *Gateway) iceServers(user domain.UserID) []ICEServer {
	if g.ice == nil {
		return nil
	}
	return g.ice(string(user), time.Now())
}

// leaveCall takes the connection out of its call, for reason.
func (g *Gateway) leaveCall(ctx context.Context, c *conn, seat *callSeat, reason string) {
	c.callMu.Lock()
	defer c.callMu.Unlock()
	if c.call == seat {
		g.leaveCallLocked(ctx, c, seat, reason)
	}
}

func (g *Gateway) leaveCallLocked(_ context.Context, c *conn, seat *callSeat, reason string) {
	c.call = nil
	seat.p.Leave()
	g.recordLeave(seat.room, c.user, c.id, reason)
}

// recordLeave appends the leave; a bounded wait that outlives the request.
func (g *Gateway) recordLeave(room domain.RoomID, user domain.UserID, connID, reason string) {
	ctx, cancel := context.WithTimeout(context.Background(), g.limits.CommandTimeout)
	defer cancel()
	_, err := g.cmds.LeaveCall.Handle(ctx, commands.LeaveCall{Room: room, User: user, ConnID: connID, Reason: reason})
	if err != nil {
		g.logger.Warn("cannot record leaving a call", "room", room, "user", user, "err", err)
	}
}

// callIn returns the connection's seat in room's call, if it is there and
// the SFU has not removed it.
func (c *conn) callIn(room domain.RoomID) *callSeat {
	c.callMu.Lock()
	defer c.callMu.Unlock()
	if c.call == nil || c.call.room != room {
		return nil
	}
	select {
	case <-c.call.p.Done():
		c.call = nil // removed by the SFU (moved, failed)
		return nil
	default:
		return c.call
	}
}

// endCall takes a closing connection out of its call, or out of the call
// it was told to rejoin.
func (g *Gateway) endCall(c *conn) {
	c.callMu.Lock()
	defer c.callMu.Unlock()
	if c.call != nil {
		g.leaveCallLocked(context.Background(), c, c.call, domain.CallLeaveDisconnected)
	}
	if room, ok := g.cancelRejoinLocked(c); ok {
		g.recordLeave(room, c.user, c.id, domain.CallLeaveDisconnected)
	}
}

// callRegistry remembers, for each participant of this node's SFU
// (whichever node their connection is on), the sequence number of their
// CallJoined, so that call events committed before it (delivered late by
// the bus) do not remove them, and how to tell their client to rejoin.
type callRegistry struct {
	mu    sync.Mutex
	parts map[*media.Participant]registered
}

type registered struct {
	seq    uint64
	rejoin func(reason string)
}

func (r *callRegistry) add(p *media.Participant, seq uint64, rejoin func(reason string)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.parts == nil {
		r.parts = map[*media.Participant]registered{}
	}
	r.parts[p] = registered{seq, rejoin}
	go func() {
		<-p.Done()
		r.mu.Lock()
		delete(r.parts, p)
		r.mu.Unlock()
	}()
}

func (r *callRegistry) seq(p *media.Participant) (uint64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.parts[p]
	return s.seq, ok
}

func (r *callRegistry) rejoiner(p *media.Participant) func(string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.parts[p].rejoin
}

// onCallEvent keeps the SFU in step with the room's call as the log tells
// it, whichever node appended: a participant who left (kicked, reaped, or
// gone from another node) is removed, and one who joined from another
// connection is moved there.
func (g *Gateway) onCallEvent(room domain.RoomID, seq uint64, ev domain.Event) {
	if g.sfu == nil {
		return
	}
	var user domain.UserID
	var keepConn, reason string
	switch ev := ev.(type) {
	case domain.CallLeft:
		user, reason = ev.UserID, ev.Reason
	case domain.CallJoined:
		user, keepConn, reason = ev.UserID, ev.ConnID, media.ReasonMoved
	default:
		return
	}
	p := g.sfu.Participant(string(room), string(user))
	if p == nil || keepConn != "" && p.ConnID == keepConn {
		return
	}
	if joined, ok := g.calls.seq(p); !ok || joined >= seq {
		return // the event is older than the participant's join
	}
	// Closing peer connections takes a while; the bus must not wait.
	go p.Remove(reason)
}

// CallFailed records the leave of a participant whose media connection
// failed: the SFU's Config.OnFailed.
func (g *Gateway) CallFailed(room, user, conn string) {
	g.recordLeave(domain.RoomID(room), domain.UserID(user), conn, domain.CallLeaveFailed)
}

// reapCalls takes the participants of lost nodes out of their calls. It
// returns the first error, after trying every participant: the reaper's
// next round tries what is left.
func (g *Gateway) reapCalls(ctx context.Context, nodes []string) error {
	parts, err := g.read.CallParticipantsOn(ctx, nodes)
	if err != nil {
		return fmt.Errorf("list call participants: %w", err)
	}
	var first error
	for _, p := range parts {
		_, err := g.cmds.LeaveCall.Handle(ctx, commands.LeaveCall{Room: p.RoomID, User: p.UserID, ConnID: p.ConnID, Reason: domain.CallLeaveNodeLost})
		if err != nil && first == nil {
			first = fmt.Errorf("end the call participation of %s in %s: %w", p.UserID, p.RoomID, err)
		}
	}
	return first
}

// errNoRoomNoTURN refuses ICE servers to a user who is in no room: TURN
// credentials let their holder relay traffic through the server, and a
// user who can be in no call has no use for them.
var errNoRoomNoTURN = domain.Errorf(domain.KindForbidden, "ice servers",
	"TURN credentials are only for members of a room: create or join a room first")

// GET /rtc/ice-servers: STUN and TURN servers with fresh credentials, for
// users who are in at least one room.
func (g *Gateway) getICEServers(w http.ResponseWriter, r *http.Request, s *session) error {
	in, err := g.read.InAnyRoom(r.Context(), s.UserID)
	if err != nil {
		return err
	}
	if !in {
		return errNoRoomNoTURN
	}
	servers := g.iceServers(s.UserID)
	if servers == nil {
		servers = []ICEServer{}
	}
	return respond(w, http.StatusOK, map[string]any{"ice_servers": servers})
}

// callJSON is a call as the REST API shows it.
type callJSON struct {
	CallID       string          `json:"call_id"`
	Seq          uint64          `json:"seq"`
	StartedBy    domain.UserID   `json:"started_by"`
	StartedAt    time.Time       `json:"started_at"`
	EndedSeq     uint64          `json:"ended_seq,omitempty"`
	EndedAt      *time.Time      `json:"ended_at,omitempty"`
	Participants int             `json:"participants,omitempty"`
	InCall       []domain.UserID `json:"in_call"`
}

func toCallJSON(c projections.CallInfo) callJSON {
	j := callJSON{CallID: c.ID, Seq: c.Seq, StartedBy: c.StartedBy, StartedAt: c.StartedAt, EndedSeq: c.EndedSeq,
		Participants: c.Participants, InCall: c.InCall}
	if !c.EndedAt.IsZero() {
		at := c.EndedAt
		j.EndedAt = &at
	}
	if j.InCall == nil {
		j.InCall = []domain.UserID{}
	}
	return j
}

// GET /rooms/{id}/call: the room's ongoing call, or null.
func (g *Gateway) getCall(w http.ResponseWriter, r *http.Request, rc roomCtx) error {
	c, ok, err := g.read.ActiveCall(r.Context(), rc.room)
	if err != nil {
		return err
	}
	var out *callJSON
	if ok {
		j := toCallJSON(c)
		out = &j
	}
	return respond(w, http.StatusOK, map[string]any{"call": out})
}

// GET /rooms/{id}/calls?before=SEQ&limit=N: the room's calls, newest
// first, for its timeline.
func (g *Gateway) listCalls(w http.ResponseWriter, r *http.Request, rc roomCtx) error {
	before, limit, err := pageParams(r, "list calls")
	if err != nil {
		return err
	}
	calls, err := g.read.Calls(r.Context(), rc.room, before, limit)
	if err != nil {
		return err
	}
	out := make([]callJSON, 0, len(calls))
	for _, c := range calls {
		out = append(out, toCallJSON(c))
	}
	return respond(w, http.StatusOK, map[string]any{"calls": out})
}
