package main

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAssignNodes(t *testing.T) {
	for _, tt := range []struct {
		n, nodes int
		want     []int
	}{
		{5, 1, []int{0, 0, 0, 0, 0}},
		// 1 publisher, 3 subscribers and the late joiner on 2 nodes.
		{5, 2, []int{0, 1, 0, 1, 0}},
		{7, 3, []int{0, 1, 2, 0, 1, 2, 0}},
		{2, 3, []int{0, 1}},
	} {
		got := assignNodes(tt.n, tt.nodes)
		if !slices.Equal(got, tt.want) {
			t.Errorf("assignNodes(%d, %d) = %v, want %v", tt.n, tt.nodes, got, tt.want)
		}
	}
	// 2 publishers and 20 subscribers over 2 nodes: one publisher and ten
	// subscribers each, the first publisher on the first node.
	got := assignNodes(22, 2)
	per := map[int][2]int{}
	for i, n := range got {
		c := per[n]
		c[min(i/2, 1)]++ // participants 0 and 1 are the publishers
		per[n] = c
	}
	if got[0] != 0 || per[0] != [2]int{1, 10} || per[1] != [2]int{1, 10} {
		t.Errorf("2 + 20 over 2 nodes: first on %d, per node (publishers, subscribers) %v", got[0], per)
	}
}

func TestNodeFigures(t *testing.T) {
	t0 := time.Unix(1000, 0)
	t1 := t0.Add(10 * time.Second)
	host := nodeFigures("http://a",
		serverSample{At: t0, OK: true, CPUSeconds: 10, Forwarded: 1000, RSS: 1, RelayMessages: 5},
		serverSample{At: t1, OK: true, CPUSeconds: 12.5, Forwarded: 51000, Dropped: 3, SFUParticipants: 22, CallsHosted: 1, RSS: 5e7, RelayMessages: 25},
		11, 1)
	want := callNode{URL: "http://a", Role: roleHost, Participants: 11, Publishers: 1, SFUParticipants: 22, CallsHosted: 1, RelayPerSec: 2,
		Forwarded: 50000, ForwardedPerSec: 5000, Dropped: 3, CPUSeconds: 2.5, Cores: 0.25, ForwardedPerCore: 20000, RSSEnd: 5e7}
	if host != want {
		t.Errorf("host\n got %+v\nwant %+v", host, want)
	}

	relay := nodeFigures("http://b",
		serverSample{At: t0, OK: true, CPUSeconds: 1, RSS: 1},
		serverSample{At: t1, OK: true, CPUSeconds: 1.5, RSS: 1},
		10, 1)
	if relay.Role != roleRelay || relay.ForwardedPerCore != 0 || math.Abs(relay.Cores-0.05) > 1e-12 ||
		math.Abs(relay.CoresPerParticipant-0.005) > 1e-12 {
		t.Errorf("relay %+v, want 0.05 cores, 0.005 per participant", relay)
	}

	// A relay no participant is on costs what it costs, per nobody.
	if idle := nodeFigures("http://c", serverSample{At: t0, OK: true}, serverSample{At: t1, OK: true, CPUSeconds: 0.1}, 0, 0); idle.Role != roleRelay || idle.CoresPerParticipant != 0 {
		t.Errorf("a node without participants %+v", idle)
	}
	// A host that used no CPU the sampling saw has no per-core figure.
	if h := nodeFigures("http://d", serverSample{At: t0, OK: true}, serverSample{At: t1, OK: true, Forwarded: 10}, 1, 1); h.Role != roleHost || h.ForwardedPerCore != 0 {
		t.Errorf("host without CPU %+v", h)
	}

	// No samples: no role, a reason.
	none := nodeFigures("http://e", serverSample{At: t0, Err: "GET http://e/metrics: 401 Unauthorized"}, serverSample{At: t1}, 3, 0)
	if none.Role != "" || !strings.Contains(none.Error, "401") || none.Participants != 3 {
		t.Errorf("unreadable node %+v", none)
	}
}

