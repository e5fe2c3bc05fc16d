package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/internal/supervise"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// channel is the LISTEN/NOTIFY channel appends notify.
const channel = "confab_events"

const (
	// healthCheckPeriod is how often the pool checks its idle
	// connections, at most (pgxpool's default is a minute).
	healthCheckPeriod = 5 * time.Second
	// connectTimeout bounds a connection attempt when the URL sets no
	// connect_timeout.
	connectTimeout = 5 * time.Second
)

// Options tune a Store. The zero value is fine.
type Options struct {
	// Writers is how many batches may commit at once. Default 2: one
	// batch runs while the other waits for its WAL flush, and concurrent
	// appends gather into large batches (a batch's fixed cost, a few
	// hundred microseconds of server CPU, dominates small ones).
	Writers int
	// MaxBatch bounds how many appends share a transaction. Default 256.
	MaxBatch int
	// PollInterval is how often subscribers read without a notification.
	// Default 250ms.
	PollInterval time.Duration
	// Logger receives the listener's connection errors. Default: discard.
	Logger *slog.Logger

	// readAll replaces the reader of ReadAll in tests that show what a
	// broken reader does.
	readAll readFunc
}

type readFunc func(ctx context.Context, pool *pgxpool.Pool, after eventstore.Position, limit int) ([]eventstore.RecordedEvent, error)

// Store is an event store in a PostgreSQL database.
type Store struct {
	pool    *pgxpool.Pool
	opts    Options
	group   *eventstore.GroupCommitter
	changed eventstore.Signal
	closed  atomic.Bool

	// notify asks the notifier to tell other nodes about appends.
	notify     chan struct{}
	stopListen context.CancelFunc
	listenDone sync.WaitGroup
}

var _ eventstore.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or key=value
// string), migrates the schema and starts listening for appends.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	if opts.Writers <= 0 {
		opts.Writers = 2
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 250 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.readAll == nil {
		opts.readAll = readAll
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse URL: %w", err)
	}
	if cfg.MaxConns < int32(opts.Writers)+8 {
		cfg.MaxConns = int32(opts.Writers) + 8
	}
	// Find connections the server dropped (a restart, an administrator's
	// pg_terminate_backend) soon, rather than on their next use, and do
	// not wait long for a server that is away.
	if cfg.HealthCheckPeriod > healthCheckPeriod {
		cfg.HealthCheckPeriod = healthCheckPeriod
	}
	if cfg.ConnConfig.ConnectTimeout <= 0 {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	s := &Store{pool: pool, opts: opts, notify: make(chan struct{}, 1)}
	s.group = eventstore.NewGroupCommitter(s.commit, opts.Writers, opts.MaxBatch)
	lctx, cancel := context.WithCancel(context.Background())
	s.stopListen = cancel
	s.listenDone.Add(2)
	go s.listen(lctx)
	go s.notifier(lctx)
	return s, nil
}

func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// Pool returns the connection pool, for read models kept in the same
// database.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	return s.group.Append(ctx, stream, expected, events)
}

// commit stores a batch of appends in one transaction (see tryCommit). If
// the transaction fails as a whole, each append is retried on its own.
// Errors of a database that is down or restarting are wrapped with
// eventstore.ErrUnavailable, and the batch is not retried one by one.
func (s *Store) commit(ctx context.Context, batch []*eventstore.AppendRequest) error {
	err := s.commitTx(ctx, batch)
	if err == nil || len(batch) == 1 || eventstore.IsTransient(err) {
		return eventstore.Unavailable(err)
	}
	for _, req := range batch {
		req.Result, req.Err = eventstore.AppendResult{}, nil
		if err := s.commitTx(ctx, []*eventstore.AppendRequest{req}); err != nil && req.Err == nil {
			req.Err = eventstore.Unavailable(err)
		}
	}
	return nil
}

func (s *Store) commitTx(ctx context.Context, batch []*eventstore.AppendRequest) error {
	for attempt := 0; ; attempt++ {
		err := s.tryCommit(ctx, batch)
		if err == nil || attempt == 3 || !retryable(err) {
			return err
		}
		for _, req := range batch {
			req.Result, req.Err = eventstore.AppendResult{}, nil
		}
	}
}

// retryable reports whether a whole transaction may be retried as is: a
// deadlock, a serialization failure, or a failure before anything was
// sent (a pooled connection the server had closed).
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "40P01" || pgErr.Code == "40001"
	}
	return pgconn.SafeToRetry(err)
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func position(xid string, pos int64) (eventstore.Position, error) {
	x, err := strconv.ParseUint(xid, 10, 64)
	if err != nil {
		return eventstore.Position{}, fmt.Errorf("postgres: bad xid %q: %w", xid, err)
	}
	return eventstore.Position{Commit: x, Prepare: uint64(pos)}, nil
}

// columns are the event columns read back. The xid output column must not
// be named xid: ORDER BY xid would then sort its text.
const columns = `xid::text AS xid_text, position, id, stream, revision, type, data, metadata, recorded_at`

