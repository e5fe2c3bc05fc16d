package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// server is `confab serve` running as a child process on the embedded
// store in a temp dir.
type server struct {
	Base string
	PID  int
	mu   sync.Mutex
	logs bytes.Buffer
}

// startServer builds cmd/confab into dir and runs it; it returns once the
// server logs that it listens.
func startServer(t *testing.T, dir string, args ...string) *server {
	t.Helper()
	return runServer(t, buildServer(t, dir), filepath.Join(dir, "data"), args...)
}

// buildServer builds cmd/confab into dir and returns the binary's path.
func buildServer(t *testing.T, dir string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(dir, "confab")
	build := exec.Command(goBin, "build", "-o", bin, "github.com/confabhq/confab/cmd/confab")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/confab: %v\n%s", err, out)
	}
	return bin
}

// runServer runs `bin serve` with its data in data; it returns once the
// server logs that it listens.
func runServer(t *testing.T, bin, data string, args ...string) *server {
	t.Helper()
	args = append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--log-format", "json"}, args...)
	// Listeners on fixed ports collide with other servers on the machine:
	// turn off those that this version of serve has.
	help, _ := exec.Command(bin, "serve", "--help").CombinedOutput()
	// The load comes from one address, beyond a node's cap per address.
	for f, v := range map[string]string{"--turn-udp": "", "--turn-tcp": "", "--metrics-addr": "off", "--ws-per-ip": "0"} {
		if bytes.Contains(help, []byte(f+" ")) {
			args = append(args, f+"="+v)
		}
	}
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{PID: cmd.Process.Pid}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			s.mu.Lock()
			t.Logf("server log:\n%s", s.logs.String())
			s.mu.Unlock()
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			s.mu.Lock()
			s.logs.Write(sc.Bytes())
			s.logs.WriteByte('\n')
			s.mu.Unlock()
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addr <- line.Addr
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatalf("server exited before listening:\n%s", s.logs.String())
		}
		s.Base = "http://" + a
	case <-time.After(60 * time.Second):
		t.Fatal("server did not log that it listens within 60 s")
	}
	return s
}

// runBench runs the generator in-process and returns its JSON report.
func runBench(t *testing.T, args ...string) *report {
	t.Helper()
	out := filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr bytes.Buffer
	m := &Main{Stdout: &stdout, Stderr: &stderr}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	err := m.Run(ctx, append(args, "--json", out))
	t.Logf("confab-bench %s\n%s", strings.Join(args, " "), stdout.String())
	if err != nil {
		t.Fatalf("confab-bench: %v\nstderr:\n%s", err, stderr.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, data)
	}
	return &rep
}

// checkStep asserts what a step must show whatever the machine's speed:
// messages went out and came in, nothing was lost or duplicated, and the
// latency figures are there.
func checkStep(t *testing.T, st stepReport) {
	t.Helper()
	ck := st.Check
	if ck.Lost != 0 || ck.Duplicates != 0 || ck.DupMessages != 0 || ck.Conflicts != 0 || ck.OutOfOrder != 0 {
		t.Errorf("check: %+v", ck)
	}
	if !st.DrainComplete || st.Unanswered != 0 {
		t.Errorf("drain complete %v, unanswered %d", st.DrainComplete, st.Unanswered)
	}
	if st.Sent == 0 || st.Acked == 0 || st.Deliveries == 0 {
		t.Errorf("sent %d, acked %d, deliveries %d; want all nonzero", st.Sent, st.Acked, st.Deliveries)
	}
	if st.Deliveries != st.ExpectedDeliveries {
		t.Errorf("deliveries %d, want %d (acked messages x members)", st.Deliveries, st.ExpectedDeliveries)
	}
	if st.Latency.Count != st.Deliveries || st.Latency.P50 <= 0 || st.Latency.P99 < st.Latency.P50 || st.Latency.Max < st.Latency.P99 {
		t.Errorf("latency %+v", st.Latency)
	}
	if st.AckLatency.Count != st.Acked {
		t.Errorf("ack latency over %d acks, want %d", st.AckLatency.Count, st.Acked)
	}
	if st.Server == nil || st.Server.CPUSeconds < 0 || st.Server.RSSEnd <= 0 {
		t.Errorf("server figures %+v", st.Server)
	}
	if len(st.Errors) > 0 {
		t.Errorf("error answers %v", st.Errors)
	}
}

