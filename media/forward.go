package media

import (
	"errors"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// source is a track a participant publishes, forwarded to every other
// participant through a downTrack each.
type source struct {
	owner    *Participant
	kind     string
	track    *webrtc.TrackRemote
	receiver *webrtc.RTPReceiver
	// audioLevelID is the audio level header extension's ID; 0 if none.
	audioLevelID uint8

	// downs is read on every packet without a lock: it is replaced, never
	// changed in place, under the room's lock.
	downs atomic.Pointer[[]*downTrack]

	pliMu    sync.Mutex
	lastPLI  time.Time
	pliTimer *time.Timer // a request waiting for its gap since lastPLI to pass
	pliDue   time.Time   // when pliTimer sends
	closed   bool
}

func newSource(owner *Participant, kind string, track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) (*source, error) {
	s := &source{owner: owner, kind: kind, track: track, receiver: receiver}
	s.downs.Store(&[]*downTrack{})
	if track.Kind() == webrtc.RTPCodecTypeAudio {
		for _, ext := range receiver.GetParameters().HeaderExtensions {
			if ext.URI == sdp.AudioLevelURI {
				s.audioLevelID = uint8(ext.ID)
			}
		}
	}
	return s, nil
}

// readLoop reads the track's packets and hands each to every subscriber's
// queue, until the track ends. A subscriber whose queue is full loses the
// packet: one slow receiver never delays the others.
func (s *source) readLoop() {
	sfu := s.owner.sfu
	buf := make([]byte, 1500)
	for {
		n, _, err := s.track.Read(buf)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				sfu.cfg.Logger.Debug("media: track ended", "user", s.owner.UserID, "kind", s.kind, "err", err)
			}
			return
		}
		// Each packet gets its own memory: subscribers' writers read it
		// while the next one is read.
		pkt := &rtp.Packet{}
		if err := pkt.Unmarshal(slices.Clone(buf[:n])); err != nil {
			continue
		}
		if s.audioLevelID != 0 {
			if raw := pkt.GetExtension(s.audioLevelID); raw != nil {
				var lvl rtp.AudioLevelExtension
				if lvl.Unmarshal(raw) == nil {
					s.owner.room.audioLevel(s.owner.UserID, lvl.Level, time.Now())
				}
			}
		}
		for _, d := range *s.downs.Load() {
			d.sub.enqueue(d, pkt)
		}
	}
}

// addDown adds a subscriber's downTrack. The room's lock is held.
func (s *source) addDown(d *downTrack) {
	old := *s.downs.Load()
	s.downs.Store(new(append(slices.Clip(old), d)))
}

// removeDown removes a subscriber's downTrack. The room's lock is held.
func (s *source) removeDown(d *downTrack) {
	old := *s.downs.Load()
	s.downs.Store(new(slices.DeleteFunc(slices.Clone(old), func(x *downTrack) bool { return x == d })))
}

// unsubscribeAll stops forwarding to every subscriber and returns them.
// The room's lock is held.
func (s *source) unsubscribeAll() []*Participant {
	old := *s.downs.Swap(&[]*downTrack{})
	subs := make([]*Participant, 0, len(old))
	for _, d := range old {
		d.sub.unsubscribe(s)
		subs = append(subs, d.sub)
	}
	return subs
}

// firstKeyframeGap is the least time between a PLI and a request for a
// new down track's first keyframe (KeyframeInterval if that is shorter):
// newcomers within it share one request.
const firstKeyframeGap = 100 * time.Millisecond

// requestKeyframe asks the publisher for a keyframe (a PLI) for a
// subscriber that lost one (its PLI or FIR, an ICE restart, a connection
// that came back): at most once per KeyframeInterval.
func (s *source) requestKeyframe() { s.askKeyframe(s.owner.sfu.cfg.KeyframeInterval) }

// requestFirstKeyframe asks the publisher for the keyframe a new down
// track starts with, once it can be delivered: outside the throttle of
// requestKeyframe, but at most once per firstKeyframeGap.
func (s *source) requestFirstKeyframe() {
	s.askKeyframe(min(firstKeyframeGap, s.owner.sfu.cfg.KeyframeInterval))
}

