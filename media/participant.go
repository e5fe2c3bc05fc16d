package media

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// Participant is one user in a room's call, on one client connection,
// with two peer connections: pub for what they send and sub for what they
// receive.
type Participant struct {
	UserID, ConnID string

	room *room
	sfu  *SFU
	out  func(Message)
	pub  *webrtc.PeerConnection
	sub  *webrtc.PeerConnection
	// Their local ICE candidates, held while a description is on its way.
	pubICE, subICE *trickle

	mu      sync.Mutex
	kinds   map[string]string                    // of the pub connection's transceivers, by mid, from the client
	sources map[string]*source                   // what they publish, by kind
	downs   map[*source]*downTrack               // what they receive
	media   MediaState                           // what they say they send
	pending map[string][]webrtc.ICECandidateInit // candidates before a remote description, by pc
	failed  map[string]*time.Timer               // by pc, while that connection is failed

	// Negotiation of the subscribe connection, one offer at a time.
	negMu        sync.Mutex
	offerPending bool // an offer was sent and its answer has not come
	needOffer    bool // something changed while an offer was pending
	iceRestart   bool // the next offer restarts ICE
	// restartPending: the offer waiting for its answer restarts ICE.
	restartPending bool

	queue chan forward // packets to write to the subscribe connection
	done  chan struct{}
	once  sync.Once
}

// newParticipant returns a participant of no room yet.
func newParticipant(s *SFU, user, conn string, send func(Message)) (*Participant, error) {
	p := &Participant{
		UserID: user, ConnID: conn, sfu: s, out: send,
		kinds: map[string]string{}, sources: map[string]*source{}, downs: map[*source]*downTrack{},
		pending: map[string][]webrtc.ICECandidateInit{}, failed: map[string]*time.Timer{},
		queue: make(chan forward, s.cfg.QueueSize), done: make(chan struct{}),
	}
	p.pubICE = &trickle{pc: PCPublish, send: p.send}
	p.subICE = &trickle{pc: PCSubscribe, send: p.send}
	var err error
	if p.pub, err = s.api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		return nil, fmt.Errorf("media: new peer connection: %w", err)
	}
	if p.sub, err = s.api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		p.pub.Close()
		return nil, fmt.Errorf("media: new peer connection: %w", err)
	}
	for name, pc := range map[string]*webrtc.PeerConnection{PCPublish: p.pub, PCSubscribe: p.sub} {
		ice := p.pubICE
		if name == PCSubscribe {
			ice = p.subICE
		}
		pc.OnICECandidate(func(c *webrtc.ICECandidate) {
			if c != nil {
				ice.candidate(c.ToJSON())
			}
		})
		pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) { p.connectionState(name, st) })
	}
	p.pub.OnTrack(p.onTrack)
	s.goFunc(p.writeLoop)
	return p, nil
}

// send delivers m to the client, unless the participant has left.
func (p *Participant) send(m Message) {
	select {
	case <-p.done:
	default:
		p.out(m)
	}
}

// Publish takes the client's offer on the publish connection, and hands
// the answer to deliver, which must send it to the client before it
// returns: the connection's ICE candidates are sent (as Candidate
// messages) only after deliver has returned, so that the client has the
// answer before any of them. deliver is not called when Publish fails.
//
// kinds names the kind of each of the offer's sending transceivers, by
// mid ("audio", "video" or "screen"); an audio or video transceiver it
// does not name is taken as the microphone or the camera. A new offer on
// the same connection renegotiates, or restarts ICE.
func (p *Participant) Publish(offer string, kinds map[string]string, deliver func(answer string)) error {
	for _, k := range kinds {
		if k != KindAudio && k != KindVideo && k != KindScreen {
			return ErrBadKind
		}
	}
	if err := p.closedErr(); err != nil {
		return err
	}
	// Gathering starts with the local description, or already with the
	// remote one when it restarts ICE (pion restarts the agent and gathers
	// in SetRemoteDescription): hold the candidates from here until the
	// answer is delivered.
	p.pubICE.hold()
	defer p.pubICE.release()
	if err := p.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	p.mu.Lock()
	for mid, k := range kinds {
		p.kinds[mid] = k
	}
	p.mu.Unlock()
	answer, err := p.pub.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	if err := p.pub.SetLocalDescription(answer); err != nil {
		return fmt.Errorf("media: set local description: %w", err)
	}
	p.flushCandidates(PCPublish, p.pub)
	deliver(p.pub.LocalDescription().SDP)
	return nil
}

