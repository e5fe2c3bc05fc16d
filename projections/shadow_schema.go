package projections

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// Shadow names: the shadow of a read-model table, index or constraint
// is its live name with shadowPrefix. The catalogs tell what the live
// tables are (per dialect: shadow_sqlite.go, shadow_postgres.go), so that
// a rebuild can make empty shadow copies of them and swap them in.

var (
	// identifier matches the names of the read models' tables, indexes
	// and constraints, all of which start with proj_.
	identifier       = regexp.MustCompile(`\bproj_\w*`)
	shadowed         sync.Map // query -> the query on the shadow tables
	isReadModelTable = func() map[string]bool {
		m := map[string]bool{}
		for _, t := range readModelTables {
			m[t] = true
		}
		m[searchFTSTable] = true
		return m
	}()
)

// shadowQuery returns an applier's query on the shadow tables: every
// read-model table it names is replaced by its shadow.
func shadowQuery(query string) string {
	if q, ok := shadowed.Load(query); ok {
		return q.(string)
	}
	q := identifier.ReplaceAllStringFunc(query, func(name string) string {
		if isReadModelTable[name] {
			return shadowPrefix + name
		}
		return name
	})
	shadowed.Store(query, q)
	return q
}

// shadowDDL rewrites a statement of the live schema to one on the shadow:
// every proj_ name (tables, indexes, constraints) gets the prefix.
func shadowDDL(stmt string) string {
	return identifier.ReplaceAllStringFunc(stmt, func(name string) string { return shadowPrefix + name })
}

// schemaInfo is what the catalog says about the live read-model tables.
type schemaInfo struct {
	hash      string   // fingerprint of the tables, columns, constraints and indexes
	shadowDDL []string // statements that create empty shadow tables like them
}

func liveSchema(ctx context.Context, q querier, d Dialect) (schemaInfo, error) {
	var info schemaInfo
	h := sha256.New()
	for _, t := range schemaTables(d) {
		var desc []string
		var err error
		if d == Postgres {
			desc, info.shadowDDL, err = postgresTable(ctx, q, t, info.shadowDDL)
		} else {
			desc, info.shadowDDL, err = sqliteTable(ctx, q, t, info.shadowDDL)
		}
		if err != nil {
			return info, fmt.Errorf("projections: schema of %s: %w", t, err)
		}
		for _, s := range desc {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
	}
	info.hash = hex.EncodeToString(h.Sum(nil))
	return info, nil
}

func tableExists(ctx context.Context, q querier, d Dialect, table string) (bool, error) {
	var n int
	var err error
	if d == Postgres {
		err = q.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1`, table).Scan(&n)
	} else {
		err = q.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&n)
	}
	if err != nil {
		return false, fmt.Errorf("projections: look for table %s: %w", table, err)
	}
	return n > 0, nil
}

func shadowTablesExist(ctx context.Context, q querier, d Dialect) (bool, error) {
	for _, t := range schemaTables(d) {
		ok, err := tableExists(ctx, q, d, shadowPrefix+t)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// swapTables replaces each live read-model table by its shadow, which
// takes the live names of the table and of its indexes and constraints.
func swapTables(ctx context.Context, tx *sql.Tx, d Dialect) error {
	if d == Postgres {
		// Take every table at once, before dropping any: a reader
		// holding one of them waits for the swap, not the other way
		// round.
		// Queries queue behind a lock the swap waits for: it waits at
		// most swapLockTimeout, then gives up and tries again.
		names := make([]string, 0, 2*len(readModelTables))
		for _, t := range readModelTables {
			names = append(names, t, shadowPrefix+t)
		}
		if _, err := tx.ExecContext(ctx, `SET LOCAL lock_timeout = '`+swapLockTimeout+`'`); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `LOCK TABLE `+strings.Join(names, ", ")+` IN ACCESS EXCLUSIVE MODE`); err != nil {
			return err
		}
	}
	for _, t := range schemaTables(d) {
		var liveIndexes []string
		if d == SQLite {
			var err error
			if liveIndexes, err = sqliteIndexes(ctx, tx, t); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DROP TABLE `+t); err != nil {
			return fmt.Errorf("drop %s: %w", t, err)
		}
		if _, err := tx.ExecContext(ctx, `ALTER TABLE `+shadowPrefix+t+` RENAME TO `+t); err != nil {
			return fmt.Errorf("rename %s%s: %w", shadowPrefix, t, err)
		}
		if d == Postgres {
			// Renaming an index renames its constraint too.
			names, err := postgresIndexNames(ctx, tx, t)
			if err != nil {
				return err
			}
			for _, n := range names {
				if live, ok := strings.CutPrefix(n, shadowPrefix); ok {
					if _, err := tx.ExecContext(ctx, `ALTER INDEX `+quoteIdent(n)+` RENAME TO `+quoteIdent(live)); err != nil {
						return fmt.Errorf("rename index %s: %w", n, err)
					}
				}
			}
			continue
		}
		// SQLite cannot rename an index: the shadow's go, and the live
		// ones are made again on the new table.
		shadowIdx, err := sqliteIndexNames(ctx, tx, t)
		if err != nil {
			return err
		}
		for _, n := range shadowIdx {
			if _, err := tx.ExecContext(ctx, `DROP INDEX `+quoteIdent(n)); err != nil {
				return fmt.Errorf("drop index %s: %w", n, err)
			}
		}
		for _, stmt := range liveIndexes {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("create index on %s: %w", t, err)
			}
		}
	}
	return nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func queryStrings(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
