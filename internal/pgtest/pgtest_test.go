package pgtest_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/confabhq/confab/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestDatabasesAreIsolated(t *testing.T) {
	t.Parallel()
	urlA, urlB := pgtest.NewTestDatabase(t), pgtest.NewTestDatabase(t)
	if urlA == urlB {
		t.Fatalf("two databases share the URL %s", urlA)
	}
	a, b := connect(t, urlA), connect(t, urlB)
	ctx := t.Context()

	if _, err := a.Exec(ctx, "CREATE TABLE only_in_a (id int PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	var inA, inB bool
	const exists = "SELECT to_regclass('public.only_in_a') IS NOT NULL"
	if err := a.QueryRow(ctx, exists).Scan(&inA); err != nil {
		t.Fatal(err)
	}
	if err := b.QueryRow(ctx, exists).Scan(&inB); err != nil {
		t.Fatal(err)
	}
	if !inA || inB {
		t.Errorf("table only_in_a: in A %v, in B %v; want true, false", inA, inB)
	}

	var version string
	if err := b.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version == "" || version[0] < '0' || version[0] > '9' {
		t.Errorf("server_version = %q, want it to start with a digit", version)
	}
	t.Logf("server_version %s", version)
}

func TestParallelNewTestDatabase(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		seen = map[string]string{} // URL to the test it was handed to
	)
	for i := range 8 {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			t.Parallel()
			url := pgtest.NewTestDatabase(t)
			mu.Lock()
			prev, dup := seen[url]
			seen[url] = t.Name()
			mu.Unlock()
			if dup {
				t.Fatalf("database URL %s handed to %s too", url, prev)
			}
			var one int
			if err := connect(t, url).QueryRow(t.Context(), "SELECT 1").Scan(&one); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestStartStop(t *testing.T) {
	pgtest.NewTestDatabase(t) // Skips where PostgreSQL is not installed.
	t.Parallel()
	srv, err := pgtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	url, err := srv.NewDatabase(t.Context())
	if err != nil {
		srv.Stop()
		t.Fatal(err)
	}
	if !strings.HasPrefix(url, "postgres://postgres@127.0.0.1:") || !strings.HasSuffix(url, "?sslmode=disable") {
		t.Errorf("URL = %s, want postgres://postgres@127.0.0.1:<port>/<name>?sslmode=disable", url)
	}
	connect(t, url).Close(t.Context())

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if conn, err := pgx.Connect(t.Context(), url); err == nil {
		conn.Close(t.Context())
		t.Error("connected to a stopped server")
	}
}
