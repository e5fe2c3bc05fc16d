package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/confabhq/confab/internal/apitest"
	"github.com/confabhq/confab/internal/rtctest"
	"github.com/pion/webrtc/v4"
	"golang.org/x/sync/errgroup"
)

// The calls mode (--call) measures the SFU: --publishers participants
// publish audio and video and receive each other, --subscribers more only
// receive. All are users of one room of the population, joined to its call
// with rtctest's Pion client over the WebSocket API.

// callReport is the result of --call.
type callReport struct {
	Publishers   int `json:"publishers"`
	Subscribers  int `json:"subscribers"`
	FanOut       int `json:"fan_out"` // receivers of each publisher's tracks
	VideoPackets int `json:"video_packets_per_frame"`
	// JoinSeconds is from the first call.join until every receiver got
	// every publisher's audio and video.
	JoinSeconds float64 `json:"join_seconds"`
	Joined      int     `json:"joined"`

	// The measuring window.
	Seconds         float64 `json:"seconds"`
	Sent            int64   `json:"sent"` // RTP packets the publishers sent
	SentPerSec      float64 `json:"sent_per_sec"`
	Expected        int64   `json:"expected"` // each sent packet times its receivers
	Received        int64   `json:"received"` // RTP packets the receivers got of the publishers' tracks
	ForwardedPerSec float64 `json:"forwarded_per_sec"`
	// LossPercent is 100*(expected-received)/expected. Packets in
	// flight at the window's edges can make it off either way, by up to
	// about a frame per publisher.
	LossPercent float64 `json:"loss_percent"`
	// WorstReceiver is the lowest received/expected of one receiver.
	WorstReceiver float64 `json:"worst_receiver_share"`
	// PLIs is the keyframe requests the publishers got in the window.
	PLIs int64 `json:"plis"`

	// UDPDrops is the datagrams the kernel dropped in the window because
	// a socket's receive (or send) buffer was full, on the whole machine
	// (its network namespace): with server and generator on one box, a
	// receiver that reads too slowly shows here, not at the SFU.
	UDPDrops *udpDrops `json:"udp_drops,omitempty"`

	Server *callServer `json:"server,omitempty"`
	// Nodes are the per-node figures of a call spread over several
	// --server (nodes.go).
	Nodes               []callNode `json:"nodes,omitempty"`
	GeneratorCPUSeconds float64    `json:"generator_cpu_seconds"`
	GeneratorCores      float64    `json:"generator_cores"`
	LoadAvgStart        string     `json:"loadavg_window_start"`
	LoadAvgEnd          string     `json:"loadavg_window_end"`

	Receivers  []callReceiver  `json:"receivers"`
	LateJoiner *lateJoinReport `json:"late_joiner,omitempty"`
}

type callServer struct {
	CPUSeconds float64 `json:"cpu_seconds"`
	Cores      float64 `json:"cores"`
	// ForwardedPerCore is forwarded packets/s per server core: received
	// per second divided by the server's cores in use.
	ForwardedPerCore float64 `json:"forwarded_per_sec_per_core"`
	// CPUPerMillion is server CPU-seconds per million forwarded packets.
	CPUPerMillion float64 `json:"cpu_seconds_per_million_forwarded"`
	RSSStart      int64   `json:"rss_start"`
	RSSEnd        int64   `json:"rss_end"`
}

// callReceiver is what one receiver got in the window.
type callReceiver struct {
	User      string `json:"user"`
	Publisher bool   `json:"publisher"`
	Received  int64  `json:"received"`
	Expected  int64  `json:"expected"`
}

// lateJoinReport is a subscriber joining the running call after the
// window: how long until media arrives.
type lateJoinReport struct {
	// FirstPacketMS is from call.join to the first packet of every
	// publisher's video; FirstKeyframeMS to a keyframe of every one.
	FirstPacketMS   float64 `json:"first_packet_ms"`
	FirstKeyframeMS float64 `json:"first_keyframe_ms"`
	Error           string  `json:"error,omitempty"`
}

