package commands

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/eventstore/sqlite"
	"github.com/confabhq/confab/internal/password"
	"github.com/google/uuid"
)

// countingStore counts the stream reads of the commands, and can make the
// next append fail after it is stored (as a timeout after the commit
// would).
type countingStore struct {
	*sqlite.Store
	reads     atomic.Int64
	appends   atomic.Int64
	failAfter atomic.Bool
	// hold, if set, is taken (with its value) by the next append, which
	// waits before storing until release is closed.
	hold    atomic.Pointer[chan struct{}]
	holding chan struct{} // gets a value when an append waits on hold
}

func (s *countingStore) ReadStream(ctx context.Context, stream string, from uint64, dir eventstore.Direction, limit int) ([]eventstore.RecordedEvent, error) {
	s.reads.Add(1)
	return s.Store.ReadStream(ctx, stream, from, dir, limit)
}

func (s *countingStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	s.appends.Add(1)
	if release := s.hold.Swap(nil); release != nil {
		s.holding <- struct{}{}
		<-*release
	}
	res, err := s.Store.Append(ctx, stream, expected, events...)
	if err == nil && s.failAfter.CompareAndSwap(true, false) {
		return eventstore.AppendResult{}, context.DeadlineExceeded
	}
	return res, err
}

type noInvites struct{}

func (noInvites) RoomByInviteCode(context.Context, string) (domain.RoomID, error) {
	return "", domain.Errorf(domain.KindNotFound, "join", "no such invite")
}

// appendAs appends e to stream behind the commands' back, as another node
// would.
func appendAs(t *testing.T, st eventstore.Store, stream string, e domain.Event) {
	t.Helper()
	typ, data, err := domain.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Append(context.Background(), stream, eventstore.Any, eventstore.EventData{ID: uuid.New(), Type: typ, Data: data}); err != nil {
		t.Fatal(err)
	}
}

// TestCachedAggregates: once loaded, a room or user is not read from the
// store again by the commands that change it, and what other writers
// append is still taken into account: by a conflict on the expected
// revision, or by checking a refusal or a no-op on the store's events.
func TestCachedAggregates(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	st := &countingStore{Store: store}
	h, err := New(Config{Store: st, Invites: noInvites{}, Password: password.Params{Memory: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.SignUp.Handle(ctx, SignUp{Username: "alice", Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	alice, bob := domain.UserIDFor("alice"), domain.UserIDFor("bob")
	room, _, err := h.CreateRoom.Handle(ctx, CreateRoom{Owner: alice, Name: "r"})
	if err != nil {
		t.Fatal(err)
	}
	post := func(sender domain.UserID, id string) (Result, error) {
		return h.PostMessage.Handle(ctx, PostMessage{Room: room, Sender: sender, ClientMsgID: id, Text: "hi"})
	}
	reads := func(what string, want int64, f func()) {
		t.Helper()
		before := st.reads.Load()
		f()
		if got := st.reads.Load() - before; got != want {
			t.Errorf("%s: %d stream reads, want %d", what, got, want)
		}
	}
	seq := uint64(1) // RoomCreated
	reads("posts and connections", 0, func() {
		for i := range 5 {
			res, err := post(alice, fmt.Sprint("m", i))
			seq++
			if err != nil || res.Revision != seq {
				t.Fatalf("post %d: seq %d, %v; want seq %d", i, res.Revision, err, seq)
			}
			if _, err := h.Connect.Handle(ctx, Connect{User: alice, ConnID: fmt.Sprint("c", i), NodeID: "n"}); err != nil {
				t.Fatal(err)
			}
		}
	})

	// Another node appends a message: the next post conflicts, catches up
	// and lands after it.
	appendAs(t, store, domain.RoomStream(room), domain.MessagePosted{SenderID: alice, ClientMsgID: "elsewhere", Text: "hi", At: time.Now()})
	seq++
	reads("a post after another node's", 1, func() {
		res, err := post(alice, "after")
		seq++
		if err != nil || res.Revision != seq {
			t.Fatalf("post: seq %d, %v; want seq %d", res.Revision, err, seq)
		}
	})

	// Bob signs up and joins on another node: his first post is refused
	// by the cached room, which is then checked against the store's.
	if _, err := h.SignUp.Handle(ctx, SignUp{Username: "bob", Password: "battery staple"}); err != nil {
		t.Fatal(err)
	}
	appendAs(t, store, domain.RoomStream(room), domain.MemberJoined{UserID: bob, At: time.Now()})
	seq++
	reads("a post by a member who joined elsewhere", 1, func() {
		res, err := post(bob, "bob1")
		seq++
		if err != nil || res.Revision != seq {
			t.Fatalf("bob's post: seq %d, %v; want seq %d", res.Revision, err, seq)
		}
	})
	// A refusal that stands is checked once too.
	reads("a post by a non-member", 1, func() {
		if _, err := post(domain.UserIDFor("carol"), "c1"); domain.KindOf(err) != domain.KindNotFound && domain.KindOf(err) != domain.KindForbidden {
			t.Fatalf("carol's post: %v, want a refusal", err)
		}
	})

	// An append whose outcome the command does not know (stored, but
	// answered with an error): the next command reads the store first.
	st.failAfter.Store(true)
	if _, err := post(alice, "lost-ack"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("post with a failing append: %v", err)
	}
	seq++
	reads("a post after an unknown outcome", 1, func() {
		res, err := post(alice, "next")
		seq++
		if err != nil || res.Revision != seq {
			t.Fatalf("post: seq %d, %v; want seq %d", res.Revision, err, seq)
		}
	})
	// Its retry is answered with the original seq.
	res, err := post(alice, "lost-ack")
	if err != nil || res.Revision != seq-1 {
		t.Fatalf("retried post: seq %d, %v; want seq %d", res.Revision, err, seq-1)
	}
}
