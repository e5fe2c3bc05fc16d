package pgtest

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// Faults a test can cause a server of its own (from Start): a restart, a
// stop and a start again on the same port and data, and the termination
// of client connections. The package's server (Main) is shared by the
// tests of a package: do not use them on it.

// Restart restarts the server with pg_ctl restart -m mode ("fast":
// clients are disconnected with SQLSTATE 57P01 and transactions roll
// back; "immediate": the server is killed and recovers from its WAL; "smart":
// waits for clients to leave) on the same port, and waits until it
// accepts connections again.
func (s *Server) Restart(mode string) error {
	if err := s.Halt(mode); err != nil {
		return err
	}
	return s.Resume()
}

// Halt stops the server with pg_ctl stop -m mode, keeping its data
// directory, so that Resume can start it again.
func (s *Server) Halt(mode string) error {
	out, err := s.command("pg_ctl", "stop", "-m", mode, "-w", "-D", s.dataDir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgtest: pg_ctl stop -m %s: %w\n%s", mode, err, out)
	}
	return nil
}

// Resume starts a server stopped by Halt again, on the same port, and
// waits until it accepts connections.
func (s *Server) Resume() error {
	logStart := fileSize(s.logFile)
	out, err := s.command("pg_ctl", "start",
		"-w", "-t", strconv.Itoa(int(readyTimeout.Seconds())),
		"-D", s.dataDir,
		"-l", s.logFile,
		"-p", filepath.Join(s.binDir, "postgres"),
		"-o", "-p "+strconv.Itoa(s.port),
	).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgtest: pg_ctl start on port %d again: %w\n%s\nserver log ends:\n%s",
			s.port, err, out, lastLines(s.readLog(logStart), 30))
	}
	return s.waitReady()
}

// TerminateBackends ends every client connection to database dbname with
// pg_terminate_backend, as an administrator would (the clients get
// SQLSTATE 57P01), and returns how many it ended.
func (s *Server) TerminateBackends(ctx context.Context, dbname string) (int, error) {
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return 0, fmt.Errorf("pgtest: terminate backends: %w", err)
	}
	defer conn.Close(context.Background())
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
		FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, dbname).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("pgtest: terminate backends of %s: %w", dbname, err)
	}
	return n, nil
}