func TestCallNodesCountsParticipantsByNode(t *testing.T) {
	t0, t1 := time.Unix(0, 0), time.Unix(2, 0)
	var all []*participant
	for i, n := range assignNodes(5, 2) {
		all = append(all, &participant{pub: i < 2, node: n})
	}
	s0 := []serverSample{{At: t0, OK: true}, {At: t0, OK: true}}
	s1 := []serverSample{{At: t1, OK: true, CPUSeconds: 1, Forwarded: 100, SFUParticipants: 6}, {At: t1, OK: true, CPUSeconds: 0.2}}
	nodes := callNodes([]string{"http://a", "http://b"}, s0, s1, all)
	addJoinFigures(nodes, []serverSample{{OK: true, CPUSeconds: 1}, {OK: true, RelayMessages: 4}},
		[]serverSample{{OK: true, CPUSeconds: 1.3}, {OK: true, CPUSeconds: 0.1, RelayMessages: 24}})
	// The host's join CPU is per participant of its SFU (6), the relay's
	// per participant on it (2).
	if math.Abs(nodes[0].JoinCPUSeconds-0.3) > 1e-9 || math.Abs(nodes[0].JoinCPUPerParticipant-0.05) > 1e-9 ||
		nodes[1].JoinRelayMessages != 20 || nodes[1].JoinCPUPerParticipant != 0.05 {
		t.Errorf("join figures %+v", nodes)
	}
	if len(nodes) != 2 || nodes[0].Participants != 3 || nodes[0].Publishers != 1 || nodes[1].Participants != 2 || nodes[1].Publishers != 1 {
		t.Fatalf("nodes %+v", nodes)
	}
	if nodes[0].Role != roleHost || nodes[0].ForwardedPerCore != 100 || nodes[1].Role != roleRelay || nodes[1].CoresPerParticipant != 0.05 {
		t.Errorf("figures %+v", nodes)
	}
	var out bytes.Buffer
	writeNodesText(&out, nodes)
	for _, want := range []string{"node 1 http://a: 3 participants (1 publishers); host", "100 forwarded packets/s per core",
		"node 2 http://b: 2 participants (1 publishers); relay", "0.0500 cores (50.0 ms CPU per second) per remote participant",
		"node 1 joins: 0.30 CPU-s (50.0 ms per participant of its SFU), 0 relay messages",
		"node 2 joins: 0.10 CPU-s (50.0 ms per participant on it), 20 relay messages"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "warning") {
		t.Errorf("one host, yet a warning:\n%s", out.String())
	}
	// Both forwarding: the call is split, which the text says.
	s1[1].Forwarded = 5
	out.Reset()
	writeNodesText(&out, callNodes([]string{"http://a", "http://b"}, s0, s1, all))
	if !strings.Contains(out.String(), "warning: 2 nodes forwarded packets") {
		t.Errorf("a split call is not flagged:\n%s", out.String())
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.34
process_resident_memory_bytes 5.1e+07
confab_call_participants 4
confab_rtp_packets_forwarded_total 98765
confab_rtp_packets_dropped_total 2
confab_ws_connections{node="x"} 7
confab_calls_hosted 1
confab_call_relay_messages_total{kind="push"} 30
confab_call_relay_messages_total{kind="reply"} 12
`
	s := parseMetrics(strings.NewReader(text))
	if !s.OK || s.CPUSeconds != 12.34 || s.RSS != 51e6 || s.SFUParticipants != 4 || s.Forwarded != 98765 || s.Dropped != 2 ||
		s.CallsHosted != 1 || s.RelayMessages != 42 {
		t.Errorf("parsed %+v", s)
	}
	// A node without calls has no SFU counters: zero, still a sample.
	s = parseMetrics(strings.NewReader("process_cpu_seconds_total 1\nprocess_resident_memory_bytes 2\n"))
	if !s.OK || s.Forwarded != 0 {
		t.Errorf("parsed %+v", s)
	}
	if s := parseMetrics(strings.NewReader("<html>no</html>\n")); s.OK {
		t.Errorf("an HTML page parsed as a sample: %+v", s)
	}
}

func TestNodesFlags(t *testing.T) {
	parse := func(args ...string) (config, error) {
		m := &Main{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
		return m.parseFlags(args)
	}
	for _, args := range [][]string{
		{"--call", "--server", "http://a:1", "--server", "b:2"},                                // not a URL
		{"--call", "--server", "http://a:1", "--server", "http://a:1/"},                        // twice
		{"--call", "--server", "http://a:1,http://b:2", "--metrics-url", "http://a:9/metrics"}, // one endpoint for two
		{"--call", "--server", "http://a:1,http://b:2", "--metrics-url", "http://a:9/metrics,b:9"},
		{"--call", "--server", ""},
	} {
		if _, err := parse(args...); err == nil {
			t.Errorf("%q: no error", args)
		}
	}

	// Repeated and comma lists mix; the first is the server of the setup.
	cfg, err := parse("--call", "--server", "http://a:1/,http://b:2", "--server", "http://c:3", "--metrics-token", "tok")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server != "http://a:1" || !slices.Equal(cfg.Servers, []string{"http://a:1", "http://b:2", "http://c:3"}) ||
		cfg.MetricsURL != "http://a:1/metrics" || !slices.Equal(cfg.MetricsURLs, []string{"http://a:1/metrics", "http://b:2/metrics", "http://c:3/metrics"}) ||
		cfg.MetricsToken != "tok" {
		t.Errorf("config %+v", cfg)
	}
	cfg, err = parse("--call", "--server", "http://a:1,http://b:2", "--metrics-url", "http://127.0.0.1:9091/metrics, http://127.0.0.1:9092/metrics")
	if err != nil || cfg.MetricsURL != "http://127.0.0.1:9091/metrics" || cfg.MetricsURLs[1] != "http://127.0.0.1:9092/metrics" {
		t.Errorf("config %+v (%v)", cfg, err)
	}
	cfg, err = parse("--call", "--server", "http://a:1,http://b:2", "--metrics-url", "none")
	if err != nil || cfg.MetricsURL != "" || cfg.MetricsURLs != nil {
		t.Errorf("config %+v (%v)", cfg, err)
	}

	// One server: as before, no list.
	cfg, err = parse("--call", "--server", "http://a:1")
	if err != nil || cfg.Servers != nil || cfg.MetricsURLs != nil || cfg.MetricsURL != "http://a:1/metrics" || len(cfg.nodes()) != 1 {
		t.Errorf("one server: %+v (%v)", cfg, err)
	}
	t.Setenv("CONFAB_METRICS_TOKEN", "from-env")
	if cfg, _ := parse("--call"); cfg.MetricsToken != "from-env" || cfg.Server != "http://127.0.0.1:8080" {
		t.Errorf("default server %q, token %q from the environment", cfg.Server, cfg.MetricsToken)
	}
}
