package throttle

import "time"

// DefaultMaxKeys bounds how many keys one Throttle, Pacer or Buckets
// remembers (each key costs about 100 bytes).
const DefaultMaxKeys = 100_000

// table is a map of records with a bounded size. Its owner holds the lock.
type table[R any] struct {
	max  int
	keys map[string]*R
	// stale reports whether a record may be forgotten at now: nothing in
	// flight and nothing left to remember.
	stale func(r *R, now time.Time) bool
	// busy reports whether a record has an attempt in flight: such a
	// record is never evicted.
	busy func(r *R) bool
}

func newTable[R any](max int, stale func(*R, time.Time) bool, busy func(*R) bool) table[R] {
	if max <= 0 {
		max = DefaultMaxKeys
	}
	return table[R]{max: max, keys: map[string]*R{}, stale: stale, busy: busy}
}

// get returns key's record, or nil (dropping a stale one).
func (t *table[R]) get(key string, now time.Time) *R {
	r := t.keys[key]
	if r != nil && t.stale(r, now) {
		delete(t.keys, key)
		return nil
	}
	return r
}

// add returns key's record, adding a new one (from fresh) if there is
// none. A full table first drops its stale records and then, if still
// full, a tenth of its records that have nothing in flight, picked by
// the map's random order: a flood of new keys costs old keys their
// memory rather than the server its memory.
func (t *table[R]) add(key string, now time.Time, fresh func() *R) *R {
	if r := t.get(key, now); r != nil {
		return r
	}
	if len(t.keys) >= t.max {
		t.evict(now)
	}
	r := fresh()
	t.keys[key] = r
	return r
}

func (t *table[R]) evict(now time.Time) {
	for k, r := range t.keys {
		if t.stale(r, now) {
			delete(t.keys, k)
		}
	}
	target := t.max - t.max/10
	for k, r := range t.keys {
		if len(t.keys) <= target {
			break
		}
		if !t.busy(r) {
			delete(t.keys, k)
		}
	}
}

// len returns how many keys are remembered.
func (t *table[R]) len() int { return len(t.keys) }
