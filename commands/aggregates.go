package commands

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/google/uuid"
)

// EventStore is what commands need of the event store.
type EventStore interface {
	Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error)
	ReadStream(ctx context.Context, stream string, from uint64, dir eventstore.Direction, limit int) ([]eventstore.RecordedEvent, error)
}

// Result tells where a command's events landed.
type Result struct {
	// Revision is the stream revision of the command's last event (a
	// room's sequence number), or the stream's revision when the command
	// changed nothing.
	Revision uint64
	// Position is the global position of the last event; zero when the
	// command changed nothing. For a post appended together with others
	// (see repo.combine) it is that of the group's last event.
	Position eventstore.Position
	// Events are the events the command appended; none if it changed
	// nothing (or if it was a retry of one that had already appended them).
	Events []domain.Event
}

// maxConflicts bounds the retries of a command whose stream moved on.
const maxConflicts = 20

// maxCached bounds the aggregates kept in memory.
const maxCached = 20000

// readBatch is how many events a catch-up reads at once.
const readBatch = 1000

// repo loads aggregates of type S and appends what they decide. It keeps
// each aggregate's state in memory after first use, and it serializes the
// commands of one aggregate on this node so that they do not fight over
// expected revisions.
//
// A command that changes an aggregate decides on the cached state without
// reading the store: its append expects the cached revision, so if another
// node (or process) appended meanwhile the store refuses it, and the
// command reads the events appended since, then decides again. A decision
// on the cached state that changes nothing or fails is checked the same
// way, on the store's events, since the events it did not see could change
// it. Reads (read) always look for new events first: they have no append
// to catch a stale state.
type repo[S any] struct {
	store  EventStore
	stream func(id string) string
	apply  func(s *S, seq uint64, e domain.Event)

	mu      sync.Mutex
	entries map[string]*entry[S]
}

type entry[S any] struct {
	mu    sync.Mutex // serializes the commands of this aggregate
	refs  int        // guarded by repo.mu
	state S
	rev   uint64
	// current tells that state holds every event this node appended or
	// read: unset until the first read, and after an append whose outcome
	// is unknown (it failed, or it was a retry the store answered with an
	// earlier result).
	current bool

	// qmu guards queue and leading, the commands waiting to be combined
	// (see combine); it is taken alone or inside mu, never around it.
	qmu     sync.Mutex
	queue   []*combined[S]
	leading bool // a command of queue leads, or is about to
}

// combined is one command waiting in an entry's queue to be decided and
// appended together with the others (see combine).
type combined[S any] struct {
	ids    idFunc
	decide func(s *S, rev uint64) ([]domain.Event, error)
	lead   chan struct{} // told when this command is to lead the next group
	done   chan struct{} // closed when res and err are set
	res    Result
	err    error
}

func (c *combined[S]) finish(res Result, err error) {
	c.res, c.err = res, err
	close(c.done)
}

func newRepo[S any](store EventStore, stream func(string) string, apply func(*S, uint64, domain.Event)) *repo[S] {
	return &repo[S]{store: store, stream: stream, apply: apply, entries: map[string]*entry[S]{}}
}

// acquire takes the aggregate's entry and its lock.
func (r *repo[S]) acquire(id string) *entry[S] {
	e := r.ref(id)
	e.mu.Lock()
	return e
}

// release gives back what acquire took.
func (r *repo[S]) release(e *entry[S]) {
	e.mu.Unlock()
	r.unref(e)
}

// ref takes the aggregate's entry, so that it is not evicted, without
// its lock.
func (r *repo[S]) ref(id string) *entry[S] {
	r.mu.Lock()
	e := r.entries[id]
	if e == nil {
		if len(r.entries) >= maxCached {
			r.evict()
		}
		e = &entry[S]{}
		r.entries[id] = e
	}
	e.refs++
	r.mu.Unlock()
	return e
}

// unref gives back what ref took.
func (r *repo[S]) unref(e *entry[S]) {
	r.mu.Lock()
	e.refs--
	r.mu.Unlock()
}

// evict drops a tenth of the idle entries; r.mu is held.
func (r *repo[S]) evict() {
	n := len(r.entries) / 10
	for id, e := range r.entries {
		if n == 0 {
			return
		}
		if e.refs == 0 {
			delete(r.entries, id)
			n--
		}
	}
}

// catchUp applies the events appended after e.rev.
func (r *repo[S]) catchUp(ctx context.Context, id string, e *entry[S]) error {
	stream := r.stream(id)
	for {
		events, err := r.store.ReadStream(ctx, stream, e.rev+1, eventstore.Forwards, readBatch)
		if err != nil {
			return fmt.Errorf("load %s: %w", stream, err)
		}
		for _, re := range events {
			ev, err := domain.Decode(re.Type, re.Data)
			if err != nil {
				return fmt.Errorf("load %s@%d: %w", stream, re.Revision, err)
			}
			r.apply(&e.state, re.Revision, ev)
			e.rev = re.Revision
		}
		if len(events) < readBatch {
			e.current = true
			return nil
		}
	}
}

// read returns a copy-free view of the aggregate's current state to f,
// under the aggregate's lock.
func (r *repo[S]) read(ctx context.Context, id string, f func(s *S, rev uint64) error) error {
	e := r.acquire(id)
	defer r.release(e)
	if err := r.catchUp(ctx, id, e); err != nil {
		return err
	}
	return f(&e.state, e.rev)
}

// idFunc returns the event ID of the i-th event a command decided.
type idFunc func(i int, e domain.Event) uuid.UUID

