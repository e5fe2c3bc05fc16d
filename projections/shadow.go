package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/confabhq/confab/eventstore"
)

// ReadModels is the name of the one projection this package keeps: every
// read-model table, applied in the same transactions under one
// checkpoint (see the package documentation for why they are not split).
const ReadModels = "read_models"

// Names returns the names of the projections, for commands that take one.
func Names() []string { return []string{ReadModels} }

// ErrUnknownProjection is returned for a projection name that Names does
// not list.
var ErrUnknownProjection = errors.New("unknown projection")

// CheckName returns an error wrapping ErrUnknownProjection, listing the
// known names, unless name is one of them.
func CheckName(name string) error {
	for _, n := range Names() {
		if n == name {
			return nil
		}
	}
	return fmt.Errorf("%w %q (known: %s)", ErrUnknownProjection, name, strings.Join(Names(), ", "))
}

const (
	// shadowPrefix names the shadow copy of a read-model table, and of
	// its indexes and constraints.
	shadowPrefix = "shadow_"
	// shadowStateTable holds the progress of shadow rebuilds: one row per
	// projection being rebuilt. It is operational state, created when the
	// first shadow rebuild starts.
	shadowStateTable = "proj_shadow"
	// defaultMaxTail bounds the events a swap applies while it holds the
	// checkpoint; a longer tail is caught up first, outside the swap.
	defaultMaxTail = 10 * rebuildBatch
	// swapAttempts bounds the retries of a PostgreSQL swap that lost a
	// deadlock (a reader holding one table the swap needs while waiting
	// for another) or waited too long for readers.
	swapAttempts = 20
)

// swapLockTimeout bounds how long a PostgreSQL swap waits for readers to
// let go of the live tables (new readers wait behind it); a variable for
// tests.
var swapLockTimeout = "3s"

// ErrVerifyFailed is returned by RebuildShadow with Verify set when the
// rebuilt rows differ from the live ones; the result's Diffs say how.
var ErrVerifyFailed = errors.New("projections: the rebuilt read models differ from the live ones")

// errTailTooLong makes a swap give up its transaction and catch up again.
var errTailTooLong = errors.New("projections: swap: the tail is too long")

// ShadowOptions tune RebuildShadow.
type ShadowOptions struct {
	// Batch is how many events are read and applied at once; 1000 if 0.
	Batch int
	// Restart discards the shadow tables an interrupted rebuild left,
	// instead of resuming from their checkpoint.
	Restart bool
	// Verify compares the rebuilt rows with the live ones, both at the
	// same position, before swapping; if they differ, RebuildShadow
	// returns ErrVerifyFailed and keeps the live tables (and the shadow,
	// so that a run without Verify swaps it in after a short catch-up).
	Verify bool
	// MaxTail bounds the events applied inside the swap transaction; 10
	// batches if 0.
	MaxTail int
	// Progress, if set, is called after each batch.
	Progress func(ShadowProgress)
	// BeforeSwap, if set, is called once the shadow has caught up with
	// the store, before the swap; an error ends the rebuild (the shadow
	// stays, to be resumed).
	BeforeSwap func(ctx context.Context, caughtUp eventstore.Position) error
}

// Phases of a shadow rebuild, as ShadowProgress reports them.
const (
	PhaseCatchUp = "catch-up" // reading the log into the shadow tables
	PhaseVerify  = "verify"   // comparing the shadow with the live tables
	PhaseSwap    = "swap"     // applying the tail and swapping the tables
)

// ShadowProgress reports how far a shadow rebuild is.
type ShadowProgress struct {
	Phase string
	// From is where this run started: Start, or the position an
	// interrupted rebuild had reached.
	From eventstore.Position
	// Position is the last event read; Head is the store's head when the
	// run last looked.
	Position, Head eventstore.Position
	// Read counts the events this run has read (of every stream);
	// Applied those of the user and room streams.
	Read, Applied int64
}

