package main

import (
	"math"
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	if h.quantile(0.5) != 0 || h.summary().Count != 0 {
		t.Fatal("empty histogram has values")
	}
	// 1 ms .. 10,000 ms in 1 ms steps.
	for i := 1; i <= 10000; i++ {
		h.record(time.Duration(i) * time.Millisecond)
	}
	for _, q := range []float64{0.5, 0.95, 0.99} {
		got := float64(h.quantile(q)) / float64(time.Millisecond)
		want := q * 10000
		if math.Abs(got-want)/want > 0.02 {
			t.Errorf("q%.2f = %.1f ms, want %.0f ms within 2%%", q, got, want)
		}
	}
	s := h.summary()
	if s.Count != 10000 || s.Max != 10000 || math.Abs(s.Mean-5000.5) > 0.01 {
		t.Errorf("summary %+v", s)
	}
	h.record(-time.Second) // clock skew: counted as 0
	if h.quantile(0.00001) != 0 {
		t.Errorf("lowest %v, want 0", h.quantile(0.00001))
	}
}

func TestHistIndexIsMonotonic(t *testing.T) {
	prev := -1
	for v := uint64(0); v < 1<<22; v += 1 + v/200 {
		i := histIndex(v)
		if i < prev {
			t.Fatalf("index of %d is %d, below %d", v, i, prev)
		}
		if mid := histValue(i); v >= histSub && math.Abs(float64(mid)-float64(v))/float64(v) > 0.016 {
			t.Fatalf("value %d lands in bucket %d around %d", v, i, mid)
		}
		prev = i
	}
}
