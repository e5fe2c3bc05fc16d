package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
)

// errorCounts counts errors by kind; safe for concurrent use.
type errorCounts struct {
	mu sync.Mutex
	m  map[string]uint64
}

func (e *errorCounts) add(kind string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[string]uint64{}
	}
	e.m[kind]++
}

func (e *errorCounts) snapshot() map[string]uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.m) == 0 {
		return nil
	}
	m := make(map[string]uint64, len(e.m))
	for k, v := range e.m {
		m[k] = v
	}
	return m
}

// stepStats are the counters of one send-rate step; every message carries
// its step so late answers are counted where they belong.
type stepStats struct {
	sent, acked, deliveries, skipped atomic.Uint64
	lat, ackLat                      histogram
	errs                             errorCounts // error frames answering sends, by code
	lastDelivery                     atomic.Int64
}

// slot is one (member, room) pair that sends.
type slot struct {
	c  *client
	ri int
}

type bench struct {
	cfg    config
	log    *slog.Logger
	http   *http.Client
	wsURLs []string // each server's WebSocket endpoint; client i uses wsURLOf(i)
	runID  string
	marker string // "cb <runID> ": the prefix of every message text

	clients []*client
	rooms   []*room
	slots   []slot
	steps   []*stepStats

	runCtx        context.Context
	dialSem       chan struct{}
	srcIPs        []net.IP
	probe         *serverProbe
	nodeProbes    []*serverProbe // across nodes: each node's /metrics (--call), or /proc or /metrics (chat)
	msgSeq        atomic.Uint64
	outstanding   atomic.Int64 // sends not yet answered
	closing       atomic.Bool
	resent        atomic.Uint64
	tooManyMissed atomic.Uint64
	otherFrames   atomic.Uint64
	errs          errorCounts // connection-level errors
}

func newBench(cfg config, log *slog.Logger) (*bench, error) {
	b := &bench{
		cfg: cfg, log: log, http: newHTTPClient(),
		runID:   randomString(8),
		dialSem: make(chan struct{}, cfg.ConnectConcurrency),
	}
	b.marker = "cb " + b.runID + " "
	for _, s := range cfg.nodes() {
		b.wsURLs = append(b.wsURLs, "ws"+strings.TrimPrefix(s, "http")+"/api/v1/ws")
	}
	for i := range cfg.SourceIPs {
		if cfg.SourceIPs == 1 {
			break // let the kernel choose
		}
		b.srcIPs = append(b.srcIPs, net.IPv4(127, 0, 0, byte(1+i)))
	}
	nsteps := max(len(cfg.Rates), 1)
	for range nsteps {
		b.steps = append(b.steps, &stepStats{})
	}
	return b, nil
}

// parseText reads the step and send time out of a message text of this run.
func (b *bench) parseText(s string) (step int, sent time.Time, ok bool) {
	rest, ok := strings.CutPrefix(s, b.marker)
	if !ok {
		return 0, time.Time{}, false
	}
	st, ns, ok := strings.Cut(rest, " ")
	if !ok {
		return 0, time.Time{}, false
	}
	step, err1 := strconv.Atoi(st)
	n, err2 := strconv.ParseInt(ns, 10, 64)
	if err1 != nil || err2 != nil || step < 0 || step >= len(b.steps) {
		return 0, time.Time{}, false
	}
	return step, time.Unix(0, n), true
}