// ShadowResult tells what a shadow rebuild did.
type ShadowResult struct {
	// Resumed is true if the run continued an interrupted rebuild from
	// From.
	Resumed bool
	From    eventstore.Position
	// Discarded says why an interrupted rebuild was started over, if it
	// was.
	Discarded string
	// Read counts the events this run read.
	Read int64
	// Swapped is true once the rebuilt tables replaced the live ones; the
	// checkpoint is then Position.
	Swapped  bool
	Position eventstore.Position
	// Verified is true if Verify compared the tables; Diffs lists the
	// tables that differed.
	Verified bool
	Diffs    []TableDiff
}

// RebuildShadow rebuilds the read models from the start of the log
// without stopping the appliers: it applies the log into shadow copies of
// the read-model tables (checkpointed in proj_shadow, so that an
// interrupted rebuild resumes), and once they have caught up with the
// store it swaps them in, in one transaction that takes the checkpoint
// row (appliers wait for it), applies the events appended since, drops
// the live tables, renames the shadow tables (and their indexes) to the
// live names and moves the checkpoint. Appliers then go on from the new
// checkpoint, skipping what the swap applied. Node leases are untouched.
//
// Readers keep reading the live tables until the swap commits, and the
// new ones after. Only one rebuild should run at a time.
func (p *Projections) RebuildShadow(ctx context.Context, store eventstore.Store, opts ShadowOptions) (res ShadowResult, err error) {
	if opts.Batch <= 0 {
		opts.Batch = rebuildBatch
	}
	if opts.MaxTail <= 0 {
		opts.MaxTail = defaultMaxTail
	}
	st, discarded, err := p.prepareShadow(ctx, opts.Restart)
	if err != nil {
		return res, err
	}
	res.Resumed, res.From, res.Discarded = st.pos != eventstore.Start, st.pos, discarded
	r := &shadowRun{p: p, store: store, opts: opts, after: st.pos, filter: Filter()}
	r.prog.From, r.prog.Position = st.pos, st.pos
	defer func() {
		res.Read = r.prog.Read
		if r.paused { // Verify paused the appliers and the swap failed
			if uerr := p.unpause(context.WithoutCancel(ctx)); uerr != nil {
				err = errors.Join(err, uerr)
			}
		}
	}()

	for attempt := 0; ; {
		if err := r.catchUp(ctx); err != nil {
			return res, err
		}
		if opts.BeforeSwap != nil {
			if err := opts.BeforeSwap(ctx, r.after); err != nil {
				return res, err
			}
			opts.BeforeSwap = nil
		}
		if opts.Verify && !res.Verified {
			diffs, err := r.verify(ctx)
			if errors.Is(err, errTailTooLong) {
				continue
			}
			if err != nil {
				return res, err
			}
			res.Verified, res.Diffs = true, diffs
			if len(diffs) > 0 {
				return res, ErrVerifyFailed
			}
		}
		pos, err := r.swap(ctx)
		switch {
		case errors.Is(err, errTailTooLong):
			continue
		case isDeadlock(err) && attempt < swapAttempts:
			attempt++
			t := time.NewTimer(min(time.Duration(attempt)*100*time.Millisecond, time.Second))
			select {
			case <-ctx.Done():
				t.Stop()
				return res, ctx.Err()
			case <-t.C:
			}
			continue
		case err != nil:
			return res, err
		}
		res.Swapped, res.Position = true, pos
		return res, nil
	}
}

// shadowRun is one run of RebuildShadow.
type shadowRun struct {
	p      *Projections
	store  eventstore.Store
	opts   ShadowOptions
	filter eventstore.Filter
	after  eventstore.Position // the last event read
	prog   ShadowProgress
	// paused is true while Verify holds the live appliers (see verify).
	paused bool
}

func (r *shadowRun) report(phase string) {
	if r.opts.Progress == nil {
		return
	}
	r.prog.Phase = phase
	r.prog.Position = r.after
	r.opts.Progress(r.prog)
}

