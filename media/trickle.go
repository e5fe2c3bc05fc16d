package media

import (
	"sync"

	"github.com/pion/webrtc/v4"
)

// trickle sends one peer connection's local ICE candidates to the client
// as Candidate messages, and holds them while the session description
// they belong to is on its way: a client must never get a candidate
// before the answer or offer that starts the ICE session it is for, or it
// would have no remote description to add it to.
//
// Setting a local description starts gathering, and pion reports the
// candidates on its own goroutines, possibly before the description itself
// has reached the client. So whoever sets a local description holds the
// trickle first and releases it once the description is sent; the held
// candidates then go out, in order, before any later one.
type trickle struct {
	pc   string
	send func(Message)

	mu    sync.Mutex // held while sending, so that candidates keep their order
	holds int        // descriptions on their way
	held  []webrtc.ICECandidateInit
}

// hold keeps candidates back until the matching release.
func (t *trickle) hold() {
	t.mu.Lock()
	t.holds++
	t.mu.Unlock()
}

// release sends the candidates held back, unless another hold is still on.
func (t *trickle) release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.holds--; t.holds > 0 {
		return
	}
	for _, c := range t.held {
		t.send(Candidate{PC: t.pc, Candidate: c})
	}
	t.held = nil
}

// candidate sends c, or holds it back while a description is on its way.
func (t *trickle) candidate(c webrtc.ICECandidateInit) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.holds > 0 {
		t.held = append(t.held, c)
		return
	}
	t.send(Candidate{PC: t.pc, Candidate: c})
}
