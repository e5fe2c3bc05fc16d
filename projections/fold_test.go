package projections_test

import (
	"context"
	"testing"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/projections"
)

// everyKind lists the event types the read models apply: all.
var everyKind = domain.EventTypes()

// foldLog writes to store a generated log with every kind of event, then
// a busy stretch where rows change many times within a batch of 1000
// (messages posted, edited, reacted to and deleted, read markers moved,
// connections opened and closed).
func foldLog(t *testing.T, store appender, events func() []eventstore.RecordedEvent) *gen {
	t.Helper()
	g := newGen(t, store, 11)
	g.run(2000)
	g.chatty = true
	g.run(1500)
	kinds := map[string]int{}
	for _, e := range events() {
		kinds[e.Type]++
	}
	for _, k := range everyKind {
		if kinds[k] == 0 {
			t.Fatalf("the log has no %s: %v", k, kinds)
		}
	}
	return g
}

// storedFoldLog writes foldLog's log to b's event store, and returns the
// store, b's read models (nothing applied yet) and the log's generator.
func storedFoldLog(t *testing.T, b *backend) (eventstore.Store, *projections.Projections, *gen) {
	t.Helper()
	store := b.openStore(t)
	p := b.open(t)
	g := foldLog(t, store, func() []eventstore.RecordedEvent {
		events, err := store.ReadAll(ctx, eventstore.Start, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		return events
	})
	return store, p, g
}

// TestRebuildFoldsAsIncremental checks invariant 6 where batches fold: the
// log applied one event per batch (nothing to fold: each batch's rows
// change once) gives the same rows, row for row, as Rebuild and
// RebuildShadow, which apply it in batches of 1000 (on PostgreSQL: each
// row loaded once, changed in memory by every event of the batch, written
// once), and both agree with the aggregates.
func TestRebuildFoldsAsIncremental(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		store, p, g := storedFoldLog(t, b)
		filter := projections.Filter()
		for after := eventstore.Start; ; {
			events, err := store.ReadAll(ctx, after, 500)
			if err != nil {
				t.Fatal(err)
			}
			if len(events) == 0 {
				break
			}
			for i := range events {
				if filter.Match(&events[i]) {
					if err := p.Apply(ctx, events[i:i+1]); err != nil {
						t.Fatal(err)
					}
				}
			}
			after = events[len(events)-1].Position
		}
		verify(t, p, g)
		verifySearch(t, p, g)
		incremental, found := dump(t, p), searchSnapshot(t, p, g)

		if err := p.Rebuild(ctx, store); err != nil {
			t.Fatal(err)
		}
		sameDump(t, dump(t, p), incremental)
		sameSearch(t, searchSnapshot(t, p, g), found)
		verify(t, p, g)

		res, err := p.RebuildShadow(ctx, store, projections.ShadowOptions{Verify: true})
		if err != nil {
			t.Fatalf("shadow rebuild: %v (%+v)", err, res.Diffs)
		}
		if !res.Swapped || !res.Verified || len(res.Diffs) != 0 {
			t.Fatalf("shadow rebuild: %+v", res)
		}
		sameDump(t, dump(t, p), incremental)
		sameSearch(t, searchSnapshot(t, p, g), found)
		verify(t, p, g)
	})
}

// TestFoldEqualsStatements applies the same log on both stores: on
// SQLite each event runs its statements (statements.go), on PostgreSQL
// each batch is folded in memory (fold.go). The rows must be the same.
func TestFoldEqualsStatements(t *testing.T) {
	log := &memLog{revs: map[string]uint64{}}
	foldLog(t, log, func() []eventstore.RecordedEvent { return log.events })
	dumps := map[projections.Dialect]map[string][]string{}
	for _, b := range []*backend{newSQLiteBackend(t), newPostgresBackend(t)} {
		p := b.open(t)
		for i := 0; i < len(log.events); i += 1000 {
			if err := p.Apply(context.Background(), log.events[i:min(i+1000, len(log.events))]); err != nil {
				t.Fatal(err)
			}
		}
		dumps[b.dialect] = dump(t, p)
	}
	if n := len(dumps[projections.SQLite]["proj_messages"]); n < 1000 {
		t.Fatalf("only %d messages", n)
	}
	sameDump(t, dumps[projections.Postgres], dumps[projections.SQLite])
}
