package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/confabhq/confab/eventstore"
	"github.com/google/uuid"
)

const columns = `position, id, stream, revision, type, data, metadata, recorded_at`

// splitMin is the smallest ReadAll that is split between two connections.
const splitMin = 512

// ReadAll implements eventstore.Store.
//
// A large read of events the writer is known to have committed is split
// in two halves by position, read at the same time on two connections:
// (after, after+limit/2] and the rest. Each connection reads its own
// snapshot, and a snapshot holds a prefix of the log (the single writer
// assigns positions in commit order), but the two snapshots may differ. So
// the second half is only used if the first range is complete, with an
// event at every one of its positions: then nothing can be missing before
// the second half, whatever either snapshot saw. Positions normally have no
// holes (AUTOINCREMENT, one writer, and a failed INSERT gives its positions
// back); where they have, the read returns the first half alone.
func (s *Store) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.RecordedEvent, error) {
	if err := eventstore.ValidateRead(limit); err != nil {
		return nil, err
	}
	if s.closed.Load() {
		return nil, eventstore.ErrClosed
	}
	from := int64(min(after.Commit, math.MaxInt64))
	half := limit / 2
	if limit < splitMin || from+int64(half) >= s.written.Load() {
		evs, err := s.query(ctx, make([]eventstore.RecordedEvent, 0, min(limit, 1024)), limited(qAll, limit), from)
		if err != nil {
			return nil, fmt.Errorf("sqlite: read all after %v: %w", after, err)
		}
		return evs, nil
	}
	buf := make([]eventstore.RecordedEvent, 0, limit)
	var (
		first    []eventstore.RecordedEvent
		firstErr error
		done     = make(chan struct{})
	)
	go func() {
		defer close(done)
		first, firstErr = s.query(ctx, buf[:0:half], qRange, from, from+int64(half))
	}()
	rest, err := s.query(ctx, buf[half:half:limit], limited(qAll, limit-half), from+int64(half))
	<-done
	switch {
	case firstErr != nil:
		return nil, fmt.Errorf("sqlite: read all after %v: %w", after, firstErr)
	case len(first) == half && err == nil:
		return buf[:half+len(rest)], nil // both halves are in buf
	case len(first) > 0:
		return first, nil
	}
	// Nothing in the first range: a hole, or a snapshot from before the
	// writer's last commits. Read again, in one piece.
	evs, err := s.query(ctx, buf[:0], limited(qAll, limit), from)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read all after %v: %w", after, err)
	}
	return evs, nil
}

const (
	qAll   = `SELECT ` + columns + ` FROM events WHERE position > ? ORDER BY position` // + LIMIT, see limited
	qRange = `SELECT ` + columns + ` FROM events WHERE position > ? AND position <= ? ORDER BY position`
)

// limited returns q with a LIMIT of n written into its text. A bound
// LIMIT ? makes SQLite compile the statement again at every run (its
// plan depends on the value), which costs more than the read; a few
// distinct limits (the callers' batch sizes) give a few statements per
// connection (see stmtCache).
func limited(q string, n int) string { return q + " LIMIT " + strconv.Itoa(n) }

// query runs a query on a reader connection and appends the events it
// returns to dst. It reads through the driver directly: database/sql's
// Scan converts and copies every column of every row once more. The
// statement is prepared once per connection (see stmtCache).
func (s *Store) query(ctx context.Context, dst []eventstore.RecordedEvent, q string, args ...any) ([]eventstore.RecordedEvent, error) {
	if !s.stmts.acquire() {
		return nil, eventstore.ErrClosed
	}
	defer s.stmts.release()
	conn, err := s.r.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	named := make([]driver.NamedValue, len(args))
	for i, a := range args {
		if n, ok := a.(int); ok {
			a = int64(n) // the driver binds int64, not int
		}
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	err = conn.Raw(func(raw any) error {
		dc, ok := raw.(driver.Conn)
		if !ok {
			return fmt.Errorf("driver connection %T is not a driver.Conn", raw)
		}
		stmt, cached, err := s.stmts.get(ctx, dc, q)
		if err != nil {
			return err
		}
		if cached {
			defer s.stmts.check(dc)
		} else {
			defer stmt.Close()
		}
		sq, ok := stmt.(driver.StmtQueryContext)
		if !ok {
			return fmt.Errorf("driver statement %T cannot query", stmt)
		}
		rows, err := sq.QueryContext(ctx, named)
		if err != nil {
			return err
		}
		dst, err = scanRows(rows, dst)
		return err
	})
	return dst, err
}

// scanRows reads rows of columns into events, appending to dst, and closes
// rows.
func scanRows(rows driver.Rows, dst []eventstore.RecordedEvent) ([]eventstore.RecordedEvent, error) {
	defer rows.Close()
	vals := make([]driver.Value, 8)
	for {
		if err := rows.Next(vals); err != nil {
			if errors.Is(err, io.EOF) {
				return dst, nil
			}
			return nil, fmt.Errorf("sqlite: read events: %w", err)
		}
		var e eventstore.RecordedEvent
		if err := decode(&e, vals); err != nil {
			return nil, err
		}
		dst = append(dst, e)
	}
}

// decode fills e from a row of columns. The driver hands out values it has
// just allocated, but the driver.Rows contract lets it reuse byte slices on
// the next row, so Data and Metadata are copied.
func decode(e *eventstore.RecordedEvent, vals []driver.Value) error {
	pos, ok1 := vals[0].(int64)
	id, ok2 := vals[1].([]byte)
	stream, ok3 := vals[2].(string)
	rev, ok4 := vals[3].(int64)
	typ, ok5 := vals[4].(string)
	at, ok6 := vals[7].(int64)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || len(id) != 16 || rev < 1 {
		return fmt.Errorf("sqlite: malformed event row: %T %T %T %T %T %T", vals[0], vals[1], vals[2], vals[3], vals[4], vals[7])
	}
	data, err := blob(vals[5])
	if err != nil {
		return fmt.Errorf("sqlite: event at %d: data: %w", pos, err)
	}
	md, err := blob(vals[6])
	if err != nil {
		return fmt.Errorf("sqlite: event at %d: metadata: %w", pos, err)
	}
	*e = eventstore.RecordedEvent{
		ID:         uuid.UUID(id),
		Stream:     stream,
		Revision:   uint64(rev),
		Position:   position(pos),
		Type:       typ,
		Data:       data,
		Metadata:   md,
		RecordedAt: time.UnixMicro(at).UTC(),
	}
	return nil
}

// blob copies a BLOB (or TEXT) column; empty and NULL give nil.
func blob(v driver.Value) ([]byte, error) {
	switch b := v.(type) {
	case nil:
		return nil, nil
	case []byte:
		if len(b) == 0 {
			return nil, nil
		}
		return append([]byte(nil), b...), nil
	case string:
		if b == "" {
			return nil, nil
		}
		return []byte(b), nil
	}
	return nil, fmt.Errorf("unexpected %T", v)
}

func position(p int64) eventstore.Position {
	return eventstore.Position{Commit: uint64(p), Prepare: uint64(p)}
}