func scan(rows pgx.Rows, dst []eventstore.RecordedEvent) ([]eventstore.RecordedEvent, error) {
	defer rows.Close()
	for rows.Next() {
		var (
			e   eventstore.RecordedEvent
			xid string
			pos int64
			id  [16]byte
			rev int64
		)
		if err := rows.Scan(&xid, &pos, &id, &e.Stream, &rev, &e.Type, &e.Data, &e.Metadata, &e.RecordedAt); err != nil {
			return nil, fmt.Errorf("postgres: scan event: %w", err)
		}
		p, err := position(xid, pos)
		if err != nil {
			return nil, err
		}
		e.ID, e.Position, e.Revision = uuid.UUID(id), p, uint64(rev)
		e.RecordedAt = e.RecordedAt.UTC()
		if len(e.Metadata) == 0 {
			e.Metadata = nil
		}
		dst = append(dst, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: read events: %w", err)
	}
	return dst, nil
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, from uint64, dir eventstore.Direction, limit int) ([]eventstore.RecordedEvent, error) {
	if err := eventstore.ValidateStream(stream); err != nil {
		return nil, err
	}
	if err := eventstore.ValidateRead(limit); err != nil {
		return nil, err
	}
	if s.closed.Load() {
		return nil, eventstore.ErrClosed
	}
	q := `SELECT ` + columns + ` FROM events WHERE stream = $1 AND revision >= $2 ORDER BY revision LIMIT $3`
	if dir == eventstore.Backwards {
		q = `SELECT ` + columns + ` FROM events WHERE stream = $1 AND revision <= $2 ORDER BY revision DESC LIMIT $3`
	}
	rows, err := s.pool.Query(ctx, q, stream, int64(min(from, math.MaxInt64)), limit)
	if err != nil {
		return nil, eventstore.Unavailable(fmt.Errorf("postgres: read %s: %w", stream, err))
	}
	events, err := scan(rows, make([]eventstore.RecordedEvent, 0, min(limit, 256)))
	return events, eventstore.Unavailable(err)
}

// ReadAll implements eventstore.Store.
func (s *Store) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.RecordedEvent, error) {
	if err := eventstore.ValidateRead(limit); err != nil {
		return nil, err
	}
	if s.closed.Load() {
		return nil, eventstore.ErrClosed
	}
	events, err := s.opts.readAll(ctx, s.pool, after, limit)
	return events, eventstore.Unavailable(err)
}

// readAll reads by (xid, position) below the oldest running transaction.
func readAll(ctx context.Context, pool *pgxpool.Pool, after eventstore.Position, limit int) ([]eventstore.RecordedEvent, error) {
	rows, err := pool.Query(ctx, `SELECT `+columns+` FROM events
		WHERE (xid, position) > ($1::text::xid8, $2)
		  AND xid < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY xid, position
		LIMIT $3`,
		strconv.FormatUint(after.Commit, 10), int64(min(after.Prepare, math.MaxInt64)), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: read all after %v: %w", after, err)
	}
	return scan(rows, make([]eventstore.RecordedEvent, 0, min(limit, 1024)))
}

// Subscribe implements eventstore.Store.
func (s *Store) Subscribe(ctx context.Context, after eventstore.Position, filter eventstore.Filter, handle eventstore.Handler) error {
	cfg := eventstore.PollConfig{Read: s.ReadAll, Wake: s.changed.C, Interval: s.opts.PollInterval}
	return eventstore.PollSubscribe(ctx, cfg, after, filter, handle)
}

// Head implements eventstore.Store.
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	if s.closed.Load() {
		return eventstore.Position{}, eventstore.ErrClosed
	}
	var (
		xid string
		pos int64
	)
	err := s.pool.QueryRow(ctx, `SELECT xid::text AS xid_text, position FROM events
		WHERE xid < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY xid DESC, position DESC LIMIT 1`).Scan(&xid, &pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return eventstore.Start, nil
	}
	if err != nil {
		return eventstore.Position{}, eventstore.Unavailable(fmt.Errorf("postgres: head: %w", err))
	}
	return position(xid, pos)
}

// notifier sends one NOTIFY per burst of commits, outside the appending
// transactions: a NOTIFY inside them would take a database-wide lock at
// each commit and hold it through the WAL flush, so concurrent appends
// could not share a flush. The notification is only a wake-up (readers
// also poll), so it is sent without waiting for its own flush.
func (s *Store) notifier(ctx context.Context) {
	defer s.listenDone.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.notify:
		}
		_, err := s.pool.Exec(ctx, `SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, '')`, channel)
		if err != nil && ctx.Err() == nil && !eventstore.IsTransient(err) {
			// (A database that is down fails the appends too: no need to
			// say it here once per burst.)
			s.opts.Logger.Warn("cannot notify other nodes of appends; they will poll", "err", err)
		}
	}
}

// listen turns notifications from any node into local wake-ups, and
// reconnects with a backoff when its connection fails (a supervised loop:
// it logs once when it starts failing and once when it is back, and
// subscribers poll meanwhile). Once listening again it wakes every
// subscriber, whose read catches up with what was appended meanwhile.
func (s *Store) listen(ctx context.Context) {
	defer s.listenDone.Done()
	loop := supervise.NewLoop("event store listener", s.opts.Logger, supervise.DefaultBackoff)
	loop.Run(ctx, func(ctx context.Context) error {
		// A listener error is never fatal: polling covers for it.
		return eventstore.AsTransient(s.listenOnce(ctx, loop))
	})
}

func (s *Store) listenOnce(ctx context.Context, loop *supervise.Loop) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer func() {
		// A connection that was listening goes back closed, not reused.
		conn.Conn().Close(context.Background())
		conn.Release()
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		return err
	}
	loop.Healthy()
	s.changed.Broadcast() // anything appended while we were not listening
	for {
		if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
			return err
		}
		s.changed.Broadcast()
	}
}

// Close finishes queued appends, stops listening and closes the pool.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.group.Close()
	s.stopListen()
	s.listenDone.Wait()
	s.changed.Broadcast()
	s.pool.Close()
	return nil
}
