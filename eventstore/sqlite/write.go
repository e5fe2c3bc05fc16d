package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/confabhq/confab/eventstore"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// maxCachedStreams bounds the writer's cache of stream revisions; past it,
// an eighth of the entries is dropped.
const maxCachedStreams = 100_000

// maxInsertStmts bounds how many multi-row inserts (one per number of
// events in an append) the writer keeps prepared.
const maxInsertStmts = 16

// writer is the state of the store's single writer. Only the
// GroupCommitter's one writer goroutine uses it, so it needs no lock.
//
// It works on the driver connection under database/sql (through
// sql.Conn.Raw): a batch of appends costs a few statement executions per
// append, and database/sql's per-statement machinery (a goroutine per query
// in a transaction, argument conversion, result wrapping) was a good part of
// that.
//
// It keeps the last revision of the streams it has seen, so that an append
// usually costs one INSERT and no read. The cache is never ahead of the
// file: entries come from reads inside the writing transaction, which holds
// the database's write lock, or from the writer's own commits, and are
// dropped whenever a transaction fails. It may be behind, if another
// process (the admin CLI) appended to the stream: an append is then checked
// against a revision that is too low, and either
//   - passes the check and inserts at a revision that is taken, so that the
//     UNIQUE (stream, revision) constraint fails the statement, or
//   - fails the check,
//
// and in both cases the writer reads the stream's revision from the file
// and decides again. Since a stream's revisions are contiguous, an insert
// after a stale revision always hits the constraint.
type writer struct {
	conn *sql.Conn // the writer connection, held for the store's life
	dc   any       // the driver connection seen in the last batch

	lastRev, findID driver.Stmt
	inserts         map[int]driver.Stmt // INSERT of n events, by n

	revs map[string]uint64 // streams' last revisions, as committed
	last int64             // position of the last event committed
	args []driver.NamedValue
	vals []driver.Value
}

// commit stores a batch of appends in one transaction.
//
// It refuses the batch, storing nothing, if the disk is below the free
// space to keep; a commit that fails for want of space or of a working
// disk is reported as eventstore.ErrUnavailable too.
func (s *Store) commit(ctx context.Context, batch []*eventstore.AppendRequest) error {
	if err := s.space.check(batchBytes(batch)); err != nil {
		return err
	}
	err := s.wr.conn.Raw(func(dc any) error { return s.wr.commit(ctx, dc, batch) })
	if err != nil {
		if !isUnavailable(err) {
			return err
		}
		err = fmt.Errorf("%w: %w", eventstore.ErrUnavailable, err)
		s.failed.Store(&err)
		s.space.stale()
		return err
	}
	if s.failed.Load() != nil {
		s.failed.Store(nil)
	}
	if last := s.wr.last; last > s.written.Load() {
		s.written.Store(last)
	}
	s.changed.Broadcast()
	return nil
}

