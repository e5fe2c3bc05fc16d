package projections_test

import (
	"testing"

	"github.com/confabhq/confab/projections"
)

func TestRebind(t *testing.T) {
	for _, tt := range []struct {
		d        projections.Dialect
		in, want string
	}{
		{projections.SQLite, `SELECT a FROM t WHERE b = ? AND c = ?`, `SELECT a FROM t WHERE b = ? AND c = ?`},
		{projections.Postgres, `SELECT a FROM t WHERE b = ? AND c = ?`, `SELECT a FROM t WHERE b = $1 AND c = $2`},
		{projections.Postgres, `INSERT INTO t VALUES (?, ?), (?, ?), (?, ?), (?, ?), (?, ?), (?)`, `INSERT INTO t VALUES ($1, $2), ($3, $4), ($5, $6), ($7, $8), ($9, $10), ($11)`},
		{projections.Postgres, `SELECT 1`, `SELECT 1`},
	} {
		if got := tt.d.Rebind(tt.in); got != tt.want {
			t.Errorf("%v.Rebind(%q) = %q, want %q", tt.d, tt.in, got, tt.want)
		}
	}
}

func TestOpenRejects(t *testing.T) {
	b := newSQLiteBackend(t)
	if _, err := projections.Open(ctx, b.db, 0); err == nil {
		t.Error("Open with no dialect succeeded")
	}
	if _, err := projections.Open(ctx, nil, projections.SQLite); err == nil {
		t.Error("Open with no database succeeded")
	}
}