func randomIDs(int, domain.Event) uuid.UUID { return uuid.New() }

// update decides with the aggregate's cached state and appends the
// events, expecting the revision the decision was made on; if another
// writer got there first, it catches up and decides again (see repo).
func (r *repo[S]) update(ctx context.Context, id string, expectNew bool, ids idFunc, decide func(s *S, rev uint64) ([]domain.Event, error)) (Result, error) {
	e := r.acquire(id)
	defer r.release(e)
	return r.updateLocked(ctx, id, e, expectNew, ids, decide)
}

// updateLocked is update with e's lock held.
func (r *repo[S]) updateLocked(ctx context.Context, id string, e *entry[S], expectNew bool, ids idFunc, decide func(s *S, rev uint64) ([]domain.Event, error)) (Result, error) {
	stream := r.stream(id)
	// read tells that this command has read the store: the state is the
	// stream's as of that read.
	read := false
	for range maxConflicts {
		if !e.current {
			if err := r.catchUp(ctx, id, e); err != nil {
				e.current = false
				return Result{}, err
			}
			read = true
		}
		events, err := decide(&e.state, e.rev)
		if (err != nil || len(events) == 0) && !read {
			// Decided on the cached state: check on the store's.
			e.current = false
			continue
		}
		if err != nil {
			return Result{}, err
		}
		if len(events) == 0 {
			return Result{Revision: e.rev}, nil
		}
		data, err := encodeEvents(events, ids)
		if err != nil {
			return Result{}, err
		}
		expected := eventstore.Exact(e.rev)
		if expectNew {
			expected = eventstore.NoStream
		}
		res, err := r.store.Append(ctx, stream, expected, data...)
		var wrong *eventstore.WrongRevisionError
		if errors.As(err, &wrong) {
			if expectNew {
				return Result{}, err
			}
			// Someone else appended: catch up and decide again.
			e.current = false
			continue
		}
		if err != nil {
			// The events may have been stored all the same.
			e.current = false
			return Result{}, fmt.Errorf("append to %s: %w", stream, err)
		}
		if res.Revision == e.rev+uint64(len(events)) {
			for i, ev := range events {
				r.apply(&e.state, e.rev+uint64(i)+1, ev)
			}
			e.rev = res.Revision
			return Result{Revision: res.Revision, Position: res.Position, Events: events}, nil
		}
		// A retry of an append stored earlier: the store returned the
		// original result; the state catches up on the next command.
		e.current = false
		return Result{Revision: res.Revision, Position: res.Position}, nil
	}
	return Result{}, domain.Errorf(domain.KindConflict, "update "+stream, "too many concurrent changes; try again")
}

// Aggregates gives commands the users and rooms, loaded from the store.
type Aggregates struct {
	users *repo[domain.User]
	rooms *repo[domain.Room]
	now   func() time.Time
	// sessions is the session policy, with its defaults set.
	sessions domain.SessionPolicy
}

// NewAggregates returns the aggregates of store; now is the clock
// (time.Now if nil).
func NewAggregates(store EventStore, now func() time.Time) (*Aggregates, error) {
	if store == nil {
		return nil, errors.New("commands: nil event store")
	}
	if now == nil {
		now = time.Now
	}
	return &Aggregates{
		users: newRepo(store, func(id string) string { return domain.UserStream(domain.UserID(id)) },
			func(u *domain.User, _ uint64, e domain.Event) { u.Apply(e) }),
		rooms: newRepo(store, func(id string) string { return domain.RoomStream(domain.RoomID(id)) },
			func(r *domain.Room, seq uint64, e domain.Event) { r.Apply(seq, e) }),
		now:      func() time.Time { return now().UTC() },
		sessions: domain.SessionPolicy{}.WithDefaults(),
	}, nil
}

// combineRoom runs a room command whose decision does not depend on
// other commands' events, combined with the others that arrive meanwhile
// (see repo.combine).
func (a *Aggregates) combineRoom(ctx context.Context, id domain.RoomID, ids idFunc, decide func(r *domain.Room) ([]domain.Event, error)) (Result, error) {
	return a.rooms.combine(ctx, string(id), ids, func(r *domain.Room, _ uint64) ([]domain.Event, error) { return decide(r) })
}

// updateRoom runs a room command.
func (a *Aggregates) updateRoom(ctx context.Context, id domain.RoomID, ids idFunc, decide func(r *domain.Room) ([]domain.Event, error)) (Result, error) {
	return a.rooms.update(ctx, string(id), false, ids, func(r *domain.Room, _ uint64) ([]domain.Event, error) { return decide(r) })
}

// updateUser runs a user command.
func (a *Aggregates) updateUser(ctx context.Context, id domain.UserID, decide func(u *domain.User) ([]domain.Event, error)) (Result, error) {
	return a.users.update(ctx, string(id), false, nil, func(u *domain.User, _ uint64) ([]domain.Event, error) { return decide(u) })
}

// readRoom reads a room's state.
func (a *Aggregates) readRoom(ctx context.Context, id domain.RoomID, f func(r *domain.Room) error) error {
	return a.rooms.read(ctx, string(id), func(r *domain.Room, _ uint64) error { return f(r) })
}

// readUser reads a user's state.
func (a *Aggregates) readUser(ctx context.Context, id domain.UserID, f func(u *domain.User) error) error {
	return a.users.read(ctx, string(id), func(u *domain.User, _ uint64) error { return f(u) })
}
