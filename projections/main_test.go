package projections_test

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/eventstore/postgres"
	"github.com/confabhq/confab/eventstore/sqlite"
	"github.com/confabhq/confab/internal/pgtest"
	"github.com/confabhq/confab/projections"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// backend is a fresh database for one test: the read models and, when the
// test asks for it, the event store, side by side as in production.
type backend struct {
	dialect projections.Dialect
	db      *sql.DB
	// openStore opens the event store on the same database.
	openStore func(t testing.TB) eventstore.Store
	// fresh returns another backend of the same kind on a new database.
	fresh func(t testing.TB) *backend
	// noCopy: PostgreSQL's applier inserts every row in its write
	// statement (without UseCopy), as before it could copy.
	noCopy bool
}

// eachBackend runs f on SQLite and on PostgreSQL, each on a database of
// its own, in parallel.
func eachBackend(t *testing.T, f func(t *testing.T, b *backend)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		f(t, newSQLiteBackend(t))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		f(t, newPostgresBackend(t))
	})
}

func newSQLiteBackend(t testing.TB) *backend {
	path := filepath.Join(t.TempDir(), "confab.db")
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &backend{
		dialect: projections.SQLite,
		db:      db,
		fresh:   newSQLiteBackend,
		openStore: func(t testing.TB) eventstore.Store {
			s, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
}

func newPostgresBackend(t testing.TB) *backend {
	u := pgtest.NewTestDatabase(t)
	db, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &backend{
		dialect: projections.Postgres,
		db:      db,
		fresh:   newPostgresBackend,
		openStore: func(t testing.TB) eventstore.Store {
			s, err := postgres.Open(context.Background(), u, postgres.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
}

// open opens the read models on b's database.
func (b *backend) open(t testing.TB) *projections.Projections {
	t.Helper()
	p, err := projections.Open(context.Background(), b.db, b.dialect)
	if err != nil {
		t.Fatal(err)
	}
	if !b.noCopy {
		p.UseCopy(postgres.CopyFrom)
	}
	return p
}
