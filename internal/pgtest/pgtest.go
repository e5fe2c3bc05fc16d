package pgtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// superuser is the database superuser initdb creates; clients log in
	// as it with trust authentication.
	superuser = "postgres"
	// osUser is the OS user the server runs as when the tests run as root.
	osUser = "postgres"
	// startAttempts bounds how often Start picks a new port after losing
	// the race for the one it picked to another process.
	startAttempts = 3
	// readyTimeout bounds how long Start waits for the server to come up.
	readyTimeout = 30 * time.Second
	// maxSocketPath is the longest Unix socket path Linux accepts
	// (sun_path is 108 bytes with its terminating NUL).
	maxSocketPath = 107
)

// errNoBinaries reports that no PostgreSQL installation was found.
var errNoBinaries = errors.New("pgtest: PostgreSQL binaries (initdb, pg_ctl, postgres) not found on PATH or in /usr/lib/postgresql/*/bin")

// Server is a running throwaway PostgreSQL cluster.
type Server struct {
	dir     string              // temporary directory holding all of the below
	dataDir string              // the cluster's data directory, also its socket directory
	logFile string              // the server's log
	binDir  string              // directory holding initdb, pg_ctl and postgres
	cred    *syscall.Credential // OS user to run the server as; nil for the current user
	port    int

	dbSeq    atomic.Int64
	stopOnce sync.Once
	stopErr  error
}

// Start initdb's a cluster in a temp dir, starts it with pg_ctl on a free
// loopback TCP port, and returns it. Stop it with Stop.
func Start() (*Server, error) {
	binDir, err := findBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	dir, err := makeDir(cred)
	if err != nil {
		return nil, err
	}
	s := &Server{
		dir:     dir,
		dataDir: filepath.Join(dir, "data"),
		logFile: filepath.Join(dir, "postgres.log"),
		binDir:  binDir,
		cred:    cred,
	}
	if err := s.initdb(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.start(); err != nil {
		// A postmaster may be up even though pg_ctl gave up waiting.
		s.command("pg_ctl", "stop", "-m", "immediate", "-w", "-D", s.dataDir).Run()
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// Stop stops the server (pg_ctl stop -m immediate) and removes its
// directory. Calling it again returns the first call's result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		var errs []error
		out, err := s.command("pg_ctl", "stop", "-m", "immediate", "-w", "-D", s.dataDir).CombinedOutput()
		if err != nil {
			errs = append(errs, fmt.Errorf("pgtest: pg_ctl stop: %w\n%s", err, out))
		}
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("pgtest: remove server directory: %w", err))
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}

// URL returns a connection URL for database name on this server, such as
// postgres://postgres@127.0.0.1:54321/name?sslmode=disable.
func (s *Server) URL(dbname string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(superuser),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/" + dbname,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// NewDatabase creates a fresh database with a unique name (CREATE DATABASE
// via pgx) and returns its URL.
func (s *Server) NewDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("test_%d", s.dbSeq.Add(1))
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return "", fmt.Errorf("pgtest: create database %s: %w", name, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("pgtest: create database %s: %w", name, err)
	}
	return s.URL(name), nil
}

// initdb creates the cluster and writes its settings.
func (s *Server) initdb() error {
	sock := filepath.Join(s.dataDir, ".s.PGSQL.65535")
	if len(sock) > maxSocketPath {
		return fmt.Errorf("pgtest: socket path %s is longer than %d bytes: set TMPDIR to a shorter directory", sock, maxSocketPath)
	}
	out, err := s.command("initdb",
		"-D", s.dataDir,
		"-A", "trust",
		"-U", superuser,
		"--no-sync",
		"-E", "UTF8",
		"--locale=C",
	).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}

	// The port is not here: it is passed to each start attempt.
	settings := []struct{ name, value string }{
		{"listen_addresses", "127.0.0.1"},
		{"unix_socket_directories", s.dataDir},
		{"max_connections", "200"},
		{"shared_buffers", "128MB"},
		// Durability stays as in production: tests rely on real commits.
		{"fsync", "on"},
		{"synchronous_commit", "on"},
	}
	var conf strings.Builder
	conf.WriteString("\n# Added by pgtest.\n")
	for _, st := range settings {
		fmt.Fprintf(&conf, "%s = '%s'\n", st.name, strings.ReplaceAll(st.value, "'", "''"))
	}
	f, err := os.OpenFile(filepath.Join(s.dataDir, "postgresql.conf"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("pgtest: write postgresql.conf: %w", err)
	}
	_, err = f.WriteString(conf.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pgtest: write postgresql.conf: %w", err)
	}
	return nil
}

// start starts the server on a free port, trying another port if a
// different process took the chosen one first, and waits until it accepts
// connections.
func (s *Server) start() error {
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		s.port = port
		logStart := fileSize(s.logFile)
		out, err := s.command("pg_ctl", "start",
			"-w", "-t", strconv.Itoa(int(readyTimeout/time.Second)),
			"-D", s.dataDir,
			"-l", s.logFile,
			"-p", filepath.Join(s.binDir, "postgres"),
			"-o", "-p "+strconv.Itoa(port),
		).CombinedOutput()
		if err == nil {
			break
		}
		log := s.readLog(logStart)
		if attempt < startAttempts && (strings.Contains(log, "could not bind") || strings.Contains(log, "already in use")) {
			continue
		}
		return fmt.Errorf("pgtest: pg_ctl start on port %d: %w\n%s\nserver log (%s) ends:\n%s",
			port, err, out, s.logFile, lastLines(log, 30))
	}
	return s.waitReady()
}

