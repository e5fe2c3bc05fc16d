package projections_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/confabhq/confab/bus"
	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/projections"
)

// applyIncrementally applies the store's log in uneven batches read with
// ReadAll, applying some batches twice and some overlapping the last.
func applyIncrementally(t *testing.T, p *projections.Projections, store eventstore.Store, rng *rand.Rand) {
	t.Helper()
	filter := projections.Filter()
	after := eventstore.Start
	var prev []eventstore.RecordedEvent
	for {
		events, err := store.ReadAll(ctx, after, 1+rng.IntN(60))
		if err != nil {
			t.Fatal(err)
		}
		if len(events) == 0 {
			return
		}
		after = events[len(events)-1].Position
		var batch []eventstore.RecordedEvent
		if rng.IntN(4) == 0 {
			batch = append(batch, prev[len(prev)/2:]...) // overlap: applied already
		}
		for _, e := range events {
			if filter.Match(&e) {
				batch = append(batch, e)
			}
		}
		if err := p.Apply(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if rng.IntN(5) == 0 {
			if err := p.Apply(ctx, batch); err != nil { // again: nothing changes
				t.Fatal(err)
			}
		}
		prev = batch
	}
}

func dump(t *testing.T, p *projections.Projections) map[string][]string {
	t.Helper()
	d, err := p.Dump(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// sameDump compares dumps row for row and reports the first differences.
func sameDump(t *testing.T, got, want map[string][]string) {
	t.Helper()
	for table, rows := range want {
		g := got[table]
		if len(g) != len(rows) {
			t.Errorf("%s: %d rows, want %d", table, len(g), len(rows))
		}
		for i := range min(len(g), len(rows)) {
			if g[i] != rows[i] {
				t.Errorf("%s row %d:\n got %s\nwant %s", table, i, g[i], rows[i])
				break
			}
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d tables, want %d", len(got), len(want))
	}
}

// TestRebuildEqualsIncremental writes a random log to a real event store,
// applies it incrementally in uneven batches, then rebuilds from the start:
// the rows must be the same, and both must agree with the aggregates.
func TestRebuildEqualsIncremental(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		for i, seed := range []uint64{1, 2} {
			if i > 0 {
				b = b.fresh(t)
			}
			store := b.openStore(t)
			p := b.open(t)
			g := newGen(t, store, seed)
			g.run(400)
			applyIncrementally(t, p, store, rand.New(rand.NewPCG(seed, 7)))
			cp, err := p.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if cp != g.last {
				t.Fatalf("checkpoint %v, want %v", cp, g.last)
			}
			verify(t, p, g)
			verifySearch(t, p, g)
			incremental, found := dump(t, p), searchSnapshot(t, p, g)
			if n := len(incremental["proj_messages"]); n < 50 {
				t.Fatalf("only %d messages: the log is not realistic", n)
			}

			if err := p.Rebuild(ctx, store); err != nil {
				t.Fatal(err)
			}
			sameDump(t, dump(t, p), incremental)
			sameSearch(t, searchSnapshot(t, p, g), found)
			if cp2, err := p.Checkpoint(ctx); err != nil || cp2 != cp {
				t.Fatalf("checkpoint after rebuild %v, %v; want %v", cp2, err, cp)
			}
			verify(t, p, g)

			// A second Projections on the same database, as after a
			// restart, sees the same.
			sameDump(t, dump(t, b.open(t)), incremental)
		}
	})
}

// TestRun follows the bus while a random log is written, and waits for
// the last append's position: read-your-writes.
func TestRun(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		store := b.openStore(t)
		p := b.open(t)

		// Some history before the projections start.
		g := newGen(t, store, 3)
		g.run(100)

		pubsub := bus.NewGoChannel(nil)
		relay, err := bus.NewRelay(store, pubsub, nil)
		if err != nil {
			t.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		wg.Add(2)
		go func() { defer wg.Done(); errs <- relay.Run(runCtx, eventstore.Start) }()
		go func() { defer wg.Done(); errs <- p.Run(runCtx, store, pubsub, nil) }()
		defer func() {
			cancel()
			wg.Wait()
			close(errs)
			for err := range errs {
				if !errors.Is(err, context.Canceled) {
					t.Errorf("run ended with %v", err)
				}
			}
		}()

		for range 5 {
			g.run(40)
			wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
			err := p.WaitFor(wctx, g.last)
			wcancel()
			if err != nil {
				t.Fatalf("wait for %v: %v", g.last, err)
			}
			verify(t, p, g)
		}
		live := dump(t, p)
		if err := p.Rebuild(ctx, store); err != nil {
			t.Fatal(err)
		}
		sameDump(t, dump(t, p), live)

		// After the rebuild, Run goes on.
		g.run(30)
		wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
		defer wcancel()
		if err := p.WaitFor(wctx, g.last); err != nil {
			t.Fatal(err)
		}
		verify(t, p, g)
	})
}

// TestWaitFor shows that WaitFor returns at once for what is applied,
// wakes when the position is applied, and gives up with its context.
func TestWaitFor(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		p := b.open(t)
		l := newLog(t).signUp("alice", "bob", "carol")
		if err := p.WaitFor(ctx, eventstore.Start); err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if err := p.WaitFor(short, l.events[0].Position); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("WaitFor before Apply: %v", err)
		}
		done := make(chan error, 1)
		go func() { done <- p.WaitFor(ctx, l.events[1].Position) }()
		if err := p.Apply(ctx, l.events[:1]); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			t.Fatalf("WaitFor returned %v before its position was applied", err)
		case <-time.After(20 * time.Millisecond):
		}
		if err := p.Apply(ctx, l.events[1:]); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		// A restarted process knows the checkpoint.
		if err := b.open(t).WaitFor(ctx, l.events[2].Position); err != nil {
			t.Fatal(err)
		}
	})
}

