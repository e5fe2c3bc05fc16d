package media

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// room is the call of one room.
type room struct {
	id  string
	sfu *SFU

	mu      sync.Mutex
	parts   map[string]*Participant // by user
	speech  speakerDetector
	speaker string
}

// admit subscribes p, just put in the call, to every source there is,
// and tells everyone the new state.
func (r *room) admit(p *Participant) {
	r.mu.Lock()
	if r.parts[p.UserID] != p {
		r.mu.Unlock()
		return // replaced already
	}
	for _, other := range r.parts {
		if other == p {
			continue
		}
		for _, src := range other.publishedSources() {
			p.subscribe(src)
		}
	}
	r.broadcastStateLocked()
	speaker := r.speaker
	r.mu.Unlock()
	p.negotiate(false)
	if speaker != "" {
		p.send(Speaker{UserID: speaker})
	}
}

// remove takes p out of the call: its sources leave every subscriber, and
// everyone left learns the new state.
func (r *room) remove(p *Participant) {
	r.mu.Lock()
	if r.parts[p.UserID] == p {
		delete(r.parts, p.UserID) // unless another connection replaced p
	}
	p.mu.Lock()
	for src, d := range p.downs {
		src.removeDown(d)
	}
	p.mu.Unlock()
	var renegotiate []*Participant
	for _, src := range p.publishedSources() {
		for _, sub := range src.unsubscribeAll() {
			renegotiate = append(renegotiate, sub)
		}
	}
	r.speech.forget(p.UserID)
	if r.speaker == p.UserID {
		r.speaker = ""
		r.broadcastLocked(Speaker{})
	}
	r.broadcastStateLocked()
	empty := len(r.parts) == 0
	r.mu.Unlock()
	for _, sub := range renegotiate {
		sub.negotiate(false)
	}
	if empty {
		r.sfu.dropRoom(r)
	}
}

// published makes src, a new source of one participant, reach every other
// participant.
func (r *room) published(src *source) {
	r.mu.Lock()
	if r.parts[src.owner.UserID] != src.owner {
		r.mu.Unlock()
		return
	}
	var subs []*Participant
	for _, p := range r.parts {
		if p != src.owner && p.subscribe(src) {
			subs = append(subs, p)
		}
	}
	r.broadcastStateLocked()
	r.mu.Unlock()
	for _, p := range subs {
		p.negotiate(false)
	}
}

// unpublished takes src, a source whose track ended, from its subscribers.
func (r *room) unpublished(src *source) {
	r.mu.Lock()
	subs := src.unsubscribeAll()
	r.broadcastStateLocked()
	r.mu.Unlock()
	for _, p := range subs {
		p.negotiate(false)
	}
}

// stateChanged tells everyone what the participants publish.
func (r *room) stateChanged() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.broadcastStateLocked()
}

func (r *room) broadcastStateLocked() {
	st := State{Participants: make([]ParticipantState, 0, len(r.parts))}
	for _, p := range r.parts {
		st.Participants = append(st.Participants, ParticipantState{UserID: p.UserID, MediaState: p.mediaState()})
	}
	slices.SortFunc(st.Participants, func(a, b ParticipantState) int { return cmp.Compare(a.UserID, b.UserID) })
	r.broadcastLocked(st)
}

func (r *room) broadcastLocked(m Message) {
	for _, p := range r.parts {
		p.send(m)
	}
}

// audioLevel takes the audio level of a packet user sent (in -dBov: 0 is
// loudest, 127 silence) and, every speakerWindow, picks the active
// speaker and tells everyone when it changes.
func (r *room) audioLevel(user string, level uint8, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.speech.observe(user, level)
	if speaker, ok := r.speech.decide(now, r.speaker); ok && speaker != r.speaker {
		r.speaker = speaker
		r.broadcastLocked(Speaker{UserID: speaker})
	}
}

// Active speaker detection: a participant speaks in a window if enough of
// their packets are louder than speechLevel. The loudest such speaker
// becomes the active speaker; the current one keeps the role on a tie,
// and while nobody else speaks.
const (
	speakerWindow   = 400 * time.Millisecond
	speechLevel     = 50  // -dBov: louder than -50 dBov is speech
	speechFraction  = 0.4 // of a window's packets
	minSpeechPacket = 5   // packets in a window to count at all
)

type speakerDetector struct {
	start  time.Time
	counts map[string]*speechCount
}

type speechCount struct {
	packets, loud int
	sum           int // of levels of the loud packets
}

func (d *speakerDetector) observe(user string, level uint8) {
	if d.counts == nil {
		d.counts = map[string]*speechCount{}
	}
	c := d.counts[user]
	if c == nil {
		c = &speechCount{}
		d.counts[user] = c
	}
	c.packets++
	if level < speechLevel {
		c.loud++
		c.sum += int(level)
	}
}

func (d *speakerDetector) forget(user string) { delete(d.counts, user) }

// decide returns the active speaker once a window has passed, and resets
// the counts.
func (d *speakerDetector) decide(now time.Time, current string) (string, bool) {
	if d.start.IsZero() {
		d.start = now
	}
	if now.Sub(d.start) < speakerWindow {
		return "", false
	}
	best, bestScore := current, -1.0
	for user, c := range d.counts {
		if c.packets < minSpeechPacket || float64(c.loud) < speechFraction*float64(c.packets) {
			continue
		}
		// More loud packets, and louder ones, score higher.
		score := float64(c.loud)/float64(c.packets) + (speechLevel-float64(c.sum)/float64(c.loud))/speechLevel
		if score > bestScore || score == bestScore && user == current {
			best, bestScore = user, score
		}
	}
	clear(d.counts)
	d.start = now
	return best, true
}