// waitReady polls until the server accepts a pgx connection.
func (s *Server) waitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, s.URL("postgres"))
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgtest: server on port %d does not accept connections after %v: %w\nserver log ends:\n%s",
				s.port, readyTimeout, err, lastLines(s.readLog(0), 30))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// command returns a command running the PostgreSQL binary name as the
// server's OS user, in the server's directory, with an environment free of
// PG* variables and a C locale (so server messages are predictable).
func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.binDir, name), args...)
	cmd.Dir = s.dir
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PG") || strings.HasPrefix(k, "LC_") || k == "LANG" || k == "LANGUAGE" {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, "LC_ALL=C")
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd
}

// readLog returns the server log from byte offset on, or "" if unreadable.
func (s *Server) readLog(offset int64) string {
	f, err := os.Open(s.logFile)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// findBinDir returns a directory holding initdb, pg_ctl and postgres: the
// one initdb on PATH resolves to, else the highest version in
// /usr/lib/postgresql/*/bin.
func findBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil && hasBinaries(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		// Highest version first.
		return slices.Compare(versionOf(b), versionOf(a))
	})
	for _, d := range dirs {
		if hasBinaries(d) {
			return d, nil
		}
	}
	return "", errNoBinaries
}

// versionOf parses the version in /usr/lib/postgresql/<version>/bin.
func versionOf(binDir string) []int {
	var v []int
	for f := range strings.SplitSeq(filepath.Base(filepath.Dir(binDir)), ".") {
		n, err := strconv.Atoi(f)
		if err != nil {
			return []int{-1}
		}
		v = append(v, n)
	}
	return v
}

// hasBinaries reports whether dir holds executable initdb, pg_ctl and
// postgres.
func hasBinaries(dir string) bool {
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}

// serverCredential returns the OS user to run PostgreSQL as: nil (the
// current user) unless the process is root, which initdb refuses; then the
// user "postgres".
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(osUser)
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root, which initdb refuses, and no OS user %q to run PostgreSQL as: %w", osUser, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("pgtest: uid of %s: %w", osUser, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("pgtest: gid of %s: %w", osUser, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// makeDir creates the server's temporary directory, owned by cred's user
// if cred is not nil, under os.TempDir() or, if cred's user cannot reach
// that (say TMPDIR is under /root), under /tmp.
func makeDir(cred *syscall.Credential) (string, error) {
	bases := []string{os.TempDir()}
	if cred != nil && bases[0] != "/tmp" {
		bases = append(bases, "/tmp")
	}
	var errs []error
	for _, base := range bases {
		base, err := filepath.EvalSymlinks(base)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if cred != nil {
			if err := checkSearchable(base, cred); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		dir, err := os.MkdirTemp(base, "pgtest-")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if cred != nil {
			if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
				os.RemoveAll(dir)
				errs = append(errs, err)
				continue
			}
		}
		return dir, nil
	}
	return "", fmt.Errorf("pgtest: make server directory: %w", errors.Join(errs...))
}

