package password

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

var fast = Params{Memory: 64, Time: 1, Threads: 1}

func TestHashVerify(t *testing.T) {
	h, err := Hash("correct horse", fast)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not in PHC form", h)
	}
	h2, _ := Hash("correct horse", fast)
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for _, tt := range []struct {
		pw   string
		want bool
	}{{"correct horse", true}, {"correct horsE", false}, {"", false}, {"correct horse ", false}} {
		ok, err := Verify(tt.pw, h)
		if err != nil || ok != tt.want {
			t.Errorf("Verify(%q) = %v, %v; want %v", tt.pw, ok, err, tt.want)
		}
	}
}

func TestVerifyMalformed(t *testing.T) {
	for _, h := range []string{
		"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdA$a2V5",
		"$argon2id$v=18$m=64,t=1,p=1$c2FsdA$a2V5",
		"$argon2id$v=19$m=64,t=0,p=1$c2FsdA$a2V5",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdA$a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$!!$a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdA$",
	} {
		if _, err := Verify("x", h); !errors.Is(err, ErrMalformed) {
			t.Errorf("Verify(%q): err %v, want ErrMalformed", h, err)
		}
	}
}

func TestIsCommon(t *testing.T) {
	if n := CommonCount(); n != 10000 {
		t.Fatalf("the common list holds %d passwords, want 10000", n)
	}
	for _, pw := range []string{"12345678", "password", "PASSWORD", "Password", "iloveyou", "qwertyuiop", "football"} {
		if !IsCommon(pw) {
			t.Errorf("IsCommon(%q) = false", pw)
		}
	}
	for _, pw := range []string{"correct horse", "battery staple", "the right one", "zq8#Lm2!vR", ""} {
		if IsCommon(pw) {
			t.Errorf("IsCommon(%q) = true", pw)
		}
	}
}

// TestLimiterBounds runs many hashes at once through a limiter of two
// slots and a queue of two: never more than two run, and those that find
// the queue full are refused.
func TestLimiterBounds(t *testing.T) {
	l := NewLimiter(2, 2, time.Minute)
	hold := make(chan struct{})
	// Fill both slots with hashes that wait for hold.
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			release, err := l.acquire(t.Context())
			if err != nil {
				t.Error(err)
				return
			}
			<-hold
			release()
		})
	}
	waitFor(t, func() bool { return l.Stats().Active == 2 })
	// Two wait in the queue; the rest are refused at once.
	errs := make(chan error, 10)
	for range 10 {
		wg.Go(func() {
			_, err := l.Hash(t.Context(), "pw", fast)
			errs <- err
		})
	}
	waitFor(t, func() bool { s := l.Stats(); return s.Queued == 2 && s.Refused == 8 })
	close(hold)
	wg.Wait()
	close(errs)
	var busy, ok int
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrBusy):
			busy++
		default:
			t.Fatal(err)
		}
	}
	s := l.Stats()
	if ok != 2 || busy != 8 || s.MaxActive != 2 || s.Hashes != 2 || s.Active != 0 || s.Queued != 0 || s.Refused != 8 {
		t.Fatalf("ok %d busy %d, stats %+v; want 2 hashed, 8 refused, at most 2 at once", ok, busy, s)
	}
	// A queued hash whose wait runs out is refused too.
	l2 := NewLimiter(1, 1, 10*time.Millisecond)
	release, _ := l2.acquire(t.Context())
	if _, err := l2.Verify(t.Context(), "pw", "x"); !errors.Is(err, ErrBusy) {
		t.Fatalf("wait ran out: %v, want ErrBusy", err)
	}
	release()
	if ok, err := l2.Verify(t.Context(), "pw", mustHash(t, "pw")); !ok || err != nil || l2.Stats().Verifies != 1 {
		t.Fatalf("verify in a free slot: %v %v %+v", ok, err, l2.Stats())
	}
}

func mustHash(t *testing.T, pw string) string {
	h, err := Hash(pw, fast)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 30s")
		}
	}
}