// TestRebuildByAnotherProcess shows that while a rebuild runs, appliers
// sharing the database wait for it instead of writing between its batches.
func TestRebuildByAnotherProcess(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		store := b.openStore(t)
		g := newGen(t, store, 4)
		g.run(150)
		rebuilder, follower := b.open(t), b.open(t)
		applyIncrementally(t, follower, store, rand.New(rand.NewPCG(4, 4)))

		// The rebuild pauses at every read; meanwhile the follower applies
		// new events, which must wait until the rebuild has ended.
		g.run(20)
		fresh, err := store.ReadAll(ctx, mustCheckpoint(t, follower), 1000)
		if err != nil {
			t.Fatal(err)
		}
		slow := &pausingStore{Store: store, reads: make(chan struct{})}
		rebuilt := make(chan error, 1)
		go func() { rebuilt <- rebuilder.Rebuild(ctx, slow) }()
		<-slow.reads // the rebuild has emptied the read models and reads the log
		applied := make(chan error, 1)
		go func() { applied <- follower.Apply(ctx, fresh) }()
		select {
		case err := <-applied:
			t.Fatalf("Apply returned %v during a rebuild", err)
		case <-time.After(300 * time.Millisecond):
		}
		close(slow.reads)
		if err := <-rebuilt; err != nil {
			t.Fatal(err)
		}
		if err := <-applied; err != nil {
			t.Fatal(err)
		}
		verify(t, follower, g)
		sameDump(t, dump(t, rebuilder), dump(t, follower))
	})
}

func mustCheckpoint(t *testing.T, p *projections.Projections) eventstore.Position {
	t.Helper()
	cp, err := p.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// pausingStore hands its first ReadAll a pause: it signals reads, then
// waits until reads is closed.
type pausingStore struct {
	eventstore.Store
	reads chan struct{}
	once  sync.Once
}

func (s *pausingStore) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.RecordedEvent, error) {
	s.once.Do(func() {
		s.reads <- struct{}{}
		<-s.reads
	})
	return s.Store.ReadAll(ctx, after, limit)
}

// TestLeases checks node leases: a node is expired when it has open
// connections and no lease, or a lease that ended; leases survive a
// rebuild and stay out of the dump.
func TestLeases(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		store := b.openStore(t)
		p := b.open(t)
		l := newLog(t).signUp("alice", "bob")
		l.user(alice, eventOpen("a1", "n1"), eventOpen("a2", "n2"))
		l.user(bob, eventOpen("b1", "n3"))
		if err := p.Apply(ctx, l.events); err != nil {
			t.Fatal(err)
		}
		now := at(100)
		for node, until := range map[string]time.Time{"n1": now.Add(time.Second), "n2": now.Add(-time.Second), "n4": now.Add(-time.Hour)} {
			if err := p.RenewLease(ctx, node, until); err != nil {
				t.Fatal(err)
			}
		}
		expired := func(now time.Time) []string {
			t.Helper()
			nodes, err := p.ExpiredNodes(ctx, now)
			if err != nil {
				t.Fatal(err)
			}
			return nodes
		}
		// n2's lease ended; n3 has none; n4 has no connections.
		equal(t, "expired", expired(now), []string{"n2", "n3"})
		equal(t, "expired later", expired(now.Add(time.Minute)), []string{"n1", "n2", "n3"})
		if err := p.RenewLease(ctx, "n2", now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		equal(t, "after renewal", expired(now), []string{"n3"})
		if err := p.DropLease(ctx, "n1"); err != nil {
			t.Fatal(err)
		}
		equal(t, "after drop", expired(now), []string{"n1", "n3"})

		before := dump(t, p)
		for _, rows := range before {
			for _, r := range rows {
				if len(r) >= len("proj_node_leases") && r[:len("proj_node_leases")] == "proj_node_leases" {
					t.Errorf("leases in the dump: %s", r)
				}
			}
		}
		// The store has none of l's events: a rebuild empties the read
		// models but keeps the leases.
		if err := p.Rebuild(ctx, store); err != nil {
			t.Fatal(err)
		}
		equal(t, "no connections after rebuilding an empty log", expired(now), []string(nil))
		conns, err := p.OpenConnections(ctx)
		if err != nil || len(conns) != 0 {
			t.Fatalf("connections %v, %v", conns, err)
		}
		if err := p.Apply(ctx, l.events); err != nil {
			t.Fatal(err)
		}
		equal(t, "leases kept", expired(now), []string{"n1", "n3"})
	})
}

func eventOpen(conn, node string) domain.Event {
	return domain.ConnectionOpened{ConnID: conn, NodeID: node, At: at(50)}
}
