package media

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Config configures an SFU. Zero fields take the defaults.
type Config struct {
	// PublicIPs, if set, are announced as the host candidates' addresses
	// (a server behind 1:1 NAT, e.g. a cloud VM with a public IP).
	PublicIPs []string
	// UDPPortMin and UDPPortMax bound the UDP ports of media connections
	// (open them in the firewall); 0 lets the OS choose.
	UDPPortMin, UDPPortMax uint16
	// IncludeLoopback gathers loopback candidates too (tests on one host).
	IncludeLoopback bool
	// QueueSize is the number of packets queued for one subscriber before
	// more are dropped for it (default 512).
	QueueSize int
	// DisconnectedTimeout and FailedTimeout are ICE's: how long without
	// traffic a connection is disconnected, then failed (defaults 4s, 10s).
	DisconnectedTimeout, FailedTimeout time.Duration
	// FailedGrace is how long a failed participant has to restart ICE
	// before they are removed (default 5s).
	FailedGrace time.Duration
	// KeyframeInterval is the least time between two keyframe requests to
	// one source (default 1s), but for the first keyframe of a track a
	// subscriber starts receiving, asked for at most once per 100 ms
	// (see the package doc).
	KeyframeInterval time.Duration
	// OnFailed is called, on its own goroutine, when a participant is
	// removed because their connection failed.
	OnFailed func(room, user, conn string)
	Logger   *slog.Logger
}

func (c *Config) setDefaults() {
	if c.QueueSize <= 0 {
		c.QueueSize = 512
	}
	if c.DisconnectedTimeout <= 0 {
		c.DisconnectedTimeout = 4 * time.Second
	}
	if c.FailedTimeout <= 0 {
		c.FailedTimeout = 10 * time.Second
	}
	if c.FailedGrace <= 0 {
		c.FailedGrace = 5 * time.Second
	}
	if c.KeyframeInterval <= 0 {
		c.KeyframeInterval = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// SFU is a selective forwarding unit: it forwards every participant's
// tracks to the other participants of their room's call.
type SFU struct {
	cfg Config
	api *webrtc.API

	mu     sync.Mutex
	rooms  map[string]*room
	closed bool
	wg     sync.WaitGroup // every goroutine the SFU started

	forwarded, dropped atomic.Uint64
	participants       atomic.Int64
}

// Errors of the SFU.
var (
	ErrClosed    = errors.New("media: closed")
	ErrBadSDP    = errors.New("media: invalid session description")
	ErrNotAnswer = errors.New("media: no offer is waiting for an answer")
	ErrBadPC     = errors.New(`media: pc must be "pub" or "sub"`)
	ErrBadKind   = errors.New(`media: a track's kind must be "audio", "video" or "screen"`)
)

// New returns an SFU.
func New(cfg Config) (*SFU, error) {
	cfg.setDefaults()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("media: codecs: %w", err)
	}
	// The audio level of each packet tells who speaks.
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("media: audio level: %w", err)
	}
	// NACK generation (to publishers) and responses with RTX (to
	// subscribers), sender and receiver reports, and transport-wide
	// congestion control feedback to the publishers, whose bandwidth
	// estimators use it.
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		return nil, fmt.Errorf("media: interceptors: %w", err)
	}
	se := webrtc.SettingEngine{}
	se.SetICETimeouts(cfg.DisconnectedTimeout, cfg.FailedTimeout, time.Second)
	se.SetIncludeLoopbackCandidate(cfg.IncludeLoopback)
	if len(cfg.PublicIPs) > 0 {
		se.SetNAT1To1IPs(cfg.PublicIPs, webrtc.ICECandidateTypeHost)
	}
	if cfg.UDPPortMin != 0 || cfg.UDPPortMax != 0 {
		if err := se.SetEphemeralUDPPortRange(cfg.UDPPortMin, cfg.UDPPortMax); err != nil {
			return nil, fmt.Errorf("media: UDP port range: %w", err)
		}
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	return &SFU{cfg: cfg, api: api, rooms: map[string]*room{}}, nil
}

// Stats are counters of an SFU.
type Stats struct {
	Participants int64  // in calls now
	Forwarded    uint64 // RTP packets written to subscribers
	Dropped      uint64 // RTP packets dropped because a subscriber's queue was full
}

// Stats returns the SFU's counters.
func (s *SFU) Stats() Stats {
	return Stats{Participants: s.participants.Load(), Forwarded: s.forwarded.Load(), Dropped: s.dropped.Load()}
}

// Join adds user, on client connection conn, to the call of roomID, and
// returns their participant; send delivers the SFU's messages to their
// client and must not block. A participant of the same user already in
// the call (on another connection) is removed, with reason "moved". The
// caller checks that the user may join.
func (s *SFU) Join(roomID, user, conn string, send func(Message)) (*Participant, error) {
	p, err := newParticipant(s, user, conn, send)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		close(p.done)
		p.closeConns()
		return nil, ErrClosed
	}
	r := s.rooms[roomID]
	if r == nil {
		r = &room{id: roomID, sfu: s, parts: map[string]*Participant{}}
		s.rooms[roomID] = r
	}
	p.room = r
	r.mu.Lock()
	old := r.parts[user]
	r.parts[user] = p
	r.mu.Unlock()
	s.mu.Unlock()
	s.participants.Add(1)

	if old != nil {
		old.leave(ReasonMoved)
	}
	r.admit(p)
	return p, nil
}

// room returns roomID's call, or nil.
func (s *SFU) room(roomID string) *room {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rooms[roomID]
}

// Participant returns user's participant in roomID's call, or nil.
func (s *SFU) Participant(roomID, user string) *Participant {
	r := s.room(roomID)
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.parts[user]
}

// Participants returns the participants of roomID's call now.
func (s *SFU) Participants(roomID string) []*Participant {
	r := s.room(roomID)
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Participant, 0, len(r.parts))
	for _, p := range r.parts {
		out = append(out, p)
	}
	return out
}

// Rooms returns the number of calls with participants on the SFU.
func (s *SFU) Rooms() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rooms)
}

// Remove takes user out of roomID's call, telling their client why,
// unless they are there on connection keepConn.
func (s *SFU) Remove(roomID, user, keepConn, reason string) {
	p := s.Participant(roomID, user)
	if p != nil && (keepConn == "" || p.ConnID != keepConn) {
		p.leave(reason)
	}
}

// dropRoom forgets r if it is empty.
func (s *SFU) dropRoom(r *room) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.parts) == 0 && s.rooms[r.id] == r {
		delete(s.rooms, r.id)
	}
}

// Close removes every participant and waits for every goroutine of the
// SFU to end.
func (s *SFU) Close() error {
	s.mu.Lock()
	s.closed = true
	var parts []*Participant
	for _, r := range s.rooms {
		r.mu.Lock()
		for _, p := range r.parts {
			parts = append(parts, p)
		}
		r.mu.Unlock()
	}
	s.mu.Unlock()
	for _, p := range parts {
		p.leave(ReasonShutdown)
	}
	s.wg.Wait()
	return nil
}

// goFunc runs f on a goroutine the SFU waits for on Close.
func (s *SFU) goFunc(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}
