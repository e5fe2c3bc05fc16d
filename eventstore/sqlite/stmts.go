package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
)

// stmtCache keeps the reader connections' prepared statements, so that a
// read binds and steps a statement SQLite compiled once per connection
// instead of parsing and planning its SQL every time (modernc keeps the
// compiled statement of a prepared single statement and resets it after
// each use).
//
// Statements are keyed by the driver connection they were prepared on and
// used only inside database/sql's Conn.Raw on that connection, which gives
// the connection to one caller at a time. The readers' pool keeps its
// connections (as many idle as open, no lifetime); the one case where it
// drops one is a connection that is no longer valid (a query was
// interrupted by its context), and check finalizes that connection's
// statements before the pool sees it, while the caller still has it.
//
// Reads hold use (read-locked) from acquire to release; close takes it
// to finalize every statement, so none is finalized while in use.
type stmtCache struct {
	use    sync.RWMutex
	mu     sync.Mutex // guards m and closed; taken inside use
	m      map[driver.Conn]map[string]driver.Stmt
	closed bool
}

var errCacheClosed = errors.New("sqlite: statement cache closed")

// acquire starts a read that uses the cache; false if it is closed.
func (c *stmtCache) acquire() bool {
	c.use.RLock()
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		c.use.RUnlock()
	}
	return !closed
}

// maxStmts bounds the statements cached per connection; past it, a
// query's statement is prepared for one use (cached false).
const maxStmts = 32

// get returns the statement of query prepared on dc, preparing it on
// first use. The caller has dc to itself (inside Conn.Raw) and has
// acquired the cache; it closes the statement after use if it is not
// cached.
func (c *stmtCache) get(ctx context.Context, dc driver.Conn, query string) (stmt driver.Stmt, cached bool, err error) {
	c.mu.Lock()
	stmt = c.m[dc][query]
	full := len(c.m[dc]) >= maxStmts
	c.mu.Unlock()
	if stmt != nil {
		return stmt, true, nil
	}
	pc, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return nil, false, fmt.Errorf("driver connection %T cannot prepare", dc)
	}
	stmt, err = prepare(ctx, pc, query)
	if err != nil || full {
		return stmt, false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[driver.Conn]map[string]driver.Stmt{}
	}
	if c.m[dc] == nil {
		c.m[dc] = map[string]driver.Stmt{}
	}
	c.m[dc][query] = stmt
	return stmt, true, nil
}

// check finalizes dc's statements if dc is no longer valid: the pool
// will drop it when the caller gives it back, so this runs while the
// caller still has it (inside Conn.Raw, after its statement is reset).
func (c *stmtCache) check(dc driver.Conn) {
	if v, ok := dc.(driver.Validator); !ok || v.IsValid() {
		return
	}
	c.mu.Lock()
	stmts := c.m[dc]
	delete(c.m, dc)
	c.mu.Unlock()
	for _, stmt := range stmts {
		stmt.Close()
	}
}

// release ends what acquire started.
func (c *stmtCache) release() { c.use.RUnlock() }

// close finalizes every statement, once no read uses one; acquire fails
// afterwards. It runs before the connections close.
func (c *stmtCache) close() error {
	c.use.Lock()
	defer c.use.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var errs []error
	for _, stmts := range c.m {
		for _, stmt := range stmts {
			errs = append(errs, stmt.Close())
		}
	}
	c.m = nil
	return errors.Join(errs...)
}
