package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/eventstore/sqlite"
	"github.com/google/uuid"
)

func ev(typ string) eventstore.EventData {
	return eventstore.EventData{ID: uuid.New(), Type: typ, Data: []byte(`{}`)}
}

// TestOtherWriter appends through two stores on one file, as the server
// and the admin CLI would: each store's cached revision of the stream goes
// stale when the other appends, and must not lead to a wrong check, a
// wrong revision or a lost append.
func TestOtherWriter(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.db")
	a, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	appendOK := func(s eventstore.Store, exp eventstore.ExpectedRevision, want uint64) {
		t.Helper()
		res, err := s.Append(ctx, "s", exp, ev("E"))
		if err != nil || res.Revision != want {
			t.Fatalf("append expecting %s: %+v %v, want revision %d", exp, res, err, want)
		}
	}
	appendOK(a, eventstore.NoStream, 1) // a caches 1
	appendOK(b, eventstore.Exact(1), 2) // b reads 1 from the file
	appendOK(a, eventstore.Any, 3)      // a's cache says 1: the insert at 2 conflicts, a rereads
	appendOK(b, eventstore.Exact(3), 4) // b's cache says 2: the check fails, b rereads
	appendOK(a, eventstore.StreamExists, 5)
	_, err = b.Append(ctx, "s", eventstore.Exact(4), ev("E")) // b's cache says 4, the file 5
	var wre *eventstore.WrongRevisionError
	if !errors.As(err, &wre) || wre.Actual != 5 {
		t.Fatalf("append expecting 4 at 5: %v, want a WrongRevisionError with actual 5", err)
	}
	// A retry through the other store returns the original result.
	e := ev("R")
	first, err := a.Append(ctx, "s", eventstore.Exact(5), e)
	if err != nil {
		t.Fatal(err)
	}
	again, err := b.Append(ctx, "s", eventstore.Any, e)
	if err != nil || again != first {
		t.Fatalf("retry through the other store: %+v %v, want %+v", again, err, first)
	}

	got, err := a.ReadStream(ctx, "s", 1, eventstore.Forwards, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 {
		t.Fatalf("stream has %d events, want 6", len(got))
	}
	for i, e := range got {
		if e.Revision != uint64(i+1) {
			t.Fatalf("event %d has revision %d", i, e.Revision)
		}
		if i > 0 && !e.Position.After(got[i-1].Position) {
			t.Fatalf("event %d at %v is not after %v", i, e.Position, got[i-1].Position)
		}
	}
}

// TestReadAllHoles reads all events in pages large enough to be split
// between two connections, over positions with holes (another writer may
// leave some): every event comes once, in order.
func TestReadAllHoles(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db, err := sqlite.OpenDB(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	// Positions 1-700, 1500-2299 (a hole of 799), 2301-2400 (a hole of 1).
	var positions []int64
	for p := int64(1); p <= 2400; p++ {
		if (p > 700 && p < 1500) || p == 2300 {
			continue
		}
		positions = append(positions, p)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range positions {
		id := uuid.New()
		if _, err := tx.ExecContext(ctx, `INSERT INTO events (position, id, stream, revision, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, 'E', x'7b7d', x'', ?)`,
			p, id[:], "holes", i+1, time.Now().UnixMicro()); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// Reopen, so that the store knows the events are all committed and
	// splits its reads.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = sqlite.Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	for _, limit := range []int{512, 1000, 1024, 4096} {
		t.Run(fmt.Sprint("limit=", limit), func(t *testing.T) {
			var got []int64
			after := eventstore.Start
			for {
				page, err := s.ReadAll(ctx, after, limit)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) > limit {
					t.Fatalf("page of %d events, limit %d", len(page), limit)
				}
				if len(page) == 0 {
					break
				}
				for _, e := range page {
					got = append(got, int64(e.Position.Commit))
				}
				after = page[len(page)-1].Position
			}
			if fmt.Sprint(got) != fmt.Sprint(positions) {
				t.Fatalf("read %d events, want %d in order (first difference at %d)", len(got), len(positions), firstDiff(got, positions))
			}
		})
	}
}

func firstDiff(a, b []int64) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
