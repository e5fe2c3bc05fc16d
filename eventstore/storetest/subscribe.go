package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/confabhq/confab/eventstore"
	"github.com/google/uuid"
)

// The checks of subscriptions: stored then live events, filters, stops,
// and exactly-once delivery under concurrent writers.
// collector gathers a subscription's events.
type collector struct {
	mu     sync.Mutex
	events []eventstore.RecordedEvent
	batchN int
}

func (c *collector) handle(_ context.Context, evs []eventstore.RecordedEvent) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, evs...)
	c.batchN++
	return nil
}

func (c *collector) snapshot() []eventstore.RecordedEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]eventstore.RecordedEvent(nil), c.events...)
}

// subscribe runs a subscription in the background until the test ends.
func subscribe(t testing.TB, s eventstore.Store, after eventstore.Position, f eventstore.Filter) *collector {
	c := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Subscribe(ctx, after, f, c.handle) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("subscription ended with %v, want context.Canceled", err)
		}
	})
	return c
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after %v: %v", what, timeout, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// VerifyExactlyOnce checks that got holds each of want once, in increasing
// positions, with each stream's revisions in order from 1.
func VerifyExactlyOnce(got []eventstore.RecordedEvent, want map[uuid.UUID]bool) error {
	seen := make(map[uuid.UUID]bool, len(got))
	next := map[string]uint64{}
	for i, e := range got {
		if seen[e.ID] {
			return fmt.Errorf("event %s (%s@%d) delivered twice", e.ID, e.Stream, e.Revision)
		}
		seen[e.ID] = true
		if !want[e.ID] {
			return fmt.Errorf("event %s (%s@%d) was not appended by this test", e.ID, e.Stream, e.Revision)
		}
		if i > 0 && !e.Position.After(got[i-1].Position) {
			return fmt.Errorf("event %d at %v is not after %v", i, e.Position, got[i-1].Position)
		}
		if next[e.Stream] == 0 {
			next[e.Stream] = 1
		}
		if e.Revision != next[e.Stream] {
			return fmt.Errorf("stream %s: got revision %d, want %d", e.Stream, e.Revision, next[e.Stream])
		}
		next[e.Stream]++
	}
	if len(seen) != len(want) {
		return fmt.Errorf("delivered %d of %d events", len(seen), len(want))
	}
	return nil
}

