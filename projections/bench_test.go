package projections_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/confabhq/confab/eventstore"
)

// memLog records appends in memory, as a store would: the benchmark
// measures the read models, not the store.
type memLog struct {
	revs   map[string]uint64
	events []eventstore.RecordedEvent
}

func (m *memLog) Append(_ context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if !expected.Matches(m.revs[stream]) {
		return eventstore.AppendResult{}, fmt.Errorf("wrong revision")
	}
	for _, e := range events {
		m.revs[stream]++
		pos := uint64(len(m.events) + 1)
		m.events = append(m.events, eventstore.RecordedEvent{
			ID: e.ID, Stream: stream, Revision: m.revs[stream], Position: eventstore.Position{Commit: pos, Prepare: pos},
			Type: e.Type, Data: e.Data, RecordedAt: time.UnixMicro(int64(pos)).UTC(),
		})
	}
	return eventstore.AppendResult{Revision: m.revs[stream], Position: m.events[len(m.events)-1].Position}, nil
}

// BenchmarkApply applies a realistic log in batches of 1000, as Rebuild
// does, and reports events per second.
func BenchmarkApply(b *testing.B) {
	for _, chatty := range []bool{false, true} {
		log := &memLog{revs: map[string]uint64{}}
		g := newGen(b, log, 9)
		g.chatty = chatty
		g.run(20000)
		name := "mixed"
		if chatty {
			name = "chatty"
		}
		b.Run(name, func(b *testing.B) { benchmarkApply(b, log) })
	}
}

func benchmarkApply(b *testing.B, log *memLog) {
	for _, bk := range []struct {
		name string
		new  func(t testing.TB) *backend
	}{{"sqlite", newSQLiteBackend}, {"postgres", newPostgresBackend}} {
		b.Run(bk.name, func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				b.StopTimer()
				p := bk.new(b).open(b)
				b.StartTimer()
				start := time.Now()
				for i := 0; i < len(log.events); i += 1000 {
					if err := p.Apply(context.Background(), log.events[i:min(i+1000, len(log.events))]); err != nil {
						b.Fatal(err)
					}
				}
				total += time.Since(start)
			}
			b.ReportMetric(float64(len(log.events)*b.N)/total.Seconds(), "events/s")
		})
	}
}
