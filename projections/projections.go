package projections

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/confabhq/confab/bus"
	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/internal/supervise"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

const (
	// gooseTable records the applied migrations of this package, apart
	// from the event store's.
	gooseTable = "confab_projections_migrations"
	// migrationLockID is the PostgreSQL advisory lock taken while
	// migrating ("confproj"), apart from the event store's.
	migrationLockID = 0x636f6e6670726f6a
	// rebuildBatch is how many events Rebuild reads and applies at once.
	rebuildBatch = 1000
	// rebuildPoll is how often an applier checks whether a rebuild by
	// another process has ended.
	rebuildPoll = 200 * time.Millisecond
)

// streamPrefixes are the streams the read models are made of.
var streamPrefixes = []string{"user-", "room-"}

// Filter selects the events the read models are made of.
func Filter() eventstore.Filter {
	return eventstore.Filter{StreamPrefixes: append([]string(nil), streamPrefixes...)}
}

// Projections are the read models, kept in a database next to the events.
// They are safe for concurrent use. Several processes may apply events to
// the same database (each event is applied once); Rebuild should run in
// one process at a time.
type Projections struct {
	db *sql.DB
	d  Dialect
	// copy inserts many new rows with COPY (UseCopy), if set.
	copy CopyFunc
	// searchLanguage is the search index's text search configuration
	// (PostgreSQL).
	searchLanguage string

	// applyMu serializes Apply and Rebuild within the process.
	applyMu sync.Mutex

	mu      sync.Mutex
	last    eventstore.Position // the checkpoint as last committed or read
	changed chan struct{}       // closed and replaced when last changes

	// prepared holds the *sql.Stmt of each query of queryRow, by its text.
	prepared sync.Map
}

// Open migrates the schema and returns the read models on db. For SQLite,
// db should be opened with a busy timeout (the event store writes to the
// same file), for example
// "file:PATH?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate".
//
// On PostgreSQL the search index uses DefaultSearchLanguage unless
// WithSearchLanguage names another text search configuration.
func Open(ctx context.Context, db *sql.DB, d Dialect, opts ...Option) (*Projections, error) {
	if db == nil {
		return nil, errors.New("projections: open: nil database")
	}
	if !d.valid() {
		return nil, fmt.Errorf("projections: open: unknown dialect %v", d)
	}
	o := options{searchLanguage: DefaultSearchLanguage}
	for _, opt := range opts {
		opt(&o)
	}
	if err := migrate(ctx, db, d); err != nil {
		return nil, err
	}
	if err := prepareSearchIndex(ctx, db, d, o.searchLanguage); err != nil {
		return nil, err
	}
	p := &Projections{db: db, d: d, searchLanguage: o.searchLanguage, changed: make(chan struct{})}
	cp, _, err := readCheckpoint(ctx, db, d)
	if err != nil {
		return nil, err
	}
	p.setLast(cp)
	return p, nil
}