// catchUp applies the log into the shadow tables until a read finds
// nothing new.
func (r *shadowRun) catchUp(ctx context.Context) error {
	head, err := r.store.Head(ctx)
	if err != nil {
		return fmt.Errorf("projections: rebuild: head: %w", err)
	}
	r.prog.Head = head
	r.report(PhaseCatchUp)
	batches, stop := readAhead(ctx, r.store, r.after, r.opts.Batch)
	defer stop()
	var matched []eventstore.RecordedEvent
	for b := range batches {
		if b.err != nil {
			return b.err
		}
		events := b.events
		matched = r.match(matched[:0], events)
		if len(matched) > 0 {
			if err := r.p.applyShadow(ctx, matched); err != nil {
				return err
			}
		}
		r.after = events[len(events)-1].Position
		r.prog.Read += int64(len(events))
		r.prog.Applied += int64(len(matched))
		if r.after.After(r.prog.Head) {
			if r.prog.Head, err = r.store.Head(ctx); err != nil {
				return fmt.Errorf("projections: rebuild: head: %w", err)
			}
		}
		r.report(PhaseCatchUp)
	}
	return nil
}

func (r *shadowRun) match(dst, events []eventstore.RecordedEvent) []eventstore.RecordedEvent {
	for i := range events {
		if r.filter.Match(&events[i]) {
			dst = append(dst, events[i])
		}
	}
	return dst
}

// tail is what applyTail read and applied.
type tail struct {
	after         eventstore.Position
	read, applied int64
}

// applyTail applies to the shadow tables, in tx, the events after r.after
// until a read finds nothing new, at most MaxTail of them. The caller
// records the tail with done once tx commits.
func (r *shadowRun) applyTail(ctx context.Context, tx *sql.Tx) (tail, error) {
	t := tail{after: r.after}
	st, err := lockShadow(ctx, tx, r.p.d)
	if err != nil {
		return t, err
	}
	a := newApplier(tx, r.p.d)
	a.shadow = true
	defer a.close()
	cp := st.pos
	for {
		events, err := r.store.ReadAll(ctx, t.after, r.opts.Batch)
		if err != nil {
			return t, fmt.Errorf("projections: rebuild: read after %v: %w", t.after, err)
		}
		if len(events) == 0 {
			break
		}
		t.read += int64(len(events))
		if t.read > int64(r.opts.MaxTail) {
			return t, errTailTooLong
		}
		for i := range events {
			e := &events[i]
			if !r.filter.Match(e) || !e.Position.After(cp) {
				continue
			}
			if err := a.apply(ctx, e); err != nil {
				return t, fmt.Errorf("projections: rebuild: apply %s #%d (%s at %v): %w", e.Stream, e.Revision, e.Type, e.Position, err)
			}
			cp = e.Position
			t.applied++
		}
		t.after = events[len(events)-1].Position
	}
	if err := a.flush(ctx); err != nil {
		return t, fmt.Errorf("projections: rebuild: %w", err)
	}
	if err := writeShadow(ctx, tx, r.p.d, cp, st.events+t.applied); err != nil {
		return t, err
	}
	return t, nil
}

// done records a committed tail.
func (r *shadowRun) done(t tail) {
	r.after = t.after
	r.prog.Read += t.read
	r.prog.Applied += t.applied
	if t.after.After(r.prog.Head) {
		r.prog.Head = t.after
	}
}

// shadowCheckpoint returns the shadow's checkpoint, read in tx.
func shadowCheckpoint(ctx context.Context, tx *sql.Tx, d Dialect) (eventstore.Position, error) {
	st, err := readShadow(ctx, tx, d)
	if err != nil {
		return eventstore.Start, err
	}
	if st == nil {
		return eventstore.Start, errShadowGone
	}
	return st.pos, nil
}

// catchUpLive applies to the live tables, in tx, the events after from up
// to and including to.
func (r *shadowRun) catchUpLive(ctx context.Context, tx *sql.Tx, from, to eventstore.Position) error {
	if !to.After(from) {
		return nil
	}
	a := newApplier(tx, r.p.d)
	defer a.close()
	for after := from; ; {
		events, err := r.store.ReadAll(ctx, after, r.opts.Batch)
		if err != nil {
			return fmt.Errorf("projections: rebuild: read after %v: %w", after, err)
		}
		if len(events) == 0 {
			return fmt.Errorf("projections: rebuild: the store ends at %v, before %v", after, to)
		}
		for i := range events {
			e := &events[i]
			if e.Position.After(to) {
				return a.flush(ctx)
			}
			if !r.filter.Match(e) {
				continue
			}
			if err := a.apply(ctx, e); err != nil {
				return fmt.Errorf("projections: rebuild: apply %s #%d (%s at %v): %w", e.Stream, e.Revision, e.Type, e.Position, err)
			}
		}
		after = events[len(events)-1].Position
		if !to.After(after) {
			return a.flush(ctx)
		}
	}
}

