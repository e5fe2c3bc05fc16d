package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	// The first SIGINT or SIGTERM cancels the run (it still reports what it
	// has); a second one ends the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	m := &Main{Stdout: os.Stdout, Stderr: os.Stderr}
	if err := m.Run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "confab-bench:", err)
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// Main is the program, apart from the process it runs in.
type Main struct {
	Stdout, Stderr io.Writer
}

// config is the run's configuration, from the flags.
type config struct {
	Server string `json:"server"`
	// Servers are every --server, the first being Server; set only when
	// there are several (--call across nodes, or chat across nodes:
	// chatnodes.go).
	Servers        []string      `json:"servers,omitempty"`
	Users          int           `json:"users"`
	Rooms          int           `json:"rooms"`
	MembersPerRoom int           `json:"members_per_room"`
	Rates          []float64     `json:"rates"`
	Duration       time.Duration `json:"duration"`
	Drain          time.Duration `json:"drain"`
	SetupOnly      bool          `json:"setup_only,omitempty"`
	Idle           bool          `json:"idle"`
	Settle         time.Duration `json:"settle"`
	Storm          bool          `json:"reconnect_storm"`
	StormAt        time.Duration `json:"storm_at"`
	State          string        `json:"state,omitempty"`
	JSON           string        `json:"json,omitempty"`
	ServerPID      int           `json:"server_pid"`
	MetricsURL     string        `json:"metrics_url,omitempty"`
	// MetricsURLs are the nodes' /metrics, one per Servers entry.
	MetricsURLs        []string      `json:"metrics_urls,omitempty"`
	MetricsToken       string        `json:"-"`
	SignupConcurrency  int           `json:"signup_concurrency"`
	SetupConcurrency   int           `json:"setup_concurrency"`
	ConnectConcurrency int           `json:"connect_concurrency"`
	Writers            int           `json:"writers"`
	SourceIPs          int           `json:"source_ips"`
	MaxP99             time.Duration `json:"max_p99"`
	Note               string        `json:"note,omitempty"`
	Call               bool          `json:"call,omitempty"`
	Publishers         int           `json:"publishers,omitempty"`
	Subscribers        int           `json:"subscribers,omitempty"`
	VideoPackets       int           `json:"video_packets,omitempty"`
	JoinConcurrency    int           `json:"join_concurrency,omitempty"`
	JoinTimeout        time.Duration `json:"join_timeout,omitempty"`
	Warmup             time.Duration `json:"warmup,omitempty"`
	LateJoiner         bool          `json:"late_joiner,omitempty"`
	LogLevel           string        `json:"-"`
	// Watch are process trees whose CPU each step reports (--watch).
	Watch watchList `json:"watch,omitempty"`
}

func (c config) mode() string {
	switch {
	case c.Call:
		return "call"
	case c.Idle:
		return "idle"
	case c.Storm:
		return "reconnect-storm"
	case c.SetupOnly:
		return "setup"
	}
	return "run"
}

// rateList is a flag of comma-separated send rates.
type rateList []float64

func (r *rateList) String() string {
	var s []string
	for _, v := range *r {
		s = append(s, strconv.FormatFloat(v, 'f', -1, 64))
	}
	return strings.Join(s, ",")
}

func (r *rateList) Set(v string) error {
	*r = nil
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || n < 0 {
			return fmt.Errorf("bad rate %q", f)
		}
		*r = append(*r, n)
	}
	return nil
}

// urlList is a flag of base URLs that may be repeated or given as a
// comma list; the first use replaces the default.
type urlList struct {
	urls []string
	set  bool
}

func (u *urlList) String() string { return strings.Join(u.urls, ",") }

func (u *urlList) Set(v string) error {
	if !u.set {
		u.urls, u.set = nil, true
	}
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			u.urls = append(u.urls, s)
		}
	}
	return nil
}

