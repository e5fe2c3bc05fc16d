package rtctest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Signaling is how a client talks to the SFU.
type Signaling interface {
	// Publish sends the publish connection's offer and the kind of each
	// sending transceiver by mid, and calls apply with the answer before
	// it hands the client any later message of the SFU (candidates
	// included), then returns apply's error.
	Publish(offer string, kinds map[string]string, apply func(answer string) error) error
	// Answer answers the SFU's offer on the subscribe connection.
	Answer(answer string) error
	// Candidate sends an ICE candidate of connection pc ("pub" or "sub").
	Candidate(pc string, c webrtc.ICECandidateInit) error
}

// Options configure a client.
type Options struct {
	// ICEServers are used by both connections (e.g. confab's TURN).
	ICEServers []webrtc.ICEServer
	// RelayOnly forces every connection through a TURN relay.
	RelayOnly bool
	// Loopback gathers loopback candidates (tests on one host).
	Loopback bool
	// Publish lists the kinds to send: "audio", "video", "screen".
	Publish []string
	// Level is the audio level sent, in -dBov (0 loudest, 127 silent).
	Level uint8
	// VideoPackets is the number of packets per video frame (default 1);
	// frames go at 30 per second.
	VideoPackets int
	// NoRead makes the client never read what it receives (a stalled
	// receiver).
	NoRead bool
	// NoRejoin makes a WSCall ignore call.rejoin, as a client that went
	// away would: the frame is kept with Others.
	NoRejoin bool
}

// Client is a call participant.
type Client struct {
	// Pub and Sub are the publish and subscribe connections. Reconnect
	// replaces them: a client that may reconnect is read through
	// PeerConnections instead.
	Pub, Sub *webrtc.PeerConnection
	sig      Signaling
	opts     Options
	api      *webrtc.API
	cfg      webrtc.Configuration

	mu     sync.Mutex             // guards Pub and Sub (once Reconnect may run), tracks and out
	tracks map[string]*TrackStats // by track ID
	out    map[string]*outTrack   // what the client sends, by kind
	events chan func()
	done   chan struct{}
	wg     sync.WaitGroup
	closed sync.Once

	// PLIs counts the keyframe requests the client got for its video.
	PLIs atomic.Int64
	// Sent counts the RTP packets the client sent.
	Sent atomic.Int64
	// RefusedCandidates counts the SFU's candidates the client could not
	// add: it adds each as it arrives, so one that comes before the
	// description it belongs to is refused (and lost).
	RefusedCandidates atomic.Int64
	// PubConnected and SubConnected are when the publish and the
	// subscribe connection last became connected (unix nanos; 0 before).
	PubConnected, SubConnected atomic.Int64
}

// New returns a client; Start connects it.
func New(sig Signaling, opts Options) (*Client, error) {
	if opts.VideoPackets <= 0 {
		opts.VideoPackets = 1
	}
	m := &webrtc.MediaEngine{}
	for _, c := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
			RTCPFeedback: []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}}}, PayloadType: 96},
	} {
		typ := webrtc.RTPCodecTypeAudio
		if c.MimeType == webrtc.MimeTypeVP8 {
			typ = webrtc.RTPCodecTypeVideo
		}
		if err := m.RegisterCodec(c, typ); err != nil {
			return nil, err
		}
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(opts.Loopback)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	cfg := webrtc.Configuration{ICEServers: opts.ICEServers}
	if opts.RelayOnly {
		cfg.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	c := &Client{
		sig: sig, opts: opts, api: api, cfg: cfg, tracks: map[string]*TrackStats{}, out: map[string]*outTrack{},
		events: make(chan func(), 256), done: make(chan struct{}),
	}
	var err error
	if c.Pub, c.Sub, err = c.newConnections(); err != nil {
		return nil, err
	}
	c.wg.Add(1)
	go c.eventLoop()
	return c, nil
}

// newConnections makes a publish and a subscribe connection with the
// client's configuration and handlers.
func (c *Client) newConnections() (pub, sub *webrtc.PeerConnection, err error) {
	if pub, err = c.api.NewPeerConnection(c.cfg); err != nil {
		return nil, nil, err
	}
	if sub, err = c.api.NewPeerConnection(c.cfg); err != nil {
		pub.Close()
		return nil, nil, err
	}
	for name, pc := range map[string]*webrtc.PeerConnection{"pub": pub, "sub": sub} {
		pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
			if cand != nil {
				c.do(func() { _ = c.sig.Candidate(name, cand.ToJSON()) })
			}
		})
		at := &c.PubConnected
		if name == "sub" {
			at = &c.SubConnected
		}
		pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
			if st == webrtc.PeerConnectionStateConnected {
				at.Store(time.Now().UnixNano())
			}
		})
	}
	sub.OnTrack(c.onTrack)
	return pub, sub, nil
}

