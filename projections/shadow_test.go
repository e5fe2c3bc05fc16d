package projections_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/confabhq/confab/bus"
	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/projections"
)

// exec runs a statement on b's database, for tests that tamper with the
// read models behind the package's back.
func (b *backend) exec(t *testing.T, query string, args ...any) int64 {
	t.Helper()
	res, err := b.db.ExecContext(ctx, b.dialect.Rebind(query), args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	n, _ := res.RowsAffected()
	return n
}

// schemaObjects lists the tables and indexes of b's database whose names
// start with proj_ or shadow_, but for the shadow rebuilds' state table.
func (b *backend) schemaObjects(t *testing.T) []string {
	t.Helper()
	q := `SELECT type || ' ' || name FROM sqlite_master WHERE (name LIKE 'proj%' OR name LIKE 'shadow%') AND sql IS NOT NULL`
	if b.dialect == projections.Postgres {
		q = `SELECT 'table ' || tablename FROM pg_tables WHERE schemaname = current_schema() AND (tablename LIKE 'proj%' OR tablename LIKE 'shadow%')
			UNION ALL SELECT 'index ' || indexname FROM pg_indexes WHERE schemaname = current_schema() AND (indexname LIKE 'proj%' OR indexname LIKE 'shadow%')`
	}
	rows, err := b.db.QueryContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(s, "proj_shadow") {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// applyNew applies the events after the read models' checkpoint, as a
// server's projector would.
func applyNew(t *testing.T, p *projections.Projections, store eventstore.Store, limit int) {
	t.Helper()
	events, err := store.ReadAll(ctx, mustCheckpoint(t, p), limit)
	if err != nil {
		t.Fatal(err)
	}
	filter := projections.Filter()
	var batch []eventstore.RecordedEvent
	for _, e := range events {
		if filter.Match(&e) {
			batch = append(batch, e)
		}
	}
	if err := p.Apply(ctx, batch); err != nil {
		t.Fatal(err)
	}
}

// TestShadowRebuild rebuilds into shadow tables while the live ones go on
// changing, and swaps: the result is the log's read models (a corrupted
// live row is gone, events appended during the rebuild are in), under the
// live names of tables and indexes, and appliers go on afterwards. An
// interrupted rebuild resumes from the shadow's checkpoint; Verify swaps
// equal tables, and reports different ones without swapping or leaving
// the appliers paused; Restart starts over.
func TestShadowRebuild(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		store := b.openStore(t)
		p := b.open(t)
		g := newGen(t, store, 11)
		g.run(120)
		applyIncrementally(t, p, store, rand.New(rand.NewPCG(11, 1)))
		schema := b.schemaObjects(t)
		corruptMessage := func() {
			t.Helper()
			if n := b.exec(t, `UPDATE proj_messages SET text = 'corrupted' WHERE seq = (SELECT MAX(seq) FROM proj_messages)`); n == 0 {
				t.Fatal("no message to corrupt")
			}
		}
		corruptMessage()

		// Interrupted after three batches: the live tables are untouched.
		cctx, cancel := context.WithCancel(ctx)
		batches := 0
		_, err := p.RebuildShadow(cctx, store, projections.ShadowOptions{Batch: 37, Progress: func(pr projections.ShadowProgress) {
			if pr.Read > 0 {
				if batches++; batches == 3 {
					cancel()
				}
			}
		}})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted rebuild: %v", err)
		}
		st, err := p.Status(ctx)
		if err != nil || st.Shadow == nil || st.Shadow.Position == eventstore.Start || st.Shadow.Events == 0 {
			t.Fatalf("status after an interruption: %+v %v", st, err)
		}
		if st.Paused || st.Checkpoint != g.last {
			t.Fatalf("the live read models were touched: %+v", st)
		}

		// Resumed; events arrive once it has caught up.
		var reports []projections.ShadowProgress
		res, err := p.RebuildShadow(ctx, store, projections.ShadowOptions{
			Batch:    37,
			Progress: func(pr projections.ShadowProgress) { reports = append(reports, pr) },
			BeforeSwap: func(ctx context.Context, caughtUp eventstore.Position) error {
				// More events arrive, the live appliers take some of
				// them, and the swap must take the rest.
				if caughtUp != g.last {
					t.Errorf("caught up at %v, want %v", caughtUp, g.last)
				}
				g.run(30)
				applyNew(t, p, store, 15)
				return nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Swapped || !res.Resumed || res.From != st.Shadow.Position || res.Position != g.last {
			t.Fatalf("result %+v, want resumed from %v and swapped at %v", res, st.Shadow.Position, g.last)
		}
		if res.Read >= int64(g.n) {
			t.Fatalf("the resumed run read %d events of %d: it started over", res.Read, g.n)
		}
		if cp := mustCheckpoint(t, p); cp != g.last {
			t.Fatalf("checkpoint %v, want %v", cp, g.last)
		}
		if len(reports) < 3 || reports[len(reports)-1].Phase != projections.PhaseSwap {
			t.Fatalf("%d progress reports, last %+v", len(reports), reports[len(reports)-1])
		}
		verify(t, p, g)
		equal(t, "schema after the swap", b.schemaObjects(t), schema)
		rebuilt := dump(t, p)
		if err := p.Rebuild(ctx, store); err != nil {
			t.Fatal(err)
		}
		sameDump(t, dump(t, p), rebuilt)

		// Appliers go on; Verify finds equal tables and swaps again.
		g.run(20)
		applyNew(t, p, store, 1000)
		res, err = p.RebuildShadow(ctx, store, projections.ShadowOptions{Verify: true, BeforeSwap: func(context.Context, eventstore.Position) error {
			g.run(20) // verify catches the live tables up
			return nil
		}})
		if err != nil || !res.Verified || len(res.Diffs) != 0 || !res.Swapped || res.Position != g.last {
			t.Fatalf("verify of equal tables: %+v %v", res, err)
		}
		equal(t, "schema after two swaps", b.schemaObjects(t), schema)

		// Verify reports different tables and keeps them.
		corruptMessage()
		b.exec(t, `DELETE FROM proj_users WHERE user_id = (SELECT MIN(user_id) FROM proj_users)`)
		before := dump(t, p)
		res, err = p.RebuildShadow(ctx, store, projections.ShadowOptions{Verify: true})
		if !errors.Is(err, projections.ErrVerifyFailed) || res.Swapped {
			t.Fatalf("verify of corrupted tables: %+v %v", res, err)
		}
		var differ []string
		for _, d := range res.Diffs {
			differ = append(differ, d.Table)
			if d.Table == "proj_messages" && (d.OnlyLive != 1 || d.OnlyRebuilt != 1 || len(d.OnlyLiveEx) != 1 || !strings.Contains(d.OnlyLiveEx[0], `"corrupted"`)) {
				t.Errorf("messages diff %+v", d)
			}
			if d.Table == "proj_users" && (d.OnlyLive != 0 || d.OnlyRebuilt != 1 || d.LiveRows+1 != d.RebuiltRows) {
				t.Errorf("users diff %+v", d)
			}
		}
		equal(t, "tables that differ", differ, []string{"proj_users", "proj_messages"})
		sameDump(t, dump(t, p), before)
		if st, err := p.Status(ctx); err != nil || st.Paused || st.Shadow == nil {
			t.Fatalf("status after a failed verify: %+v %v", st, err)
		}
		g.run(10)
		applyNew(t, p, store, 1000) // not paused

		// Restart starts over, and swaps.
		res, err = p.RebuildShadow(ctx, store, projections.ShadowOptions{Restart: true})
		if err != nil || res.Resumed || res.Discarded == "" || !res.Swapped {
			t.Fatalf("restart: %+v %v", res, err)
		}
		verify(t, p, g)
		if st, err := p.Status(ctx); err != nil || st.Shadow != nil || st.Paused || st.Checkpoint != g.last {
			t.Fatalf("status %+v, %v", st, err)
		}
	})
}

// TestShadowRebuildWhileRunning rebuilds while the projector follows the
// bus and events are appended: the projector keeps applying after the
// swap, and the read models end up right.
func TestShadowRebuildWhileRunning(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		store := b.openStore(t)
		p := b.open(t)
		g := newGen(t, store, 12)
		g.run(100)

		pubsub := bus.NewGoChannel(nil)
		relay, err := bus.NewRelay(store, pubsub, nil)
		if err != nil {
			t.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		errs := make(chan error, 3)
		wg.Add(2)
		go func() { defer wg.Done(); errs <- relay.Run(runCtx, eventstore.Start) }()
		go func() { defer wg.Done(); errs <- p.Run(runCtx, store, pubsub, nil) }()
		defer func() {
			cancel()
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("run ended with %v", err)
				}
			}
		}()
		wait := func() {
			t.Helper()
			wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
			defer wcancel()
			if err := p.WaitFor(wctx, g.last); err != nil {
				t.Fatalf("wait for %v: %v", g.last, err)
			}
		}
		wait()

		// A writer appends all through the rebuild.
		stop := make(chan struct{})
		written := make(chan struct{})
		go func() {
			defer close(written)
			for {
				select {
				case <-stop:
					return
				default:
					g.run(5)
					time.Sleep(time.Millisecond)
				}
			}
		}()
		res, err := p.RebuildShadow(ctx, store, projections.ShadowOptions{Batch: 50})
		close(stop)
		<-written
		if err != nil {
			t.Fatal(err)
		}
		if !res.Swapped {
			t.Fatalf("result %+v", res)
		}
		g.run(20)
		wait()
		verify(t, p, g)
	})
}

