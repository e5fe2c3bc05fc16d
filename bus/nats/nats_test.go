package nats_test

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
	"github.com/confabhq/confab/bus"
	"github.com/confabhq/confab/bus/nats"
	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/eventstore/sqlite"
	"github.com/confabhq/confab/eventstore/storetest"
	"github.com/confabhq/confab/internal/natstest"
	"github.com/google/uuid"
	natsgo "github.com/nats-io/nats.go"
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

func openBus(t *testing.T, url string) *nats.Bus {
	t.Helper()
	b, err := nats.Open(context.Background(), nats.Config{URL: url, Name: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return b
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

// waitFor polls cond until it returns nil, failing the test after limit
// with its last error.
func waitFor(t *testing.T, limit time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
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

// tap records the messages of bus.Topic as they arrive, decoded.
type tap struct {
	mu   sync.Mutex
	msgs []tapped
	err  error
}

type tapped struct {
	id     string
	prev   eventstore.Position
	events []eventstore.RecordedEvent
}

func startTap(t *testing.T, sub message.Subscriber) *tap {
	tp := &tap{}
	ctx, cancel := context.WithCancel(context.Background())
	msgs, err := sub.Subscribe(ctx, bus.Topic)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for msg := range msgs {
			prev, events, err := bus.Decode(msg)
			msg.Ack()
			tp.mu.Lock()
			if err != nil && tp.err == nil {
				tp.err = err
			}
			tp.msgs = append(tp.msgs, tapped{msg.UUID, prev, events})
			tp.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return tp
}

// chain checks that the tapped messages form one chain, each starting
// where the previous one ended, and returns their events.
func (tp *tap) chain() ([]eventstore.RecordedEvent, error) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if tp.err != nil {
		return nil, tp.err
	}
	var all []eventstore.RecordedEvent
	var end eventstore.Position
	for i, m := range tp.msgs {
		if i > 0 && m.prev != end {
			return nil, fmt.Errorf("message %d (%s) follows %v, but the previous one ended at %v", i, m.id, m.prev, end)
		}
		if len(m.events) == 0 {
			return nil, fmt.Errorf("message %d (%s) has no events", i, m.id)
		}
		end = m.events[len(m.events)-1].Position
		if m.id != bus.MessageID(end) {
			return nil, fmt.Errorf("message %d has ID %s, want %s", i, m.id, bus.MessageID(end))
		}
		all = append(all, m.events...)
	}
	return all, nil
}

// write appends n events from 6 writers over 10 streams, recording their
// IDs in want.
func write(t *testing.T, s eventstore.Store, n int, want map[uuid.UUID]bool, mu *sync.Mutex) {
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for i := range n / 6 {
				e := eventstore.EventData{ID: uuid.New(), Type: "Posted", Data: []byte(`{}`)}
				mu.Lock()
				want[e.ID] = true
				mu.Unlock()
				if _, err := s.Append(context.Background(), fmt.Sprintf("room-%d", (w+i)%10), eventstore.Any, e); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestRelaysOnThreeNodes runs three nodes' worth of relays and consumers
// on one store and one NATS server: every consumer gets every event once,
// in order, and the stream carries each event once, in one chain, however
// the relays raced.
func TestRelaysOnThreeNodes(t *testing.T) {
	url := natstest.Start(t)
	s := openStore(t)
	var mu sync.Mutex
	want := map[uuid.UUID]bool{}
	write(t, s, 120, want, &mu) // before anything runs: consumers read them from the store

	var buses []*nats.Bus
	for range 3 {
		buses = append(buses, openBus(t, url))
	}
	tp := startTap(t, buses[0])
	var consumers []*consumer
	for _, b := range buses {
		c := &consumer{}
		consumers = append(consumers, c)
		run(t, func(ctx context.Context) error {
			return bus.Follow(ctx, s, b, eventstore.Start, eventstore.Filter{}, c.handle)
		})
	}
	head, err := s.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range buses {
		relay, err := bus.NewRelay(s, b, nil)
		if err != nil {
			t.Fatal(err)
		}
		run(t, func(ctx context.Context) error { return relay.Run(ctx, head) })
	}
	write(t, s, 1200, want, &mu)

	for i, c := range consumers {
		waitFor(t, 30*time.Second, func() error {
			if err := storetest.VerifyExactlyOnce(c.got(), want); err != nil {
				return fmt.Errorf("consumer %d: %w", i, err)
			}
			return nil
		})
	}
	waitFor(t, 30*time.Second, func() error {
		evs, err := tp.chain()
		if err != nil {
			return err
		}
		if len(evs) != 1200 {
			return fmt.Errorf("the stream carried %d events, want 1200", len(evs))
		}
		seen := map[uuid.UUID]bool{}
		for _, e := range evs {
			if seen[e.ID] || !want[e.ID] {
				return fmt.Errorf("the stream carried %s twice or unasked", e.ID)
			}
			seen[e.ID] = true
		}
		return nil
	})
	tp.mu.Lock()
	t.Logf("1200 events in %d messages", len(tp.msgs))
	tp.mu.Unlock()
}

// TestRelayTakesOver stops one of two relays: the other goes on, and a
// consumer of the stopped relay's bus misses nothing.
func TestRelayTakesOver(t *testing.T) {
	url := natstest.Start(t)
	s := openStore(t)
	a, b := openBus(t, url), openBus(t, url)
	c := &consumer{}
	run(t, func(ctx context.Context) error {
		return bus.Follow(ctx, s, a, eventstore.Start, eventstore.Filter{}, c.handle)
	})
	stopA := run(t, func(ctx context.Context) error {
		relay, _ := bus.NewRelay(s, a, nil)
		return relay.Run(ctx, eventstore.Start)
	})
	run(t, func(ctx context.Context) error {
		relay, _ := bus.NewRelay(s, b, nil)
		return relay.Run(ctx, eventstore.Start)
	})
	var mu sync.Mutex
	want := map[uuid.UUID]bool{}
	write(t, s, 300, want, &mu)
	stopA()
	write(t, s, 300, want, &mu)
	waitFor(t, 30*time.Second, func() error { return storetest.VerifyExactlyOnce(c.got(), want) })
}

// TestPublishAfter checks the conditional publish the relays rely on.
func TestPublishAfter(t *testing.T) {
	url := natstest.Start(t)
	b := openBus(t, url)
	msg := func(pos uint64) *message.Message {
		m, err := bus.Encode(eventstore.Position{Commit: pos - 1, Prepare: pos - 1}, []eventstore.RecordedEvent{{
			ID: uuid.New(), Stream: "room-1", Revision: pos, Position: eventstore.Position{Commit: pos, Prepare: pos}, Type: "Posted",
		}})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	notLast := func(err error, want string) {
		t.Helper()
		var nl *bus.NotLastError
		if !errors.As(err, &nl) {
			t.Fatalf("got %v, want a *bus.NotLastError", err)
		}
		if nl.Last != want {
			t.Fatalf("the last message is %q, want %q", nl.Last, want)
		}
	}

	// Relays that find the stream empty race: one wins.
	var wg sync.WaitGroup
	results := make(chan error, 4)
	for i := range 4 {
		x := openBus(t, url)
		wg.Go(func() { results <- x.PublishAfter(bus.Topic, "", msg(uint64(i+1))) })
	}
	wg.Wait()
	close(results)
	won := 0
	for err := range results {
		var nl *bus.NotLastError
		switch {
		case err == nil:
			won++
		case !errors.As(err, &nl):
			t.Fatal(err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of 4 publishes to an empty stream succeeded, want 1", won)
	}
	err := b.PublishAfter(bus.Topic, "", msg(9))
	var nl *bus.NotLastError
	if !errors.As(err, &nl) || nl.Last == "" {
		t.Fatalf("publish expecting no last message: %v, want a refusal naming the last message", err)
	}

	if err := b.PublishAfter(bus.Topic, nl.Last, msg(10)); err != nil {
		t.Fatal(err)
	}
	notLast(b.PublishAfter(bus.Topic, "pos-3-3", msg(11)), "pos-10-10")
	notLast(b.PublishAfter(bus.Topic, "", msg(11)), "pos-10-10")
	if err := b.PublishAfter(bus.Topic, "pos-10-10", msg(11)); err != nil {
		t.Fatal(err)
	}
	// A retry of a stored message (its ack was lost) is taken as done.
	if err := b.PublishAfter(bus.Topic, "pos-10-10", msg(11)); err != nil {
		t.Fatalf("retried publish: %v", err)
	}
}

// TestEphemeral checks that frames on other topics reach every bus, and
// only those subscribed.
func TestEphemeral(t *testing.T) {
	url := natstest.Start(t)
	a, b := openBus(t, url), openBus(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ins []<-chan *message.Message
	for _, x := range []*nats.Bus{a, b} {
		in, err := x.Subscribe(ctx, "confab.ephemeral")
		if err != nil {
			t.Fatal(err)
		}
		ins = append(ins, in)
	}
	// Core NATS delivers only to subscriptions the server knows of: retry
	// until the first frame gets through.
	deadline := time.Now().Add(10 * time.Second)
	for i, in := range ins {
		for got := false; !got; {
			if err := a.Publish("confab.ephemeral", message.NewMessage(uuid.NewString(), []byte(`{"n":1}`))); err != nil {
				t.Fatal(err)
			}
			select {
			case m := <-in:
				m.Ack()
				if string(m.Payload) != `{"n":1}` {
					t.Fatalf("bus %d got %q", i, m.Payload)
				}
				got = true
			case <-time.After(100 * time.Millisecond):
				if time.Now().After(deadline) {
					t.Fatalf("bus %d got no frame", i)
				}
			}
		}
	}
}

// TestNATSRestart restarts the NATS server under running relays and
// consumers: the consumers still get every event once, in order.
func TestNATSRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for NATS clients to reconnect")
	}
	srv := natstest.New(t)
	s := openStore(t)
	a, b := openBus(t, srv.URL()), openBus(t, srv.URL())
	var consumers []*consumer
	for _, x := range []*nats.Bus{a, b} {
		c := &consumer{}
		consumers = append(consumers, c)
		run(t, func(ctx context.Context) error {
			return bus.Follow(ctx, s, x, eventstore.Start, eventstore.Filter{}, c.handle)
		})
		run(t, func(ctx context.Context) error {
			relay, _ := bus.NewRelay(s, x, nil)
			return relay.Run(ctx, eventstore.Start)
		})
	}
	var mu sync.Mutex
	want := map[uuid.UUID]bool{}
	write(t, s, 300, want, &mu)
	srv.Restart(t)
	write(t, s, 300, want, &mu)
	for i, c := range consumers {
		waitFor(t, 60*time.Second, func() error {
			if err := storetest.VerifyExactlyOnce(c.got(), want); err != nil {
				return fmt.Errorf("consumer %d: %w", i, err)
			}
			return nil
		})
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := nats.Open(context.Background(), nats.Config{}); err == nil {
		t.Error("Open without a URL succeeded")
	}
	if _, err := nats.Open(context.Background(), nats.Config{URL: "nats://127.0.0.1:1"}); err == nil {
		t.Error("Open of a closed port succeeded")
	}
}

// TestBigBatches publishes batches larger than the server's max_payload,
// and an event that fits no message: consumers get every event once.
func TestBigBatches(t *testing.T) {
	url := natstest.Start(t)
	s := openStore(t)
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
	// The consumers start first, so that they get the events from the bus.
	var buses []*nats.Bus
	var consumers []*consumer
	for range 2 {
		b := openBus(t, url)
		buses = append(buses, b)
		c := &consumer{}
		consumers = append(consumers, c)
		run(t, func(ctx context.Context) error {
			return bus.Follow(ctx, s, b, eventstore.Start, eventstore.Filter{}, c.handle)
		})
	}
	// About 2.3 MB of events, for the relays to read in one batch, one of
	// them 900 KB (1.2 MB in a message).
	appendSized(60, 12000)
	appendSized(1, 900<<10)
	appendSized(60, 12000)
	for _, b := range buses {
		run(t, func(ctx context.Context) error {
			relay, _ := bus.NewRelay(s, b, nil)
			return relay.Run(ctx, eventstore.Start)
		})
	}
	for i, c := range consumers {
		waitFor(t, 30*time.Second, func() error {
			if err := storetest.VerifyExactlyOnce(c.got(), want); err != nil {
				return fmt.Errorf("consumer %d: %w", i, err)
			}
			return nil
		})
	}
}

// TestSubscriptionLost deletes the stream under a subscription: nats.go
// cannot recreate its consumer, and the subscription's channel closes
// instead of staying silent.
func TestSubscriptionLost(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for missed heartbeats")
	}
	url := natstest.Start(t)
	b := openBus(t, url)
	msgs, err := b.Subscribe(context.Background(), bus.Topic)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := natsgo.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(nats.DefaultStream); err != nil {
		t.Fatal(err)
	}
	select {
	case _, ok := <-msgs:
		if ok {
			t.Fatal("a message arrived from a deleted stream")
		}
	case <-time.After(time.Minute):
		t.Fatal("the subscription stayed open after its stream was deleted")
	}
}