// PeerConnections returns the publish and subscribe connections in use.
func (c *Client) PeerConnections() (pub, sub *webrtc.PeerConnection) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Pub, c.Sub
}

// Reconnect closes both connections and makes new ones, with iceServers
// if not nil, as a browser does when the server asks it to join the call
// again (call.rejoin). It returns the kinds the client published, for
// Publish to send again once the new session exists. It runs on the
// client's event goroutine, in order with the SFU's offers and
// candidates: those handled after it go to the new connections. What
// the client received so far stays counted: a track that comes again
// counts on.
func (c *Client) Reconnect(iceServers []webrtc.ICEServer) ([]string, error) {
	type result struct {
		kinds []string
		err   error
	}
	res := make(chan result, 1)
	c.do(func() {
		kinds, err := c.reconnect(iceServers)
		res <- result{kinds, err}
	})
	select {
	case r := <-res:
		return r.kinds, r.err
	case <-c.done:
		return nil, errors.New("reconnect: the client is closed")
	}
}

func (c *Client) reconnect(iceServers []webrtc.ICEServer) ([]string, error) {
	c.mu.Lock()
	oldPub, oldSub, out := c.Pub, c.Sub, c.out
	c.out = map[string]*outTrack{}
	if iceServers != nil {
		c.cfg.ICEServers = iceServers
	}
	c.mu.Unlock()
	var kinds []string
	for _, kind := range []string{"audio", "video", "screen"} {
		if t := out[kind]; t != nil {
			close(t.stop)
			kinds = append(kinds, kind)
		}
	}
	oldPub.Close()
	oldSub.Close()
	pub, sub, err := c.newConnections()
	if err != nil {
		return nil, fmt.Errorf("reconnect: %w", err)
	}
	c.mu.Lock()
	c.Pub, c.Sub = pub, sub
	c.mu.Unlock()
	return kinds, nil
}

// do runs f on the client's event goroutine, in order.
func (c *Client) do(f func()) {
	select {
	case c.events <- f:
	case <-c.done:
	}
}

func (c *Client) eventLoop() {
	defer c.wg.Done()
	for {
		select {
		case f := <-c.events:
			f()
		case <-c.done:
			return
		}
	}
}

// Start adds the tracks to publish, offers them, and starts sending.
func (c *Client) Start() error { return c.Publish(c.opts.Publish) }

// Publish adds a track of each kind ("audio", "video", "screen"), offers
// them, and starts sending: Start does it for Options.Publish, and a
// client does it again after Reconnect.
func (c *Client) Publish(kinds []string) error {
	var tracks []*outTrack
	for _, kind := range kinds {
		t, err := c.addTrack(kind)
		if err != nil {
			return err
		}
		tracks = append(tracks, t)
	}
	if len(tracks) == 0 {
		return nil // nothing to publish: the subscribe connection is enough
	}
	if err := c.publish(false); err != nil {
		return err
	}
	for _, t := range tracks {
		c.send(t)
	}
	return nil
}

// StartScreen starts a screen share: a new video track of kind "screen",
// negotiated with a new offer on the publish connection.
func (c *Client) StartScreen() error {
	t, err := c.addTrack("screen")
	if err != nil {
		return err
	}
	if err := c.publish(false); err != nil {
		return err
	}
	c.send(t)
	return nil
}

// StopScreen stops the screen share and renegotiates.
func (c *Client) StopScreen() error {
	c.mu.Lock()
	t := c.out["screen"]
	delete(c.out, "screen")
	c.mu.Unlock()
	if t == nil {
		return nil
	}
	close(t.stop)
	pub, _ := c.PeerConnections()
	if err := pub.RemoveTrack(t.sender); err != nil {
		return err
	}
	return c.publish(false)
}

