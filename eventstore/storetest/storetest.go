package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/confabhq/confab/eventstore"
	"github.com/google/uuid"
)

// Harness opens the store under test.
type Harness struct {
	// Open returns a store for one test. It may be shared with other tests
	// (the suite uses unique stream names) and is closed by the suite.
	Open func(t testing.TB) eventstore.Store
	// Reopen closes s and opens a store on the same data, as a restarted
	// process would.
	Reopen func(t testing.TB, s eventstore.Store) eventstore.Store
}

// Check is one conformance check.
type Check struct {
	Name string
	Func func(t testing.TB, h Harness)
}

// Checks lists the whole suite.
var Checks = []Check{
	{"AppendAndReadStream", AppendAndReadStream},
	{"ExpectedRevision", ExpectedRevision},
	{"ConcurrentExpectedRevision", ConcurrentExpectedRevision},
	{"Idempotency", Idempotency},
	{"GlobalIDs", GlobalIDs},
	{"ReadAll", ReadAll},
	{"Subscribe", Subscribe},
	{"SubscribeFilter", SubscribeFilter},
	{"SubscribeStops", SubscribeStops},
	{"CatchUpHandOver", CatchUpHandOver},
	{"Stress", Stress},
	{"Durability", Durability},
	{"BadInput", BadInput},
}

// Run runs every check as a subtest.
func Run(t *testing.T, h Harness) {
	for _, c := range Checks {
		t.Run(c.Name, func(t *testing.T) { c.Func(t, h) })
	}
}

// timeout bounds how long a check waits for an eventual state.
const timeout = 20 * time.Second

func open(t testing.TB, h Harness) eventstore.Store {
	t.Helper()
	s := h.Open(t)
	t.Cleanup(func() { s.Close() })
	return s
}

// prefix returns a stream name prefix unique to this test.
func prefix(t testing.TB) string {
	var b [6]byte
	rand.Read(b[:])
	return "t" + hex.EncodeToString(b[:]) + "-"
}

func ev(typ, data string) eventstore.EventData {
	return eventstore.EventData{ID: uuid.New(), Type: typ, Data: []byte(data)}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*timeout)
	t.Cleanup(cancel)
	return ctx
}

func mustAppend(t testing.TB, s eventstore.Store, stream string, exp eventstore.ExpectedRevision, evs ...eventstore.EventData) eventstore.AppendResult {
	t.Helper()
	res, err := s.Append(ctxT(t), stream, exp, evs...)
	if err != nil {
		t.Fatalf("append %s (expected %s): %v", stream, exp, err)
	}
	return res
}

func readStream(t testing.TB, s eventstore.Store, stream string) []eventstore.RecordedEvent {
	t.Helper()
	got, err := s.ReadStream(ctxT(t), stream, 1, eventstore.Forwards, eventstore.MaxAppendEvents*10)
	if err != nil {
		t.Fatalf("read %s: %v", stream, err)
	}
	return got
}