// run runs the benchmark: setup, connect, then idle, steps, or a storm.
func (b *bench) run(ctx context.Context) (*report, error) {
	cfg := b.cfg
	rep := &report{
		Mode: cfg.mode(), Server: cfg.Server, Started: time.Now().UTC(), Config: cfg,
		Machine: machineInfo(), Note: cfg.Note,
	}
	rep.Machine.Nofile = raiseNofile()
	if need := uint64(cfg.Users) + 64; rep.Machine.Nofile < need {
		b.log.Warn("the open file limit is below the connections this run needs; raise ulimit -n (hard)", "limit", rep.Machine.Nofile, "need", need)
	}

	// Setup.
	b.log.Info("setup", "users", cfg.Users, "rooms", cfg.Rooms, "members_per_room", cfg.MembersPerRoom, "state", cfg.State)
	st, setup, err := b.setup(ctx)
	rep.Setup = setup
	if err != nil {
		return rep, fmt.Errorf("setup: %w", err)
	}
	b.log.Info("setup done", "signed_up", setup.SignedUp, "reused_users", setup.ReusedUsers, "reused_rooms", setup.ReusedRooms, "seconds", fmt.Sprintf("%.1f", setup.Seconds))
	if cfg.SetupOnly {
		rep.Finished = time.Now().UTC()
		return rep, nil
	}
	if !cfg.Call {
		if err := b.build(ctx, st); err != nil {
			return rep, err
		}
	}

	pid := cfg.ServerPID
	if pid == 0 {
		pid = findListener(cfg.Server)
	}
	b.probe = newServerProbe(ctx, pid, cfg.MetricsURL, cfg.MetricsToken)
	rep.ServerStats = serverInfo{PID: pid, Source: b.probe.source}
	if b.probe.source == "" {
		b.log.Warn("no server resource figures: give --server-pid (same machine) or serve Prometheus process_* metrics at --metrics-url")
	}
	if cfg.Call {
		b.nodeProbes = b.newNodeProbes(ctx)
		rep.Call, err = b.call(ctx, st)
		rep.Machine.LoadAvgEnd = loadAvg()
		rep.Finished = time.Now().UTC()
		return rep, err
	}

	b.nodeProbes = b.newChatNodeProbes(ctx)

	// Connect.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	b.runCtx = runCtx
	defer b.closeAll()
	conn, err := b.connectAll(runCtx)
	rep.Connect = conn
	if err != nil {
		return rep, err
	}

	switch {
	case cfg.Idle:
		rep.Idle = b.idle(runCtx, conn)
	default:
		for i, rate := range cfg.Rates {
			sr := b.step(runCtx, i, rate)
			rep.Steps = append(rep.Steps, sr)
			if ctx.Err() != nil {
				break
			}
			if !sr.Clean && len(cfg.Rates) > 1 {
				b.log.Info("step not clean, stopping the ramp", "rate", rate, "why", strings.Join(sr.NotClean, "; "))
				break
			}
		}
	}
	rep.Errors = b.errs.snapshot()
	rep.OtherFrames = b.otherFrames.Load()
	rep.Machine.LoadAvgEnd = loadAvg()
	rep.Finished = time.Now().UTC()
	return rep, ctx.Err()
}

// build makes the clients and rooms of the run from the population.
func (b *bench) build(ctx context.Context, st *state) error {
	set := st.roomSet(layout{Users: b.cfg.Users, Rooms: b.cfg.Rooms, MembersPerRoom: b.cfg.MembersPerRoom})
	b.clients = make([]*client, b.cfg.Users)
	for i := range b.clients {
		b.clients[i] = &client{b: b, idx: i, user: st.Users[i], pending: map[string]*sendRec{}, subWait: map[string]chan frame{}}
	}
	for r, sr := range set {
		rm := &room{idx: r, id: sr.ID, ledger: newRoomLedger(), ownerToken: st.Users[sr.Members[0]].Token}
		for _, u := range sr.Members {
			c := b.clients[u]
			rm.members = append(rm.members, c)
			c.rooms = append(c.rooms, rm)
		}
		rm.checker = rm.members[0]
		b.rooms = append(b.rooms, rm)
	}
	// Sends go round-robin over rooms first, then over each room's
	// members, so that consecutive messages hit different rooms and every
	// member sends at the same rate.
	for j := range b.cfg.MembersPerRoom {
		for _, rm := range b.rooms {
			c := rm.members[j]
			b.slots = append(b.slots, slot{c: c, ri: c.roomIndex(rm.id)})
		}
	}
	// Subscriptions start after each room's current last seq.
	heads, err := b.restHeads(ctx)
	if err != nil {
		return err
	}
	for _, c := range b.clients {
		c.track = make([]*seqTracker, len(c.rooms))
		for i, rm := range c.rooms {
			c.track[i] = newSeqTracker(heads[rm.idx])
		}
	}
	return nil
}

