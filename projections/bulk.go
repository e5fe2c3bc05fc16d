package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Reading and writing a batch's rows (fold.go). On PostgreSQL each is one
// statement per table and kind, whatever the number of rows: the rows go
// as one array per column, unnested by the server (pgx sends []string
// and []int64 as text[] and bigint[]), so a batch costs a few dozen round
// trips rather than one or more per event. On SQLite, in the process,
// where a statement costs no round trip, rows are read by one statement
// per table (the keys as a JSON array, json_each) and each row is written
// by a prepared statement of its own.

// load reads the rows the batch asked for.
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

// write inserts, updates and deletes the rows the batch changed.
func (t *table[R]) write(ctx context.Context, a *applier) error {
	inserts, updates, deletes := t.changes()
	if err := a.writeRows(ctx, t.def, opDelete, deletes); err != nil {
		return fmt.Errorf("delete from %s: %w", t.def.name, err)
	}
	if err := a.writeRows(ctx, t.def, opUpdate, updates); err != nil {
		return fmt.Errorf("update %s: %w", t.def.name, err)
	}
	if err := a.writeRows(ctx, t.def, opInsert, inserts); err != nil {
		return fmt.Errorf("insert into %s: %w", t.def.name, err)
	}
	return nil
}

// Kinds of writes.
const (
	opInsert = iota
	opUpdate
	opDelete
)

// loadRows calls add with each row of def's table whose load set g
// columns have one of the values in keys.
func (a *applier) loadRows(ctx context.Context, def *tableDef, g int, keys []rowKey, add func(scan func(dest ...any) error) error) error {
	vals := make([][]any, len(keys))
	for i, k := range keys {
		vals[i] = def.values(g, k)
	}
	if a.d == Postgres {
		return a.query(ctx, def.loadQuery(a.d, g), columnArrays(def, def.by[g], vals), add)
	}
	j, err := json.Marshal(vals)
	if err != nil {
		return err
	}
	return a.query(ctx, def.loadQuery(a.d, g), []any{string(j)}, add)
}

