package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/confabhq/confab/internal/apitest"
)

// childServer is `confab serve` running as a child process, so that its
// memory and CPU can be measured apart from the clients'.
type childServer struct {
	cmd  *exec.Cmd
	Base string
}

// startChild runs the test binary as confab with args; it returns once
// the server listens.
func startChild(tb testing.TB, args ...string) *childServer {
	tb.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "CONFAB_TEST_MAIN=1",
		"CONFAB_TEST_ARGS=serve --addr 127.0.0.1:0 --log-format json "+strings.Join(args, " "))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	logs := bufio.NewScanner(stderr)
	for logs.Scan() {
		var line struct{ Msg, Addr string }
		if json.Unmarshal(logs.Bytes(), &line) == nil && line.Msg == "listening" {
			go func() {
				for logs.Scan() {
				}
			}()
			return &childServer{cmd: cmd, Base: "http://" + line.Addr}
		}
	}
	tb.Fatal("child server never listened")
	return nil
}

// rss returns the child's resident memory in bytes.
func (s *childServer) rss(tb testing.TB) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	tb.Fatal("no VmRSS")
	return 0
}

// cpu returns the child's user+system CPU time.
func (s *childServer) cpu(tb testing.TB) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		tb.Fatal(err)
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// BenchmarkSendReceive measures the latency from a WebSocket send to the
// event arriving at another member's connection, through a server in a
// child process on the embedded store (each send is fsynced before it is
// acked and fanned out).
func BenchmarkSendReceive(b *testing.B) {
	// The benchmark sends faster than a person: lift the per-connection
	// frame rate limit.
	srv := startChild(b, "--data", b.TempDir(), "--ws-rate", "100000", "--ws-burst", "100000", "--ws-per-ip", "0")
	ctx := context.Background()
	alice, err := apitest.SignUp(ctx, srv.Base, "alice", "correct horse")
	if err != nil {
		b.Fatal(err)
	}
	bob, err := apitest.SignUp(ctx, srv.Base, "bob", "battery staple")
	if err != nil {
		b.Fatal(err)
	}
	room, err := alice.CreateRoom(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := bob.Join(ctx, room.InviteCode); err != nil {
		b.Fatal(err)
	}
	wsA, err := alice.Dial(ctx)
	if err != nil {
		b.Fatal(err)
	}
	wsB, err := bob.Dial(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := wsB.Subscribe(ctx, room.ID, 0); err != nil {
		b.Fatal(err)
	}
	for range 2 { // created, joined
		if _, err := wsB.NextOf(ctx, "event"); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, 0, b.N)
	cpu0 := srv.cpu(b)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if err := wsA.Send(map[string]any{"type": "send", "id": strconv.Itoa(i), "room_id": room.ID, "client_msg_id": "m" + strconv.Itoa(i), "text": "hello"}); err != nil {
			b.Fatal(err)
		}
		f, err := wsB.NextOf(ctx, "event")
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		if f.Uint("seq") != uint64(i+3) {
			b.Fatalf("event seq %d, want %d", f.Uint("seq"), i+3)
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
	b.ReportMetric((srv.cpu(b)-cpu0).Seconds()*1e6/float64(b.N), "server-cpu-µs/msg")
}

// BenchmarkIdleConnections measures the server's resident memory per idle
// authenticated WebSocket connection (benchtime 1x; CONFAB_BENCH_CONNS
// connections, default 2000, all of one user as if in many tabs).
func BenchmarkIdleConnections(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("CONFAB_BENCH_CONNS")); err == nil && v > 0 {
		n = v
	}
	srv := startChild(b, "--data", b.TempDir(), "--ws-per-ip", "0", "--ws-per-user", "0")
	ctx := context.Background()
	users := make([]*apitest.Client, 10)
	for i := range users {
		c, err := apitest.SignUp(ctx, srv.Base, fmt.Sprintf("idle%d", i), "correct horse")
		if err != nil {
			b.Fatal(err)
		}
		users[i] = c
	}
	// Warm up: one connection, so that buffers pools and tables exist.
	warm, err := users[0].Dial(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer warm.Close()
	time.Sleep(time.Second)
	before := srv.rss(b)
	b.ResetTimer()
	conns := make([]*apitest.WS, 0, n)
	for i := range n {
		ws, err := users[i%len(users)].Dial(ctx)
		if err != nil {
			b.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, ws)
	}
	b.StopTimer()
	time.Sleep(2 * time.Second) // let the presence events settle
	after := srv.rss(b)
	b.ReportMetric(float64(after-before)/float64(n), "server-bytes/conn")
	b.ReportMetric(float64(n), "conns")
	for _, ws := range conns {
		ws.Close()
	}
}
