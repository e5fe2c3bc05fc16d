package projections

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/confabhq/confab/domain"
)

// Limits of a search query.
const (
	// MaxSearchQueryLen is the longest query, in bytes.
	MaxSearchQueryLen = 512
	// MaxSearchWords is how many words (in phrases or not) a query has at
	// most.
	MaxSearchWords = 16
	// MaxSearchFilters is how many filters a query has at most.
	MaxSearchFilters = 16
	// maxWordLen is the longest word, in bytes.
	maxWordLen = 64
)

// SearchQuery is a parsed search query (ParseSearchQuery). The text of
// the query never reaches the database as query syntax: the word index's
// query (an FTS5 MATCH or a tsquery) is built from Words and Phrases,
// which hold only letters and digits.
type SearchQuery struct {
	// Words must all match, each the start of a word of the message.
	Words []string
	// Phrases must all match, their words in a row, each a whole word.
	Phrases [][]string
	// From, In and Mentions: a message matches if it matches one of the
	// values of each (none: any).
	From     []domain.UserID // senders
	In       []string        // room IDs or names
	Mentions []domain.UserID
	// HasFile, HasImage, HasLink: the message has an attachment, an image
	// attachment, a link.
	HasFile, HasImage, HasLink bool
	// Before and After bound the time the message was posted: before the
	// start of Before's day (UTC), after the end of After's day. Zero: no
	// bound.
	Before, After time.Time
}

// Terms returns the query's words, lowercased, in order, each once: what
// a client highlights.
func (q SearchQuery) Terms() []string {
	var terms []string
	seen := map[string]bool{}
	add := func(w string) {
		if !seen[w] {
			seen[w] = true
			terms = append(terms, w)
		}
	}
	for _, w := range q.Words {
		add(w)
	}
	for _, p := range q.Phrases {
		for _, w := range p {
			add(w)
		}
	}
	if terms == nil {
		terms = []string{}
	}
	return terms
}

// searchFilters are the filters a query may have.
var searchFilters = map[string]bool{"from": true, "in": true, "has": true, "before": true, "after": true, "mentions": true}

func invalidQuery(format string, args ...any) error {
	return domain.Errorf(domain.KindInvalid, "search", format, args...)
}

// ParseSearchQuery parses a search query: words (all must match, each the
// start of a word), "quoted phrases", and the filters from:USERNAME,
// in:ROOM (an ID or a name; in:"a name with spaces"), has:file,
// has:image, has:link, before:YYYY-MM-DD, after:YYYY-MM-DD and
// mentions:USERNAME. A word is a run of letters and digits: other
// characters separate words and mean nothing (no operators, no
// wildcards, no negation). An unknown filter, a bad value or a query
// with neither words nor filters is a KindInvalid error.
func ParseSearchQuery(text string) (SearchQuery, error) {
	var q SearchQuery
	if len(text) > MaxSearchQueryLen {
		return q, invalidQuery("the query is longer than %d bytes", MaxSearchQueryLen)
	}
	if !utf8.ValidString(text) {
		return q, invalidQuery("the query is not valid UTF-8")
	}
	filters, words := 0, 0
	s := text
	for {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
		if s == "" {
			break
		}
		if s[0] == '"' {
			var phrase string
			phrase, s = quoted(s)
			if ws := splitWords(phrase); len(ws) == 1 {
				q.Words = append(q.Words, ws...)
				words++
			} else if len(ws) > 1 {
				q.Phrases = append(q.Phrases, ws)
				words += len(ws)
			}
			continue
		}
		// A token runs to the next space; key:value is a filter if key is
		// letters only and value does not start with "//" (a link). A
		// filter's name with nothing after the colon is an error; other
		// words ending with a colon are words.
		end := strings.IndexFunc(s, unicode.IsSpace)
		if end < 0 {
			end = len(s)
		}
		tok := s[:end]
		key, value, ok := strings.Cut(tok, ":")
		if ok && value == "" && searchFilters[strings.ToLower(key)] {
			return q, invalidQuery("%s: needs a value", strings.ToLower(key))
		}
		if ok && isFilterKey(key) && value != "" && !strings.HasPrefix(value, "//") {
			key = strings.ToLower(key)
			if !searchFilters[key] {
				return q, invalidQuery("unknown filter %q: filters are from:, in:, has:, before:, after:, mentions:", key+":")
			}
			rest := s[end:]
			if value[0] == '"' {
				value, rest = quoted(s[len(key)+1:])
			}
			s = rest
			if filters++; filters > MaxSearchFilters {
				return q, invalidQuery("a query has at most %d filters", MaxSearchFilters)
			}
			if err := q.addFilter(key, value); err != nil {
				return q, err
			}
			continue
		}
		s = s[end:]
		ws := splitWords(tok)
		q.Words = append(q.Words, ws...)
		words += len(ws)
	}
	if words > MaxSearchWords {
		return q, invalidQuery("a query has at most %d words", MaxSearchWords)
	}
	for _, w := range q.Words {
		if len(w) > maxWordLen {
			return q, invalidQuery("a word is at most %d bytes", maxWordLen)
		}
	}
	for _, p := range q.Phrases {
		for _, w := range p {
			if len(w) > maxWordLen {
				return q, invalidQuery("a word is at most %d bytes", maxWordLen)
			}
		}
	}
	if words == 0 && filters == 0 {
		return q, invalidQuery("the query is empty: give words or filters (from:, in:, has:, before:, after:, mentions:)")
	}
	return q, nil
}

