package postgres

import (
	"context"
	"errors"
	"fmt"
	neturl "net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/internal/pgtest"
	"github.com/google/uuid"
)

// TestSurvivesServerFaults runs a store and a subscriber on a PostgreSQL
// server of the test's own through a restart (-m fast), connections
// terminated by an administrator, and the server held down: appends
// while it is down fail at once with ErrUnavailable, nothing is stored
// for them, appends succeed again once it is back without reopening the
// store, and a subscriber that subscribes again from its last event when
// its subscription fails (with ErrUnavailable) receives every stored
// event once, in order.
func TestSurvivesServerFaults(t *testing.T) {
	pg := pgtest.StartForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	url, err := pg.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// The subscriber subscribes again from its last event when its
	// subscription ends with an error, as the relay does; such errors
	// must say the store is unavailable.
	var (
		mu   sync.Mutex
		got  []uuid.UUID
		last eventstore.Position
		bad  []error
	)
	subCtx, stopSub := context.WithCancel(ctx)
	subDone := make(chan struct{})
	go func() {
		defer close(subDone)
		for subCtx.Err() == nil {
			err := s.Subscribe(subCtx, last, eventstore.Filter{}, func(_ context.Context, evs []eventstore.RecordedEvent) error {
				mu.Lock()
				defer mu.Unlock()
				for _, e := range evs {
					got = append(got, e.ID)
					last = e.Position
				}
				return nil
			})
			if subCtx.Err() == nil && !errors.Is(err, eventstore.ErrUnavailable) {
				mu.Lock()
				bad = append(bad, err)
				mu.Unlock()
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	var stored []uuid.UUID
	appendOne := func(what string) error {
		id := uuid.New()
		_, err := s.Append(ctx, "room-faults", eventstore.Any, eventstore.EventData{ID: id, Type: "T", Data: []byte(what)})
		if err == nil {
			stored = append(stored, id)
		}
		return err
	}
	// appendUntil appends until an append succeeds (the first ones after
	// a fault may find a dead connection), accepting only ErrUnavailable.
	appendUntil := func(what string) {
		t.Helper()
		for {
			err := appendOne(what)
			if err == nil {
				return
			}
			if !errors.Is(err, eventstore.ErrUnavailable) {
				t.Fatalf("append %s: %v, want success or ErrUnavailable", what, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	appendUntil("before")

	if err := pg.Restart("fast"); err != nil {
		t.Fatal(err)
	}
	appendUntil("after a restart")

	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pg.TerminateBackends(ctx, strings.TrimPrefix(u.Path, "/")); err != nil {
		t.Fatal(err)
	}
	appendUntil("after pg_terminate_backend")

	if err := pg.Halt("immediate"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		start := time.Now()
		err := appendOne(fmt.Sprint("while down ", i))
		if !errors.Is(err, eventstore.ErrUnavailable) {
			t.Fatalf("append while the server is down: %v, want ErrUnavailable", err)
		}
		t.Logf("append while down refused in %v: %v", time.Since(start).Round(time.Millisecond), err)
	}
	if _, err := s.Head(ctx); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Errorf("Head while the server is down: %v, want ErrUnavailable", err)
	}
	if err := pg.Resume(); err != nil {
		t.Fatal(err)
	}
	appendUntil("after the server came back")

	deadline := time.Now().Add(time.Minute)
	for {
		mu.Lock()
		n := len(got)
		same := n == len(stored)
		for i := 0; same && i < n; i++ {
			same = got[i] == stored[i]
		}
		mu.Unlock()
		if same {
			break
		}
		if time.Now().After(deadline) || n > len(stored) {
			t.Fatalf("the subscriber got %d events, want the %d stored, in order", n, len(stored))
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopSub()
	<-subDone
	for _, err := range bad {
		t.Errorf("a subscription ended with %v, want ErrUnavailable", err)
	}
}
