package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// CopyFrom copies rows into table with COPY FROM (binary), on the pgx
// connection under a database/sql connection: driverConn is what
// database/sql's Conn.Raw hands over, so the copy runs in the transaction
// open on it. columns holds one array per column of cols, []string or
// []int64, all of one length. It is projections.CopyFunc, for the read
// models' bulk writes (projections imports no driver).
func CopyFrom(ctx context.Context, driverConn any, table string, cols []string, columns []any) (int64, error) {
	sc, ok := driverConn.(*stdlib.Conn)
	if !ok {
		return 0, fmt.Errorf("postgres: copy: the connection is a %T, not pgx's", driverConn)
	}
	if len(cols) == 0 || len(cols) != len(columns) {
		return 0, fmt.Errorf("postgres: copy: %d arrays for %d columns", len(columns), len(cols))
	}
	n := -1
	for _, c := range columns {
		var l int
		switch c := c.(type) {
		case []string:
			l = len(c)
		case []int64:
			l = len(c)
		default:
			return 0, fmt.Errorf("postgres: copy: a column is a %T, not []string or []int64", c)
		}
		if n >= 0 && l != n {
			return 0, errors.New("postgres: copy: columns of different lengths")
		}
		n = l
	}
	row := make([]any, len(columns))
	src := pgx.CopyFromSlice(n, func(i int) ([]any, error) {
		for j, c := range columns {
			switch c := c.(type) {
			case []string:
				row[j] = c[i]
			case []int64:
				row[j] = c[i]
			}
		}
		return row, nil
	})
	return sc.Conn().CopyFrom(ctx, pgx.Identifier{table}, cols, src)
}