// unpause clears the checkpoint's rebuilding mark.
func (p *Projections) unpause(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := p.clearRebuilding(ctx, "unpause")
	return err
}

// swap applies the tail to the shadow tables and swaps them in, in one
// transaction that holds the checkpoint.
func (r *shadowRun) swap(ctx context.Context) (eventstore.Position, error) {
	p := r.p
	r.report(PhaseSwap)
	p.applyMu.Lock()
	defer p.applyMu.Unlock()
	tx, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return eventstore.Start, fmt.Errorf("projections: swap: begin: %w", err)
	}
	defer tx.Rollback()
	live, _, err := lockCheckpoint(ctx, tx, p.d)
	if err != nil {
		return eventstore.Start, err
	}
	tl, err := r.applyTail(ctx, tx)
	if err != nil {
		return eventstore.Start, err
	}
	cp, err := shadowCheckpoint(ctx, tx, p.d)
	if err != nil {
		return eventstore.Start, err
	}
	// The shadow has applied every event the store shows, so every event
	// the live tables have: a live checkpoint past it can only be past
	// events the read models skip.
	if live.After(cp) {
		cp = live
	}
	if err := checkShadowSchema(ctx, tx, p.d); err != nil {
		return eventstore.Start, err
	}
	if err := swapTables(ctx, tx, p.d); err != nil {
		return eventstore.Start, fmt.Errorf("projections: swap: %w", err)
	}
	if _, err := tx.ExecContext(ctx, p.d.Rebind(`DELETE FROM `+shadowStateTable+` WHERE name = ?`), ReadModels); err != nil {
		return eventstore.Start, fmt.Errorf("projections: swap: %w", err)
	}
	if err := writeCheckpoint(ctx, tx, p.d, cp, false); err != nil {
		return eventstore.Start, err
	}
	if err := tx.Commit(); err != nil {
		return eventstore.Start, fmt.Errorf("projections: swap: commit: %w", err)
	}
	r.done(tl)
	r.paused = false
	p.setLast(cp)
	r.report(PhaseSwap)
	return cp, nil
}

// isDeadlock reports whether err is PostgreSQL's deadlock_detected
// (40P01), serialization_failure (40001) or lock_not_available (55P03,
// the swap's lock_timeout), through the SQLState method of pgx's error,
// so that this package imports no driver.
func isDeadlock(err error) bool {
	var se interface{ SQLState() string }
	if errors.As(err, &se) {
		switch se.SQLState() {
		case "40P01", "40001", "55P03":
			return true
		}
	}
	return false
}

// applyShadow applies a batch of events to the shadow tables and moves
// the shadow checkpoint, in one transaction.
func (p *Projections) applyShadow(ctx context.Context, events []eventstore.RecordedEvent) error {
	tx, conn, release, err := p.begin(ctx)
	if err != nil {
		return fmt.Errorf("projections: rebuild: begin: %w", err)
	}
	defer release()
	defer tx.Rollback()
	st, err := lockShadow(ctx, tx, p.d)
	if err != nil {
		return err
	}
	a := p.newApplierOn(tx, conn)
	a.shadow = true
	defer a.close()
	cp, n := st.pos, int64(0)
	for i := range events {
		e := &events[i]
		if !e.Position.After(cp) {
			continue
		}
		if err := a.apply(ctx, e); err != nil {
			return fmt.Errorf("projections: rebuild: apply %s #%d (%s at %v): %w", e.Stream, e.Revision, e.Type, e.Position, err)
		}
		cp = e.Position
		n++
	}
	if n == 0 {
		return nil
	}
	if err := a.flush(ctx); err != nil {
		return fmt.Errorf("projections: rebuild: %w", err)
	}
	if err := writeShadow(ctx, tx, p.d, cp, st.events+n); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("projections: rebuild: commit: %w", err)
	}
	return nil
}
