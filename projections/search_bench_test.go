package projections_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/projections"
	"github.com/google/uuid"
)

// The search benchmark: a log of CONFAB_SEARCH_BENCH_MESSAGES messages
// (default 1,000,000) in 200 rooms of 50 users, words drawn from a
// vocabulary of 10,000 with a Zipf law as in real text, applied in
// batches of 1000 (the projection's bulk path, as Rebuild does); then
// one user, a member of 40 of the rooms (a fifth of the messages),
// searches. Each query kind reports its latency's p50 and p99.
//
//	CI=true go test -run '^$' -bench BenchmarkSearch -benchtime 200x -timeout 60m ./projections

const (
	benchUsers = 50
	benchRooms = 200
	benchVocab = 10000
)

var benchSyllables = strings.Fields("ka lo mi ne su ta ri po ve du ba ke li mo nu sa te ro pi va de bu ga ko ma ni so tu re pa vi do be gu fa lu me no si")

// benchWord returns the vocabulary's word of rank i (0: the most
// frequent): syllables spelling i, so every word is different.
func benchWord(i int) string {
	n := len(benchSyllables)
	var b strings.Builder
	i += n // at least two syllables
	for i > 0 {
		b.WriteString(benchSyllables[i%n])
		i /= n
	}
	return b.String()
}

func benchUser(i int) string { return fmt.Sprintf("user%02d", i) }
func benchRoom(i int) domain.RoomID {
	return domain.RoomID(fmt.Sprintf("00000000-0000-4000-8000-%012d", i))
}
func benchSearcher() domain.UserID { return domain.UserIDFor(benchUser(0)) }
func benchSearcherRoom(i int) bool { return i%5 == 0 }
func benchMessages(b *testing.B) int {
	if s := os.Getenv("CONFAB_SEARCH_BENCH_MESSAGES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("CONFAB_SEARCH_BENCH_MESSAGES=%q", s)
		}
		return n
	}
	return 1_000_000
}

// benchLog writes the benchmark's log to apply, 1000 events at a time;
// the same log every time.
type benchLog struct {
	rng   *rand.Rand
	zipf  *rand.Zipf
	revs  map[string]uint64
	pos   uint64
	batch []eventstore.RecordedEvent
	at    time.Time
}

