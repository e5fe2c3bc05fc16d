package supervise

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/confabhq/confab/eventstore"
)

// syncBuffer is a log sink safe for the loop's goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var fast = Backoff{Min: time.Millisecond, Max: 4 * time.Millisecond}

// TestRunRetriesTransientErrors: a run that fails transiently five times
// is run again each time, the state goes retrying then running, and the
// log says so twice, not five times.
func TestRunRetriesTransientErrors(t *testing.T) {
	var log syncBuffer
	set := NewSet(slog.New(slog.NewTextHandler(&log, nil)), fast)
	l := set.Loop("worker")
	calls := 0
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := l.Run(ctx, func(ctx context.Context) error {
		calls++
		if calls <= 5 {
			if calls == 1 {
				l.Healthy()
			}
			if err := set.Check(); calls > 1 && err == nil {
				t.Errorf("call %d: Check is nil while the loop retries", calls)
			}
			return fmt.Errorf("read: %w", syscall.ECONNREFUSED)
		}
		l.Healthy()
		if err := set.Check(); err != nil {
			t.Errorf("Check after recovery: %v", err)
		}
		return nil
	})
	if err != nil || calls != 6 {
		t.Fatalf("Run = %v after %d calls, want nil after 6", err, calls)
	}
	st := l.Status()
	if st.Retries != 5 || !strings.Contains(st.LastError, "connection refused") || st.State != Stopped {
		t.Errorf("status %+v, want 5 retries, the last error, stopped", st)
	}
	out := log.String()
	if n := strings.Count(out, "failing"); n != 1 {
		t.Errorf("logged failing %d times, want once:\n%s", n, out)
	}
	if n := strings.Count(out, "recovered"); n != 1 {
		t.Errorf("logged recovered %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out, "level=WARN") || strings.Contains(out, "level=ERROR") {
		t.Errorf("a transient failure should log a warning, no error:\n%s", out)
	}
}

// TestRunStopsOnFatalError: a fatal error ends Run at once, logged.
func TestRunStopsOnFatalError(t *testing.T) {
	var log syncBuffer
	l := NewLoop("projections", slog.New(slog.NewTextHandler(&log, nil)), fast)
	calls := 0
	err := l.Run(context.Background(), func(context.Context) error {
		calls++
		return fmt.Errorf("apply: %w", eventstore.ErrCorrupt)
	})
	if !errors.Is(err, eventstore.ErrCorrupt) || calls != 1 {
		t.Fatalf("Run = %v after %d calls, want the corrupt error after 1", err, calls)
	}
	if l.Status().State != Failed || l.Err() == nil {
		t.Errorf("status %+v, want failed", l.Status())
	}
	if !strings.Contains(log.String(), "level=ERROR") || !strings.Contains(log.String(), "projections: fatal error") {
		t.Errorf("log does not say the loop stopped:\n%s", log.String())
	}
}

// TestRunEndsWithContext: while waiting to retry, ending ctx ends Run.
func TestRunEndsWithContext(t *testing.T) {
	l := NewLoop("relay", nil, Backoff{Min: time.Hour, Max: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- l.Run(ctx, func(context.Context) error { return eventstore.AsTransient(errors.New("bus down")) })
	}()
	for l.Status().State != Retrying {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if st := l.Status().State; st != Stopped {
		t.Errorf("state %v, want stopped", st)
	}
}

// TestUnknownErrorsAreRetriedAsErrors: an error Classify does not know
// is retried, but logged at error level (it may be a bug).
func TestUnknownErrorsAreRetriedAsErrors(t *testing.T) {
	var log syncBuffer
	l := NewLoop("presence", slog.New(slog.NewTextHandler(&log, nil)), fast)
	calls := 0
	err := l.Do(context.Background(), func(context.Context) error {
		if calls++; calls < 3 {
			return errors.New("something odd")
		}
		return nil
	})
	if err != nil || calls != 3 || l.Status().State != Running {
		t.Fatalf("Do = %v after %d calls, state %v; want nil after 3, running", err, calls, l.Status().State)
	}
	if !strings.Contains(log.String(), "level=ERROR") || !strings.Contains(log.String(), "class=unknown") {
		t.Errorf("an unknown error should be logged as an error:\n%s", log.String())
	}
}

func TestBackoffIsCappedWithJitter(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	seen := map[time.Duration]bool{}
	for attempt := range 40 {
		w := b.wait(attempt)
		want := min(b.Min<<min(attempt, 10), b.Max)
		if w < want/2 || w > want {
			t.Fatalf("attempt %d: wait %v, want in [%v, %v]", attempt, w, want/2, want)
		}
		seen[w] = true
	}
	if len(seen) < 10 {
		t.Errorf("%d distinct waits in 40: no jitter?", len(seen))
	}
}