// parseFlags reads the command line (without the program name).
func (m *Main) parseFlags(args []string) (config, error) {
	cfg := config{Rates: []float64{100}}
	fs := flag.NewFlagSet("confab-bench", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	servers := urlList{urls: []string{"http://127.0.0.1:8080"}}
	fs.Var(&servers, "server", "base URL of the confab server; it may be repeated (or a comma list) to spread the clients over several nodes, round-robin (client i on node i mod N; see chatnodes.go), and with --call the participants, the first publisher on the first URL (see nodes.go); setup and the single-server figures use the first")
	fs.Var(&cfg.Watch, "watch", "name=pid of a process whose CPU, with its descendants' (and the children they reaped), each step reports, e.g. postgres=<postmaster pid>,nats=<pid>; repeated or a comma list")
	fs.IntVar(&cfg.Users, "users", 100, "signed-up users, one WebSocket connection each")
	fs.IntVar(&cfg.Rooms, "rooms", 10, "rooms")
	fs.IntVar(&cfg.MembersPerRoom, "members-per-room", 10, "members of each room; room r gets users r*M .. r*M+M-1 (mod --users), so users are in several rooms when rooms*members > users")
	fs.Var((*rateList)(&cfg.Rates), "rate", "messages per second in total, spread round-robin over every (member, room); a comma list (100,200,400) runs steps in turn on the same connections and stops after the first one that is not clean")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long each step sends (with --idle: how long to hold the connections)")
	fs.DurationVar(&cfg.Drain, "drain", 15*time.Second, "after sending, how long to wait at most for answers and deliveries before checking")
	fs.BoolVar(&cfg.SetupOnly, "setup-only", false, "only sign up and fill rooms (save them with --state), then exit: prepares a population without loading the server process that is measured next")
	fs.BoolVar(&cfg.Idle, "idle", false, "connect and subscribe every user, hold the connections and report the server's memory per connection; sends nothing")
	fs.DurationVar(&cfg.Settle, "settle", 5*time.Second, "with --idle: wait this long after connecting before measuring memory")
	fs.BoolVar(&cfg.Storm, "reconnect-storm", false, "while sending at the (first) rate, close every TCP connection at once; clients reconnect, resume with after_seq and resend; report how long until all are live and check that nothing was lost")
	fs.DurationVar(&cfg.StormAt, "storm-at", 0, "with --reconnect-storm: when to drop, into the step (default: a third of --duration)")
	fs.StringVar(&cfg.State, "state", "", "JSON file to load a prepared population (users, tokens, rooms) from and save it to, so that repeated runs against the same server data skip sign-up and joins")
	fs.StringVar(&cfg.JSON, "json", "", "also write the full report as JSON to this file")
	fs.IntVar(&cfg.ServerPID, "server-pid", 0, "PID of the server, for its CPU time and RSS from /proc (0: find the process listening on a loopback --server; -1: none)")
	fs.StringVar(&cfg.MetricsURL, "metrics-url", "", "Prometheus endpoint with process_cpu_seconds_total and process_resident_memory_bytes, used when /proc is not available (default: <server>/metrics, which needs the server's --metrics-token; its --metrics-addr, 127.0.0.1:9090 by default, serves it without; \"none\" to skip); with several --server, a comma list of one endpoint per server, in their order")
	fs.StringVar(&cfg.MetricsToken, "metrics-token", os.Getenv("CONFAB_METRICS_TOKEN"), "bearer token sent with every /metrics request: the server's --metrics-token, which serves /metrics on its API address (default: $CONFAB_METRICS_TOKEN)")
	fs.IntVar(&cfg.SignupConcurrency, "signup-concurrency", 8, "sign-ups in flight (each is an argon2id hash on the server)")
	fs.IntVar(&cfg.SetupConcurrency, "setup-concurrency", 32, "room creations and joins in flight")
	fs.IntVar(&cfg.ConnectConcurrency, "connect-concurrency", 200, "WebSocket connects (dial, ready, subscribes) in flight, also when reconnecting")
	fs.IntVar(&cfg.Writers, "writers", 32, "goroutines writing send frames")
	fs.IntVar(&cfg.SourceIPs, "source-ips", 1, "spread connections over local source addresses 127.0.0.1 .. 127.0.0.N (loopback servers only), for more ephemeral ports than one address has (about 28k)")
	fs.DurationVar(&cfg.MaxP99, "max-p99", 50*time.Millisecond, "a step whose send->receive p99 is above this is not clean (0: no bound)")
	fs.StringVar(&cfg.Note, "note", "", "free text recorded in the report")
	fs.BoolVar(&cfg.Call, "call", false, "measure the SFU instead of chat: --publishers and --subscribers join one room's call (see sfu.go); --duration is the measuring window; --users, --rooms, --members-per-room and --rate do not apply")
	fs.IntVar(&cfg.Publishers, "publishers", 1, "with --call: participants that publish audio and video (and receive each other)")
	fs.IntVar(&cfg.Subscribers, "subscribers", 10, "with --call: participants that only receive")
	fs.IntVar(&cfg.VideoPackets, "video-packets", 5, "with --call: RTP packets per video frame (30 frames/s; audio adds 50 packets/s)")
	fs.IntVar(&cfg.JoinConcurrency, "join-concurrency", 8, "with --call: call joins in flight")
	fs.DurationVar(&cfg.JoinTimeout, "join-timeout", 60*time.Second, "with --call: how long every receiver may take to get every track")
	fs.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "with --call: wait this long after everyone receives before measuring")
	fs.BoolVar(&cfg.LateJoiner, "late-joiner", true, "with --call: after the window, one more subscriber joins and its first packet and keyframe of every publisher's video are timed")
	fs.StringVar(&cfg.LogLevel, "log-level", "info", "progress log level on stderr: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if len(servers.urls) == 0 {
		return cfg, errors.New("--server needs a URL")
	}
	for i, u := range servers.urls {
		u = strings.TrimSuffix(u, "/")
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return cfg, fmt.Errorf("--server %q: want an http:// or https:// URL", u)
		}
		if slices.Contains(servers.urls[:i], u) {
			return cfg, fmt.Errorf("--server %q is given twice", u)
		}
		servers.urls[i] = u
	}
	cfg.Server = servers.urls[0]
	if len(servers.urls) > 1 {
		cfg.Servers = servers.urls
	}
	if cfg.Call {
		switch {
		case cfg.Publishers < 1 || cfg.Subscribers < 0:
			return cfg, errors.New("--publishers must be at least 1 and --subscribers not negative")
		case cfg.Publishers-1+cfg.Subscribers < 1:
			return cfg, errNoFanOut
		case cfg.VideoPackets < 1:
			return cfg, errors.New("--video-packets must be at least 1")
		case cfg.JoinConcurrency < 1:
			return cfg, errors.New("--join-concurrency must be at least 1")
		case cfg.Idle || cfg.Storm:
			return cfg, errors.New("--call excludes --idle and --reconnect-storm")
		}
		// One room whose members are the call's participants.
		cfg.Users = cfg.Publishers + cfg.Subscribers
		if cfg.LateJoiner {
			cfg.Users++
		}
		cfg.Rooms, cfg.MembersPerRoom, cfg.Rates = 1, cfg.Users, nil
	} else {
		cfg.Publishers, cfg.Subscribers, cfg.VideoPackets, cfg.JoinConcurrency, cfg.JoinTimeout, cfg.Warmup, cfg.LateJoiner = 0, 0, 0, 0, 0, 0, false
	}
	if err := cfg.metricsURLs(); err != nil {
		return cfg, err
	}
	switch {
	case cfg.Users < 1:
		return cfg, errors.New("--users must be at least 1")
	case cfg.Rooms < 0 || cfg.MembersPerRoom < 0:
		return cfg, errors.New("--rooms and --members-per-room must not be negative")
	case cfg.Rooms > 0 && cfg.MembersPerRoom < 1:
		return cfg, errors.New("--members-per-room must be at least 1")
	case cfg.MembersPerRoom > cfg.Users:
		return cfg, fmt.Errorf("--members-per-room %d is more than --users %d", cfg.MembersPerRoom, cfg.Users)
	case cfg.Idle && cfg.Storm:
		return cfg, errors.New("--idle and --reconnect-storm exclude each other")
	case !cfg.Idle && !cfg.SetupOnly && cfg.Rooms == 0:
		return cfg, errors.New("sending needs --rooms (use --idle to only connect)")
	case len(cfg.Rates) == 0 && !cfg.Call:
		return cfg, errors.New("--rate needs a value")
	case cfg.Storm && len(cfg.Rates) > 1:
		return cfg, errors.New("--reconnect-storm takes one --rate")
	case cfg.Duration <= 0:
		return cfg, errors.New("--duration must be positive")
	case cfg.SignupConcurrency < 1 || cfg.SetupConcurrency < 1 || cfg.ConnectConcurrency < 1 || cfg.Writers < 1:
		return cfg, errors.New("concurrencies and --writers must be at least 1")
	case cfg.SourceIPs < 1 || cfg.SourceIPs > 254:
		return cfg, errors.New("--source-ips must be 1-254")
	}
	if cfg.Storm && cfg.StormAt == 0 {
		cfg.StormAt = cfg.Duration / 3
	}
	if cfg.Idle {
		cfg.Rates = nil
	}
	return cfg, nil
}

