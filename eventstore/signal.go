package eventstore

import "sync"

// Signal is a broadcast wake-up: every channel handed out by C before a
// Broadcast is closed by it. The zero Signal is ready to use.
//
// Subscribers take C before reading the store, so an append that commits
// while they read still wakes them afterwards.
type Signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// C returns a channel that is closed by the next Broadcast.
func (s *Signal) C() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// Broadcast wakes everyone waiting on a channel from C.
func (s *Signal) Broadcast() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}
