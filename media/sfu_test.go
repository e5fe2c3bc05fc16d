package media_test

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/confabhq/confab/internal/rtctest"
	"github.com/confabhq/confab/media"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// peer is a Pion client in a call of an SFU, signaling through direct
// calls of the participant's methods.
type peer struct {
	user  string
	c     *rtctest.Client
	p     *media.Participant
	close func() // closes the client and stops handling messages

	mu       sync.Mutex
	states   []media.State
	speakers []string
	removed  []string
	// signals lists, in the order the SFU sent them, its answers on pub
	// ("pub answer"), offers on sub ("sub offer") and candidates ("pub
	// candidate", "sub candidate").
	signals []string
	// answerGate, if set, holds the client's answers until it is closed.
	answerGate chan struct{}
}

// signaled records a signal in the order the SFU sends them.
func (pe *peer) signaled(s string) {
	pe.mu.Lock()
	pe.signals = append(pe.signals, s)
	pe.mu.Unlock()
}

func (pe *peer) Publish(offer string, kinds map[string]string, apply func(answer string) error) error {
	var applyErr error
	if err := pe.p.Publish(offer, kinds, func(answer string) { pe.signaled("pub answer"); applyErr = apply(answer) }); err != nil {
		return err
	}
	return applyErr
}
func (pe *peer) Answer(sdp string) error {
	pe.mu.Lock()
	gate := pe.answerGate
	pe.mu.Unlock()
	if gate != nil {
		<-gate
	}
	return pe.p.Answer(sdp)
}

// holdAnswers makes the peer's client hold its answers to the SFU's
// offers until release is called (once or more; the test must, before
// the client closes).
func (pe *peer) holdAnswers() (release func()) {
	gate := make(chan struct{})
	pe.mu.Lock()
	pe.answerGate = gate
	pe.mu.Unlock()
	return sync.OnceFunc(func() {
		pe.mu.Lock()
		pe.answerGate = nil
		pe.mu.Unlock()
		close(gate)
	})
}
func (pe *peer) Candidate(pc string, c webrtc.ICECandidateInit) error {
	return pe.p.AddCandidate(pc, c)
}

// receive handles a message of the SFU. It runs on the SFU's goroutines,
// so it must not block: the client queues its work.
func (pe *peer) receive(m media.Message) {
	switch m := m.(type) {
	case media.Offer:
		pe.c.HandleOffer(m.SDP)
	case media.Candidate:
		pe.c.HandleCandidate(m.PC, m.Candidate)
	case media.State:
		pe.mu.Lock()
		pe.states = append(pe.states, m)
		pe.mu.Unlock()
	case media.Speaker:
		pe.mu.Lock()
		pe.speakers = append(pe.speakers, m.UserID)
		pe.mu.Unlock()
	case media.Removed:
		pe.mu.Lock()
		pe.removed = append(pe.removed, m.Reason)
		pe.mu.Unlock()
	}
}

// lastState returns the user IDs of the last State the peer got.
func (pe *peer) lastState() []string {
	pe.mu.Lock()
	defer pe.mu.Unlock()
	if len(pe.states) == 0 {
		return nil
	}
	var ids []string
	for _, p := range pe.states[len(pe.states)-1].Participants {
		ids = append(ids, p.UserID)
	}
	return ids
}

func (pe *peer) lastSpeaker() string {
	pe.mu.Lock()
	defer pe.mu.Unlock()
	if len(pe.speakers) == 0 {
		return ""
	}
	return pe.speakers[len(pe.speakers)-1]
}

