package main

import (
	"bytes"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/confabhq/confab/internal/natstest"
	"github.com/confabhq/confab/internal/pgtest"
)

// checkCall asserts what a calls run must show whatever the machine's
// speed: packets went out, every receiver got some, and the figures are
// there.
func checkCall(t *testing.T, rep *report, publishers, subscribers int) {
	t.Helper()
	c := rep.Call
	if rep.Mode != "call" || c == nil {
		t.Fatalf("mode %q, call report %v", rep.Mode, c)
	}
	fanOut := publishers - 1 + subscribers
	if c.Publishers != publishers || c.Subscribers != subscribers || c.FanOut != fanOut || c.Joined != publishers+subscribers {
		t.Errorf("call %d publishers, %d subscribers, fan-out %d, %d joined; want %d, %d, %d, %d",
			c.Publishers, c.Subscribers, c.FanOut, c.Joined, publishers, subscribers, fanOut, publishers+subscribers)
	}
	if c.Sent <= 0 || c.Received <= 0 || c.Seconds <= 0 || c.SentPerSec <= 0 || c.ForwardedPerSec <= 0 {
		t.Errorf("sent %d, received %d in %.2f s (%.0f/s, forwarded %.0f/s); want all positive",
			c.Sent, c.Received, c.Seconds, c.SentPerSec, c.ForwardedPerSec)
	}
	if publishers == 1 && c.Expected != c.Sent*int64(fanOut) {
		t.Errorf("expected %d, want sent %d x fan-out %d", c.Expected, c.Sent, fanOut)
	}
	receivers := subscribers
	if publishers > 1 {
		receivers += publishers
	}
	if len(c.Receivers) != receivers {
		t.Fatalf("%d receivers, want %d", len(c.Receivers), receivers)
	}
	var sum int64
	for _, r := range c.Receivers {
		if r.Received <= 0 || r.Expected <= 0 {
			t.Errorf("receiver %+v got nothing", r)
		}
		sum += r.Received
	}
	if sum != c.Received || c.WorstReceiver <= 0 {
		t.Errorf("receivers' sum %d, received %d, worst receiver's share %v", sum, c.Received, c.WorstReceiver)
	}
	if sv := c.Server; sv == nil || sv.CPUSeconds < 0 || sv.RSSEnd <= 0 || (sv.CPUSeconds > 0 && sv.ForwardedPerCore <= 0) {
		t.Errorf("server figures %+v", c.Server)
	}
	if c.UDPDrops == nil {
		t.Error("no kernel UDP drop counters")
	}
	if c.LoadAvgStart == "" || c.GeneratorCPUSeconds <= 0 {
		t.Errorf("load average %q, generator CPU %v", c.LoadAvgStart, c.GeneratorCPUSeconds)
	}
	if l := c.LateJoiner; rep.Config.LateJoiner != (l != nil) || l != nil && (l.Error != "" || l.FirstKeyframeMS <= 0 || l.FirstPacketMS <= 0) {
		t.Errorf("late joiner %+v (asked for: %v)", c.LateJoiner, rep.Config.LateJoiner)
	}
}

// TestCall runs the calls mode against a real server: one publisher to
// three subscribers, then a three-person call in which everyone publishes,
// reusing the population through the state file.
func TestCall(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, dir, "--rtc-loopback")
	state := filepath.Join(dir, "state.json")
	common := []string{"--server", srv.Base, "--call", "--state", state, "--server-pid", strconv.Itoa(srv.PID),
		"--duration", "2s", "--warmup", "500ms", "--video-packets", "2", "--log-level", "warn"}

	t.Run("1 to 3", func(t *testing.T) {
		rep := runBench(t, append(common, "--publishers", "1", "--subscribers", "3")...)
		checkCall(t, rep, 1, 3)
		if rep.Setup.SignedUp != 5 || rep.Setup.Users != 5 || rep.Setup.Rooms != 1 {
			t.Errorf("setup %+v, want 5 users (one late joiner) in one room", rep.Setup)
		}
		if rep.ServerStats.Source != "proc" || rep.ServerStats.PID != srv.PID {
			t.Errorf("server process %+v, want pid %d from proc", rep.ServerStats, srv.PID)
		}
		var out bytes.Buffer
		rep.writeText(&out)
		for _, want := range []string{"forwarded packets/s per core", "late joiner"} {
			if !bytes.Contains(out.Bytes(), []byte(want)) {
				t.Errorf("text report lacks %q:\n%s", want, out.String())
			}
		}
	})

	t.Run("everyone publishes", func(t *testing.T) {
		rep := runBench(t, append(common, "--publishers", "3", "--subscribers", "0", "--late-joiner=false")...)
		checkCall(t, rep, 3, 0)
		if rep.Setup.SignedUp != 0 {
			t.Errorf("setup %+v, want the users reused from the state file", rep.Setup)
		}
	})
}

