package projections

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
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

// TableDiff is how a rebuilt table differs from the live one.
type TableDiff struct {
	Table                     string
	LiveRows, RebuiltRows     int64
	OnlyLive, OnlyRebuilt     int64    // rows in one table and not the other
	OnlyLiveEx, OnlyRebuiltEx []string // up to 3 of them, formatted as Dump does
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
	var matched []eventstore.RecordedEvent
	for {
		events, err := r.store.ReadAll(ctx, r.after, r.opts.Batch)
		if err != nil {
			return fmt.Errorf("projections: rebuild: read after %v: %w", r.after, err)
		}
		if len(events) == 0 {
			return nil
		}
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

// verify brings the shadow and the live tables to the same position and
// compares them. To compare without holding a write lock (on SQLite that
// would stall the event store's appends) it pauses the live appliers with
// the checkpoint's rebuilding mark, which swap clears; if it fails or the
// tables differ, it clears the mark itself.
func (r *shadowRun) verify(ctx context.Context) (diffs []TableDiff, err error) {
	p := r.p
	r.report(PhaseVerify)
	p.applyMu.Lock()
	err = func() error {
		tx, err := p.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("projections: verify: begin: %w", err)
		}
		defer tx.Rollback()
		live, _, err := lockCheckpoint(ctx, tx, p.d)
		if err != nil {
			return err
		}
		tl, err := r.applyTail(ctx, tx)
		if err != nil {
			return err
		}
		shadow, err := shadowCheckpoint(ctx, tx, p.d)
		if err != nil {
			return err
		}
		at := live
		if shadow.After(live) {
			at = shadow
			if err := r.catchUpLive(ctx, tx, live, at); err != nil {
				return err
			}
		}
		if err := writeShadow(ctx, tx, p.d, at, -1); err != nil {
			return err
		}
		if err := writeCheckpoint(ctx, tx, p.d, at, true); err != nil {
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("projections: verify: commit: %w", err)
		}
		r.done(tl)
		p.setLast(at)
		return nil
	}()
	p.applyMu.Unlock()
	if err != nil {
		return nil, err
	}
	r.paused = true
	defer func() {
		if err != nil || len(diffs) > 0 {
			if uerr := p.unpause(context.WithoutCancel(ctx)); uerr != nil {
				err = errors.Join(err, uerr)
			} else {
				r.paused = false
			}
		}
	}()
	err = p.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		diffs, err = compareShadow(ctx, tx, p.d)
		return err
	})
	return diffs, err
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
	tx, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("projections: rebuild: begin: %w", err)
	}
	defer tx.Rollback()
	st, err := lockShadow(ctx, tx, p.d)
	if err != nil {
		return err
	}
	a := newApplier(tx, p.d)
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

// shadowState is a row of proj_shadow.
type shadowState struct {
	pos                  eventstore.Position
	schema               string // fingerprint of the live schema the shadow copies
	events               int64  // events applied to the shadow, over every run
	startedAt, updatedAt time.Time
}

// errShadowGone reports that the shadow went away under a rebuild:
// another rebuild restarted it or swapped it in.
var errShadowGone = errors.New("projections: rebuild: the shadow tables are gone (another rebuild restarted or finished?)")

const createShadowState = `CREATE TABLE IF NOT EXISTS ` + shadowStateTable + ` (
    name        TEXT   PRIMARY KEY,
    commit_pos  BIGINT NOT NULL,
    prepare_pos BIGINT NOT NULL,
    schema_hash TEXT   NOT NULL,
    events      BIGINT NOT NULL,
    started_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
)`

func scanShadow(row *sql.Row) (*shadowState, error) {
	var c, pr, started, updated int64
	st := &shadowState{}
	if err := row.Scan(&c, &pr, &st.schema, &st.events, &started, &updated); err != nil {
		return nil, err
	}
	st.pos = decodePosition(c, pr)
	st.startedAt, st.updatedAt = fromMicros(started), fromMicros(updated)
	return st, nil
}

// readShadow returns the state of the read models' shadow rebuild; nil if
// none was started, or the last one finished.
func readShadow(ctx context.Context, q querier, d Dialect) (*shadowState, error) {
	exists, err := tableExists(ctx, q, d, shadowStateTable)
	if err != nil || !exists {
		return nil, err
	}
	st, err := scanShadow(q.QueryRowContext(ctx, d.Rebind(`SELECT commit_pos, prepare_pos, schema_hash, events, started_at, updated_at
		FROM `+shadowStateTable+` WHERE name = ?`), ReadModels))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("projections: read shadow state: %w", err)
	}
	return st, nil
}