// AppendAndReadStream checks contiguous revisions, stored fields, and
// stream reads in both directions.
func AppendAndReadStream(t testing.TB, h Harness) {
	s := open(t, h)
	ctx := ctxT(t)
	stream := prefix(t) + "a"

	if got := readStream(t, s, stream); len(got) != 0 {
		t.Fatalf("missing stream: read %d events, want 0", len(got))
	}
	before := time.Now().Add(-time.Minute)
	in := []eventstore.EventData{
		{ID: uuid.New(), Type: "Created", Data: []byte(`{"n":1}`), Metadata: []byte(`{"by":"x"}`)},
		{ID: uuid.New(), Type: "Renamed", Data: []byte(`{"n":2}`)},
	}
	res := mustAppend(t, s, stream, eventstore.NoStream, in...)
	if res.Revision != 2 {
		t.Fatalf("first append: revision %d, want 2", res.Revision)
	}
	res2 := mustAppend(t, s, stream, eventstore.Exact(2), ev("Posted", `{"n":3}`))
	if res2.Revision != 3 || !res2.Position.After(res.Position) {
		t.Fatalf("second append: %+v after %+v, want revision 3 at a later position", res2, res)
	}

	got := readStream(t, s, stream)
	if len(got) != 3 {
		t.Fatalf("read %d events, want 3", len(got))
	}
	for i, e := range got {
		if e.Revision != uint64(i+1) || e.Stream != stream {
			t.Errorf("event %d: stream %q revision %d", i, e.Stream, e.Revision)
		}
		if i > 0 && !e.Position.After(got[i-1].Position) {
			t.Errorf("event %d: position %v not after %v", i, e.Position, got[i-1].Position)
		}
		if e.RecordedAt.Before(before) || e.RecordedAt.After(time.Now().Add(time.Minute)) {
			t.Errorf("event %d: RecordedAt %v is not now", i, e.RecordedAt)
		}
	}
	for i, want := range in {
		e := got[i]
		if e.ID != want.ID || e.Type != want.Type || !bytes.Equal(e.Data, want.Data) || !bytes.Equal(e.Metadata, want.Metadata) {
			t.Errorf("event %d = %s %s %s %s, want %s %s %s %s", i, e.ID, e.Type, e.Data, e.Metadata, want.ID, want.Type, want.Data, want.Metadata)
		}
	}
	if got[2].Position != res2.Position {
		t.Errorf("stored position %v, append returned %v", got[2].Position, res2.Position)
	}

	// Forwards from the middle, with a limit.
	mid, err := s.ReadStream(ctx, stream, 2, eventstore.Forwards, 1)
	if err != nil || len(mid) != 1 || mid[0].Revision != 2 {
		t.Fatalf("forwards from 2 limit 1: %v %v", revs(mid), err)
	}
	// Backwards from the end and from a revision.
	back, err := s.ReadStream(ctx, stream, eventstore.End, eventstore.Backwards, 10)
	if err != nil || fmt.Sprint(revs(back)) != "[3 2 1]" {
		t.Fatalf("backwards from end: %v %v, want [3 2 1]", revs(back), err)
	}
	back, err = s.ReadStream(ctx, stream, 2, eventstore.Backwards, 10)
	if err != nil || fmt.Sprint(revs(back)) != "[2 1]" {
		t.Fatalf("backwards from 2: %v %v, want [2 1]", revs(back), err)
	}
	past, err := s.ReadStream(ctx, stream, 4, eventstore.Forwards, 10)
	if err != nil || len(past) != 0 {
		t.Fatalf("forwards from past the end: %v %v, want none", revs(past), err)
	}
}

func revs(evs []eventstore.RecordedEvent) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Revision
	}
	return out
}

// ExpectedRevision checks every kind of expected revision, passing and
// failing, and that a failed append stores nothing.
func ExpectedRevision(t testing.TB, h Harness) {
	s := open(t, h)
	ctx := ctxT(t)
	stream := prefix(t) + "s"

	wrong := func(exp eventstore.ExpectedRevision, actual uint64) {
		t.Helper()
		_, err := s.Append(ctx, stream, exp, ev("X", "{}"))
		var wre *eventstore.WrongRevisionError
		if !errors.As(err, &wre) || !errors.Is(err, eventstore.ErrConflict) {
			t.Fatalf("append expecting %s: err %v, want a WrongRevisionError", exp, err)
		}
		if wre.Stream != stream || wre.Actual != actual || wre.Expected != exp {
			t.Fatalf("WrongRevisionError %+v, want stream %s actual %d expected %s", wre, stream, actual, exp)
		}
	}

	wrong(eventstore.StreamExists, 0)
	wrong(eventstore.Exact(1), 0)
	mustAppend(t, s, stream, eventstore.NoStream, ev("A", "{}"))
	wrong(eventstore.NoStream, 1)
	wrong(eventstore.Exact(2), 1)
	mustAppend(t, s, stream, eventstore.StreamExists, ev("B", "{}"))
	mustAppend(t, s, stream, eventstore.Exact(2), ev("C", "{}"))
	wrong(eventstore.Exact(2), 3)
	if r := mustAppend(t, s, stream, eventstore.Any, ev("D", "{}")); r.Revision != 4 {
		t.Fatalf("append any: revision %d, want 4", r.Revision)
	}
	if got := readStream(t, s, stream); fmt.Sprint(revs(got)) != "[1 2 3 4]" {
		t.Fatalf("stream holds %v, want [1 2 3 4]", revs(got))
	}
	if r := mustAppend(t, s, prefix(t)+"new", eventstore.Any, ev("A", "{}")); r.Revision != 1 {
		t.Fatalf("append any to a new stream: revision %d, want 1", r.Revision)
	}
}

