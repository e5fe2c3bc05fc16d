package throttle

import (
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := New(Policy{Free: 3, Base: time.Second, Max: 10 * time.Second, Forget: time.Minute}, func() time.Time { return now })
	for i := range 3 {
		if w := th.Check("a"); w != 0 {
			t.Fatalf("failure %d: locked %v within the free failures", i, w)
		}
		th.Fail("a")
	}
	if w := th.Check("a"); w != time.Second {
		t.Fatalf("after exactly the free failures wait %v, want 1s", w)
	}
	th.Fail("a") // 4th: 2s
	if w := th.Check("a"); w != 2*time.Second {
		t.Fatalf("after 4 failures wait %v, want 2s", w)
	}
	if w := th.Check("b"); w != 0 {
		t.Fatalf("another key is locked %v", w)
	}
	th.Fail("a") // 5th: 4s
	th.Fail("a") // 6th: 8s
	if w := th.Check("a"); w != 8*time.Second {
		t.Fatalf("after 6 failures wait %v, want 8s", w)
	}
	for range 10 {
		th.Fail("a")
	}
	if w := th.Check("a"); w != 10*time.Second {
		t.Fatalf("wait %v, want the 10s cap", w)
	}
	now = now.Add(11 * time.Second)
	if w := th.Check("a"); w != 0 {
		t.Fatalf("still locked %v after the lockout", w)
	}
	th.Fail("a")
	if w := th.Check("a"); w == 0 {
		t.Fatal("a failure right after a lockout is not locked again")
	}
	now = now.Add(2 * time.Minute)
	if w := th.Check("a"); w != 0 {
		t.Fatalf("locked %v after being forgotten", w)
	}
	th.Fail("c")
	th.Fail("c")
	th.Fail("c")
	th.Fail("c")
	th.Succeed("c")
	if w := th.Check("c"); w != 0 {
		t.Fatalf("locked %v after a success", w)
	}
}
