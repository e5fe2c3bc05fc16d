package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/confabhq/confab/eventstore"
	"github.com/google/uuid"
)

// The benchmarks below are shared by every adapter, like the conformance
// suite. An adapter's bench_test.go opens its store and calls them, for
// example as sub-benchmarks:
//
//	func BenchmarkAppend(b *testing.B) {
//		for _, n := range []int{1, 16, 64} {
//			b.Run(fmt.Sprintf("appenders=%d", n), func(b *testing.B) {
//				storetest.BenchmarkAppend(b, open(b), n)
//			})
//		}
//	}
//
// They report events/s (and, for the latency benchmark, microseconds) with
// b.ReportMetric so that benchstat can compare runs.

// benchStreams is how many streams the append benchmarks spread over.
const benchStreams = 1000

// benchMessage is the payload of the benchmarks' events, shaped like a
// MessagePosted event; with its body it is about 200 bytes of JSON.
type benchMessage struct {
	RoomID    string    `json:"room_id"`
	MessageID uuid.UUID `json:"message_id"`
	AuthorID  string    `json:"author_id"`
	Body      string    `json:"body"`
	SentAt    time.Time `json:"sent_at"`
}

const benchBody = "Shipping the release tonight, please review the open PRs before 6pm."

// benchEvent returns a MessagePosted event for room n, sent at sent.
func benchEvent(tb testing.TB, n int, sent time.Time) eventstore.EventData {
	id := uuid.New()
	data, err := json.Marshal(benchMessage{
		RoomID:    fmt.Sprintf("room-%04d", n%benchStreams),
		MessageID: id,
		AuthorID:  fmt.Sprintf("user-%05d", n%9973),
		Body:      benchBody,
		SentAt:    sent,
	})
	if err != nil {
		tb.Error(err) // cannot happen with these field types
	}
	return eventstore.EventData{ID: id, Type: "MessagePosted", Data: data}
}

// benchStreamNames returns benchStreams stream names under a prefix unique
// to this call, and the prefix.
func benchStreamNames(tb testing.TB) ([]string, string) {
	p := "bench-" + prefix(tb)
	names := make([]string, benchStreams)
	for i := range names {
		names[i] = fmt.Sprintf("%sroom-%04d", p, i)
	}
	return names, p
}

