package projections

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/confabhq/confab/domain"
)

// The search index (issue 15). proj_search (migration 00005) is a read
// model like the others: one row per live message, written by the
// applier in both of its ways (statements.go on SQLite, the fold on
// PostgreSQL), emptied by Rebuild, copied and swapped by RebuildShadow,
// listed by Dump. The word index over its text is made here, by Open,
// because each database has its own:
//
//   - SQLite: proj_search_fts, a contentless FTS5 table (content='',
//     contentless_delete=1) whose rowid is proj_search.pos. The applier
//     writes it beside proj_search (statements.go); it is one of the
//     tables a shadow rebuild copies and swaps (schemaTables), and Rebuild
//     empties it. Dump leaves it out: it holds nothing but the index of
//     proj_search's text.
//   - PostgreSQL: tsv, a stored generated column to_tsvector(language,
//     text), with the GIN index proj_search_tsv. The applier never names
//     it; a shadow table copies it (LIKE ... INCLUDING GENERATED) with its
//     index. The language (a text search configuration, "simple" unless
//     WithSearchLanguage says otherwise) is part of the column: Open
//     remakes the column when it changes, which rewrites the table.

// DefaultSearchLanguage is the PostgreSQL text search configuration
// search uses unless told otherwise: "simple" lowercases words and
// neither stems them nor drops stop words, so any language works.
const DefaultSearchLanguage = "simple"

// searchFTSTable is SQLite's FTS5 index of proj_search.
const searchFTSTable = "proj_search_fts"

// createSearchFTS makes SQLite's index; unicode61 folds case and strips
// diacritics, as the query side expects (search.go). Its second column,
// mentions, holds the IDs of the users a message mentions, without their
// dashes (ftsMentions), so that mentions: is answered by the index too:
// with the LIKE of proj_search alone, mentions: and a word walked every
// match of the word (475 ms p99 over 1M messages), mentions: alone every
// message until a page was full. A query's words are looked for in text
// only (search_query.go, ftsQuery). Every word of a
// query is a prefix: the prefix indexes (of the first 2 to 6 characters)
// give a short word one list of messages, where FTS5 would otherwise
// merge the lists of every word it starts (a common word's, and those of
// every longer word beginning with it), which made a common word 2.5×
// slower over 200,000 messages (docs/benchmarks.md, "Search").
const createSearchFTS = `CREATE VIRTUAL TABLE IF NOT EXISTS ` + searchFTSTable +
	` USING fts5(text, mentions, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2', prefix='2 3 4 5 6')`

// schemaTables are the tables a shadow rebuild copies and swaps: the read
// models and, on SQLite, the FTS5 index of proj_search.
func schemaTables(d Dialect) []string {
	if d == SQLite {
		return append(slices.Clip(readModelTables), searchFTSTable)
	}
	return readModelTables
}

// Option configures Open.
type Option func(*options)

type options struct {
	searchLanguage string
}

// WithSearchLanguage sets the PostgreSQL text search configuration the
// search index uses ("simple", "english", "french", ...; see
// pg_ts_config). SQLite ignores it: its index folds case and diacritics
// and never stems. Changing it rebuilds the index when Open runs.
func WithSearchLanguage(name string) Option {
	return func(o *options) { o.searchLanguage = name }
}

