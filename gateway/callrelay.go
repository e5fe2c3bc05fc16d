package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/confabhq/confab/bus"
	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/media"
	"github.com/google/uuid"
	"github.com/pion/webrtc/v4"
)

// callTopic returns the bus topic of call relay messages to node: core
// NATS on the NATS bus (not stored, at most once), like typing.
func callTopic(node string) string { return "confab.calls." + node }

// Kinds of relay envelopes.
const (
	envRequest = "req"   // a participant's node to the host
	envReply   = "reply" // the host's answer to a request with an ID
	envPush    = "push"  // what the host's SFU sends a participant
)

// Operations of relay requests.
const (
	opJoin       = "join"
	opOffer      = "offer"
	opAnswer     = "answer"
	opCandidate  = "candidate"
	opMedia      = "media"
	opRestartICE = "restart_ice"
	opLeave      = "leave"
	opClaim      = "claim"
)

// Labels of the relay's metrics.
const (
	relayTimeoutErr   = "timeout"
	relayNotHost      = "not_host"
	relayMalformed    = "malformed"
	relayPublishError = "publish"
	relayRefused      = "refused"
)

// codeNotHost is a host's reply to a request whose token is not the one
// it holds (it is not, or no longer, the room's host). Clients never see
// it: they get call_host_unavailable.
const codeNotHost = "not_host"

// envelope is one relay message between nodes.
type envelope struct {
	Kind  string `json:"kind"`
	ID    string `json:"id,omitempty"` // correlates a reply; a request without one gets none
	From  string `json:"from"`
	Op    string `json:"op,omitempty"`
	Room  string `json:"room,omitempty"`
	User  string `json:"user,omitempty"`
	Conn  string `json:"conn,omitempty"`
	Token uint64 `json:"token,omitempty"` // the fencing token the sender resolved (requests) or holds (pushes)
	Seq   uint64 `json:"seq,omitempty"`   // a join's CallJoined sequence number

	SDP       string                   `json:"sdp,omitempty"`
	Tracks    map[string]string        `json:"tracks,omitempty"`
	PC        string                   `json:"pc,omitempty"`
	Candidate *webrtc.ICECandidateInit `json:"candidate,omitempty"`
	Media     *media.MediaState        `json:"media,omitempty"`

	Status     int             `json:"status,omitempty"` // an error reply's
	Code       string          `json:"code,omitempty"`
	Message    string          `json:"message,omitempty"`
	ICEServers []ICEServer     `json:"ice_servers,omitempty"`
	Lease      *bus.HostLease  `json:"lease,omitempty"`
	Frame      json.RawMessage `json:"frame,omitempty"`   // a push's call frame, as the client gets it
	Removed    string          `json:"removed,omitempty"` // a push that ends the seat, and why
	Rejoin     string          `json:"rejoin,omitempty"`  // a push that asks the client to rejoin, and why
}

// valid checks the bounds of what a request carries.
func (e *envelope) valid() bool {
	if e.From == "" || len(e.SDP) > maxSDPBytes || len(e.Tracks) > maxTracks {
		return false
	}
	return e.Candidate == nil || len(e.Candidate.Candidate) <= maxCandidateBytes
}

// relay is this node's side of the call relay: the seats of its
// connections in calls hosted elsewhere, and its requests waiting for a
// reply. Its lock is taken alone, or after a conn's callMu.
type relay struct {
	mu      sync.Mutex
	seats   map[string]*remoteSeat // by room and conn ID
	pending map[string]*pendingRequest
}

type pendingRequest struct {
	reply   chan envelope // buffered: the loop never waits for the requester
	onReply func(envelope)
}

func seatKey(room, conn string) string { return room + "/" + conn }

func (r *relay) addSeat(s *remoteSeat) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seats == nil {
		r.seats = map[string]*remoteSeat{}
	}
	r.seats[seatKey(string(s.room), s.c.id)] = s
}

func (r *relay) dropSeat(s *remoteSeat) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := seatKey(string(s.room), s.c.id)
	if r.seats[k] == s {
		delete(r.seats, k)
	}
}

func (r *relay) seat(room, conn string) *remoteSeat {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seats[seatKey(room, conn)]
}

