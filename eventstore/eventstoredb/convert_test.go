package eventstoredb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/confabhq/confab/eventstore"
)

// These tests need no server: they check the mappings between the
// contract and the client's types.

func TestToESDBExpected(t *testing.T) {
	for _, c := range []struct {
		in   eventstore.ExpectedRevision
		want esdb.ExpectedRevision
		ok   bool
	}{
		{eventstore.Any, esdb.Any{}, true},
		{eventstore.NoStream, esdb.NoStream{}, true},
		{eventstore.Exact(0), esdb.NoStream{}, true},
		{eventstore.StreamExists, esdb.StreamExists{}, true},
		{eventstore.Exact(1), esdb.Revision(0), true},
		{eventstore.Exact(2), esdb.Revision(1), true},
		{eventstore.Exact(1 << 40), esdb.Revision(1<<40 - 1), true},
		{-3, nil, false},
		{-100, nil, false},
	} {
		got, ok := toESDBExpected(c.in)
		if ok != c.ok || !reflect.DeepEqual(got, c.want) {
			t.Errorf("toESDBExpected(%s) = %#v, %v; want %#v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestRevisionOffset(t *testing.T) {
	for _, c := range []struct{ esdb, ours uint64 }{
		{0, 1},
		{1, 2},
		{41, 42},
		{1<<63 - 1, 1 << 63},
	} {
		if got := fromESDBRevision(c.esdb); got != c.ours {
			t.Errorf("fromESDBRevision(%d) = %d, want %d", c.esdb, got, c.ours)
		}
		if got := toESDBRevision(c.ours); got != c.esdb {
			t.Errorf("toESDBRevision(%d) = %d, want %d", c.ours, got, c.esdb)
		}
	}
}

func TestStreamReadFrom(t *testing.T) {
	for _, c := range []struct {
		from  uint64
		dir   eventstore.Direction
		want  esdb.StreamPosition
		empty bool
	}{
		{0, eventstore.Forwards, esdb.Start{}, false},
		{1, eventstore.Forwards, esdb.Start{}, false},
		{2, eventstore.Forwards, esdb.Revision(1), false},
		{100, eventstore.Forwards, esdb.Revision(99), false},
		{eventstore.End, eventstore.Forwards, nil, true},
		{eventstore.End, eventstore.Backwards, esdb.End{}, false},
		{0, eventstore.Backwards, nil, true},
		{1, eventstore.Backwards, esdb.Revision(0), false},
		{3, eventstore.Backwards, esdb.Revision(2), false},
	} {
		got, empty := streamReadFrom(c.from, c.dir)
		if empty != c.empty || !reflect.DeepEqual(got, c.want) {
			t.Errorf("streamReadFrom(%d, %d) = %#v, %v; want %#v, %v", c.from, c.dir, got, empty, c.want, c.empty)
		}
	}
	if toESDBDirection(eventstore.Forwards) != esdb.Forwards || toESDBDirection(eventstore.Backwards) != esdb.Backwards {
		t.Error("toESDBDirection maps directions wrongly")
	}
}

func TestPositions(t *testing.T) {
	if got := allReadFrom(eventstore.Start); got != (esdb.Start{}) {
		t.Errorf("allReadFrom(Start) = %#v, want esdb.Start{}", got)
	}
	for _, p := range []eventstore.Position{{Commit: 1, Prepare: 1}, {Commit: 1788, Prepare: 1700}, {Commit: 1 << 62, Prepare: 3}} {
		e := toESDBPosition(p)
		if e.Commit != p.Commit || e.Prepare != p.Prepare {
			t.Errorf("toESDBPosition(%v) = %+v", p, e)
		}
		if back := fromESDBPosition(e); back != p {
			t.Errorf("position %v round-trips to %v", p, back)
		}
		if got := allReadFrom(p); got != e {
			t.Errorf("allReadFrom(%v) = %#v, want %#v", p, got, e)
		}
	}
}

func TestIsSystem(t *testing.T) {
	for _, c := range []struct {
		stream, typ string
		want        bool
	}{
		{"room-1", "MessagePosted", false},
		{"user-1", "UserSignedUp", false},
		{"room-$1", "Odd$Type", false},
		{"$stats-127.0.0.1:2113", "$statsCollected", true},
		{"$$room-1", "$metadata", true},
		{"$ce-room", "$>", true},
		{"$settings", "$settings", true},
		{"room-1", "$streamDeleted", true},
		{"$scavenges", "Scavenge", true},
	} {
		e := &esdb.RecordedEvent{StreamID: c.stream, EventType: c.typ}
		if got := isSystem(e); got != c.want {
			t.Errorf("isSystem(%s %s) = %v, want %v", c.stream, c.typ, got, c.want)
		}
	}
}

func TestEventConversion(t *testing.T) {
	for _, id := range []uuid.UUID{
		uuid.MustParse("00000000-0000-0000-0000-000000000001"),
		uuid.MustParse("5ed0b2c9-dde9-4312-941e-19c494536f37"),
		uuid.MustParse("ffffffff-ffff-ffff-ffff-ffffffffffff"),
		uuid.NewSHA1(uuid.NameSpaceURL, []byte("room-1/alice/42")),
	} {
		in := eventstore.EventData{ID: id, Type: "MessagePosted", Data: []byte(`{"text":"hi"}`), Metadata: []byte(`{"by":"alice"}`)}
		out := toESDBEvent(in)
		if !bytes.Equal(out.EventID[:], id[:]) {
			t.Errorf("event ID %s became %s", id, out.EventID)
		}
		if out.EventType != in.Type || out.ContentType != esdb.ContentTypeJson || !bytes.Equal(out.Data, in.Data) || !bytes.Equal(out.Metadata, in.Metadata) {
			t.Errorf("toESDBEvent(%+v) = %+v", in, out)
		}

		created := time.Date(2026, 5, 1, 12, 0, 0, 0, time.FixedZone("X", 3600))
		rec := &esdb.RecordedEvent{
			EventID:      out.EventID,
			EventType:    out.EventType,
			StreamID:     "room-1",
			EventNumber:  6,
			Position:     esdb.Position{Commit: 900, Prepare: 800},
			CreatedDate:  created,
			Data:         out.Data,
			UserMetadata: out.Metadata,
		}
		got := fromESDBEvent(rec)
		want := eventstore.RecordedEvent{
			ID: id, Stream: "room-1", Revision: 7, Position: eventstore.Position{Commit: 900, Prepare: 800},
			Type: "MessagePosted", Data: in.Data, Metadata: in.Metadata, RecordedAt: created.UTC(),
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("fromESDBEvent = %+v, want %+v", got, want)
		}
	}

	// Content type follows the data; empty payloads read as nil.
	for _, c := range []struct {
		data []byte
		want esdb.ContentType
	}{
		{[]byte(`{}`), esdb.ContentTypeJson},
		{[]byte(`[1,2]`), esdb.ContentTypeJson},
		{[]byte{0xff, 0x00}, esdb.ContentTypeBinary},
		{[]byte(`{"broken"`), esdb.ContentTypeBinary},
	} {
		if got := toESDBEvent(eventstore.EventData{ID: uuid.New(), Type: "T", Data: c.data}).ContentType; got != c.want {
			t.Errorf("content type of %q = %v, want %v", c.data, got, c.want)
		}
	}
	if got := fromESDBEvent(&esdb.RecordedEvent{Data: []byte{}, UserMetadata: []byte{}}); got.Data != nil || got.Metadata != nil {
		t.Errorf("empty payloads read as %#v %#v, want nil", got.Data, got.Metadata)
	}
}

func TestServerFilter(t *testing.T) {
	noSystem := esdb.ExcludeSystemEventsFilter()
	for _, c := range []struct {
		name string
		in   eventstore.Filter
		want *esdb.SubscriptionFilter
	}{
		{"zero", eventstore.Filter{}, noSystem},
		{"streams", eventstore.Filter{StreamPrefixes: []string{"room-", "user-"}},
			&esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: []string{"room-", "user-"}}},
		{"types", eventstore.Filter{EventTypes: []string{"MessagePosted"}},
			&esdb.SubscriptionFilter{Type: esdb.EventFilterType, Prefixes: []string{"MessagePosted"}}},
		{"streams win", eventstore.Filter{StreamPrefixes: []string{"room-"}, EventTypes: []string{"MessagePosted"}},
			&esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: []string{"room-"}}},
		{"empty prefix", eventstore.Filter{StreamPrefixes: []string{"room-", ""}}, noSystem},
	} {
		if got := serverFilter(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: serverFilter(%+v) = %+v, want %+v", c.name, c.in, got, c.want)
		}
	}
}

func TestIDHelpers(t *testing.T) {
	a, b, c := uuid.New(), uuid.New(), uuid.New()
	events := []eventstore.EventData{{ID: a}, {ID: b}}
	stored := []eventstore.RecordedEvent{{ID: c, Revision: 3}, {ID: b, Revision: 2}, {ID: a, Revision: 1}}
	if got := withIDs(stored, events); len(got) != 2 || got[0].ID != b || got[1].ID != a {
		t.Errorf("withIDs = %v", got)
	}
	if withIDs(stored[:1], events) != nil {
		t.Error("withIDs found IDs that are not stored")
	}
	for _, c := range []struct {
		stored []eventstore.RecordedEvent
		want   bool
	}{
		{[]eventstore.RecordedEvent{{ID: a}, {ID: b}}, true},
		{[]eventstore.RecordedEvent{{ID: b}, {ID: a}}, false},
		{[]eventstore.RecordedEvent{{ID: a}}, false},
		{nil, false},
	} {
		if got := sameIDs(c.stored, events); got != c.want {
			t.Errorf("sameIDs(%v) = %v, want %v", c.stored, got, c.want)
		}
	}
}

func TestWrongRevision(t *testing.T) {
	err := wrongRevision("room-1", eventstore.Exact(3), 5)
	var wre *eventstore.WrongRevisionError
	if !errors.As(err, &wre) || !errors.Is(err, eventstore.ErrConflict) || wre.Actual != 5 || wre.Expected != 3 || wre.Stream != "room-1" {
		t.Errorf("wrongRevision = %#v", err)
	}
}

// TestClosed checks that a closed store refuses every call with ErrClosed
// and that Close may be called twice. The client never connects: it
// connects on first use.
func TestClosed(t *testing.T) {
	conf, err := esdb.ParseConnectionString("esdb://127.0.0.1:1?tls=false")
	if err != nil {
		t.Fatal(err)
	}
	conf.Logger = esdb.NoopLogging()
	client, err := esdb.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	s := newStore(client)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := context.Background()
	e := eventstore.EventData{ID: uuid.New(), Type: "A", Data: []byte("{}")}
	calls := map[string]func() error{
		"Append": func() error { _, err := s.Append(ctx, "room-1", eventstore.Any, e); return err },
		"AppendExact": func() error {
			_, err := s.Append(ctx, "room-1", eventstore.Exact(1), e)
			return err
		},
		"ReadStream": func() error { _, err := s.ReadStream(ctx, "room-1", 1, eventstore.Forwards, 10); return err },
		"ReadAll":    func() error { _, err := s.ReadAll(ctx, eventstore.Start, 10); return err },
		"Head":       func() error { _, err := s.Head(ctx); return err },
		"Subscribe": func() error {
			return s.Subscribe(ctx, eventstore.Start, eventstore.Filter{}, func(context.Context, []eventstore.RecordedEvent) error { return nil })
		},
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, eventstore.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	// Bad input is reported as such even on a closed store.
	if _, err := s.Append(ctx, "", eventstore.Any, e); !errors.Is(err, eventstore.ErrInvalid) {
		t.Errorf("Append to an empty stream name: %v, want ErrInvalid", err)
	}
	if err := s.Subscribe(ctx, eventstore.Start, eventstore.Filter{}, nil); !errors.Is(err, eventstore.ErrInvalid) {
		t.Errorf("Subscribe with a nil handler: %v, want ErrInvalid", err)
	}
}

func TestFailWraps(t *testing.T) {
	conf, err := esdb.ParseConnectionString("esdb://127.0.0.1:1?tls=false")
	if err != nil {
		t.Fatal(err)
	}
	conf.Logger = esdb.NoopLogging()
	client, err := esdb.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	s := newStore(client)
	defer s.Close()
	cause := errors.New("boom")
	err = s.fail(context.Background(), cause, "read %s", "room-1")
	if !errors.Is(err, cause) || err.Error() != "eventstoredb: read room-1: boom" {
		t.Errorf("fail = %q", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.fail(ctx, fmt.Errorf("rpc error: %w", cause), "read"); err != context.Canceled {
		t.Errorf("fail with a cancelled context = %v, want context.Canceled", err)
	}
}