// lockShadow takes the shadow state row for the transaction.
func lockShadow(ctx context.Context, tx *sql.Tx, d Dialect) (*shadowState, error) {
	st, err := scanShadow(tx.QueryRowContext(ctx, d.Rebind(`UPDATE `+shadowStateTable+` SET name = name WHERE name = ?
		RETURNING commit_pos, prepare_pos, schema_hash, events, started_at, updated_at`), ReadModels))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errShadowGone
	}
	if err != nil {
		return nil, fmt.Errorf("projections: lock shadow state: %w", err)
	}
	return st, nil
}

// writeShadow moves the shadow checkpoint; events < 0 keeps the count.
func writeShadow(ctx context.Context, tx *sql.Tx, d Dialect, pos eventstore.Position, events int64) error {
	c, pr := encodePosition(pos)
	var err error
	if events < 0 {
		_, err = tx.ExecContext(ctx, d.Rebind(`UPDATE `+shadowStateTable+` SET commit_pos = ?, prepare_pos = ?, updated_at = ? WHERE name = ?`),
			c, pr, micros(time.Now()), ReadModels)
	} else {
		_, err = tx.ExecContext(ctx, d.Rebind(`UPDATE `+shadowStateTable+` SET commit_pos = ?, prepare_pos = ?, events = ?, updated_at = ? WHERE name = ?`),
			c, pr, events, micros(time.Now()), ReadModels)
	}
	if err != nil {
		return fmt.Errorf("projections: write shadow checkpoint: %w", err)
	}
	return nil
}

// prepareShadow finds the shadow an interrupted rebuild left and returns
// its state, or (re)creates the shadow tables empty from the live tables'
// schema. discarded says why a shadow that was there is not resumed.
func (p *Projections) prepareShadow(ctx context.Context, restart bool) (st *shadowState, discarded string, err error) {
	tx, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, "", fmt.Errorf("projections: rebuild: begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, createShadowState); err != nil {
		return nil, "", fmt.Errorf("projections: rebuild: create %s: %w", shadowStateTable, err)
	}
	schema, err := liveSchema(ctx, tx, p.d)
	if err != nil {
		return nil, "", err
	}
	old, err := readShadow(ctx, tx, p.d)
	if err != nil {
		return nil, "", err
	}
	if old != nil {
		complete, err := shadowTablesExist(ctx, tx, p.d)
		if err != nil {
			return nil, "", err
		}
		switch {
		case restart:
			discarded = "restart requested"
		case old.schema != schema.hash:
			discarded = "the read models' schema changed since it started"
		case !complete:
			discarded = "some of its tables are missing"
		default:
			return old, "", tx.Commit()
		}
	}
	for _, t := range readModelTables {
		if _, err := tx.ExecContext(ctx, `DROP TABLE IF EXISTS `+shadowPrefix+t); err != nil {
			return nil, "", fmt.Errorf("projections: rebuild: drop old shadow of %s: %w", t, err)
		}
	}
	for _, stmt := range schema.shadowDDL {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return nil, "", fmt.Errorf("projections: rebuild: create shadow tables: %s: %w", stmt, err)
		}
	}
	now := micros(time.Now())
	if _, err := tx.ExecContext(ctx, p.d.Rebind(`DELETE FROM `+shadowStateTable+` WHERE name = ?`), ReadModels); err != nil {
		return nil, "", fmt.Errorf("projections: rebuild: %w", err)
	}
	if _, err := tx.ExecContext(ctx, p.d.Rebind(`INSERT INTO `+shadowStateTable+` (name, commit_pos, prepare_pos, schema_hash, events, started_at, updated_at)
		VALUES (?, 0, 0, ?, 0, ?, ?)`), ReadModels, schema.hash, now, now); err != nil {
		return nil, "", fmt.Errorf("projections: rebuild: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, "", fmt.Errorf("projections: rebuild: commit: %w", err)
	}
	return &shadowState{schema: schema.hash, startedAt: fromMicros(now), updatedAt: fromMicros(now)}, discarded, nil
}

