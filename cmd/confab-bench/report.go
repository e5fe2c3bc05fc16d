package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// report is everything a run found; --json writes it as is.
type report struct {
	Mode        string            `json:"mode"` // run, idle, reconnect-storm or call
	Server      string            `json:"server"`
	Note        string            `json:"note,omitempty"`
	Started     time.Time         `json:"started"`
	Finished    time.Time         `json:"finished"`
	Config      config            `json:"config"`
	Machine     machine           `json:"machine"`
	ServerStats serverInfo        `json:"server_process"`
	Setup       setupReport       `json:"setup"`
	Connect     connectReport     `json:"connect"`
	Idle        *idleReport       `json:"idle,omitempty"`
	Call        *callReport       `json:"call,omitempty"`
	Steps       []stepReport      `json:"steps,omitempty"`
	Errors      map[string]uint64 `json:"connection_errors,omitempty"` // by kind: connects, disconnects, ...
	OtherFrames uint64            `json:"other_frames"`                // presence, typing, ... received
}

type machine struct {
	CPUs         int    `json:"cpus"`
	CPUModel     string `json:"cpu_model,omitempty"`
	GoVersion    string `json:"go_version"`
	LoadAvgStart string `json:"loadavg_start"`
	LoadAvgEnd   string `json:"loadavg_end"`
	Nofile       uint64 `json:"nofile_limit"`
}

type serverInfo struct {
	PID    int    `json:"pid,omitempty"`
	Source string `json:"source"` // proc, metrics, or "" (no figures)
}

// stepReport is one send rate's result.
type stepReport struct {
	TargetRate         float64           `json:"target_rate"`
	PerConnSendRate    float64           `json:"per_conn_send_rate"` // the busiest connection's
	Seconds            float64           `json:"seconds"`            // sending
	Sent               uint64            `json:"sent"`
	Skipped            uint64            `json:"skipped_offline"` // sends not made: the chosen clients were reconnecting
	Acked              uint64            `json:"acked"`
	Unanswered         uint64            `json:"unanswered"` // sends without ack or error after the drain
	Errors             map[string]uint64 `json:"errors,omitempty"`
	RateLimited        uint64            `json:"rate_limited"`
	SendRate           float64           `json:"sends_per_sec"`
	AckRate            float64           `json:"acks_per_sec"`
	Deliveries         uint64            `json:"deliveries"` // message events of this step received
	ExpectedDeliveries uint64            `json:"expected_deliveries"`
	DeliverySeconds    float64           `json:"delivery_seconds"` // first send to last delivery
	DeliveryRate       float64           `json:"deliveries_per_sec"`
	Latency            latency           `json:"latency"`     // send -> event at each receiver (sender included)
	AckLatency         latency           `json:"ack_latency"` // send -> ack
	DrainSeconds       float64           `json:"drain_seconds"`
	DrainComplete      bool              `json:"drain_complete"`
	Check              verdict           `json:"check"`
	Server             *stepServer       `json:"server,omitempty"`
	// Procs are the CPU of every node (several --server) and --watch
	// process tree over the step.
	Procs               []stepProc   `json:"procs,omitempty"`
	GeneratorCPUSeconds float64      `json:"generator_cpu_seconds"`
	Storm               *stormReport `json:"storm,omitempty"`
	Clean               bool         `json:"clean"`
	NotClean            []string     `json:"not_clean,omitempty"`
}

type stepServer struct {
	CPUSeconds              float64 `json:"cpu_seconds"` // sending and draining
	CPUPerSecond            float64 `json:"cpu_per_second"`
	CPUPerMillionDeliveries float64 `json:"cpu_seconds_per_million_deliveries"`
	RSSStart                int64   `json:"rss_start"`
	RSSEnd                  int64   `json:"rss_end"`
	RSSPeak                 int64   `json:"rss_peak,omitempty"`
}

// judge decides whether the step is clean: nothing lost or duplicated,
// every send answered without error, the rate kept, p99 within the bound.
func (r *stepReport) judge(cfg config) {
	var why []string
	if !r.Check.clean() {
		why = append(why, fmt.Sprintf("lost %d, duplicates %d, duplicate messages %d, ack conflicts %d, out of order %d",
			r.Check.Lost, r.Check.Duplicates, r.Check.DupMessages, r.Check.Conflicts, r.Check.OutOfOrder))
	}
	if !r.DrainComplete {
		why = append(why, "deliveries incomplete after the drain")
	}
	if r.Unanswered > 0 {
		why = append(why, fmt.Sprintf("%d sends unanswered", r.Unanswered))
	}
	if len(r.Errors) > 0 {
		why = append(why, fmt.Sprintf("error answers: %v", r.Errors))
	}
	if r.Storm == nil && r.SendRate < 0.95*r.TargetRate {
		why = append(why, fmt.Sprintf("sent %.0f/s of %.0f/s", r.SendRate, r.TargetRate))
	}
	if r.Storm != nil && r.Storm.AllLiveSeconds < 0 {
		why = append(why, "not every client reconnected")
	}
	// A storm's latencies include the reconnects: it is judged on loss only.
	if r.Storm == nil && cfg.MaxP99 > 0 && r.Latency.P99 > float64(cfg.MaxP99.Microseconds())/1000 {
		why = append(why, fmt.Sprintf("p99 %.1f ms > %v", r.Latency.P99, cfg.MaxP99))
	}
	if r.Deliveries == 0 && r.TargetRate > 0 {
		why = append(why, "no deliveries")
	}
	r.NotClean, r.Clean = why, len(why) == 0
}