func newSFU(t testing.TB, cfg media.Config) *media.SFU {
	t.Helper()
	cfg.IncludeLoopback = true
	s, err := media.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// join puts a new peer of user in room's call and starts it.
func join(t testing.TB, s *media.SFU, room, user string, opts rtctest.Options) *peer {
	t.Helper()
	pe := &peer{user: user}
	// Messages wait in a queue until the client exists; the SFU must
	// never block on sending.
	msgs := make(chan media.Message, 4096)
	p, err := s.Join(room, user, "conn-"+user, func(m media.Message) {
		switch m := m.(type) {
		case media.Offer:
			pe.signaled("sub offer")
		case media.Candidate:
			pe.signaled(m.PC + " candidate")
		}
		select {
		case msgs <- m:
		default:
			t.Errorf("%s: message queue full", user)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	pe.p = p
	opts.Loopback = true
	c, err := rtctest.New(pe, opts)
	if err != nil {
		t.Fatal(err)
	}
	pe.c = c
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case m := <-msgs:
				pe.receive(m)
			case <-stop:
				return
			}
		}
	}()
	var once sync.Once
	pe.close = func() {
		once.Do(func() {
			c.Close()
			close(stop)
			<-done
		})
	}
	t.Cleanup(pe.close)
	if err := c.Start(); err != nil {
		t.Fatalf("%s: start: %v", user, err)
	}
	return pe
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool, describe func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s\n%s", d, what, describe())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func describe(peers ...*peer) func() string {
	return func() string {
		var b strings.Builder
		for _, p := range peers {
			fmt.Fprintf(&b, "%s: %s state=%v\n", p.user, p.c, p.lastState())
		}
		return b.String()
	}
}

// receivesAll reports whether pe receives audio and video, with a
// keyframe, from every one of from.
func receivesAll(pe *peer, from ...*peer) bool {
	for _, f := range from {
		v := pe.c.Track(media.TrackID(f.user, media.KindVideo))
		if pe.c.Received(f.user, media.KindAudio) < 10 || v == nil || v.Packets.Load() < 10 || v.Keyframes.Load() == 0 {
			return false
		}
	}
	return true
}

func TestThreeParticipantsForwardEverything(t *testing.T) {
	base := runtime.NumGoroutine()
	s := newSFU(t, media.Config{})
	opts := rtctest.Options{Publish: []string{"audio", "video"}}
	a := join(t, s, "r1", "alice", opts)
	b := join(t, s, "r1", "bob", opts)
	c := join(t, s, "r1", "carol", opts)
	all := describe(a, b, c)
	waitFor(t, 20*time.Second, "everyone to receive the others' audio and video", func() bool {
		return receivesAll(a, b, c) && receivesAll(b, a, c) && receivesAll(c, a, b)
	}, all)
	for _, pe := range []*peer{a, b, c} {
		if got := pe.lastState(); !slices.Equal(got, []string{"alice", "bob", "carol"}) {
			t.Errorf("%s's last state lists %v, want all three", pe.user, got)
		}
		if n := pe.c.Received(pe.user, media.KindAudio); n != 0 {
			t.Errorf("%s received %d packets of their own audio", pe.user, n)
		}
	}

	// Carol leaves: the others' subscribe connections are renegotiated
	// without her tracks, and her packets stop.
	c.p.Leave()
	c.c.Close()
	waitFor(t, 10*time.Second, "the state without carol", func() bool {
		return slices.Equal(a.lastState(), []string{"alice", "bob"}) && slices.Equal(b.lastState(), []string{"alice", "bob"})
	}, all)
	waitFor(t, 10*time.Second, "carol's tracks to be gone from the others' subscribe connections", func() bool {
		return sendingFrom(a.c.Sub, "carol") == 0 && sendingFrom(b.c.Sub, "carol") == 0
	}, all)
	before := a.c.Received("bob", media.KindVideo)
	waitFor(t, 10*time.Second, "alice to keep receiving bob", func() bool {
		return a.c.Received("bob", media.KindVideo) > before+10
	}, all)
	if s.Stats().Participants != 2 {
		t.Errorf("participants = %d, want 2", s.Stats().Participants)
	}

	a.p.Leave()
	b.p.Leave()
	a.close()
	b.close()
	c.close()
	s.Close()
	checkGoroutines(t, base)
}

// sending counts the m-sections of a subscribe connection's remote
// description that still send a track whose msid ("<stream> <track>")
// matches.
func sending(pc *webrtc.PeerConnection, match func(msid string) bool) int {
	desc := pc.RemoteDescription()
	if desc == nil {
		return 0
	}
	// Parse a copy: Unmarshal caches the result in the description, which
	// Pion's goroutines share.
	var parsed sdp.SessionDescription
	if err := parsed.UnmarshalString(desc.SDP); err != nil {
		return -1
	}
	n := 0
	for _, m := range parsed.MediaDescriptions {
		_, inactive := m.Attribute("inactive")
		_, recvonly := m.Attribute("recvonly")
		if msid, ok := m.Attribute("msid"); ok && !inactive && !recvonly && match(msid) {
			n++
		}
	}
	return n
}

// sendingFrom counts the tracks of user a subscribe connection receives.
func sendingFrom(pc *webrtc.PeerConnection, user string) int {
	return sending(pc, func(msid string) bool { return strings.HasPrefix(msid, user+" ") })
}

// checkGoroutines fails if goroutines started by the test are still
// running a while after everything closed.
func checkGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines left, %d before:\n%s", runtime.NumGoroutine(), base, buf[:n])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCandidatesFollowTheirDescription checks that the SFU sends a
// connection's candidates only after the description they belong to (the
// answer on pub, the offer on sub), also after an ICE restart, and that a
// client adding them as they come (rtctest's) loses none.
func TestCandidatesFollowTheirDescription(t *testing.T) {
	s := newSFU(t, media.Config{})
	opts := rtctest.Options{Publish: []string{"audio", "video"}}
	a := join(t, s, "r1", "alice", opts)
	b := join(t, s, "r1", "bob", opts)
	waitFor(t, 20*time.Second, "both to receive each other", func() bool { return receivesAll(a, b) && receivesAll(b, a) }, describe(a, b))
	a.mu.Lock()
	before := len(a.signals)
	a.mu.Unlock()
	if err := a.c.RestartICE(); err != nil {
		t.Fatal(err)
	}
	if err := a.p.RestartICE(); err != nil {
		t.Fatal(err)
	}
	// Each restart gathers again: wait for candidates after the first new
	// description of each connection (later renegotiations, which gather
	// nothing, may follow it).
	candidateAfter := func(signals []string, desc, cand string) bool {
		i := slices.Index(signals, desc)
		return i >= 0 && slices.Contains(signals[i+1:], cand)
	}
	waitFor(t, 20*time.Second, "candidates after the restarts", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		since := a.signals[before:]
		return candidateAfter(since, "pub answer", "pub candidate") && candidateAfter(since, "sub offer", "sub candidate")
	}, describe(a, b))
	for _, pe := range []*peer{a, b} {
		pe.mu.Lock()
		signals := slices.Clone(pe.signals)
		pe.mu.Unlock()
		for pc, desc := range map[string]string{"pub": "pub answer", "sub": "sub offer"} {
			first := slices.Index(signals, desc)
			cand := slices.Index(signals, pc+" candidate")
			if first < 0 || cand < 0 || cand < first {
				t.Errorf("%s: the SFU sent %s candidate %d and its first %s %d: want the description first\n%v",
					pe.user, pc, cand, desc, first, signals)
			}
		}
		if n := pe.c.RefusedCandidates.Load(); n != 0 {
			t.Errorf("%s: the client could not add %d of the SFU's candidates", pe.user, n)
		}
	}
}

