package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/confabhq/confab/internal/pgtest"
)

// TestMain runs main itself when the test binary is started as a confab
// child process (CONFAB_TEST_MAIN=1), and otherwise starts a throwaway
// PostgreSQL for the tests.
func TestMain(m *testing.M) {
	if os.Getenv("CONFAB_TEST_MAIN") == "1" {
		os.Args = append([]string{"confab"}, strings.Fields(os.Getenv("CONFAB_TEST_ARGS"))...)
		main()
		os.Exit(0)
	}
	// Servers of tests run side by side: their TURN servers take free
	// ports on loopback, and their SFUs offer loopback candidates to the
	// tests' Pion clients (children inherit the environment). /metrics
	// listens on a fixed port by default: tests that scrape it ask for a
	// free one.
	for k, v := range map[string]string{"CONFAB_TURN_UDP": "127.0.0.1:0", "CONFAB_TURN_TCP": "127.0.0.1:0", "CONFAB_RTC_LOOPBACK": "true", "CONFAB_METRICS_ADDR": "off"} {
		if _, set := os.LookupEnv(k); !set {
			os.Setenv(k, v)
		}
	}
	os.Exit(pgtest.Main(m))
}

// startServe runs Main.Run with serve args in-process and returns the
// address it listens on and a function that stops it and returns Run's
// error.
func startServe(t *testing.T, args ...string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	m := &Main{Stdout: io.Discard, Stderr: &testWriter{t}, Ready: func(a net.Addr) { ready <- a }}
	done := make(chan error, 1)
	go func() {
		done <- m.Run(ctx, append([]string{"confab", "serve", "--addr", "127.0.0.1:0"}, args...))
	}()
	select {
	case a := <-ready:
		return a.String(), func() error { cancel(); return <-done }
	case err := <-done:
		cancel()
		t.Fatalf("serve ended before listening: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not start listening")
	}
	return "", nil
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func getHealth(addr string) (int, error) {
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var body struct{ Status string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, err
	}
	if body.Status != "ok" {
		return resp.StatusCode, errors.New("status " + body.Status)
	}
	return resp.StatusCode, nil
}

func TestServe(t *testing.T) {
	stores := map[string][]string{
		"sqlite":   {"--data", t.TempDir()},
		"postgres": {"--store", "postgres", "--postgres-url", pgtest.NewTestDatabase(t)},
	}
	for name, args := range stores {
		t.Run(name, func(t *testing.T) {
			addr, stop := startServe(t, args...)
			if code, err := getHealth(addr); code != http.StatusOK || err != nil {
				t.Fatalf("GET /healthz: %d %v", code, err)
			}
			if err := stop(); err != nil {
				t.Fatalf("graceful stop: %v", err)
			}
			if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
				t.Fatal("server still answers after stopping")
			}
		})
	}
}

func TestServeBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--store", "mongo"}, `--store "mongo": want sqlite or postgres`},
		{[]string{"--store", "postgres"}, "needs --postgres-url"},
		{[]string{"--store", "postgres", "--postgres-url", "postgres://nobody@127.0.0.1:1/x?connect_timeout=2"}, "postgres"},
		{[]string{"--log-level", "loud"}, "--log-level"},
		{[]string{"--log-format", "xml"}, "--log-format"},
		{[]string{"--addr", "256.0.0.1:99999"}, "listen"},
		{[]string{"--session-idle-timeout", "0s"}, "must be positive"},
		{[]string{"--session-max-age", "-1h"}, "must be positive"},
		{[]string{"--max-sessions-per-user", "0"}, "must be positive"},
	}
	for _, tt := range tests {
		m := &Main{Stdout: io.Discard, Stderr: io.Discard}
		args := append([]string{"confab", "serve", "--data", t.TempDir()}, tt.args...)
		err := m.Run(context.Background(), args)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("serve %v: err %v, want one mentioning %q", tt.args, err, tt.want)
		}
	}
}

// TestServeSignals runs confab as a child process: SIGTERM shuts it down
// gracefully with exit status 0.
func TestServeSignals(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "CONFAB_TEST_MAIN=1",
		"CONFAB_TEST_ARGS=serve --addr 127.0.0.1:0 --log-format json --data "+t.TempDir())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	logs := bufio.NewScanner(stderr)
	var addr string
	for addr == "" && logs.Scan() {
		var line struct{ Msg, Addr string }
		if json.Unmarshal(logs.Bytes(), &line) == nil && line.Msg == "listening" {
			addr = line.Addr
		}
	}
	if addr == "" {
		t.Fatal("child never logged that it listens")
	}
	if code, err := getHealth(addr); code != http.StatusOK || err != nil {
		t.Fatalf("GET /healthz: %d %v", code, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for logs.Scan() {
		var line struct{ Msg string }
		json.Unmarshal(logs.Bytes(), &line)
		msgs = append(msgs, line.Msg)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v, want exit status 0", err)
	}
	// Components may log their own ends in between.
	if len(msgs) < 2 || msgs[0] != "shutting down" || msgs[len(msgs)-1] != "stopped" {
		t.Fatalf("shutdown logs %q, want shutting down first and stopped last", strings.Join(msgs, ","))
	}
}