func newBenchLog() *benchLog {
	rng := rand.New(rand.NewPCG(15, 15))
	return &benchLog{rng: rng, zipf: rand.NewZipf(rng, 1.07, 2, benchVocab-1), revs: map[string]uint64{}, at: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (l *benchLog) add(b *testing.B, stream string, ev domain.Event) {
	typ, data, err := domain.Encode(ev)
	if err != nil {
		b.Fatal(err)
	}
	l.revs[stream]++
	l.pos++
	l.batch = append(l.batch, eventstore.RecordedEvent{ID: uuid.New(), Stream: stream, Revision: l.revs[stream],
		Position: eventstore.Position{Commit: l.pos, Prepare: l.pos}, Type: typ, Data: data, RecordedAt: l.at})
}

func (l *benchLog) flush(b *testing.B, p *projections.Projections) {
	if len(l.batch) == 0 {
		return
	}
	if err := p.Apply(context.Background(), l.batch); err != nil {
		b.Fatal(err)
	}
	l.batch = l.batch[:0]
}

func (l *benchLog) write(b *testing.B, p *projections.Projections, messages int) {
	for i := range benchUsers {
		id := domain.UserIDFor(benchUser(i))
		l.add(b, domain.UserStream(id), domain.UserSignedUp{UserID: id, Username: benchUser(i), PasswordHash: "x", At: l.at})
	}
	for r := range benchRooms {
		members := []domain.UserID{}
		for u := 1; u < benchUsers; u++ {
			if l.rng.IntN(5) == 0 {
				members = append(members, domain.UserIDFor(benchUser(u)))
			}
		}
		if benchSearcherRoom(r) {
			members = append(members, benchSearcher())
		}
		owner := domain.UserIDFor(benchUser(1 + r%(benchUsers-1)))
		members = append(members, owner)
		l.add(b, domain.RoomStream(benchRoom(r)), domain.RoomCreated{RoomID: benchRoom(r), Kind: domain.KindGroup, Name: fmt.Sprint("room ", r),
			OwnerID: owner, Members: members, InviteCode: fmt.Sprint("c", r), At: l.at})
	}
	l.flush(b, p)
	var text strings.Builder
	for i := range messages {
		l.at = l.at.Add(time.Second)
		text.Reset()
		for j := range 8 + l.rng.IntN(8) {
			if j > 0 {
				text.WriteByte(' ')
			}
			text.WriteString(benchWord(int(l.zipf.Uint64())))
		}
		m := domain.MessagePosted{SenderID: domain.UserIDFor(benchUser(l.rng.IntN(benchUsers))), ClientMsgID: strconv.Itoa(i), At: l.at}
		switch l.rng.IntN(20) {
		case 0:
			text.WriteString(" https://example.com/" + benchWord(l.rng.IntN(benchVocab)))
		case 1:
			m.Mentions = []domain.UserID{benchSearcher()}
			text.WriteString(" @" + benchUser(0))
		case 2:
			m.Attachments = []domain.Attachment{{ID: "a" + strconv.Itoa(i), Name: "x.png", Size: 1, ContentType: "image/png", Digest: "sha256:00"}}
		}
		m.Text = text.String()
		l.add(b, domain.RoomStream(benchRoom(l.rng.IntN(benchRooms))), m)
		if len(l.batch) == 1000 {
			l.flush(b, p)
		}
	}
	l.flush(b, p)
}

// benchQueries are the kinds of queries, each several queries taken in
// turn.
func benchQueries() []struct {
	name    string
	queries []string
} {
	words := func(ranks ...int) []string {
		var out []string
		for _, r := range ranks {
			out = append(out, benchWord(r))
		}
		return out
	}
	common, medium, rare := words(0, 1, 2, 3, 4), words(100, 150, 200, 250, 300), words(5000, 6000, 7000, 8000, 9000)
	var two, phrase, prefix, inRoom []string
	for i := range 5 {
		two = append(two, common[i]+" "+medium[i])
		phrase = append(phrase, `"`+common[i]+" "+common[(i+1)%5]+`"`)
		prefix = append(prefix, medium[i][:3])
		inRoom = append(inRoom, fmt.Sprintf(`in:"room %d" %s`, 5*i, medium[i]))
	}
	return []struct {
		name    string
		queries []string
	}{
		{"common-word", common},
		{"medium-word", medium},
		{"rare-word", rare},
		{"two-words", two},
		{"phrase", phrase},
		{"prefix-3", prefix},
		{"in-room+word", inRoom},
		{"from", []string{"from:user01", "from:user02", "from:user03", "from:user04", "from:user05"}},
		{"from+has-link", []string{"from:user01 has:link", "from:user02 has:link", "from:user03 has:link", "from:user04 has:link", "from:user05 has:link"}},
		{"mentions+word", []string{"mentions:user00 " + medium[0], "mentions:user00 " + medium[1], "mentions:user00 " + medium[2], "mentions:user00 " + medium[3], "mentions:user00 " + medium[4]}},
		{"rare-word+has-image", []string{rare[0] + " has:image", rare[1] + " has:image", rare[2] + " has:image", rare[3] + " has:image", rare[4] + " has:image"}},
	}
}

func BenchmarkSearch(b *testing.B) {
	messages := benchMessages(b)
	for _, bk := range []struct {
		name string
		new  func(t testing.TB) *backend
	}{{"sqlite", newSQLiteBackend}, {"postgres", newPostgresBackend}} {
		b.Run(bk.name, func(b *testing.B) {
			be := bk.new(b)
			p := be.open(b)
			start := time.Now()
			newBenchLog().write(b, p, messages)
			b.Logf("%s: applied %d messages in %v (%.0f/s)", bk.name, messages, time.Since(start).Round(time.Millisecond), float64(messages)/time.Since(start).Seconds())
			if be.dialect == projections.Postgres {
				if _, err := be.db.Exec(`ANALYZE`); err != nil {
					b.Fatal(err)
				}
			}
			for _, kind := range benchQueries() {
				parsed := make([]projections.SearchQuery, len(kind.queries))
				for i, q := range kind.queries {
					var err error
					if parsed[i], err = projections.ParseSearchQuery(q); err != nil {
						b.Fatal(err)
					}
				}
				b.Run(kind.name, func(b *testing.B) {
					var lat []time.Duration
					results := 0
					i := 0
					for b.Loop() {
						t := time.Now()
						page, err := p.Search(context.Background(), benchSearcher(), parsed[i%len(parsed)], "", "", 25)
						lat = append(lat, time.Since(t))
						if err != nil {
							b.Fatal(err)
						}
						results += len(page.Results)
						i++
					}
					slices.Sort(lat)
					b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
					b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
					b.ReportMetric(float64(results)/float64(len(lat)), "results/op")
				})
			}
		})
	}
}