// checkSearchable reports an error unless cred's user may traverse dir and
// each of its parents. It goes by mode bits only, ignoring ACLs and
// supplementary groups (the server runs without any).
func checkSearchable(dir string, cred *syscall.Credential) error {
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		perm := fi.Mode().Perm()
		var search bool
		switch {
		case st.Uid == cred.Uid:
			search = perm&0o100 != 0
		case st.Gid == cred.Gid:
			search = perm&0o010 != 0
		default:
			search = perm&0o001 != 0
		}
		if !search {
			return fmt.Errorf("%s is not searchable by uid %d (%v)", p, cred.Uid, perm)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// fileSize returns the size of the file at path, or 0.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// The package's server, set up by Main before the tests run.
var (
	mainCalled  bool
	mainServer  *Server
	mainMissing error // why mainServer is nil when Main ran
)

// Main is for TestMain: it starts one server for the package, runs m.Run,
// stops the server, and returns the exit code:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// If the PostgreSQL binaries are missing and the environment variable CI is
// "true", it prints an error and returns 1; if CI is not "true", it runs the
// tests with no server, and NewTestDatabase skips them. Any other failure to
// start the server prints an error and returns 1. If the process gets
// SIGINT or SIGTERM while the tests run, Main stops the server before the
// signal takes its default course (unless the process started out
// ignoring that signal).
func Main(m *testing.M) int {
	mainCalled = true
	srv, err := Start()
	if err != nil {
		if errors.Is(err, errNoBinaries) && os.Getenv("CI") != "true" {
			mainMissing = err
			return m.Run()
		}
		if errors.Is(err, errNoBinaries) {
			err = fmt.Errorf("%w (CI=true, so this fails instead of skipping)", err)
		}
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mainServer = srv

	// Stop the server on SIGINT or SIGTERM, then let the signal kill the
	// process as it would have. A signal the process was started ignoring
	// stays ignored: Notify would stop ignoring it.
	sigs := make(chan os.Signal, 1)
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		if !signal.Ignored(sig) {
			signal.Notify(sigs, sig)
		}
	}
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			srv.Stop()
			signal.Stop(sigs)
			syscall.Kill(os.Getpid(), sig.(syscall.Signal))
		case <-done:
		}
	}()

	code := m.Run()
	signal.Stop(sigs)
	close(done)
	if err := srv.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// NewTestDatabase returns the URL of a fresh database on the package's
// server (started by Main) for test t. It fails the test if Main was not
// used, and skips it if Main found no PostgreSQL installation.
func NewTestDatabase(t testing.TB) string {
	t.Helper()
	if !mainCalled {
		t.Fatal("pgtest: NewTestDatabase needs the package's TestMain to call pgtest.Main")
	}
	if mainServer == nil {
		t.Skipf("PostgreSQL unavailable: %v", mainMissing)
	}
	ctx, cancel := context.WithTimeout(t.Context(), readyTimeout)
	defer cancel()
	u, err := mainServer.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// StartForTest starts a server of test t's own, for a test that stops,
// restarts or breaks it (see faults.go), and stops it when the test ends.
// Where PostgreSQL is not installed it skips the test, unless CI is
// "true": then it fails it.
func StartForTest(t testing.TB) *Server {
	t.Helper()
	srv, err := Start()
	if errors.Is(err, errNoBinaries) && os.Getenv("CI") != "true" {
		t.Skipf("PostgreSQL unavailable: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("pgtest: stop: %v", err)
		}
	})
	return srv
}