// checkShadowSchema fails if the live schema changed (a migration ran)
// since the shadow was made: its tables would not fit the code any more.
// It drops nothing: the next rebuild starts over.
func checkShadowSchema(ctx context.Context, tx *sql.Tx, d Dialect) error {
	st, err := readShadow(ctx, tx, d)
	if err != nil {
		return err
	}
	if st == nil {
		return errShadowGone
	}
	schema, err := liveSchema(ctx, tx, d)
	if err != nil {
		return err
	}
	if schema.hash != st.schema {
		return errors.New("projections: swap: the read models' schema changed during the rebuild (a migration ran); run the rebuild again")
	}
	return nil
}

// DiscardShadow drops the shadow tables and state of an interrupted
// rebuild, if there are any.
func (p *Projections) DiscardShadow(ctx context.Context) error {
	tx, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("projections: discard shadow: begin: %w", err)
	}
	defer tx.Rollback()
	for _, t := range readModelTables {
		if _, err := tx.ExecContext(ctx, `DROP TABLE IF EXISTS `+shadowPrefix+t); err != nil {
			return fmt.Errorf("projections: discard shadow of %s: %w", t, err)
		}
	}
	exists, err := tableExists(ctx, tx, p.d, shadowStateTable)
	if err != nil {
		return err
	}
	if exists {
		if _, err := tx.ExecContext(ctx, p.d.Rebind(`DELETE FROM `+shadowStateTable+` WHERE name = ?`), ReadModels); err != nil {
			return fmt.Errorf("projections: discard shadow: %w", err)
		}
	}
	return tx.Commit()
}

// Shadow names.

var (
	// identifier matches the names of the read models' tables, indexes
	// and constraints, all of which start with proj_.
	identifier       = regexp.MustCompile(`\bproj_\w*`)
	shadowed         sync.Map // query -> the query on the shadow tables
	isReadModelTable = func() map[string]bool {
		m := map[string]bool{}
		for _, t := range readModelTables {
			m[t] = true
		}
		return m
	}()
)

// shadowQuery returns an applier's query on the shadow tables: every
// read-model table it names is replaced by its shadow.
func shadowQuery(query string) string {
	if q, ok := shadowed.Load(query); ok {
		return q.(string)
	}
	q := identifier.ReplaceAllStringFunc(query, func(name string) string {
		if isReadModelTable[name] {
			return shadowPrefix + name
		}
		return name
	})
	shadowed.Store(query, q)
	return q
}

// shadowDDL rewrites a statement of the live schema to one on the shadow:
// every proj_ name (tables, indexes, constraints) gets the prefix.
func shadowDDL(stmt string) string {
	return identifier.ReplaceAllStringFunc(stmt, func(name string) string { return shadowPrefix + name })
}

// Catalogs.

// schemaInfo is what the catalog says about the live read-model tables.
type schemaInfo struct {
	hash      string   // fingerprint of the tables, columns, constraints and indexes
	shadowDDL []string // statements that create empty shadow tables like them
}