// remoteByRoom returns the remote seats by room.
func (r *relay) remoteByRoom() map[domain.RoomID][]*remoteSeat {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[domain.RoomID][]*remoteSeat{}
	for _, s := range r.seats {
		out[s.room] = append(out[s.room], s)
	}
	return out
}

func (r *relay) await(id string, onReply func(envelope)) *pendingRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending == nil {
		r.pending = map[string]*pendingRequest{}
	}
	p := &pendingRequest{reply: make(chan envelope, 1), onReply: onReply}
	r.pending[id] = p
	return p
}

func (r *relay) take(id string) *pendingRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pending[id]
	delete(r.pending, id)
	return p
}

// publish sends env to node's relay topic. Messages this node publishes
// reach each node in the order they were published (one NATS
// connection), which keeps an offer's answer before its candidates.
func (g *Gateway) publish(node string, env envelope) error {
	env.From = g.nodeID
	payload, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("calls: encode relay message: %w", err)
	}
	if err := g.pub.Publish(callTopic(node), message.NewMessage(uuid.NewString(), payload)); err != nil {
		g.metrics.CallRelayError(relayPublishError)
		return fmt.Errorf("calls: relay to node %s: %w", node, err)
	}
	g.metrics.CallRelayed(env.Kind)
	return nil
}

// request sends a request to node and waits for its reply, at most
// relayTimeout. onReply, if set, runs on the relay loop as the reply
// comes, before the loop handles the next message (an offer's answer
// reaches the client before the candidates that follow it).
func (g *Gateway) request(ctx context.Context, node string, env envelope, onReply func(envelope)) (envelope, error) {
	env.Kind, env.ID = envRequest, uuid.NewString()
	p := g.relay.await(env.ID, onReply)
	if err := g.publish(node, env); err != nil {
		g.relay.take(env.ID)
		g.logger.Warn("calls: relay request failed", "op", env.Op, "node", node, "err", err)
		return envelope{}, errHostUnavailable
	}
	t := time.NewTimer(relayTimeout)
	defer t.Stop()
	select {
	case r := <-p.reply:
		if r.Code == "" {
			return r, nil
		}
		if r.Code == codeNotHost {
			g.metrics.CallRelayError(relayNotHost)
			return r, errHostUnavailable
		}
		g.metrics.CallRelayError(relayRefused)
		return r, &apiError{Status: r.Status, Code: r.Code, Message: r.Message}
	case <-t.C:
	case <-ctx.Done():
	}
	g.relay.take(env.ID)
	g.metrics.CallRelayError(relayTimeoutErr)
	g.logger.Warn("calls: the host did not answer a relayed request", "op", env.Op, "node", node, "room", env.Room)
	return envelope{}, errHostUnavailable
}

// requestClaim asks node to host room's call, and returns the lease of
// whichever node hosts it then.
func (g *Gateway) requestClaim(ctx context.Context, node string, room domain.RoomID) (bus.HostLease, error) {
	r, err := g.request(ctx, node, envelope{Op: opClaim, Room: string(room)}, nil)
	if err != nil {
		return bus.HostLease{}, err
	}
	if r.Lease == nil {
		return bus.HostLease{}, errHostUnavailable
	}
	return *r.Lease, nil
}

// followCalls handles the relay messages to this node, one at a time in
// their order, until ctx ends or the subscription does.
func (g *Gateway) followCalls(ctx context.Context) error {
	msgs, err := g.sub.Subscribe(ctx, callTopic(g.nodeID))
	if err != nil {
		return eventstore.AsTransient(fmt.Errorf("calls: subscribe: %w", err))
	}
	g.loops.Loop(loopCallRelay).Healthy()
	for msg := range msgs {
		g.handleEnvelope(ctx, msg.Payload)
		msg.Ack()
	}
	if ctx.Err() == nil {
		return eventstore.AsTransient(errors.New("calls: relay subscription closed"))
	}
	return ctx.Err()
}

