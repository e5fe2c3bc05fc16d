package projections

import (
	"context"
	"database/sql"
	"errors"
)

// PostgreSQL's catalog: pg_catalog describes each table, its
// constraints and indexes.

// postgresTable describes a table from the PostgreSQL catalog: its
// columns, its constraints and its indexes (those of constraints are made
// by the constraints).
func postgresTable(ctx context.Context, q querier, table string, ddl []string) (desc, _ []string, err error) {
	collect := func(query string, f func(rows *sql.Rows) error) error {
		rows, err := q.QueryContext(ctx, query, table)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := f(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	err = collect(`SELECT column_name, data_type, is_nullable, COALESCE(column_default, ''), COALESCE(generation_expression, '') FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, func(rows *sql.Rows) error {
		var name, typ, null, def, gen string
		if err := rows.Scan(&name, &typ, &null, &def, &gen); err != nil {
			return err
		}
		d := "column " + name + " " + typ + " " + null + " " + def
		if gen != "" { // the search index's tsv: its language
			d += " generated " + gen
		}
		desc = append(desc, d)
		return nil
	})
	if err != nil {
		return nil, ddl, err
	}
	if len(desc) == 0 {
		return nil, ddl, errors.New("no such table")
	}
	ddl = append(ddl, `CREATE TABLE `+shadowPrefix+table+` (LIKE `+table+` INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING IDENTITY)`)
	err = collect(`SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint
		WHERE conrelid = to_regclass($1) ORDER BY conname`, func(rows *sql.Rows) error {
		var name, typ, def string
		if err := rows.Scan(&name, &typ, &def); err != nil {
			return err
		}
		desc = append(desc, "constraint "+name+" "+def)
		if typ != "c" { // LIKE copied the checks
			ddl = append(ddl, `ALTER TABLE `+shadowPrefix+table+` ADD CONSTRAINT `+shadowPrefix+name+` `+def)
		}
		return nil
	})
	if err != nil {
		return nil, ddl, err
	}
	err = collect(`SELECT i.relname, pg_get_indexdef(i.oid), EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid AND c.conrelid = x.indrelid)
		FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = to_regclass($1) ORDER BY i.relname`, func(rows *sql.Rows) error {
		var name, def string
		var ofConstraint bool
		if err := rows.Scan(&name, &def, &ofConstraint); err != nil {
			return err
		}
		desc = append(desc, "index "+def)
		if !ofConstraint {
			ddl = append(ddl, shadowDDL(def))
		}
		return nil
	})
	if err != nil {
		return nil, ddl, err
	}
	return desc, ddl, nil
}

func postgresIndexNames(ctx context.Context, q querier, table string) ([]string, error) {
	return queryStrings(ctx, q, `SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = to_regclass($1) ORDER BY i.relname`, table)
}
