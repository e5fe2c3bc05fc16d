package rtctest

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// The media a client sends (an audio and a video or screen track, paced
// like a browser's) and what it counts of the media it receives.

// TrackStats counts what a client received on one track.
type TrackStats struct {
	ID        string // the SFU's track ID: "<user>:<kind>"
	Packets   atomic.Int64
	Keyframes atomic.Int64
	// FirstKeyframe is when the first keyframe arrived (unix nanos).
	FirstKeyframe atomic.Int64

	mu        sync.Mutex
	keyframes []time.Time // when each keyframe arrived
}

// keyframe records a keyframe that arrived at t.
func (st *TrackStats) keyframe(t time.Time) {
	st.Keyframes.Add(1)
	st.FirstKeyframe.CompareAndSwap(0, t.UnixNano())
	st.mu.Lock()
	st.keyframes = append(st.keyframes, t)
	st.mu.Unlock()
}

// KeyframeSince returns when the first keyframe at or after t arrived,
// and false if none did yet (e.g. the first after a renegotiation).
func (st *TrackStats) KeyframeSince(t time.Time) (time.Time, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, k := range st.keyframes {
		if !k.Before(t) {
			return k, true
		}
	}
	return time.Time{}, false
}

// outTrack is a track the client sends.
type outTrack struct {
	kind     string
	track    *webrtc.TrackLocalStaticRTP
	sender   *webrtc.RTPSender
	keyframe atomic.Bool // send a keyframe next
	stop     chan struct{}
}

// addTrack adds a sending transceiver of kind to the publish connection.
func (c *Client) addTrack(kind string) (*outTrack, error) {
	codec := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	if kind == "audio" {
		codec = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
	}
	track, err := webrtc.NewTrackLocalStaticRTP(codec, kind, "client")
	if err != nil {
		return nil, err
	}
	pub, _ := c.PeerConnections()
	tr, err := pub.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return nil, err
	}
	t := &outTrack{kind: kind, track: track, sender: tr.Sender(), stop: make(chan struct{})}
	t.keyframe.Store(true)
	c.mu.Lock()
	c.out[kind] = t
	c.mu.Unlock()
	return t, nil
}

// send starts sending t's media and reading its feedback.
func (c *Client) send(t *outTrack) {
	c.wg.Add(2)
	go c.readSenderRTCP(t)
	if t.kind == "audio" {
		go c.sendAudio(t)
	} else {
		go c.sendVideo(t)
	}
}

func (c *Client) onTrack(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	st := &TrackStats{ID: track.ID()}
	c.mu.Lock()
	if old := c.tracks[track.ID()]; old != nil {
		st = old // the same publisher's track again after renegotiation
	} else {
		c.tracks[track.ID()] = st
	}
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if c.opts.NoRead {
			<-c.done
			return
		}
		buf := make([]byte, 1500)
		var pkt rtp.Packet
		for {
			n, _, err := track.Read(buf)
			if err != nil {
				return
			}
			st.Packets.Add(1)
			if track.Kind() != webrtc.RTPCodecTypeVideo || pkt.Unmarshal(buf[:n]) != nil {
				continue
			}
			if isKeyframe(pkt.Payload) {
				st.keyframe(time.Now())
			}
		}
	}()
}

// isKeyframe reports whether a VP8 RTP payload starts a keyframe.
func isKeyframe(payload []byte) bool {
	var vp8 codecs.VP8Packet
	body, err := vp8.Unmarshal(payload)
	return err == nil && vp8.S == 1 && vp8.PID == 0 && len(body) > 0 && body[0]&0x01 == 0
}

// Track returns the stats of the track with ID id ("<user>:<kind>"), or
// nil if it never arrived.
func (c *Client) Track(id string) *TrackStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tracks[id]
}

// Tracks returns the IDs of the tracks that arrived.
func (c *Client) Tracks() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []string
	for id := range c.tracks {
		ids = append(ids, id)
	}
	return ids
}

// Received returns the packets received from user's track of kind.
func (c *Client) Received(user, kind string) int64 {
	if st := c.Track(user + ":" + kind); st != nil {
		return st.Packets.Load()
	}
	return 0
}

func (c *Client) readSenderRTCP(t *outTrack) {
	defer c.wg.Done()
	for {
		pkts, _, err := t.sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				c.PLIs.Add(1)
				t.keyframe.Store(true)
			}
		}
	}
}

func (c *Client) sendAudio(t *outTrack) {
	defer c.wg.Done()
	var levelID uint8
	for _, ext := range t.sender.GetParameters().HeaderExtensions {
		if ext.URI == sdp.AudioLevelURI {
			levelID = uint8(ext.ID)
		}
	}
	payload := make([]byte, 80)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var seq uint16
	var ts uint32
	for {
		select {
		case <-c.done:
			return
		case <-t.stop:
			return
		case <-tick.C:
		}
		seq++
		ts += 960
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: seq == 1}, Payload: payload}
		if levelID != 0 {
			raw, _ := rtp.AudioLevelExtension{Level: c.opts.Level, Voice: c.opts.Level < 127}.Marshal()
			_ = pkt.Header.SetExtension(levelID, raw)
		}
		_ = t.track.WriteRTP(pkt)
		c.Sent.Add(1)
	}
}

func (c *Client) sendVideo(t *outTrack) {
	defer c.wg.Done()
	tick := time.NewTicker(time.Second / 30)
	defer tick.Stop()
	var seq uint16
	var ts uint32
	body := make([]byte, 900)
	for {
		select {
		case <-c.done:
			return
		case <-t.stop:
			return
		case <-tick.C:
		}
		ts += 3000
		key := t.keyframe.Swap(false)
		for i := range c.opts.VideoPackets {
			seq++
			// VP8 payload descriptor: S=1 and PID=0 on a frame's first
			// packet; then the frame tag, whose low bit is 0 on a
			// keyframe.
			payload := make([]byte, 1+len(body))
			copy(payload[1:], body)
			if i == 0 {
				payload[0] = 0x10
				payload[1] = 0x01
				if key {
					payload[1] = 0x00
					copy(payload[4:], []byte{0x9d, 0x01, 0x2a})
				}
			}
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: i == c.opts.VideoPackets-1}, Payload: payload}
			_ = t.track.WriteRTP(pkt)
			c.Sent.Add(1)
		}
	}
}
