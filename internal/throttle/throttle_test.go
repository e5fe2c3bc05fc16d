package throttle

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func newClock() *clock { return &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

// try reserves an attempt and ends it as failed; it returns the wait.
func try(th *Throttle, key string) time.Duration {
	w, _ := th.Reserve(key)
	if w == 0 {
		th.Fail(key)
	}
	return w
}

func TestThrottle(t *testing.T) {
	c := newClock()
	th := New(Policy{Free: 3, Base: time.Second, Max: 10 * time.Second, Forget: time.Minute}, c.Now, 0)
	for i := range 3 {
		if w := try(th, "a"); w != 0 {
			t.Fatalf("failure %d: locked %v within the free failures", i, w)
		}
	}
	if w, _ := th.Reserve("a"); w != time.Second {
		t.Fatalf("after exactly the free failures wait %v, want 1s", w)
	}
	c.now = c.now.Add(time.Second)
	try(th, "a") // 4th: 2s
	if w, _ := th.Reserve("a"); w != 2*time.Second {
		t.Fatalf("after 4 failures wait %v, want 2s", w)
	}
	if w, first := th.Reserve("b"); w != 0 || !first {
		t.Fatalf("another key: wait %v, first %v", w, first)
	}
	th.Release("b")
	for range 20 {
		c.now = c.now.Add(10 * time.Second)
		try(th, "a")
	}
	if w, _ := th.Reserve("a"); w != 10*time.Second {
		t.Fatalf("wait %v, want the 10s cap", w)
	}
	c.now = c.now.Add(11 * time.Second)
	if w, first := th.Reserve("a"); w != 0 || first {
		t.Fatalf("after the lockout: wait %v, first %v; want one attempt, not first", w, first)
	}
	th.Fail("a")
	if w, _ := th.Reserve("a"); w == 0 {
		t.Fatal("a failure right after a lockout is not locked again")
	}
	c.now = c.now.Add(2 * time.Minute)
	if w, first := th.Reserve("a"); w != 0 || !first {
		t.Fatalf("after being forgotten: wait %v, first %v", w, first)
	}
	th.Release("a")
	for range 4 {
		c.now = c.now.Add(time.Minute - time.Second)
		try(th, "c")
	}
	if w, _ := th.Reserve("c"); w == 0 {
		t.Fatal("c not locked after 4 failures")
	}
	c.now = c.now.Add(time.Minute)
	th.Reserve("c")
	th.Succeed("c")
	if w, first := th.Reserve("c"); w != 0 || !first {
		t.Fatalf("after a success: wait %v, first %v", w, first)
	}
}

// TestThrottleParallel checks that attempts in flight count: however many
// start at once, at most Free go on.
func TestThrottleParallel(t *testing.T) {
	th := New(Policy{Free: 5, Base: time.Second, Max: time.Minute, Forget: time.Minute}, nil, 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	went := 0
	start := make(chan struct{})
	for range 50 {
		wg.Go(func() {
			<-start
			if w, _ := th.Reserve("k"); w == 0 {
				mu.Lock()
				went++
				mu.Unlock()
				th.Fail("k")
			}
		})
	}
	close(start)
	wg.Wait()
	if went > 5 || went == 0 {
		t.Fatalf("%d of 50 parallel attempts went on, want 1-5", went)
	}
	// Five reserved, none ended: the sixth waits even with no failure yet.
	th2 := New(Policy{Free: 5, Base: time.Second, Max: time.Minute, Forget: time.Minute}, nil, 0)
	for i := range 5 {
		if w, first := th2.Reserve("k"); w != 0 || first != (i == 0) {
			t.Fatalf("attempt %d: wait %v, first %v", i, w, first)
		}
	}
	if w, _ := th2.Reserve("k"); w == 0 {
		t.Fatal("a sixth attempt went on while five were in flight")
	}
	th2.Release("k")
	if w, _ := th2.Reserve("k"); w != 0 {
		t.Fatalf("a released attempt still counts: wait %v", w)
	}
}

func TestThrottleHold(t *testing.T) {
	c := newClock()
	th := New(Policy{Free: 1, Base: time.Minute, Max: time.Hour, Forget: time.Hour}, c.Now, 0)
	try(th, "ip")
	if w, _ := th.Reserve("ip"); w == 0 {
		t.Fatal("not locked")
	}
	th.Hold("ip")
	th.Fail("ip")
	if w, _ := th.Reserve("ip"); w != 2*time.Minute {
		t.Fatalf("a held attempt's failure was not counted: wait %v, want 2m", w)
	}
}

func TestThrottleBounded(t *testing.T) {
	c := newClock()
	th := New(Policy{Free: 1, Base: time.Minute, Max: time.Hour, Forget: time.Hour}, c.Now, 100)
	th.Reserve("busy") // in flight: never evicted
	for i := range 1000 {
		try(th, fmt.Sprint(i))
		if n := th.Len(); n > 100 {
			t.Fatalf("after %d keys the throttle holds %d, want at most 100", i+1, n)
		}
	}
	th.Fail("busy")
	if w, _ := th.Reserve("busy"); w == 0 {
		t.Fatal("the key in flight was evicted")
	}
}

func TestPacer(t *testing.T) {
	c := newClock()
	p := NewPacer(PacePolicy{Free: 2, Base: time.Second, Max: 4 * time.Second, MaxWait: 10 * time.Second, Forget: time.Minute}, c.Now, 0)
	for i := range 2 {
		if d, ok := p.Schedule("acct"); d != 0 || !ok {
			t.Fatalf("free attempt %d: delay %v ok %v", i, d, ok)
		}
		p.Fail("acct")
	}
	// Paced: turns 0, 1, 1+2, 3+4, 7+4 = 11 > MaxWait: refused.
	var delays []time.Duration
	for {
		d, ok := p.Schedule("acct")
		if !ok {
			if d != time.Second {
				t.Fatalf("refused with retry %v, want 1s", d)
			}
			break
		}
		delays = append(delays, d)
	}
	if want := fmt.Sprint([]time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second}); fmt.Sprint(delays) != want {
		t.Fatalf("paced delays %v, want %v", delays, want)
	}
	for range delays {
		p.Fail("acct")
	}
	// Never locked: once the queued turns pass, an attempt gets a turn
	// within Max.
	c.now = c.now.Add(12 * time.Second)
	if d, ok := p.Schedule("acct"); !ok || d > 4*time.Second {
		t.Fatalf("after the turns: delay %v ok %v, want a turn within 4s", d, ok)
	}
	p.Release("acct")
	c.now = c.now.Add(2 * time.Minute)
	if d, ok := p.Schedule("acct"); d != 0 || !ok {
		t.Fatalf("after being forgotten: delay %v ok %v", d, ok)
	}
}

func TestBuckets(t *testing.T) {
	c := newClock()
	b := NewBuckets(0.5, 2, c.Now, 0)
	for i := range 2 {
		if w, undo := b.Take("ip"); w != 0 || undo == nil {
			t.Fatalf("token %d: wait %v", i, w)
		}
	}
	w, _ := b.Take("ip")
	if w != 2*time.Second {
		t.Fatalf("empty bucket: wait %v, want 2s", w)
	}
	c.now = c.now.Add(2 * time.Second)
	_, undo := b.Take("ip")
	c.now = c.now.Add(time.Millisecond) // the attempt took a while
	undo()
	if w, _ := b.Take("ip"); w != 0 {
		t.Fatalf("a token put back is not there: wait %v", w)
	}
	if w, _ := b.Take("other"); w != 0 {
		t.Fatalf("another key waits %v", w)
	}
}