// publish offers the publish connection (again, with iceRestart to
// restart ICE) and applies the answer.
func (c *Client) publish(iceRestart bool) error {
	pub, _ := c.PeerConnections()
	offer, err := pub.CreateOffer(&webrtc.OfferOptions{ICERestart: iceRestart})
	if err != nil {
		return err
	}
	if err := pub.SetLocalDescription(offer); err != nil {
		return err
	}
	kinds := map[string]string{}
	for _, tr := range pub.GetTransceivers() {
		if tr.Sender() != nil && tr.Sender().Track() != nil {
			kinds[tr.Mid()] = tr.Sender().Track().ID()
		}
	}
	err = c.sig.Publish(pub.LocalDescription().SDP, kinds, func(answer string) error {
		return pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer})
	})
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	return nil
}

// RestartICE restarts ICE on the publish connection.
func (c *Client) RestartICE() error { return c.publish(true) }

// HandleOffer answers the SFU's offer on the subscribe connection.
func (c *Client) HandleOffer(sdp string) {
	c.do(func() {
		_, sub := c.PeerConnections()
		if err := sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
			return
		}
		answer, err := sub.CreateAnswer(nil)
		if err != nil {
			return
		}
		if err := sub.SetLocalDescription(answer); err != nil {
			return
		}
		_ = c.sig.Answer(sub.LocalDescription().SDP)
	})
}

// HandleCandidate adds one of the SFU's candidates, at once: no
// buffering. The SFU sends a connection's candidates only after the
// description they belong to, and the client handles the SFU's messages
// in order (offers and candidates on its event goroutine, the publish
// answer before any later message), so the remote description is there.
// A candidate that is refused all the same is counted in
// RefusedCandidates.
func (c *Client) HandleCandidate(pc string, cand webrtc.ICECandidateInit) {
	c.do(func() {
		pub, conn := c.PeerConnections()
		if pc == "pub" {
			conn = pub
		}
		if err := conn.AddICECandidate(cand); err != nil {
			c.RefusedCandidates.Add(1)
		}
	})
}

// Connected reports whether the connections in use are connected: the
// publish one if the client publishes, the subscribe one once the SFU
// offered it something.
func (c *Client) Connected() bool {
	pub, sub := c.PeerConnections()
	pubOK := len(c.opts.Publish) == 0 || pub.ConnectionState() == webrtc.PeerConnectionStateConnected
	subOK := sub.RemoteDescription() == nil || sub.ConnectionState() == webrtc.PeerConnectionStateConnected
	return pubOK && subOK
}

// SelectedCandidateTypes returns the local candidate types of the
// selected pairs of both connections, e.g. "relay".
func (c *Client) SelectedCandidateTypes() []string {
	var types []string
	pub, sub := c.PeerConnections()
	for _, pc := range []*webrtc.PeerConnection{pub, sub} {
		stats := pc.GetStats()
		for _, s := range stats {
			pair, ok := s.(webrtc.ICECandidatePairStats)
			if !ok || !pair.Nominated || pair.State != webrtc.StatsICECandidatePairStateSucceeded {
				continue
			}
			if local, ok := stats[pair.LocalCandidateID].(webrtc.ICECandidateStats); ok {
				types = append(types, local.CandidateType.String())
			}
		}
	}
	return types
}

// String describes the client's connections and tracks, for test
// failures.
func (c *Client) String() string {
	var b strings.Builder
	pub, sub := c.PeerConnections()
	fmt.Fprintf(&b, "pub=%s sub=%s refused_candidates=%d tracks:", pub.ConnectionState(), sub.ConnectionState(), c.RefusedCandidates.Load())
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, st := range c.tracks {
		fmt.Fprintf(&b, " %s=%d/%dkf", id, st.Packets.Load(), st.Keyframes.Load())
	}
	return b.String()
}

// Close closes both connections and waits for the client's goroutines.
func (c *Client) Close() {
	c.closed.Do(func() {
		close(c.done)
		pub, sub := c.PeerConnections()
		pub.Close()
		sub.Close()
		c.wg.Wait()
	})
}