// quoted returns the text between the quote s starts with and the next
// one (or the end), and what follows.
func quoted(s string) (inside, rest string) {
	s = s[1:]
	if i := strings.IndexByte(s, '"'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

func isFilterKey(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r >= utf8.RuneSelf || !unicode.IsLetter(r) {
			return false
		}
	}
	return true
}

// splitWords returns the runs of letters and digits of s, lowercased.
func splitWords(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

func (q *SearchQuery) addFilter(key, value string) error {
	switch key {
	case "from", "mentions":
		if err := domain.ValidateUsername(value); err != nil {
			return invalidQuery("%s: needs a username, not %q", key, value)
		}
		if key == "from" {
			q.From = append(q.From, domain.UserIDFor(value))
		} else {
			q.Mentions = append(q.Mentions, domain.UserIDFor(value))
		}
	case "in":
		if value == "" {
			return invalidQuery("in: needs a room ID or name")
		}
		q.In = append(q.In, value)
	case "has":
		switch strings.ToLower(value) {
		case "file":
			q.HasFile = true
		case "image":
			q.HasImage = true
		case "link":
			q.HasLink = true
		default:
			return invalidQuery("has: takes file, image or link, not %q", value)
		}
	case "before", "after":
		day, err := time.Parse(time.DateOnly, value)
		if err != nil {
			return invalidQuery("%s: needs a date YYYY-MM-DD, not %q", key, value)
		}
		if key == "before" {
			if q.Before.IsZero() || day.Before(q.Before) {
				q.Before = day
			}
		} else if q.After.IsZero() || day.After(q.After) {
			q.After = day
		}
	}
	return nil
}

// ftsQuery returns the query of SQLite's FTS5 index: every word a quoted
// prefix ("word"*) and every phrase a quoted string, in the text column,
// all of which must match; and, with mentions:, one of the mentioned
// users' IDs in the mentions column (search_index.go). The words hold
// letters and digits only (splitWords) and the IDs hex digits, so nothing
// in them is FTS5 syntax.
func (q SearchQuery) ftsQuery() string {
	var words []string
	for _, w := range q.Words {
		words = append(words, `"`+w+`"*`)
	}
	for _, p := range q.Phrases {
		words = append(words, `"`+strings.Join(p, " ")+`"`)
	}
	var parts []string
	if len(words) > 0 {
		parts = append(parts, "text : ("+strings.Join(words, " AND ")+")")
	}
	if len(q.Mentions) > 0 {
		ids := make([]string, len(q.Mentions))
		for i, id := range q.Mentions {
			ids[i] = `"` + strings.ReplaceAll(string(id), "-", "") + `"`
		}
		parts = append(parts, "mentions : ("+strings.Join(ids, " OR ")+")")
	}
	return strings.Join(parts, " AND ")
}

// tsQuery returns the query of PostgreSQL's index, for to_tsquery: every
// word a quoted prefix ('word':*), every phrase its words joined by <->,
// all joined by &. The words hold letters and digits only.
func (q SearchQuery) tsQuery() string {
	var parts []string
	for _, w := range q.Words {
		parts = append(parts, `'`+w+`':*`)
	}
	for _, p := range q.Phrases {
		ws := make([]string, len(p))
		for i, w := range p {
			ws[i] = `'` + w + `'`
		}
		parts = append(parts, "("+strings.Join(ws, " <-> ")+")")
	}
	return strings.Join(parts, " & ")
}

// hasWords reports whether the query uses the word index.
func (q SearchQuery) hasWords() bool { return len(q.Words) > 0 || len(q.Phrases) > 0 }
