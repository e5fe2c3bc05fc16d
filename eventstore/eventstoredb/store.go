package eventstoredb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/confabhq/confab/eventstore"
)

// Sizes of the pages the store reads in.
const (
	// allPage is the most events of $all read at once while skipping
	// system events (ReadAll, Head).
	allPage = 256
	// precheckWindow is how many of a stream's last events an append
	// looks through for its IDs before the server sees it, where the
	// server's own check would miss them (see Append).
	precheckWindow = 64
	// retryPage and retryWindow bound the search for the IDs of an
	// append the server refused or acknowledged in an unexpected way:
	// the stream is read backwards from its end, retryPage events at a
	// time, until every ID is found or retryWindow events were looked at.
	retryPage   = 128
	retryWindow = 4096
)

var _ eventstore.Store = (*Store)(nil)

// Store is an eventstore.Store on an EventStoreDB server (or cluster). It
// is safe for concurrent use.
type Store struct {
	client *esdb.Client

	// closeCtx is cancelled by Close, ending subscriptions.
	closeCtx    context.Context
	cancelClose context.CancelFunc

	mu     sync.Mutex // guards closed against ops.Add after Close
	closed bool
	// ops counts the calls that are using the client, so that Close
	// closes it only once they are done: the client must not be used
	// after it is closed.
	ops sync.WaitGroup
}

// Open connects to the EventStoreDB server at url, a connection string
// such as "esdb://admin:changeit@localhost:2113?tls=false", and checks
// that it can read $all (the user needs that right).
func Open(ctx context.Context, url string) (*Store, error) {
	conf, err := esdb.ParseConnectionString(url)
	if err != nil {
		return nil, fmt.Errorf("%w: eventstoredb: parse connection string: %w", eventstore.ErrInvalid, err)
	}
	// The client would log to the standard logger; every failure it logs
	// reaches the caller as an error anyway.
	conf.Logger = esdb.NoopLogging()
	client, err := esdb.NewClient(conf)
	if err != nil {
		return nil, fmt.Errorf("%w: eventstoredb: %w", eventstore.ErrInvalid, err)
	}
	s := newStore(client)
	if err := s.ping(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func newStore(client *esdb.Client) *Store {
	s := &Store{client: client}
	s.closeCtx, s.cancelClose = context.WithCancel(context.Background())
	return s
}

// ping reads the last event of $all, to find out early whether the server
// is reachable and lets us read.
func (s *Store) ping(ctx context.Context) error {
	if err := s.begin(); err != nil {
		return err
	}
	defer s.ops.Done()
	rs, err := s.client.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1)
	if err != nil {
		return s.fail(ctx, err, "connect")
	}
	defer rs.Close()
	if _, err := rs.Recv(); err != nil && !errors.Is(err, io.EOF) {
		return s.fail(ctx, err, "connect")
	}
	return nil
}

// begin registers a call that uses the client; the caller calls
// s.ops.Done when it no longer does.
func (s *Store) begin() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return eventstore.ErrClosed
	}
	s.ops.Add(1)
	return nil
}

// Close ends subscriptions, waits for the calls in flight and closes the
// client. Appends that have returned are durable on the server. Calling
// Close again does nothing.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancelClose()
	s.ops.Wait()
	return s.client.Close()
}

// fail turns a client error into the error a method returns: the
// context's error if ctx is done, ErrClosed if the store was closed
// meanwhile, else the error wrapped with what failed.
func (s *Store) fail(ctx context.Context, err error, format string, args ...any) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if s.closeCtx.Err() != nil {
		return eventstore.ErrClosed
	}
	return fmt.Errorf("eventstoredb: "+format+": %w", append(args, err)...)
}

// hasCode reports whether err is an EventStoreDB client error with code.
func hasCode(err error, code esdb.ErrorCode) bool {
	var e *esdb.Error
	return errors.As(err, &e) && e.Code() == code
}

// Append implements eventstore.Store.
//
// EventStoreDB checks event IDs itself in most cases, and the store fills
// the gaps the contract needs closed:
//   - with an exact expected revision equal to the stream's, the server
//     appends without looking at IDs, and with Any or StreamExists it
//     looks up the first ID only, so for these appends (with Any or
//     StreamExists, of several events) the store first reads the
//     stream's last events (precheckWindow) for the IDs;
//   - a wrong expected version may be a retry (expected revision past the
//     stream's end, some IDs already stored): the stream is searched for
//     the IDs before it is called a conflict;
//   - an acknowledgement of several events, or one without a position,
//     is checked by reading the events back: the server's position for a
//     batch is not the last event's, and its idempotency check does not
//     look at the order of IDs.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if err := eventstore.ValidateAppend(stream, expected, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	exp, ok := toESDBExpected(expected)
	if !ok { // ValidateAppend rejects these; be safe anyway
		return eventstore.AppendResult{}, fmt.Errorf("%w: append to %s: invalid expected revision %d", eventstore.ErrInvalid, stream, int64(expected))
	}
	if err := s.begin(); err != nil {
		return eventstore.AppendResult{}, err
	}
	defer s.ops.Done()

	if expected >= 1 || len(events) > 1 && (expected == eventstore.Any || expected == eventstore.StreamExists) {
		if res, done, err := s.precheck(ctx, stream, expected, events); done {
			return res, err
		}
	}

	proposed := make([]esdb.EventData, len(events))
	for i := range events {
		proposed[i] = toESDBEvent(events[i])
	}
	wr, err := s.client.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: exp}, proposed...)
	switch {
	case err != nil && ctx.Err() == nil && hasCode(err, esdb.ErrorCodeWrongExpectedVersion):
		return s.conflict(ctx, stream, expected, events)
	case err != nil:
		return eventstore.AppendResult{}, s.fail(ctx, err, "append to %s", stream)
	}
	return s.confirm(ctx, stream, events, wr)
}