func (g *Gateway) handleEnvelope(ctx context.Context, payload []byte) {
	var env envelope
	if len(payload) > maxEnvelopeBytes || json.Unmarshal(payload, &env) != nil || !env.valid() {
		g.metrics.CallRelayError(relayMalformed)
		g.logger.Warn("calls: malformed relay message ignored", "bytes", len(payload))
		return
	}
	switch env.Kind {
	case envReply:
		if p := g.relay.take(env.ID); p != nil {
			if p.onReply != nil {
				p.onReply(env)
			}
			p.reply <- env
		}
	case envPush:
		if s := g.relay.seat(env.Room, env.Conn); s != nil && s.host == env.From && s.token == env.Token {
			s.push(env)
		}
	case envRequest:
		g.serve(ctx, env)
	default:
		g.metrics.CallRelayError(relayMalformed)
		g.logger.Warn("calls: relay message of unknown kind ignored", "kind", env.Kind)
	}
}

// errReplied means the operation sent its reply itself.
var errReplied = errors.New("replied")

// serve runs a request on this node, the host, and replies.
func (g *Gateway) serve(ctx context.Context, req envelope) {
	reply := envelope{Kind: envReply, ID: req.ID}
	err := g.serveOp(ctx, req, &reply)
	if errors.Is(err, errReplied) || req.ID == "" {
		return
	}
	if err != nil {
		ae := toAPIError(err, g.logger)
		reply.Status, reply.Code, reply.Message = ae.Status, ae.Code, ae.Message
	}
	if err := g.publish(req.From, reply); err != nil {
		g.logger.Warn("calls: cannot reply", "node", req.From, "err", err)
	}
}

var errNotHost = &apiError{Status: http.StatusServiceUnavailable, Code: codeNotHost, Message: "this node does not host the call"}

func (g *Gateway) serveOp(ctx context.Context, req envelope, reply *envelope) error {
	room := domain.RoomID(req.Room)
	if g.sfu == nil || g.hosts == nil {
		return errNotHost
	}
	if req.Op == opClaim {
		l, err := g.claimHere(ctx, room)
		if err != nil && !errors.Is(err, bus.ErrLeaseHeld) {
			return err
		}
		reply.Lease = &l
		return nil
	}
	if token, ok := g.hosted.token(room); !ok || token != req.Token {
		return errNotHost
	}
	if req.Op == opJoin {
		p, err := g.sfu.Join(req.Room, req.User, req.Conn, g.pushTo(req.From, req.Room, req.User, req.Conn, req.Token))
		if err != nil {
			return err
		}
		from := req.From
		g.calls.add(p, req.Seq, func(reason string) {
			g.publish(from, envelope{Kind: envPush, Room: req.Room, User: req.User, Conn: req.Conn, Token: req.Token, Rejoin: reason})
		})
		reply.ICEServers = g.iceServers(domain.UserID(req.User))
		return nil
	}
	p := g.sfu.Participant(req.Room, req.User)
	if p == nil || p.ConnID != req.Conn {
		return errNotInCall
	}
	switch req.Op {
	case opOffer:
		err := p.Publish(req.SDP, req.Tracks, func(answer string) {
			reply.SDP = answer
			if err := g.publish(req.From, *reply); err != nil {
				g.logger.Warn("calls: cannot reply", "node", req.From, "err", err)
			}
		})
		if err != nil {
			return mediaError(err)
		}
		return errReplied
	case opAnswer:
		return mediaError(p.Answer(req.SDP))
	case opCandidate:
		if req.Candidate == nil {
			return mediaError(media.ErrBadPC)
		}
		return mediaError(p.AddCandidate(req.PC, *req.Candidate))
	case opMedia:
		if req.Media != nil {
			p.SetMedia(*req.Media)
		}
		return nil
	case opRestartICE:
		return mediaError(p.RestartICE())
	case opLeave:
		p.Leave()
		return nil
	}
	return &apiError{Status: http.StatusBadRequest, Code: CodeUnknownType, Message: "unknown relay operation " + req.Op}
}

// pushTo returns the SFU's send function of a participant on node: each
// message goes there as a push, framed as the client gets it.
func (g *Gateway) pushTo(node, room, user, conn string, token uint64) func(media.Message) {
	return func(m media.Message) {
		v := callFrame(domain.RoomID(room), m)
		if v == nil {
			return
		}
		frame, err := json.Marshal(v)
		if err != nil {
			return
		}
		env := envelope{Kind: envPush, Room: room, User: user, Conn: conn, Token: token, Frame: frame}
		if r, ok := m.(media.Removed); ok {
			env.Removed = r.Reason
		}
		if err := g.publish(node, env); err != nil {
			g.logger.Warn("calls: cannot push to a participant's node", "node", node, "err", err)
		}
	}
}

