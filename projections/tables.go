package projections

import (
	"fmt"
	"slices"
	"strings"
)

// On PostgreSQL the applier folds a batch of events in memory (fold.go):
// it loads the rows the batch touches, applies the events to them one
// after the other with the rules of the read models, and writes each row
// that changed once (bulk_postgres.go). This file describes the tables as
// the applier sees them and keeps a batch's rows.

// rowKey is the key of a row, or the values a batch loads rows by: the
// text columns in order in s, the one BIGINT column (if any) in n. Every
// key of the read models has at most three text columns and one BIGINT.
type rowKey struct {
	s [3]string
	n int64
}

// tableDef describes a read-model table.
type tableDef struct {
	name string
	cols []string // the key columns first
	ints []bool   // per column: BIGINT or INTEGER (else TEXT)
	nkey int
	// by lists the column sets (indexes into cols) rows are loaded by:
	// the key or a prefix of it, or another column. A row whose key has
	// a prefix that was loaded by is known to be absent if none came.
	by [][]int
}

func newTableDef(name string, cols []string, ints []bool, nkey int, by ...[]int) *tableDef {
	if len(by) == 0 {
		all := make([]int, nkey)
		for i := range all {
			all[i] = i
		}
		by = [][]int{all}
	}
	return &tableDef{name: name, cols: cols, ints: ints, nkey: nkey, by: by}
}

// isPrefix reports whether load set g is a prefix of the key.
func (d *tableDef) isPrefix(g int) bool {
	_, ok := d.prefix(g)
	return ok
}

// prefix reports whether load set g is a prefix of the key, and its
// length.
func (d *tableDef) prefix(g int) (int, bool) {
	for i, c := range d.by[g] {
		if c != i {
			return 0, false
		}
	}
	return len(d.by[g]), true
}

// project returns the values of k's first n key columns, as a rowKey.
func (d *tableDef) project(k rowKey, n int) rowKey {
	var p rowKey
	s := 0
	for i := range n {
		if d.ints[i] {
			p.n = k.n
			continue
		}
		p.s[s] = k.s[s]
		s++
	}
	return p
}

// values returns the values of k for the columns of load set g (a
// prefix of the key, or one text column).
func (d *tableDef) values(g int, k rowKey) []any {
	cols := d.by[g]
	vals := make([]any, 0, len(cols))
	s := 0
	for _, c := range cols {
		if d.ints[c] {
			vals = append(vals, k.n)
			continue
		}
		vals = append(vals, k.s[s])
		s++
	}
	return vals
}

// entry is a row of a batch: as it was before the batch (had, before) and
// as it is now (has, now).
type entry[R comparable] struct {
	before, now R
	had, has    bool
}

// set makes r the row now.
func (e *entry[R]) set(r R) { e.now, e.has = r, true }

// remove deletes the row.
func (e *entry[R]) remove() {
	var zero R
	e.now, e.has = zero, false
}

// table holds the rows of one table that a batch touches.
type table[R comparable] struct {
	def *tableDef
	// fields returns pointers to a row's columns, in def.cols order.
	fields func(*R) []any
	rows   map[rowKey]*entry[R]
	order  []rowKey // the rows in the order the batch met them
	// wanted holds, per load set, what to load rows by; loaded what was
	// (or is known to hold nothing).
	wanted [][]rowKey
	loaded []map[rowKey]bool
	// dropped holds keys of a prefix load set wanted before absent said
	// they hold nothing.
	dropped map[rowKey]bool
}

func newTable[R comparable](def *tableDef, fields func(*R) []any) *table[R] {
	t := &table[R]{def: def, fields: fields, rows: map[rowKey]*entry[R]{}}
	t.wanted = make([][]rowKey, len(def.by))
	t.loaded = make([]map[rowKey]bool, len(def.by))
	for i := range t.loaded {
		t.loaded[i] = map[rowKey]bool{}
	}
	return t
}