// query runs a query of the applier and calls f with each row.
func (a *applier) query(ctx context.Context, query string, args []any, f func(scan func(dest ...any) error) error) error {
	if a.shadow {
		query = shadowQuery(query)
	}
	var err error
	var rows interface {
		Next() bool
		Scan(dest ...any) error
		Err() error
		Close() error
	}
	if a.d == SQLite {
		s, serr := a.stmt(ctx, query)
		if serr != nil {
			return serr
		}
		rows, err = s.QueryContext(ctx, args...)
	} else {
		rows, err = a.tx.QueryContext(ctx, query, args...)
	}
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := f(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// writeRows inserts, updates (by key) or deletes (by key) rows, each the
// values of def's columns (keys: of its key columns).
func (a *applier) writeRows(ctx context.Context, def *tableDef, op int, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	q := def.writeQuery(a.d, op)
	if a.d == Postgres {
		_, err := a.run(ctx, q, columnArrays(def, writeCols(def, op), rows)...)
		return err
	}
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

// writeCols returns the columns a write of op sends.
func writeCols(def *tableDef, op int) []int {
	n := len(def.cols)
	if op == opDelete {
		n = def.nkey
	}
	cols := make([]int, n)
	for i := range cols {
		cols[i] = i
	}
	return cols
}

// columnArrays turns rows (values of cols) into one array per column:
// []int64 for integer columns, []string for text ones.
func columnArrays(def *tableDef, cols []int, rows [][]any) []any {
	arrays := make([]any, len(cols))
	for j, c := range cols {
		if def.ints[c] {
			a := make([]int64, len(rows))
			for i, r := range rows {
				a[i] = r[j].(int64)
			}
			arrays[j] = a
			continue
		}
		a := make([]string, len(rows))
		for i, r := range rows {
			a[i] = r[j].(string)
		}
		arrays[j] = a
	}
	return arrays
}

// queries caches the statements of the tables, per table, dialect, kind
// and load set.
var queries sync.Map // queryKey -> string

type queryKey struct {
	table string
	d     Dialect
	op    int // a write, or -1-g for load set g
}

func (d *tableDef) cached(k queryKey, build func() string) string {
	if q, ok := queries.Load(k); ok {
		return q.(string)
	}
	q := build()
	queries.Store(k, q)
	return q
}

// unnest returns "unnest($1::text[], $2::bigint[], ...) AS v(c1, c2, ...)"
// for cols.
func (d *tableDef) unnest(cols []int) string {
	var arrays, names []string
	for i, c := range cols {
		typ := "text[]"
		if d.ints[c] {
			typ = "bigint[]"
		}
		arrays = append(arrays, "$"+strconv.Itoa(i+1)+"::"+typ)
		names = append(names, d.cols[c])
	}
	return "unnest(" + strings.Join(arrays, ", ") + ") AS v(" + strings.Join(names, ", ") + ")"
}

// match returns "t.c1 = v.c1 AND ..." (PostgreSQL) or "c1 = ? AND ..."
// (SQLite) for cols.
func (d *tableDef) match(dialect Dialect, cols []int) string {
	var conds []string
	for _, c := range cols {
		if dialect == Postgres {
			conds = append(conds, "t."+d.cols[c]+" = v."+d.cols[c])
		} else {
			conds = append(conds, d.cols[c]+" = ?")
		}
	}
	return strings.Join(conds, " AND ")
}

// loadQuery selects the rows by load set g.
func (d *tableDef) loadQuery(dialect Dialect, g int) string {
	return d.cached(queryKey{d.name, dialect, -1 - g}, func() string {
		if dialect == Postgres {
			return "SELECT t." + strings.Join(d.cols, ", t.") + " FROM " + d.name + " t JOIN " + d.unnest(d.by[g]) + " ON " + d.match(dialect, d.by[g])
		}
		var on []string
		for i, c := range d.by[g] {
			on = append(on, "t."+d.cols[c]+" = json_extract(v.value, '$["+strconv.Itoa(i)+"]')")
		}
		return "SELECT t." + strings.Join(d.cols, ", t.") + " FROM json_each(?) v CROSS JOIN " + d.name + " t ON " + strings.Join(on, " AND ")
	})
}

// writeQuery returns the statement of a write: on PostgreSQL of every
// row at once, on SQLite of one.
func (d *tableDef) writeQuery(dialect Dialect, op int) string {
	return d.cached(queryKey{d.name, dialect, op}, func() string {
		all := writeCols(d, opInsert)
		keys := writeCols(d, opDelete)
		var set []string
		for _, c := range d.cols[d.nkey:] {
			if dialect == Postgres {
				set = append(set, c+" = v."+c)
			} else {
				set = append(set, c+" = ?")
			}
		}
		switch {
		case op == opInsert && dialect == Postgres:
			return "INSERT INTO " + d.name + " (" + strings.Join(d.cols, ", ") + ") SELECT * FROM " + d.unnest(all)
		case op == opInsert:
			return "INSERT INTO " + d.name + " (" + strings.Join(d.cols, ", ") + ") VALUES (?" + strings.Repeat(", ?", len(d.cols)-1) + ")"
		case op == opUpdate && dialect == Postgres:
			return "UPDATE " + d.name + " t SET " + strings.Join(set, ", ") + " FROM " + d.unnest(all) + " WHERE " + d.match(dialect, keys)
		case op == opUpdate:
			return "UPDATE " + d.name + " SET " + strings.Join(set, ", ") + " WHERE " + d.match(dialect, keys)
		case dialect == Postgres:
			return "DELETE FROM " + d.name + " t USING " + d.unnest(keys) + " WHERE " + d.match(dialect, keys)
		default:
			return "DELETE FROM " + d.name + " WHERE " + d.match(dialect, keys)
		}
	})
}
