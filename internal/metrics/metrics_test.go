package metrics

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func page(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestMetrics(t *testing.T) {
	m := New()
	m.FrameIn("send")
	m.FrameIn("send")
	m.FrameIn("invalid")
	m.FrameOut()
	m.Fanout(3 * time.Millisecond)
	m.Appended(3, time.Millisecond, nil, false)
	m.Appended(1, time.Millisecond, errors.New("conflict"), true)
	m.Appended(1, time.Millisecond, errors.New("disk full"), false)
	m.SetProjectionLag(7)
	if err := m.Watch(Sources{
		Connections:     func() int { return 4 },
		Calls:           func() (int64, uint64, uint64) { return 2, 100, 5 },
		TURNAllocations: func() int { return 3 },
	}); err != nil {
		t.Fatal(err)
	}
	got := page(t, m)
	for _, want := range []string{
		`confab_ws_frames_received_total{type="send"} 2`,
		`confab_ws_frames_received_total{type="invalid"} 1`,
		"confab_ws_frames_sent_total 1",
		"confab_fanout_delay_seconds_count 1",
		`confab_fanout_delay_seconds_bucket{le="0.004"} 1`,
		`confab_fanout_delay_seconds_bucket{le="0.002"} 0`,
		"confab_events_appended_total 3", // only the successful append's events
		`confab_store_appends_total{result="ok"} 1`,
		`confab_store_appends_total{result="conflict"} 1`,
		`confab_store_appends_total{result="error"} 1`,
		"confab_store_append_duration_seconds_count 3",
		"confab_projection_lag_events 7",
		"confab_ws_connections 4",
		"confab_call_participants 2",
		"confab_rtp_packets_forwarded_total 100",
		"confab_rtp_packets_dropped_total 5",
		"confab_turn_allocations 3",
		"go_goroutines ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// Sources watched twice collide.
	if err := m.Watch(Sources{Connections: func() int { return 0 }}); err == nil {
		t.Error("watching connections twice did not fail")
	}
}

func TestWatchNothing(t *testing.T) {
	m := New()
	if err := m.Watch(Sources{}); err != nil {
		t.Fatal(err)
	}
	if got := page(t, m); strings.Contains(got, "confab_call_participants") || strings.Contains(got, "confab_turn_allocations") {
		t.Errorf("series of absent sources are exported:\n%s", got)
	}
}

// The gateway calls these per frame and per fanned-out event.
func BenchmarkFrameOut(b *testing.B) {
	m := New()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.FrameOut()
		}
	})
}

func BenchmarkFrameIn(b *testing.B) {
	m := New()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.FrameIn("send")
		}
	})
}

func BenchmarkFanout(b *testing.B) {
	m := New()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Fanout(time.Millisecond)
		}
	})
}