// ConcurrentExpectedRevision races pairs of writers with the same expected
// revision: exactly one of each pair wins; the other gets a conflict.
func ConcurrentExpectedRevision(t testing.TB, h Harness) {
	s := open(t, h)
	ctx := ctxT(t)
	stream := prefix(t) + "race"
	mustAppend(t, s, stream, eventstore.NoStream, ev("Start", "{}"))
	const rounds, writers = 30, 4
	for round := range rounds {
		exp := eventstore.Exact(uint64(round + 1))
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for w := range writers {
			wg.Go(func() {
				_, errs[w] = s.Append(ctx, stream, exp, ev("Race", fmt.Sprintf(`{"w":%d}`, w)))
			})
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			var wre *eventstore.WrongRevisionError
			switch {
			case err == nil:
				wins++
			case errors.As(err, &wre):
			default:
				t.Fatalf("round %d: unexpected error %v", round, err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d writers won, want exactly 1 (errors %v)", round, wins, errs)
		}
	}
	if got := readStream(t, s, stream); len(got) != rounds+1 {
		t.Fatalf("stream has %d events, want %d", len(got), rounds+1)
	}
}

// Idempotency checks that a retried append stores nothing and returns the
// original result, and that a partial or misplaced reuse of IDs conflicts.
func Idempotency(t testing.TB, h Harness) {
	s := open(t, h)
	ctx := ctxT(t)
	stream := prefix(t) + "idem"
	a, b := ev("A", `{"a":1}`), ev("B", `{"b":2}`)
	first := mustAppend(t, s, stream, eventstore.NoStream, a, b)
	mustAppend(t, s, stream, eventstore.Exact(2), ev("C", "{}"))

	for _, exp := range []eventstore.ExpectedRevision{eventstore.NoStream, eventstore.Any, eventstore.Exact(2), eventstore.Exact(3)} {
		again, err := s.Append(ctx, stream, exp, a, b)
		if err != nil || again != first {
			t.Fatalf("retry expecting %s: %+v %v, want the original %+v", exp, again, err, first)
		}
	}
	if got := readStream(t, s, stream); len(got) != 3 {
		t.Fatalf("after retries the stream has %d events, want 3", len(got))
	}
	// Concurrent retries of one new append store it once.
	c := ev("C2", "{}")
	var wg sync.WaitGroup
	results := make([]eventstore.AppendResult, 8)
	errs := make([]error, 8)
	for i := range results {
		wg.Go(func() { results[i], errs[i] = s.Append(ctx, stream, eventstore.Any, c) })
	}
	wg.Wait()
	for i := range results {
		if errs[i] != nil || results[i] != results[0] {
			t.Fatalf("concurrent retry %d: %+v %v, want %+v", i, results[i], errs[i], results[0])
		}
	}
	if got := readStream(t, s, stream); len(got) != 4 {
		t.Fatalf("after concurrent retries the stream has %d events, want 4", len(got))
	}

	for name, evs := range map[string][]eventstore.EventData{
		"partial":   {a, ev("New", "{}")},
		"reordered": {b, a},
	} {
		if _, err := s.Append(ctx, stream, eventstore.Any, evs...); !errors.Is(err, eventstore.ErrConflict) {
			t.Errorf("%s reuse of IDs: err %v, want ErrConflict", name, err)
		}
	}
	if got := readStream(t, s, stream); len(got) != 4 {
		t.Fatalf("after conflicting reuses the stream has %d events, want 4", len(got))
	}
}

// GlobalIDs checks that an event ID is unique across streams: reusing one
// in another stream is a conflict and stores nothing. (EventStoreDB scopes
// IDs to a stream and cannot pass this check.)
func GlobalIDs(t testing.TB, h Harness) {
	s := open(t, h)
	p := prefix(t)
	a := ev("A", "{}")
	mustAppend(t, s, p+"one", eventstore.NoStream, a)
	if _, err := s.Append(ctxT(t), p+"other", eventstore.Any, a); !errors.Is(err, eventstore.ErrConflict) {
		t.Errorf("ID reused in another stream: err %v, want ErrConflict", err)
	}
	if got := readStream(t, s, p+"other"); len(got) != 0 {
		t.Fatalf("the other stream has %d events, want 0", len(got))
	}
}

// ReadAll checks the global read: every appended event once, in position
// order, after a given position, in pages.
func ReadAll(t testing.TB, h Harness) {
	s := open(t, h)
	ctx := ctxT(t)
	p := prefix(t)
	head, err := s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want []uuid.UUID
	for i := range 25 {
		e := ev("E", fmt.Sprintf(`{"i":%d}`, i))
		want = append(want, e.ID)
		mustAppend(t, s, fmt.Sprintf("%s%d", p, i%3), eventstore.Any, e)
	}
	var got []eventstore.RecordedEvent
	after := head
	for {
		page, err := s.ReadAll(ctx, after, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 7 {
			t.Fatalf("page of %d events, limit 7", len(page))
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			if !e.Position.After(after) {
				t.Fatalf("ReadAll after %v returned position %v", after, e.Position)
			}
			after = e.Position
			if strings.HasPrefix(e.Stream, p) {
				got = append(got, e)
			}
		}
	}
	if len(got) != len(want) {
		t.Fatalf("read %d events, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].ID != want[i] {
			t.Fatalf("event %d is %s, want %s (appended in that order)", i, got[i].ID, want[i])
		}
	}
	last, err := s.Head(ctx)
	if err != nil || last.Compare(got[len(got)-1].Position) < 0 {
		t.Fatalf("head %v %v, before the last event %v", last, err, got[len(got)-1].Position)
	}
}

// Durability checks that appended events survive closing and reopening
// the store.
func Durability(t testing.TB, h Harness) {
	s := h.Open(t)
	stream := prefix(t) + "d"
	e := ev("Kept", `{"k":true}`)
	res := mustAppend(t, s, stream, eventstore.NoStream, e)
	s = h.Reopen(t, s)
	t.Cleanup(func() { s.Close() })
	got := readStream(t, s, stream)
	if len(got) != 1 || got[0].ID != e.ID || got[0].Position != res.Position || string(got[0].Data) != `{"k":true}` {
		t.Fatalf("after reopen the stream holds %+v, want the appended event at %v", got, res.Position)
	}
	next := mustAppend(t, s, stream, eventstore.Exact(1), ev("More", "{}"))
	if next.Revision != 2 || !next.Position.After(res.Position) {
		t.Fatalf("append after reopen: %+v, want revision 2 after %v", next, res.Position)
	}
}

// BadInput checks that invalid appends and reads fail with ErrInvalid and
// store nothing.
func BadInput(t testing.TB, h Harness) {
	s := open(t, h)
	ctx := ctxT(t)
	stream := prefix(t) + "bad"
	id := uuid.New()
	cases := []struct {
		name   string
		stream string
		exp    eventstore.ExpectedRevision
		events []eventstore.EventData
	}{
		{"empty stream name", "", eventstore.Any, []eventstore.EventData{ev("A", "{}")}},
		{"reserved stream name", "$" + stream, eventstore.Any, []eventstore.EventData{ev("A", "{}")}},
		{"control character", stream + "\n", eventstore.Any, []eventstore.EventData{ev("A", "{}")}},
		{"long stream name", strings.Repeat("x", eventstore.MaxStreamNameLen+1), eventstore.Any, []eventstore.EventData{ev("A", "{}")}},
		{"invalid expected revision", stream, -3, []eventstore.EventData{ev("A", "{}")}},
		{"no events", stream, eventstore.Any, nil},
		{"oversized event", stream, eventstore.Any, []eventstore.EventData{{ID: uuid.New(), Type: "Big", Data: make([]byte, eventstore.MaxEventSize+1)}}},
		{"no event ID", stream, eventstore.Any, []eventstore.EventData{{Type: "A"}}},
		{"no event type", stream, eventstore.Any, []eventstore.EventData{{ID: uuid.New()}}},
		{"same ID twice", stream, eventstore.Any, []eventstore.EventData{{ID: id, Type: "A"}, {ID: id, Type: "B"}}},
		{"good then oversized", stream, eventstore.Any, []eventstore.EventData{ev("A", "{}"), {ID: uuid.New(), Type: "Big", Metadata: make([]byte, eventstore.MaxEventSize+1)}}},
	}
	for _, c := range cases {
		_, err := s.Append(ctx, c.stream, c.exp, c.events...)
		if !errors.Is(err, eventstore.ErrInvalid) {
			t.Errorf("%s: err %v, want ErrInvalid", c.name, err)
		} else if err.Error() == eventstore.ErrInvalid.Error() {
			t.Errorf("%s: error %q does not say what is wrong", c.name, err)
		}
	}
	if got := readStream(t, s, stream); len(got) != 0 {
		t.Fatalf("bad appends stored %d events", len(got))
	}
	if _, err := s.ReadStream(ctx, "", 1, eventstore.Forwards, 10); !errors.Is(err, eventstore.ErrInvalid) {
		t.Errorf("read of an empty stream name: err %v, want ErrInvalid", err)
	}
	if _, err := s.ReadStream(ctx, stream, 1, eventstore.Forwards, 0); !errors.Is(err, eventstore.ErrInvalid) {
		t.Errorf("read with limit 0: err %v, want ErrInvalid", err)
	}
	if _, err := s.ReadAll(ctx, eventstore.Start, -1); !errors.Is(err, eventstore.ErrInvalid) {
		t.Errorf("ReadAll with limit -1: err %v, want ErrInvalid", err)
	}
	// The store still works.
	mustAppend(t, s, stream, eventstore.NoStream, ev("Fine", "{}"))
}