// runAppenders runs appenders goroutines that share n calls of do, each
// with its index in [0, n), and waits for them. It stops early, leaving
// the error on tb, when a call fails.
func runAppenders(tb testing.TB, appenders, n int, do func(i int) error) {
	var (
		next   atomic.Int64
		failed atomic.Bool
		wg     sync.WaitGroup
	)
	for range appenders {
		wg.Go(func() {
			for !failed.Load() {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := do(i); err != nil {
					if !failed.Swap(true) {
						tb.Error(err)
					}
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkAppend measures durable appends of one event each by appenders
// concurrent goroutines, the shape of chat traffic: many writers, small
// events, streams spread over 1000 rooms, no expected revision. b.N is the
// total number of appends; it reports events/s.
func BenchmarkAppend(b *testing.B, s eventstore.Store, appenders int) {
	streams, _ := benchStreamNames(b)
	ctx := b.Context()
	b.ResetTimer()
	runAppenders(b, appenders, b.N, func(i int) error {
		_, err := s.Append(ctx, streams[i%benchStreams], eventstore.Any, benchEvent(b, i, time.Now()))
		return err
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// catchUpEvents is how many events BenchmarkCatchUp reads per iteration.
const catchUpEvents = 200_000

// errCaughtUp ends a subscription once it has delivered what was expected.
var errCaughtUp = errors.New("caught up")

// BenchmarkCatchUp measures how fast a subscription from Start delivers
// stored events: it appends 200,000 events once (in appends of 100, from
// concurrent appenders, outside the timer), then each iteration subscribes
// from Start and counts until the last of them is delivered. It runs as
// the sub-benchmark events=200000, so that the fill is not repeated while
// the testing package finds b.N. It reports events/s.
func BenchmarkCatchUp(b *testing.B, s eventstore.Store) {
	const perAppend = 100
	streams, _ := benchStreamNames(b)
	ctx := b.Context()
	var (
		mu   sync.Mutex
		last eventstore.Position // of the last filled event in the global order
	)
	runAppenders(b, 16, catchUpEvents/perAppend, func(i int) error {
		events := make([]eventstore.EventData, perAppend)
		for j := range events {
			events[j] = benchEvent(b, i*perAppend+j, time.Now())
		}
		res, err := s.Append(ctx, streams[i%benchStreams], eventstore.Any, events...)
		if err != nil {
			return err
		}
		mu.Lock()
		if res.Position.After(last) {
			last = res.Position
		}
		mu.Unlock()
		return nil
	})
	if b.Failed() {
		return
	}

	b.Run(fmt.Sprintf("events=%d", catchUpEvents), func(b *testing.B) {
		var delivered int
		for b.Loop() {
			n := 0
			err := s.Subscribe(b.Context(), eventstore.Start, eventstore.Filter{}, func(_ context.Context, events []eventstore.RecordedEvent) error {
				n += len(events)
				if !last.After(events[len(events)-1].Position) {
					return errCaughtUp
				}
				return nil
			})
			if !errors.Is(err, errCaughtUp) {
				b.Fatalf("subscription ended after %d events: %v", n, err)
			}
			if n < catchUpEvents {
				b.Fatalf("subscription delivered %d events, want at least %d", n, catchUpEvents)
			}
			delivered += n
		}
		b.ReportMetric(float64(delivered)/b.Elapsed().Seconds(), "events/s")
	})
}

// BenchmarkAppendToSubscriber measures the latency from the call to Append
// to the delivery of the event to a subscriber that tails the store, with
// appenders concurrent goroutines appending one event each (b.N in all).
// Each event carries its send time. It reports the 50th and 99th
// percentiles in microseconds, and events/s.
func BenchmarkAppendToSubscriber(b *testing.B, s eventstore.Store, appenders int) {
	streams, p := benchStreamNames(b)
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	head, err := s.Head(ctx)
	if err != nil {
		b.Fatal(err)
	}

	latencies := make([]time.Duration, 0, b.N)
	subErr := make(chan error, 1)
	go func() {
		filter := eventstore.Filter{StreamPrefixes: []string{p}}
		subErr <- s.Subscribe(ctx, head, filter, func(_ context.Context, events []eventstore.RecordedEvent) error {
			now := time.Now()
			for i := range events {
				var m struct {
					SentAt time.Time `json:"sent_at"`
				}
				if err := json.Unmarshal(events[i].Data, &m); err != nil {
					return fmt.Errorf("event %s: %w", events[i].ID, err)
				}
				latencies = append(latencies, now.Sub(m.SentAt))
			}
			if len(latencies) >= b.N {
				return errCaughtUp
			}
			return nil
		})
	}()

	b.ResetTimer()
	runAppenders(b, appenders, b.N, func(i int) error {
		_, err := s.Append(ctx, streams[i%benchStreams], eventstore.Any, benchEvent(b, i, time.Now()))
		return err
	})
	if b.Failed() {
		cancel()
		<-subErr
		return
	}
	select {
	case err := <-subErr:
		if !errors.Is(err, errCaughtUp) {
			b.Fatalf("subscription ended after %d of %d events: %v", len(latencies), b.N, err)
		}
	case <-time.After(timeout):
		cancel()
		<-subErr
		b.Fatalf("subscriber got %d of %d events after %v", len(latencies), b.N, timeout)
	}
	b.StopTimer()

	slices.Sort(latencies)
	pct := func(q float64) float64 {
		return float64(latencies[min(len(latencies)-1, int(q*float64(len(latencies))))].Microseconds())
	}
	b.ReportMetric(pct(0.50), "p50-us")
	b.ReportMetric(pct(0.99), "p99-us")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