// participant is one user of the call.
type participant struct {
	user stateUser
	pub  bool
	node int // index into the servers it connects to
	ws   *apitest.WS
	call *rtctest.WSCall
}

// expects lists the track IDs p must receive from pubs.
func (p *participant) expects(pubs []*participant) []string {
	var ids []string
	for _, q := range pubs {
		if q != p {
			ids = append(ids, trackID(q.user.ID, "audio"), trackID(q.user.ID, "video"))
		}
	}
	return ids
}

// trackID is the ID of user's track of kind as receivers see it
// (media.TrackID).
func trackID(user, kind string) string { return user + ":" + kind }

// received sums what p got on the tracks in ids.
func (p *participant) received(ids []string) int64 {
	var n int64
	for _, id := range ids {
		if st := p.call.Track(id); st != nil {
			n += st.Packets.Load()
		}
	}
	return n
}

// call runs --call on the prepared population.
func (b *bench) call(ctx context.Context, st *state) (*callReport, error) {
	cfg := b.cfg
	set := st.roomSet(layout{Users: cfg.Users, Rooms: cfg.Rooms, MembersPerRoom: cfg.MembersPerRoom})
	if len(set) != 1 {
		return nil, fmt.Errorf("call: the population has %d rooms for the call, want 1", len(set))
	}
	room := set[0]
	rep := &callReport{Publishers: cfg.Publishers, Subscribers: cfg.Subscribers, VideoPackets: cfg.VideoPackets,
		FanOut: cfg.Publishers - 1 + cfg.Subscribers}

	var all []*participant
	nodeOf := assignNodes(len(room.Members), len(cfg.nodes()))
	for i, u := range room.Members {
		all = append(all, &participant{user: st.Users[u], pub: i < cfg.Publishers, node: nodeOf[i]})
	}
	var late *participant
	if cfg.LateJoiner {
		late, all = all[len(all)-1], all[:len(all)-1]
	}
	pubs := all[:cfg.Publishers]
	defer func() {
		var wg sync.WaitGroup
		for _, p := range append(all, late) {
			if p == nil {
				continue
			}
			wg.Go(func() {
				if p.call != nil {
					p.call.Close()
				}
				if p.ws != nil {
					p.ws.Close()
				}
			})
		}
		wg.Wait()
	}()

	// Connect every WebSocket first, so that joining measures the call.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.ConnectConcurrency)
	for _, p := range append(all, late) {
		if p == nil {
			continue
		}
		g.Go(func() error {
			ws, err := b.nodeClient(p.node, p.user.Token).Dial(gctx)
			if err != nil {
				return fmt.Errorf("call: %s connects: %w", p.user.Name, err)
			}
			p.ws = ws
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return rep, err
	}

	// Join: publishers first, then the subscribers.
	b.log.Info("call: joining", "publishers", cfg.Publishers, "subscribers", cfg.Subscribers, "video_packets", cfg.VideoPackets)
	join0 := sampleNodes(ctx, b.nodeProbes)
	joinStart := time.Now()
	var joined atomic.Int64
	stop := b.progress("call: joined", &joined, int64(len(all)))
	groups := [][]*participant{pubs, all[cfg.Publishers:]}
	if len(cfg.Servers) > 1 {
		// The first publisher alone first: its node hosts the call.
		groups = [][]*participant{pubs[:1], pubs[1:], all[cfg.Publishers:]}
	}
	for _, group := range groups {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(cfg.JoinConcurrency)
		for _, p := range group {
			g.Go(func() error {
				c, err := rtctest.JoinWS(gctx, p.ws, room.ID, b.callOptions(p.pub))
				if err != nil {
					return fmt.Errorf("call: %s joins: %w", p.user.Name, err)
				}
				p.call = c
				joined.Add(1)
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			stop()
			return rep, err
		}
	}
	stop()
	rep.Joined = int(joined.Load())

	// Wait until every receiver gets every publisher's audio and video.
	expects := make([][]string, len(all))
	for i, p := range all {
		expects[i] = p.expects(pubs)
	}
	deadline := joinStart.Add(cfg.JoinTimeout)
	for {
		missing := 0
		byNode := make([]int, len(cfg.nodes()))
		for i, p := range all {
			for _, id := range expects[i] {
				if st := p.call.Track(id); st == nil || st.Packets.Load() == 0 {
					missing++
					byNode[p.node]++
				}
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			where := ""
			if len(byNode) > 1 {
				where = fmt.Sprintf(" (by node, in --server order: %v)", byNode)
			}
			return rep, fmt.Errorf("call: after %v, %d tracks of receivers still get nothing%s", cfg.JoinTimeout, missing, where)
		}
		if !sleepCtx(ctx, 20*time.Millisecond) {
			return rep, ctx.Err()
		}
	}
	rep.JoinSeconds = time.Since(joinStart).Seconds()
	join1 := sampleNodes(ctx, b.nodeProbes)
	b.log.Info("call: every receiver gets every track", "seconds", fmt.Sprintf("%.2f", rep.JoinSeconds), "warmup", cfg.Warmup)
	if !sleepCtx(ctx, cfg.Warmup) {
		return rep, ctx.Err()
	}

	// The window.
	snap := func() (sent, plis []int64, recv []int64) {
		for _, p := range pubs {
			sent = append(sent, p.call.Sent.Load())
			plis = append(plis, p.call.PLIs.Load())
		}
		for i, p := range all {
			recv = append(recv, p.received(expects[i]))
		}
		return
	}
	rep.LoadAvgStart = loadAvg()
	alignToFrame(ctx, pubs[0].call)
	s0, g0, t0 := b.probe.sample(ctx), selfCPU(), time.Now()
	nodes0 := sampleNodes(ctx, b.nodeProbes)
	sent0, plis0, recv0 := snap()
	udp0, udpOK0 := readUDPDrops()
	b.log.Info("call: measuring", "for", cfg.Duration)
	sleepCtx(ctx, cfg.Duration)
	alignToFrame(ctx, pubs[0].call)
	sent1, plis1, recv1 := snap()
	udp1, udpOK1 := readUDPDrops()
	s1, g1, t1 := b.probe.sample(ctx), selfCPU(), time.Now()
	nodes1 := sampleNodes(ctx, b.nodeProbes)
	rep.LoadAvgEnd = loadAvg()
	if ctx.Err() != nil {
		return rep, ctx.Err()
	}
	rep.Seconds = t1.Sub(t0).Seconds()
	sentBy := map[*participant]int64{}
	for i, p := range pubs {
		sentBy[p] = sent1[i] - sent0[i]
		rep.Sent += sentBy[p]
		rep.PLIs += plis1[i] - plis0[i]
	}
	rep.WorstReceiver = 1
	for i, p := range all {
		if len(expects[i]) == 0 {
			continue // the only publisher: nothing to receive
		}
		r := callReceiver{User: p.user.Name, Publisher: p.pub, Received: recv1[i] - recv0[i]}
		for _, q := range pubs {
			if q != p {
				r.Expected += sentBy[q]
			}
		}
		rep.Receivers = append(rep.Receivers, r)
		rep.Received += r.Received
		rep.Expected += r.Expected
		if r.Expected > 0 {
			rep.WorstReceiver = min(rep.WorstReceiver, float64(r.Received)/float64(r.Expected))
		}
	}
	rep.SentPerSec = float64(rep.Sent) / rep.Seconds
	rep.ForwardedPerSec = float64(rep.Received) / rep.Seconds
	if rep.Expected > 0 {
		rep.LossPercent = 100 * float64(rep.Expected-rep.Received) / float64(rep.Expected)
	}
	if udpOK0 && udpOK1 {
		rep.UDPDrops = &udpDrops{RcvbufErrors: udp1.RcvbufErrors - udp0.RcvbufErrors, SndbufErrors: udp1.SndbufErrors - udp0.SndbufErrors}
	}
	rep.GeneratorCPUSeconds = g1 - g0
	rep.GeneratorCores = rep.GeneratorCPUSeconds / rep.Seconds
	if s0.OK && s1.OK {
		sv := &callServer{CPUSeconds: s1.CPUSeconds - s0.CPUSeconds, RSSStart: s0.RSS, RSSEnd: s1.RSS}
		sv.Cores = sv.CPUSeconds / s1.At.Sub(s0.At).Seconds()
		if sv.Cores > 0 {
			sv.ForwardedPerCore = rep.ForwardedPerSec / sv.Cores
		}
		if rep.Received > 0 {
			sv.CPUPerMillion = sv.CPUSeconds / float64(rep.Received) * 1e6
		}
		rep.Server = sv
	}
	if b.nodeProbes != nil {
		rep.Nodes = callNodes(cfg.Servers, nodes0, nodes1, all)
		addJoinFigures(rep.Nodes, join0, join1)
	}
	b.log.Info("call: window done", "forwarded_per_sec", fmt.Sprintf("%.0f", rep.ForwardedPerSec),
		"loss_percent", fmt.Sprintf("%.2f", rep.LossPercent))

	if late != nil {
		rep.LateJoiner = b.lateJoin(ctx, late, pubs, room.ID)
		b.log.Info("call: late joiner", "first_packet_ms", rep.LateJoiner.FirstPacketMS, "first_keyframe_ms", rep.LateJoiner.FirstKeyframeMS)
	}
	return rep, nil
}

// alignToFrame returns half a frame interval after c sent its next
// packets: a frame's packets go out in a burst every 33 ms, and a window
// edge in the middle of a burst, or while it is on its way, would count
// some of its packets as sent and not yet received. Edges between frames
// leave only other publishers' frames and audio packets in flight.
func alignToFrame(ctx context.Context, c *rtctest.WSCall) {
	n := c.Sent.Load()
	deadline := time.Now().Add(100 * time.Millisecond)
	for c.Sent.Load() == n && time.Now().Before(deadline) {
		if !sleepCtx(ctx, 500*time.Microsecond) {
			return
		}
	}
	sleepCtx(ctx, 15*time.Millisecond)
}

// udpDrops are the kernel's UDP buffer overflow counters (IPv4 and IPv6).
type udpDrops struct {
	RcvbufErrors uint64 `json:"rcvbuf_errors"`
	SndbufErrors uint64 `json:"sndbuf_errors"`
}

// readUDPDrops reads the counters from /proc/net/snmp and /proc/net/snmp6.
func readUDPDrops() (udpDrops, bool) {
	var d udpDrops
	data, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return d, false
	}
	// Two "Udp:" lines: the names, then the values.
	var names []string
	found := false
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i := 1; i < len(f) && i < len(names); i++ {
			n, _ := strconv.ParseUint(f[i], 10, 64)
			switch names[i] {
			case "RcvbufErrors":
				d.RcvbufErrors += n
				found = true
			case "SndbufErrors":
				d.SndbufErrors += n
			}
		}
		break
	}
	if data, err := os.ReadFile("/proc/net/snmp6"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			f := strings.Fields(l)
			if len(f) != 2 {
				continue
			}
			n, _ := strconv.ParseUint(f[1], 10, 64)
			switch f[0] {
			case "Udp6RcvbufErrors":
				d.RcvbufErrors += n
			case "Udp6SndbufErrors":
				d.SndbufErrors += n
			}
		}
	}
	return d, found
}

// callOptions are the rtctest options of a publisher or a subscriber.
func (b *bench) callOptions(publish bool) rtctest.Options {
	// No ICE servers (not the TURN ones the server hands out): loopback
	// host candidates, so that TURN is not what is measured.
	opts := rtctest.Options{Loopback: true, ICEServers: []webrtc.ICEServer{}}
	if publish {
		opts.Publish = []string{"audio", "video"}
		opts.VideoPackets = b.cfg.VideoPackets
		opts.Level = 30 // speaking
	}
	return opts
}

// lateJoin has p join the running call and times its first packets and
// keyframes from every publisher.
func (b *bench) lateJoin(ctx context.Context, p *participant, pubs []*participant, room string) *lateJoinReport {
	rep := &lateJoinReport{}
	start := time.Now()
	c, err := rtctest.JoinWS(ctx, p.ws, room, b.callOptions(false))
	if err != nil {
		rep.Error = err.Error()
		return rep
	}
	p.call = c
	// First packets are seen by polling (every 2 ms); keyframes carry
	// their arrival time.
	firstPkt := map[string]time.Duration{}
	deadline := start.Add(10 * time.Second)
	for {
		var lastPkt, lastKey time.Duration
		done := true
		for _, q := range pubs {
			id := trackID(q.user.ID, "video")
			st := c.Track(id)
			if st == nil {
				done = false
				continue
			}
			if _, ok := firstPkt[id]; !ok && st.Packets.Load() > 0 {
				firstPkt[id] = time.Since(start)
			}
			if st.FirstKeyframe.Load() == 0 {
				done = false
				continue
			}
			key := time.Unix(0, st.FirstKeyframe.Load()).Sub(start)
			lastKey = max(lastKey, key)
			lastPkt = max(lastPkt, min(firstPkt[id], key))
		}
		if done {
			rep.FirstPacketMS = float64(lastPkt.Microseconds()) / 1000
			rep.FirstKeyframeMS = float64(lastKey.Microseconds()) / 1000
			return rep
		}
		if time.Now().After(deadline) || !sleepCtx(ctx, 2*time.Millisecond) {
			rep.Error = fmt.Sprintf("no keyframe of every publisher within 10 s: %s", c.Client)
			return rep
		}
	}
}

// writeCallText writes the summary of a calls run.
func (r *report) writeCallText(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	c := r.Call
	p("call: %d publishers (audio + video, %d packets per frame), %d subscribers; fan-out %d; all %d receiving after %.2f s",
		c.Publishers, c.VideoPackets, c.Subscribers, c.FanOut, c.Joined, c.JoinSeconds)
	p("  window %.1f s, load average %s -> %s", c.Seconds, c.LoadAvgStart, c.LoadAvgEnd)
	p("  sent %d packets (%.0f/s), expected %d, received %d: %.0f forwarded packets/s, loss %.2f%% (worst receiver got %.1f%%), %d PLIs",
		c.Sent, c.SentPerSec, c.Expected, c.Received, c.ForwardedPerSec, c.LossPercent, 100*c.WorstReceiver, c.PLIs)
	if sv := c.Server; sv != nil {
		p("  server: %.2f CPU-s = %.2f cores; %.0f forwarded packets/s per core; %.1f CPU-s per million forwarded; RSS %s -> %s",
			sv.CPUSeconds, sv.Cores, sv.ForwardedPerCore, sv.CPUPerMillion, mb(sv.RSSStart), mb(sv.RSSEnd))
	} else {
		p("  server: no figures")
	}
	writeNodesText(w, c.Nodes)
	if d := c.UDPDrops; d != nil {
		p("  kernel UDP drops on this machine in the window: %d receive buffer full, %d send buffer full", d.RcvbufErrors, d.SndbufErrors)
	}
	p("  generator: %.2f CPU-s = %.2f cores", c.GeneratorCPUSeconds, c.GeneratorCores)
	if l := c.LateJoiner; l != nil {
		if l.Error != "" {
			p("  late joiner: %s", l.Error)
		} else {
			p("  late joiner: first video packet of every publisher after %.0f ms, first keyframe after %.0f ms", l.FirstPacketMS, l.FirstKeyframeMS)
		}
	}
}

var errNoFanOut = errors.New("--call needs someone to receive: --publishers 2 or more, or --subscribers 1 or more")
