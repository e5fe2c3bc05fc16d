package throttle

import (
	"sync"
	"time"
)

// PacePolicy says how a Pacer spaces attempts.
type PacePolicy struct {
	// Free is how many failures (attempts in flight included) go
	// unpaced.
	Free int
	// Base is the interval between two attempts once Free is used up;
	// it doubles with each further failure, up to Max.
	Base, Max time.Duration
	// MaxWait is the longest an attempt is held for its turn: one whose
	// turn is further away is refused.
	MaxWait time.Duration
	// Forget is how long after its last failure a key starts afresh.
	Forget time.Duration
}

// Pacer slows attempts of a key down instead of locking it out: past the
// free failures, attempts take turns at a growing interval, each waiting
// at most MaxWait for its turn. Whoever sends attempts, one of them goes
// ahead at least every Max, so a key can be guessed at at most one
// attempt per Max but never be locked. A success does not forget the
// failures (they are other clients'); they are forgotten Forget after the
// last one. It is safe for concurrent use and bounded like Throttle.
type Pacer struct {
	policy PacePolicy
	now    func() time.Time

	mu   sync.Mutex
	recs table[paceRecord]
}

type paceRecord struct {
	failures int
	inFlight int
	last     time.Time
	next     time.Time // the earliest turn of the next paced attempt
}

// NewPacer returns a pacer with policy p; now is the clock (time.Now if
// nil); it remembers at most maxKeys keys (DefaultMaxKeys if 0).
func NewPacer(p PacePolicy, now func() time.Time, maxKeys int) *Pacer {
	if now == nil {
		now = time.Now
	}
	stale := func(r *paceRecord, now time.Time) bool {
		return r.inFlight == 0 && now.Sub(r.last) > p.Forget && !r.next.After(now)
	}
	busy := func(r *paceRecord) bool { return r.inFlight > 0 }
	return &Pacer{policy: p, now: now, recs: newTable(maxKeys, stale, busy)}
}

// Schedule takes an attempt for key. If ok, the attempt must wait delay
// for its turn and is then in flight until Fail or Release; if not, it is
// refused and may be tried again after delay.
func (p *Pacer) Schedule(key string) (delay time.Duration, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	r := p.recs.add(key, now, func() *paceRecord { return &paceRecord{last: now} })
	over := r.failures + r.inFlight - p.policy.Free
	if over < 0 {
		r.inFlight++
		return 0, true
	}
	turn := r.next
	if turn.Before(now) {
		turn = now
	}
	if wait := turn.Sub(now); wait > p.policy.MaxWait {
		return wait - p.policy.MaxWait, false
	}
	interval := p.policy.Base << min(over, 30)
	if interval <= 0 || interval > p.policy.Max {
		interval = p.policy.Max
	}
	r.next = turn.Add(interval)
	r.inFlight++
	return turn.Sub(now), true
}

// Fail ends an attempt of key as failed.
func (p *Pacer) Fail(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	r := p.recs.add(key, now, func() *paceRecord { return &paceRecord{} })
	r.inFlight = max(r.inFlight-1, 0)
	r.failures++
	r.last = now
}

// Release ends an attempt of key that did not fail.
func (p *Pacer) Release(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r := p.recs.get(key, p.now()); r != nil {
		r.inFlight = max(r.inFlight-1, 0)
	}
}

// Len returns how many keys the pacer remembers.
func (p *Pacer) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.recs.len()
}
