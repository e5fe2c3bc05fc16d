// Package pgtest runs throwaway PostgreSQL clusters for tests.
//
// Tests in this project start their real dependencies themselves. For
// PostgreSQL that means running initdb and pg_ctl from the locally installed
// PostgreSQL binaries into a temporary directory, on a free loopback TCP port,
// once per test package, and giving each test its own fresh database on that
// cluster:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		url := pgtest.NewTestDatabase(t)
//		conn, err := pgx.Connect(t.Context(), url)
//		...
//	}
//
// Main starts the package's server before the tests run and stops it, removing
// its directory, after they finish. NewTestDatabase creates a database with a
// unique name on that server (CREATE DATABASE is cheap: it copies template1)
// and returns a connection URL for it, so tests are isolated from one another
// and may run in parallel. Databases are not dropped; they go away with the
// cluster. Start, Stop, URL and NewDatabase are there for tests that need a
// server of their own, for example to stop it under a client; Restart,
// Halt, Resume and TerminateBackends cause the faults of chaos tests
// (pg_ctl restart or stop in a given mode, a start on the same port and
// data, pg_terminate_backend of a database's clients).
//
// The binaries are looked for on PATH (initdb, pg_ctl and postgres must sit in
// the same directory once symbolic links are resolved), then in
// /usr/lib/postgresql/*/bin, highest version first. If none are found, Main
// fails when the environment variable CI is "true"; otherwise the tests run
// and NewTestDatabase skips the tests that need PostgreSQL.
//
// The cluster is made for tests but keeps PostgreSQL's durability settings:
// fsync and synchronous_commit stay on, so tests of crash and commit
// behaviour see real semantics. Only initdb runs with --no-sync. Clients
// authenticate with trust as the superuser postgres over TCP on 127.0.0.1;
// the Unix socket lives in the data directory, so nothing touches
// /var/run/postgresql.
//
// initdb and the server refuse to run as root. When the test process is root
// (as in CI containers), pgtest runs initdb, pg_ctl and postgres as the
// unprivileged OS user "postgres", in a temporary directory that user owns.
//
// A test binary that is killed (a test timeout, SIGKILL) leaves its server
// running; Main stops it on SIGINT and SIGTERM.
package pgtest
