package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/confabhq/confab/eventstore"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The statements of the checked append transaction, for a batch that
// reuses event IDs (retried appends, conflicts), which confab_append_batch
// leaves to the caller. It is one transaction in two round trips:
//
//  1. BEGIN; lock every stream of the batch; read their revisions; look the
//     event IDs up.
//  2. INSERT the events of the appends that pass their checks, in one
//     statement; COMMIT.
//
// Between the two, the appends are checked here, in order, as if they ran
// one after the other: an append sees the events of the appends before it
// in the batch.
const (
	// noSeqScan keeps the planner off sequential scans of events for the
	// rest of the transaction. The lookups below are prepared statements
	// whose generic plan is cached for the connection's life: planned
	// while the table was nearly empty, a sequential scan looks cheapest
	// and would then read the whole table on every append. (Plans made
	// under this setting are only ever used in these transactions: the
	// statements are not used elsewhere.)
	noSeqScan = `SET LOCAL enable_seqscan = off`
	// lockStreams takes the transaction-scoped advisory lock of every
	// stream, in key order so that two batches cannot deadlock. The reads
	// that follow are separate statements, so that their snapshot is taken
	// once the locks are held.
	lockStreams = `SELECT count(pg_advisory_xact_lock(k)) FROM (
		SELECT DISTINCT hashtextextended(s, 0) AS k FROM unnest($1::text[]) AS s ORDER BY k) AS keys`
	// readRevisions reads the last revision of each stream (0 if none).
	readRevisions = `SELECT s, coalesce((SELECT e.revision FROM events e WHERE e.stream = s ORDER BY e.revision DESC LIMIT 1), 0)
		FROM unnest($1::text[]) AS s`
	// findIDs reads the stored events among the batch's event IDs, with
	// = ANY on the primary key so that any plan uses the index.
	findIDs = `SELECT e.id, e.stream, e.revision, e.xid::text, e.position FROM events e WHERE e.id = ANY ($1::uuid[])`
	// insertEvents inserts rows in array order, so that the positions
	// (taken from the identity sequence row by row) follow the revisions
	// within each stream, and returns them in that order.
	insertEvents = `INSERT INTO events (id, stream, revision, type, data, metadata)
		SELECT u.id, u.stream, u.revision, u.type, u.data, u.metadata
		  FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[], $5::bytea[], $6::bytea[])
		       WITH ORDINALITY AS u(id, stream, revision, type, data, metadata, ord)
		 ORDER BY u.ord
		RETURNING id, xid::text, position`
)

// rows are the events to insert, as the columns insertEvents takes.
type rows struct {
	ids       [][16]byte
	streams   []string
	revisions []int64
	types     []string
	data, md  [][]byte
}

func (r *rows) add(stream string, rev uint64, e *eventstore.EventData) int {
	r.ids = append(r.ids, e.ID)
	r.streams = append(r.streams, stream)
	r.revisions = append(r.revisions, int64(rev))
	r.types = append(r.types, e.Type)
	r.data = append(r.data, nonNil(e.Data))
	r.md = append(r.md, nonNil(e.Metadata))
	return len(r.ids) - 1
}

