package projections

import (
	"context"
	"database/sql"
)

// The reads that every connect makes (a session by its token, a user, a
// membership) run as statements prepared once per connection of the pool
// on SQLite, where parsing and planning a short query costs more than
// running it. database/sql prepares a Stmt again on each connection that
// runs it and finalizes it with the connection. On PostgreSQL the pgx
// driver keeps its own statement cache (and knows when a plan went stale
// after a rebuild swapped the tables), so queries go to it as they are.

// queryRow runs a query that returns at most one row, prepared on SQLite.
// query is written with ? placeholders.
func (p *Projections) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if p.d != SQLite {
		return p.db.QueryRowContext(ctx, p.d.Rebind(query), args...)
	}
	if s, ok := p.prepared.Load(query); ok {
		return s.(*sql.Stmt).QueryRowContext(ctx, args...)
	}
	s, err := p.db.PrepareContext(ctx, query)
	if err != nil {
		// The query fails the same way unprepared, with its error.
		return p.db.QueryRowContext(ctx, query, args...)
	}
	if prev, loaded := p.prepared.LoadOrStore(query, s); loaded {
		s.Close()
		s = prev.(*sql.Stmt)
	}
	return s.QueryRowContext(ctx, args...)
}