// Subscribe checks that a subscription delivers stored and then live
// events.
func Subscribe(t testing.TB, h Harness) {
	s := open(t, h)
	p := prefix(t)
	head, err := s.Head(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	want := map[uuid.UUID]bool{}
	for i := range 5 {
		e := ev("Before", "{}")
		want[e.ID] = true
		mustAppend(t, s, p+"x", eventstore.Any, e)
		_ = i
	}
	c := subscribe(t, s, head, eventstore.Filter{StreamPrefixes: []string{p}})
	waitFor(t, "stored events delivered", func() error {
		if n := len(c.snapshot()); n != 5 {
			return fmt.Errorf("%d delivered", n)
		}
		return nil
	})
	for range 5 {
		e := ev("After", "{}")
		want[e.ID] = true
		mustAppend(t, s, p+"x", eventstore.Any, e)
	}
	waitFor(t, "live events delivered", func() error { return VerifyExactlyOnce(c.snapshot(), want) })
}

// SubscribeFilter checks stream-prefix and event-type filters.
func SubscribeFilter(t testing.TB, h Harness) {
	s := open(t, h)
	p := prefix(t)
	head, err := s.Head(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	rooms := subscribe(t, s, head, eventstore.Filter{StreamPrefixes: []string{p + "room-"}})
	posted := subscribe(t, s, head, eventstore.Filter{StreamPrefixes: []string{p}, EventTypes: []string{"Posted"}})
	wantRooms, wantPosted := map[uuid.UUID]bool{}, map[uuid.UUID]bool{}
	for i := range 12 {
		stream := fmt.Sprintf("%suser-%d", p, i%2)
		if i%3 == 0 {
			stream = fmt.Sprintf("%sroom-%d", p, i%2)
		}
		typ := "Joined"
		if i%2 == 0 {
			typ = "Posted"
		}
		e := ev(typ, "{}")
		if strings.HasPrefix(stream, p+"room-") {
			wantRooms[e.ID] = true
		}
		if typ == "Posted" {
			wantPosted[e.ID] = true
		}
		mustAppend(t, s, stream, eventstore.Any, e)
	}
	// The filtered subscriptions see revisions with holes, so only check
	// membership and order here.
	check := func(c *collector, want map[uuid.UUID]bool) func() error {
		return func() error {
			got := c.snapshot()
			if len(got) != len(want) {
				return fmt.Errorf("got %d events, want %d", len(got), len(want))
			}
			for i, e := range got {
				if !want[e.ID] {
					return fmt.Errorf("unwanted event %s %s", e.Stream, e.Type)
				}
				if i > 0 && !e.Position.After(got[i-1].Position) {
					return fmt.Errorf("out of order at %d", i)
				}
			}
			return nil
		}
	}
	waitFor(t, "room events", check(rooms, wantRooms))
	waitFor(t, "posted events", check(posted, wantPosted))
}

// SubscribeStops checks that Subscribe returns the handler's error and
// ctx.Err() when its context ends.
func SubscribeStops(t testing.TB, h Harness) {
	s := open(t, h)
	p := prefix(t)
	ctx := ctxT(t)
	head, err := s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, p+"x", eventstore.Any, ev("A", "{}"))
	boom := errors.New("boom")
	err = s.Subscribe(ctx, head, eventstore.Filter{StreamPrefixes: []string{p}}, func(context.Context, []eventstore.RecordedEvent) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("Subscribe returned %v, want the handler's error", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	err = s.Subscribe(cctx, head, eventstore.Filter{StreamPrefixes: []string{p + "none"}}, func(context.Context, []eventstore.RecordedEvent) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Subscribe returned %v when its context ended, want context.DeadlineExceeded", err)
	}
}

// writeConcurrently runs writers goroutines, each appending perWriter events
// one per append to streams chosen among streams, and records their IDs.
func writeConcurrently(t testing.TB, s eventstore.Store, p string, writers, streams, perWriter int, want map[uuid.UUID]bool, mu *sync.Mutex) func() {
	var wg sync.WaitGroup
	ctx := ctxT(t)
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				e := ev("Stress", fmt.Sprintf(`{"w":%d,"i":%d}`, w, i))
				mu.Lock()
				want[e.ID] = true
				mu.Unlock()
				stream := fmt.Sprintf("%s%d", p, (w*perWriter+i)%streams)
				if _, err := s.Append(ctx, stream, eventstore.Any, e); err != nil {
					errs <- fmt.Errorf("writer %d append %d: %w", w, i, err)
					return
				}
			}
		})
	}
	return func() {
		t.Helper()
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
}

// Stress runs 16 concurrent writers over many streams while a subscriber
// tails the store: it must see every event exactly once, in increasing
// positions, each stream's revisions in order.
func Stress(t testing.TB, h Harness) {
	s := open(t, h)
	p := prefix(t)
	head, err := s.Head(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	c := subscribe(t, s, head, eventstore.Filter{StreamPrefixes: []string{p}})
	var mu sync.Mutex
	want := map[uuid.UUID]bool{}
	wait := writeConcurrently(t, s, p, 16, 40, 150, want, &mu)
	wait()
	waitFor(t, "subscriber saw every event exactly once", func() error { return VerifyExactlyOnce(c.snapshot(), want) })
	// A second subscriber reading the same range from the store agrees.
	c2 := subscribe(t, s, head, eventstore.Filter{StreamPrefixes: []string{p}})
	waitFor(t, "a catch-up subscriber saw every event exactly once", func() error { return VerifyExactlyOnce(c2.snapshot(), want) })
	got, got2 := c.snapshot(), c2.snapshot()
	for i := range got {
		if got[i].ID != got2[i].ID {
			t.Fatalf("live and catch-up subscribers disagree on the order at %d", i)
		}
	}
}

// CatchUpHandOver starts a subscriber from the beginning of many stored
// events while writers keep appending: the subscriber passes from catching
// up to live with no gap and no duplicate.
func CatchUpHandOver(t testing.TB, h Harness) {
	s := open(t, h)
	p := prefix(t)
	head, err := s.Head(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	want := map[uuid.UUID]bool{}
	writeConcurrently(t, s, p, 8, 10, 250, want, &mu)()
	wait := writeConcurrently(t, s, p+"live-", 8, 10, 100, want, &mu)
	c := subscribe(t, s, head, eventstore.Filter{StreamPrefixes: []string{p}})
	wait()
	waitFor(t, "subscriber saw every event exactly once", func() error { return VerifyExactlyOnce(c.snapshot(), want) })
}