// TestNewcomerGetsKeyframeAtOnce checks that a newcomer's first keyframe
// is asked for outside the throttle: with a KeyframeInterval of an hour,
// the second subscriber to join gets alice's keyframe, after exactly one
// more request to alice and without any PLI of its own (rtctest's
// receivers send none).
func TestNewcomerGetsKeyframeAtOnce(t *testing.T) {
	s := newSFU(t, media.Config{KeyframeInterval: time.Hour})
	// Alice sends one keyframe at the start, then only when asked.
	a := join(t, s, "r1", "alice", rtctest.Options{Publish: []string{"video"}})
	b := join(t, s, "r1", "bob", rtctest.Options{})
	waitFor(t, 20*time.Second, "bob to receive alice's video", func() bool { return receivesAll0(b, "alice") }, describe(a, b))

	plis := a.c.PLIs.Load()
	c := join(t, s, "r1", "carol", rtctest.Options{})
	video := media.TrackID("alice", media.KindVideo)
	waitFor(t, 20*time.Second, "carol's first keyframe of alice's video", func() bool {
		st := c.c.Track(video)
		return st != nil && st.Keyframes.Load() > 0
	}, describe(a, b, c))
	if got := a.c.PLIs.Load() - plis; got != 1 {
		t.Errorf("alice got %d keyframe requests for carol's first keyframe, want 1", got)
	}
}