// TestEndToEnd runs the generator against a real server, small: a normal
// run, a reconnect storm and idle connections, reusing the population
// through the state file.
func TestEndToEnd(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, dir)
	state := filepath.Join(dir, "state.json")
	// 20 users over 6 rooms of 5: some users are in two rooms.
	common := []string{"--server", srv.Base, "--users", "20", "--rooms", "6", "--members-per-room", "5",
		"--state", state, "--server-pid", strconv.Itoa(srv.PID), "--max-p99", "0", "--log-level", "warn"}

	t.Run("run", func(t *testing.T) {
		rep := runBench(t, append(common, "--rate", "20", "--duration", "2s")...)
		if rep.Setup.SignedUp != 20 || rep.Setup.ReusedRooms || rep.Setup.Joins != 6*4 {
			t.Errorf("setup %+v, want 20 sign-ups and 24 joins", rep.Setup)
		}
		if rep.Connect.Connections != 20 || rep.Connect.Subscriptions != 30 || rep.Connect.PerSec <= 0 {
			t.Errorf("connect %+v", rep.Connect)
		}
		if rep.ServerStats.Source != "proc" || rep.ServerStats.PID != srv.PID {
			t.Errorf("server process %+v, want pid %d from proc", rep.ServerStats, srv.PID)
		}
		if len(rep.Steps) != 1 {
			t.Fatalf("%d steps, want 1", len(rep.Steps))
		}
		checkStep(t, rep.Steps[0])
	})

	t.Run("reconnect storm", func(t *testing.T) {
		rep := runBench(t, append(common, "--rate", "20", "--duration", "3s", "--reconnect-storm")...)
		if rep.Setup.SignedUp != 0 || rep.Setup.ReusedUsers != 20 || !rep.Setup.ReusedRooms {
			t.Errorf("setup %+v, want everything reused from the state file", rep.Setup)
		}
		if len(rep.Steps) != 1 {
			t.Fatalf("%d steps, want 1", len(rep.Steps))
		}
		st := rep.Steps[0]
		checkStep(t, st)
		if sm := st.Storm; sm == nil || sm.Dropped != 20 || sm.Reconnected != 20 || sm.AllLiveSeconds < 0 {
			t.Errorf("storm %+v, want 20 dropped and reconnected", st.Storm)
		}
	})

	t.Run("idle", func(t *testing.T) {
		rep := runBench(t, append(common, "--idle", "--duration", "1s", "--settle", "500ms")...)
		i := rep.Idle
		if i == nil || i.Connections != 20 || i.LiveAtEnd != 20 || i.ServerRSSAfter <= 0 {
			t.Errorf("idle %+v", i)
		}
		if len(rep.Steps) != 0 {
			t.Errorf("idle run has %d steps", len(rep.Steps))
		}
	})
}

func TestFlags(t *testing.T) {
	bad := [][]string{
		{"--users", "0"},
		{"--users", "5", "--members-per-room", "6"},
		{"--idle", "--reconnect-storm"},
		{"--rooms", "0"},
		{"--rate", "10,x"},
		{"--reconnect-storm", "--rate", "10,20"},
		{"--server", "localhost:8080"},
		{"--source-ips", "0"},
		{"extra"},
	}
	for _, args := range bad {
		m := &Main{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
		if _, err := m.parseFlags(args); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
	m := &Main{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
	cfg, err := m.parseFlags([]string{"--rate", "100,200", "--reconnect-storm=false", "--server", "http://h:1/"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Rates) != 2 || cfg.Rates[1] != 200 || cfg.Server != "http://h:1" || cfg.MetricsURL != "http://h:1/metrics" {
		t.Errorf("config %+v", cfg)
	}
	cfg, err = m.parseFlags([]string{"--reconnect-storm", "--duration", "9s"})
	if err != nil || cfg.StormAt != 3*time.Second {
		t.Errorf("storm-at %v (%v), want a third of the duration", cfg.StormAt, err)
	}
}
