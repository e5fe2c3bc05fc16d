package projections

import (
	"context"
	"database/sql"
	"fmt"
)

// CopyFunc copies new rows into table with PostgreSQL's COPY FROM, in the
// transaction open on the connection: driverConn is what database/sql's
// Conn.Raw hands over (pgx's *stdlib.Conn), cols the table's columns and
// columns one array per column, []string or []int64, all of one length.
// It returns how many rows it copied. The package imports no driver, so
// the caller brings it (eventstore/postgres.CopyFrom).
type CopyFunc func(ctx context.Context, driverConn any, table string, cols []string, columns []any) (int64, error)

// copyMin is the number of new rows of a table from which a batch copies
// them instead of inserting them in its write statement: COPY costs a
// round trip of its own, and under that many rows the INSERT from arrays
// is as cheap.
const copyMin = 200

// UseCopy makes the PostgreSQL applier insert a batch's new rows of a
// table with f (COPY FROM) when there are at least copyMin of them; the
// rest of the batch's writes stay one statement. Call it after Open,
// before applying or rebuilding. SQLite ignores it.
func (p *Projections) UseCopy(f CopyFunc) {
	if p.d == Postgres {
		p.copy = f
	}
}

// begin starts an applier's transaction: with UseCopy on a connection
// held for it, whose driver connection the copies use; else from the
// pool. release returns the connection after the transaction ends.
func (p *Projections) begin(ctx context.Context) (tx *sql.Tx, conn *sql.Conn, release func(), err error) {
	if p.copy == nil {
		tx, err = p.db.BeginTx(ctx, nil)
		return tx, nil, func() {}, err
	}
	conn, err = p.db.Conn(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	tx, err = conn.BeginTx(ctx, nil)
	if err != nil {
		conn.Close()
		return nil, nil, nil, err
	}
	return tx, conn, func() { conn.Close() }, nil
}

// newApplierOn is newApplier for a transaction of begin: its applier
// copies large inserts when the transaction has a connection of its own.
func (p *Projections) newApplierOn(tx *sql.Tx, conn *sql.Conn) *applier {
	a := newApplier(tx, p.d)
	if conn != nil && p.copy != nil {
		a.conn, a.copy = conn, p.copy
	}
	return a
}

// copies returns whether t's new rows go by COPY rather than in the write
// statement, and their columns if so.
func (a *applier) copies(t tableIO) ([]any, bool) {
	if a.copy == nil {
		return nil, false
	}
	cols, ok := t.columns(opInsert)
	if !ok || arrayLen(cols[0]) < copyMin {
		return nil, false
	}
	return cols, true
}

func arrayLen(a any) int {
	switch a := a.(type) {
	case []string:
		return len(a)
	case []int64:
		return len(a)
	}
	return 0
}

// copyRows copies the new rows of d (columns, as columns returns them)
// in the applier's transaction.
func (a *applier) copyRows(ctx context.Context, d *tableDef, columns []any) error {
	table := d.name
	if a.shadow {
		table = shadowPrefix + table
	}
	want := int64(arrayLen(columns[0]))
	return a.conn.Raw(func(dc any) error {
		n, err := a.copy(ctx, dc, table, d.cols, columns)
		if err != nil {
			return fmt.Errorf("copy into %s: %w", table, err)
		}
		if n != want {
			return fmt.Errorf("copy into %s: %d rows of %d", table, n, want)
		}
		return nil
	})
}