func TestCheckName(t *testing.T) {
	if err := projections.CheckName(projections.ReadModels); err != nil {
		t.Fatal(err)
	}
	err := projections.CheckName("rooms")
	if !errors.Is(err, projections.ErrUnknownProjection) || !strings.Contains(err.Error(), `"rooms"`) || !strings.Contains(err.Error(), "read_models") {
		t.Fatalf("CheckName(rooms): %v", err)
	}
}

// TestShadowSwapWaitsForReaders holds a PostgreSQL reader on a live table
// through the swap: the swap gives up its lock wait (so that queries do not
// queue behind it for long), tries again, and swaps once the reader is
// done; the reader is not disturbed.
func TestShadowSwapWaitsForReaders(t *testing.T) {
	defer projections.SetSwapLockTimeout("100ms")()
	b := newPostgresBackend(t)
	store := b.openStore(t)
	p := b.open(t)
	g := newGen(t, store, 15)
	g.run(60)
	applyNew(t, p, store, 1000)

	reader, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM proj_messages`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := p.RebuildShadow(ctx, store, projections.ShadowOptions{})
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("the swap did not wait for the reader: %v", err)
	case <-time.After(400 * time.Millisecond):
	}
	if err := reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM proj_members`).Scan(&n); err != nil {
		t.Fatalf("the reader was disturbed: %v", err)
	}
	if err := reader.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("rebuild after %v: %v", time.Since(start), err)
	}
	verify(t, p, g)
}