// precheck looks for the IDs of an append among the stream's last
// events, where EventStoreDB would not find them all: for an exact
// expected revision, if the stream is at that revision; for Any and
// StreamExists, always (the server checks the first ID only). done is
// true if the append is decided: a retry (the original result) or a
// misuse of IDs (an ErrConflict error).
func (s *Store) precheck(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData) (_ eventstore.AppendResult, done bool, _ error) {
	tail, err := s.readStream(ctx, stream, eventstore.End, eventstore.Backwards, precheckWindow)
	if err != nil {
		return eventstore.AppendResult{}, true, err
	}
	if len(tail) == 0 || expected >= 1 && tail[0].Revision != uint64(expected) {
		return eventstore.AppendResult{}, false, nil // the server checks
	}
	res, ok, err := eventstore.Retried(stream, events, withIDs(tail, events))
	return res, ok || err != nil, err
}

// confirm turns the server's acknowledgement into the append's result.
// One event acknowledged with a position is taken as is; otherwise the
// events are read back where the server says they are, and searched for
// if they are not there (an idempotent acknowledgement of IDs stored in
// another order, which eventstore.Retried then refuses).
func (s *Store) confirm(ctx context.Context, stream string, events []eventstore.EventData, wr *esdb.WriteResult) (eventstore.AppendResult, error) {
	last := fromESDBRevision(wr.NextExpectedVersion)
	if len(events) == 1 && (wr.CommitPosition != 0 || wr.PreparePosition != 0) {
		return eventstore.AppendResult{
			Revision: last,
			Position: eventstore.Position{Commit: wr.CommitPosition, Prepare: wr.PreparePosition},
		}, nil
	}
	if n := uint64(len(events)); last >= n {
		got, err := s.readStream(ctx, stream, last-n+1, eventstore.Forwards, len(events))
		if err != nil {
			return eventstore.AppendResult{}, err
		}
		if sameIDs(got, events) {
			return eventstore.AppendResult{Revision: last, Position: got[len(got)-1].Position}, nil
		}
	}
	found, _, err := s.findIDs(ctx, stream, events)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	res, ok, err := eventstore.Retried(stream, events, found)
	switch {
	case err != nil:
		return eventstore.AppendResult{}, err
	case !ok:
		return eventstore.AppendResult{}, fmt.Errorf("eventstoredb: append to %s: acknowledged at revision %d, but the events are not found", stream, last)
	}
	return res, nil
}

// conflict decides what a wrong expected version reply means: a retry of
// an append that succeeded (the original result), IDs used in a way no
// single append explains (an ErrConflict error), or a real conflict (a
// WrongRevisionError with the stream's revision).
func (s *Store) conflict(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData) (eventstore.AppendResult, error) {
	found, last, err := s.findIDs(ctx, stream, events)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	res, ok, err := eventstore.Retried(stream, events, found)
	switch {
	case err != nil:
		return eventstore.AppendResult{}, err
	case ok:
		return res, nil
	}
	return eventstore.AppendResult{}, wrongRevision(stream, expected, last)
}

// findIDs reads stream backwards from its end, at most retryWindow
// events, and returns the events whose IDs are among those of events,
// and the stream's last revision (0 if it has no events).
func (s *Store) findIDs(ctx context.Context, stream string, events []eventstore.EventData) (found []eventstore.RecordedEvent, last uint64, err error) {
	want := make(map[uuid.UUID]struct{}, len(events))
	for i := range events {
		want[events[i].ID] = struct{}{}
	}
	from := eventstore.End
	for seen := 0; seen < retryWindow; {
		page, err := s.readStream(ctx, stream, from, eventstore.Backwards, retryPage)
		if err != nil {
			return nil, 0, err
		}
		if len(page) == 0 {
			break
		}
		if from == eventstore.End {
			last = page[0].Revision
		}
		for _, e := range page {
			if _, ok := want[e.ID]; ok {
				found = append(found, e)
				delete(want, e.ID)
			}
		}
		oldest := page[len(page)-1].Revision
		if len(want) == 0 || len(page) < retryPage || oldest <= 1 {
			break
		}
		seen += len(page)
		from = oldest - 1
	}
	return found, last, nil
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, from uint64, dir eventstore.Direction, limit int) ([]eventstore.RecordedEvent, error) {
	if err := eventstore.ValidateStream(stream); err != nil {
		return nil, err
	}
	if err := eventstore.ValidateRead(limit); err != nil {
		return nil, err
	}
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.ops.Done()
	return s.readStream(ctx, stream, from, dir, limit)
}

