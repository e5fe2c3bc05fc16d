package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram records durations in microseconds in log-linear buckets
// (HDR-style: 64 buckets per power of two, under 1.6% error) with atomic
// counters, so that many goroutines can record into one without locks.
// The maximum is exact.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Uint64
	max    atomic.Uint64
}

const (
	histSubBits = 7
	histSub     = 1 << histSubBits // values below this have exact buckets
	histBuckets = histSub + 48*histSub/2
)

func histIndex(v uint64) int {
	if v < histSub {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits // >= 1
	top := v >> shift                    // in [histSub/2, histSub)
	i := histSub + (shift-1)*histSub/2 + int(top-histSub/2)
	return min(i, histBuckets-1)
}

// histValue returns the middle of bucket i.
func histValue(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	shift := (i-histSub)/(histSub/2) + 1
	top := uint64((i-histSub)%(histSub/2) + histSub/2)
	lo := top << shift
	return lo + (uint64(1)<<shift)/2
}

// record adds one duration; negative ones count as zero.
func (h *histogram) record(d time.Duration) {
	us := uint64(max(d, 0) / time.Microsecond)
	h.counts[histIndex(us)].Add(1)
	h.n.Add(1)
	h.sum.Add(us)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			break
		}
	}
}

// quantile returns the q-quantile (0 < q <= 1), or 0 without values.
func (h *histogram) quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.5)
	rank = max(rank, 1)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return time.Duration(min(histValue(i), h.max.Load())) * time.Microsecond
		}
	}
	return time.Duration(h.max.Load()) * time.Microsecond
}

// latency is a histogram's summary in the report, in milliseconds.
type latency struct {
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

func (h *histogram) summary() latency {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	l := latency{Count: h.n.Load()}
	if l.Count == 0 {
		return l
	}
	l.Mean = float64(h.sum.Load()) / float64(l.Count) / 1000
	l.P50, l.P95, l.P99 = ms(h.quantile(0.50)), ms(h.quantile(0.95)), ms(h.quantile(0.99))
	l.Max = float64(h.max.Load()) / 1000
	return l
}