// reset forgets the batch's rows.
func (t *table[R]) reset() {
	clear(t.rows)
	t.order = t.order[:0]
	for i := range t.wanted {
		t.wanted[i] = t.wanted[i][:0]
		clear(t.loaded[i])
	}
	clear(t.dropped)
}

// want asks for the rows whose columns of load set g are k.
func (t *table[R]) want(g int, k rowKey) {
	if !t.loaded[g][k] {
		t.loaded[g][k] = true
		t.wanted[g] = append(t.wanted[g], k)
	}
}

// wantKey asks for the row with key k.
func (t *table[R]) wantKey(k rowKey) { t.want(0, k) }

// absent records that the rows whose key starts with k (load set g, a
// prefix of the key) did not exist before the batch: nothing is loaded
// for them.
func (t *table[R]) absent(g int, k rowKey) {
	if t.loaded[g][k] {
		if t.dropped == nil {
			t.dropped = map[rowKey]bool{}
		}
		t.dropped[k] = true // wanted before: keys leaves it out
		return
	}
	t.loaded[g][k] = true
}

func (t *table[R]) tableDef() *tableDef { return t.def }

// keys returns what load set g is to load rows by.
func (t *table[R]) keys(g int) []rowKey {
	if len(t.dropped) == 0 || !t.def.isPrefix(g) {
		return t.wanted[g]
	}
	return slices.DeleteFunc(t.wanted[g], func(k rowKey) bool { return t.dropped[k] })
}

// addWide records a loaded row given as its text columns and its integer
// columns, each in order.
func (t *table[R]) addWide(texts []string, ints []int64) {
	var r R
	for _, f := range t.fields(&r) {
		switch f := f.(type) {
		case *string:
			*f, texts = texts[0], texts[1:]
		case *int64:
			*f, ints = ints[0], ints[1:]
		}
	}
	t.add(r)
}

// key returns a row's key.
func (t *table[R]) key(r *R) rowKey {
	var k rowKey
	i := 0
	for _, f := range t.fields(r)[:t.def.nkey] {
		switch f := f.(type) {
		case *string:
			k.s[i] = *f
			i++
		case *int64:
			k.n = *f
		}
	}
	return k
}

// add records a loaded row.
func (t *table[R]) add(r R) {
	k := t.key(&r)
	if _, ok := t.rows[k]; ok {
		return // loaded by two load sets
	}
	t.rows[k] = &entry[R]{before: r, now: r, had: true, has: true}
	t.order = append(t.order, k)
}

// get returns the row with key k, which the batch must have loaded (it
// is absent if loading found nothing).
func (t *table[R]) get(k rowKey) (*entry[R], error) {
	if e := t.rows[k]; e != nil {
		return e, nil
	}
	for g := range t.def.by {
		n, ok := t.def.prefix(g)
		if ok && t.loaded[g][t.def.project(k, n)] {
			e := &entry[R]{}
			t.rows[k] = e
			t.order = append(t.order, k)
			return e, nil
		}
	}
	return nil, fmt.Errorf("projections: internal error: %s row %v was not loaded", t.def.name, k)
}

// each calls f with every row the batch has that exists now, in order.
func (t *table[R]) each(f func(e *entry[R])) {
	for _, k := range t.order {
		if e := t.rows[k]; e.has {
			f(e)
		}
	}
}

// columns returns the rows to write with op (new rows to insert,
// changed rows to update, gone rows to delete), as one array per column
// of the write (writeCols): []string or []int64. ok is false if there
// are none.
func (t *table[R]) columns(op int) (cols []any, ok bool) {
	n := len(t.def.cols)
	if op == opDelete {
		n = t.def.nkey
	}
	texts := make([][]string, n)
	ints := make([][]int64, n)
	for _, k := range t.order {
		e := t.rows[k]
		var r *R
		switch {
		case op == opInsert && !e.had && e.has, op == opUpdate && e.had && e.has && e.now != e.before:
			r = &e.now
		case op == opDelete && e.had && !e.has:
			r = &e.before
		default:
			continue
		}
		ok = true
		for i, f := range t.fields(r)[:n] {
			switch f := f.(type) {
			case *string:
				texts[i] = append(texts[i], *f)
			case *int64:
				ints[i] = append(ints[i], *f)
			}
		}
	}
	if !ok {
		return nil, false
	}
	cols = make([]any, n)
	for i := range cols {
		if t.def.ints[i] {
			cols[i] = ints[i]
		} else {
			cols[i] = texts[i]
		}
	}
	return cols, true
}

