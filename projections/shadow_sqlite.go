package projections

import (
	"context"
	"errors"
	"strings"
)

// SQLite's catalog: sqlite_master keeps the statements that made each
// table and index.

// sqliteTable describes a table from sqlite_master, which keeps the
// statements that created the table and its indexes.
func sqliteTable(ctx context.Context, q querier, table string, ddl []string) (desc, _ []string, err error) {
	rows, err := q.QueryContext(ctx, `SELECT type, sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL
		ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END, name`, table)
	if err != nil {
		return nil, ddl, err
	}
	defer rows.Close()
	for rows.Next() {
		var typ, stmt string
		if err := rows.Scan(&typ, &stmt); err != nil {
			return nil, ddl, err
		}
		desc = append(desc, typ+" "+stmt)
		ddl = append(ddl, shadowDDL(stmt))
	}
	if err := rows.Err(); err != nil {
		return nil, ddl, err
	}
	if len(desc) == 0 || !strings.HasPrefix(desc[0], "table ") {
		return nil, ddl, errors.New("no such table")
	}
	return desc, ddl, nil
}

// sqliteIndexes returns the statements that made table's indexes.
func sqliteIndexes(ctx context.Context, q querier, table string) ([]string, error) {
	return queryStrings(ctx, q, `SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name`, table)
}

func sqliteIndexNames(ctx context.Context, q querier, table string) ([]string, error) {
	return queryStrings(ctx, q, `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name`, table)
}
