package password

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// ErrBusy is returned when a Limiter has no room for another hash: all of
// its slots are busy and its queue is full, or the wait for a slot ran
// out.
var ErrBusy = errors.New("password: too many password hashes in progress")

// Limiter bounds how many argon2id hashes run at once: each takes Memory
// KiB (19 MiB by default) for its whole run, so that unbounded parallel
// sign-ups or sign-ins would take unbounded memory. At most Concurrency
// hashes run; at most Queue more wait, each for at most Wait, for a slot;
// the rest get ErrBusy at once. Its counters are for tests and metrics.
// It is safe for concurrent use.
type Limiter struct {
	slots    chan struct{}
	maxQueue int64
	wait     time.Duration

	active, maxActive, queued atomic.Int64
	refused, hashes, verifies atomic.Uint64
}

// NewLimiter returns a limiter of concurrency slots and a queue of queue
// waiting hashes, each waiting at most wait.
func NewLimiter(concurrency, queue int, wait time.Duration) *Limiter {
	return &Limiter{slots: make(chan struct{}, max(concurrency, 1)), maxQueue: int64(max(queue, 0)), wait: wait}
}

// Stats are a Limiter's counters.
type Stats struct {
	Concurrency int    // slots
	Active      int64  // hashes running now
	MaxActive   int64  // the most that ever ran at once
	Queued      int64  // hashes waiting for a slot now
	Refused     uint64 // hashes refused with ErrBusy
	Hashes      uint64 // passwords hashed (Hash)
	Verifies    uint64 // passwords verified (Verify)
}

// Stats returns the counters now.
func (l *Limiter) Stats() Stats {
	return Stats{
		Concurrency: cap(l.slots), Active: l.active.Load(), MaxActive: l.maxActive.Load(), Queued: l.queued.Load(),
		Refused: l.refused.Load(), Hashes: l.hashes.Load(), Verifies: l.verifies.Load(),
	}
}

// Hash is Hash in one of l's slots.
func (l *Limiter) Hash(ctx context.Context, password string, p Params) (string, error) {
	release, err := l.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	l.hashes.Add(1)
	return Hash(password, p)
}

// Verify is Verify in one of l's slots.
func (l *Limiter) Verify(ctx context.Context, password, hash string) (bool, error) {
	release, err := l.acquire(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	l.verifies.Add(1)
	return Verify(password, hash)
}

// acquire takes a slot, waiting in the queue if there is room in it.
func (l *Limiter) acquire(ctx context.Context) (release func(), err error) {
	select {
	case l.slots <- struct{}{}:
	default:
		if l.queued.Add(1) > l.maxQueue {
			l.queued.Add(-1)
			l.refused.Add(1)
			return nil, ErrBusy
		}
		t := time.NewTimer(l.wait)
		defer t.Stop()
		select {
		case l.slots <- struct{}{}:
			l.queued.Add(-1)
		case <-t.C:
			l.queued.Add(-1)
			l.refused.Add(1)
			return nil, ErrBusy
		case <-ctx.Done():
			l.queued.Add(-1)
			return nil, ctx.Err()
		}
	}
	n := l.active.Add(1)
	for m := l.maxActive.Load(); n > m && !l.maxActive.CompareAndSwap(m, n); m = l.maxActive.Load() {
	}
	return func() {
		l.active.Add(-1)
		<-l.slots
	}, nil
}
