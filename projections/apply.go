package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
)

// applier applies events to the read models inside one transaction. On
// PostgreSQL apply queues them and flush folds them into the rows they
// change and writes those (fold.go); on SQLite apply runs each event's
// statements and flush writes the rooms' last_seq (statements.go).
type applier struct {
	tx *sql.Tx
	d  Dialect
	// stmts holds the statements prepared in this transaction (SQLite;
	// pgx caches prepared statements per connection by itself).
	stmts map[string]*sql.Stmt
	// b holds the events queued since the last flush and their rows
	// (PostgreSQL).
	b *batch
	// rooms collects, per room, what the batch's last event changes on
	// the room's row; flushRooms writes it once per room (SQLite).
	rooms     map[domain.RoomID]*roomTouch
	roomOrder []domain.RoomID
	// shadow makes the statements write the shadow tables of a rebuild
	// (shadow.go) instead of the live ones.
	shadow bool
	// joinsSet is true once joinsByIndex ran in the transaction.
	joinsSet bool
	// conn is the connection holding tx and copy the COPY it inserts a
	// table's many new rows with (PostgreSQL with UseCopy), else nil.
	conn *sql.Conn
	copy CopyFunc
}

// batches keeps the batches of appliers that closed, with their maps and
// slices grown, for the next ones.
var batches = sync.Pool{New: func() any { return newBatch() }}

func newApplier(tx *sql.Tx, d Dialect) *applier {
	a := &applier{tx: tx, d: d, stmts: map[string]*sql.Stmt{}}
	if d == Postgres {
		a.b = batches.Get().(*batch)
	} else {
		a.rooms = map[domain.RoomID]*roomTouch{}
	}
	return a
}

func (a *applier) close() {
	for _, s := range a.stmts {
		s.Close()
	}
	if a.b != nil {
		a.b.reset()
		batches.Put(a.b)
		a.b = nil
	}
}

// run runs a statement now.
func (a *applier) run(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if a.shadow {
		query = shadowQuery(query)
	}
	if a.d != SQLite {
		return a.tx.ExecContext(ctx, a.d.Rebind(query), args...)
	}
	s, err := a.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, args...)
}

// queryRow runs a query of one row now.
func (a *applier) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if a.shadow {
		query = shadowQuery(query)
	}
	return a.tx.QueryRowContext(ctx, a.d.Rebind(query), args...)
}

func (a *applier) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s := a.stmts[query]; s != nil {
		return s, nil
	}
	s, err := a.tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	a.stmts[query] = s
	return s, nil
}

// micros returns t as stored: Unix microseconds.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros returns a stored time; 0 is the zero time.
func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// EventTime returns when an event happened: its own At, or, if it has
// none, when the store recorded it. Never the clock: the read models are
// a function of the log.
func EventTime(ev domain.Event, recorded time.Time) time.Time {
	var at time.Time
	switch ev := ev.(type) {
	case domain.UserSignedUp:
		at = ev.At
	case domain.SessionStarted:
		at = ev.At
	case domain.SessionEnded:
		at = ev.At
	case domain.SessionUsed:
		at = ev.At
	case domain.RoomRead:
		at = ev.At
	case domain.ThreadRead:
		at = ev.At
	case domain.ConnectionOpened:
		at = ev.At
	case domain.ConnectionClosed:
		at = ev.At
	case domain.RoomCreated:
		at = ev.At
	case domain.MemberJoined:
		at = ev.At
	case domain.MemberLeft:
		at = ev.At
	case domain.MemberKicked:
		at = ev.At
	case domain.MemberBanned:
		at = ev.At
	case domain.MemberUnbanned:
		at = ev.At
	case domain.MemberRoleChanged:
		at = ev.At
	case domain.RoomRenamed:
		at = ev.At
	case domain.InviteCodeRotated:
		at = ev.At
	case domain.MessagePosted:
		at = ev.At
	case domain.MessageEdited:
		at = ev.At
	case domain.MessageDeleted:
		at = ev.At
	case domain.ReactionAdded:
		at = ev.At
	case domain.ReactionRemoved:
		at = ev.At
	case domain.CallStarted:
		at = ev.At
	case domain.CallJoined:
		at = ev.At
	case domain.CallLeft:
		at = ev.At
	case domain.CallEnded:
		at = ev.At
	case domain.AttachmentUploaded:
		at = ev.At
	case domain.AttachmentDiscarded:
		at = ev.At
	case domain.MessagePinned:
		at = ev.At
	case domain.MessageUnpinned:
		at = ev.At
	case domain.RoomSettingsChanged:
		at = ev.At
	case domain.RoomNotifySet:
		at = ev.At
	case domain.PasswordChanged:
		at = ev.At
	case domain.DisplayNameChanged:
		at = ev.At
	case domain.AvatarChanged:
		at = ev.At
	case domain.AvatarRemoved:
		at = ev.At
	case domain.UserDisabled:
		at = ev.At
	case domain.UserEnabled:
		at = ev.At
	case domain.UserDeleted:
		at = ev.At
	}
	if at.IsZero() {
		return recorded
	}
	return at
}

// encodeIDs returns a list of user IDs as stored: JSON, never null.
func encodeIDs(ids []domain.UserID) (string, error) {
	if len(ids) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(ids)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// decodeIDs reads a stored list of user IDs; an empty list is nil.
func decodeIDs(s string) ([]domain.UserID, error) {
	var ids []domain.UserID
	if err := json.Unmarshal([]byte(s), &ids); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return ids, nil
}

// apply applies one event: on PostgreSQL it queues it for the next
// flush, on SQLite it runs its statements.
func (a *applier) apply(ctx context.Context, e *eventstore.RecordedEvent) error {
	if !domain.KnownType(e.Type) {
		return nil
	}
	if user, ok := domain.UserIDOfStream(e.Stream); ok {
		ev, err := domain.Decode(e.Type, e.Data)
		if err != nil {
			return fmt.Errorf("%w: %w", eventstore.ErrCorrupt, err)
		}
		at := micros(EventTime(ev, e.RecordedAt))
		if a.b == nil {
			return a.runUser(ctx, user, ev, at)
		}
		a.b.queueUser(user, ev, at)
		return nil
	}
	if room, ok := domain.RoomIDOfStream(e.Stream); ok {
		ev, err := domain.Decode(e.Type, e.Data)
		if err != nil {
			return fmt.Errorf("%w: %w", eventstore.ErrCorrupt, err)
		}
		at := micros(EventTime(ev, e.RecordedAt))
		pos := int64(e.Position.Prepare)
		if a.b == nil {
			return a.runRoom(ctx, room, e.Revision, pos, ev, at)
		}
		a.b.queueRoom(room, e.Revision, pos, ev, at)
	}
	return nil
}

// flush finishes what apply began: on PostgreSQL it loads the rows the
// queued events touch, folds the events into them and writes the rows
// that changed; on SQLite it writes the rooms' last_seq and activity.
func (a *applier) flush(ctx context.Context) error {
	if a.b == nil {
		return a.flushRooms(ctx)
	}
	b := a.b
	defer b.reset()
	if len(b.events) == 0 {
		return nil
	}
	if err := a.joinsByIndex(ctx); err != nil {
		return err
	}
	if err := a.loadAll(ctx, b.tables); err != nil {
		return err
	}
	if err := b.fold(); err != nil {
		return err
	}
	return a.writeAll(ctx, b.tables)
}
