package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Reading and writing a batch's rows (fold.go). On PostgreSQL
// (bulk_postgres.go) a batch's rows are read by one statement and
// written by another, whatever their number. On SQLite, in the process,
// where a statement costs no round trip, rows are read by one statement
// per table (the keys as a JSON array, json_each) and each row is written
// by a prepared statement of its own (this file).

// Kinds of writes.
const (
	opInsert = iota
	opUpdate
	opDelete
)

// load reads the rows the batch asked for (SQLite).
func (t *table[R]) load(ctx context.Context, a *applier) error {
	for g, keys := range t.wanted {
		if len(keys) == 0 {
			continue
		}
		if err := a.loadRows(ctx, t.def, g, keys, func(scan func(dest ...any) error) error {
			var r R
			if err := scan(t.fields(&r)...); err != nil {
				return err
			}
			t.add(r)
			return nil
		}); err != nil {
			return fmt.Errorf("load %s: %w", t.def.name, err)
		}
	}
	return nil
}

// write deletes, updates and inserts the rows the batch changed, one
// statement per row (SQLite).
func (t *table[R]) write(ctx context.Context, a *applier) error {
	inserts, updates, deletes := t.changes()
	for _, w := range []struct {
		op   int
		rows [][]any
	}{{opDelete, deletes}, {opUpdate, updates}, {opInsert, inserts}} {
		if err := a.writeRows(ctx, t.def, w.op, w.rows); err != nil {
			return fmt.Errorf("write %s: %w", t.def.name, err)
		}
	}
	return nil
}

// loadRows calls add with each row of def's table whose load set g
// columns have one of the values in keys, with one query: the keys go as
// a JSON array of arrays.
func (a *applier) loadRows(ctx context.Context, def *tableDef, g int, keys []rowKey, add func(scan func(dest ...any) error) error) error {
	vals := make([][]any, len(keys))
	for i, k := range keys {
		vals[i] = def.values(g, k)
	}
	j, err := json.Marshal(vals)
	if err != nil {
		return err
	}
	s, err := a.stmt(ctx, a.shadowed(def.loadQuery(g)))
	if err != nil {
		return err
	}
	rows, err := s.QueryContext(ctx, string(j))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := add(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// writeRows inserts, updates (by key) or deletes (by key) rows, each the
// values of def's columns (for deletes: of its key columns).
func (a *applier) writeRows(ctx context.Context, def *tableDef, op int, rows [][]any) error {
	q := def.writeQuery(op)
	for _, r := range rows {
		if op == opUpdate {
			// SET the other columns, WHERE the key columns.
			r = append(append(make([]any, 0, len(r)), r[def.nkey:]...), r[:def.nkey]...)
		}
		if _, err := a.run(ctx, q, r...); err != nil {
			return err
		}
	}
	return nil
}

// shadowed returns query on the shadow tables if the applier writes
// those.
func (a *applier) shadowed(query string) string {
	if a.shadow {
		return shadowQuery(query)
	}
	return query
}

// queries caches statements built from the table definitions.
var queries sync.Map // queryKey -> string

type queryKey struct {
	table string
	kind  int // a write (op*), or -1-g for load set g
}

func (d *tableDef) cached(kind int, build func() string) string {
	k := queryKey{d.name, kind}
	if q, ok := queries.Load(k); ok {
		return q.(string)
	}
	q := build()
	queries.Store(k, q)
	return q
}

// where returns "c1 = ? AND ..." for d's key columns.
func (d *tableDef) where() string {
	var conds []string
	for _, c := range d.cols[:d.nkey] {
		conds = append(conds, c+" = ?")
	}
	return strings.Join(conds, " AND ")
}

// loadQuery selects the rows by load set g, whose values are given as a
// JSON array of arrays.
func (d *tableDef) loadQuery(g int) string {
	return d.cached(-1-g, func() string {
		var on []string
		for i, c := range d.by[g] {
			on = append(on, "t."+d.cols[c]+" = json_extract(v.value, '$["+strconv.Itoa(i)+"]')")
		}
		return "SELECT t." + strings.Join(d.cols, ", t.") + " FROM json_each(?) v CROSS JOIN " + d.name + " t ON " + strings.Join(on, " AND ")
	})
}

// writeQuery returns the statement that writes one row.
func (d *tableDef) writeQuery(op int) string {
	return d.cached(op, func() string {
		switch op {
		case opInsert:
			return "INSERT INTO " + d.name + " (" + strings.Join(d.cols, ", ") + ") VALUES (?" + strings.Repeat(", ?", len(d.cols)-1) + ")"
		case opUpdate:
			var set []string
			for _, c := range d.cols[d.nkey:] {
				set = append(set, c+" = ?")
			}
			return "UPDATE " + d.name + " SET " + strings.Join(set, ", ") + " WHERE " + d.where()
		default:
			return "DELETE FROM " + d.name + " WHERE " + d.where()
		}
	})
}
