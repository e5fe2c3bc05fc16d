package projections

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Dump returns the rows of every read-model table (not the checkpoint, not
// the node leases), keyed by table name. Each row is one line: the table
// name and the column values, tab-separated, strings quoted; each table's
// lines are sorted. Two databases hold the same read models if their
// dumps are equal.
func (p *Projections) Dump(ctx context.Context) (map[string][]string, error) {
	out := make(map[string][]string, len(readModelTables))
	for _, table := range readModelTables {
		lines, err := p.dumpTable(ctx, table)
		if err != nil {
			return nil, fmt.Errorf("projections: dump %s: %w", table, err)
		}
		out[table] = lines
	}
	return out, nil
}

func (p *Projections) dumpTable(ctx context.Context, table string) ([]string, error) {
	query := `SELECT * FROM ` + table
	if table == "proj_search" {
		// Not PostgreSQL's tsv, which is generated from text (search_index.go).
		query = `SELECT ` + strings.Join(searchDef.cols, ", ") + ` FROM proj_search`
	}
	lines, err := formatRows(ctx, p.db, table, query)
	if err != nil {
		return nil, err
	}
	if lines == nil {
		lines = []string{}
	}
	slices.Sort(lines)
	return lines, nil
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

// formatValue writes a column value the same way whatever the driver.
func formatValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case int64:
		return strconv.FormatInt(v, 10)
	case int32:
		return strconv.FormatInt(int64(v), 10)
	case string:
		return strconv.Quote(v)
	case []byte:
		return strconv.Quote(string(v))
	case bool:
		if v {
			return "1"
		}
		return "0"
	}
	return fmt.Sprintf("%v", v)
}