// commitChecked commits batch in one transaction, checking the appends
// here. On error nothing of the batch is stored.
func (s *Store) commitChecked(ctx context.Context, batch []*eventstore.AppendRequest) (err error) {
	streams := make([]string, 0, len(batch))
	seen := make(map[string]bool, len(batch))
	var ids [][16]byte
	for _, req := range batch {
		if !seen[req.Stream] {
			seen[req.Stream] = true
			streams = append(streams, req.Stream)
		}
		for i := range req.Events {
			ids = append(ids, req.Events[i].ID)
		}
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: append: %w", err)
	}
	defer func() {
		if err != nil && !conn.Conn().IsClosed() && conn.Conn().PgConn().TxStatus() != 'I' {
			// Leave the connection usable rather than have the pool
			// drop it.
			conn.Exec(context.Background(), "ROLLBACK")
		}
		conn.Release()
	}()

	// Round trip 1: lock, read revisions, look IDs up.
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(noSeqScan)
	b.Queue(lockStreams, streams)
	b.Queue(readRevisions, streams)
	b.Queue(findIDs, ids)
	br := conn.SendBatch(ctx, b)
	revs, found, err := readState(br)
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("postgres: append: %w", cerr)
	}
	if err != nil {
		return err
	}

	// Check the appends in order.
	var (
		ins    rows
		last   = make([]int, len(batch)) // row of each request's last event, or -1
		byID   = make(map[uuid.UUID]int) // rows of this batch, by event ID
		stored []eventstore.RecordedEvent
	)
	for i, req := range batch {
		last[i] = -1
		stored = stored[:0]
		inBatch := false
		for j := range req.Events {
			id := req.Events[j].ID
			if e, ok := found[id]; ok {
				stored = append(stored, e)
			} else if r, ok := byID[id]; ok {
				// Stored by an earlier append of this batch; its position
				// is known after the insert.
				stored = append(stored, eventstore.RecordedEvent{ID: id, Stream: ins.streams[r], Revision: uint64(ins.revisions[r])})
				inBatch = true
			}
		}
		if len(stored) > 0 {
			res, _, err := eventstore.Retried(req.Stream, req.Events, stored)
			req.Result, req.Err = res, err
			if r, ok := byID[req.Events[len(req.Events)-1].ID]; ok && err == nil && inBatch {
				last[i] = r // a retry of an append of this batch
			}
			continue
		}
		cur := revs[req.Stream]
		if !req.Expected.Matches(cur) {
			req.Err = &eventstore.WrongRevisionError{Stream: req.Stream, Expected: req.Expected, Actual: cur}
			continue
		}
		for j := range req.Events {
			cur++
			byID[req.Events[j].ID] = ins.add(req.Stream, cur, &req.Events[j])
		}
		revs[req.Stream] = cur
		last[i] = len(ins.ids) - 1
		req.Result.Revision = cur
	}

	// Round trip 2: insert, commit.
	b = &pgx.Batch{}
	if len(ins.ids) > 0 {
		b.Queue(insertEvents, ins.ids, ins.streams, ins.revisions, ins.types, ins.data, ins.md)
	}
	b.Queue("COMMIT")
	br = conn.SendBatch(ctx, b)
	var positions []eventstore.Position
	if len(ins.ids) > 0 {
		positions, err = readPositions(br, ins.ids)
	}
	if err == nil {
		if _, err = br.Exec(); err != nil {
			err = fmt.Errorf("postgres: append: commit: %w", err)
		}
	}
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("postgres: append: commit: %w", cerr)
	}
	if err != nil {
		return err
	}
	for i, req := range batch {
		if r := last[i]; r >= 0 {
			req.Result.Position = positions[r]
		}
	}
	s.committed()
	return nil
}

// readState reads the results of the first round trip: the streams'
// revisions and the stored events among the IDs.
func readState(br pgx.BatchResults) (map[string]uint64, map[uuid.UUID]eventstore.RecordedEvent, error) {
	for range 3 { // BEGIN, SET LOCAL, locks
		if _, err := br.Exec(); err != nil {
			return nil, nil, fmt.Errorf("postgres: append: begin: %w", err)
		}
	}
	revs := map[string]uint64{}
	var (
		stream string
		rev    int64
	)
	rows, err := br.Query()
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: append: read revisions: %w", err)
	}
	_, err = pgx.ForEachRow(rows, []any{&stream, &rev}, func() error {
		revs[stream] = uint64(rev)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: append: read revisions: %w", err)
	}
	found := map[uuid.UUID]eventstore.RecordedEvent{}
	var (
		id  [16]byte
		xid string
		pos int64
	)
	if rows, err = br.Query(); err != nil {
		return nil, nil, fmt.Errorf("postgres: append: look up event IDs: %w", err)
	}
	_, err = pgx.ForEachRow(rows, []any{&id, &stream, &rev, &xid, &pos}, func() error {
		p, err := position(xid, pos)
		found[id] = eventstore.RecordedEvent{ID: id, Stream: stream, Revision: uint64(rev), Position: p}
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: append: look up event IDs: %w", err)
	}
	return revs, found, nil
}

// readPositions reads the positions insertEvents returns for the events
// ids, in row order.
func readPositions(br pgx.BatchResults, ids [][16]byte) ([]eventstore.Position, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, insertError(err)
	}
	positions := make([]eventstore.Position, 0, len(ids))
	var (
		id  [16]byte
		xid string
		pos int64
		p   eventstore.Position
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &xid, &pos}, func() error {
		i := len(positions)
		if i >= len(ids) || id != ids[i] {
			return fmt.Errorf("postgres: append: inserted event %d is %x, want %x", i, id, ids[min(i, len(ids)-1)])
		}
		if i == 0 {
			var err error
			if p, err = position(xid, pos); err != nil {
				return err
			}
		}
		p.Prepare = uint64(pos)
		positions = append(positions, p)
		return nil
	})
	if err != nil {
		return nil, insertError(err)
	}
	if len(positions) != len(ids) {
		return nil, fmt.Errorf("postgres: append: inserted %d events, want %d", len(positions), len(ids))
	}
	return positions, nil
}

// insertError translates an error of the insert: an event ID taken
// meanwhile by another transaction is a conflict.
func insertError(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "events_pkey" {
		return fmt.Errorf("%w: append: an event ID is already stored in another stream", eventstore.ErrConflict)
	}
	return fmt.Errorf("postgres: append: insert: %w", err)
}
