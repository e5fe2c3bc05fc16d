package sqlite_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/eventstore/sqlite"
	"github.com/google/uuid"
)

// crashHelperEnv names the environment variable that turns TestCrashHelper
// into the appending child of TestCrash; its value is the database path.
const crashHelperEnv = "CONFAB_CRASH_HELPER"

// Shape of the child's load.
const (
	crashAppenders = 8
	crashStreams   = 4 // fewer than appenders, so that appends to a stream race
	crashAcks      = 500
)

// TestCrash kills a process that is appending with SIGKILL and checks that
// every append it acknowledged survives, and that no stream is left with a
// gap or a half-written append. The child is this test binary running
// TestCrashHelper; it prints a line per append right after Append returns.
//
// SIGKILL loses what the process had not handed to the kernel; it does not
// lose the page cache, so this shows that Append returns only after the
// commit, not that the commit reaches the disk (power loss).
func TestCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashHelperEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	// Read acknowledgements until there are enough, kill the child, then
	// read the ones already in the pipe: they were acknowledged too.
	var (
		acks   []crashAck
		killed bool
	)
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "ack ") {
			continue // the testing package's own output
		}
		a, err := parseAck(line)
		if err != nil {
			t.Fatal(err)
		}
		acks = append(acks, a)
		if len(acks) == crashAcks && !killed {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	werr := cmd.Wait()
	if !killed {
		t.Fatalf("child ended (%v) after %d acknowledged appends, want %d\nstderr:\n%s", werr, len(acks), crashAcks, stderr.String())
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want SIGKILL\nstderr:\n%s", werr, stderr.String())
	}
	t.Logf("%d appends acknowledged before the kill", len(acks))

	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("reopen after the kill: %v", err)
	}
	defer s.Close()

	// Every stream reads back contiguous from revision 1.
	stored := map[string][]eventstore.RecordedEvent{}
	for i := range crashStreams {
		stream := crashStream(i)
		evs, err := s.ReadStream(ctx, stream, 1, eventstore.Forwards, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for j, e := range evs {
			if e.Revision != uint64(j+1) {
				t.Fatalf("%s: event %d has revision %d, want %d", stream, j, e.Revision, j+1)
			}
		}
		stored[stream] = evs
	}
	// Every acknowledged append is there, whole, where Append said.
	for _, a := range acks {
		evs := stored[a.stream]
		first := a.revision - uint64(len(a.ids)) + 1
		if a.revision > uint64(len(evs)) {
			t.Errorf("%s: acknowledged append up to revision %d is lost: the stream ends at %d", a.stream, a.revision, len(evs))
			continue
		}
		for k, id := range a.ids {
			if got := evs[first-1+uint64(k)].ID; got != id {
				t.Errorf("%s revision %d: ID %s, acknowledged %s", a.stream, first+uint64(k), got, id)
			}
		}
	}
}

// crashAck is one acknowledged append: its stream, the revision of its
// last event and its event IDs in order.
type crashAck struct {
	stream   string
	revision uint64
	ids      []uuid.UUID
}

func (a crashAck) String() string {
	ids := make([]string, len(a.ids))
	for i, id := range a.ids {
		ids[i] = id.String()
	}
	return fmt.Sprintf("ack %s %d %s", a.stream, a.revision, strings.Join(ids, ","))
}

func parseAck(line string) (crashAck, error) {
	f := strings.Fields(line)
	if len(f) != 4 {
		return crashAck{}, fmt.Errorf("bad ack line %q", line)
	}
	rev, err := strconv.ParseUint(f[2], 10, 64)
	if err != nil {
		return crashAck{}, fmt.Errorf("bad ack line %q: %w", line, err)
	}
	a := crashAck{stream: f[1], revision: rev}
	for s := range strings.SplitSeq(f[3], ",") {
		id, err := uuid.Parse(s)
		if err != nil {
			return crashAck{}, fmt.Errorf("bad ack line %q: %w", line, err)
		}
		a.ids = append(a.ids, id)
	}
	if uint64(len(a.ids)) > rev {
		return crashAck{}, fmt.Errorf("bad ack line %q: more events than the revision", line)
	}
	return a, nil
}

func crashStream(i int) string { return fmt.Sprintf("crash-%d", i) }

// TestCrashHelper is the child process of TestCrash: it appends 1 to 3
// events at a time from several goroutines until it is killed (or 30 s
// pass), and writes an ack line to stdout after each append returns.
func TestCrashHelper(t *testing.T) {
	path := os.Getenv(crashHelperEnv)
	if path == "" {
		t.Skip("the child process of TestCrash; runs only when " + crashHelperEnv + " is set")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	var (
		mu sync.Mutex // one whole line per write
		wg sync.WaitGroup
	)
	for g := range crashAppenders {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				stream := crashStream((g + i) % crashStreams)
				evs := make([]eventstore.EventData, 1+rand.IntN(3))
				a := crashAck{stream: stream}
				for k := range evs {
					id := uuid.New()
					evs[k] = eventstore.EventData{ID: id, Type: "MessagePosted", Data: fmt.Appendf(nil, `{"appender":%d,"n":%d}`, g, i)}
					a.ids = append(a.ids, id)
				}
				res, err := s.Append(ctx, stream, eventstore.Any, evs...)
				if err != nil {
					if ctx.Err() == nil {
						t.Error(err)
					}
					return
				}
				a.revision = res.Revision
				mu.Lock()
				_, err = os.Stdout.WriteString(a.String() + "\n")
				mu.Unlock()
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