// TestRenegotiatedTrackGetsKeyframeAtOnce checks that a track added to
// existing subscribers by a renegotiation (a screen share started
// mid-call) gets its first keyframe to each of them outside the throttle,
// also to a subscriber whose answer comes after the keyframe the first
// subscriber's request brought.
func TestRenegotiatedTrackGetsKeyframeAtOnce(t *testing.T) {
	s := newSFU(t, media.Config{KeyframeInterval: time.Hour})
	a := join(t, s, "r1", "alice", rtctest.Options{Publish: []string{"audio", "video"}})
	b := join(t, s, "r1", "bob", rtctest.Options{})
	c := join(t, s, "r1", "carol", rtctest.Options{})
	all := describe(a, b, c)
	waitFor(t, 20*time.Second, "bob and carol to receive alice", func() bool { return receivesAll(b, a) && receivesAll(c, a) }, all)

	release := c.holdAnswers()
	t.Cleanup(release) // before the clients close, if the test fails
	if err := a.c.StartScreen(); err != nil {
		t.Fatal(err)
	}
	screen := media.TrackID("alice", media.KindScreen)
	hasKeyframe := func(pe *peer) func() bool {
		return func() bool {
			st := pe.c.Track(screen)
			return st != nil && st.Keyframes.Load() > 0
		}
	}
	waitFor(t, 20*time.Second, "bob's first keyframe of alice's screen", hasKeyframe(b), all)
	release()
	waitFor(t, 20*time.Second, "carol's first keyframe of alice's screen, her answer late", hasKeyframe(c), all)
}

// TestNewcomersShareKeyframeRequests checks that newcomers joining at once
// do not flood the publisher: their first keyframes, asked for outside
// the throttle, are requested at most once per 100 ms.
func TestNewcomersShareKeyframeRequests(t *testing.T) {
	s := newSFU(t, media.Config{KeyframeInterval: time.Hour})
	a := join(t, s, "r1", "alice", rtctest.Options{Publish: []string{"video"}})
	first := join(t, s, "r1", "sub0", rtctest.Options{})
	waitFor(t, 20*time.Second, "sub0 to receive alice's video", func() bool { return receivesAll0(first, "alice") }, describe(a, first))

	plis, start := a.c.PLIs.Load(), time.Now()
	var subs []*peer
	for i := range 6 {
		subs = append(subs, join(t, s, "r1", fmt.Sprintf("new%d", i), rtctest.Options{}))
	}
	waitFor(t, 30*time.Second, "every newcomer's first keyframe", func() bool {
		for _, sub := range subs {
			if st := sub.c.Track(media.TrackID("alice", media.KindVideo)); st == nil || st.Keyframes.Load() == 0 {
				return false
			}
		}
		return true
	}, describe(append(subs, a)...))
	elapsed := time.Since(start)
	got := a.c.PLIs.Load() - plis
	t.Logf("6 newcomers in %v: alice got %d keyframe requests", elapsed, got)
	if max := int64(elapsed/(100*time.Millisecond)) + 1; got > max {
		t.Errorf("alice got %d keyframe requests in %v, want at most %d", got, elapsed, max)
	}
}

func receivesAll0(pe *peer, from string) bool {
	v := pe.c.Track(media.TrackID(from, media.KindVideo))
	return v != nil && v.Keyframes.Load() > 0 && v.Packets.Load() > 10
}

func TestKeyframeRequestsAreThrottled(t *testing.T) {
	s := newSFU(t, media.Config{})
	a := join(t, s, "r1", "alice", rtctest.Options{Publish: []string{"video"}})
	var subs []*peer
	for i := range 4 {
		subs = append(subs, join(t, s, "r1", fmt.Sprintf("sub%d", i), rtctest.Options{}))
	}
	waitFor(t, 20*time.Second, "every subscriber to receive video", func() bool {
		for _, sub := range subs {
			if !receivesAll0(sub, "alice") {
				return false
			}
		}
		return true
	}, describe(append(subs, a)...))
	// Every ICE restart of a subscriber's connection asks for a keyframe:
	// forty a second from four subscribers, of which at most one a second
	// reaches alice.
	start, plis := time.Now(), a.c.PLIs.Load()
	for range 20 {
		for _, sub := range subs {
			sub.p.RestartICE() // each renegotiation asks for a keyframe
		}
		time.Sleep(100 * time.Millisecond)
	}
	elapsed := time.Since(start)
	got := a.c.PLIs.Load() - plis
	if max := int64(elapsed/time.Second) + 2; got > max {
		t.Errorf("alice got %d keyframe requests in %v, want at most %d", got, elapsed, max)
	}
	if got == 0 {
		t.Error("alice got no keyframe request at all")
	}
}

