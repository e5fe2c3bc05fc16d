package throttle

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Buckets is a token bucket per key (golang.org/x/time/rate): each key may
// take burst tokens at once, refilled at a steady rate. It is safe for
// concurrent use and remembers at most a bounded number of keys; a key
// whose bucket is full again is forgotten.
type Buckets struct {
	limit rate.Limit
	burst int
	now   func() time.Time

	mu   sync.Mutex
	recs table[rate.Limiter]
}

// NewBuckets returns buckets refilled at perSecond tokens a second, of
// burst tokens; now is the clock (time.Now if nil); they remember at most
// maxKeys keys (DefaultMaxKeys if 0).
func NewBuckets(perSecond float64, burst int, now func() time.Time, maxKeys int) *Buckets {
	if now == nil {
		now = time.Now
	}
	stale := func(l *rate.Limiter, now time.Time) bool { return l.TokensAt(now) >= float64(burst) }
	busy := func(*rate.Limiter) bool { return false }
	return &Buckets{limit: rate.Limit(perSecond), burst: burst, now: now, recs: newTable(maxKeys, stale, busy)}
}

// Take takes a token of key's bucket. It returns 0 and a function that
// puts the token back (for an attempt that did not happen after all), or
// how long until a token is there.
func (b *Buckets) Take(key string) (wait time.Duration, undo func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	l := b.recs.add(key, now, func() *rate.Limiter { return rate.NewLimiter(b.limit, b.burst) })
	r := l.ReserveN(now, 1)
	if !r.OK() {
		return time.Hour, nil
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, nil
	}
	// Cancel at the time of the reservation: rate.Reservation.CancelAt
	// restores nothing once its time to act has passed, which it always
	// has by the time an attempt turns out not to count.
	return 0, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		r.CancelAt(now)
	}
}

// Len returns how many keys the buckets remember.
func (b *Buckets) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.recs.len()
}
