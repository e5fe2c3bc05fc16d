package projections_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/projections"
)

// searchable is what gen remembers of a live message, to know what
// search must find.
type searchable struct {
	sender        domain.UserID
	text          string
	files, images []string
}

// searchVocabulary are words and links gen adds to messages.
var searchVocabulary = []string{"apple", "banana", "cherry", "durian", "elderberry", "see https://example.org/page", "at www.example.net"}

// searchWords returns a few words of searchVocabulary.
func (g *gen) searchWords() string {
	var s string
	for range g.rng.IntN(3) {
		s += " " + searchVocabulary[g.rng.IntN(len(searchVocabulary))]
	}
	return s
}

// track records what a room event changes of what search finds.
func (g *gen) track(room domain.RoomID, seq uint64, ev domain.Event) {
	if g.texts[room] == nil {
		g.texts[room] = map[uint64]*searchable{}
	}
	switch ev := ev.(type) {
	case domain.MessagePosted:
		s := &searchable{sender: ev.SenderID, text: ev.Text}
		for _, a := range ev.Attachments {
			s.files = append(s.files, a.ID)
			if strings.HasPrefix(a.ContentType, "image/") {
				s.images = append(s.images, a.ID)
			}
		}
		g.texts[room][seq] = s
	case domain.MessageEdited:
		if s := g.texts[room][ev.Seq]; s != nil {
			s.text = ev.Text
			drop := func(ids []string) []string {
				return slices.DeleteFunc(ids, func(id string) bool { return slices.Contains(ev.RemovedAttachments, id) })
			}
			s.files, s.images = drop(s.files), drop(s.images)
		}
	case domain.MessageDeleted:
		delete(g.texts[room], ev.Seq)
	}
}

// searchCase is a query and what a message must be to match it.
type searchCase struct {
	q     string
	match func(s *searchable) bool
}

func hasWordPrefix(text, prefix string) bool {
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !('a' <= r && r <= 'z' || '0' <= r && r <= '9')
	}) {
		if strings.HasPrefix(w, prefix) {
			return true
		}
	}
	return false
}

func searchCases(user *domain.User) []searchCase {
	cases := []searchCase{
		{"has:file", func(s *searchable) bool { return len(s.files) > 0 }},
		{"has:image", func(s *searchable) bool { return len(s.images) > 0 }},
		{"has:link", func(s *searchable) bool {
			return strings.Contains(s.text, "https://") || strings.Contains(s.text, "www.")
		}},
		{"from:" + user.Username, func(s *searchable) bool { return s.sender == user.ID }},
		{"ban has:file", func(s *searchable) bool { return hasWordPrefix(s.text, "ban") && len(s.files) > 0 }},
		{`"edited" che`, func(s *searchable) bool { return hasWordPrefix(s.text, "edited") && hasWordPrefix(s.text, "che") }},
	}
	for _, w := range []string{"app", "banana", "durian", "elder", "mess"} {
		cases = append(cases, searchCase{w, func(s *searchable) bool { return hasWordPrefix(s.text, w) }})
	}
	return cases
}

// searchAll pages through every result of q for user, 7 at a time, and
// returns them as "room/seq", in order.
func searchAll(t *testing.T, p *projections.Projections, user domain.UserID, q string) []string {
	t.Helper()
	parsed, err := projections.ParseSearchQuery(q)
	if err != nil {
		t.Fatalf("parse %q: %v", q, err)
	}
	var out []string
	cursor := ""
	for range 1000 {
		page, err := p.Search(ctx, user, parsed, "", cursor, 7)
		if err != nil {
			t.Fatalf("search %q: %v", q, err)
		}
		for _, r := range page.Results {
			out = append(out, fmt.Sprintf("%s/%d", r.Room.ID, r.Message.Seq))
		}
		if page.Next == "" {
			return out
		}
		cursor = page.Next
	}
	t.Fatalf("search %q: no last page", q)
	return nil
}