func TestStalledReceiverDoesNotSlowOthers(t *testing.T) {
	s := newSFU(t, media.Config{QueueSize: 64})
	a := join(t, s, "r1", "alice", rtctest.Options{Publish: []string{"audio", "video"}, VideoPackets: 4})
	stalled := join(t, s, "r1", "stalled", rtctest.Options{NoRead: true})
	b := join(t, s, "r1", "bob", rtctest.Options{})
	waitFor(t, 20*time.Second, "bob to receive alice", func() bool { return receivesAll(b, a) }, describe(a, b, stalled))
	waitFor(t, 20*time.Second, "the stalled receiver to connect", stalled.c.Connected, describe(a, b, stalled))

	sent0 := a.c.Sent.Load()
	got0 := b.c.Received("alice", media.KindAudio) + b.c.Received("alice", media.KindVideo)
	time.Sleep(3 * time.Second)
	sent := a.c.Sent.Load() - sent0
	got := b.c.Received("alice", media.KindAudio) + b.c.Received("alice", media.KindVideo) - got0
	t.Logf("alice sent %d packets, bob received %d, while a subscriber read nothing", sent, got)
	if float64(got) < 0.9*float64(sent) {
		t.Errorf("bob received %d of %d packets while another subscriber stalled", got, sent)
	}
}

func TestActiveSpeaker(t *testing.T) {
	s := newSFU(t, media.Config{})
	a := join(t, s, "r1", "alice", rtctest.Options{Publish: []string{"audio"}, Level: 20})
	b := join(t, s, "r1", "bob", rtctest.Options{Publish: []string{"audio"}, Level: 127})
	waitFor(t, 20*time.Second, "both to hear alice as the active speaker", func() bool {
		return a.lastSpeaker() == "alice" && b.lastSpeaker() == "alice"
	}, describe(a, b))
}

func TestMediaStateIsBroadcast(t *testing.T) {
	s := newSFU(t, media.Config{})
	a := join(t, s, "r1", "alice", rtctest.Options{})
	b := join(t, s, "r1", "bob", rtctest.Options{})
	a.p.SetMedia(media.MediaState{Audio: false, Video: true, Screen: true})
	waitFor(t, 5*time.Second, "bob to see alice's camera and screen on, mic muted", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		if len(b.states) == 0 {
			return false
		}
		for _, p := range b.states[len(b.states)-1].Participants {
			if p.UserID == "alice" {
				return p.MediaState == media.MediaState{Video: true, Screen: true}
			}
		}
		return false
	}, describe(a, b))
}

func TestBadInput(t *testing.T) {
	s := newSFU(t, media.Config{})
	p, err := s.Join("r1", "alice", "c1", func(media.Message) {})
	if err != nil {
		t.Fatal(err)
	}
	delivered := func(string) { t.Error("Publish delivered an answer to bad input") }
	if err := p.Publish("not sdp", nil, delivered); !errors.Is(err, media.ErrBadSDP) {
		t.Errorf("Publish(garbage) = %v, want ErrBadSDP", err)
	}
	if err := p.Publish("v=0\r\n", map[string]string{"0": "hologram"}, delivered); !errors.Is(err, media.ErrBadKind) {
		t.Errorf("Publish with a bad kind = %v, want ErrBadKind", err)
	}
	if err := p.Answer("v=0\r\n"); !errors.Is(err, media.ErrNotAnswer) {
		t.Errorf("Answer without an offer = %v, want ErrNotAnswer", err)
	}
	if err := p.AddCandidate("side", webrtc.ICECandidateInit{Candidate: "x"}); !errors.Is(err, media.ErrBadPC) {
		t.Errorf("AddCandidate on a bad pc = %v, want ErrBadPC", err)
	}
	p.Leave()
	if err := p.Publish("v=0\r\n", nil, delivered); !errors.Is(err, media.ErrClosed) {
		t.Errorf("Publish after leaving = %v, want ErrClosed", err)
	}
	if s.Participant("r1", "alice") != nil {
		t.Error("alice is still in the call after leaving")
	}
}

