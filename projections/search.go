package projections

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/confabhq/confab/domain"
)

// MaxSearchLimit is the most results one Search call returns.
const MaxSearchLimit = 50

// SearchRoom is the room of a search result.
type SearchRoom struct {
	ID   domain.RoomID
	Name string
	Kind string
}

// SearchResult is a message that matched, and its room.
type SearchResult struct {
	Message Message
	Room    SearchRoom
}

// SearchPage is a page of results, newest first.
type SearchPage struct {
	Results []SearchResult
	// Next is the cursor of the next page; "" on the last one.
	Next string
}

// Search returns up to limit (1..MaxSearchLimit) messages that match q,
// newest first (by their place in the log), from the rooms and DMs user
// is a member of now: someone who left or was kicked from a room finds
// nothing from it any more, not even what was posted while they were
// there, as they can no longer read its history. room, if not "",
// restricts the search to that room (a room user is not a member of
// gives no results). cursor is "" for the first page, else the Next of
// the page before; a cursor Search did not make is a KindInvalid error.
// Deleted messages never match, and an edited message matches its text
// now.
func (p *Projections) Search(ctx context.Context, user domain.UserID, q SearchQuery, room domain.RoomID, cursor string, limit int) (SearchPage, error) {
	var page SearchPage
	if limit < 1 || limit > MaxSearchLimit {
		return page, domain.Errorf(domain.KindInvalid, "search", "limit must be 1-%d", MaxSearchLimit)
	}
	before := int64(math.MaxInt64)
	if cursor != "" {
		var err error
		if before, err = decodeSearchCursor(cursor); err != nil {
			return page, err
		}
	}
	err := p.readTx(ctx, func(tx *sql.Tx) error {
		if p.d == Postgres && q.hasWords() {
			// Plan each query for its words and span: a generic plan,
			// made for no words and no span in particular, walks the
			// table by pos for a rare word.
			if _, err := tx.ExecContext(ctx, `SELECT set_config('plan_cache_mode', 'force_custom_plan', true)`); err != nil {
				return err
			}
		}
		rooms, err := searchRooms(ctx, tx, p.d, user, q, room)
		if err != nil || len(rooms) == 0 {
			return err
		}
		hits, err := p.searchHits(ctx, tx, q, rooms, before, limit+1)
		if err != nil {
			return err
		}
		if len(hits) > limit {
			hits = hits[:limit]
			page.Next = encodeSearchCursor(hits[limit-1].pos)
		}
		page.Results, err = p.searchMessages(ctx, tx, hits, rooms)
		return err
	})
	if err != nil {
		return SearchPage{}, fmt.Errorf("projections: search: %w", err)
	}
	return page, nil
}

func encodeSearchCursor(pos int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("s" + strconv.FormatInt(pos, 10)))
}

func decodeSearchCursor(c string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil && len(b) > 1 && b[0] == 's' {
		if pos, err := strconv.ParseInt(string(b[1:]), 10, 64); err == nil && pos > 0 {
			return pos, nil
		}
	}
	return 0, domain.Errorf(domain.KindInvalid, "search", "bad cursor: pass the next_cursor of the page before")
}

// searchRooms returns the rooms user is a member of that q's in: and room
// allow, by ID.
func searchRooms(ctx context.Context, tx *sql.Tx, d Dialect, user domain.UserID, q SearchQuery, room domain.RoomID) (map[domain.RoomID]SearchRoom, error) {
	rows, err := tx.QueryContext(ctx, d.Rebind(`SELECT r.room_id, r.name, r.kind FROM proj_members m JOIN proj_rooms r ON r.room_id = m.room_id
		WHERE m.user_id = ?`), string(user))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[domain.RoomID]SearchRoom{}
	for rows.Next() {
		var r SearchRoom
		if err := rows.Scan(&r.ID, &r.Name, &r.Kind); err != nil {
			return nil, err
		}
		if room != "" && r.ID != room {
			continue
		}
		if len(q.In) > 0 && !matchesIn(r, q.In) {
			continue
		}
		out[r.ID] = r
	}
	return out, rows.Err()
}

// matchesIn reports whether one of the in: values names r: its ID, or its
// name (case does not matter).
func matchesIn(r SearchRoom, in []string) bool {
	for _, v := range in {
		if string(r.ID) == v || r.Name != "" && strings.EqualFold(r.Name, v) {
			return true
		}
	}
	return false
}