// restHeads reads every room's last seq over REST (as its owner).
func (b *bench) restHeads(ctx context.Context) ([]uint64, error) {
	heads := make([]uint64, len(b.rooms))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i, rm := range b.rooms {
		g.Go(func() error {
			var out struct {
				Room struct {
					LastSeq uint64 `json:"last_seq"`
				}
			}
			if err := b.restClient(rm.ownerToken).Do(gctx, "GET", "/api/v1/rooms/"+rm.id, nil, &out); err != nil {
				return fmt.Errorf("read room %d: %w", i, err)
			}
			heads[i] = out.Room.LastSeq
			return nil
		})
	}
	return heads, g.Wait()
}

// connectReport tells how the connections were opened.
type connectReport struct {
	Connections      int     `json:"connections"`
	Failed           int     `json:"failed"`
	Seconds          float64 `json:"seconds"`
	PerSec           float64 `json:"per_sec"`
	Subscriptions    int     `json:"subscriptions"`
	ServerRSSBefore  int64   `json:"server_rss_before,omitempty"`
	ServerRSSAfter   int64   `json:"server_rss_after,omitempty"`
	ServerCPUSeconds float64 `json:"server_cpu_seconds,omitempty"`
	// ServerBytesPerConn is the RSS growth over the connections; see the
	// idle mode for a settled figure.
	ServerBytesPerConn float64 `json:"server_bytes_per_conn,omitempty"`
}

// connectAll connects every client, ConnectConcurrency at a time.
func (b *bench) connectAll(ctx context.Context) (connectReport, error) {
	rep := connectReport{}
	s0 := b.probe.sample(ctx)
	start := time.Now()
	var done, failed atomic.Int64
	stop := b.progress("connect: connected", &done, int64(len(b.clients)))
	var wg sync.WaitGroup
	for _, c := range b.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.connectRetry(ctx, 5); err != nil {
				failed.Add(1)
				if ctx.Err() == nil {
					b.log.Warn("cannot connect", "client", c.idx, "err", err)
				}
				return
			}
			done.Add(1)
		}()
	}
	wg.Wait()
	stop()
	rep.Seconds = time.Since(start).Seconds()
	s1 := b.probe.sample(ctx)
	rep.Connections, rep.Failed = int(done.Load()), int(failed.Load())
	rep.PerSec = float64(rep.Connections) / rep.Seconds
	for _, c := range b.clients {
		rep.Subscriptions += len(c.rooms)
	}
	if s0.OK && s1.OK {
		rep.ServerRSSBefore, rep.ServerRSSAfter = s0.RSS, s1.RSS
		rep.ServerCPUSeconds = s1.CPUSeconds - s0.CPUSeconds
		if rep.Connections > 0 {
			rep.ServerBytesPerConn = float64(s1.RSS-s0.RSS) / float64(rep.Connections)
		}
	}
	b.log.Info("connected", "connections", rep.Connections, "failed", rep.Failed, "seconds", fmt.Sprintf("%.1f", rep.Seconds), "per_sec", fmt.Sprintf("%.0f", rep.PerSec))
	if rep.Failed > 0 {
		return rep, fmt.Errorf("%d of %d clients could not connect", rep.Failed, len(b.clients))
	}
	return rep, ctx.Err()
}

// idleReport is the result of --idle.
type idleReport struct {
	Connections     int     `json:"connections"`
	SettleSeconds   float64 `json:"settle_seconds"`
	HoldSeconds     float64 `json:"hold_seconds"`
	ServerRSSBefore int64   `json:"server_rss_before"`
	ServerRSSAfter  int64   `json:"server_rss_after"`
	ServerRSSPeak   int64   `json:"server_rss_peak"`
	BytesPerConn    float64 `json:"server_bytes_per_conn"`
	LiveAtEnd       int     `json:"live_at_end"`
	ServerCPUIdle   float64 `json:"server_cpu_seconds_while_holding"`
}