func (r *report) writeJSON(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// writeText writes the summary for people.
func (r *report) writeText(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("confab-bench %s against %s (%s)", r.Mode, r.Server, r.Started.Format(time.RFC3339))
	p("machine: %d CPUs %s, %s, load average %s -> %s, open files limit %d",
		r.Machine.CPUs, r.Machine.CPUModel, r.Machine.GoVersion, r.Machine.LoadAvgStart, r.Machine.LoadAvgEnd, r.Machine.Nofile)
	if r.Note != "" {
		p("note: %s", r.Note)
	}
	s := r.Setup
	p("setup: %d users (%d reused, %d signed up%s), %d rooms x %d members (%s) in %.1f s",
		s.Users, s.ReusedUsers, s.SignedUp, rateStr(s.SignupsPerSec, "sign-ups"), s.Rooms, r.Config.MembersPerRoom,
		map[bool]string{true: "reused", false: fmt.Sprintf("created, %d joins%s", s.Joins, rateStr(s.JoinsPerSec, "joins"))}[s.ReusedRooms], s.Seconds)
	if r.Config.SetupOnly {
		return
	}
	if r.ServerStats.Source == "" {
		p("server process: no figures (give --server-pid, or serve process_* metrics at --metrics-url)")
	} else {
		p("server process: pid %d, figures from %s", r.ServerStats.PID, r.ServerStats.Source)
	}
	if r.Call != nil {
		r.writeCallText(w)
		return
	}
	c := r.Connect
	p("connect: %d connections (%d subscriptions) in %.2f s = %.0f connections/s; %d failed",
		c.Connections, c.Subscriptions, c.Seconds, c.PerSec, c.Failed)
	if c.ServerRSSAfter > 0 {
		p("  server RSS %s -> %s (%.0f bytes per connection, unsettled), server CPU %.2f s",
			mb(c.ServerRSSBefore), mb(c.ServerRSSAfter), c.ServerBytesPerConn, c.ServerCPUSeconds)
	}
	if i := r.Idle; i != nil {
		p("idle: %d connections held %.0f s; after %.1f s settling server RSS %s -> %s: %.0f bytes (%.1f KB) per connection; peak RSS %s; %d live at the end; server CPU while holding %.2f s",
			i.Connections, i.HoldSeconds, i.SettleSeconds, mb(i.ServerRSSBefore), mb(i.ServerRSSAfter), i.BytesPerConn, i.BytesPerConn/1024,
			mb(i.ServerRSSPeak), i.LiveAtEnd, i.ServerCPUIdle)
	}
	for _, st := range r.Steps {
		p("step: target %.0f messages/s for %.1f s (busiest connection %.2f sends/s)", st.TargetRate, st.Seconds, st.PerConnSendRate)
		p("  sent %d (%.0f/s), acked %d (%.0f acks/s), skipped (offline) %d, unanswered %d, rate_limited %d",
			st.Sent, st.SendRate, st.Acked, st.AckRate, st.Skipped, st.Unanswered, st.RateLimited)
		for _, k := range sortedKeys(st.Errors) {
			p("  error %s: %d", k, st.Errors[k])
		}
		p("  deliveries %d of %d expected, %.0f deliveries/s", st.Deliveries, st.ExpectedDeliveries, st.DeliveryRate)
		l := st.Latency
		p("  send->receive latency: p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.2f ms (%d samples)", l.P50, l.P95, l.P99, l.Max, l.Count)
		a := st.AckLatency
		p("  send->ack latency:     p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.2f ms", a.P50, a.P95, a.P99, a.Max)
		ck := st.Check
		p("  check of %d receivers after %.2f s drain (complete: %v): lost %d (acked %d, distinct %d), duplicates %d, duplicate messages %d, ack conflicts %d, out of order %d",
			ck.Receivers, st.DrainSeconds, st.DrainComplete, ck.Lost, ck.LostAcked, ck.LostMessages, ck.Duplicates, ck.DupMessages, ck.Conflicts, ck.OutOfOrder)
		for _, e := range ck.Examples {
			p("    %s", e)
		}
		if sv := st.Server; sv != nil {
			p("  server: %.2f CPU-s (%.2f cores), %.2f CPU-s per million deliveries, RSS %s -> %s",
				sv.CPUSeconds, sv.CPUPerSecond, sv.CPUPerMillionDeliveries, mb(sv.RSSStart), mb(sv.RSSEnd))
		}
		for _, pr := range st.Procs {
			conns := ""
			if pr.Connections > 0 {
				conns = fmt.Sprintf(" (%d connections)", pr.Connections)
			}
			p("  %s%s: %.2f CPU-s (%.2f cores), %.2f CPU-s per million deliveries", pr.Name, conns, pr.CPUSeconds, pr.Cores, pr.CPUPerMillionDeliveries)
		}
		p("  generator: %.2f CPU-s", st.GeneratorCPUSeconds)
		if sm := st.Storm; sm != nil {
			p("  storm at %.1f s: dropped %d, all live again after %.2f s (reconnect p50 %.0f ms, p99 %.0f ms), %d reconnected, %d sends resent, %d too_many_missed, server CPU %.2f s",
				sm.AfterSeconds, sm.Dropped, sm.AllLiveSeconds, sm.ReconnectP50, sm.ReconnectP99, sm.Reconnected, sm.Resent, sm.TooManyMissed, sm.ServerCPUSeconds)
		}
		if st.Clean {
			p("  CLEAN")
		} else {
			p("  NOT CLEAN: %s", strings.Join(st.NotClean, "; "))
		}
	}
	for _, k := range sortedKeys(r.Errors) {
		p("connection error %s: %d", k, r.Errors[k])
	}
}

func rateStr(v float64, what string) string {
	if v == 0 {
		return ""
	}
	return fmt.Sprintf(", %.1f %s/s", v, what)
}