// searchHit is a matching row of proj_search.
type searchHit struct {
	room domain.RoomID
	seq  int64
	pos  int64
}

// searchHits returns up to limit matching rows of rooms with pos below
// before, newest first.
func (p *Projections) searchHits(ctx context.Context, tx *sql.Tx, q SearchQuery, rooms map[domain.RoomID]SearchRoom, before int64, limit int) ([]searchHit, error) {
	var (
		from  string
		where []string
		args  []any
		order = "s.pos"
	)
	switch {
	case p.d == SQLite && (q.hasWords() || len(q.Mentions) > 0):
		// The FTS5 index drives: it yields its rowids (pos) newest first,
		// and the first limit rows that pass the filters end the query.
		from = searchFTSTable + " CROSS JOIN proj_search s ON s.pos = " + searchFTSTable + ".rowid"
		where = append(where, searchFTSTable+" MATCH ?")
		args = append(args, q.ftsQuery())
		order = searchFTSTable + ".rowid"
	case !q.hasWords():
		from = "proj_search s"
	default:
		from = "proj_search s"
		where = append(where, "s.tsv @@ to_tsquery(CAST(? AS regconfig), ?)")
		args = append(args, p.searchLanguage, q.tsQuery())
	}
	ids := make([]string, 0, len(rooms))
	for id := range rooms {
		ids = append(ids, "?")
		args = append(args, string(id))
	}
	where = append(where, "s.room_id IN ("+strings.Join(ids, ", ")+")")
	if len(q.From) > 0 {
		where = append(where, "s.sender_id IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(q.From)), ", ")+")")
		for _, id := range q.From {
			args = append(args, string(id))
		}
	}
	switch {
	case len(q.Mentions) > 0 && p.d == Postgres:
		// The expression of the index proj_search_mentions
		// (search_index.go), so that the planner can take the
		// mentioning rows from it.
		where = append(where, "s.mentions <> ''", "string_to_array(btrim(s.mentions), ' ') && CAST(? AS text[])")
		ids := make([]string, len(q.Mentions))
		for i, id := range q.Mentions {
			ids[i] = string(id)
		}
		args = append(args, "{"+strings.Join(ids, ",")+"}")
	case len(q.Mentions) > 0:
		var or []string
		for _, id := range q.Mentions {
			or = append(or, "s.mentions LIKE ?")
			args = append(args, "% "+string(id)+" %")
		}
		where = append(where, "("+strings.Join(or, " OR ")+")")
	}
	if q.HasFile {
		where = append(where, "s.files <> ''")
	}
	if q.HasImage {
		where = append(where, "s.images <> ''")
	}
	if q.HasLink {
		where = append(where, "s.has_link = 1")
	}
	if !q.Before.IsZero() {
		where = append(where, "s.created_at < ?")
		args = append(args, micros(q.Before))
	}
	if !q.After.IsZero() {
		where = append(where, "s.created_at >= ?")
		args = append(args, micros(q.After.AddDate(0, 0, 1)))
	}
	if p.d == Postgres && q.hasWords() {
		first := int64(searchWindow)
		if len(q.Words) > 1 {
			// Every word must match: far fewer messages match two words
			// than one, and each span reads every list of every word
			// again.
			first *= searchEmptyGrowth
		}
		return searchWindows(ctx, tx, p.d, where, args, before, first, limit)
	}
	query := "SELECT s.room_id, s.seq, s.pos FROM " + from + " WHERE " + strings.Join(append(where, order+" < ?"), " AND ") +
		" ORDER BY " + order + " DESC LIMIT ?"
	return queryHits(ctx, tx, p.d, nil, query, append(args, before, limit)...)
}

// searchWindow is the first span of positions searchWindows looks in
// for one word (searchEmptyGrowth times wider for several).
const searchWindow = 1024

