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

// Throttle tracks attempts and failures per key, and refuses attempts
// past the policy's free failures. An attempt is reserved before it is
// checked and counted as a failure until it ends, so parallel attempts
// cannot overtake the count: at most Free attempts of a key are ever in
// flight, and once it has failed Free times, at most one, after each
// lockout. It is safe for concurrent use, and remembers at most a
// bounded number of keys (see table).
type Throttle struct {
	policy Policy
	now    func() time.Time

	mu   sync.Mutex
	recs table[record]
}

type record struct {
	failures    int
	inFlight    int
	last        time.Time
	lockedUntil time.Time
}

// New returns a throttle with policy p; now is the clock (time.Now if nil);
// it remembers at most maxKeys keys (DefaultMaxKeys if 0).
func New(p Policy, now func() time.Time, maxKeys int) *Throttle {
	if now == nil {
		now = time.Now
	}
	stale := func(r *record, now time.Time) bool {
		return r.inFlight == 0 && now.Sub(r.last) > p.Forget && !r.lockedUntil.After(now)
	}
	busy := func(r *record) bool { return r.inFlight > 0 }
	return &Throttle{policy: p, now: now, recs: newTable(maxKeys, stale, busy)}
}

// Reserve takes an attempt for key. It returns 0 if the attempt may go
// on, and is then in flight until Fail, Release or Succeed; else how long
// to wait before trying again. first tells whether the reserved attempt
// is key's only one: no failures remembered, no other attempt in flight.
func (t *Throttle) Reserve(key string) (wait time.Duration, first bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	r := t.recs.add(key, now, func() *record { return &record{last: now} })
	if wait := r.lockedUntil.Sub(now); wait > 0 {
		return wait, false
	}
	if r.failures >= t.policy.Free && r.inFlight > 0 || r.failures+r.inFlight >= t.policy.Free && r.failures < t.policy.Free {
		// Attempts in flight may use up the free failures: wait for the
		// lockout they would start.
		return t.policy.Base, false
	}
	first = r.failures == 0 && r.inFlight == 0
	r.inFlight++
	return 0, first
}

// Hold takes an attempt for key whatever its failures, so that its
// outcome is counted (Fail, Release or Succeed end it).
func (t *Throttle) Hold(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.recs.add(key, now, func() *record { return &record{last: now} }).inFlight++
}

// Fail ends an attempt of key as failed: past the free failures it locks
// key for Base, doubling with each further failure up to Max.
func (t *Throttle) Fail(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	r := t.recs.add(key, now, func() *record { return &record{} })
	r.inFlight = max(r.inFlight-1, 0)
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

// Release ends an attempt of key without an outcome: it counts neither as
// a failure nor as a success.
func (t *Throttle) Release(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r := t.recs.get(key, t.now()); r != nil {
		r.inFlight = max(r.inFlight-1, 0)
	}
}

// Succeed ends an attempt of key as a success: its failures are
// forgotten.
func (t *Throttle) Succeed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r := t.recs.get(key, t.now()); r != nil {
		r.inFlight = max(r.inFlight-1, 0)
		r.failures, r.lockedUntil = 0, time.Time{}
	}
}

// Len returns how many keys the throttle remembers.
func (t *Throttle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.recs.len()
}