// Run runs the load generator with the command line args (without the
// program name). It returns errDirty (after reporting) when deliveries
// were lost or duplicated.
func (m *Main) Run(ctx context.Context, args []string) error {
	cfg, err := m.parseFlags(args)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: level}))
	b, err := newBench(cfg, logger)
	if err != nil {
		return err
	}
	rep, err := b.run(ctx)
	if rep != nil {
		rep.writeText(m.Stdout)
		if cfg.JSON != "" {
			if werr := rep.writeJSON(cfg.JSON); werr != nil {
				err = errors.Join(err, werr)
			}
		}
	}
	if err != nil {
		return err
	}
	for _, st := range rep.Steps {
		if !st.Check.clean() {
			return errDirty
		}
	}
	return nil
}

const usage = `Usage: confab-bench [flags]

Load generator for confab over its public API: signs up --users users, fills
--rooms rooms of --members-per-room members, connects one WebSocket per user
and sends --rate messages/s for --duration, checking that every member gets
every message once. --idle measures memory per idle connection;
--reconnect-storm drops every connection at once while sending. --call
measures the SFU: --publishers send audio and video to each other and to
--subscribers in one room's call, and forwarded RTP packets/s per server
core are reported; --call with several --server spreads the participants
over those nodes and reports each node's role (host or relay) and cost. See the
package documentation (go doc ./cmd/confab-bench) for details.

Flags:
`