// verifySearch checks that search finds, for some of gen's users, what
// gen says it must: the live messages of the rooms they are members of
// that match.
func verifySearch(t *testing.T, p *projections.Projections, g *gen) {
	t.Helper()
	for _, id := range g.userIDs[:min(len(g.userIDs), 6)] {
		u := g.users[id]
		for _, c := range searchCases(u) {
			var want []string
			for rid, r := range g.rooms {
				if _, member := r.Members[id]; !member {
					continue
				}
				for seq, s := range g.texts[rid] {
					if c.match(s) {
						want = append(want, fmt.Sprintf("%s/%d", rid, seq))
					}
				}
			}
			got := searchAll(t, p, id, c.q)
			sorted := slices.Clone(got)
			slices.Sort(sorted)
			slices.Sort(want)
			if !slices.Equal(sorted, want) {
				t.Errorf("%s searches %q: %d results, want %d\n got %v\nwant %v", u.Username, c.q, len(got), len(want), sorted, want)
			}
		}
	}
}

// searchSnapshot returns every result, in order, of gen's queries for
// some of its users: equal snapshots mean equal indexes.
func searchSnapshot(t *testing.T, p *projections.Projections, g *gen) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, id := range g.userIDs[:min(len(g.userIDs), 6)] {
		for _, c := range searchCases(g.users[id]) {
			out[string(id)+" "+c.q] = searchAll(t, p, id, c.q)
		}
	}
	return out
}

func sameSearch(t *testing.T, got, want map[string][]string) {
	t.Helper()
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Errorf("search %s:\n got %v\nwant %v", k, got[k], w)
		}
	}
}

// searchLog is a small log for the hand-written search tests: alice, bob,
// carol and dave in general; alice and bob in random; a DM of alice and
// bob.
func searchLog(t *testing.T) *logBuilder {
	l := newLog(t).signUp("alice", "bob", "carol", "dave").group(bob, carol, dave)
	random := domain.RoomID("random")
	dm := domain.DMRoomID(alice, bob)
	l.room(random, domain.RoomCreated{RoomID: random, Kind: domain.KindGroup, Name: "Random Stuff", OwnerID: alice, Members: []domain.UserID{alice}, InviteCode: "c2", At: at(1)})
	l.room(random, domain.MemberJoined{UserID: bob, At: at(2)})
	l.room(dm, domain.RoomCreated{RoomID: dm, Kind: domain.KindDM, Members: []domain.UserID{alice, bob}, At: at(2)})
	post := func(room domain.RoomID, from domain.UserID, day int, text string, atts ...domain.Attachment) {
		var mentions []domain.UserID
		for _, n := range domain.ParseMentions(text) {
			mentions = append(mentions, domain.UserIDFor(n))
		}
		l.room(room, domain.MessagePosted{SenderID: from, ClientMsgID: fmt.Sprint(len(l.events)), Text: text, Mentions: mentions,
			Attachments: atts, At: t0.AddDate(0, 0, day)})
	}
	png := domain.Attachment{ID: "a1", Name: "cat.png", Size: 3, ContentType: "image/png", Width: 1, Height: 1, Digest: "sha256:00"}
	pdf := domain.Attachment{ID: "a2", Name: "plan.pdf", Size: 3, ContentType: "application/pdf", Digest: "sha256:00"}
	post(general, alice, 0, "Hello world, the Deployment is today")                // general 5
	post(general, bob, 1, "deploying now @carol see https://ci.example.com/run/1") // general 6
	post(general, carol, 2, "Café crème for everyone", png)                        // general 7
	post(random, alice, 3, "the quarterly plan", pdf, png)                         // random 3
	post(dm, bob, 4, "secret deployment notes for @alice")                         // dm 2
	post(general, dave, 5, "hello again world")                                    // general 8
	post(general, alice, 6, "to be deleted: deployment")                           // general 9
	l.room(general, domain.MessageEdited{Seq: 8, Text: "goodbye world @dave", Mentions: []domain.UserID{dave}, At: t0.AddDate(0, 0, 6)})
	l.room(general, domain.MessageDeleted{Seq: 9, By: alice, At: t0.AddDate(0, 0, 6)})
	l.room(random, domain.MessageEdited{Seq: 3, Text: "the quarterly plan v2", RemovedAttachments: []string{"a1"}, At: t0.AddDate(0, 0, 7)})
	return l
}

