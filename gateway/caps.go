package gateway

import (
	"sync"
	"time"

	"github.com/confabhq/confab/domain"
)

// connCaps counts this node's WebSockets per user and per client address
// (Gateway.clientIP), so that one user or host cannot hold unbounded
// connections (each one costs memory and appends connection events). The
// counts are per node: behind a load balancer over n nodes a user may hold
// up to n times the cap.
type connCaps struct {
	perUser, perIP int // <= 0: no cap

	mu    sync.Mutex
	users map[domain.UserID]int
	ips   map[string]int
}

func newConnCaps(perUser, perIP int) *connCaps {
	return &connCaps{perUser: perUser, perIP: perIP, users: map[domain.UserID]int{}, ips: map[string]int{}}
}

// connSlot is the place one WebSocket holds in the counts, from its
// upgrade to its end. release gives it back, once.
type connSlot struct {
	caps *connCaps
	ip   string
	user domain.UserID // "" until the connection is authenticated
	once sync.Once
}

// take counts one more in m[key] unless that reaches past limit.
func take[K comparable](m map[K]int, key K, limit int) bool {
	if limit > 0 && m[key] >= limit {
		return false
	}
	m[key]++
	return true
}

func give[K comparable](m map[K]int, key K) {
	if m[key] <= 1 {
		delete(m, key)
		return
	}
	m[key]--
}

// takeIP takes a slot for a connection from ip, or reports false if ip
// holds the most it may.
func (cc *connCaps) takeIP(ip string) (*connSlot, bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if !take(cc.ips, ip, cc.perIP) {
		return nil, false
	}
	return &connSlot{caps: cc, ip: ip}, true
}

// takeUser counts the slot's connection as user's, or reports false if
// user holds the most connections they may.
func (s *connSlot) takeUser(user domain.UserID) bool {
	cc := s.caps
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if !take(cc.users, user, cc.perUser) {
		return false
	}
	s.user = user
	return true
}

// release gives the slot back; later calls do nothing.
func (s *connSlot) release() {
	if s == nil {
		return
	}
	s.once.Do(func() {
		cc := s.caps
		cc.mu.Lock()
		defer cc.mu.Unlock()
		give(cc.ips, s.ip)
		if s.user != "" {
			give(cc.users, s.user)
		}
	})
}

// keyedRate allows each key n events in any period (a sliding window).
// It remembers the times of the events of the last period; keys whose
// events are all older are forgotten once many keys are held, so memory
// follows the keys active within a period.
type keyedRate struct {
	n      int // <= 0: no limit
	period time.Duration

	mu     sync.Mutex
	events map[domain.UserID][]time.Time // oldest first
}

// pruneAt is how many keys a keyedRate holds before it forgets idle ones.
const pruneAt = 4096

func newKeyedRate(n int, period time.Duration) *keyedRate {
	return &keyedRate{n: n, period: period, events: map[domain.UserID][]time.Time{}}
}

// reserve takes one event for key at now. It returns a function that
// gives the event back (for an attempt that changed nothing), or, if key
// had n events in the last period, how long until it may try again.
func (k *keyedRate) reserve(key domain.UserID, now time.Time) (giveBack func(), retryAfter time.Duration) {
	if k.n <= 0 {
		return func() {}, 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.events) >= pruneAt {
		for key, evs := range k.events {
			if now.Sub(evs[len(evs)-1]) >= k.period {
				delete(k.events, key)
			}
		}
	}
	evs := k.events[key]
	for len(evs) > 0 && now.Sub(evs[0]) >= k.period {
		evs = evs[1:]
	}
	if len(evs) >= k.n {
		k.events[key] = evs
		return nil, evs[0].Add(k.period).Sub(now)
	}
	k.events[key] = append(evs, now)
	return func() { k.giveBack(key, now) }, 0
}

// giveBack forgets the event of key at t.
func (k *keyedRate) giveBack(key domain.UserID, t time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	evs := k.events[key]
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Equal(t) {
			k.events[key] = append(evs[:i:i], evs[i+1:]...)
			break
		}
	}
	if len(k.events[key]) == 0 {
		delete(k.events, key)
	}
}