// Rows of the read-model tables, with the columns in the order of their
// table's def.

type userRow struct {
	id, username      string
	created, lastSeen int64
	// displayName, avatar (a digest), avatarType and status: account.go.
	displayName, avatar, avatarType, status string
}

type sessionRow struct {
	hash, user, session string
	created             int64
	agent, ip           string
	used                int64
}

type roomRow struct {
	id, kind, name, owner, invite string
	created, lastSeq, activity    int64
}

type memberRow struct {
	room, user, role string
	joined           int64
}

type banRow struct {
	room, user, by string
	at             int64
}

type messageRow struct {
	room                     string
	seq                      int64
	sender, clientID, text   string
	replyTo                  int64
	mentions                 string
	created, edited, deleted int64
	attachments              string
	threadRoot               int64
}

type reactionRow struct {
	room        string
	seq         int64
	emoji, user string
	at          int64
}

type readMarkerRow struct {
	user, room string
	seq        int64
}

type connRow struct {
	user, conn, node string
	opened           int64
}

type callRow struct {
	room, call                       string
	seq                              int64
	by                               string
	started, endedSeq, ended, people int64
}

type participantRow struct {
	room, user, call, node, conn string
	joined                       int64
}

// cols splits "a b:int c" into column names and which are integers.
func cols(spec string) ([]string, []bool) {
	var names []string
	var ints []bool
	for _, f := range strings.Fields(spec) {
		name, typ, _ := strings.Cut(f, ":")
		names = append(names, name)
		ints = append(ints, typ == "int")
	}
	return names, ints
}

func def(name, spec string, nkey int, by ...[]int) *tableDef {
	c, ints := cols(spec)
	return newTableDef(name, c, ints, nkey, by...)
}

// The tables, as the applier writes them. Load sets: by the key unless
// said otherwise.
var (
	usersDef = def("proj_users", "user_id username created_at:int last_seen:int display_name avatar avatar_type status", 1)
	// Sessions are loaded by token hash and by user (SessionUsed and
	// SessionEnded name a user's session, not a token).
	sessionsDef = def("proj_sessions", "token_hash user_id session_id created_at:int user_agent ip last_used_at:int", 1, []int{0}, []int{1})
	roomsDef    = def("proj_rooms", "room_id kind name owner_id invite_code created_at:int last_seq:int last_activity_at:int", 1)
	membersDef  = def("proj_members", "room_id user_id role joined_at:int", 2)
	bansDef     = def("proj_bans", "room_id user_id banned_by banned_at:int", 2)
	messagesDef = def("proj_messages", "room_id seq:int sender_id client_msg_id text reply_to:int mentions created_at:int edited_at:int deleted:int attachments thread_root:int", 2)
	// Reactions are loaded per message (a deletion drops them all).
	reactionsDef   = def("proj_reactions", "room_id seq:int emoji user_id reacted_at:int", 4, []int{0, 1})
	readMarkersDef = def("proj_read_markers", "user_id room_id seq:int", 2)
	connsDef       = def("proj_connections", "user_id conn_id node_id opened_at:int", 2)
	callsDef       = def("proj_calls", "room_id call_id seq:int started_by started_at:int ended_seq:int ended_at:int participants:int", 2)
	// Call participants are loaded per room (an ended call drops its
	// participants).
	participantsDef = def("proj_call_participants", "room_id user_id call_id node_id conn_id joined_at:int", 2, []int{0})
	// The search index's rows (search_index.go); its tsv column is
	// generated by PostgreSQL.
	searchDef = def("proj_search", "room_id seq:int pos:int sender_id created_at:int text mentions files images has_link:int", 2)
)
