package postgres

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/eventstore/storetest"
	"github.com/confabhq/confab/internal/pgtest"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// harness opens each test's store on a fresh database.
func harness(opts Options) storetest.Harness {
	urls := map[eventstore.Store]string{}
	open := func(t testing.TB, url string) eventstore.Store {
		s, err := Open(context.Background(), url, opts)
		if err != nil {
			t.Fatal(err)
		}
		urls[s] = url
		return s
	}
	return storetest.Harness{
		Open: func(t testing.TB) eventstore.Store { return open(t, pgtest.NewTestDatabase(t)) },
		Reopen: func(t testing.TB, s eventstore.Store) eventstore.Store {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, urls[s])
		},
	}
}

func TestConformance(t *testing.T) { storetest.Run(t, harness(Options{})) }

// TestConformanceUnbatched runs the suite with one append per transaction
// and many concurrent transactions, the hardest case for the global order.
func TestConformanceUnbatched(t *testing.T) {
	storetest.Run(t, harness(Options{Writers: 16, MaxBatch: 1}))
}

// naiveReadAll is the classic broken reader: it trusts that positions
// become visible in order, and reads "position > last".
func naiveReadAll(ctx context.Context, pool *pgxpool.Pool, after eventstore.Position, limit int) ([]eventstore.RecordedEvent, error) {
	rows, err := pool.Query(ctx, `SELECT '0', position, id, stream, revision, type, data, metadata, recorded_at
		FROM events WHERE position > $1 ORDER BY position LIMIT $2`, int64(after.Prepare), limit)
	if err != nil {
		return nil, err
	}
	return scan(rows, nil)
}

// TestStressCatchesNaiveReader shows that the stress check fails a store
// whose reader lacks the xmin gate: concurrent writers commit positions
// out of order and the naive reader skips the late ones.
func TestStressCatchesNaiveReader(t *testing.T) {
	h := harness(Options{Writers: 16, MaxBatch: 1, readAll: naiveReadAll})
	failures := storetest.Fails(t, storetest.Stress, h)
	if len(failures) == 0 {
		t.Fatal("the stress check passed a store that reads position > last without the xmin gate")
	}
	t.Logf("the stress check caught the naive reader: %s", strings.Join(failures, "; "))
}

// TestBatchIsolation commits one batch in which an append fails its checks
// between good ones: only that append fails; the others are stored.
func TestBatchIsolation(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, pgtest.NewTestDatabase(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	taken := uuid.New()
	batch := []*eventstore.AppendRequest{
		{Stream: "a", Expected: eventstore.NoStream, Events: []eventstore.EventData{{ID: taken, Type: "A"}}},
		{Stream: "b", Expected: eventstore.Any, Events: []eventstore.EventData{{ID: taken, Type: "B"}}},
		{Stream: "c", Expected: eventstore.Exact(5), Events: []eventstore.EventData{{ID: uuid.New(), Type: "C"}}},
		{Stream: "a", Expected: eventstore.Exact(1), Events: []eventstore.EventData{{ID: uuid.New(), Type: "A2"}}},
	}
	if err := s.commit(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if batch[0].Err != nil || batch[3].Err != nil || batch[3].Result.Revision != 2 {
		t.Errorf("good appends: %v %v %+v", batch[0].Err, batch[3].Err, batch[3].Result)
	}
	if !errors.Is(batch[1].Err, eventstore.ErrConflict) {
		t.Errorf("ID taken in another stream: %v, want ErrConflict", batch[1].Err)
	}
	var wre *eventstore.WrongRevisionError
	if !errors.As(batch[2].Err, &wre) || wre.Actual != 0 {
		t.Errorf("wrong revision: %v", batch[2].Err)
	}
	for stream, want := range map[string]int{"a": 2, "b": 0, "c": 0} {
		got, err := s.ReadStream(ctx, stream, 1, eventstore.Forwards, 10)
		if err != nil || len(got) != want {
			t.Errorf("stream %s: %d events (%v), want %d", stream, len(got), err, want)
		}
	}
}

// TestMigrateTwice opens a store twice on one database: the second open
// finds the schema up to date.
func TestMigrateTwice(t *testing.T) {
	url := pgtest.NewTestDatabase(t)
	for i := range 2 {
		s, err := Open(context.Background(), url, Options{})
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		s.Close()
	}
}
