package gateway

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
)

// memberSource is where the member cache loads a room's members from:
// the read models.
type memberSource interface {
	WaitFor(ctx context.Context, pos eventstore.Position) error
	MemberIDs(ctx context.Context, room domain.RoomID) ([]domain.UserID, error)
}

// memberCache holds the member sets (user IDs) of the rooms whose
// presence this node pushes, so that a presence change costs no query of
// a room's members: a room is loaded from the read models on first need
// (load), then kept current by the membership events the hub dispatches
// (apply, in log order), and dropped once no member has a connection on
// this node (evict).
//
// A room's load is raced by dispatch: the set is marked loading before
// the query, the membership events dispatch sees meanwhile are kept
// (pending) and replayed on the loaded set. The query waits for the read
// models to have applied the last membership event dispatch had seen
// when the load began, so every change is either in the loaded rows or
// pending; a pending change the rows already hold is replayed onto a set
// that has it, which leaves it unchanged (a change sets a user in or out,
// and the last one for a user wins).
//
// Lock order: hub.mu, then memberCache.mu (a leaf). Only the presence
// loop loads and evicts; dispatch only applies.
type memberCache struct {
	src memberSource

	mu    sync.Mutex
	rooms map[domain.RoomID]*memberSet
	seen  eventstore.Position // of the last membership event applied
}

// memberSet is one room's members.
type memberSet struct {
	members map[domain.UserID]struct{}
	loading bool
	pending []memberChange // seen by apply while loading
}

// memberChange puts a user in a room's set or takes them out.
type memberChange struct {
	user domain.UserID
	in   bool
}

func newMemberCache(src memberSource) *memberCache {
	return &memberCache{src: src, rooms: map[domain.RoomID]*memberSet{}}
}

// membershipChanges returns what ev changes in its room's member set, or
// nil if ev is not a membership event.
func membershipChanges(ev domain.Event) []memberChange {
	switch ev := ev.(type) {
	case domain.RoomCreated: // group rooms and DMs alike
		out := make([]memberChange, 0, len(ev.Members))
		for _, m := range ev.Members {
			out = append(out, memberChange{m, true})
		}
		return out
	case domain.MemberJoined:
		return []memberChange{{ev.UserID, true}}
	case domain.MemberLeft:
		return []memberChange{{ev.UserID, false}}
	case domain.MemberKicked:
		return []memberChange{{ev.UserID, false}}
	case domain.MemberBanned:
		return []memberChange{{ev.UserID, false}}
	}
	return nil
}

func (s *memberSet) change(cs []memberChange) {
	for _, c := range cs {
		if c.in {
			s.members[c.user] = struct{}{}
		} else {
			delete(s.members, c.user)
		}
	}
}

// apply updates room's set, if cached, by ev, the event at pos. The hub's
// dispatch calls it for every room event, in log order.
func (m *memberCache) apply(room domain.RoomID, pos eventstore.Position, ev domain.Event) {
	cs := membershipChanges(ev)
	if cs == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen.Compare(pos) < 0 {
		m.seen = pos
	}
	s := m.rooms[room]
	switch {
	case s == nil:
	case s.loading:
		s.pending = append(s.pending, cs...)
	default:
		s.change(cs)
	}
}

// load makes sure rooms are cached, loading those that are not. Only one
// goroutine loads (the presence loop). A room whose load fails is not
// cached, and load returns the error.
func (m *memberCache) load(ctx context.Context, rooms []domain.RoomID) error {
	for _, r := range rooms {
		m.mu.Lock()
		if m.rooms[r] != nil {
			m.mu.Unlock()
			continue
		}
		s := &memberSet{loading: true}
		m.rooms[r] = s
		after := m.seen
		m.mu.Unlock()
		ids, err := m.fetch(ctx, r, after)
		m.mu.Lock()
		if err != nil {
			delete(m.rooms, r)
			m.mu.Unlock()
			return err
		}
		s.members = make(map[domain.UserID]struct{}, len(ids))
		for _, id := range ids {
			s.members[id] = struct{}{}
		}
		s.change(s.pending)
		s.loading, s.pending = false, nil
		m.mu.Unlock()
	}
	return nil
}

// fetch reads room's members once the read models have applied after.
func (m *memberCache) fetch(ctx context.Context, room domain.RoomID, after eventstore.Position) ([]domain.UserID, error) {
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err := m.src.WaitFor(wctx, after)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("members of %s: wait for the read models: %w", room, err)
	}
	ids, err := m.src.MemberIDs(ctx, room)
	if err != nil {
		return nil, fmt.Errorf("members of %s: %w", room, err)
	}
	return ids, nil
}

// each calls f once for every member of the cached ones of rooms (a
// member of several once), with m.mu held: f must not call m.
func (m *memberCache) each(rooms []domain.RoomID, f func(domain.UserID)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(rooms) == 1 {
		if s := m.rooms[rooms[0]]; s != nil && !s.loading {
			for u := range s.members {
				f(u)
			}
		}
		return
	}
	done := map[domain.UserID]struct{}{}
	for _, r := range rooms {
		s := m.rooms[r]
		if s == nil || s.loading {
			continue
		}
		for u := range s.members {
			if _, ok := done[u]; !ok {
				done[u] = struct{}{}
				f(u)
			}
		}
	}
}

// evict drops those of rooms none of whose members local reports as
// having a connection on this node. local is called with m.mu held.
func (m *memberCache) evict(rooms []domain.RoomID, local func(domain.UserID) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
rooms:
	for _, r := range rooms {
		s := m.rooms[r]
		if s == nil || s.loading {
			continue
		}
		for u := range s.members {
			if local(u) {
				continue rooms
			}
		}
		delete(m.rooms, r)
	}
}

// cached returns the number of rooms cached (for tests).
func (m *memberCache) cached() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.rooms)
}
