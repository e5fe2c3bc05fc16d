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
	"time"

	"github.com/confabhq/confab/eventstore"
	"github.com/google/uuid"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// maxBatch bounds how many appends share one transaction.
const maxBatch = 512

// Store is an event store in a SQLite file.
type Store struct {
	w *sql.DB // the writer: one connection
	r *sql.DB // readers
	// Statements of the writer, prepared once on its connection.
	insert, lastRev, findID *sql.Stmt
	group                   *eventstore.GroupCommitter
	changed                 eventstore.Signal
	closed                  atomic.Bool
}

var _ eventstore.Store = (*Store)(nil)

// Open opens (creating if needed) the event store in the SQLite file at
// path and migrates its schema.
func Open(ctx context.Context, path string) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("sqlite: create directory: %w", err)
		}
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
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.insert, `INSERT INTO events (id, stream, revision, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`},
		{&s.lastRev, `SELECT COALESCE(MAX(revision), 0) FROM events WHERE stream = ?`},
		{&s.findID, `SELECT ` + columns + ` FROM events WHERE id = ?`},
	} {
		if *p.stmt, err = w.PrepareContext(ctx, p.sql); err != nil {
			w.Close()
			r.Close()
			return nil, fmt.Errorf("sqlite: prepare: %w", err)
		}
	}
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

// commit stores a batch of appends in one transaction.
func (s *Store) commit(ctx context.Context, batch []*eventstore.AppendRequest) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback()
	w := writer{tx: tx, insert: tx.StmtContext(ctx, s.insert), lastRev: tx.StmtContext(ctx, s.lastRev), findID: tx.StmtContext(ctx, s.findID)}
	now := time.Now().UnixMicro()
	for _, req := range batch {
		if err := w.appendOne(ctx, req, now); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	s.changed.Broadcast()
	return nil
}

// writer runs the appends of one batch in its transaction.
type writer struct {
	tx                      *sql.Tx
	insert, lastRev, findID *sql.Stmt
}

// appendOne checks one append and inserts its events. A failed check is
// recorded on req and writes nothing; a returned error fails the batch.
//
// The common case costs two statements: the stream's last revision, and
// an insert that skips an existing ID. Only an append that fails its
// expected revision, or whose event is already stored, looks its IDs up
// to tell a retry from a conflict.
func (w *writer) appendOne(ctx context.Context, req *eventstore.AppendRequest, now int64) error {
	var current uint64
	if err := w.lastRev.QueryRowContext(ctx, req.Stream).Scan(&current); err != nil {
		return fmt.Errorf("sqlite: append to %s: %w", req.Stream, err)
	}
	if !req.Expected.Matches(current) || len(req.Events) > 1 {
		found, err := w.findIDs(ctx, req.Events)
		if err != nil {
			return err
		}
		if res, retried, err := eventstore.Retried(req.Stream, req.Events, found); err != nil || retried {
			req.Result, req.Err = res, err
			return nil
		}
		if !req.Expected.Matches(current) {
			req.Err = &eventstore.WrongRevisionError{Stream: req.Stream, Expected: req.Expected, Actual: current}
			return nil
		}
	}
	var pos int64
	for i, e := range req.Events {
		res, err := w.insert.ExecContext(ctx, e.ID[:], req.Stream, current+uint64(i)+1, e.Type, nonNil(e.Data), nonNil(e.Metadata), now)
		if err != nil {
			return fmt.Errorf("sqlite: append to %s: %w", req.Stream, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			// Only a single event is inserted unchecked, so nothing of
			// this append was written: the ID is stored already.
			found, err := w.findIDs(ctx, req.Events)
			if err != nil {
				return err
			}
			res, retried, err := eventstore.Retried(req.Stream, req.Events, found)
			if err == nil && !retried {
				err = fmt.Errorf("sqlite: append to %s: event %s vanished", req.Stream, e.ID)
			}
			req.Result, req.Err = res, err
			return nil
		}
		if pos, err = res.LastInsertId(); err != nil {
			return fmt.Errorf("sqlite: append to %s: %w", req.Stream, err)
		}
	}
	req.Result = eventstore.AppendResult{Revision: current + uint64(len(req.Events)), Position: position(pos)}
	return nil
}

// findIDs returns the stored events whose IDs are among events'.
func (w *writer) findIDs(ctx context.Context, events []eventstore.EventData) ([]eventstore.RecordedEvent, error) {
	var found []eventstore.RecordedEvent
	for i := range events {
		rows, err := w.findID.QueryContext(ctx, events[i].ID[:])
		if err != nil {
			return nil, fmt.Errorf("sqlite: look up event IDs: %w", err)
		}
		if found, err = scan(rows, found); err != nil {
			return nil, err
		}
	}
	return found, nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func position(p int64) eventstore.Position {
	return eventstore.Position{Commit: uint64(p), Prepare: uint64(p)}
}

const columns = `position, id, stream, revision, type, data, metadata, recorded_at`

// scan reads rows of columns into events, appending to dst.
func scan(rows *sql.Rows, dst []eventstore.RecordedEvent) ([]eventstore.RecordedEvent, error) {
	defer rows.Close()
	for rows.Next() {
		var (
			e        eventstore.RecordedEvent
			pos, at  int64
			id       []byte
			data, md []byte
		)
		if err := rows.Scan(&pos, &id, &e.Stream, &e.Revision, &e.Type, &data, &md, &at); err != nil {
			return nil, fmt.Errorf("sqlite: scan event: %w", err)
		}
		if len(id) != 16 {
			return nil, fmt.Errorf("sqlite: event at %d has a %d-byte ID", pos, len(id))
		}
		e.ID = uuid.UUID(id)
		e.Position = position(pos)
		e.Data, e.Metadata = data, md
		if len(e.Metadata) == 0 {
			e.Metadata = nil
		}
		e.RecordedAt = time.UnixMicro(at).UTC()
		dst = append(dst, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: read events: %w", err)
	}
	return dst, nil
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
	rows, err := s.r.QueryContext(ctx, q, stream, rev, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read %s: %w", stream, err)
	}
	return scan(rows, make([]eventstore.RecordedEvent, 0, min(limit, 256)))
}

// ReadAll implements eventstore.Store.
func (s *Store) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.RecordedEvent, error) {
	if err := eventstore.ValidateRead(limit); err != nil {
		return nil, err
	}
	if s.closed.Load() {
		return nil, eventstore.ErrClosed
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+columns+` FROM events WHERE position > ? ORDER BY position LIMIT ?`, int64(min(after.Commit, math.MaxInt64)), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read all after %v: %w", after, err)
	}
	return scan(rows, make([]eventstore.RecordedEvent, 0, min(limit, 1024)))
}

// Subscribe implements eventstore.Store.
func (s *Store) Subscribe(ctx context.Context, after eventstore.Position, filter eventstore.Filter, handle eventstore.Handler) error {
	return eventstore.PollSubscribe(ctx, eventstore.PollConfig{Read: s.ReadAll, Wake: s.changed.C}, after, filter, handle)
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
	return errors.Join(s.insert.Close(), s.lastRev.Close(), s.findID.Close(), s.r.Close(), s.w.Close())
}
