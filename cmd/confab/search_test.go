package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/confabhq/confab/internal/apitest"
)

// searchAnswer is GET /api/v1/search's answer.
type searchAnswer struct {
	Results []struct {
		Message apitest.Message `json:"message"`
		Room    struct {
			ID   string `json:"id"`
			Name string `json:"name"`
			Kind string `json:"kind"`
		} `json:"room"`
	} `json:"results"`
	Terms      []string `json:"terms"`
	NextCursor string   `json:"next_cursor"`
}

// texts returns the results' texts, in order.
func (a searchAnswer) texts() []string {
	var out []string
	for _, r := range a.Results {
		out = append(out, r.Message.Text)
	}
	return out
}

// TestSearchAPI runs search on a real server, on both stores: the filters,
// edits and deletions, a kicked member, paging, bad and hostile queries,
// and the around/after pages a client jumps to a result with.
func TestSearchAPI(t *testing.T) {
	for name, sut := range storesUnderTest(t) {
		t.Run(name, func(t *testing.T) {
			addr, stop := startServe(t, sut.args...)
			defer stop()
			base := "http://" + addr
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			signUp := func(name string) *apitest.Client {
				c, err := apitest.SignUp(ctx, base, name, "password "+name)
				if err != nil {
					t.Fatalf("sign up %s: %v", name, err)
				}
				return c
			}
			alice, bob, carol := signUp("alice"), signUp("bob"), signUp("carol")
			ops, err := alice.CreateRoom(ctx, "Ops Team")
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []*apitest.Client{bob, carol} {
				if _, err := c.Join(ctx, ops.InviteCode); err != nil {
					t.Fatal(err)
				}
			}
			dm, err := alice.DM(ctx, bob.User.ID)
			if err != nil {
				t.Fatal(err)
			}
			post := func(c *apitest.Client, room, text string) apitest.Message {
				t.Helper()
				m, err := c.Post(ctx, room, fmt.Sprint(time.Now().UnixNano()), text)
				if err != nil {
					t.Fatalf("post %q: %v", text, err)
				}
				return m
			}
			m1 := post(alice, ops.ID, "Deploy the release tonight")
			post(bob, ops.ID, "deployment logs at https://ci.example.com/42 @carol")
			m3 := post(carol, ops.ID, "typo in the deploymnet")
			post(bob, dm.ID, "private deploy notes for @alice")
			m5 := post(alice, ops.ID, "this one goes away: deploy")

			search := func(c *apitest.Client, q string, extra ...string) (searchAnswer, error) {
				var a searchAnswer
				path := "/api/v1/search?q=" + url.QueryEscape(q)
				for _, e := range extra {
					path += "&" + e
				}
				err := c.Do(ctx, "GET", path, nil, &a)
				return a, err
			}
			texts := func(c *apitest.Client, q string, extra ...string) []string {
				t.Helper()
				a, err := search(c, q, extra...)
				if err != nil {
					t.Fatalf("search %q: %v", q, err)
				}
				return a.texts()
			}

			// Edits and deletions are reflected (an edit keeps the
			// message's place: results are in the order they were posted).
			if err := carol.Do(ctx, "PATCH", fmt.Sprintf("/api/v1/rooms/%s/messages/%d", ops.ID, m3.Seq), map[string]string{"text": "typo fixed: deployment"}, nil); err != nil {
				t.Fatal(err)
			}
			if err := alice.Do(ctx, "DELETE", fmt.Sprintf("/api/v1/rooms/%s/messages/%d", ops.ID, m5.Seq), nil, nil); err != nil {
				t.Fatal(err)
			}

			today := time.Now().UTC()
			day := func(d int) string { return today.AddDate(0, 0, d).Format(time.DateOnly) }
			for _, c := range []struct {
				who  *apitest.Client
				q    string
				want []string
			}{
				{alice, "deploy", []string{"private deploy notes for @alice", "typo fixed: deployment", "deployment logs at https://ci.example.com/42 @carol", "Deploy the release tonight"}},
				{carol, "deploy", []string{"typo fixed: deployment", "deployment logs at https://ci.example.com/42 @carol", "Deploy the release tonight"}},
				{alice, "deploymnet", nil},
				{alice, "goes away", nil},
				{alice, `"the release"`, []string{"Deploy the release tonight"}},
				{alice, "from:bob", []string{"private deploy notes for @alice", "deployment logs at https://ci.example.com/42 @carol"}},
				{alice, "from:bob in:ops-nope", nil},
				{alice, `in:"ops team" from:bob`, []string{"deployment logs at https://ci.example.com/42 @carol"}},
				{alice, "in:" + dm.ID, []string{"private deploy notes for @alice"}},
				{alice, "has:link", []string{"deployment logs at https://ci.example.com/42 @carol"}},
				{alice, "has:file", nil},
				{alice, "has:image", nil},
				{alice, "mentions:carol", []string{"deployment logs at https://ci.example.com/42 @carol"}},
				{alice, "mentions:alice deploy", []string{"private deploy notes for @alice"}},
				{alice, "before:" + day(0) + " deploy", nil},
				{alice, "after:" + day(-1) + " before:" + day(1) + " release", []string{"Deploy the release tonight"}},
				{alice, "after:" + day(0), nil},
			} {
				if got := texts(c.who, c.q); !slices.Equal(got, c.want) {
					t.Errorf("%s searches %q:\n got %q\nwant %q", c.who.User.Username, c.q, got, c.want)
				}
			}
			if got := texts(alice, "deploy", "room_id="+dm.ID); !slices.Equal(got, []string{"private deploy notes for @alice"}) {
				t.Errorf("room_id: %q", got)
			}
			if got := texts(carol, "deploy", "room_id="+dm.ID); got != nil {
				t.Errorf("carol searches the DM: %q", got)
			}

			// The answer: the message whole, its room, the terms.
			a, err := search(alice, `Tonight "THE release" from:alice`)
			if err != nil {
				t.Fatal(err)
			}
			if len(a.Results) != 1 || a.Results[0].Message.Seq != m1.Seq || a.Results[0].Message.RoomID != ops.ID ||
				a.Results[0].Message.SenderName != "alice" || a.Results[0].Room.ID != ops.ID || a.Results[0].Room.Name != "Ops Team" ||
				a.Results[0].Room.Kind != "group" || !slices.Equal(a.Terms, []string{"tonight", "the", "release"}) || a.NextCursor != "" {
				t.Errorf("answer: %+v", a)
			}

			// Paging, one at a time, walks the same results.
			var paged []string
			cursor := ""
			for range 10 {
				extra := []string{"limit=1"}
				if cursor != "" {
					extra = append(extra, "cursor="+url.QueryEscape(cursor))
				}
				a, err := search(alice, "deploy", extra...)
				if err != nil {
					t.Fatal(err)
				}
				paged = append(paged, a.texts()...)
				if cursor = a.NextCursor; cursor == "" {
					break
				}
			}
			if want := texts(alice, "deploy"); !slices.Equal(paged, want) {
				t.Errorf("paged: %q, want %q", paged, want)
			}

			// Bad queries: 400 invalid, nothing appended.
			head := sut.head(t, ctx)
			for _, q := range []string{
				"q=", "q=%20%20", "q=*", "q=nope:x", "q=text:deploy", "q=has:video", "q=before:2025-02-30", "q=after:soon", "q=from:",
				"q=deploy&limit=0", "q=deploy&limit=51", "q=deploy&limit=x", "q=deploy&cursor=nope", "q=deploy&room_id=garbage",
				"q=" + url.QueryEscape(string(make([]byte, 600))),
			} {
				var e *apitest.Error
				if err := alice.Do(ctx, "GET", "/api/v1/search?"+q, nil, nil); !errors.As(err, &e) || e.Status != 400 || e.Code != "invalid" || e.Message == "" {
					t.Errorf("%s: %v, want 400 invalid", q, err)
				}
			}
			var e *apitest.Error
			if err := apitest.New(base).Do(ctx, "GET", "/api/v1/search?q=deploy", nil, nil); !errors.As(err, &e) || e.Status != 401 {
				t.Errorf("signed out: %v, want 401", err)
			}
			// Hostile input is words, never query syntax.
			for _, q := range []string{`NEAR(deploy release)`, `deploy*`, `-deploy`, `"deploy`, `text:deploy OR 1=1`, `'); DROP TABLE proj_search; --`,
				`deploy & !release`, `deploy:*`, `{text}:deploy`, `^deploy`, `\"`, `deploy AND NOT release`} {
				_, err := search(alice, q)
				if err != nil && (!errors.As(err, &e) || e.Status != 400 || e.Code != "invalid") {
					t.Errorf("%q: %v", q, err)
				}
			}
			if got := texts(alice, `deploy*`); len(got) != 4 {
				t.Errorf("deploy*: %q", got)
			}
			if got := texts(alice, `-release`); !slices.Equal(got, []string{"Deploy the release tonight"}) {
				t.Errorf("-release: %q", got)
			}
			if got := sut.head(t, ctx); got != head {
				t.Errorf("bad queries changed the store: head %v, was %v", got, head)
			}

			// Kicked, carol finds nothing from the room, old or new.
			if err := alice.Do(ctx, "POST", "/api/v1/rooms/"+ops.ID+"/members/"+carol.User.ID+"/kick", nil, nil); err != nil {
				t.Fatal(err)
			}
			post(alice, ops.ID, "deploy done after the kick")
			for _, q := range []string{"deploy", "from:carol", "in:" + ops.ID, "mentions:carol"} {
				if got := texts(carol, q); got != nil {
					t.Errorf("carol, kicked, searches %q: %q", q, got)
				}
			}
			if got := texts(alice, "done"); !slices.Equal(got, []string{"deploy done after the kick"}) {
				t.Errorf("alice after the kick: %q", got)
			}

			// Jump to a result: around and after.
			var seqs []uint64
			for i := range 6 {
				seqs = append(seqs, post(alice, ops.ID, fmt.Sprint("line ", i)).Seq)
			}
			page := func(q string) []uint64 {
				t.Helper()
				var out struct{ Messages []apitest.Message }
				if err := alice.Do(ctx, "GET", "/api/v1/rooms/"+ops.ID+"/messages?"+q, nil, &out); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				got := []uint64{}
				for _, m := range out.Messages {
					got = append(got, m.Seq)
				}
				return got
			}
			if got, want := page(fmt.Sprintf("around=%d&limit=5", seqs[2])), []uint64{seqs[4], seqs[3], seqs[2], seqs[1], seqs[0]}; !slices.Equal(got, want) {
				t.Errorf("around: %v, want %v", got, want)
			}
			if got, want := page(fmt.Sprintf("after=%d&limit=2", seqs[2])), []uint64{seqs[4], seqs[3]}; !slices.Equal(got, want) {
				t.Errorf("after: %v, want %v", got, want)
			}
			if got, want := page(fmt.Sprintf("after=%d", seqs[4])), []uint64{seqs[5]}; !slices.Equal(got, want) {
				t.Errorf("after the last but one: %v, want %v", got, want)
			}
			for _, q := range []string{"around=1&before=5", "after=1&around=3", "before=3&after=1", "around=0", "around=x", "after=-1", "around=3&limit=0"} {
				if err := alice.Do(ctx, "GET", "/api/v1/rooms/"+ops.ID+"/messages?"+q, nil, nil); !errors.As(err, &e) || e.Status != 400 || e.Code != "invalid" {
					t.Errorf("%s: %v, want 400 invalid", q, err)
				}
			}
		})
	}
}