// idle holds the connections: RSS growth per connection once settled.
func (b *bench) idle(ctx context.Context, conn connectReport) *idleReport {
	rep := &idleReport{Connections: conn.Connections, SettleSeconds: b.cfg.Settle.Seconds(), ServerRSSBefore: conn.ServerRSSBefore}
	b.log.Info("idle: settling", "for", b.cfg.Settle)
	sleepCtx(ctx, b.cfg.Settle)
	s1 := b.probe.sample(ctx)
	rep.ServerRSSAfter, rep.ServerRSSPeak = s1.RSS, s1.HWM
	if rep.Connections > 0 && s1.OK && conn.ServerRSSBefore > 0 {
		rep.BytesPerConn = float64(s1.RSS-conn.ServerRSSBefore) / float64(rep.Connections)
	}
	b.log.Info("idle: holding", "for", b.cfg.Duration, "server_bytes_per_conn", fmt.Sprintf("%.0f", rep.BytesPerConn))
	sleepCtx(ctx, b.cfg.Duration)
	s2 := b.probe.sample(ctx)
	rep.HoldSeconds = b.cfg.Duration.Seconds()
	rep.ServerCPUIdle = s2.CPUSeconds - s1.CPUSeconds
	for _, c := range b.clients {
		if c.live.Load() {
			rep.LiveAtEnd++
		}
	}
	return rep
}

// stormReport is the result of --reconnect-storm.
type stormReport struct {
	Dropped          int     `json:"dropped"`
	AfterSeconds     float64 `json:"after_seconds"`    // into the step
	AllLiveSeconds   float64 `json:"all_live_seconds"` // from the drop until every client was subscribed again; -1 if never
	Reconnected      int     `json:"reconnected"`
	ReconnectP50     float64 `json:"reconnect_p50_ms"`
	ReconnectP99     float64 `json:"reconnect_p99_ms"`
	Resent           uint64  `json:"resent"`
	TooManyMissed    uint64  `json:"too_many_missed"`
	ServerCPUSeconds float64 `json:"server_cpu_seconds"` // from the drop until all were live
}

// storm drops every connection at once and waits until all are live again.
func (b *bench) storm(ctx context.Context, rep *stormReport) {
	b.log.Info("storm: dropping every connection", "connections", len(b.clients))
	s0 := b.probe.sample(ctx)
	resent0, tmm0 := b.resent.Load(), b.tooManyMissed.Load()
	dropAt := time.Now()
	for _, c := range b.clients {
		c.drop()
	}
	rep.Dropped = len(b.clients)
	rep.AllLiveSeconds = -1
	deadline := time.Now().Add(b.cfg.Duration + b.cfg.Drain)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		n := 0
		for _, c := range b.clients {
			if c.live.Load() {
				n++
			}
		}
		if n == len(b.clients) {
			rep.AllLiveSeconds = time.Since(dropAt).Seconds()
			break
		}
		sleepCtx(ctx, 10*time.Millisecond)
	}
	s1 := b.probe.sample(ctx)
	rep.ServerCPUSeconds = s1.CPUSeconds - s0.CPUSeconds
	var h histogram
	for _, c := range b.clients {
		c.mu.Lock()
		at := c.liveAt
		c.mu.Unlock()
		if c.live.Load() && at.After(dropAt) {
			rep.Reconnected++
			h.record(at.Sub(dropAt))
		}
	}
	rep.ReconnectP50 = float64(h.quantile(0.5).Microseconds()) / 1000
	rep.ReconnectP99 = float64(h.quantile(0.99).Microseconds()) / 1000
	rep.Resent, rep.TooManyMissed = b.resent.Load()-resent0, b.tooManyMissed.Load()-tmm0
	b.log.Info("storm: reconnected", "clients", rep.Reconnected, "all_live_seconds", fmt.Sprintf("%.2f", rep.AllLiveSeconds))
}