func liveSchema(ctx context.Context, q querier, d Dialect) (schemaInfo, error) {
	var info schemaInfo
	h := sha256.New()
	for _, t := range readModelTables {
		var desc []string
		var err error
		if d == Postgres {
			desc, info.shadowDDL, err = postgresTable(ctx, q, t, info.shadowDDL)
		} else {
			desc, info.shadowDDL, err = sqliteTable(ctx, q, t, info.shadowDDL)
		}
		if err != nil {
			return info, fmt.Errorf("projections: schema of %s: %w", t, err)
		}
		for _, s := range desc {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
	}
	info.hash = hex.EncodeToString(h.Sum(nil))
	return info, nil
}

// sqliteTable describes a table from sqlite_master, which keeps the
// statements that created the table and its indexes.
func sqliteTable(ctx context.Context, q querier, table string, ddl []string) (desc, _ []string, err error) {
	rows, err := q.QueryContext(ctx, `SELECT type, sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL
		ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END, name`, table)
	if err != nil {
		return nil, ddl, err
	}
	defer rows.Close()
	for rows.Next() {
		var typ, stmt string
		if err := rows.Scan(&typ, &stmt); err != nil {
			return nil, ddl, err
		}
		desc = append(desc, typ+" "+stmt)
		ddl = append(ddl, shadowDDL(stmt))
	}
	if err := rows.Err(); err != nil {
		return nil, ddl, err
	}
	if len(desc) == 0 || !strings.HasPrefix(desc[0], "table ") {
		return nil, ddl, errors.New("no such table")
	}
	return desc, ddl, nil
}

// postgresTable describes a table from the PostgreSQL catalog: its
// columns, its constraints and its indexes (those of constraints are made
// by the constraints).
func postgresTable(ctx context.Context, q querier, table string, ddl []string) (desc, _ []string, err error) {
	collect := func(query string, f func(rows *sql.Rows) error) error {
		rows, err := q.QueryContext(ctx, query, table)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := f(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	err = collect(`SELECT column_name, data_type, is_nullable, COALESCE(column_default, '') FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, func(rows *sql.Rows) error {
		var name, typ, null, def string
		if err := rows.Scan(&name, &typ, &null, &def); err != nil {
			return err
		}
		desc = append(desc, "column "+name+" "+typ+" "+null+" "+def)
		return nil
	})
	if err != nil {
		return nil, ddl, err
	}
	if len(desc) == 0 {
		return nil, ddl, errors.New("no such table")
	}
	ddl = append(ddl, `CREATE TABLE `+shadowPrefix+table+` (LIKE `+table+` INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING IDENTITY)`)
	err = collect(`SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint
		WHERE conrelid = to_regclass($1) ORDER BY conname`, func(rows *sql.Rows) error {
		var name, typ, def string
		if err := rows.Scan(&name, &typ, &def); err != nil {
			return err
		}
		desc = append(desc, "constraint "+name+" "+def)
		if typ != "c" { // LIKE copied the checks
			ddl = append(ddl, `ALTER TABLE `+shadowPrefix+table+` ADD CONSTRAINT `+shadowPrefix+name+` `+def)
		}
		return nil
	})
	if err != nil {
		return nil, ddl, err
	}
	err = collect(`SELECT i.relname, pg_get_indexdef(i.oid), EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid AND c.conrelid = x.indrelid)
		FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = to_regclass($1) ORDER BY i.relname`, func(rows *sql.Rows) error {
		var name, def string
		var ofConstraint bool
		if err := rows.Scan(&name, &def, &ofConstraint); err != nil {
			return err
		}
		desc = append(desc, "index "+def)
		if !ofConstraint {
			ddl = append(ddl, shadowDDL(def))
		}
		return nil
	})
	if err != nil {
		return nil, ddl, err
	}
	return desc, ddl, nil
}

func tableExists(ctx context.Context, q querier, d Dialect, table string) (bool, error) {
	var n int
	var err error
	if d == Postgres {
		err = q.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1`, table).Scan(&n)
	} else {
		err = q.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&n)
	}
	if err != nil {
		return false, fmt.Errorf("projections: look for table %s: %w", table, err)
	}
	return n > 0, nil
}