func TestJoinFromAnotherConnectionMoves(t *testing.T) {
	s := newSFU(t, media.Config{})
	a := join(t, s, "r1", "alice", rtctest.Options{})
	a2 := join(t, s, "r1", "alice", rtctest.Options{})
	select {
	case <-a.p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the first participant of alice is still in the call")
	}
	// The Removed message reaches the peer through its queue, after Done.
	var removed []string
	waitFor(t, 5*time.Second, "the first connection to be told why", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		removed = slices.Clone(a.removed)
		return len(removed) > 0
	}, describe(a, a2))
	if !slices.Equal(removed, []string{media.ReasonMoved}) {
		t.Errorf("the first connection was told %v, want [moved]", removed)
	}
	if s.Participant("r1", "alice") != a2.p {
		t.Error("the second participant of alice is not the one in the call")
	}
}

func TestFailedConnectionIsRemoved(t *testing.T) {
	failed := make(chan string, 1)
	s := newSFU(t, media.Config{
		DisconnectedTimeout: 500 * time.Millisecond, FailedTimeout: time.Second, FailedGrace: 500 * time.Millisecond,
		OnFailed: func(room, user, conn string) { failed <- room + "/" + user + "/" + conn },
	})
	a := join(t, s, "r1", "alice", rtctest.Options{Publish: []string{"audio"}})
	b := join(t, s, "r1", "bob", rtctest.Options{Publish: []string{"audio"}})
	waitFor(t, 20*time.Second, "both connected", func() bool { return a.c.Connected() && b.c.Connected() }, describe(a, b))
	// Bob's machine vanishes: his connections close without a word.
	b.c.Close()
	select {
	case got := <-failed:
		if got != "r1/bob/conn-bob" {
			t.Errorf("OnFailed(%s), want r1/bob/conn-bob", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("bob was not removed after his connection failed")
	}
	waitFor(t, 5*time.Second, "alice to see bob gone", func() bool { return slices.Equal(a.lastState(), []string{"alice"}) }, describe(a))
}

func TestICERestartKeepsMediaFlowing(t *testing.T) {
	s := newSFU(t, media.Config{})
	a := join(t, s, "r1", "alice", rtctest.Options{Publish: []string{"audio", "video"}})
	b := join(t, s, "r1", "bob", rtctest.Options{})
	waitFor(t, 20*time.Second, "bob to receive alice", func() bool { return receivesAll(b, a) }, describe(a, b))
	if err := a.c.RestartICE(); err != nil {
		t.Fatalf("alice's ICE restart: %v", err)
	}
	if err := b.p.RestartICE(); err != nil {
		t.Fatalf("bob's subscribe ICE restart: %v", err)
	}
	before := b.c.Received("alice", media.KindVideo)
	waitFor(t, 20*time.Second, "media to keep flowing after the restarts", func() bool {
		return b.c.Received("alice", media.KindVideo) > before+30 && a.c.Connected() && b.c.Connected()
	}, describe(a, b))
}

func TestScreenShareStartAndStop(t *testing.T) {
	s := newSFU(t, media.Config{})
	a := join(t, s, "r1", "alice", rtctest.Options{Publish: []string{"audio", "video"}})
	b := join(t, s, "r1", "bob", rtctest.Options{})
	waitFor(t, 20*time.Second, "bob to receive alice", func() bool { return receivesAll(b, a) }, describe(a, b))

	// Alice shares her screen without leaving: a new track, negotiated on
	// her publish connection, reaches bob with a keyframe.
	if err := a.c.StartScreen(); err != nil {
		t.Fatal(err)
	}
	screen := media.TrackID("alice", media.KindScreen)
	waitFor(t, 20*time.Second, "bob to receive alice's screen", func() bool {
		st := b.c.Track(screen)
		return st != nil && st.Packets.Load() > 10 && st.Keyframes.Load() > 0
	}, describe(a, b))

	// She stops: bob's subscribe connection loses the track, the camera
	// goes on.
	if err := a.c.StopScreen(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the screen track to leave bob's subscribe connection", func() bool {
		return sending(b.c.Sub, func(msid string) bool { return strings.HasSuffix(msid, " "+screen) }) == 0
	}, describe(a, b))
	before := b.c.Received("alice", media.KindVideo)
	waitFor(t, 10*time.Second, "alice's camera to keep flowing", func() bool {
		return b.c.Received("alice", media.KindVideo) > before+20
	}, describe(a, b))
}
