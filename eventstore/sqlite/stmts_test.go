package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/eventstore/sqlite"
	"github.com/google/uuid"
)

// TestReadsCanceledAndClosed reads through the readers' prepared
// statements while contexts end mid-read (an interrupted connection is
// dropped by the pool: its statements must be finalized first) and while
// the store closes: every read that succeeds returns the stream exactly,
// the others fail with an error, and nothing crashes or races.
func TestReadsCanceledAndClosed(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 1000
	big := make([]byte, 2048)
	for i := 0; i < n; i += 500 {
		batch := make([]eventstore.EventData, 500)
		for j := range batch {
			batch[j] = eventstore.EventData{ID: uuid.New(), Type: "E", Data: fmt.Appendf(nil, `{"i":%d,"pad":"%x"}`, i+j, big[:64])}
		}
		if _, err := s.Append(ctx, "s", eventstore.Any, batch...); err != nil {
			t.Fatal(err)
		}
	}
	check := func(evs []eventstore.RecordedEvent, from uint64) error {
		for i, e := range evs {
			if e.Revision != from+uint64(i) || e.Stream != "s" {
				return fmt.Errorf("event %d: %s@%d, want s@%d", i, e.Stream, e.Revision, from+uint64(i))
			}
		}
		return nil
	}
	read := func(ctx context.Context, from uint64) error {
		evs, err := s.ReadStream(ctx, "s", from, eventstore.Forwards, n)
		if err != nil {
			return err
		}
		if len(evs) != n-int(from)+1 {
			return fmt.Errorf("read from %d: %d events, want %d", from, len(evs), n-int(from)+1)
		}
		return check(evs, from)
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	var canceled, bad int
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				cctx, cancel := context.WithTimeout(ctx, time.Duration(i*g%7)*100*time.Microsecond)
				err := read(cctx, uint64(1+i%3))
				cancel()
				mu.Lock()
				switch {
				case err == nil:
				case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || cctx.Err() != nil:
					canceled++
				default:
					bad++
					t.Errorf("read: %v", err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("%d of 160 reads ended by their context", canceled)
	// The statements of the connections that are left still work.
	for from := uint64(1); from <= 3; from++ {
		if err := read(ctx, from); err != nil {
			t.Fatal(err)
		}
	}

	// Close while reading: reads succeed or fail, none crashes.
	var reading sync.WaitGroup
	reading.Add(8)
	for range 8 {
		wg.Go(func() {
			first := true
			for range 20 {
				err := read(ctx, 1)
				if first {
					reading.Done()
					first = false
				}
				if err != nil && !errors.Is(err, eventstore.ErrClosed) {
					return // "sql: database is closed" and the like
				}
			}
		})
	}
	reading.Wait() // every reader is under way
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	wg.Wait()
	if _, err := s.ReadStream(ctx, "s", 1, eventstore.Forwards, 10); !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("read after close: %v, want ErrClosed", err)
	}
}
