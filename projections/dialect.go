package projections

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Dialect is the SQL dialect of the database the read models live in.
type Dialect int

// Dialects.
const (
	SQLite   Dialect = iota + 1 // modernc.org/sqlite, driver "sqlite"
	Postgres                    // PostgreSQL through pgx's database/sql driver, "pgx"
)

func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return fmt.Sprintf("dialect(%d)", int(d))
}

func (d Dialect) valid() bool { return d == SQLite || d == Postgres }

// rebound caches Postgres forms of queries: the package's queries are
// constants, so the cache stays small.
var rebound sync.Map // string -> string

// Rebind returns query with its ? placeholders written the dialect's way:
// unchanged for SQLite, $1..$n for PostgreSQL. It does not look inside
// string literals: queries must not contain a literal '?'.
func (d Dialect) Rebind(query string) string {
	if d != Postgres || !strings.Contains(query, "?") {
		return query
	}
	if q, ok := rebound.Load(query); ok {
		return q.(string)
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	q := b.String()
	rebound.Store(query, q)
	return q
}