// readStream reads a stream; the caller has called begin.
func (s *Store) readStream(ctx context.Context, stream string, from uint64, dir eventstore.Direction, limit int) ([]eventstore.RecordedEvent, error) {
	pos, empty := streamReadFrom(from, dir)
	if empty {
		return []eventstore.RecordedEvent{}, nil
	}
	opts := esdb.ReadStreamOptions{Direction: toESDBDirection(dir), From: pos}
	rs, err := s.client.ReadStream(ctx, stream, opts, uint64(limit))
	if err != nil {
		if hasCode(err, esdb.ErrorCodeResourceNotFound) {
			return []eventstore.RecordedEvent{}, nil
		}
		return nil, s.fail(ctx, err, "read %s", stream)
	}
	defer rs.Close()
	out := make([]eventstore.RecordedEvent, 0, min(limit, 256))
	for len(out) < limit {
		ev, err := rs.Recv()
		switch {
		case errors.Is(err, io.EOF):
			return out, nil
		case err != nil && hasCode(err, esdb.ErrorCodeResourceNotFound):
			return []eventstore.RecordedEvent{}, nil
		case err != nil:
			return nil, s.fail(ctx, err, "read %s", stream)
		case ev.Event == nil:
			continue
		}
		out = append(out, fromESDBEvent(ev.Event))
	}
	return out, nil
}

// ReadAll implements eventstore.Store. System events are left out, so a
// page may take several reads of $all.
func (s *Store) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.RecordedEvent, error) {
	if err := eventstore.ValidateRead(limit); err != nil {
		return nil, err
	}
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.ops.Done()

	out := make([]eventstore.RecordedEvent, 0, min(limit, allPage))
	cursor := after
	for len(out) < limit {
		// One more than needed: reading forwards from a position may
		// return the event at that position again.
		count := min(max(limit-len(out)+1, 32), 4096)
		n, next, err := s.readAllPage(ctx, esdb.Forwards, cursor, count, func(e *esdb.RecordedEvent) bool {
			out = append(out, fromESDBEvent(e))
			return len(out) < limit
		})
		if err != nil {
			return nil, err
		}
		if n < count || next == cursor {
			break // end of $all
		}
		cursor = next
	}
	return out, nil
}

// readAllPage reads up to count events of $all in direction dir from
// cursor, and calls take with each non-system event strictly beyond cursor
// until take returns false. It returns how many events the server sent and
// the position of the last one seen.
func (s *Store) readAllPage(ctx context.Context, dir esdb.Direction, cursor eventstore.Position, count int, take func(*esdb.RecordedEvent) bool) (n int, last eventstore.Position, err error) {
	var from esdb.AllPosition
	switch {
	case dir == esdb.Forwards:
		from = allReadFrom(cursor)
	case cursor == eventstore.Start:
		from = esdb.End{} // backwards: Start as the cursor means "from the end"
	default:
		from = toESDBPosition(cursor)
	}
	rs, err := s.client.ReadAll(ctx, esdb.ReadAllOptions{Direction: dir, From: from}, uint64(count))
	if err != nil {
		return 0, cursor, s.fail(ctx, err, "read $all")
	}
	defer rs.Close()
	last = cursor
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return n, last, nil
		}
		if err != nil {
			return n, last, s.fail(ctx, err, "read $all")
		}
		n++
		e := ev.Event
		if e == nil {
			continue
		}
		p := fromESDBPosition(e.Position)
		beyond := p.After(cursor)
		if dir == esdb.Backwards {
			beyond = cursor == eventstore.Start || p.Compare(cursor) < 0
		}
		if !beyond {
			continue
		}
		last = p
		if isSystem(e) {
			continue
		}
		if !take(e) {
			return n, last, nil
		}
	}
}

// Head implements eventstore.Store: the position of the last event that is
// not a system event, or Start if there is none.
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	if err := s.begin(); err != nil {
		return eventstore.Position{}, err
	}
	defer s.ops.Done()

	cursor := eventstore.Start // for backwards reads: the end
	for {
		var head *eventstore.Position
		n, next, err := s.readAllPage(ctx, esdb.Backwards, cursor, allPage, func(e *esdb.RecordedEvent) bool {
			p := fromESDBPosition(e.Position)
			head = &p
			return false
		})
		switch {
		case err != nil:
			return eventstore.Position{}, err
		case head != nil:
			return *head, nil
		case n < allPage || next == cursor:
			return eventstore.Start, nil
		}
		cursor = next
	}
}
