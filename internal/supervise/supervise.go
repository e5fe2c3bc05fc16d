package supervise

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/confabhq/confab/eventstore"
)

// State is what a loop is doing.
type State int

// States of a loop.
const (
	Starting State = iota // not yet shown to work
	Running               // its dependencies answered last time
	Retrying              // failed; waiting to try again
	Stopped               // returned: its context ended
	Failed                // ended by a fatal error
)

var stateNames = [...]string{Starting: "starting", Running: "running", Retrying: "retrying", Stopped: "stopped", Failed: "failed"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// States are every state, in order, for metrics.
var States = []State{Starting, Running, Retrying, Stopped, Failed}

// Backoff bounds the waits between retries: the first is Min, each next
// one doubles up to Max, and each is drawn at random between half and
// all of it (jitter, so that nodes do not retry in step).
type Backoff struct {
	Min, Max time.Duration
}

// DefaultBackoff is the backoff of loops that set none: 100 ms to 3 s.
var DefaultBackoff = Backoff{Min: 100 * time.Millisecond, Max: 3 * time.Second}

// wait returns the wait before retry number attempt (0 for the first).
func (b Backoff) wait(attempt int) time.Duration {
	d := b.Min
	for range min(attempt, 30) {
		if d *= 2; d >= b.Max {
			d = b.Max
			break
		}
	}
	return d/2 + rand.N(d/2+1)
}

// Status is a loop's state, as metrics and /readyz show it.
type Status struct {
	Name  string
	State State
	// Since is when the loop entered State.
	Since time.Time
	// Retries counts the failures retried since the loop began.
	Retries uint64
	// LastError is the last failure ("" if none), at LastErrorAt.
	LastError   string
	LastErrorAt time.Time
}

// Loop is one supervised loop. Its methods are safe for concurrent use.
type Loop struct {
	name    string
	logger  *slog.Logger
	backoff Backoff

	mu      sync.Mutex
	st      Status
	attempt int // failures since the last Healthy, for the backoff
	down    time.Time
}

// NewLoop returns a loop named name (used in logs, metrics and /readyz).
func NewLoop(name string, logger *slog.Logger, b Backoff) *Loop {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if b.Min <= 0 || b.Max < b.Min {
		b = DefaultBackoff
	}
	return &Loop{name: name, logger: logger, backoff: b, st: Status{Name: name, State: Starting, Since: time.Now()}}
}

// Name returns the loop's name.
func (l *Loop) Name() string { return l.name }

// Run calls run until ctx ends (returning ctx.Err()), run returns nil
// (returning nil), or run fails with a fatal error (returning it, after
// logging it). Other errors are retried after a backoff; run should
// resume from its last checkpoint and call Healthy once its dependencies
// answer.
func (l *Loop) Run(ctx context.Context, run func(ctx context.Context) error) error {
	err := l.retry(ctx, run)
	if err == nil || ctx.Err() != nil {
		l.set(Stopped, nil)
	}
	return err
}

// Do calls f until it succeeds (the loop is then healthy: Do returns
// nil), ctx ends (returning ctx.Err()), or f fails with a fatal error
// (returning it, after logging it), waiting a backoff between tries. It
// is for one step of a periodic loop, such as renewing a lease.
func (l *Loop) Do(ctx context.Context, f func(ctx context.Context) error) error {
	err := l.retry(ctx, f)
	if err == nil {
		l.Healthy()
	}
	return err
}

// retry calls f until it returns nil, a fatal error, or ctx ends.
func (l *Loop) retry(ctx context.Context, f func(ctx context.Context) error) error {
	for {
		err := f(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			return nil
		}
		if eventstore.Classify(err) == eventstore.Fatal {
			l.set(Failed, err)
			l.logger.Error(l.name+": fatal error; stopping", "loop", l.name, "err", err)
			return fmt.Errorf("%s: %w", l.name, err)
		}
		t := time.NewTimer(l.Failed(err))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Healthy records that the loop's dependencies answered: a loop that was
// retrying is running again (logged once, with how long it was down).
func (l *Loop) Healthy() {
	l.mu.Lock()
	if l.st.State == Running {
		l.mu.Unlock()
		return
	}
	prev, down, retries := l.st.State, l.down, l.st.Retries
	l.attempt = 0
	l.st.State, l.st.Since = Running, time.Now()
	l.mu.Unlock()
	if prev == Retrying {
		l.logger.Info(l.name+": recovered", "loop", l.name, "down_for", time.Since(down).Round(time.Millisecond), "retries", retries)
	}
}

// Failed records a failure to retry and returns how long to wait before
// the retry. The first failure after running is logged (a warning for a
// transient error, an error for one that is not recognised); later ones
// only count.
func (l *Loop) Failed(err error) time.Duration {
	now := time.Now()
	l.mu.Lock()
	l.st.Retries++
	l.st.LastError, l.st.LastErrorAt = err.Error(), now
	wait := l.backoff.wait(l.attempt)
	l.attempt++
	changed := l.st.State != Retrying
	if changed {
		l.st.State, l.st.Since, l.down = Retrying, now, now
	}
	l.mu.Unlock()
	if changed {
		class := eventstore.Classify(err)
		level := slog.LevelWarn
		if class != eventstore.Transient {
			level = slog.LevelError
		}
		l.logger.Log(context.Background(), level, l.name+": failing; retrying until it works", "loop", l.name, "err", err, "class", class.String(), "retry_in", wait.Round(time.Millisecond))
	}
	return wait
}

func (l *Loop) set(s State, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.st.LastError, l.st.LastErrorAt = err.Error(), time.Now()
	}
	if l.st.State != s {
		l.st.State, l.st.Since = s, time.Now()
	}
}

// Status returns the loop's state.
func (l *Loop) Status() Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st
}

// Err returns nil while the loop is starting, running or stopped, and an
// error naming the loop and its last failure while it is retrying or
// failed.
func (l *Loop) Err() error {
	st := l.Status()
	switch st.State {
	case Retrying, Failed:
		return fmt.Errorf("%s is %s: %s", st.Name, st.State, st.LastError)
	}
	return nil
}

// Set is a node's loops.
type Set struct {
	logger  *slog.Logger
	backoff Backoff

	mu    sync.Mutex
	loops []*Loop
}

// NewSet returns an empty set whose loops log to logger and back off by b
// (DefaultBackoff if b is zero).
func NewSet(logger *slog.Logger, b Backoff) *Set {
	return &Set{logger: logger, backoff: b}
}

// Loop returns the set's loop named name, adding it if it is new.
func (s *Set) Loop(name string) *Loop {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.loops {
		if l.name == name {
			return l
		}
	}
	l := NewLoop(name, s.logger, s.backoff)
	s.loops = append(s.loops, l)
	return l
}

// Statuses returns the state of every loop, by name.
func (s *Set) Statuses() []Status {
	s.mu.Lock()
	loops := slices.Clone(s.loops)
	s.mu.Unlock()
	out := make([]Status, len(loops))
	for i, l := range loops {
		out[i] = l.Status()
	}
	slices.SortFunc(out, func(a, b Status) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}

// Check returns nil if no loop is retrying or failed, else an error
// naming each that is.
func (s *Set) Check() error {
	s.mu.Lock()
	loops := slices.Clone(s.loops)
	s.mu.Unlock()
	var errs []error
	for _, l := range loops {
		if err := l.Err(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