func TestSearch(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		p := b.open(t)
		l := searchLog(t)
		if err := p.Apply(ctx, l.events); err != nil {
			t.Fatal(err)
		}
		dm := domain.DMRoomID(alice, bob)
		find := func(user domain.UserID, q string) []string {
			t.Helper()
			return searchAll(t, p, user, q)
		}
		g, r, d := "general/", "random/", string(dm)+"/"
		for _, c := range []struct {
			user domain.UserID
			q    string
			want []string
		}{
			{alice, "deploy", []string{d + "2", g + "6", g + "5"}}, // a prefix; newest first; not the deleted one
			{alice, "DEPLOYMENT", []string{d + "2", g + "5"}},
			{carol, "deploy", []string{g + "6", g + "5"}}, // not the DM
			{alice, "hello", []string{g + "5"}},           // general 8 was edited
			{alice, "goodbye", []string{g + "8"}},
			{alice, `"hello world"`, []string{g + "5"}},
			{alice, `"world hello"`, nil},
			{alice, `"the deployment"`, []string{g + "5"}},
			{alice, "cafe", []string{g + "7"}}, // diacritics folded on SQLite; PostgreSQL's simple config keeps them
			{alice, "from:bob", []string{d + "2", g + "6"}},
			{alice, "from:bob from:dave", []string{g + "8", d + "2", g + "6"}},
			{alice, "from:BOB deploy", []string{d + "2", g + "6"}},
			{alice, "in:general deploy", []string{g + "6", g + "5"}},
			{alice, `in:"random stuff"`, []string{r + "3"}},
			{alice, "in:" + string(dm), []string{d + "2"}},
			{alice, "in:nowhere", nil},
			{alice, "has:file", []string{r + "3", g + "7"}},
			{alice, "has:image", []string{g + "7"}}, // random 3's image was taken off
			{alice, "has:link", []string{g + "6"}},
			{alice, "mentions:carol", []string{g + "6"}},
			{alice, "mentions:alice", []string{d + "2"}},
			{alice, "mentions:dave", []string{g + "8"}}, // mentioned by an edit
			{alice, "mentions:carol deploy", []string{g + "6"}},
			{alice, "mentions:carol hello", nil},
			{alice, "mentions:alice mentions:carol", []string{d + "2", g + "6"}},
			{alice, "mentions:alice from:alice", nil},
			{alice, "mentions:dave in:general", []string{g + "8"}},
			// A word is looked for in the text, not in the IDs of mentions.
			{alice, strings.ReplaceAll(string(carol), "-", "")[:6], nil},
			{alice, "before:2025-03-02", []string{g + "5"}},
			{alice, "after:2025-03-05 before:2025-03-07", []string{g + "8"}},
			{alice, "after:2025-03-07", nil},
			{alice, "plan v2", []string{r + "3"}},
			{bob, "plan", []string{r + "3"}},
			{carol, "plan", nil},
			{dave, "secret", nil},
		} {
			if c.q == "cafe" && b.dialect == projections.Postgres {
				c.q = "café"
			}
			if got := find(c.user, c.q); !slices.Equal(got, c.want) {
				t.Errorf("%s searches %q: %v, want %v", c.user, c.q, got, c.want)
			}
		}

		// room_id restricts; a room one is not in gives nothing.
		q := must[projections.SearchQuery](t)(projections.ParseSearchQuery("deploy"))
		page := must[projections.SearchPage](t)(p.Search(ctx, alice, q, general, "", 10))
		if len(page.Results) != 2 || page.Results[0].Room != (projections.SearchRoom{ID: general, Name: "General", Kind: domain.KindGroup}) {
			t.Errorf("in general: %+v", page)
		}
		if page := must[projections.SearchPage](t)(p.Search(ctx, carol, q, dm, "", 10)); len(page.Results) != 0 {
			t.Errorf("carol in the DM: %+v", page)
		}
		// The message comes whole.
		m := page.Results[0].Message
		if m.Seq != 6 || m.SenderID != bob || m.SenderName != "bob" || !strings.HasPrefix(m.Text, "deploying now") {
			t.Errorf("message: %+v", m)
		}

		// Paging: one at a time, the same as all at once.
		var paged []string
		cursor := ""
		for {
			page := must[projections.SearchPage](t)(p.Search(ctx, alice, q, "", cursor, 1))
			for _, r := range page.Results {
				paged = append(paged, fmt.Sprintf("%s/%d", r.Room.ID, r.Message.Seq))
			}
			if page.Next == "" {
				break
			}
			cursor = page.Next
		}
		equal(t, "paged", paged, find(alice, "deploy"))
		for _, bad := range []string{"x", "czA" /* s0 */, "cy01" /* s-5 */, "!!", "czE="} {
			_, err := p.Search(ctx, alice, q, "", bad, 10)
			wantKind(t, err, domain.KindInvalid)
		}
		for _, n := range []int{0, -1, projections.MaxSearchLimit + 1} {
			_, err := p.Search(ctx, alice, q, "", "", n)
			wantKind(t, err, domain.KindInvalid)
		}

		// Kicked from general, carol finds nothing from it, old or new.
		more := newLog(t)
		more.events, more.revs = l.events, l.revs
		more.room(general, domain.MemberKicked{UserID: carol, By: alice, At: at(9)})
		more.room(general, domain.MessagePosted{SenderID: alice, ClientMsgID: "k1", Text: "deploy after the kick", At: t0.AddDate(0, 0, 8)})
		if err := p.Apply(ctx, more.events[len(l.events):]); err != nil {
			t.Fatal(err)
		}
		if got := find(carol, "deploy"); got != nil {
			t.Errorf("carol, kicked, finds %v", got)
		}
		if got := find(carol, "from:carol"); got != nil {
			t.Errorf("carol, kicked, finds her own %v", got)
		}
		equal(t, "alice after the kick", find(alice, "deploy"), []string{g + "13", d + "2", g + "6", g + "5"})
	})
}

