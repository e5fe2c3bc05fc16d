package throttle

import (
	"sync"
	"time"
)

// Policy says when a key is locked out.
type Policy struct {
	// Free is how many failures in a row are allowed: once a key has
	// failed Free times, its next attempt must wait.
	Free int
	// Base is the first lockout; each further failure doubles it.
	Base time.Duration
	// Max caps the lockout.
	Max time.Duration
	// Forget is how long after its last failure a key starts afresh.
	Forget time.Duration
}

// Throttle tracks failures per key. It is safe for concurrent use.
type Throttle struct {
	policy Policy
	now    func() time.Time

	mu   sync.Mutex
	keys map[string]*record
}

type record struct {
	failures    int
	last        time.Time
	lockedUntil time.Time
}

// New returns a throttle with policy p; now is the clock (time.Now if nil).
func New(p Policy, now func() time.Time) *Throttle {
	if now == nil {
		now = time.Now
	}
	return &Throttle{policy: p, now: now, keys: map[string]*record{}}
}

// Check returns how long key must wait before its next attempt (0: go on).
func (t *Throttle) Check(key string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.get(key)
	if r == nil {
		return 0
	}
	if wait := r.lockedUntil.Sub(t.now()); wait > 0 {
		return wait
	}
	return 0
}

// Fail records a failed attempt of key.
func (t *Throttle) Fail(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	r := t.get(key)
	if r == nil {
		r = &record{}
		t.keys[key] = r
		t.sweep(now)
	}
	r.failures++
	r.last = now
	if over := r.failures - t.policy.Free + 1; over > 0 {
		lock := t.policy.Base << min(over-1, 30)
		if lock <= 0 || lock > t.policy.Max {
			lock = t.policy.Max
		}
		r.lockedUntil = now.Add(lock)
	}
}

// Succeed forgets key's failures.
func (t *Throttle) Succeed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.keys, key)
}

// get returns key's record, dropping it if it is forgotten.
func (t *Throttle) get(key string) *record {
	r := t.keys[key]
	if r != nil && t.now().Sub(r.last) > t.policy.Forget && !r.lockedUntil.After(t.now()) {
		delete(t.keys, key)
		return nil
	}
	return r
}

// sweep drops forgotten records once the map grows, so a flood of keys
// cannot grow it without bound.
func (t *Throttle) sweep(now time.Time) {
	if len(t.keys) < 10000 {
		return
	}
	for k, r := range t.keys {
		if now.Sub(r.last) > t.policy.Forget && !r.lockedUntil.After(now) {
			delete(t.keys, k)
		}
	}
}