func (w *writer) commit(ctx context.Context, dc any, batch []*eventstore.AppendRequest) (err error) {
	if dc != w.dc {
		// First batch, or database/sql replaced the connection: prepare
		// the statements on this one.
		w.closeStmts()
		w.dc = dc
	}
	conn, ok := dc.(interface {
		driver.ConnBeginTx
		driver.ConnPrepareContext
	})
	if !ok {
		return fmt.Errorf("sqlite: driver connection %T cannot begin transactions or prepare", dc)
	}
	if w.lastRev == nil {
		lastRev, err := prepare(ctx, conn, `SELECT COALESCE(MAX(revision), 0) FROM events WHERE stream = ?`)
		if err != nil {
			return err
		}
		findID, err := prepare(ctx, conn, `SELECT `+columns+` FROM events WHERE id = ?`)
		if err != nil {
			lastRev.Close()
			return err
		}
		w.lastRev, w.findID = lastRev, findID
	}

	tx, err := conn.BeginTx(ctx, driver.TxOptions{})
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	// Revisions written by this transaction, merged into revs once it has
	// committed.
	written := make(map[string]uint64, len(batch))
	last := w.last
	defer func() {
		if err != nil {
			tx.Rollback()
			clear(w.revs)
			w.last = last
		}
	}()
	now := time.Now().UnixMicro()
	for _, req := range batch {
		if err := w.appendOne(ctx, conn, written, req, now); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	if len(w.revs)+len(written) > maxCachedStreams {
		n := 0
		for k := range w.revs { // in random order
			delete(w.revs, k)
			if n++; n >= maxCachedStreams/8 {
				break
			}
		}
	}
	for stream, rev := range written {
		w.revs[stream] = rev
	}
	return nil
}

// appendOne checks one append and inserts its events with one statement,
// so that they are stored together or not at all. A failed check is
// recorded on req and writes nothing; a returned error fails the batch.
func (w *writer) appendOne(ctx context.Context, conn driver.ConnPrepareContext, written map[string]uint64, req *eventstore.AppendRequest, now int64) error {
	// fresh tells that current is the file's revision in this
	// transaction, not the cache's.
	current, fresh := written[req.Stream]
	if !fresh {
		var cached bool
		if current, cached = w.revs[req.Stream]; !cached {
			rev, err := w.readRevision(ctx, req.Stream)
			if err != nil {
				return err
			}
			current, written[req.Stream], fresh = rev, rev, true
		}
	}
	for {
		if !req.Expected.Matches(current) {
			if !fresh {
				// The cached revision may be stale: decide on the file's.
				rev, err := w.readRevision(ctx, req.Stream)
				if err != nil {
					return err
				}
				current, written[req.Stream], fresh = rev, rev, true
				continue
			}
			// Not at the expected revision, unless this is a retry of an
			// append that succeeded.
			if done, err := w.retried(ctx, req); done || err != nil {
				return err
			}
			req.Err = &eventstore.WrongRevisionError{Stream: req.Stream, Expected: req.Expected, Actual: current}
			return nil
		}
		pos, err := w.insert(ctx, conn, req, current, now)
		if err == nil {
			n := uint64(len(req.Events))
			written[req.Stream] = current + n
			w.last = max(w.last, pos)
			req.Result = eventstore.AppendResult{Revision: current + n, Position: position(pos)}
			return nil
		}
		if !isConstraint(err) {
			return fmt.Errorf("sqlite: append to %s: %w", req.Stream, err)
		}
		// SQLite undid the statement. Either an event ID is stored
		// already (a retry, or a conflict), or the revision was stale.
		if done, err := w.retried(ctx, req); done || err != nil {
			return err
		}
		if fresh {
			return fmt.Errorf("sqlite: append to %s at revision %d: %w", req.Stream, current, err)
		}
		rev, err := w.readRevision(ctx, req.Stream)
		if err != nil {
			return err
		}
		current, written[req.Stream], fresh = rev, rev, true
	}
}

// retried looks req's event IDs up. If some are stored, it records on req
// the outcome (the original result of a retried append, or a conflict) and
// returns true.
func (w *writer) retried(ctx context.Context, req *eventstore.AppendRequest) (bool, error) {
	var found []eventstore.RecordedEvent
	for i := range req.Events {
		w.args = append(w.args[:0], driver.NamedValue{Ordinal: 1, Value: req.Events[i].ID[:]})
		rows, err := w.findID.(driver.StmtQueryContext).QueryContext(ctx, w.args)
		if err != nil {
			return false, fmt.Errorf("sqlite: look up event IDs: %w", err)
		}
		if found, err = scanRows(rows, found); err != nil {
			return false, err
		}
	}
	res, retried, err := eventstore.Retried(req.Stream, req.Events, found)
	if err == nil && !retried {
		return false, nil
	}
	req.Result, req.Err = res, err
	return true, nil
}

// readRevision reads the last revision of stream from the file.
func (w *writer) readRevision(ctx context.Context, stream string) (uint64, error) {
	w.args = append(w.args[:0], driver.NamedValue{Ordinal: 1, Value: stream})
	rows, err := w.lastRev.(driver.StmtQueryContext).QueryContext(ctx, w.args)
	if err != nil {
		return 0, fmt.Errorf("sqlite: read revision of %s: %w", stream, err)
	}
	defer rows.Close()
	w.vals = append(w.vals[:0], nil)
	if err := rows.Next(w.vals); err != nil {
		return 0, fmt.Errorf("sqlite: read revision of %s: %w", stream, err)
	}
	rev, ok := w.vals[0].(int64)
	if !ok || rev < 0 {
		return 0, fmt.Errorf("sqlite: read revision of %s: got %v", stream, w.vals[0])
	}
	return uint64(rev), nil
}

// insert stores req's events after revision current in one statement and
// returns the position of the last one.
func (w *writer) insert(ctx context.Context, conn driver.ConnPrepareContext, req *eventstore.AppendRequest, current uint64, now int64) (int64, error) {
	n := len(req.Events)
	stmt, err := w.insertStmt(ctx, conn, n)
	if err != nil {
		return 0, err
	}
	w.args = w.args[:0]
	for i := range req.Events {
		e := &req.Events[i]
		o := len(w.args)
		w.args = append(w.args,
			driver.NamedValue{Ordinal: o + 1, Value: e.ID[:]},
			driver.NamedValue{Ordinal: o + 2, Value: req.Stream},
			driver.NamedValue{Ordinal: o + 3, Value: int64(current) + int64(i) + 1},
			driver.NamedValue{Ordinal: o + 4, Value: e.Type},
			driver.NamedValue{Ordinal: o + 5, Value: nonNil(e.Data)},
			driver.NamedValue{Ordinal: o + 6, Value: nonNil(e.Metadata)},
			driver.NamedValue{Ordinal: o + 7, Value: now},
		)
	}
	res, err := stmt.(driver.StmtExecContext).ExecContext(ctx, w.args)
	clear(w.args) // drop references to the events
	if n > 1 && w.inserts[n] != stmt {
		stmt.Close()
	}
	if err != nil {
		return 0, err
	}
	// The rows of one INSERT get consecutive positions: the single
	// writer's AUTOINCREMENT hands out the next one to each row, and a
	// statement that fails gives back what it took.
	if got, err := res.RowsAffected(); err != nil || got != int64(n) {
		return 0, fmt.Errorf("inserted %d of %d events (%v)", got, n, err)
	}
	return res.LastInsertId()
}

// insertStmt returns a statement inserting n events. Statements for a
// single event and for up to maxInsertStmts other sizes are kept; others
// are prepared for one use.
func (w *writer) insertStmt(ctx context.Context, conn driver.ConnPrepareContext, n int) (driver.Stmt, error) {
	if stmt, ok := w.inserts[n]; ok {
		return stmt, nil
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO events (id, stream, revision, type, data, metadata, recorded_at) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`(?, ?, ?, ?, ?, ?, ?)`)
	}
	stmt, err := prepare(ctx, conn, b.String())
	if err != nil {
		return nil, err
	}
	if n == 1 || len(w.inserts) < maxInsertStmts {
		if w.inserts == nil {
			w.inserts = map[int]driver.Stmt{}
		}
		w.inserts[n] = stmt
	}
	return stmt, nil
}

