package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/confabhq/confab/eventstore"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// appendBatch calls confab_append_batch (migrations/00002_append_batch.sql),
// which appends a whole batch in one statement.
const appendBatch = `SELECT status, revision, xid, "position" FROM confab_append_batch($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`

// errIDsStored tells that some event IDs of a batch are stored already.
var errIDsStored = errors.New("event IDs stored already")

// tryCommit commits batch in one transaction. On error nothing of the
// batch is stored.
//
// The common batch, whose event IDs are all new, is one statement in one
// round trip: confab_append_batch locks the streams, checks the appends
// and inserts their events. A batch that reuses event IDs (a retried
// append, an ID taken in another stream, twice the same ID) goes through
// commitChecked, which tells retries from conflicts.
func (s *Store) tryCommit(ctx context.Context, batch []*eventstore.AppendRequest) error {
	err := s.commitBatch(ctx, batch)
	if errors.Is(err, errIDsStored) {
		for _, req := range batch {
			req.Result, req.Err = eventstore.AppendResult{}, nil
		}
		return s.commitChecked(ctx, batch)
	}
	return err
}

func (s *Store) commitBatch(ctx context.Context, batch []*eventstore.AppendRequest) error {
	var (
		names    []string
		slots    = make(map[string]int32, len(batch))
		stream   = make([]int32, len(batch))
		expected = make([]int64, len(batch))
		count    = make([]int32, len(batch))
		app, ord []int32
		ids      [][16]byte
		types    []string
		data, md [][]byte
		seen     = make(map[uuid.UUID]struct{})
	)
	for i, req := range batch {
		slot, ok := slots[req.Stream]
		if !ok {
			names = append(names, req.Stream)
			slot = int32(len(names)) // 1-based, as SQL arrays
			slots[req.Stream] = slot
		}
		stream[i], expected[i], count[i] = slot, int64(req.Expected), int32(len(req.Events))
		for j := range req.Events {
			e := &req.Events[j]
			if _, dup := seen[e.ID]; dup {
				return errIDsStored // twice in this batch: one is a retry or a conflict
			}
			seen[e.ID] = struct{}{}
			app = append(app, int32(i+1))
			ord = append(ord, int32(j+1))
			ids = append(ids, e.ID)
			types = append(types, e.Type)
			data = append(data, nonNil(e.Data))
			md = append(md, nonNil(e.Metadata))
		}
	}

	rows, err := s.pool.Query(ctx, appendBatch, names, stream, expected, count, app, ord, ids, types, data, md)
	if err != nil {
		return fmt.Errorf("postgres: append: %w", err)
	}
	var (
		i        int
		status   string
		revision *int64
		xid      *string
		pos      *int64
	)
	_, err = pgx.ForEachRow(rows, []any{&status, &revision, &xid, &pos}, func() error {
		if status == "ids_stored" {
			return errIDsStored
		}
		if i >= len(batch) || revision == nil {
			return fmt.Errorf("postgres: append: unexpected result %d (%s)", i, status)
		}
		req := batch[i]
		i++
		switch status {
		case "ok":
			if xid == nil || pos == nil {
				return fmt.Errorf("postgres: append to %s: no position", req.Stream)
			}
			p, err := position(*xid, *pos)
			if err != nil {
				return err
			}
			req.Result = eventstore.AppendResult{Revision: uint64(*revision), Position: p}
		case "wrong_revision":
			req.Err = &eventstore.WrongRevisionError{Stream: req.Stream, Expected: req.Expected, Actual: uint64(*revision)}
		default:
			return fmt.Errorf("postgres: append to %s: unknown status %q", req.Stream, status)
		}
		return nil
	})
	if errors.Is(err, errIDsStored) {
		return err
	}
	if err != nil {
		return insertError(err)
	}
	if i != len(batch) {
		return fmt.Errorf("postgres: append: %d results for %d appends", i, len(batch))
	}
	s.committed()
	return nil
}

// committed wakes local subscribers and has the notifier tell other nodes.
func (s *Store) committed() {
	s.changed.Broadcast()
	select {
	case s.notify <- struct{}{}:
	default: // a notification is pending already
	}
}
