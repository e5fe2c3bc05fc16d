package commands

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/eventstore/sqlite"
	"github.com/confabhq/confab/internal/password"
	"github.com/google/uuid"
)

// combineFixture is a room of alice's whose posts go through a store
// that can hold an append back, so that posts queue up behind it.
type combineFixture struct {
	st    *countingStore
	h     *Handlers
	room  domain.RoomID
	alice domain.UserID
}

func newCombineFixture(t *testing.T) *combineFixture {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	st := &countingStore{Store: store, holding: make(chan struct{}, 1)}
	h, err := New(Config{Store: st, Invites: noInvites{}, Password: password.Params{Memory: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.SignUp.Handle(ctx, SignUp{Username: "alice", Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	alice := domain.UserIDFor("alice")
	room, _, err := h.CreateRoom.Handle(ctx, CreateRoom{Owner: alice, Name: "r"})
	if err != nil {
		t.Fatal(err)
	}
	return &combineFixture{st: st, h: h, room: room, alice: alice}
}

type postResult struct {
	cmd PostMessage
	res Result
	err error
}

// postAsync posts cmd in a goroutine; the result goes to out.
func (f *combineFixture) postAsync(cmd PostMessage, out chan<- postResult) {
	go func() {
		res, err := f.h.PostMessage.Handle(context.Background(), cmd)
		out <- postResult{cmd, res, err}
	}()
}

// queued waits until n posts wait in the room's queue (behind the held
// append), so that their order is known.
func (f *combineFixture) waitQueued(t *testing.T, n int) {
	t.Helper()
	rooms := f.h.PostMessage.agg.rooms
	deadline := time.Now().Add(30 * time.Second)
	for {
		rooms.mu.Lock()
		e := rooms.entries[string(f.room)]
		rooms.mu.Unlock()
		e.qmu.Lock()
		got := len(e.queue)
		e.qmu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d posts queued, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// hold makes the next append wait; it returns once one does, and the
// function that lets it go on.
func (f *combineFixture) holdNextAppend(t *testing.T, start func()) (release func()) {
	t.Helper()
	ch := make(chan struct{})
	f.st.hold.Store(&ch)
	start()
	select {
	case <-f.st.holding:
	case <-time.After(30 * time.Second):
		t.Fatal("no append came")
	}
	return func() { close(ch) }
}

// checkStored checks that each post's seq holds its message in the store,
// and that the seqs are distinct.
func (f *combineFixture) checkStored(t *testing.T, results []postResult) {
	t.Helper()
	events, err := f.st.Store.ReadStream(context.Background(), domain.RoomStream(f.room), 1, eventstore.Forwards, 1000)
	if err != nil {
		t.Fatal(err)
	}
	bySeq := map[uint64]eventstore.RecordedEvent{}
	for _, e := range events {
		bySeq[e.Revision] = e
	}
	seen := map[uint64]string{}
	for _, r := range results {
		if r.err != nil {
			t.Errorf("post %s: %v", r.cmd.ClientMsgID, r.err)
			continue
		}
		if other, ok := seen[r.res.Revision]; ok {
			t.Errorf("posts %s and %s both got seq %d", other, r.cmd.ClientMsgID, r.res.Revision)
		}
		seen[r.res.Revision] = r.cmd.ClientMsgID
		e, ok := bySeq[r.res.Revision]
		want := uuid.UUID(domain.MessageEventID(f.room, r.cmd.Sender, r.cmd.ClientMsgID))
		if !ok || e.ID != want {
			t.Errorf("post %s: seq %d holds %v, want its message %v", r.cmd.ClientMsgID, r.res.Revision, e.ID, want)
		}
	}
	var posted int
	for _, e := range events {
		if e.Type == "MessagePosted" {
			posted++
		}
	}
	if want := len(seen); posted != want {
		t.Errorf("%d messages stored, want %d (each once)", posted, want)
	}
}

// TestPostsCombine: posts to one room that arrive while another post's
// append is in flight are appended together, with one Append, each
// answered with the seq of its own message, in arrival order.
func TestPostsCombine(t *testing.T) {
	f := newCombineFixture(t)
	const n = 20
	out := make(chan postResult, n+1)
	post := func(i int) PostMessage {
		return PostMessage{Room: f.room, Sender: f.alice, ClientMsgID: fmt.Sprint("m", i), Text: "hi"}
	}
	release := f.holdNextAppend(t, func() { f.postAsync(post(0), out) })
	for i := 1; i <= n; i++ {
		f.postAsync(post(i), out)
		f.waitQueued(t, i)
	}
	before := f.st.appends.Load()
	release()
	var results []postResult
	for range n + 1 {
		results = append(results, <-out)
	}
	if got := f.st.appends.Load() - before; got != 1 {
		t.Errorf("%d appends for the %d posts that waited, want 1", got, n)
	}
	f.checkStored(t, results)
	for _, r := range results {
		var i int
		fmt.Sscanf(r.cmd.ClientMsgID, "m%d", &i)
		if want := uint64(2 + i); r.res.Revision != want { // seq 1 is RoomCreated
			t.Errorf("post %d: seq %d, want %d (arrival order)", i, r.res.Revision, want)
		}
	}
	// The cached room holds them all: the next post needs no read.
	reads := f.st.reads.Load()
	res, err := f.h.PostMessage.Handle(context.Background(), post(n+1))
	if err != nil || res.Revision != n+3 {
		t.Errorf("post after the group: seq %d, %v; want %d", res.Revision, err, n+3)
	}
	if got := f.st.reads.Load() - reads; got != 0 {
		t.Errorf("post after the group read the store %d times, want 0", got)
	}
}

// TestPostsCombineApart: a queued post that cannot join its group (a
// retry of a stored message, the same message twice, a reply to a message
// of the group, a refused one) is run alone after the group, and
// everything still lands once with the right answers.
func TestPostsCombineApart(t *testing.T) {
	f := newCombineFixture(t)
	ctx := context.Background()
	stored, err := f.h.PostMessage.Handle(ctx, PostMessage{Room: f.room, Sender: f.alice, ClientMsgID: "old", Text: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan postResult, 10)
	release := f.holdNextAppend(t, func() {
		f.postAsync(PostMessage{Room: f.room, Sender: f.alice, ClientMsgID: "first", Text: "hi"}, out)
	})
	// The group after the held append starts at seq stored+2.
	queue := []PostMessage{
		{Room: f.room, Sender: f.alice, ClientMsgID: "a", Text: "hi"},
		{Room: f.room, Sender: f.alice, ClientMsgID: "old", Text: "hi"}, // a retry
		{Room: f.room, Sender: f.alice, ClientMsgID: "a", Text: "hi"},   // twice in the group
		{Room: f.room, Sender: f.alice, ClientMsgID: "reply", Text: "hi", ReplyTo: stored.Revision + 2},
		{Room: f.room, Sender: domain.UserIDFor("mallory"), ClientMsgID: "x", Text: "hi"}, // not a member
		{Room: f.room, Sender: f.alice, ClientMsgID: "b", Text: "hi"},
	}
	for i, cmd := range queue {
		f.postAsync(cmd, out)
		f.waitQueued(t, i+1)
	}
	release()
	got := map[string][]postResult{}
	var ok []postResult
	for range len(queue) + 1 {
		r := <-out
		got[r.cmd.ClientMsgID] = append(got[r.cmd.ClientMsgID], r)
		if r.cmd.ClientMsgID != "x" {
			ok = append(ok, r)
		}
	}
	if r := got["x"][0]; domain.KindOf(r.err) != domain.KindForbidden && domain.KindOf(r.err) != domain.KindNotFound {
		t.Errorf("post of a non-member: %v, want refused", r.err)
	}
	if r := got["old"][0]; r.err != nil || r.res.Revision != stored.Revision {
		t.Errorf("retried post: seq %d, %v; want the original seq %d", r.res.Revision, r.err, stored.Revision)
	}
	if a := got["a"]; len(a) != 2 || a[0].res.Revision != a[1].res.Revision || a[0].err != nil || a[1].err != nil {
		t.Errorf("the same post twice: %+v, want one seq for both", a)
	}
	if r := got["reply"][0]; r.err != nil {
		t.Errorf("reply to a message of the group: %v", r.err)
	}
	// Each distinct message once ("a" twice, "old" a retry).
	var distinct []postResult
	seen := map[string]bool{}
	for _, r := range ok {
		if !seen[r.cmd.ClientMsgID] {
			seen[r.cmd.ClientMsgID] = true
			distinct = append(distinct, r)
		}
	}
	f.checkStored(t, distinct)
}

// TestPostsCombineFailed: when a group's append fails after it was
// stored (its outcome unknown to the command), each post is run again
// alone and recognised as a retry: every post is answered with the seq of
// its message, and nothing is stored twice.
func TestPostsCombineFailed(t *testing.T) {
	f := newCombineFixture(t)
	out := make(chan postResult, 10)
	release := f.holdNextAppend(t, func() {
		f.postAsync(PostMessage{Room: f.room, Sender: f.alice, ClientMsgID: "first", Text: "hi"}, out)
	})
	for i := range 5 {
		f.postAsync(PostMessage{Room: f.room, Sender: f.alice, ClientMsgID: fmt.Sprint("m", i), Text: "hi"}, out)
		f.waitQueued(t, i+1)
	}
	// The held append succeeds; the group's, next, fails once stored.
	hold := make(chan struct{})
	f.st.hold.Store(&hold)
	release()
	<-f.st.holding
	f.st.failAfter.Store(true)
	close(hold)
	var results []postResult
	for range 6 {
		results = append(results, <-out)
	}
	f.checkStored(t, results)
}
