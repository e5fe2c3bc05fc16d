package storetest

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Fails runs check against h the way Run would, but records its failures
// instead of failing t, and returns them. It shows that a check can catch a
// broken adapter: a test of the test.
func Fails(t *testing.T, check func(testing.TB, Harness), h Harness) []string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		check(r, h)
	}()
	<-done
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.failures...)
}

// recorder is a testing.TB whose failures are recorded, not reported.
// Fatal failures end the check's goroutine as they would a test's.
type recorder struct {
	testing.TB
	mu       sync.Mutex
	failures []string
}

func (r *recorder) record(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, strings.TrimSpace(msg))
}

func (r *recorder) Fail()                     { r.record("failed") }
func (r *recorder) Error(args ...any)         { r.record(fmt.Sprintln(args...)) }
func (r *recorder) Errorf(f string, a ...any) { r.record(fmt.Sprintf(f, a...)) }
func (r *recorder) FailNow()                  { r.Fail(); runtime.Goexit() }
func (r *recorder) Fatal(args ...any)         { r.Error(args...); runtime.Goexit() }
func (r *recorder) Fatalf(f string, a ...any) { r.Errorf(f, a...); runtime.Goexit() }

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.failures) > 0
}