// remoteSeat is a connection's seat in a call hosted by another node: its
// calls are requests to the host, and the host's pushes reach the
// connection through the relay loop.
type remoteSeat struct {
	g     *Gateway
	c     *conn
	room  domain.RoomID
	host  string
	token uint64
	done  chan struct{}
	once  sync.Once
}

var _ seat = (*remoteSeat)(nil)

// joinRemote seats c in room's call on host, whose lease is l. The seat
// is registered before the join request, so that the SFU's first
// messages (which may come before the reply) reach the client.
func (g *Gateway) joinRemote(ctx context.Context, c *conn, room domain.RoomID, l bus.HostLease, seq uint64) (*remoteSeat, []ICEServer, error) {
	s := &remoteSeat{g: g, c: c, room: room, host: l.Node, token: l.Token, done: make(chan struct{})}
	g.relay.addSeat(s)
	r, err := s.request(ctx, envelope{Op: opJoin, Seq: seq}, nil)
	if err != nil {
		s.close()
		return nil, nil, err
	}
	return s, r.ICEServers, nil
}

func (s *remoteSeat) request(ctx context.Context, env envelope, onReply func(envelope)) (envelope, error) {
	if s.closed() {
		return envelope{}, errNotInCall
	}
	env.Room, env.User, env.Conn, env.Token = string(s.room), string(s.c.user), s.c.id, s.token
	return s.g.request(ctx, s.host, env, onReply)
}

// ctx bounds a request of a frame handler that has no context of its own.
func (s *remoteSeat) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.g.baseCtx, relayTimeout)
}

func (s *remoteSeat) Publish(offer string, kinds map[string]string, deliver func(answer string)) error {
	ctx, cancel := s.ctx()
	defer cancel()
	_, err := s.request(ctx, envelope{Op: opOffer, SDP: offer, Tracks: kinds}, func(r envelope) {
		if r.Code == "" {
			deliver(r.SDP)
		}
	})
	return err
}

func (s *remoteSeat) Answer(answer string) error {
	ctx, cancel := s.ctx()
	defer cancel()
	_, err := s.request(ctx, envelope{Op: opAnswer, SDP: answer}, nil)
	return err
}

func (s *remoteSeat) AddCandidate(pc string, c webrtc.ICECandidateInit) error {
	ctx, cancel := s.ctx()
	defer cancel()
	_, err := s.request(ctx, envelope{Op: opCandidate, PC: pc, Candidate: &c}, nil)
	return err
}

func (s *remoteSeat) SetMedia(m media.MediaState) error {
	ctx, cancel := s.ctx()
	defer cancel()
	_, err := s.request(ctx, envelope{Op: opMedia, Media: &m}, nil)
	return err
}

func (s *remoteSeat) RestartICE() error {
	ctx, cancel := s.ctx()
	defer cancel()
	_, err := s.request(ctx, envelope{Op: opRestartICE}, nil)
	return err
}

// Leave tells the host, without waiting (a later join from the same
// connection is published after it, so the host sees them in order).
func (s *remoteSeat) Leave() {
	if s.closed() {
		return
	}
	s.close()
	env := envelope{Kind: envRequest, Op: opLeave, Room: string(s.room), User: string(s.c.user), Conn: s.c.id, Token: s.token}
	if err := s.g.publish(s.host, env); err != nil {
		s.g.logger.Warn("calls: cannot tell the host of a leave", "node", s.host, "err", err)
	}
}

func (s *remoteSeat) Done() <-chan struct{} { return s.done }

func (s *remoteSeat) closed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// close ends the seat here, telling the host nothing.
func (s *remoteSeat) close() {
	s.once.Do(func() {
		close(s.done)
		s.g.relay.dropSeat(s)
	})
}

// push delivers a host's message to the client: a call frame, then, if
// it removed the participant, the seat's end; or a request to rejoin.
func (s *remoteSeat) push(env envelope) {
	if s.closed() {
		return
	}
	if env.Rejoin != "" {
		s.g.seatLost(s.c, s.room, s, env.Rejoin)
		return
	}
	if len(env.Frame) > 0 {
		s.g.sendJSON(s.c, env.Frame)
	}
	if env.Removed != "" {
		s.close()
	}
}
