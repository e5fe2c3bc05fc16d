package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sync/atomic"

	"github.com/confabhq/confab/eventstore"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// maxBatch bounds how many appends share one transaction.
const maxBatch = 512

// subscribeBatch is how many events a subscription reads at once.
const subscribeBatch = 2048

// Store is an event store in a SQLite file.
type Store struct {
	w       *sql.DB // the writer: one connection
	r       *sql.DB // readers
	wr      *writer
	group   *eventstore.GroupCommitter
	changed eventstore.Signal
	closed  atomic.Bool
	// written is the position of the last event this store's writer has
	// committed (or the head when it opened): ReadAll splits reads of
	// events below it.
	written atomic.Int64
}

var _ eventstore.Store = (*Store)(nil)

// Open opens (creating if needed) the event store in the SQLite file at
// path and migrates its schema. A new store's directory is created 0700
// and its files 0600.
func Open(ctx context.Context, path string) (*Store, error) {
	if err := createFile(path); err != nil {
		return nil, err
	}
	w, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	s := &Store{w: w, r: r}
	head, err := s.Head(ctx)
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.written.Store(int64(head.Commit))
	conn, err := w.Conn(ctx)
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.wr = &writer{conn: conn, revs: map[string]uint64{}}
	s.group = eventstore.NewGroupCommitter(s.commit, 1, maxBatch)
	return s, nil
}

// dsn builds the connection string: WAL, fsync on every commit, and a busy
// timeout for the moments a checkpoint holds the database.
func dsn(path string, writer bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	if writer {
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(true)")
	}
	return "file:" + path + "?" + q.Encode()
}

func migrate(ctx context.Context, db *sql.DB) error {
	p, err := goose.NewProvider(goose.DialectSQLite3, db, mustSub(migrations, "migrations"))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// OpenDB opens another handle on the SQLite file at path with the store's
// settings (WAL, fsync on commit, busy timeout, immediate transactions), for
// read models kept in the same file as the events.
func OpenDB(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return db, nil
}

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	return s.group.Append(ctx, stream, expected, events)
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, from uint64, dir eventstore.Direction, limit int) ([]eventstore.RecordedEvent, error) {
	if err := eventstore.ValidateStream(stream); err != nil {
		return nil, err
	}
	if err := eventstore.ValidateRead(limit); err != nil {
		return nil, err
	}
	if s.closed.Load() {
		return nil, eventstore.ErrClosed
	}
	rev := int64(min(from, math.MaxInt64))
	q := `SELECT ` + columns + ` FROM events WHERE stream = ? AND revision >= ? ORDER BY revision LIMIT ?`
	if dir == eventstore.Backwards {
		q = `SELECT ` + columns + ` FROM events WHERE stream = ? AND revision <= ? ORDER BY revision DESC LIMIT ?`
	}
	evs, err := s.query(ctx, make([]eventstore.RecordedEvent, 0, min(limit, 256)), q, stream, rev, int64(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: read %s: %w", stream, err)
	}
	return evs, nil
}

// Subscribe implements eventstore.Store.
func (s *Store) Subscribe(ctx context.Context, after eventstore.Position, filter eventstore.Filter, handle eventstore.Handler) error {
	cfg := eventstore.PollConfig{Read: s.ReadAll, Wake: s.changed.C, BatchSize: subscribeBatch}
	return eventstore.PollSubscribe(ctx, cfg, after, filter, handle)
}

// Head implements eventstore.Store.
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	if s.closed.Load() {
		return eventstore.Position{}, eventstore.ErrClosed
	}
	var pos int64
	if err := s.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(position), 0) FROM events`).Scan(&pos); err != nil {
		return eventstore.Position{}, fmt.Errorf("sqlite: head: %w", err)
	}
	return position(pos), nil
}

// Close commits the appends already queued and closes the file.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.group.Close()
	s.changed.Broadcast()
	return errors.Join(s.wr.close(), s.r.Close(), s.w.Close())
}