// askKeyframe sends a PLI unless the last one went out less than gap
// ago; then one is sent once gap has passed since it, unless a request
// already waits for an earlier time. A PLI sent serves every request made
// before it: the keyframe it brings reaches every bound down track.
func (s *source) askKeyframe(gap time.Duration) {
	if s.track.Kind() != webrtc.RTPCodecTypeVideo {
		return
	}
	s.pliMu.Lock()
	defer s.pliMu.Unlock()
	if s.closed {
		return
	}
	due := s.lastPLI.Add(gap)
	if !time.Now().Before(due) {
		s.sendPLILocked()
		return
	}
	if s.pliTimer != nil && !s.pliDue.After(due) {
		return // a request waits already, for no later
	}
	if s.pliTimer != nil {
		s.pliTimer.Stop()
	}
	var t *time.Timer
	t = time.AfterFunc(time.Until(due), func() {
		s.pliMu.Lock()
		defer s.pliMu.Unlock()
		if s.pliTimer == t && !s.closed { // not replaced, sent or closed meanwhile
			s.sendPLILocked()
		}
	})
	s.pliTimer, s.pliDue = t, due
}

// sendPLILocked sends a PLI now, which serves a request that waits.
func (s *source) sendPLILocked() {
	s.lastPLI = time.Now()
	if s.pliTimer != nil {
		s.pliTimer.Stop()
		s.pliTimer = nil
	}
	err := s.owner.pub.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(s.track.SSRC())}})
	if err != nil && !errors.Is(err, io.ErrClosedPipe) {
		s.owner.sfu.cfg.Logger.Debug("media: PLI", "user", s.owner.UserID, "err", err)
	}
}

func (s *source) close() {
	s.pliMu.Lock()
	defer s.pliMu.Unlock()
	s.closed = true
	if s.pliTimer != nil {
		s.pliTimer.Stop()
		s.pliTimer = nil
	}
}

// downTrack is a source as one subscriber receives it.
type downTrack struct {
	src    *source
	sub    *Participant
	local  *boundTrack
	sender *webrtc.RTPSender
	// firstAsked: the first keyframe was requested. Under sub.mu.
	firstAsked bool
}

func newDownTrack(src *source, sub *Participant) (*downTrack, error) {
	user := src.owner.UserID
	static, err := webrtc.NewTrackLocalStaticRTP(src.track.Codec().RTPCodecCapability, TrackID(user, src.kind), user)
	if err != nil {
		return nil, err
	}
	local := &boundTrack{TrackLocalStaticRTP: static}
	sender, err := sub.sub.AddTrack(local)
	if err != nil {
		return nil, err
	}
	d := &downTrack{src: src, sub: sub, local: local, sender: sender}
	sub.sfu.goFunc(d.readRTCP)
	return d, nil
}

// deliverable reports whether what is written to the down track reaches
// the subscriber: pion bound it (the answer that negotiated it is
// applied) and the subscribe connection is connected (DTLS, hence SRTP,
// is up; writes before are dropped).
func (d *downTrack) deliverable() bool {
	return d.local.bound.Load() && d.sub.sub.ConnectionState() == webrtc.PeerConnectionStateConnected
}

// boundTrack is a down track's local track; it records when pion binds
// it to the subscribe connection's sender, which it does when it applies
// the answer that negotiated it: packets written before went nowhere.
type boundTrack struct {
	*webrtc.TrackLocalStaticRTP
	bound atomic.Bool
}

// Bind is pion's call when the track starts being sent.
func (t *boundTrack) Bind(c webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	codec, err := t.TrackLocalStaticRTP.Bind(c)
	if err == nil {
		t.bound.Store(true)
	}
	return codec, err
}

// readRTCP reads the subscriber's feedback on the track: the interceptors
// act on NACKs and reports; keyframe requests go to the publisher.
func (d *downTrack) readRTCP() {
	for {
		pkts, _, err := d.sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				d.src.requestKeyframe()
			}
		}
	}
}

// forward is a packet queued for a subscriber.
type forward struct {
	down *downTrack
	pkt  *rtp.Packet
}

// enqueue queues pkt for the subscriber, or drops it if their queue is
// full.
func (p *Participant) enqueue(d *downTrack, pkt *rtp.Packet) {
	select {
	case p.queue <- forward{down: d, pkt: pkt}:
	default:
		p.sfu.dropped.Add(1)
	}
}

// writeLoop writes the participant's queued packets until they leave.
func (p *Participant) writeLoop() {
	for {
		select {
		case <-p.done:
			return
		case f := <-p.queue:
			// The header extensions were negotiated with the publisher,
			// not with this subscriber: drop them (the interceptors add
			// the subscriber's own).
			out := rtp.Packet{Header: f.pkt.Header, Payload: f.pkt.Payload, PaddingSize: f.pkt.PaddingSize}
			out.Header.Extension, out.Header.Extensions, out.Header.ExtensionProfile = false, nil, 0
			if err := f.down.local.WriteRTP(&out); err == nil {
				p.sfu.forwarded.Add(1)
			}
		}
	}
}