func shadowTablesExist(ctx context.Context, q querier, d Dialect) (bool, error) {
	for _, t := range readModelTables {
		ok, err := tableExists(ctx, q, d, shadowPrefix+t)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// swapTables replaces each live read-model table by its shadow, which
// takes the live names of the table and of its indexes and constraints.
func swapTables(ctx context.Context, tx *sql.Tx, d Dialect) error {
	if d == Postgres {
		// Take every table at once, before dropping any: a reader
		// holding one of them waits for the swap, not the other way
		// round.
		// Queries queue behind a lock the swap waits for: it waits at
		// most swapLockTimeout, then gives up and tries again.
		names := make([]string, 0, 2*len(readModelTables))
		for _, t := range readModelTables {
			names = append(names, t, shadowPrefix+t)
		}
		if _, err := tx.ExecContext(ctx, `SET LOCAL lock_timeout = '`+swapLockTimeout+`'`); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `LOCK TABLE `+strings.Join(names, ", ")+` IN ACCESS EXCLUSIVE MODE`); err != nil {
			return err
		}
	}
	for _, t := range readModelTables {
		var liveIndexes []string
		if d == SQLite {
			var err error
			if liveIndexes, err = sqliteIndexes(ctx, tx, t); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DROP TABLE `+t); err != nil {
			return fmt.Errorf("drop %s: %w", t, err)
		}
		if _, err := tx.ExecContext(ctx, `ALTER TABLE `+shadowPrefix+t+` RENAME TO `+t); err != nil {
			return fmt.Errorf("rename %s%s: %w", shadowPrefix, t, err)
		}
		if d == Postgres {
			// Renaming an index renames its constraint too.
			names, err := postgresIndexNames(ctx, tx, t)
			if err != nil {
				return err
			}
			for _, n := range names {
				if live, ok := strings.CutPrefix(n, shadowPrefix); ok {
					if _, err := tx.ExecContext(ctx, `ALTER INDEX `+quoteIdent(n)+` RENAME TO `+quoteIdent(live)); err != nil {
						return fmt.Errorf("rename index %s: %w", n, err)
					}
				}
			}
			continue
		}
		// SQLite cannot rename an index: the shadow's go, and the live
		// ones are made again on the new table.
		shadowIdx, err := sqliteIndexNames(ctx, tx, t)
		if err != nil {
			return err
		}
		for _, n := range shadowIdx {
			if _, err := tx.ExecContext(ctx, `DROP INDEX `+quoteIdent(n)); err != nil {
				return fmt.Errorf("drop index %s: %w", n, err)
			}
		}
		for _, stmt := range liveIndexes {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("create index on %s: %w", t, err)
			}
		}
	}
	return nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func queryStrings(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// sqliteIndexes returns the statements that made table's indexes.
func sqliteIndexes(ctx context.Context, q querier, table string) ([]string, error) {
	return queryStrings(ctx, q, `SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name`, table)
}

func sqliteIndexNames(ctx context.Context, q querier, table string) ([]string, error) {
	return queryStrings(ctx, q, `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name`, table)
}

func postgresIndexNames(ctx context.Context, q querier, table string) ([]string, error) {
	return queryStrings(ctx, q, `SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = to_regclass($1) ORDER BY i.relname`, table)
}

// compareShadow compares each read-model table with its shadow, row for
// row, in the database (EXCEPT both ways), and returns the tables that
// differ.
func compareShadow(ctx context.Context, q querier, d Dialect) ([]TableDiff, error) {
	var diffs []TableDiff
	count := func(query string) (int64, error) {
		var n int64
		err := q.QueryRowContext(ctx, query).Scan(&n)
		return n, err
	}
	for _, t := range readModelTables {
		s := shadowPrefix + t
		diff := TableDiff{Table: t}
		var err error
		if diff.LiveRows, err = count(`SELECT COUNT(*) FROM ` + t); err != nil {
			return nil, fmt.Errorf("projections: verify %s: %w", t, err)
		}
		if diff.RebuiltRows, err = count(`SELECT COUNT(*) FROM ` + s); err != nil {
			return nil, fmt.Errorf("projections: verify %s: %w", t, err)
		}
		onlyLive := `SELECT * FROM (SELECT * FROM ` + t + ` EXCEPT SELECT * FROM ` + s + `) d`
		onlyRebuilt := `SELECT * FROM (SELECT * FROM ` + s + ` EXCEPT SELECT * FROM ` + t + `) d`
		if diff.OnlyLive, err = count(`SELECT COUNT(*) FROM (` + onlyLive + `) n`); err != nil {
			return nil, fmt.Errorf("projections: verify %s: %w", t, err)
		}
		if diff.OnlyRebuilt, err = count(`SELECT COUNT(*) FROM (` + onlyRebuilt + `) n`); err != nil {
			return nil, fmt.Errorf("projections: verify %s: %w", t, err)
		}
		if diff.OnlyLive == 0 && diff.OnlyRebuilt == 0 {
			continue
		}
		if diff.OnlyLiveEx, err = formatRows(ctx, q, t, onlyLive+` LIMIT 3`); err != nil {
			return nil, fmt.Errorf("projections: verify %s: %w", t, err)
		}
		if diff.OnlyRebuiltEx, err = formatRows(ctx, q, t, onlyRebuilt+` LIMIT 3`); err != nil {
			return nil, fmt.Errorf("projections: verify %s: %w", t, err)
		}
		diffs = append(diffs, diff)
	}
	return diffs, nil
}

// formatRows runs query and formats its rows as Dump does.
func formatRows(ctx context.Context, q querier, table, query string) ([]string, error) {
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out []string
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		var b strings.Builder
		b.WriteString(table)
		for i, v := range vals {
			b.WriteString("\t" + cols[i] + "=" + formatValue(v))
		}
		out = append(out, b.String())
	}
	return out, rows.Err()
}