func prepare(ctx context.Context, conn driver.ConnPrepareContext, query string) (driver.Stmt, error) {
	stmt, err := conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("sqlite: prepare: %w", err)
	}
	return stmt, nil
}

// closeStmts closes the statements prepared on the driver connection.
func (w *writer) closeStmts() error {
	var errs []error
	for _, stmt := range []driver.Stmt{w.lastRev, w.findID} {
		if stmt != nil {
			errs = append(errs, stmt.Close())
		}
	}
	for _, stmt := range w.inserts {
		errs = append(errs, stmt.Close())
	}
	w.lastRev, w.findID, w.inserts = nil, nil, nil
	clear(w.revs)
	return errors.Join(errs...)
}

// close closes the statements and gives the connection back.
func (w *writer) close() error {
	err := w.conn.Raw(func(dc any) error {
		if dc != w.dc {
			return nil // never used, or replaced: nothing prepared on it
		}
		return w.closeStmts()
	})
	return errors.Join(err, w.conn.Close())
}

// isUnavailable reports whether err is SQLite failing for want of disk
// space, of a working disk, or of write access (a read-only store): the
// write may work later.
func isUnavailable(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() & 0xff {
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY:
		return true
	}
	return false
}

// batchBytes estimates what a batch stores: its events' payloads and a
// row's worth of the rest.
func batchBytes(batch []*eventstore.AppendRequest) int {
	n := 0
	for _, req := range batch {
		n += len(req.Stream) * len(req.Events)
		for i := range req.Events {
			n += len(req.Events[i].Data) + len(req.Events[i].Metadata) + len(req.Events[i].Type) + 64
		}
	}
	return n
}

// isConstraint reports whether err is a failed UNIQUE (or other) constraint.
func isConstraint(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
