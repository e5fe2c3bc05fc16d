package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
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
	w       *sql.DB   // the writer: one connection
	r       *sql.DB   // readers
	stmts   stmtCache // the readers' prepared statements
	wr      *writer
	group   *eventstore.GroupCommitter
	changed eventstore.Signal
	closed  atomic.Bool
	// written is the position of the last event this store's writer has
	// committed (or the head when it opened): ReadAll splits reads of
	// events below it.
	written atomic.Int64

	path  string
	space *space
	// readOnly, if set, is why the store opened read-only (w, wr and
	// group are nil): the error every append gets.
	readOnly error
	// failed is the last commit's failure for want of space or of a
	// working disk, until a commit succeeds.
	failed atomic.Pointer[error]
}

// Options tune a Store.
type Options struct {
	// MinFree is the free space to keep on the file's filesystem: below
	// it, appends are refused (see MinFree). Open keeps DefaultMinFree.
	MinFree MinFree
}

var _ eventstore.Store = (*Store)(nil)

// Open opens (creating if needed) the event store in the SQLite file at
// path and migrates its schema, with the default Options.
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenWith(ctx, path, Options{MinFree: DefaultMinFree})
}

// OpenWith opens (creating if needed) the event store in the SQLite file
// at path and migrates its schema. A new store's directory is created
// 0700 and its files 0600.
//
// If the file cannot be opened for writing because its disk is full or
// failing (SQLite needs a little space even to open a database that
// needs no migration: its shared-memory index), the store opens
// read-only: reads work, appends and Health return an error wrapping
// eventstore.ErrUnavailable, until the store is opened again.
func OpenWith(ctx context.Context, path string, opts Options) (*Store, error) {
	dir := filepath.Dir(path)
	if err := createFile(path); err != nil {
		return nil, err
	}
	s := &Store{path: path, space: newSpace(dir, opts.MinFree)}
	w, err := openWriter(ctx, path)
	if err != nil {
		if !isUnavailable(err) {
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
		return s.openReadOnly(ctx, err)
	}
	r, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	s.w, s.r = w, r
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

// openWriter opens the writer's handle (one connection) and migrates.
func openWriter(ctx context.Context, path string) (*sql.DB, error) {
	w, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// openReadOnly opens the readers only, after the writer failed with cause.
// The database must exist and need no migration.
func (s *Store) openReadOnly(ctx context.Context, cause error) (*Store, error) {
	fail := func(err error) (*Store, error) {
		return nil, fmt.Errorf("sqlite: open %s: %w (and read-only: %w)", s.path, cause, err)
	}
	r, err := sql.Open("sqlite", readOnlyDSN(s.path))
	if err != nil {
		return fail(err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	if err := checkSchema(ctx, r); err != nil {
		r.Close()
		return fail(err)
	}
	s.r = r
	head, err := s.Head(ctx)
	if err != nil {
		r.Close()
		return fail(err)
	}
	s.written.Store(int64(head.Commit))
	s.readOnly = fmt.Errorf("%w: read-only: the disk was full or failing at start (%v); free space and restart", eventstore.ErrUnavailable, cause)
	return s, nil
}

// readOnlyDSN is the connection string of a read-only store. Without a
// write-ahead log to read (the last process closed cleanly), the file is
// opened immutable: SQLite then needs no shared-memory index, which is
// what cannot be created on a full disk.
func readOnlyDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "query_only(true)")
	q.Set("mode", "ro")
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		q.Set("immutable", "1")
	}
	return "file:" + path + "?" + q.Encode()
}

// checkSchema fails unless the store's migrations are all applied.
func checkSchema(ctx context.Context, db *sql.DB) error {
	p, err := goose.NewProvider(goose.DialectSQLite3, db, mustSub(migrations, "migrations"))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if pending {
		return errors.New("the schema needs migrations, which cannot run read-only")
	}
	return nil
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
//
// Errors for want of disk space, of a working disk or of write access are
// modernc's *sqlite.Error with SQLITE_FULL, SQLITE_IOERR or
// SQLITE_READONLY, which eventstore.Classify calls transient: the read
// models' loop retries them and the gateway answers "unavailable".
//
// Its handles keep up to readModelIdle connections open between uses:
// opening one costs its pragmas and the parse of the whole schema, and
// the read models' prepared statements live on their connection.
func OpenDB(path string) (*sql.DB, error) {
	return openHandle(dsn(path, true))
}

// readModelIdle is how many idle connections OpenDB's handles keep.
const readModelIdle = 16

func openHandle(dsn string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	db.SetMaxIdleConns(readModelIdle)
	return db, nil
}

// OpenDB opens another handle on the store's file, as the package's
// OpenDB does; on a read-only store, the handle is read-only too.
func (s *Store) OpenDB() (*sql.DB, error) {
	if s.readOnly == nil {
		return OpenDB(s.path)
	}
	return openHandle(readOnlyDSN(s.path))
}

// ReadOnly reports whether the store opened read-only (see OpenWith).
func (s *Store) ReadOnly() bool { return s.readOnly != nil }

// Health returns nil if the store can take appends, else why not, as an
// error wrapping eventstore.ErrUnavailable: it opened read-only, the free
// space is below Options.MinFree (read now), or the last commit failed
// for want of space or of a working disk.
func (s *Store) Health(ctx context.Context) error {
	if s.closed.Load() {
		return eventstore.ErrClosed
	}
	if s.readOnly != nil {
		return s.readOnly
	}
	if err := s.space.state(); err != nil {
		return err
	}
	if p := s.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if s.readOnly != nil {
		if err := eventstore.ValidateAppend(stream, expected, events); err != nil {
			return eventstore.AppendResult{}, err
		}
		if s.closed.Load() {
			return eventstore.AppendResult{}, eventstore.ErrClosed
		}
		return eventstore.AppendResult{}, s.readOnly
	}
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
	q := `SELECT ` + columns + ` FROM events WHERE stream = ? AND revision >= ? ORDER BY revision`
	if dir == eventstore.Backwards {
		q = `SELECT ` + columns + ` FROM events WHERE stream = ? AND revision <= ? ORDER BY revision DESC`
	}
	evs, err := s.query(ctx, make([]eventstore.RecordedEvent, 0, min(limit, 256)), limited(q, limit), stream, rev)
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
	if s.readOnly != nil {
		s.changed.Broadcast()
		return errors.Join(s.stmts.close(), s.r.Close())
	}
	s.group.Close()
	s.changed.Broadcast()
	return errors.Join(s.wr.close(), s.stmts.close(), s.r.Close(), s.w.Close())
}
