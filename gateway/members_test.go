package gateway

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/projections"
	"github.com/google/uuid"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// openReadModels opens empty read models in a SQLite database of t's.
func openReadModels(t *testing.T) *projections.Projections {
	t.Helper()
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "confab.db")+"?"+q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	p, err := projections.Open(context.Background(), db, projections.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// eventLog makes the recorded events of a log, one position after the
// other.
type eventLog struct {
	t    *testing.T
	revs map[string]uint64
	n    uint64
}

// next records ev on room's stream.
func (l *eventLog) next(room domain.RoomID, ev domain.Event) eventstore.RecordedEvent {
	l.t.Helper()
	typ, data, err := domain.Encode(ev)
	if err != nil {
		l.t.Fatal(err)
	}
	stream := domain.RoomStream(room)
	l.revs[stream]++
	l.n++
	return eventstore.RecordedEvent{
		ID: uuid.New(), Stream: stream, Revision: l.revs[stream], Type: typ, Data: data,
		Position: eventstore.Position{Commit: l.n, Prepare: l.n}, RecordedAt: time.Now(),
	}
}

// members returns room's cached members, sorted, and whether it is cached.
func (m *memberCache) members(room domain.RoomID) ([]domain.UserID, bool) {
	m.mu.Lock()
	_, ok := m.rooms[room]
	m.mu.Unlock()
	var out []domain.UserID
	m.each([]domain.RoomID{room}, func(u domain.UserID) { out = append(out, u) })
	slices.Sort(out)
	return out, ok
}

// hookedSource is the read models, with a hook run before a room's
// members are read (to play the events dispatch sees meanwhile).
type hookedSource struct {
	*projections.Projections
	before func()
}

func (s *hookedSource) MemberIDs(ctx context.Context, room domain.RoomID) ([]domain.UserID, error) {
	if s.before != nil {
		s.before()
		s.before = nil
	}
	return s.Projections.MemberIDs(ctx, room)
}

func TestMemberCache(t *testing.T) {
	ctx := context.Background()
	read := openReadModels(t)
	src := &hookedSource{Projections: read}
	mc := newMemberCache(src)
	h := newTestHub()
	h.onMembers = mc.apply
	l := &eventLog{t: t, revs: map[string]uint64{}}
	u := func(name string) domain.UserID { return domain.UserIDFor(name) }
	alice, bob, carol, dave, erin := u("alice"), u("bob"), u("carol"), u("dave"), u("erin")
	const general, dm, other = domain.RoomID("general"), domain.RoomID("dm"), domain.RoomID("other")
	at := time.Unix(1, 0).UTC()
	// both has the read models apply evs and the hub dispatch them, as
	// the projections and the hub follower do.
	both := func(evs ...eventstore.RecordedEvent) {
		t.Helper()
		if err := read.Apply(ctx, evs); err != nil {
			t.Fatal(err)
		}
		if err := h.dispatch(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	want := func(room domain.RoomID, want ...domain.UserID) {
		t.Helper()
		slices.Sort(want)
		got, ok := mc.members(room)
		if !ok || !slices.Equal(got, want) {
			t.Errorf("members of %s = %v (cached %v), want %v", room, got, ok, want)
		}
	}

	both(l.next(general, domain.RoomCreated{RoomID: general, Kind: domain.KindGroup, Name: "General", OwnerID: alice, Members: []domain.UserID{alice}, InviteCode: "c1", At: at}),
		l.next(general, domain.MemberJoined{UserID: bob, At: at}),
		l.next(general, domain.MemberJoined{UserID: carol, At: at}))
	if _, ok := mc.members(general); ok {
		t.Fatal("a room is cached before its first need")
	}
	if err := mc.load(ctx, []domain.RoomID{general}); err != nil {
		t.Fatal(err)
	}
	want(general, alice, bob, carol)

	// Membership events keep it current.
	both(l.next(general, domain.MemberLeft{UserID: bob, At: at}),
		l.next(general, domain.MemberJoined{UserID: dave, At: at}),
		l.next(general, domain.MemberKicked{UserID: carol, By: alice, At: at}),
		l.next(general, domain.MemberBanned{UserID: erin, By: alice, At: at}))
	want(general, alice, dave)

	// A DM opened after its first need (none: it is loaded empty).
	if err := mc.load(ctx, []domain.RoomID{dm}); err != nil {
		t.Fatal(err)
	}
	want(dm)
	both(l.next(dm, domain.RoomCreated{RoomID: dm, Kind: domain.KindDM, Members: []domain.UserID{alice, erin}, At: at}))
	want(dm, alice, erin)

	// The read models are ahead of dispatch when a room loads: the
	// events dispatch sees after the load change nothing in the end.
	ahead := []eventstore.RecordedEvent{
		l.next(other, domain.RoomCreated{RoomID: other, Kind: domain.KindGroup, Name: "Other", OwnerID: bob, Members: []domain.UserID{bob}, InviteCode: "c2", At: at}),
		l.next(other, domain.MemberJoined{UserID: carol, At: at}),
		l.next(other, domain.MemberLeft{UserID: carol, At: at}),
		l.next(other, domain.MemberJoined{UserID: dave, At: at}),
	}
	if err := read.Apply(ctx, ahead); err != nil {
		t.Fatal(err)
	}
	if err := mc.load(ctx, []domain.RoomID{other}); err != nil {
		t.Fatal(err)
	}
	want(other, bob, dave)
	if err := h.dispatch(ctx, ahead); err != nil {
		t.Fatal(err)
	}
	want(other, bob, dave)

	// Dispatch is ahead of the read models while a room loads: what it
	// sees meanwhile waits and is applied on the loaded set.
	mc.evict([]domain.RoomID{other}, func(domain.UserID) bool { return false })
	if _, ok := mc.members(other); ok {
		t.Fatal("a room without local members is still cached")
	}
	late := l.next(other, domain.MemberJoined{UserID: erin, At: at})
	src.before = func() {
		if err := h.dispatch(ctx, []eventstore.RecordedEvent{late}); err != nil {
			t.Error(err)
		}
	}
	if err := mc.load(ctx, []domain.RoomID{other}); err != nil {
		t.Fatal(err)
	}
	want(other, bob, dave, erin)
	if err := read.Apply(ctx, []eventstore.RecordedEvent{late}); err != nil {
		t.Fatal(err)
	}

	// Peers: the union of the rooms' members, each once.
	var peers []domain.UserID
	mc.each([]domain.RoomID{general, dm, other}, func(u domain.UserID) { peers = append(peers, u) })
	slices.Sort(peers)
	w := []domain.UserID{alice, bob, dave, erin}
	slices.Sort(w)
	if !slices.Equal(peers, w) {
		t.Errorf("peers = %v, want %v", peers, w)
	}

	// Eviction: a room stays while one of its members is local.
	local := map[domain.UserID]bool{erin: true}
	mc.evict([]domain.RoomID{general, dm, other}, func(u domain.UserID) bool { return local[u] })
	if _, ok := mc.members(general); ok {
		t.Error("general, without local members, is still cached")
	}
	want(dm, alice, erin)
	want(other, bob, dave, erin)
	if n := mc.cached(); n != 2 {
		t.Errorf("%d rooms cached, want 2", n)
	}
	// An uncached room's events are not kept.
	both(l.next(general, domain.MemberJoined{UserID: erin, At: at}))
	if _, ok := mc.members(general); ok {
		t.Error("a membership event cached a room")
	}
}