func TestCallFlags(t *testing.T) {
	bad := [][]string{
		{"--call", "--publishers", "0"},
		{"--call", "--subscribers", "-1"},
		{"--call", "--publishers", "1", "--subscribers", "0"},
		{"--call", "--video-packets", "0"},
		{"--call", "--join-concurrency", "0"},
		{"--call", "--idle"},
	}
	for _, args := range bad {
		m := &Main{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
		if _, err := m.parseFlags(args); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
	m := &Main{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
	cfg, err := m.parseFlags([]string{"--call", "--publishers", "6", "--subscribers", "0", "--users", "3"})
	if err != nil {
		t.Fatal(err)
	}
	// Six participants and the late joiner, in one room.
	if cfg.mode() != "call" || cfg.Users != 7 || cfg.Rooms != 1 || cfg.MembersPerRoom != 7 {
		t.Errorf("config %+v", cfg)
	}
	cfg, err = m.parseFlags([]string{"--call", "--subscribers", "50", "--late-joiner=false"})
	if err != nil || cfg.Users != 51 || cfg.Publishers != 1 {
		t.Errorf("config %+v (%v), want 51 users", cfg, err)
	}
}

// TestCallAcrossNodes runs the calls mode over two real nodes on one
// PostgreSQL and one NATS (JetStream): 2 publishers and 2 subscribers
// spread round-robin, so each node has one of each, and the late joiner
// on the first. The first node hosts the whole call; the second relays.
func TestCallAcrossNodes(t *testing.T) {
	pg := pgtest.StartForTest(t)
	db, err := pg.NewDatabase(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	nats := natstest.Start(t)
	dir := t.TempDir()
	bin := buildServer(t, dir)
	args := []string{"--rtc-loopback", "--store", "postgres", "--postgres-url", db, "--nats-url", nats,
		"--metrics-token", "bench-token", "--turn-secret", "shared"}
	n1 := runServer(t, bin, filepath.Join(dir, "data1"), args...)
	n2 := runServer(t, bin, filepath.Join(dir, "data2"), args...)

	rep := runBench(t, "--server", n1.Base, "--server", n2.Base, "--call", "--publishers", "2", "--subscribers", "2",
		"--metrics-token", "bench-token", "--server-pid", strconv.Itoa(n1.PID), "--state", filepath.Join(dir, "state.json"),
		"--duration", "2s", "--warmup", "500ms", "--video-packets", "2", "--log-level", "warn")
	checkCall(t, rep, 2, 2)
	nodes := rep.Call.Nodes
	if len(nodes) != 2 || nodes[0].URL != n1.Base || nodes[1].URL != n2.Base {
		t.Fatalf("nodes %+v, want %s and %s", nodes, n1.Base, n2.Base)
	}
	host, relay := nodes[0], nodes[1]
	for _, n := range nodes {
		if n.Error != "" || n.Participants != 2 || n.Publishers != 1 {
			t.Errorf("node %+v: want figures, 2 participants of which 1 publishes", n)
		}
	}
	// The host's SFU carries every participant, from both nodes, and
	// forwards what was received; the relay's SFU carries none.
	if host.Role != roleHost || host.SFUParticipants != 4 || host.ForwardedPerSec <= 0 || (host.Cores > 0 && host.ForwardedPerCore <= 0) {
		t.Errorf("first node %+v, want the host of 4 participants, forwarding", host)
	}
	if relay.Role != roleRelay || relay.SFUParticipants != 0 || relay.Forwarded != 0 || relay.CoresPerParticipant < 0 {
		t.Errorf("second node %+v, want a relay", relay)
	}
	// The joins went through the relay: requests one way, replies and
	// pushes the other.
	if relay.JoinRelayMessages <= 0 || host.JoinRelayMessages <= 0 {
		t.Errorf("relay messages while joining: host %v, relay %v; want both positive", host.JoinRelayMessages, relay.JoinRelayMessages)
	}
	var out bytes.Buffer
	rep.writeText(&out)
	for _, want := range []string{"node 1 " + n1.Base + ": 2 participants (1 publishers); host", "node 2 " + n2.Base + ": 2 participants (1 publishers); relay"} {
		if !bytes.Contains(out.Bytes(), []byte(want)) {
			t.Errorf("text report lacks %q:\n%s", want, out.String())
		}
	}
}
