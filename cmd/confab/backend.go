package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/eventstore/eventstoredb"
	"github.com/confabhq/confab/eventstore/postgres"
	"github.com/confabhq/confab/eventstore/sqlite"
	"github.com/confabhq/confab/projections"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/urfave/cli/v3"
)

// minFreeDiskFlag is the embedded store's free-space threshold, for serve
// and the admin commands.
func minFreeDiskFlag() cli.Flag {
	return &cli.StringFlag{Name: "min-free-disk", Value: sqlite.DefaultMinFree.String(), Usage: "free space to keep on the disk of --data: below it, the embedded store refuses writes (unavailable) until space is freed; a size (256MB, 1GiB), a percentage of the disk (5%), or 0 for no check", Sources: cli.EnvVars("CONFAB_MIN_FREE_DISK")}
}

// backend is the event store and the database of the read models.
type backend struct {
	store   eventstore.Store
	db      *sql.DB
	dialect projections.Dialect
	// readOnly: the embedded store opened read-only (a full disk): the
	// read models cannot apply events either.
	readOnly bool
}

// openProjections opens the read models on the backend's database; on
// PostgreSQL their bulk writes copy new rows with COPY.
func (b *backend) openProjections(ctx context.Context, opts ...projections.Option) (*projections.Projections, error) {
	p, err := projections.Open(ctx, b.db, b.dialect, opts...)
	if err != nil {
		return nil, err
	}
	if b.dialect == projections.Postgres {
		p.UseCopy(postgres.CopyFrom)
	}
	return p, nil
}

func (b *backend) Close() error {
	var errs []error
	if b.db != nil {
		errs = append(errs, b.db.Close())
	}
	if b.store != nil {
		errs = append(errs, b.store.Close())
	}
	return errors.Join(errs...)
}

// gatewayStore is the event store as the gateway sees it. On a read-only
// embedded store, its head is where the read models stopped: they cannot
// apply what lies beyond it, and reads that wait for the head answer with
// what the read models hold instead of timing out.
func (b *backend) gatewayStore(read *projections.Projections) eventstore.Store {
	s, ok := b.store.(*sqlite.Store)
	if !ok || !b.readOnly {
		return b.store
	}
	return readOnlyStore{s, read}
}

type readOnlyStore struct {
	*sqlite.Store
	read *projections.Projections
}

func (s readOnlyStore) Head(ctx context.Context) (eventstore.Position, error) {
	head, err := s.Store.Head(ctx)
	if err != nil {
		return head, err
	}
	cp, err := s.read.Checkpoint(ctx)
	if err != nil {
		return head, err
	}
	if cp.Compare(head) < 0 {
		return cp, nil
	}
	return head, nil
}

// openBackend opens the event store the flags name, and a database handle
// for the read models: on the same database, or with EventStoreDB (not a
// SQL database) in SQLite beside the data.
func openBackend(ctx context.Context, c *cli.Command, logger *slog.Logger) (*backend, error) {
	switch c.String("store") {
	case "sqlite":
		return openSQLite(ctx, c, logger)
	case "postgres":
		return openPostgres(ctx, c, logger)
	case "eventstoredb":
		return openEventStoreDB(ctx, c, logger)
	default:
		return nil, fmt.Errorf("--store %q: want sqlite or postgres, or eventstoredb", c.String("store"))
	}
}

// openSQLite opens the embedded store in --data, the read models in the
// same file.
func openSQLite(ctx context.Context, c *cli.Command, logger *slog.Logger) (*backend, error) {
	minFree, err := sqlite.ParseMinFree(c.String("min-free-disk"))
	if err != nil {
		return nil, fmt.Errorf("--min-free-disk: %w", err)
	}
	path := filepath.Join(c.String("data"), "events.db")
	if err := tightenModes(path, logger); err != nil {
		return nil, err
	}
	store, err := sqlite.OpenWith(ctx, path, sqlite.Options{MinFree: minFree})
	if err != nil {
		return nil, err
	}
	if err := store.Health(ctx); err != nil {
		logger.Warn("the event store refuses writes; sends get unavailable until it takes them again", "path", path, "reason", err)
	}
	db, err := store.OpenDB()
	if err != nil {
		store.Close()
		return nil, err
	}
	return &backend{store: store, db: db, dialect: projections.SQLite, readOnly: store.ReadOnly()}, nil
}

// tightenModes takes the group's and others' permissions away from a
// SQLite file and its directory, and logs what it changed.
func tightenModes(path string, logger *slog.Logger) error {
	changed, err := sqlite.TightenModes(path)
	for _, t := range changed {
		logger.Warn("tightened the permissions of the data files: only confab's user may read them", "path", t.Path, "old", t.Old.String(), "new", t.New.String())
	}
	return err
}

// openPostgres opens the store in PostgreSQL, the read models in the same
// database.
func openPostgres(ctx context.Context, c *cli.Command, logger *slog.Logger) (*backend, error) {
	url := c.String("postgres-url")
	if url == "" {
		return nil, errors.New("--store postgres needs --postgres-url (or CONFAB_POSTGRES_URL)")
	}
	store, err := postgres.Open(ctx, url, postgres.Options{Logger: logger})
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		store.Close()
		return nil, err
	}
	return &backend{store: store, db: db, dialect: projections.Postgres}, nil
}

// readModelsFile is the SQLite file in --data that holds the read models
// of a store that is not a SQL database (EventStoreDB).
const readModelsFile = "read-models.db"

// openEventStoreDB opens the store on an EventStoreDB server (it must
// answer now), the read models in SQLite in --data.
func openEventStoreDB(ctx context.Context, c *cli.Command, logger *slog.Logger) (*backend, error) {
	url := c.String("eventstoredb-url")
	if url == "" {
		return nil, errors.New("--store eventstoredb needs --eventstoredb-url (or CONFAB_EVENTSTOREDB_URL)")
	}
	store, err := eventstoredb.Open(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("--eventstoredb-url: %w", err)
	}
	db, err := openReadModels(c.String("data"), logger)
	if err != nil {
		store.Close()
		return nil, err
	}
	return &backend{store: store, db: db, dialect: projections.SQLite}, nil
}

// openReadModels opens the read models' SQLite file in dir, making dir
// if need be.
func openReadModels(dir string, logger *slog.Logger) (*sql.DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("--data: %w", err)
	}
	path := filepath.Join(dir, readModelsFile)
	if err := tightenModes(path, logger); err != nil {
		return nil, err
	}
	return sqlite.OpenDB(path)
}

// eventStoreDBURLFlag names the EventStoreDB server, for serve and the
// admin commands.
func eventStoreDBURLFlag() cli.Flag {
	return &cli.StringFlag{Name: "eventstoredb-url", Usage: "EventStoreDB connection string, with --store eventstoredb, e.g. esdb://admin:changeit@localhost:2113?tls=false (the read models go to " + readModelsFile + " in --data)", Sources: cli.EnvVars("CONFAB_EVENTSTOREDB_URL")}
}

// storeUsage is the --store flag's usage, for serve and the admin
// commands.
const storeUsage = "event store: sqlite (embedded, in --data), postgres, or eventstoredb (untested here: no server runs in CI)"