// TestSearchHostileQueries feeds query syntax of FTS5 and tsquery: none
// of it is syntax here, nothing fails but with a clear invalid error, and
// the words in it are searched as words.
func TestSearchHostileQueries(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		p := b.open(t)
		l := searchLog(t)
		l.room(general, domain.MessagePosted{SenderID: alice, ClientMsgID: "h1", Text: `near text NOT or AND "quoted" it's a*b -minus col:umn`, At: t0.AddDate(0, 0, 9)})
		if err := p.Apply(ctx, l.events); err != nil {
			t.Fatal(err)
		}
		g, d := "general/", string(domain.DMRoomID(alice, bob))+"/"
		for _, c := range []struct {
			q    string
			want []string
		}{
			{`NEAR(deploy hello)`, nil}, // the words near, deploy and hello: no message has all
			{`near`, []string{g + "12"}},
			{`NOT`, []string{g + "12", d + "2"}}, // and "notes"
			{`note:`, []string{d + "2"}},
			{`deploy OR hello`, nil}, // three words, all must match
			{`or and`, []string{g + "12"}},
			{`"quoted`, []string{g + "12"}},
			{`"`, nil},
			{`a*b`, []string{g + "12"}},
			{`*`, nil},
			{`-minus`, []string{g + "12"}},
			{`it's`, []string{g + "12"}},
			{`'`, nil},
			{`\`, nil},
			{`:*`, nil},
			{`deploy:*`, nil},
			{`hello & world`, []string{g + "5"}},
			{`hello | goodbye`, nil},
			{`(hello) <-> !world`, []string{g + "5"}},
			{`{hello} : world`, []string{g + "5"}},
			{`^hello`, []string{g + "5"}},
			{`hello+world`, []string{g + "5"}},
			{`10:30`, nil},
		} {
			q, err := projections.ParseSearchQuery(c.q)
			if err != nil {
				if c.want == nil && domain.KindOf(err) == domain.KindInvalid {
					continue // an empty query
				}
				t.Errorf("%q: %v", c.q, err)
				continue
			}
			page, err := p.Search(ctx, alice, q, "", "", 50)
			if err != nil {
				t.Errorf("%q: %v", c.q, err)
				continue
			}
			var got []string
			for _, r := range page.Results {
				got = append(got, fmt.Sprintf("%s/%d", r.Room.ID, r.Message.Seq))
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("%q: %v, want %v", c.q, got, c.want)
			}
		}
	})
}

func TestParseSearchQuery(t *testing.T) {
	for _, c := range []struct {
		q     string
		terms []string
		want  string // a part of the parse
	}{
		{"Hello  World", []string{"hello", "world"}, ""},
		{`"Big Deal" big`, []string{"big", "deal"}, ""},
		{"from:alice in:general has:file has:image has:link", []string{}, ""},
		{"before:2025-01-02 after:2024-12-01 mentions:bob x", []string{"x"}, ""},
		{`in:"a b c" word`, []string{"word"}, ""},
		{"naïve café", []string{"naïve", "café"}, ""},
		{"FROM:alice HAS:FILE", []string{}, ""},
	} {
		q, err := projections.ParseSearchQuery(c.q)
		if err != nil {
			t.Errorf("%q: %v", c.q, err)
			continue
		}
		equal(t, c.q, q.Terms(), c.terms)
	}
	q := must[projections.SearchQuery](t)(projections.ParseSearchQuery(`from:alice in:"a b c" has:image after:2024-12-01 mentions:Bob "x y"`))
	equal(t, "from", q.From, []domain.UserID{alice})
	equal(t, "in", q.In, []string{"a b c"})
	equal(t, "mentions", q.Mentions, []domain.UserID{bob})
	equal(t, "phrases", q.Phrases, [][]string{{"x", "y"}})
	if !q.HasImage || q.HasFile || q.HasLink || q.After.Format("2006-01-02") != "2024-12-01" {
		t.Errorf("%+v", q)
	}

	for _, bad := range []string{
		"", "   ", "*", `""`, "!!! ???",
		"nope:x", "text:foo", "from:", "from:a b", "from:not/a/name", "has:video", "has:",
		"before:2025-13-01", "after:yesterday", "before:2025-1-1",
		strings.Repeat("a", projections.MaxSearchQueryLen+1),
		strings.Repeat("w ", projections.MaxSearchWords+1),
		strings.Repeat("has:file ", projections.MaxSearchFilters+1),
		strings.Repeat("x", 65),
		"\xff",
	} {
		if _, err := projections.ParseSearchQuery(bad); err == nil || domain.KindOf(err) != domain.KindInvalid {
			t.Errorf("%q: %v, want an invalid error", bad, err)
		}
	}
}

func TestMessagesAroundAndAfter(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		p := b.open(t)
		l := newLog(t).signUp("alice").group() // seq 1
		for i := range 10 {
			l.room(general, domain.MessagePosted{SenderID: alice, ClientMsgID: fmt.Sprint(i), Text: fmt.Sprint("m", i), At: at(10 + i)}) // seqs 2..11
		}
		if err := p.Apply(ctx, l.events); err != nil {
			t.Fatal(err)
		}
		seqs := func(msgs []projections.Message, err error) []uint64 {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			out := []uint64{}
			for _, m := range msgs {
				out = append(out, m.Seq)
			}
			return out
		}
		equal(t, "around 6, 5", seqs(p.MessagesAround(ctx, general, 6, 5)), []uint64{8, 7, 6, 5, 4})
		equal(t, "around 6, 4", seqs(p.MessagesAround(ctx, general, 6, 4)), []uint64{8, 7, 6, 5})
		equal(t, "around 6, 1", seqs(p.MessagesAround(ctx, general, 6, 1)), []uint64{6})
		equal(t, "around 2, 5", seqs(p.MessagesAround(ctx, general, 2, 5)), []uint64{4, 3, 2})
		equal(t, "around 11, 5", seqs(p.MessagesAround(ctx, general, 11, 5)), []uint64{11, 10, 9})
		equal(t, "around 1 (not a message), 4", seqs(p.MessagesAround(ctx, general, 1, 4)), []uint64{3, 2})
		equal(t, "around 50, 4", seqs(p.MessagesAround(ctx, general, 50, 4)), []uint64{11})
		equal(t, "after 6, 3", seqs(p.MessagesAfter(ctx, general, 6, 3)), []uint64{9, 8, 7})
		equal(t, "after 0, 2", seqs(p.MessagesAfter(ctx, general, 0, 2)), []uint64{3, 2})
		equal(t, "after 10, 5", seqs(p.MessagesAfter(ctx, general, 10, 5)), []uint64{11})
		equal(t, "after 11, 5", seqs(p.MessagesAfter(ctx, general, 11, 5)), []uint64{})
		for _, n := range []int{0, projections.MaxMessagesLimit + 1} {
			_, err := p.MessagesAround(ctx, general, 5, n)
			wantKind(t, err, domain.KindInvalid)
			_, err = p.MessagesAfter(ctx, general, 5, n)
			wantKind(t, err, domain.KindInvalid)
		}
		_, err := p.MessagesAround(ctx, general, 0, 5)
		wantKind(t, err, domain.KindInvalid)
	})
}

// TestSearchIndexUpgrade opens SQLite read models whose FTS5 index is of
// before its mentions column: Open remakes it from proj_search, and
// mentions: and words find what they did on fresh read models.
func TestSearchIndexUpgrade(t *testing.T) {
	b := newSQLiteBackend(t)
	p := b.open(t)
	if err := p.Apply(ctx, searchLog(t).events); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	queries := []string{"mentions:carol", "mentions:carol deploy", "deploy", `"hello world"`, "mentions:dave"}
	for _, q := range queries {
		want[q] = searchAll(t, p, alice, q)
	}
	b.exec(t, `DROP TABLE proj_search_fts`)
	b.exec(t, `CREATE VIRTUAL TABLE proj_search_fts USING fts5(text, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2', prefix='2 3 4 5 6')`)
	b.exec(t, `INSERT INTO proj_search_fts (rowid, text) SELECT pos, text FROM proj_search`)

	p = b.open(t)
	for _, q := range queries {
		equal(t, q+" after the upgrade", searchAll(t, p, alice, q), want[q])
	}
	equal(t, "mentions:carol", want["mentions:carol"], []string{"general/6"})
}

// TestSearchSpans searches 6,000 messages, more than PostgreSQL's first
// spans of positions, for words whose matches are dense, sparse, bunched
// at the far end or alone: every search finds, page by page, exactly the
// matching messages, newest first, whatever the density told the next
// span.
func TestSearchSpans(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		p := b.open(t)
		l := newLog(t).signUp("alice", "bob").group(bob)
		const n = 6000
		var want = map[string][]string{}
		for i := range n {
			words := []string{"filler"}
			if i%2 == 0 {
				words = append(words, "dense")
			}
			if i%997 == 0 {
				words = append(words, "sparse")
			}
			if i < 40 {
				words = append(words, "ancient")
			}
			if i == 3 || i == 5000 {
				words = append(words, "lonely")
			}
			if i%3 == 0 {
				words = append(words, "third")
			}
			seq := fmt.Sprintf("general/%d", i+3) // after the group's first events
			for _, w := range words {
				want[w] = append([]string{seq}, want[w]...)
			}
			if i%2 == 0 && i%997 == 0 {
				want["dense sparse"] = append([]string{seq}, want["dense sparse"]...)
			}
			if i < 40 && i%3 == 0 {
				want["ancient third"] = append([]string{seq}, want["ancient third"]...)
			}
			l.room(general, domain.MessagePosted{SenderID: alice, ClientMsgID: fmt.Sprint(i), Text: strings.Join(words, " "), At: t0})
		}
		if err := p.Apply(ctx, l.events); err != nil {
			t.Fatal(err)
		}
		want["nowhere"] = nil
		for q, w := range want {
			if got := searchAll(t, p, bob, q); !slices.Equal(got, w) {
				t.Errorf("%q: %d results, want %d (first %v, want %v)", q, len(got), len(w), got[:min(len(got), 3)], w[:min(len(w), 3)])
			}
		}
	})
}