// step sends at rate for the configured duration, drains, and checks
// every delivery.
func (b *bench) step(ctx context.Context, i int, rate float64) stepReport {
	cfg := b.cfg
	st := b.steps[i]
	rep := stepReport{TargetRate: rate}
	if len(b.slots) > 0 {
		// A client sends for each of its rooms.
		rep.PerConnSendRate = rate / float64(len(b.slots)) * float64(maxRooms(b.clients))
	}
	b.log.Info("run: sending", "rate", rate, "duration", cfg.Duration, "per_conn_rate", fmt.Sprintf("%.2f", rep.PerConnSendRate))
	s0 := b.probe.sample(ctx)
	p0 := b.sampleProcs(ctx)
	g0 := selfCPU()
	start := time.Now()
	jobs := make(chan slot, 4096)
	var writers sync.WaitGroup
	for range cfg.Writers {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for s := range jobs {
				if !s.c.send(s.ri, i) {
					st.skipped.Add(1)
				}
			}
		}()
	}
	var stormDone chan struct{}
	if cfg.Storm {
		rep.Storm = &stormReport{}
		stormDone = make(chan struct{})
		go func() {
			defer close(stormDone)
			if sleepCtx(ctx, cfg.StormAt) {
				rep.Storm.AfterSeconds = time.Since(start).Seconds()
				b.storm(ctx, rep.Storm)
			}
		}()
	}
	b.pace(ctx, rate, cfg.Duration, st, jobs)
	close(jobs)
	writers.Wait()
	sendEnd := time.Now()
	rep.Seconds = sendEnd.Sub(start).Seconds()
	if stormDone != nil {
		<-stormDone
	}

	// Drain: wait for every answer and every delivery, then check.
	b.log.Info("run: draining", "max", cfg.Drain)
	drainStart := time.Now()
	deadline := drainStart.Add(cfg.Drain)
	for b.outstanding.Load() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		sleepCtx(ctx, 20*time.Millisecond)
	}
	heads := make([]uint64, len(b.rooms))
	for r, rm := range b.rooms {
		heads[r] = rm.ledger.head()
	}
	// The stored head may be past the last ack (a send that was stored but
	// whose ack was lost): check up to what the server says it has.
	if rh, err := b.restHeads(ctx); err == nil {
		for r := range heads {
			heads[r] = max(heads[r], rh[r])
		}
	} else {
		b.errs.add("read room heads: " + errKind(err))
	}
	rep.DrainComplete = b.waitDelivered(ctx, heads, deadline)
	rep.DrainSeconds = time.Since(drainStart).Seconds()
	s1 := b.probe.sample(ctx)
	p1 := b.sampleProcs(ctx)
	rep.GeneratorCPUSeconds = selfCPU() - g0

	// Check every receiver of every room, then start afresh.
	chk := newChecker()
	for _, rm := range b.rooms {
		for _, c := range rm.members {
			ri := c.roomIndex(rm.id)
			c.mu.Lock()
			chk.add(fmt.Sprintf("room %d member %d", rm.idx, c.idx), c.track[ri], rm.ledger, heads[rm.idx])
			c.track[ri].rebase(heads[rm.idx])
			c.mu.Unlock()
		}
		chk.addLedger(rm.ledger)
		rep.ExpectedDeliveries += rm.ledger.ackedCount() * uint64(len(rm.members))
		rm.ledger.reset()
	}
	rep.Check = chk.verdict()

	rep.Sent, rep.Acked, rep.Skipped = st.sent.Load(), st.acked.Load(), st.skipped.Load()
	rep.Deliveries = st.deliveries.Load()
	rep.Unanswered = uint64(max(b.outstanding.Load(), 0))
	rep.Errors = st.errs.snapshot()
	rep.RateLimited = rep.Errors["rate_limited"]
	rep.SendRate = float64(rep.Sent) / rep.Seconds
	rep.AckRate = float64(rep.Acked) / rep.Seconds
	if last := st.lastDelivery.Load(); last > 0 {
		rep.DeliverySeconds = time.Unix(0, last).Sub(start).Seconds()
		rep.DeliveryRate = float64(rep.Deliveries) / rep.DeliverySeconds
	}
	rep.Latency, rep.AckLatency = st.lat.summary(), st.ackLat.summary()
	if s0.OK && s1.OK {
		rep.Server = &stepServer{
			CPUSeconds: s1.CPUSeconds - s0.CPUSeconds, RSSStart: s0.RSS, RSSEnd: s1.RSS, RSSPeak: s1.HWM,
			CPUPerSecond: (s1.CPUSeconds - s0.CPUSeconds) / s1.At.Sub(s0.At).Seconds(),
		}
		if rep.Deliveries > 0 {
			rep.Server.CPUPerMillionDeliveries = rep.Server.CPUSeconds / float64(rep.Deliveries) * 1e6
		}
	}
	rep.Procs = b.procsOver(p0, p1, rep.Deliveries)
	rep.judge(cfg)
	b.log.Info("run: step done", "rate", rate, "acks_per_sec", fmt.Sprintf("%.0f", rep.AckRate),
		"deliveries_per_sec", fmt.Sprintf("%.0f", rep.DeliveryRate), "p99_ms", rep.Latency.P99,
		"lost", rep.Check.Lost, "duplicates", rep.Check.Duplicates, "clean", rep.Clean)
	return rep
}

