package metrics

import (
	"errors"
	"net/http"
	"time"

	"github.com/confabhq/confab/internal/supervise"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// latencyBuckets span 250µs to about 4s, doubling.
var latencyBuckets = prometheus.ExponentialBuckets(0.00025, 2, 15)

// Metrics are one server's collectors, on their own registry. Its methods
// are safe for concurrent use and cheap enough for hot paths (an atomic
// add, or a histogram observation).
type Metrics struct {
	reg *prometheus.Registry

	framesIn      *prometheus.CounterVec
	framesOut     prometheus.Counter
	fanout        prometheus.Histogram
	appended      prometheus.Counter
	appends       *prometheus.CounterVec
	appendSeconds prometheus.Histogram
	projLag       prometheus.Gauge
	slow          *prometheus.CounterVec
	relayed       *prometheus.CounterVec
	relayErrors   *prometheus.CounterVec
	presFrames    prometheus.Counter
	presChanges   prometheus.Counter
	presWindows   prometheus.Counter
}

// New returns the collectors, registered with the Go runtime's and the
// process's.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.framesIn = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "confab_ws_frames_received_total",
		Help: "WebSocket frames read from clients, by frame type (invalid: frames that did not decode).",
	}, []string{"type"})
	m.framesOut = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "confab_ws_frames_sent_total",
		Help: "WebSocket frames written to clients (events, acks, errors, presence, signaling).",
	})
	m.fanout = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "confab_fanout_delay_seconds",
		Help:    "Time from an event's commit (its recorded time) to its frame being queued for this node's subscribers.",
		Buckets: latencyBuckets,
	})
	m.appended = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "confab_events_appended_total",
		Help: "Events appended to the event store by commands on this node.",
	})
	m.appends = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "confab_store_appends_total",
		Help: "Appends to the event store by commands on this node, by result: ok, conflict (wrong expected revision; the command retries) or error.",
	}, []string{"result"})
	m.appendSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "confab_store_append_duration_seconds",
		Help:    "Time an append to the event store took, until durable (group commit included).",
		Buckets: latencyBuckets,
	})
	m.projLag = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "confab_projection_lag_events",
		Help: "Events of user and room streams in the store that the read models have not applied yet (sampled every few seconds).",
	})
	m.slow = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "confab_ws_slow_consumers_total",
		Help: "WebSocket connections closed as slow consumers (4008), by reason: queue_full (the outbound queue overflowed) or write_stalled (the socket took nothing for the write timeout).",
	}, []string{"reason"})
	m.slow.WithLabelValues("queue_full")
	m.slow.WithLabelValues("write_stalled")
	m.relayed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "confab_call_relay_messages_total",
		Help: "Call relay messages this node sent to other nodes, by kind: req (a participant's frame to the call's host), reply (the host's answer), push (what the host's SFU sends a participant on another node).",
	}, []string{"kind"})
	m.relayErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "confab_call_relay_errors_total",
		Help: "Call relay failures, by reason: timeout (the host did not answer within 5 s), not_host (the host had given the call up), refused (the host refused the frame), malformed (an envelope ignored), publish (the bus refused to send).",
	}, []string{"reason"})
	m.presFrames = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "confab_presence_frames_total",
		Help: "Presence frames (presence and presence_batch) queued to this node's WebSockets: at most one per connection per presence window.",
	})
	m.presChanges = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "confab_presence_changes_total",
		Help: "Presence changes (a user going online or offline) this node pushed to the connections of the user's peers.",
	})
	m.presWindows = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "confab_presence_windows_total",
		Help: "Presence windows that ended with frames to send: each queues at most one presence frame per connection.",
	})
	for _, k := range []string{"req", "reply", "push"} {
		m.relayed.WithLabelValues(k)
	}
	for _, r := range []string{"timeout", "not_host", "refused", "malformed", "publish"} {
		m.relayErrors.WithLabelValues(r)
	}
	// Make the labelled series visible from the start.
	for _, r := range []string{"ok", "conflict", "error"} {
		m.appends.WithLabelValues(r)
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.framesIn, m.framesOut, m.fanout, m.appended, m.appends, m.appendSeconds, m.projLag, m.slow,
		m.relayed, m.relayErrors, m.presFrames, m.presChanges, m.presWindows,
	)
	return m
}

// Handler serves the metrics in Prometheus's exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: nil})
}

// Registry is the registry the collectors are on, for tests and for
// collectors of other packages.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// FrameIn counts a frame read from a client; typ must come from a small
// fixed set (the frame types the gateway knows, or "invalid").
func (m *Metrics) FrameIn(typ string) { m.framesIn.WithLabelValues(typ).Inc() }

// FrameOut counts a frame written to a client.
func (m *Metrics) FrameOut() { m.framesOut.Inc() }

// SlowConsumer counts a connection closed as a slow consumer.
func (m *Metrics) SlowConsumer(reason string) { m.slow.WithLabelValues(reason).Inc() }

// CallRelayed counts a call relay message sent to another node.
func (m *Metrics) CallRelayed(kind string) { m.relayed.WithLabelValues(kind).Inc() }

// CallRelayError counts a call relay failure.
func (m *Metrics) CallRelayError(reason string) { m.relayErrors.WithLabelValues(reason).Inc() }

