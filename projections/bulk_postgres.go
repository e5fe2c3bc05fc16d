package projections

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Kinds of writes.
const (
	opInsert = iota
	opUpdate
	opDelete
)

// shadowed returns query on the shadow tables if the applier writes
// those.
func (a *applier) shadowed(query string) string {
	if a.shadow {
		return shadowQuery(query)
	}
	return query
}

// On PostgreSQL a batch's rows are read with one query and written with
// one statement, whatever their number and their tables, so that a batch
// costs seven round trips (begin, checkpoint, planner settings, load,
// write, checkpoint, commit) rather than one or more per event:
//
//   - the rows go as one array per column (pgx sends []string and []int64
//     as text[] and bigint[]) that the server unnests;
//   - the load is a UNION ALL of one SELECT per table and load set, each
//     row padded to the same columns (a tag naming the table, then its
//     text columns, then its integer ones);
//   - the write is one statement of data-modifying WITH queries, one per
//     table and kind (DELETE ... USING, UPDATE ... FROM, INSERT ... SELECT
//     from the arrays). They all see the rows as they were before the
//     statement and none sees another's effects, which is right here:
//     each row is written by one of them at most, and no table has a
//     constraint that spans rows of another.
//
// The statements differ only by which tables and kinds a batch has, so
// there are few of them; each is built once (pgShapes) and prepared once
// per connection by pgx.

// pgShapes caches the statements by the shape of the batch.
var pgShapes sync.Map // pgShape -> string

type pgShape struct {
	write bool
	bits  uint64 // load: bit 2*table+set; write: bit 3*table+op
}

// wide is how many text and integer columns a loaded row is padded to.
var wideTexts, wideInts = func() (int, int) {
	var t, n int
	for _, d := range []*tableDef{usersDef, sessionsDef, roomsDef, membersDef, bansDef, messagesDef, reactionsDef, readMarkersDef, connsDef, callsDef, participantsDef, searchDef, attachmentsDef, threadsDef, threadReadsDef, pinsDef, roomSettingsDef, notifyDef} {
		texts, ints := d.kinds()
		t, n = max(t, len(texts)), max(n, len(ints))
	}
	return t, n
}()

// kinds returns the indexes of d's text and integer columns.
func (d *tableDef) kinds() (texts, ints []int) {
	for i := range d.cols {
		if d.ints[i] {
			ints = append(ints, i)
		} else {
			texts = append(texts, i)
		}
	}
	return texts, ints
}

// joinsByIndex makes the rest of the transaction join by nested loops
// (on the tables' primary keys), not by hashing or merging: the arrays a
// batch joins with hold a few hundred keys at most, and the tables'
// statistics, of a fresh shadow table or one that grew since it was last
// analyzed, may be far from their size, which makes the planner scan a
// whole table to join it with the keys, once per batch. Such a plan
// suits every batch, so it uses generic plans: each statement is planned
// once per connection, not per batch (planning the load and the write
// of a batch of 1000 cost about 1.7 ms).
func (a *applier) joinsByIndex(ctx context.Context) error {
	if a.joinsSet {
		return nil
	}
	_, err := a.tx.ExecContext(ctx, `SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true), `+
		`set_config('plan_cache_mode', 'force_generic_plan', true)`)
	if err != nil {
		return fmt.Errorf("planner settings: %w", err)
	}
	a.joinsSet = true
	return nil
}

// loadAll reads the rows every table of the batch asked for.
func (a *applier) loadAll(ctx context.Context, tables []tableIO) error {
	var shape pgShape
	var args []any
	for ti, t := range tables {
		d := t.tableDef()
		for g := range d.by {
			keys := t.keys(g)
			if len(keys) == 0 {
				continue
			}
			shape.bits |= 1 << (2*ti + g)
			vals := make([][]any, len(keys))
			for i, k := range keys {
				vals[i] = d.values(g, k)
			}
			args = append(args, columnArrays(d, d.by[g], vals)...)
		}
	}
	if shape.bits == 0 {
		return nil
	}
	rows, err := a.tx.QueryContext(ctx, a.shadowed(pgQuery(shape, tables)), args...)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	defer rows.Close()
	var tag int64
	texts, ints := make([]string, wideTexts), make([]int64, wideInts)
	dest := []any{&tag}
	for i := range texts {
		dest = append(dest, &texts[i])
	}
	for i := range ints {
		dest = append(dest, &ints[i])
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("load: %w", err)
		}
		tables[tag].addWide(texts, ints)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	return nil
}