func migrate(ctx context.Context, db *sql.DB, d Dialect) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("projections: migrations: %w", err)
	}
	dialect := goose.DialectSQLite3
	opts := []goose.ProviderOption{goose.WithTableName(gooseTable)}
	if d == Postgres {
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID))
		if err != nil {
			return fmt.Errorf("projections: migrations: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, db, sub, opts...)
	if err != nil {
		return fmt.Errorf("projections: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("projections: migrate: %w", err)
	}
	return nil
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func readCheckpoint(ctx context.Context, q querier, d Dialect) (pos eventstore.Position, rebuilding bool, err error) {
	var c, pr, rb int64
	err = q.QueryRowContext(ctx, d.Rebind(`SELECT commit_pos, prepare_pos, rebuilding FROM proj_checkpoint WHERE id = ?`), 1).Scan(&c, &pr, &rb)
	if err != nil {
		return pos, false, fmt.Errorf("projections: read checkpoint: %w", err)
	}
	return decodePosition(c, pr), rb != 0, nil
}

// lockCheckpoint takes the checkpoint row for the transaction, so that
// appliers in other processes wait, and returns it.
func lockCheckpoint(ctx context.Context, tx *sql.Tx, d Dialect) (pos eventstore.Position, rebuilding bool, err error) {
	var c, pr, rb int64
	err = tx.QueryRowContext(ctx, d.Rebind(`UPDATE proj_checkpoint SET rebuilding = rebuilding WHERE id = ? RETURNING commit_pos, prepare_pos, rebuilding`), 1).Scan(&c, &pr, &rb)
	if err != nil {
		return pos, false, fmt.Errorf("projections: lock checkpoint: %w", err)
	}
	return decodePosition(c, pr), rb != 0, nil
}

func writeCheckpoint(ctx context.Context, tx *sql.Tx, d Dialect, pos eventstore.Position, rebuilding bool) error {
	c, pr := encodePosition(pos)
	rb := 0
	if rebuilding {
		rb = 1
	}
	_, err := tx.ExecContext(ctx, d.Rebind(`UPDATE proj_checkpoint SET commit_pos = ?, prepare_pos = ?, rebuilding = ? WHERE id = ?`), c, pr, rb, 1)
	if err != nil {
		return fmt.Errorf("projections: write checkpoint: %w", err)
	}
	return nil
}

// Positions are stored as the bits of their uint64 parts in BIGINT
// columns: only Go compares them.
func encodePosition(p eventstore.Position) (commit, prepare int64) {
	return int64(p.Commit), int64(p.Prepare)
}

func decodePosition(commit, prepare int64) eventstore.Position {
	return eventstore.Position{Commit: uint64(commit), Prepare: uint64(prepare)}
}

// Checkpoint returns the position of the last applied event, as stored.
func (p *Projections) Checkpoint(ctx context.Context) (eventstore.Position, error) {
	pos, _, err := readCheckpoint(ctx, p.db, p.d)
	return pos, err
}

// errRebuilding reports that another process is rebuilding the read
// models.
var errRebuilding = errors.New("projections: a rebuild is running")

// Apply applies a batch of recorded events, in global order, to every
// read model and moves the checkpoint to the last event's position, all in
// one transaction. Events at or before the checkpoint are skipped, so
// applying a batch again changes nothing. Events of unknown types, and
// events outside the user and room streams, are skipped but still move the
// checkpoint. While another process rebuilds the read models, Apply waits
// for it to finish.
func (p *Projections) Apply(ctx context.Context, events []eventstore.RecordedEvent) error {
	if len(events) == 0 {
		return nil
	}
	p.applyMu.Lock()
	defer p.applyMu.Unlock()
	return p.apply(ctx, events, false)
}

// apply applies events; rebuild is true for Rebuild's own batches, which
// proceed while the checkpoint says a rebuild runs. applyMu is held.
func (p *Projections) apply(ctx context.Context, events []eventstore.RecordedEvent, rebuild bool) error {
	for {
		cp, err := p.applyTx(ctx, events, rebuild)
		if errors.Is(err, errRebuilding) {
			t := time.NewTimer(rebuildPoll)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
			continue
		}
		if err != nil {
			return err
		}
		p.setLast(cp)
		return nil
	}
}

func (p *Projections) applyTx(ctx context.Context, events []eventstore.RecordedEvent, rebuild bool) (eventstore.Position, error) {
	tx, conn, release, err := p.begin(ctx)
	if err != nil {
		return eventstore.Position{}, fmt.Errorf("projections: apply: begin: %w", err)
	}
	defer release()
	defer tx.Rollback()
	cp, rebuilding, err := lockCheckpoint(ctx, tx, p.d)
	if err != nil {
		return cp, err
	}
	if rebuilding && !rebuild {
		return cp, errRebuilding
	}
	a := p.newApplierOn(tx, conn)
	defer a.close()
	start := cp
	for i := range events {
		e := &events[i]
		if !e.Position.After(cp) {
			continue
		}
		if err := a.apply(ctx, e); err != nil {
			return start, fmt.Errorf("projections: apply %s #%d (%s at %v): %w", e.Stream, e.Revision, e.Type, e.Position, err)
		}
		cp = e.Position
	}
	if cp == start {
		return cp, nil // all applied before; the rollback keeps the row as it was
	}
	if err := a.flush(ctx); err != nil {
		return start, fmt.Errorf("projections: apply: %w", err)
	}
	if err := writeCheckpoint(ctx, tx, p.d, cp, rebuilding); err != nil {
		return start, err
	}
	if err := tx.Commit(); err != nil {
		return start, fmt.Errorf("projections: apply: commit: %w", err)
	}
	return cp, nil
}

// setLast records the checkpoint in memory and wakes WaitFor callers.
func (p *Projections) setLast(pos eventstore.Position) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pos == p.last {
		return
	}
	p.last = pos
	close(p.changed)
	p.changed = make(chan struct{})
}

// Run applies the events of the user and room streams, following the bus
// from the checkpoint, until ctx is done (returning ctx.Err()). WaitFor
// callers wake as events are applied.
//
// With a loop, Run survives the faults of the database and the bus: a
// read or an apply that fails with an error that is not fatal
// (eventstore.Classify: a lost connection, a restarting server, a full
// disk) is retried after loop's backoff from the last applied event
// (applying is idempotent, so another process's progress meanwhile is
// skipped), and loop shows the state; only a fatal error (corrupted data,
// a bug) ends Run. Without a loop (nil), the first error ends it.
func (p *Projections) Run(ctx context.Context, store eventstore.Store, sub message.Subscriber, loop *supervise.Loop) error {
	if loop == nil {
		cp, err := p.Checkpoint(ctx)
		if err != nil {
			return err
		}
		p.setLast(cp)
		return bus.Follow(ctx, store, sub, cp, Filter(), p.Apply)
	}
	var cp eventstore.Position
	err := loop.Run(ctx, func(ctx context.Context) error {
		var err error
		cp, err = p.Checkpoint(ctx)
		return err
	})
	if err != nil {
		return err
	}
	p.setLast(cp)
	return bus.FollowSupervised(ctx, loop, store, sub, cp, Filter(), p.Apply)
}

// WaitFor blocks until the read models have applied every event up to and
// including pos, or ctx is done. It watches what this process applies (by
// Run or Apply): pos should be the position of an event of a user or room
// stream, as an append returns it.
func (p *Projections) WaitFor(ctx context.Context, pos eventstore.Position) error {
	for {
		p.mu.Lock()
		last, changed := p.last, p.changed
		p.mu.Unlock()
		if last.Compare(pos) >= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

// readModelTables are the tables a rebuild empties, in the order Dump
// lists them.
var readModelTables = []string{
	"proj_users", "proj_sessions", "proj_rooms", "proj_members", "proj_bans",
	"proj_messages", "proj_reactions", "proj_read_markers", "proj_connections",
	"proj_calls", "proj_call_participants", "proj_search", "proj_attachments",
	"proj_threads", "proj_thread_reads",
	"proj_pins", "proj_room_settings", "proj_notify",
}

// Rebuild empties the read models and the checkpoint and applies the
// whole log again from the start, reading store in batches, each applied
// in its own transaction. Node leases are kept. Meanwhile Apply waits, in
// this process and in others sharing the database. If Rebuild fails, the
// read models stay marked as rebuilding and Apply keeps waiting until a
// Rebuild succeeds.
func (p *Projections) Rebuild(ctx context.Context, store eventstore.Store) error {
	p.applyMu.Lock()
	defer p.applyMu.Unlock()
	if err := p.reset(ctx); err != nil {
		return err
	}
	p.setLast(eventstore.Start)
	filter := Filter()
	batches, stop := readAhead(ctx, store, eventstore.Start, rebuildBatch)
	defer stop()
	var matched []eventstore.RecordedEvent
	for b := range batches {
		if b.err != nil {
			return b.err
		}
		events := b.events
		matched = matched[:0]
		for i := range events {
			if filter.Match(&events[i]) {
				matched = append(matched, events[i])
			}
		}
		if len(matched) > 0 {
			if err := p.apply(ctx, matched, true); err != nil {
				return fmt.Errorf("projections: rebuild: %w", err)
			}
		}
	}
	return p.finishRebuild(ctx)
}

// reset empties the read models and marks them as rebuilding.
func (p *Projections) reset(ctx context.Context) error {
	tx, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("projections: rebuild: begin: %w", err)
	}
	defer tx.Rollback()
	if _, _, err := lockCheckpoint(ctx, tx, p.d); err != nil {
		return err
	}
	for _, t := range readModelTables {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+t); err != nil {
			return fmt.Errorf("projections: rebuild: empty %s: %w", t, err)
		}
	}
	if p.d == SQLite {
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+searchFTSTable+` (`+searchFTSTable+`) VALUES ('delete-all')`); err != nil {
			return fmt.Errorf("projections: rebuild: empty %s: %w", searchFTSTable, err)
		}
	}
	if err := writeCheckpoint(ctx, tx, p.d, eventstore.Start, true); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("projections: rebuild: commit: %w", err)
	}
	return nil
}

func (p *Projections) finishRebuild(ctx context.Context) error {
	cp, err := p.clearRebuilding(ctx, "rebuild")
	if err != nil {
		return err
	}
	p.setLast(cp)
	return nil
}

// clearRebuilding clears the checkpoint's rebuilding mark, which lets
// appliers go on, and returns the checkpoint. op names the caller in
// errors.
func (p *Projections) clearRebuilding(ctx context.Context, op string) (eventstore.Position, error) {
	tx, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return eventstore.Position{}, fmt.Errorf("projections: %s: begin: %w", op, err)
	}
	defer tx.Rollback()
	cp, _, err := lockCheckpoint(ctx, tx, p.d)
	if err != nil {
		return eventstore.Position{}, err
	}
	if err := writeCheckpoint(ctx, tx, p.d, cp, false); err != nil {
		return eventstore.Position{}, err
	}
	if err := tx.Commit(); err != nil {
		return eventstore.Position{}, fmt.Errorf("projections: %s: commit: %w", op, err)
	}
	return cp, nil
}

// readTx runs f in a read-only transaction, so that its queries see one
// state of the read models.
func (p *Projections) readTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if p.d == Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := p.db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("projections: begin read: %w", err)
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}