// PresenceChange counts a presence change pushed to a user's peers.
func (m *Metrics) PresenceChange() { m.presChanges.Inc() }

// PresenceFrames counts a presence window's end and the n frames it
// queued.
func (m *Metrics) PresenceFrames(n int) {
	m.presWindows.Inc()
	m.presFrames.Add(float64(n))
}

// Fanout observes the delay from an event's commit to its delivery.
func (m *Metrics) Fanout(d time.Duration) { m.fanout.Observe(d.Seconds()) }

// Appended records an append of n events that took d and ended with err;
// conflict tells whether err is a concurrency conflict.
func (m *Metrics) Appended(n int, d time.Duration, err error, conflict bool) {
	m.appendSeconds.Observe(d.Seconds())
	switch {
	case err == nil:
		m.appends.WithLabelValues("ok").Inc()
		m.appended.Add(float64(n))
	case conflict:
		m.appends.WithLabelValues("conflict").Inc()
	default:
		m.appends.WithLabelValues("error").Inc()
	}
}

// SetProjectionLag records how many events the read models are behind.
func (m *Metrics) SetProjectionLag(n int64) { m.projLag.Set(float64(n)) }

// Sources are values other packages keep, read at each scrape. Nil fields
// are not exported.
type Sources struct {
	// Connections is the number of authenticated WebSocket connections.
	Connections func() int
	// Calls returns the SFU's participants now and the RTP packets it has
	// forwarded and dropped so far.
	Calls func() (participants int64, forwarded, dropped uint64)
	// CallsHosted is the number of calls this node's SFU carries.
	CallsHosted func() int
	// TURNAllocations is the number of live TURN relay allocations.
	TURNAllocations func() int
	// Loops returns the state of the node's supervised loops.
	Loops func() []supervise.Status
	// StoreWritable tells whether the event store takes appends (the
	// embedded store refuses them on a full disk).
	StoreWritable func() bool
}

// Watch registers collectors that read src at each scrape.
func (m *Metrics) Watch(src Sources) error {
	var cs []prometheus.Collector
	if f := src.Connections; f != nil {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "confab_ws_connections",
			Help: "Authenticated WebSocket connections open on this node.",
		}, func() float64 { return float64(f()) }))
	}
	if f := src.Calls; f != nil {
		cs = append(cs,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "confab_call_participants",
				Help: "Participants in calls on this node's SFU.",
			}, func() float64 { p, _, _ := f(); return float64(p) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "confab_rtp_packets_forwarded_total",
				Help: "RTP packets the SFU wrote to subscribers.",
			}, func() float64 { _, fw, _ := f(); return float64(fw) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "confab_rtp_packets_dropped_total",
				Help: "RTP packets the SFU dropped because a subscriber's queue was full.",
			}, func() float64 { _, _, dr := f(); return float64(dr) }),
		)
	}
	if f := src.CallsHosted; f != nil {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "confab_calls_hosted",
			Help: "Calls (rooms) whose participants this node's SFU carries, wherever their WebSockets are.",
		}, func() float64 { return float64(f()) }))
	}
	if f := src.TURNAllocations; f != nil {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "confab_turn_allocations",
			Help: "Live relay allocations on the embedded TURN server.",
		}, func() float64 { return float64(f()) }))
	}
	if f := src.Loops; f != nil {
		cs = append(cs, loopCollector(f))
	}
	if f := src.StoreWritable; f != nil {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "confab_store_writable",
			Help: "1 if the event store takes appends, 0 if it refuses them (the embedded store: disk almost full, or opened read-only).",
		}, func() float64 {
			if f() {
				return 1
			}
			return 0
		}))
	}
	var errs []error
	for _, c := range cs {
		errs = append(errs, m.reg.Register(c))
	}
	return errors.Join(errs...)
}

// loopCollector exports the supervised loops' state, retries and last
// error time, read at each scrape.
type loopCollector func() []supervise.Status

var (
	loopStateDesc = prometheus.NewDesc("confab_loop_state",
		"State of each supervised loop (relay, projections, followers, presence, leases): 1 for the state it is in, 0 for the others.",
		[]string{"loop", "state"}, nil)
	loopRetriesDesc = prometheus.NewDesc("confab_loop_retries_total",
		"Failures of each supervised loop that were retried (a database or bus fault).",
		[]string{"loop"}, nil)
	loopLastErrorDesc = prometheus.NewDesc("confab_loop_last_error_timestamp_seconds",
		"Unix time of each supervised loop's last failure (0 if none); the error itself is in /readyz and the log.",
		[]string{"loop"}, nil)
)

func (c loopCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- loopStateDesc
	ch <- loopRetriesDesc
	ch <- loopLastErrorDesc
}

func (c loopCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c() {
		for _, s := range supervise.States {
			v := 0.0
			if s == st.State {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(loopStateDesc, prometheus.GaugeValue, v, st.Name, s.String())
		}
		ch <- prometheus.MustNewConstMetric(loopRetriesDesc, prometheus.CounterValue, float64(st.Retries), st.Name)
		at := 0.0
		if !st.LastErrorAt.IsZero() {
			at = float64(st.LastErrorAt.UnixNano()) / 1e9
		}
		ch <- prometheus.MustNewConstMetric(loopLastErrorDesc, prometheus.GaugeValue, at, st.Name)
	}
}