func maxRooms(cs []*client) int {
	n := 0
	for _, c := range cs {
		n = max(n, len(c.rooms))
	}
	return n
}

// pace hands out sends at rate per second for d, round-robin over the
// slots, skipping clients that are offline (reconnecting). It keeps to a
// schedule (message k is due at k/rate) so that it catches up after a
// stall instead of drifting.
func (b *bench) pace(ctx context.Context, rate float64, d time.Duration, st *stepStats, jobs chan<- slot) {
	if rate <= 0 || len(b.slots) == 0 {
		sleepCtx(ctx, d)
		return
	}
	start := time.Now()
	var k int64
	cursor := 0
	for {
		el := time.Since(start)
		if el >= d || ctx.Err() != nil {
			return
		}
		due := int64(el.Seconds()*rate) + 1
		for ; k < due; k++ {
			found := false
			for range len(b.slots) {
				s := b.slots[cursor]
				cursor = (cursor + 1) % len(b.slots)
				if s.c.live.Load() {
					select {
					case jobs <- s:
					case <-ctx.Done():
						return
					}
					found = true
					break
				}
			}
			if !found {
				st.skipped.Add(1)
			}
		}
		next := start.Add(time.Duration(float64(k) / rate * float64(time.Second)))
		sleepCtx(ctx, time.Until(next))
	}
}

// waitDelivered waits until every live receiver has every seq up to its
// room's head, or the deadline.
func (b *bench) waitDelivered(ctx context.Context, heads []uint64, deadline time.Time) bool {
	for {
		all := true
		for _, c := range b.clients {
			c.mu.Lock()
			for i, rm := range c.rooms {
				if !c.track[i].complete(heads[rm.idx]) {
					all = false
					break
				}
			}
			c.mu.Unlock()
			if !all {
				break
			}
		}
		if all {
			return true
		}
		if !time.Now().Before(deadline) || ctx.Err() != nil {
			return false
		}
		sleepCtx(ctx, 20*time.Millisecond)
	}
}

// closeAll closes every connection at the end of the run.
func (b *bench) closeAll() {
	b.closing.Store(true)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256)
	for _, c := range b.clients {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c.close()
		}()
	}
	wg.Wait()
}

// sleepCtx sleeps for d unless ctx ends first; it reports whether it slept.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// raiseNofile raises the soft open-file limit to the hard one and returns
// it. (Go does this by itself since 1.19; this makes it explicit and
// tells the limit.)
func raiseNofile() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	return rl.Cur
}

// selfCPU returns the generator's own user+system CPU seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func machineInfo() machine {
	m := machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), LoadAvgStart: loadAvg()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

var errDirty = errors.New("deliveries were lost or duplicated")

func sortedKeys(m map[string]uint64) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
