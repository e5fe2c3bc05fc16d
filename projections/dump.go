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
	rows, err := p.db.QueryContext(ctx, `SELECT * FROM `+table)
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
	lines := []string{}
	var b strings.Builder
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		b.Reset()
		b.WriteString(table)
		for i, v := range vals {
			b.WriteByte('\t')
			b.WriteString(cols[i])
			b.WriteByte('=')
			b.WriteString(formatValue(v))
		}
		lines = append(lines, b.String())
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.Sort(lines)
	return lines, nil
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