// writeAll writes the rows every table of the batch changed.
func (a *applier) writeAll(ctx context.Context, tables []tableIO) error {
	var shape pgShape
	shape.write = true
	var args []any
	type copied struct {
		d    *tableDef
		cols []any
	}
	var copies []copied
	for ti, t := range tables {
		for op := opInsert; op <= opDelete; op++ {
			if op == opInsert {
				if cols, ok := a.copies(t); ok {
					copies = append(copies, copied{t.tableDef(), cols})
					continue
				}
			}
			cols, ok := t.columns(op)
			if !ok {
				continue
			}
			shape.bits |= 1 << (3*ti + op)
			args = append(args, cols...)
		}
	}
	if shape.bits != 0 {
		if _, err := a.tx.ExecContext(ctx, a.shadowed(pgQuery(shape, tables)), args...); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	// The copies come after the statement: its deletes and updates are
	// of other rows (a row is written once per batch), and a new row
	// never meets one that the statement removes.
	for _, c := range copies {
		if err := a.copyRows(ctx, c.d, c.cols); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	return nil
}

// pgQuery returns the load query or the write statement of shape.
func pgQuery(shape pgShape, tables []tableIO) string {
	if q, ok := pgShapes.Load(shape); ok {
		return q.(string)
	}
	var parts []string
	n := 0 // parameters so far
	for ti, t := range tables {
		d := t.tableDef()
		if !shape.write {
			for g := range d.by {
				if shape.bits&(1<<(2*ti+g)) != 0 {
					parts = append(parts, d.pgLoad(ti, g, n))
					n += len(d.by[g])
				}
			}
			continue
		}
		for op := opInsert; op <= opDelete; op++ {
			if shape.bits&(1<<(3*ti+op)) != 0 {
				parts = append(parts, "w"+strconv.Itoa(len(parts))+" AS ("+d.pgWrite(op, n)+")")
				n += len(writeCols(d, op))
			}
		}
	}
	q := strings.Join(parts, " UNION ALL ")
	if shape.write {
		q = "WITH " + strings.Join(parts, ", ") + " SELECT 1"
	}
	pgShapes.Store(shape, q)
	return q
}

// pgLoad selects, as wide rows tagged tag, the rows by load set g, whose
// values are parameters n+1, n+2, ...
func (d *tableDef) pgLoad(tag, g, n int) string {
	texts, ints := d.kinds()
	sel := []string{strconv.Itoa(tag)}
	for i := range wideTexts {
		if i < len(texts) {
			sel = append(sel, "t."+d.cols[texts[i]])
		} else {
			sel = append(sel, "''::text")
		}
	}
	for i := range wideInts {
		if i < len(ints) {
			sel = append(sel, "t."+d.cols[ints[i]]+"::bigint")
		} else {
			sel = append(sel, "0::bigint")
		}
	}
	return "SELECT " + strings.Join(sel, ", ") + " FROM " + d.name + " t JOIN " + d.unnest(d.by[g], n) + " ON " + d.join(d.by[g])
}

// pgWrite returns the statement writing every row of op, whose columns
// are parameters n+1, n+2, ...
func (d *tableDef) pgWrite(op, n int) string {
	all, keys := writeCols(d, opInsert), writeCols(d, opDelete)
	switch op {
	case opInsert:
		return "INSERT INTO " + d.name + " (" + strings.Join(d.cols, ", ") + ") SELECT * FROM " + d.unnest(all, n)
	case opUpdate:
		var set []string
		for _, c := range d.cols[d.nkey:] {
			set = append(set, c+" = v."+c)
		}
		return "UPDATE " + d.name + " t SET " + strings.Join(set, ", ") + " FROM " + d.unnest(all, n) + " WHERE " + d.join(keys)
	default:
		return "DELETE FROM " + d.name + " t USING " + d.unnest(keys, n) + " WHERE " + d.join(keys)
	}
}

// unnest returns "unnest($n+1::text[], $n+2::bigint[], ...) AS v(c1, c2,
// ...)" for cols.
func (d *tableDef) unnest(cols []int, n int) string {
	var arrays, names []string
	for i, c := range cols {
		typ := "::text[]"
		if d.ints[c] {
			typ = "::bigint[]"
		}
		arrays = append(arrays, "$"+strconv.Itoa(n+i+1)+typ)
		names = append(names, d.cols[c])
	}
	return "unnest(" + strings.Join(arrays, ", ") + ") AS v(" + strings.Join(names, ", ") + ")"
}

// join returns "t.c1 = v.c1 AND ..." for cols.
func (d *tableDef) join(cols []int) string {
	var conds []string
	for _, c := range cols {
		conds = append(conds, "t."+d.cols[c]+" = v."+d.cols[c])
	}
	return strings.Join(conds, " AND ")
}

// writeCols returns the columns a write of op sends: every column, or
// for a delete the key.
func writeCols(d *tableDef, op int) []int {
	n := len(d.cols)
	if op == opDelete {
		n = d.nkey
	}
	cols := make([]int, n)
	for i := range cols {
		cols[i] = i
	}
	return cols
}

// columnArrays turns rows (values of cols) into one array per column:
// []int64 for integer columns, []string for text ones.
func columnArrays(d *tableDef, cols []int, rows [][]any) []any {
	arrays := make([]any, len(cols))
	for j, c := range cols {
		if d.ints[c] {
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
