package projections_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/projections"
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
// does, and reports events per second and the CPU time per event of this
// process (go-µs/event) and, on PostgreSQL, of its server processes
// (pg-µs/event): on a shared machine the wall time depends on what else
// runs, the CPU time much less.
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
	}{{"sqlite", newSQLiteBackend}, {"postgres", newPostgresBackend}, {"postgres-nocopy", func(t testing.TB) *backend {
		be := newPostgresBackend(t)
		be.noCopy = true
		return be
	}}} {
		b.Run(bk.name, func(b *testing.B) {
			var total, goCPU, pgCPU time.Duration
			for b.Loop() {
				b.StopTimer()
				be := bk.new(b)
				p := be.open(b)
				b.StartTimer()
				start, goStart, pgStart := time.Now(), processCPU(b), serverCPU(b, be)
				for i := 0; i < len(log.events); i += 1000 {
					if err := p.Apply(context.Background(), log.events[i:min(i+1000, len(log.events))]); err != nil {
						b.Fatal(err)
					}
				}
				total += time.Since(start)
				goCPU += processCPU(b) - goStart
				pgCPU += serverCPU(b, be) - pgStart
			}
			n := float64(len(log.events) * b.N)
			b.ReportMetric(n/total.Seconds(), "events/s")
			b.ReportMetric(float64(goCPU.Microseconds())/n, "go-µs/event")
			if bk.name != "sqlite" {
				b.ReportMetric(float64(pgCPU.Microseconds())/n, "pg-µs/event")
			}
		})
	}
}

// processCPU returns the CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serverCPU returns the CPU time the PostgreSQL processes serving be's
// database have used (0 for SQLite), from /proc: the server runs on this
// machine (internal/pgtest).
func serverCPU(b *testing.B, be *backend) time.Duration {
	if be.dialect != projections.Postgres {
		return 0
	}
	rows, err := be.db.Query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var total time.Duration
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			b.Fatal(err)
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // gone
		}
		// The fields after the command's closing parenthesis; utime
		// and stime are the 14th and 15th of the line, in clock ticks
		// (USER_HZ, 100 on Linux).
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(utime+stime) * 10 * time.Millisecond
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return total
}
