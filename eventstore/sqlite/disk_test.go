package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/eventstore/sqlite"
	"github.com/confabhq/confab/internal/tmpfstest"
	"github.com/google/uuid"
)

func TestParseMinFree(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"256MB", "256MB"},
		{"1GiB", "1.1GB"},
		{"5%", "5%"},
		{"0.5%", "0.5%"},
		{"0", "0"},
		{"1000", "1.0kB"},
	} {
		m, err := sqlite.ParseMinFree(tc.in)
		if err != nil || m.String() != tc.want {
			t.Errorf("ParseMinFree(%q) = %v, %v; want %s", tc.in, m, err, tc.want)
		}
	}
	for _, in := range []string{"", "lots", "-5%", "100%", "5 %%", "-1MB"} {
		if m, err := sqlite.ParseMinFree(in); err == nil {
			t.Errorf("ParseMinFree(%q) = %v, want an error", in, m)
		}
	}
}

func diskEvent(size int) eventstore.EventData {
	return eventstore.EventData{ID: uuid.New(), Type: "Filler", Data: make([]byte, size)}
}

// waitFor polls cond until it holds or a minute passes.
func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFullDisk: below the free space to keep, appends are refused with
// ErrUnavailable and store nothing, reads go on, and appends work again
// once space is freed; with the check off, SQLite's own "disk full" is
// ErrUnavailable too.
func TestFullDisk(t *testing.T) {
	ctx := context.Background()
	dir := tmpfstest.Mount(t, 64<<20)
	minFree, err := sqlite.ParseMinFree("8MB")
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.OpenWith(ctx, filepath.Join(dir, "events.db"), sqlite.Options{MinFree: minFree})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 10 {
		if _, err := s.Append(ctx, "room-1", eventstore.Any, diskEvent(1000)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Health(ctx); err != nil {
		t.Fatalf("health on an empty disk: %v", err)
	}

	// Health reads the free space now; appends trust a reading for a
	// moment, so they see it from then on.
	big := tmpfstest.Fill(t, dir, "big", 4<<20)
	if err := s.Health(ctx); !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "below 8.0 MB") {
		t.Fatalf("health below the free space to keep: %v", err)
	}
	_, err = s.Append(ctx, "room-1", eventstore.Any, diskEvent(1000))
	if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "disk almost full") {
		t.Fatalf("append below the free space to keep: %v, want unavailable: disk almost full", err)
	}
	evs, err := s.ReadStream(ctx, "room-1", 1, eventstore.Forwards, 100)
	if err != nil || len(evs) != 10 {
		t.Fatalf("read while the disk is full: %d events, %v; want 10", len(evs), err)
	}

	if err := os.Remove(big); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	waitFor(t, "appends to work again", func() error {
		_, err := s.Append(ctx, "room-1", eventstore.Any, diskEvent(1000))
		return err
	})
	t.Logf("appends worked again %v after the space was freed", time.Since(freed).Round(time.Millisecond))
	if err := s.Health(ctx); err != nil {
		t.Fatalf("health after freeing space: %v", err)
	}
	if evs, err = s.ReadStream(ctx, "room-1", 1, eventstore.Forwards, 100); err != nil || len(evs) != 11 {
		t.Fatalf("after freeing space: %d events, %v; want 11", len(evs), err)
	}

	// Check off: SQLite runs out of space itself.
	s.Close()
	s, err = sqlite.OpenWith(ctx, filepath.Join(dir, "events.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db, err := s.OpenDB()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE filler (b BLOB)`); err != nil {
		t.Fatal(err)
	}
	big = tmpfstest.Fill(t, dir, "big", 0)
	_, err = s.Append(ctx, "room-1", eventstore.Any, diskEvent(256<<10))
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("append on a full disk: %v, want unavailable", err)
	}
	// The read models' handle fails with an error their loop and the
	// gateway take for a passing fault.
	_, err = db.ExecContext(ctx, `INSERT INTO filler VALUES (?)`, make([]byte, 256<<10))
	if !eventstore.IsTransient(err) {
		t.Fatalf("write to OpenDB's handle on a full disk: %v, want unavailable", err)
	}
	if err := s.Health(ctx); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("health after a failed commit: %v, want unavailable", err)
	}
	if err := os.Remove(big); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "room-1", eventstore.Any, diskEvent(1000)); err != nil {
		t.Fatalf("append after freeing space: %v", err)
	}
	if err := s.Health(ctx); err != nil {
		t.Fatalf("health after a commit worked: %v", err)
	}
	if evs, err = s.ReadStream(ctx, "room-1", 1, eventstore.Forwards, 100); err != nil || len(evs) != 12 {
		t.Fatalf("at the end: %d events, %v; want 12", len(evs), err)
	}
}

// TestOpenOnFullDisk: a store that cannot open for writing on a full disk
// opens read-only, and serves what it holds.
func TestOpenOnFullDisk(t *testing.T) {
	ctx := context.Background()
	dir := tmpfstest.Mount(t, 16<<20)
	path := filepath.Join(dir, "events.db")
	s, err := sqlite.OpenWith(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := s.Append(ctx, "room-1", eventstore.Any, diskEvent(1000)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	tmpfstest.Fill(t, dir, "big", 0)

	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("open on a full disk: %v", err)
	}
	defer s.Close()
	if err := s.Health(ctx); !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("health of a read-only store: %v", err)
	}
	evs, err := s.ReadStream(ctx, "room-1", 1, eventstore.Forwards, 100)
	if err != nil || len(evs) != 5 {
		t.Fatalf("read-only: %d events, %v; want 5", len(evs), err)
	}
	all, err := s.ReadAll(ctx, eventstore.Position{}, 100)
	if err != nil || len(all) != 5 {
		t.Fatalf("read-only: ReadAll %d events, %v; want 5", len(all), err)
	}
	if _, err := s.Append(ctx, "room-1", eventstore.Any, diskEvent(10)); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("append to a read-only store: %v, want unavailable", err)
	}
	db, err := s.OpenDB()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM events`).Scan(&n); err != nil || n != 5 {
		t.Fatalf("read-only handle: %d events, %v", n, err)
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM events`); !eventstore.IsTransient(err) {
		t.Fatalf("write to a read-only handle: %v, want a transient error (answered unavailable)", err)
	}
}
