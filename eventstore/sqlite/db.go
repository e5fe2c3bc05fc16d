package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/confabhq/confab/eventstore"
	"modernc.org/sqlite"
)

// The handles OpenDB returns go through these wrappers of modernc's
// driver, so that an error for want of disk space or of a working disk
// (SQLITE_FULL, SQLITE_IOERR; SQLITE_READONLY on a read-only store)
// satisfies errors.Is(err, eventstore.ErrUnavailable) in the read models
// too: their loop can tell it from a bug and retry.

// connector opens connections to one file with modernc's driver.
type connector struct{ dsn string }

func (c connector) Connect(context.Context) (driver.Conn, error) {
	conn, err := (&sqlite.Driver{}).Open(c.dsn)
	if err != nil {
		return nil, classify(err)
	}
	return &dbConn{conn}, nil
}

func (c connector) Driver() driver.Driver { return &sqlite.Driver{} }

// openDB opens a handle on dsn whose errors are classified.
func openDB(dsn string) *sql.DB { return sql.OpenDB(connector{dsn}) }

// classify wraps err with eventstore.ErrUnavailable if it is SQLite
// failing for want of space, of a working disk, or of write access.
func classify(err error) error {
	if err == nil || errors.Is(err, eventstore.ErrUnavailable) || !isUnavailable(err) {
		return err
	}
	return fmt.Errorf("%w: %w", eventstore.ErrUnavailable, err)
}

// modernc's connection, as database/sql uses it.
type driverConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

type dbConn struct{ driver.Conn }

func (c *dbConn) inner() driverConn { return c.Conn.(driverConn) }

func (c *dbConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *dbConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	s, err := c.inner().PrepareContext(ctx, query)
	if err != nil {
		return nil, classify(err)
	}
	return &dbStmt{s}, nil
}

func (c *dbConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *dbConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.inner().BeginTx(ctx, opts)
	if err != nil {
		return nil, classify(err)
	}
	return dbTx{tx}, nil
}

func (c *dbConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	r, err := c.inner().ExecContext(ctx, query, args)
	return r, classify(err)
}

func (c *dbConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	r, err := c.inner().QueryContext(ctx, query, args)
	if err != nil {
		return nil, classify(err)
	}
	return dbRows{r}, nil
}

func (c *dbConn) Ping(ctx context.Context) error { return classify(c.inner().Ping(ctx)) }

func (c *dbConn) ResetSession(ctx context.Context) error { return c.inner().ResetSession(ctx) }

func (c *dbConn) IsValid() bool { return c.inner().IsValid() }

type dbStmt struct{ driver.Stmt }

func (s *dbStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	r, err := s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
	return r, classify(err)
}

func (s *dbStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	r, err := s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, classify(err)
	}
	return dbRows{r}, nil
}

type dbTx struct{ driver.Tx }

func (t dbTx) Commit() error   { return classify(t.Tx.Commit()) }
func (t dbTx) Rollback() error { return classify(t.Tx.Rollback()) }

type dbRows struct{ driver.Rows }

func (r dbRows) Next(dest []driver.Value) error { return classify(r.Rows.Next(dest)) }
