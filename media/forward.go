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
	pliTimer *time.Timer // a request waiting for KeyframeInterval to pass
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

// requestKeyframe asks the publisher for a keyframe (a PLI), at most once
// per KeyframeInterval: a request within the interval is sent when it
// ends, once, for all the requests meanwhile.
func (s *source) requestKeyframe() {
	if s.track.Kind() != webrtc.RTPCodecTypeVideo {
		return
	}
	s.pliMu.Lock()
	defer s.pliMu.Unlock()
	if s.closed || s.pliTimer != nil {
		return
	}
	interval := s.owner.sfu.cfg.KeyframeInterval
	if wait := interval - time.Since(s.lastPLI); wait > 0 {
		s.pliTimer = time.AfterFunc(wait, func() {
			s.pliMu.Lock()
			defer s.pliMu.Unlock()
			s.pliTimer = nil
			if !s.closed {
				s.sendPLILocked()
			}
		})
		return
	}
	s.sendPLILocked()
}

func (s *source) sendPLILocked() {
	s.lastPLI = time.Now()
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
	local  *webrtc.TrackLocalStaticRTP
	sender *webrtc.RTPSender
}

func newDownTrack(src *source, sub *Participant) (*downTrack, error) {
	user := src.owner.UserID
	local, err := webrtc.NewTrackLocalStaticRTP(src.track.Codec().RTPCodecCapability, TrackID(user, src.kind), user)
	if err != nil {
		return nil, err
	}
	sender, err := sub.sub.AddTrack(local)
	if err != nil {
		return nil, err
	}
	d := &downTrack{src: src, sub: sub, local: local, sender: sender}
	sub.sfu.goFunc(d.readRTCP)
	return d, nil
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
