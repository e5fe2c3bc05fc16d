package bus_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/confabhq/confab/bus"
	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/eventstore/sqlite"
	"github.com/confabhq/confab/eventstore/storetest"
	"github.com/google/uuid"
)

func openStore(t *testing.T) eventstore.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// consumer records what Follow delivers.
type consumer struct {
	mu     sync.Mutex
	events []eventstore.RecordedEvent
}

func (c *consumer) handle(_ context.Context, evs []eventstore.RecordedEvent) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, evs...)
	return nil
}

func (c *consumer) got() []eventstore.RecordedEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]eventstore.RecordedEvent(nil), c.events...)
}

// run runs f in the background until the test ends; it must end with
// context.Canceled.
func run(t *testing.T, f func(ctx context.Context) error) context.CancelFunc {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("ended with %v, want context.Canceled", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func waitFor(t *testing.T, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// write appends n events from 8 writers over 20 streams and records them.
func write(t *testing.T, s eventstore.Store, p string, n int, want map[uuid.UUID]bool, mu *sync.Mutex) {
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range n / 8 {
				e := eventstore.EventData{ID: uuid.New(), Type: "Posted", Data: []byte(`{}`)}
				mu.Lock()
				want[e.ID] = true
				mu.Unlock()
				if _, err := s.Append(context.Background(), fmt.Sprintf("%s%d", p, (w+i)%20), eventstore.Any, e); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestFollow starts consumers before the relay, during writes and after
// a relay restart that skipped ahead: each sees every event exactly once,
// in order.
func TestFollow(t *testing.T) {
	s := openStore(t)
	pubsub := bus.NewGoChannel(nil)
	t.Cleanup(func() { pubsub.Close() })
	var mu sync.Mutex
	want := map[uuid.UUID]bool{}

	// Events stored before anything runs.
	write(t, s, "room-", 400, want, &mu)

	early := &consumer{}
	run(t, func(ctx context.Context) error {
		return bus.Follow(ctx, s, pubsub, eventstore.Start, eventstore.Filter{}, early.handle)
	})
	relay, err := bus.NewRelay(s, pubsub, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The relay starts at the head: consumers get older events from the
	// store.
	head, err := s.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	stopRelay := run(t, func(ctx context.Context) error { return relay.Run(ctx, head) })

	var wg sync.WaitGroup
	wg.Go(func() { write(t, s, "room-", 800, want, &mu) })
	late := &consumer{}
	run(t, func(ctx context.Context) error {
		return bus.Follow(ctx, s, pubsub, eventstore.Start, eventstore.Filter{}, late.handle)
	})
	wg.Wait()

	// The relay stops; events are appended; a new relay starts from the
	// head, so those events are never published: consumers must read them
	// from the store when the next message shows the gap.
	stopRelay()
	write(t, s, "room-", 200, want, &mu)
	head, err = s.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	run(t, func(ctx context.Context) error { return relay.Run(ctx, head) })
	write(t, s, "room-", 200, want, &mu)

	for name, c := range map[string]*consumer{"early": early, "late": late} {
		waitFor(t, func() error {
			if err := storetest.VerifyExactlyOnce(c.got(), want); err != nil {
				return fmt.Errorf("%s consumer: %w", name, err)
			}
			return nil
		})
	}
}

// TestFollowFilter checks that a filtered consumer sees only its events.
func TestFollowFilter(t *testing.T) {
	s := openStore(t)
	pubsub := bus.NewGoChannel(nil)
	t.Cleanup(func() { pubsub.Close() })
	relay, err := bus.NewRelay(s, pubsub, nil)
	if err != nil {
		t.Fatal(err)
	}
	run(t, func(ctx context.Context) error { return relay.Run(ctx, eventstore.Start) })
	c := &consumer{}
	run(t, func(ctx context.Context) error {
		return bus.Follow(ctx, s, pubsub, eventstore.Start, eventstore.Filter{StreamPrefixes: []string{"room-"}}, c.handle)
	})
	var mu sync.Mutex
	want, other := map[uuid.UUID]bool{}, map[uuid.UUID]bool{}
	write(t, s, "room-", 160, want, &mu)
	write(t, s, "user-", 160, other, &mu)
	write(t, s, "room-", 160, want, &mu)
	waitFor(t, func() error { return storetest.VerifyExactlyOnce(c.got(), want) })
}

// TestFollowHandlerError checks that Follow stops with the handler's error.
func TestFollowHandlerError(t *testing.T) {
	s := openStore(t)
	pubsub := bus.NewGoChannel(nil)
	t.Cleanup(func() { pubsub.Close() })
	if _, err := s.Append(context.Background(), "room-1", eventstore.Any, eventstore.EventData{ID: uuid.New(), Type: "A"}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := bus.Follow(context.Background(), s, pubsub, eventstore.Start, eventstore.Filter{}, func(context.Context, []eventstore.RecordedEvent) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("Follow returned %v, want the handler's error", err)
	}
}

// TestFollowSlowHandler checks that a consumer that cannot keep up does
// not hold up the bus: the relay keeps publishing to a fast consumer, and
// the slow one skips messages and reads what it missed from the store.
func TestFollowSlowHandler(t *testing.T) {
	s := openStore(t)
	pubsub := bus.NewGoChannel(nil)
	t.Cleanup(func() { pubsub.Close() })
	relay, err := bus.NewRelay(s, pubsub, nil)
	if err != nil {
		t.Fatal(err)
	}
	run(t, func(ctx context.Context) error { return relay.Run(ctx, eventstore.Start) })
	release := make(chan struct{})
	slow := &consumer{}
	run(t, func(ctx context.Context) error {
		return bus.Follow(ctx, s, pubsub, eventstore.Start, eventstore.Filter{}, func(ctx context.Context, evs []eventstore.RecordedEvent) error {
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
			return slow.handle(ctx, evs)
		})
	})
	fast := &consumer{}
	run(t, func(ctx context.Context) error {
		return bus.Follow(ctx, s, pubsub, eventstore.Start, eventstore.Filter{}, fast.handle)
	})
	var mu sync.Mutex
	want := map[uuid.UUID]bool{}
	write(t, s, "room-", 2000, want, &mu)
	// The fast consumer gets everything while the slow one is stuck.
	waitFor(t, func() error { return storetest.VerifyExactlyOnce(fast.got(), want) })
	close(release)
	waitFor(t, func() error { return storetest.VerifyExactlyOnce(slow.got(), want) })
}

func TestEncodeDecode(t *testing.T) {
	at := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	in := []eventstore.RecordedEvent{{
		ID: uuid.New(), Stream: "room-1", Revision: 7, Position: eventstore.Position{Commit: 9, Prepare: 3},
		Type: "MessagePosted", Data: []byte(`{"text":"hi"}`), Metadata: []byte{0, 1, 2}, RecordedAt: at,
	}}
	msg, err := bus.Encode(eventstore.Position{Commit: 8, Prepare: 1}, in)
	if err != nil {
		t.Fatal(err)
	}
	prev, out, err := bus.Decode(msg)
	if err != nil {
		t.Fatal(err)
	}
	if prev != (eventstore.Position{Commit: 8, Prepare: 1}) || len(out) != 1 {
		t.Fatalf("decoded %v %d events", prev, len(out))
	}
	if fmt.Sprint(out[0]) != fmt.Sprint(in[0]) {
		t.Fatalf("decoded %+v, want %+v", out[0], in[0])
	}
	msg.Payload = []byte("{not json")
	if _, _, err := bus.Decode(msg); err == nil {
		t.Fatal("decoding garbage succeeded")
	}
}

// limited is an in-process bus that caps message payloads, and records
// the size and number of events of every message published on it.
type limited struct {
	*gochannel.GoChannel
	limit int

	mu     sync.Mutex
	sizes  []int
	counts []int
}

func (l *limited) MaxPayload() int { return l.limit }

func (l *limited) Publish(topic string, msgs ...*message.Message) error {
	l.mu.Lock()
	for _, m := range msgs {
		_, evs, err := bus.Decode(m)
		if err != nil {
			l.mu.Unlock()
			return err
		}
		l.sizes = append(l.sizes, len(m.Payload))
		l.counts = append(l.counts, len(evs))
	}
	l.mu.Unlock()
	return l.GoChannel.Publish(topic, msgs...)
}

// TestRelaySplitsBatches checks that a relay publishing to a bus with a
// payload limit splits batches to fit, and leaves an event too big for any
// message to the store: consumers still get every event once, in order.
func TestRelaySplitsBatches(t *testing.T) {
	s := openStore(t)
	pubsub := &limited{GoChannel: bus.NewGoChannel(nil), limit: 4000}
	t.Cleanup(func() { pubsub.Close() })
	want := map[uuid.UUID]bool{}
	appendSized := func(n, size int) {
		for i := range n {
			e := eventstore.EventData{ID: uuid.New(), Type: "Posted", Data: []byte(fmt.Sprintf(`{"t":%q}`, strings.Repeat("x", size)))}
			want[e.ID] = true
			if _, err := s.Append(context.Background(), fmt.Sprintf("room-%d", i%3), eventstore.Any, e); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The consumer starts first, so that it gets the events from the bus
	// (but the big one).
	c := &consumer{}
	run(t, func(ctx context.Context) error {
		return bus.Follow(ctx, s, pubsub, eventstore.Start, eventstore.Filter{}, c.handle)
	})
	appendSized(100, 100)
	appendSized(1, 10000) // too big for any message
	appendSized(100, 100)
	relay, err := bus.NewRelay(s, pubsub, nil)
	if err != nil {
		t.Fatal(err)
	}
	run(t, func(ctx context.Context) error { return relay.Run(ctx, eventstore.Start) })
	appendSized(50, 100)
	waitFor(t, func() error { return storetest.VerifyExactlyOnce(c.got(), want) })
	waitFor(t, func() error {
		pubsub.mu.Lock()
		defer pubsub.mu.Unlock()
		empty, total := 0, 0
		for i, size := range pubsub.sizes {
			if size > pubsub.limit {
				t.Fatalf("message %d has %d bytes, over the limit of %d", i, size, pubsub.limit)
			}
			if pubsub.counts[i] == 0 {
				empty++
			}
			total += pubsub.counts[i]
		}
		if empty != 1 || total != len(want)-1 {
			return fmt.Errorf("%d messages carried %d events and %d none; want %d events, and one message for the big one", len(pubsub.sizes), total, empty, len(want)-1)
		}
		return nil
	})
}