// Answer takes the client's answer to the SFU's last offer on the
// subscribe connection, and sends the next offer if more changed since.
func (p *Participant) Answer(answer string) error {
	if err := p.closedErr(); err != nil {
		return err
	}
	p.negMu.Lock()
	defer p.negMu.Unlock()
	if !p.offerPending {
		return ErrNotAnswer
	}
	if err := p.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	restarted := p.restartPending
	p.offerPending, p.restartPending = false, false
	p.flushCandidates(PCSubscribe, p.sub)
	// The tracks this answer negotiated are bound now: ask for their first
	// keyframes (if the connection is not up yet, connectionState does
	// once it is). After an ICE restart the others may have lost packets.
	p.mu.Lock()
	p.askFirstKeyframesLocked()
	if restarted && p.sub.ConnectionState() == webrtc.PeerConnectionStateConnected {
		p.askKeyframesLocked()
	}
	p.mu.Unlock()
	if p.needOffer {
		p.offerLocked()
	}
	return nil
}

// AddCandidate adds one of the client's ICE candidates on connection pc.
func (p *Participant) AddCandidate(pc string, c webrtc.ICECandidateInit) error {
	if err := p.closedErr(); err != nil {
		return err
	}
	conn, err := p.pc(pc)
	if err != nil {
		return err
	}
	p.mu.Lock()
	if conn.RemoteDescription() == nil {
		p.pending[pc] = append(p.pending[pc], c)
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	if err := conn.AddICECandidate(c); err != nil {
		return fmt.Errorf("media: ICE candidate: %w", err)
	}
	return nil
}

func (p *Participant) flushCandidates(name string, pc *webrtc.PeerConnection) {
	p.mu.Lock()
	pending := p.pending[name]
	delete(p.pending, name)
	p.mu.Unlock()
	for _, c := range pending {
		if err := pc.AddICECandidate(c); err != nil {
			p.sfu.cfg.Logger.Debug("media: ICE candidate refused", "user", p.UserID, "pc", name, "err", err)
		}
	}
}

func (p *Participant) pc(name string) (*webrtc.PeerConnection, error) {
	switch name {
	case PCPublish:
		return p.pub, nil
	case PCSubscribe:
		return p.sub, nil
	}
	return nil, ErrBadPC
}

// SetMedia records what the participant says they send (mute, camera,
// screen share) and tells everyone.
func (p *Participant) SetMedia(m MediaState) {
	p.mu.Lock()
	changed := p.media != m
	p.media = m
	p.mu.Unlock()
	if changed {
		p.room.stateChanged()
	}
}

func (p *Participant) mediaState() MediaState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.media
}

// RestartICE sends a new offer on the subscribe connection that restarts
// ICE: the client asks for it when its network changed (it restarts the
// publish connection itself, with a new offer).
func (p *Participant) RestartICE() error {
	if err := p.closedErr(); err != nil {
		return err
	}
	p.negotiate(true)
	return nil
}

// Leave takes the participant out of the call.
func (p *Participant) Leave() { p.leave(ReasonLeft) }

// Remove takes the participant out of the call and tells their client
// why (a Removed message).
func (p *Participant) Remove(reason string) { p.leave(reason) }

// Done is closed once the participant has left.
func (p *Participant) Done() <-chan struct{} { return p.done }

func (p *Participant) closedErr() error {
	select {
	case <-p.done:
		return ErrClosed
	default:
		return nil
	}
}

// leave removes the participant from their room, tells their client why
// (unless they left themselves), and closes their connections.
func (p *Participant) leave(reason string) {
	p.once.Do(func() {
		if reason != ReasonLeft {
			p.out(Removed{Reason: reason})
		}
		close(p.done)
		p.room.remove(p)
		p.sfu.participants.Add(-1)
		p.mu.Lock()
		for _, t := range p.failed {
			t.Stop()
		}
		p.mu.Unlock()
		// A copy: the sources' readers delete themselves from the map as
		// their tracks end.
		for _, src := range p.publishedSources() {
			src.close()
		}
		p.closeConns()
	})
}

// closeConns closes the participant's peer connections, which ends their
// goroutines.
func (p *Participant) closeConns() {
	p.pub.Close()
	p.sub.Close()
}

// negotiate sends an offer on the subscribe connection for what changed,
// or, if an offer is waiting for its answer, once the answer came.
func (p *Participant) negotiate(iceRestart bool) {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	p.needOffer = true
	p.iceRestart = p.iceRestart || iceRestart
	if !p.offerPending {
		p.offerLocked()
	}
}

func (p *Participant) offerLocked() {
	if p.closedErr() != nil {
		return
	}
	if len(p.sub.GetTransceivers()) == 0 {
		return // nothing to receive yet; an offer would have no media
	}
	offer, err := p.sub.CreateOffer(&webrtc.OfferOptions{ICERestart: p.iceRestart})
	// Gathering (again, on an ICE restart) starts with the local
	// description: hold its candidates until the offer is sent.
	p.subICE.hold()
	defer p.subICE.release()
	if err == nil {
		err = p.sub.SetLocalDescription(offer)
	}
	if err != nil {
		p.sfu.cfg.Logger.Warn("media: offer failed", "user", p.UserID, "err", err)
		return
	}
	p.restartPending = p.iceRestart
	p.needOffer, p.iceRestart, p.offerPending = false, false, true
	p.send(Offer{SDP: p.sub.LocalDescription().SDP})
}

