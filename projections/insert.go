package projections

import (
	"context"
	"regexp"
	"strings"
	"sync"
)

// Inserts are the bulk of what applying a log writes: one message row per
// MessagePosted, one read marker per RoomRead, and so on. Sent one by one
// they cost a round trip each on PostgreSQL; there the applier instead
// keeps consecutive inserts into a table pending and sends them as one
// multi-row INSERT. That gives the same rows as sending them in order
// because:
//   - a table has at most one pending group, of one statement: another
//     statement on the table first sends the group (so each table sees its
//     statements in log order);
//   - every other statement first sends the groups of every table it names
//     (reads included), and a pending insert names only its own table: so
//     what runs meanwhile neither sees nor changes the pending rows;
//   - an upsert that updates on conflict (ON CONFLICT DO UPDATE) meets each
//     key at most once per statement, as PostgreSQL requires: a repeated
//     key sends the group first.
// The group is sent before the transaction commits.

// insertStmt is an INSERT of one row that may go in a group.
type insertStmt struct {
	table string
	head  string // INSERT INTO table (columns) VALUES
	row   string // (?, ..., ?)
	tail  string // ON CONFLICT ...
	// update is true if tail updates on conflict: a key may then appear
	// once per statement.
	update bool

	mu      sync.Mutex
	queries map[int]string // by row count
}

func newInsert(table, columns, row, tail string) *insertStmt {
	return &insertStmt{
		table:   table,
		head:    "INSERT INTO " + table + " (" + columns + ") VALUES ",
		row:     row,
		tail:    " " + tail,
		update:  strings.Contains(tail, "DO UPDATE"),
		queries: map[int]string{},
	}
}

// query returns the statement inserting n rows.
func (s *insertStmt) query(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queries[n]
	if !ok {
		q = s.head + strings.TrimSuffix(strings.Repeat(s.row+", ", n), ", ") + s.tail
		s.queries[n] = q
	}
	return q
}

// The inserts of the read models.
var (
	insertUser = newInsert("proj_users", "user_id, username, created_at, last_seen", "(?, ?, ?, 0)",
		"ON CONFLICT (user_id) DO UPDATE SET username = excluded.username, created_at = excluded.created_at")
	insertSession = newInsert("proj_sessions", "token_hash, user_id, session_id, created_at, user_agent, ip, last_used_at", "(?, ?, ?, ?, ?, ?, ?)",
		"ON CONFLICT (token_hash) DO UPDATE SET user_id = excluded.user_id, session_id = excluded.session_id, created_at = excluded.created_at, "+
			"user_agent = excluded.user_agent, ip = excluded.ip, last_used_at = excluded.last_used_at")
	insertReadMarker = newInsert("proj_read_markers", "user_id, room_id, seq", "(?, ?, ?)",
		"ON CONFLICT (user_id, room_id) DO UPDATE SET seq = excluded.seq WHERE proj_read_markers.seq < excluded.seq")
	insertConnection = newInsert("proj_connections", "user_id, conn_id, node_id, opened_at", "(?, ?, ?, ?)",
		"ON CONFLICT (user_id, conn_id) DO NOTHING")
	insertRoom = newInsert("proj_rooms", "room_id, kind, name, owner_id, invite_code, created_at, last_seq, last_activity_at", "(?, ?, ?, ?, ?, ?, ?, ?)",
		"ON CONFLICT (room_id) DO NOTHING")
	insertMember = newInsert("proj_members", "room_id, user_id, role, joined_at", "(?, ?, ?, ?)",
		"ON CONFLICT (room_id, user_id) DO UPDATE SET role = excluded.role")
	insertBan = newInsert("proj_bans", "room_id, user_id, banned_by, banned_at", "(?, ?, ?, ?)",
		"ON CONFLICT (room_id, user_id) DO NOTHING")
	insertMessage = newInsert("proj_messages", "room_id, seq, sender_id, client_msg_id, text, reply_to, mentions, created_at, edited_at, deleted", "(?, ?, ?, ?, ?, ?, ?, ?, 0, 0)",
		"ON CONFLICT (room_id, seq) DO NOTHING")
)

// maxGroup bounds the rows of one multi-row INSERT: on PostgreSQL, 8 rows
// per statement did better in BenchmarkApply than 64 (which cost more per
// row). Groups go out in power-of-two chunks, so each insert has few
// shapes to prepare.
const maxGroup = 8

// pendingInsert is a group of rows waiting to be inserted.
type pendingInsert struct {
	stmt *insertStmt
	args []any
	n    int
	keys map[string]bool // for stmt.update
}

// insert queues one row of st. key identifies the row for an upsert that
// updates on conflict; it is ignored otherwise. On SQLite, which has no
// round trips to save and where one-row statements proved faster, it
// inserts the row at once.
func (a *applier) insert(ctx context.Context, st *insertStmt, key string, args ...any) error {
	if a.d == SQLite {
		_, err := a.run(ctx, st.query(1), args...)
		return err
	}
	p := a.pending[st.table]
	if p != nil && (p.stmt != st || st.update && p.keys[key]) {
		if err := a.flushTable(ctx, st.table); err != nil {
			return err
		}
		p = nil
	}
	if p == nil {
		p = &pendingInsert{stmt: st}
		if st.update {
			p.keys = map[string]bool{}
		}
		a.pending[st.table] = p
	}
	p.args = append(p.args, args...)
	p.n++
	if st.update {
		p.keys[key] = true
	}
	if p.n == maxGroup {
		return a.flushTable(ctx, st.table)
	}
	return nil
}

// flushTable sends the pending inserts into table.
func (a *applier) flushTable(ctx context.Context, table string) error {
	p := a.pending[table]
	if p == nil {
		return nil
	}
	delete(a.pending, table)
	per := len(p.args) / p.n
	for args := p.args; len(args) > 0; {
		n := 1
		for n*2 <= len(args)/per && n*2 <= maxGroup {
			n *= 2
		}
		if _, err := a.run(ctx, p.stmt.query(n), args[:n*per]...); err != nil {
			return err
		}
		args = args[n*per:]
	}
	return nil
}

// flushTables sends the pending inserts into the tables query names.
func (a *applier) flushTables(ctx context.Context, query string) error {
	if len(a.pending) == 0 {
		return nil
	}
	for _, t := range tablesOf(query) {
		if err := a.flushTable(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

// flushAll sends every pending insert.
func (a *applier) flushAll(ctx context.Context) error {
	for t := range a.pending {
		if err := a.flushTable(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

var (
	tableName = regexp.MustCompile(`\bproj_[a-z_]+`)
	tables    sync.Map // query -> []string
)

// tablesOf returns the read-model tables a query names.
func tablesOf(query string) []string {
	if t, ok := tables.Load(query); ok {
		return t.([]string)
	}
	t := tableName.FindAllString(query, -1)
	tables.Store(query, t)
	return t
}
