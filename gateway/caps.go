package gateway

import (
	"sync"

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
