package eventstore

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Limits every adapter enforces, so that bad input fails the same way
// whatever the store.
const (
	// MaxStreamNameLen is the longest stream name, in bytes.
	MaxStreamNameLen = 200
	// MaxEventTypeLen is the longest event type, in bytes.
	MaxEventTypeLen = 200
	// MaxEventSize is the largest Data plus Metadata of one event, in bytes.
	MaxEventSize = 1 << 20
	// MaxAppendEvents is the most events one Append may carry.
	MaxAppendEvents = 1000
)

// Store is an append-only event store. Implementations are safe for
// concurrent use.
type Store interface {
	// Append appends events to stream if the stream is at the expected
	// revision. The events get contiguous revisions following the stream's
	// last one. It returns only once the events are durable.
	//
	// If every event ID is already stored as the tail of the same append
	// in this stream, Append stores nothing and returns the original result,
	// whatever expected says, so that a client can retry safely.
	Append(ctx context.Context, stream string, expected ExpectedRevision, events ...EventData) (AppendResult, error)

	// ReadStream reads up to limit events of stream starting at revision
	// from (inclusive), in the given direction. Reading backwards from End
	// starts at the last event. A stream that does not exist reads as empty.
	ReadStream(ctx context.Context, stream string, from uint64, dir Direction, limit int) ([]RecordedEvent, error)

	// ReadAll reads up to limit events that come after position after in
	// the global order, oldest first. Use Start to read from the beginning.
	ReadAll(ctx context.Context, after Position, limit int) ([]RecordedEvent, error)

	// Subscribe calls handle with every event after position after that
	// matches filter, in global order: first the stored ones, then live
	// appends, with no gap and no duplicate in between. Events are passed
	// in batches. Subscribe blocks until ctx is done (returning ctx.Err())
	// or handle returns an error (returning it).
	Subscribe(ctx context.Context, after Position, filter Filter, handle Handler) error

	// Head returns the position of the last event visible to readers.
	Head(ctx context.Context) (Position, error)

	// Close releases the store's resources. Appends that have returned
	// are durable.
	Close() error
}

// Handler receives a batch of events from a subscription. The slice is
// only valid during the call.
type Handler func(ctx context.Context, events []RecordedEvent) error

// EventData is an event to append.
type EventData struct {
	// ID identifies the event globally; appends are idempotent by ID.
	ID uuid.UUID
	// Type names the event, for example "MessagePosted".
	Type string
	// Data is the event's payload, usually JSON.
	Data []byte
	// Metadata is optional data about the event (causation, client, ...).
	Metadata []byte
}

// RecordedEvent is an event as stored.
type RecordedEvent struct {
	ID       uuid.UUID
	Stream   string
	Revision uint64 // contiguous from 1 within Stream
	Position Position
	Type     string
	Data     []byte
	Metadata []byte
	// RecordedAt is when the store committed the event (UTC).
	RecordedAt time.Time
}

// AppendResult tells where an append's last event landed.
type AppendResult struct {
	// Revision is the stream revision of the last appended event.
	Revision uint64
	// Position is the global position of the last appended event.
	Position Position
}

// Direction is the direction of a stream read.
type Direction int

// Directions of ReadStream.
const (
	Forwards Direction = iota
	Backwards
)

// End, as the from revision of a backwards read, means the last event.
const End = ^uint64(0)

// ExpectedRevision states what an appender believes a stream's revision is.
// Values from 0 upward are exact revisions, 0 meaning the stream has no
// events (the same as NoStream).
type ExpectedRevision int64

// Special expected revisions.
const (
	// Any appends whatever the stream's revision.
	Any ExpectedRevision = -1
	// NoStream appends only if the stream has no events.
	NoStream ExpectedRevision = 0
	// StreamExists appends only if the stream has at least one event.
	StreamExists ExpectedRevision = -2
)

// Exact returns the expected revision "the stream's last event is rev".
func Exact(rev uint64) ExpectedRevision { return ExpectedRevision(rev) }

func (e ExpectedRevision) String() string {
	switch {
	case e == Any:
		return "any"
	case e == NoStream:
		return "no stream"
	case e == StreamExists:
		return "stream exists"
	case e < StreamExists:
		return fmt.Sprintf("invalid(%d)", int64(e))
	default:
		return fmt.Sprintf("revision %d", int64(e))
	}
}

// Matches reports whether a stream whose last revision is actual satisfies e.
func (e ExpectedRevision) Matches(actual uint64) bool {
	switch e {
	case Any:
		return true
	case StreamExists:
		return actual > 0
	default:
		return e >= 0 && uint64(e) == actual
	}
}

// Position is an event's place in the store's global order. Positions are
// compared by Commit, then Prepare. What the two parts mean is up to the
// adapter (EventStoreDB's commit and prepare positions; the PostgreSQL
// writing transaction's ID and the row's sequence number; SQLite's row ID
// twice), but the order they define is total and stable.
type Position struct {
	Commit  uint64
	Prepare uint64
}

// Start is the position before the first event.
var Start = Position{}

// Compare returns -1, 0 or +1 as p is before, equal to or after q.
func (p Position) Compare(q Position) int {
	switch {
	case p.Commit < q.Commit:
		return -1
	case p.Commit > q.Commit:
		return 1
	case p.Prepare < q.Prepare:
		return -1
	case p.Prepare > q.Prepare:
		return 1
	}
	return 0
}

// After reports whether p comes after q.
func (p Position) After(q Position) bool { return p.Compare(q) > 0 }

func (p Position) String() string { return fmt.Sprintf("%d/%d", p.Commit, p.Prepare) }