// searchWindows runs a PostgreSQL word query in spans of positions,
// newest first, until it has limit rows or has looked everywhere. Asked
// at once for the newest matches, the planner either reads every match
// from the GIN index and sorts them (slow for a common word) or walks
// proj_search by pos and tests every row (slow for a rare one); a span
// bounds both: the GIN index finds the matches (ORDER BY pos + 0 keeps
// the planner off the walk), and a common word fills the page from the
// first, narrow span.
//
// Each span reads the posting lists of the query's words again (a word
// is a prefix, which GIN answers by reading every list it starts, with no
// skipping), so the spans are few: the next one is as wide as the density
// of matches in the ones before says the page needs, twice over, at least
// twice as wide as the last; after a span with no match at all the next
// is searchEmptyGrowth times wider. Not everything at once: the index's
// candidates may be many where the matches are few (a phrase of two
// common words, whose order only the rows can tell; mentions:), and every
// candidate in a span is read from the table (docs/benchmarks.md, "Search").
func searchWindows(ctx context.Context, tx *sql.Tx, d Dialect, where []string, args []any, before, first int64, limit int) ([]searchHit, error) {
	if before == math.MaxInt64 {
		var top sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MAX(pos) FROM proj_search`).Scan(&top); err != nil {
			return nil, err
		}
		if !top.Valid {
			return nil, nil
		}
		before = top.Int64 + 1
	}
	query := d.Rebind("SELECT s.room_id, s.seq, s.pos FROM proj_search s WHERE " + strings.Join(append(where, "s.pos < ?", "s.pos >= ?"), " AND ") +
		" ORDER BY s.pos + 0 DESC LIMIT ?")
	var hits []searchHit
	var searched int64 // positions looked at so far
	for span := first; before > 0 && len(hits) < limit; {
		lo := max(before-span, 0)
		var err error
		if hits, err = queryHits(ctx, tx, Postgres, hits, query, append(args, before, lo, limit-len(hits))...); err != nil {
			return nil, err
		}
		searched += before - lo
		before = lo
		span = nextSearchSpan(span, searched, len(hits), limit-len(hits))
	}
	return hits, nil
}

// searchEmptyGrowth is how much wider the next span is after spans
// with no match at all.
const searchEmptyGrowth = 32

// nextSearchSpan returns the width of the span after one of width span,
// once searched positions gave found matches and need more are wanted:
// twice what the density so far predicts the page needs, at least twice
// span; with no match yet, searchEmptyGrowth times span.
func nextSearchSpan(span, searched int64, found, need int) int64 {
	if span >= math.MaxInt64/searchEmptyGrowth {
		return math.MaxInt64
	}
	if found == 0 {
		return span * searchEmptyGrowth
	}
	predicted := float64(searched) * float64(need) / float64(found) * 2
	if predicted >= math.MaxInt64/4 {
		return math.MaxInt64
	}
	return max(int64(predicted), 2*span)
}

// queryHits appends the rows of a search query to hits.
func queryHits(ctx context.Context, tx *sql.Tx, d Dialect, hits []searchHit, query string, args ...any) ([]searchHit, error) {
	rows, err := tx.QueryContext(ctx, d.Rebind(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var h searchHit
		if err := rows.Scan(&h.room, &h.seq, &h.pos); err != nil {
			return nil, err
		}
		hits = append(hits, h)
	}
	return hits, rows.Err()
}

// searchMessages returns the messages of hits, in order, with their
// reactions and rooms.
func (p *Projections) searchMessages(ctx context.Context, tx *sql.Tx, hits []searchHit, rooms map[domain.RoomID]SearchRoom) ([]SearchResult, error) {
	if len(hits) == 0 {
		return nil, nil
	}
	// queryMessages returns no room ID: ask per room, which also gives
	// each room's reactions in one query.
	byRoom := map[domain.RoomID][]Message{}
	seqs := map[domain.RoomID][]int64{}
	for _, h := range hits {
		seqs[h.room] = append(seqs[h.room], h.seq)
	}
	for room, ss := range seqs {
		in := strings.TrimSuffix(strings.Repeat("?, ", len(ss)), ", ")
		a := []any{string(room)}
		for _, s := range ss {
			a = append(a, s)
		}
		ms, err := p.queryMessages(ctx, tx, "m.room_id = ? AND m.seq IN ("+in+")", a...)
		if err != nil {
			return nil, err
		}
		if len(ms) > 0 {
			if err := p.addReactions(ctx, tx, room, ms); err != nil {
				return nil, err
			}
		}
		byRoom[room] = ms
	}
	out := make([]SearchResult, 0, len(hits))
	for _, h := range hits {
		for _, m := range byRoom[h.room] {
			if int64(m.Seq) == h.seq {
				out = append(out, SearchResult{Message: m, Room: rooms[h.room]})
				break
			}
		}
	}
	return out, nil
}
