package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/confabhq/confab/internal/apitest"
	"github.com/gorilla/websocket"
)

// shChild is confab serve in a child process, for tests that signal it.
type shChild struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once it exited and its log is read
	err    error         // Wait's result, once exited

	mu    sync.Mutex
	lines []map[string]any // its JSON log lines
	added chan struct{}    // closed and replaced on every new line
}

// startShChild starts confab serve with args in a child process.
func startShChild(t *testing.T, args ...string) *shChild {
	t.Helper()
	full := append([]string{"serve", "--addr", "127.0.0.1:0", "--log-format", "json"}, args...)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "CONFAB_TEST_MAIN=1", "CONFAB_TEST_ARGS="+strings.Join(full, " "))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &shChild{cmd: cmd, exited: make(chan struct{}), added: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 4<<20)
		for sc.Scan() {
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) != nil {
				rec = map[string]any{"msg": sc.Text()}
			}
			c.mu.Lock()
			c.lines = append(c.lines, rec)
			close(c.added)
			c.added = make(chan struct{})
			c.mu.Unlock()
		}
		io.Copy(io.Discard, stderr)
		c.err = cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-c.exited
		if t.Failed() {
			t.Logf("child log:\n%s", c.log())
		}
	})
	return c
}

// waitLog waits for a log line with message msg and returns it.
func (c *shChild) waitLog(t *testing.T, msg string, limit time.Duration) map[string]any {
	t.Helper()
	timeout := time.After(limit)
	for {
		c.mu.Lock()
		for _, rec := range c.lines {
			if rec["msg"] == msg {
				c.mu.Unlock()
				return rec
			}
		}
		added := c.added
		c.mu.Unlock()
		select {
		case <-added:
		case <-c.exited:
			t.Fatalf("child exited (%v) before logging %q", c.err, msg)
		case <-timeout:
			t.Fatalf("child did not log %q within %v", msg, limit)
		}
	}
}

func (c *shChild) logged(msg string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rec := range c.lines {
		if rec["msg"] == msg {
			return true
		}
	}
	return false
}

func (c *shChild) log() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, rec := range c.lines {
		j, _ := json.Marshal(rec)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// slowRequest is a sign-up whose body arrives in two parts: the server's
// handler waits for the rest, holding the request in flight.
type slowRequest struct {
	conn net.Conn
	r    *bufio.Reader
	rest string
}

// startSlowSignUp returns once the server's handler is reading the body:
// with "Expect: 100-continue" the server says so with its 100 Continue.
func startSlowSignUp(t *testing.T, addr, username string) *slowRequest {
	t.Helper()
	body := fmt.Sprintf(`{"username":%q,"password":"correct horse"}`, username)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST /api/v1/auth/signup HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", addr, len(body))
	r := bufio.NewReader(conn)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	status, err := r.ReadString('\n')
	if err != nil || !strings.Contains(status, " 100 ") {
		t.Fatalf("waiting for 100 Continue: %q %v", status, err)
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
	}
	half := len(body) / 2
	if _, err := io.WriteString(conn, body[:half]); err != nil {
		t.Fatal(err)
	}
	return &slowRequest{conn: conn, r: r, rest: body[half:]}
}

// finish sends the rest of the body and returns the response.
func (r *slowRequest) finish(t *testing.T) *http.Response {
	t.Helper()
	if _, err := io.WriteString(r.conn, r.rest); err != nil {
		t.Fatalf("sending the rest of the body: %v", err)
	}
	r.conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	resp, err := http.ReadResponse(r.r, nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	resp.Body.Close()
	return resp
}

// TestGracefulShutdown signals a child server while a WebSocket client is
// connected and a request is in flight: the client gets close 1001 at
// once, /readyz on the metrics address says it is shutting down, the
// request completes (its append is durable), and the process exits 0.
func TestGracefulShutdown(t *testing.T) {
	ctx := testCtx(t)
	data := t.TempDir()
	child := startShChild(t, "--data", data, "--metrics-addr", "127.0.0.1:0", "--shutdown-timeout", "60s")
	addr := child.waitLog(t, "listening", 30*time.Second)["addr"].(string)
	opsAddr := child.waitLog(t, "metrics listening", time.Second)["addr"].(string)
	base := "http://" + addr

	alice, err := apitest.SignUp(ctx, base, "alice", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	ws, err := alice.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	slow := startSlowSignUp(t, addr, "bob")

	if err := child.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	child.waitLog(t, "shutting down", 10*time.Second)
	select {
	case <-ws.Closed():
	case <-time.After(10 * time.Second):
		t.Fatal("the WebSocket was not closed within 10s of SIGTERM, with a request in flight")
	}
	if code := ws.CloseCode(); code != websocket.CloseGoingAway {
		t.Errorf("WebSocket closed with %d (%v), want 1001 going away", code, ws.CloseErr)
	}
	// Still running for the request in flight; not ready for more.
	resp, err := http.Get("http://" + opsAddr + "/readyz")
	if err != nil {
		t.Fatalf("/readyz on the metrics address during shutdown: %v", err)
	}
	var body struct{ Status, Error string }
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || body.Error != "shutting down" {
		t.Errorf("/readyz during shutdown: %d %+v, want 503 shutting down", resp.StatusCode, body)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("the API still accepts connections while shutting down")
	}

	// The request in flight finishes.
	if resp := slow.finish(t); resp.StatusCode != http.StatusCreated {
		t.Errorf("the sign-up in flight during shutdown: %s, want 201", resp.Status)
	}
	select {
	case <-child.exited:
	case <-time.After(20 * time.Second):
		t.Fatal("the child did not exit after its last request finished")
	}
	if child.err != nil {
		t.Errorf("after SIGTERM: %v, want exit status 0", child.err)
	}
	if !child.logged("stopped") {
		t.Error(`no "stopped" log line`)
	}

	// The append of the request in flight is durable.
	addr2, stop := startServe(t, "--data", data)
	defer stop()
	if _, err := apitest.SignIn(ctx, "http://"+addr2, "bob", "correct horse"); err != nil {
		t.Errorf("signing in as the user signed up during shutdown: %v", err)
	}
}

// TestSecondSignalForcesExit signals a child server twice while a request
// holds its graceful shutdown: the second signal ends it at once.
func TestSecondSignalForcesExit(t *testing.T) {
	child := startShChild(t, "--data", t.TempDir(), "--shutdown-timeout", "60s")
	addr := child.waitLog(t, "listening", 30*time.Second)["addr"].(string)
	startSlowSignUp(t, addr, "bob")
	if err := child.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	child.waitLog(t, "shutting down", 10*time.Second)
	// The request holds the graceful shutdown (up to 60s).
	select {
	case <-child.exited:
		t.Fatalf("the child exited (%v) with a request in flight and 60s to finish it", child.err)
	case <-time.After(500 * time.Millisecond):
	}
	// The second signal. (main restores the default handler right after
	// the first; repeat in case this one came before that.)
	start := time.Now()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for done := false; !done; {
		child.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-child.exited:
			done = true
		case <-tick.C:
			if time.Since(start) > 5*time.Second {
				t.Fatal("the child still runs 5s after a second SIGTERM")
			}
		}
	}
	var ee *exec.ExitError
	if !errors.As(child.err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Errorf("after the second SIGTERM: %v, want killed by SIGTERM", child.err)
	}
	if child.logged("stopped") {
		t.Error("the child finished its graceful shutdown instead of exiting at once")
	}
}