// connectionState removes the participant when one of their connections
// failed and did not recover within FailedGrace (an ICE restart recovers).
func (p *Participant) connectionState(pc string, st webrtc.PeerConnectionState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sfu.cfg.Logger.Debug("media: connection state", "user", p.UserID, "pc", pc, "state", st)
	switch st {
	case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
		// Closed without leaving: the client closed its end (its DTLS
		// close alert closes ours). Either way it has FailedGrace to
		// come back with an ICE restart.
		if p.closedErr() != nil {
			return
		}
		if p.failed[pc] == nil {
			p.failed[pc] = time.AfterFunc(p.sfu.cfg.FailedGrace, p.fail)
		}
	case webrtc.PeerConnectionStateConnected:
		if t := p.failed[pc]; t != nil {
			t.Stop()
			delete(p.failed, pc)
		}
		if pc == PCSubscribe {
			// The tracks whose first keyframe was asked for already may
			// have lost packets while the connection was down.
			p.askKeyframesLocked()
			p.askFirstKeyframesLocked()
		}
	}
}

// askFirstKeyframesLocked asks for the first keyframe of every track the
// participant receives that can be delivered now and got none asked for
// yet: the keyframe the publisher sent before would have been lost.
// p.mu is held.
func (p *Participant) askFirstKeyframesLocked() {
	for src, d := range p.downs {
		if !d.firstAsked && d.deliverable() {
			d.firstAsked = true
			src.requestFirstKeyframe()
		}
	}
}

// askKeyframesLocked asks for a keyframe, through the throttle, of every
// track the participant receives whose first keyframe was asked for.
// p.mu is held.
func (p *Participant) askKeyframesLocked() {
	for src, d := range p.downs {
		if d.firstAsked {
			src.requestKeyframe()
		}
	}
}

func (p *Participant) fail() {
	if p.closedErr() != nil {
		return
	}
	p.sfu.cfg.Logger.Info("media: connection failed", "room", p.room.id, "user", p.UserID)
	p.leave(ReasonFailed)
	if f := p.sfu.cfg.OnFailed; f != nil {
		f(p.room.id, p.UserID, p.ConnID)
	}
}

// onTrack starts forwarding a track the participant publishes.
func (p *Participant) onTrack(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	kind := KindAudio
	if track.Kind() == webrtc.RTPCodecTypeVideo {
		kind = KindVideo
	}
	p.mu.Lock()
	for _, tr := range p.pub.GetTransceivers() {
		if tr.Receiver() == receiver {
			if k, ok := p.kinds[tr.Mid()]; ok {
				kind = k
			}
		}
	}
	if p.sources[kind] != nil {
		// A second track of one kind (a client bug): keep the first.
		p.mu.Unlock()
		p.sfu.cfg.Logger.Debug("media: second track of a kind ignored", "user", p.UserID, "kind", kind)
		p.sfu.goFunc(func() { drain(track) })
		return
	}
	src, err := newSource(p, kind, track, receiver)
	if err != nil {
		p.mu.Unlock()
		p.sfu.cfg.Logger.Warn("media: cannot forward track", "user", p.UserID, "kind", kind, "err", err)
		return
	}
	p.sources[kind] = src
	p.mu.Unlock()
	p.room.published(src)
	p.sfu.goFunc(func() {
		src.readLoop()
		p.mu.Lock()
		if p.sources[kind] == src {
			delete(p.sources, kind)
		}
		p.mu.Unlock()
		p.room.unpublished(src)
	})
}

// drain reads a track it does not forward, until it ends.
func drain(track *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := track.Read(buf); err != nil {
			return
		}
	}
}

func (p *Participant) publishedSources() []*source {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*source, 0, len(p.sources))
	for _, s := range p.sources {
		out = append(out, s)
	}
	return out
}

// subscribe adds src to what the participant receives. It reports whether
// it did (the subscribe connection must then be renegotiated).
func (p *Participant) subscribe(src *source) bool {
	if p.closedErr() != nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.downs[src] != nil {
		return false
	}
	d, err := newDownTrack(src, p)
	if err != nil {
		p.sfu.cfg.Logger.Warn("media: cannot subscribe", "user", p.UserID, "to", src.owner.UserID, "err", err)
		return false
	}
	p.downs[src] = d
	src.addDown(d)
	return true
}

// unsubscribe stops forwarding src to the participant.
func (p *Participant) unsubscribe(src *source) {
	p.mu.Lock()
	d := p.downs[src]
	delete(p.downs, src)
	p.mu.Unlock()
	if d != nil && p.closedErr() == nil {
		if err := p.sub.RemoveTrack(d.sender); err != nil && !errors.Is(err, webrtc.ErrConnectionClosed) {
			p.sfu.cfg.Logger.Debug("media: remove track", "user", p.UserID, "err", err)
		}
	}
}