// searchLanguageName is what a configuration name may look like: it is
// written into DDL, so no quoting is ever needed.
var searchLanguageName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// prepareSearchIndex makes the word index of proj_search if it is not
// there yet, or remakes it: on SQLite when it has no mentions column yet,
// on PostgreSQL when it is of another language.
func prepareSearchIndex(ctx context.Context, db *sql.DB, d Dialect, language string) error {
	if d == SQLite {
		var made string
		err := db.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE name = ?`, searchFTSTable).Scan(&made)
		if err != nil && err != sql.ErrNoRows {
			return fmt.Errorf("projections: search index: %w", err)
		}
		if err == nil && strings.Contains(made, "fts5(text, mentions,") {
			return nil
		}
		// None yet, or one of before its mentions column: (re)made and
		// filled from proj_search, in one transaction.
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("projections: search index: %w", err)
		}
		defer tx.Rollback()
		for _, stmt := range []string{
			`DROP TABLE IF EXISTS ` + searchFTSTable,
			createSearchFTS,
			`INSERT INTO ` + searchFTSTable + ` (rowid, text, mentions) SELECT pos, text, replace(mentions, '-', '') FROM proj_search`,
		} {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("projections: search index: %w", err)
			}
		}
		return tx.Commit()
	}
	if !searchLanguageName.MatchString(language) {
		return domain.Errorf(domain.KindInvalid, "open read models", "search language %q is not a text search configuration name", language)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("projections: search index: %w", err)
	}
	defer tx.Rollback()
	// One process at a time (the migrations' lock, for this transaction).
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLockID)); err != nil {
		return fmt.Errorf("projections: search index: %w", err)
	}
	var known int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_ts_config WHERE cfgname = $1`, language).Scan(&known); err != nil {
		return fmt.Errorf("projections: search index: %w", err)
	}
	if known == 0 {
		return domain.Errorf(domain.KindInvalid, "open read models", "search language %q: PostgreSQL has no such text search configuration (see pg_ts_config)", language)
	}
	var expr sql.NullString
	err = tx.QueryRowContext(ctx, `SELECT generation_expression FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'proj_search' AND column_name = 'tsv'`).Scan(&expr)
	if err != nil && err != sql.ErrNoRows {
		return fmt.Errorf("projections: search index: %w", err)
	}
	// mentions: from an index of the rows that mention someone (one in
	// twenty in the benchmark's log): with the LIKE alone, mentions: and
	// a word read every match of the word in the spans searched.
	if _, err := tx.ExecContext(ctx, `CREATE INDEX IF NOT EXISTS proj_search_mentions ON proj_search
		USING gin (string_to_array(btrim(mentions), ' ')) WHERE mentions <> ''`); err != nil {
		return fmt.Errorf("projections: search index of mentions: %w", err)
	}
	if err == nil && strings.Contains(expr.String, "'"+language+"'::regconfig") {
		return tx.Commit()
	}
	stmts := []string{
		`ALTER TABLE proj_search ADD COLUMN tsv tsvector GENERATED ALWAYS AS (to_tsvector('` + language + `'::regconfig, text)) STORED`,
		// New entries go to a pending list that every query scans,
		// merged into the index once it reaches 256 kB: with the
		// default 4 MB a rare word took 11 ms over 50,000 messages, and
		// with no list (fastupdate off) the applier wrote 2.4 times
		// slower (docs/benchmarks.md, "Search").
		`CREATE INDEX proj_search_tsv ON proj_search USING gin (tsv) WITH (fastupdate = on, gin_pending_list_limit = 256)`,
	}
	if err == nil {
		stmts = append([]string{`ALTER TABLE proj_search DROP COLUMN tsv`}, stmts...)
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("projections: search index: %s: %w", s, err)
		}
	}
	return tx.Commit()
}

// searchRow is a row of proj_search.
type searchRow struct {
	room           string
	seq, pos       int64
	sender         string
	created        int64
	text, mentions string
	files, images  string
	hasLink        int64
}

// link matches text with a link in it.
var link = regexp.MustCompile(`(?i)(?:\bhttps?://|\bwww\.)\S`)

func hasLink(text string) int64 {
	if link.MatchString(text) {
		return 1
	}
	return 0
}

// searchMentions returns a message's mentions as proj_search keeps them.
func searchMentions(ids []domain.UserID) string {
	if len(ids) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte(' ')
	for _, id := range ids {
		b.WriteString(string(id))
		b.WriteByte(' ')
	}
	return b.String()
}

// ftsMentions returns a message's mentions as SQLite's FTS5 index keeps
// them: the IDs without their dashes, so that each is one token.
func ftsMentions(mentions string) string { return strings.ReplaceAll(mentions, "-", "") }

// newSearchRow returns the row of a message posted at pos.
func newSearchRow(room string, seq, pos int64, ev domain.MessagePosted, at int64) searchRow {
	r := searchRow{room: room, seq: seq, pos: pos, sender: string(ev.SenderID), created: at, text: ev.Text,
		mentions: searchMentions(ev.Mentions), hasLink: hasLink(ev.Text)}
	var files, images strings.Builder
	for _, a := range ev.Attachments {
		files.WriteString(a.ID + " ")
		if strings.HasPrefix(strings.ToLower(a.ContentType), "image/") {
			images.WriteString(a.ID + " ")
		}
	}
	r.files, r.images = files.String(), images.String()
	return r
}

// edit applies an edit to r.
func (r *searchRow) edit(ev domain.MessageEdited) {
	r.text, r.mentions, r.hasLink = ev.Text, searchMentions(ev.Mentions), hasLink(ev.Text)
	if len(ev.RemovedAttachments) > 0 {
		r.files, r.images = withoutIDs(r.files, ev.RemovedAttachments), withoutIDs(r.images, ev.RemovedAttachments)
	}
}

// withoutIDs returns list (IDs each followed by a space) without ids.
func withoutIDs(list string, ids []string) string {
	var b strings.Builder
	for _, id := range strings.Fields(list) {
		if !slices.Contains(ids, id) {
			b.WriteString(id + " ")
		}
	}
	return b.String()
}
