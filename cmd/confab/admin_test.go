package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/eventstore/sqlite"
	"github.com/confabhq/confab/internal/pgtest"
	"github.com/confabhq/confab/projections"
	"github.com/google/uuid"
)

// Tests of the admin commands run confab as a child process (TestMain
// runs main when CONFAB_TEST_MAIN=1), against real stores: SQLite in a
// temporary directory and a throwaway PostgreSQL.

// admStore is a store the admin tests point confab at.
type admStore struct {
	name string
	args []string // the store flags
	data string   // the data directory, for SQLite
	url  string   // the database, for PostgreSQL
}

func admSQLite(t *testing.T) admStore {
	dir := t.TempDir()
	return admStore{name: "sqlite", args: []string{"--data", dir}, data: dir}
}

func admPostgres(t *testing.T) admStore {
	u := pgtest.NewTestDatabase(t)
	return admStore{name: "postgres", args: []string{"--store", "postgres", "--postgres-url", u}, url: u}
}

// db opens the store's database, for looking at the read models.
func (s admStore) db(t *testing.T) (*sql.DB, projections.Dialect) {
	t.Helper()
	if s.name == "sqlite" {
		db, err := sqlite.OpenDB(filepath.Join(s.data, "events.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db, projections.SQLite
	}
	db, err := sql.Open("pgx", s.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, projections.Postgres
}

// dump returns the read models of the store's database.
func (s admStore) dump(t *testing.T) map[string][]string {
	t.Helper()
	db, d := s.db(t)
	p, err := projections.Open(context.Background(), db, d)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Dump(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// admChild is a confab child process.
type admChild struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *admBuffer
	stderr *admBuffer
	done   chan struct{}
	err    error // once done is closed
}

// admBuffer collects a child's output and lets a test wait for a line.
type admBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func newAdmBuffer() *admBuffer { return &admBuffer{changed: make(chan struct{})} }

func (b *admBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b.Write(p)
	close(b.changed)
	b.changed = make(chan struct{})
	return len(p), nil
}

func (b *admBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// waitFor waits until the output contains s.
func (b *admBuffer) waitFor(t *testing.T, s string, done <-chan struct{}) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		b.mu.Lock()
		has, changed := strings.Contains(b.b.String(), s), b.changed
		b.mu.Unlock()
		if has {
			return
		}
		select {
		case <-changed:
		case <-done:
			if !strings.Contains(b.String(), s) {
				t.Fatalf("the child ended without printing %q; it printed:\n%s", s, b.String())
			}
			return
		case <-deadline:
			t.Fatalf("the child did not print %q within 30s; it printed:\n%s", s, b.String())
		}
	}
}

// admStart starts confab with args; stdin is a pipe unless in is set.
func admStart(t *testing.T, in io.Reader, args ...string) *admChild {
	t.Helper()
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n") {
			t.Fatalf("child argument %q: CONFAB_TEST_ARGS is split on spaces", a)
		}
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "CONFAB_TEST_MAIN=1", "CONFAB_TEST_ARGS="+strings.Join(args, " "))
	c := &admChild{cmd: cmd, stdout: newAdmBuffer(), stderr: newAdmBuffer(), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = c.stdout, c.stderr
	if in != nil {
		cmd.Stdin = in
	} else {
		w, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		c.stdin = w
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

// wait waits for the child to end and returns its error.
func (c *admChild) wait(t *testing.T) error {
	t.Helper()
	if c.stdin != nil {
		c.stdin.Close()
	}
	select {
	case <-c.done:
		return c.err
	case <-time.After(60 * time.Second):
		c.cmd.Process.Kill()
		t.Fatalf("%v did not end; stderr:\n%s", c.cmd.Env[len(c.cmd.Env)-1], c.stderr.String())
		return nil
	}
}

// admRun runs confab with args to its end and returns its output; it
// fails the test if confab fails.
func admRun(t *testing.T, in io.Reader, args ...string) (stdout, stderr string) {
	t.Helper()
	c := admStart(t, in, args...)
	if err := c.wait(t); err != nil {
		t.Fatalf("confab %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, c.stdout.String(), c.stderr.String())
	}
	return c.stdout.String(), c.stderr.String()
}

// admFail runs confab with args, which must fail, and returns its stderr.
func admFail(t *testing.T, in io.Reader, args ...string) string {
	t.Helper()
	c := admStart(t, in, args...)
	if err := c.wait(t); err == nil {
		t.Fatalf("confab %s succeeded, want an error\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), c.stdout.String(), c.stderr.String())
	}
	return c.stderr.String()
}

// admServer runs confab serve as a child process.
type admServer struct {
	*admChild
	base string
}

func admServe(t *testing.T, store admStore) *admServer {
	t.Helper()
	c := admStart(t, nil, append([]string{"serve", "--addr", "127.0.0.1:0", "--log-format", "json"}, store.args...)...)
	c.stderr.waitFor(t, `"msg":"listening"`, c.done)
	for _, l := range strings.Split(c.stderr.String(), "\n") {
		var line struct{ Msg, Addr string }
		if json.Unmarshal([]byte(l), &line) == nil && line.Msg == "listening" {
			return &admServer{admChild: c, base: "http://" + line.Addr}
		}
	}
	t.Fatalf("no address in the server's log:\n%s", c.stderr.String())
	return nil
}

// stop shuts the server down gracefully.
func (s *admServer) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.wait(t); err != nil {
		t.Fatalf("server after SIGTERM: %v\n%s", err, s.stderr.String())
	}
}

// admLog writes events to a store as a server would, at chosen times.
type admLog struct {
	t     *testing.T
	store eventstore.Store
	revs  map[string]uint64
	last  eventstore.Position
}

func newAdmLog(t *testing.T, store eventstore.Store) *admLog {
	return &admLog{t: t, store: store, revs: map[string]uint64{}}
}

func (l *admLog) add(stream string, evs ...domain.Event) {
	l.t.Helper()
	for _, ev := range evs {
		typ, data, err := domain.Encode(ev)
		if err != nil {
			l.t.Fatal(err)
		}
		res, err := l.store.Append(context.Background(), stream, eventstore.Exact(l.revs[stream]), eventstore.EventData{ID: uuid.New(), Type: typ, Data: data})
		if err != nil {
			l.t.Fatal(err)
		}
		l.revs[stream]++
		l.last = res.Position
	}
}

func (l *admLog) user(name string, evs ...domain.Event) {
	l.t.Helper()
	l.add(domain.UserStream(domain.UserIDFor(name)), evs...)
}

func (l *admLog) room(id domain.RoomID, evs ...domain.Event) {
	l.t.Helper()
	l.add(domain.RoomStream(id), evs...)
}

func (l *admLog) signUp(at time.Time, names ...string) {
	l.t.Helper()
	for _, n := range names {
		l.user(n, domain.UserSignedUp{UserID: domain.UserIDFor(n), Username: n, PasswordHash: "x", At: at})
	}
}

// sqliteStore opens the embedded store in dir, in the test process.
func sqliteStore(t *testing.T, dir string) eventstore.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(dir, "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// jsonLines decodes JSON lines.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	return lines
}

// sameDumps compares read models row for row and reports the first
// differences.
func sameDumps(t *testing.T, got, want map[string][]string) {
	t.Helper()
	for table, rows := range want {
		g := got[table]
		if len(g) != len(rows) {
			t.Errorf("%s: %d rows, want %d", table, len(g), len(rows))
		}
		for i := range min(len(g), len(rows)) {
			if g[i] != rows[i] {
				t.Errorf("%s row %d:\n got %s\nwant %s", table, i, g[i], rows[i])
				break
			}
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d tables, want %d", len(got), len(want))
	}
}

func admCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestProgress checks both forms of progress: lines with events/s and ETA
// for logs, a bar for terminals.
func TestProgress(t *testing.T) {
	var lines bytes.Buffer
	p := newProgressBar(&lines, "rebuild x", 0, false)
	p.start = time.Now().Add(-2 * time.Second)
	p.update(1000, 4000)
	p.finish()
	out := lines.String()
	for _, want := range []string{"rebuild x: 1000/4000 events (25.0%), ", " events/s, ETA ", "\nrebuild x: 1000/4000 events (25.0%), "} {
		if !strings.Contains(out, want) {
			t.Errorf("progress lines %q lack %q", out, want)
		}
	}
	// The bar is drawn from a goroutine of its own too (its spinner).
	var bar lockedBuffer
	p = newProgressBar(&bar, "rebuild x", 0, true)
	p.update(10, 100)
	p.update(50, 120)
	p.note("a note")
	p.finish()
	if out := bar.String(); !strings.Contains(out, "rebuild x") || !strings.Contains(out, "events") || !strings.Contains(out, "a note") {
		t.Errorf("progress bar %q", out)
	}
}

// TestProgressBarFirstFrames renders a bar's first frames: no rate the
// bar makes up ("0 events/hr", "/min"), "—" until a rate is known, then
// events/s and an ETA.
func TestProgressBarFirstFrames(t *testing.T) {
	throttle := barThrottle
	barThrottle = 0 // every update draws a frame
	t.Cleanup(func() { barThrottle = throttle })
	// The bar is drawn from a goroutine of its own too (its spinner).
	var bar lockedBuffer
	p := newProgressBar(&bar, "rebuild x", 0, true)
	defer p.finish()
	p.update(0, 0)
	p.update(0, 10000)
	p.update(3, 10000)
	first := bar.String()
	for _, bad := range []string{"/hr", "/min", "0 events/s", ":0s]"} {
		if strings.Contains(first, bad) {
			t.Errorf("the first frames show %q:\n%q", bad, first)
		}
	}
	if !strings.Contains(first, "rebuild x · — events/s") {
		t.Errorf("the first frames do not say the rate is not known yet:\n%q", first)
	}
	bar.Reset()
	p.start = time.Now().Add(-2 * time.Second)
	p.update(2000, 10000)
	later := bar.String()
	if !strings.Contains(later, "rebuild x · 1000 events/s · ETA 8s") || strings.Contains(later, "/hr") {
		t.Errorf("a frame after 2 s at 1000 events/s shows:\n%q", later)
	}
}
