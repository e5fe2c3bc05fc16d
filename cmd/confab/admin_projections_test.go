package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/eventstore/postgres"
	"github.com/confabhq/confab/internal/apitest"
)

// corrupt changes a message's text behind the read models' back, so that
// a test sees whether a rebuild replaced the table.
func corrupt(t *testing.T, store admStore, room string, seq int) {
	t.Helper()
	db, d := store.db(t)
	res, err := db.Exec(d.Rebind(`UPDATE proj_messages SET text = 'corrupted' WHERE room_id = ? AND seq = ?`), room, seq)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("corrupted %d rows, want 1", n)
	}
}

// history returns a room's messages as the API shows them, by seq.
func history(t *testing.T, ctx context.Context, c *apitest.Client, room string) map[uint64]apitest.Message {
	t.Helper()
	msgs, err := c.Messages(ctx, room, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint64]apitest.Message{}
	for _, m := range msgs {
		out[m.Seq] = m
	}
	return out
}

// status runs projections status --json.
func status(t *testing.T, store admStore) statusJSON {
	t.Helper()
	out, _ := admRun(t, nil, append([]string{"projections", "status", "--json"}, store.args...)...)
	var st statusJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Projections) != 1 {
		t.Fatalf("status output %q: %v", out, err)
	}
	return st
}

// TestAdminRebuildWhileServing rebuilds the read models while a server
// child serves and takes messages: a rebuild answered "no" keeps its
// shadow, the next resumes from it, messages sent while it waits to swap
// are in the tables it swaps in, and the server goes on serving and
// projecting after the swap. --verify swaps equal tables and refuses to
// swap different ones.
func TestAdminRebuildWhileServing(t *testing.T) {
	t.Parallel()
	for _, mk := range []func(*testing.T) admStore{admSQLite, admPostgres} {
		store := mk(t)
		t.Run(store.name, func(t *testing.T) {
			t.Parallel()
			ctx := admCtx(t)
			srv := admServe(t, store)
			alice, err := apitest.SignUp(ctx, srv.base, "alice", "correct horse battery")
			if err != nil {
				t.Fatal(err)
			}
			room, err := alice.CreateRoom(ctx, "general")
			if err != nil {
				t.Fatal(err)
			}
			post := func(id, text string) {
				t.Helper()
				if _, err := alice.Post(ctx, room.ID, id, text); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 60 {
				post(fmt.Sprintf("m%d", i), fmt.Sprintf("message %d", i))
			}
			corrupt(t, store, room.ID, 2)
			if got := history(t, ctx, alice, room.ID)[2].Text; got != "corrupted" {
				t.Fatalf("message 2 reads %q: the API does not read the table the test changed", got)
			}
			rebuild := append([]string{"projections", "rebuild", "--all", "--confirm", "--batch", "7", "--progress-interval", "1ms"}, store.args...)

			// Answered no: nothing swapped, the shadow stays.
			c := admStart(t, nil, rebuild...)
			c.stderr.waitFor(t, "Swap the rebuilt tables in? [y/N]", c.done)
			io.WriteString(c.stdin, "n\n")
			if err := c.wait(t); err == nil || !strings.Contains(c.stderr.String(), "not swapped; the shadow tables stay") {
				t.Fatalf("rebuild answered no: %v\n%s", err, c.stderr.String())
			}
			if st := status(t, store).Projections[0]; st.Shadow == nil || st.Shadow.Events == 0 {
				t.Fatalf("status after a rebuild answered no: %+v", st)
			}
			if got := history(t, ctx, alice, room.ID)[2].Text; got != "corrupted" {
				t.Fatalf("message 2 reads %q after a rebuild answered no", got)
			}

			// Resumed; messages arrive while it waits to swap.
			c = admStart(t, nil, rebuild...)
			c.stderr.waitFor(t, "Swap the rebuilt tables in? [y/N]", c.done)
			if !strings.Contains(c.stderr.String(), "resuming the interrupted rebuild at") {
				t.Fatalf("the second rebuild did not resume:\n%s", c.stderr.String())
			}
			for i := range 5 {
				post(fmt.Sprintf("d%d", i), fmt.Sprintf("during %d", i))
			}
			io.WriteString(c.stdin, "y\n")
			if err := c.wait(t); err != nil {
				t.Fatalf("rebuild: %v\n%s", err, c.stderr.String())
			}
			if out := c.stdout.String(); !strings.Contains(out, "read_models: resumed at") || !strings.Contains(out, "swapped in at") {
				t.Fatalf("rebuild printed %q", out)
			}
			if errOut := c.stderr.String(); !strings.Contains(errOut, "events/s") || !strings.Contains(errOut, "rebuild read_models: ") {
				t.Fatalf("no progress lines:\n%s", errOut)
			}

			// The server serves the swapped tables and goes on projecting.
			post("a0", "after the swap")
			h := history(t, ctx, alice, room.ID)
			if len(h) != 66 || h[2].Text != "message 0" || h[62].Text != "during 0" || h[66].Text != "during 4" || h[67].Text != "after the swap" {
				t.Fatalf("after the swap: %d messages; #2 %q, #62 %q, #66 %q, #67 %q", len(h), h[2].Text, h[62].Text, h[66].Text, h[67].Text)
			}
			// The search index was rebuilt and swapped with the rest, and
			// follows on.
			for q, want := range map[string]int{"during": 5, "swap": 1, `"message 42"`: 1, "message": 60} {
				var found struct{ Results []any }
				if err := alice.Do(ctx, "GET", "/api/v1/search?limit=50&q="+url.QueryEscape(q), nil, &found); err != nil {
					t.Fatalf("search %q after the swap: %v", q, err)
				}
				if n := len(found.Results); n != min(want, 50) {
					t.Errorf("search %q after the swap: %d results, want %d", q, n, min(want, 50))
				}
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				st := status(t, store)
				p := st.Projections[0]
				if p.Lag == 0 && p.Tables["proj_messages"] == 66 && p.Shadow == nil && p.State == "live" && p.Checkpoint == st.Head {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("status after the swap: %+v", st)
				}
				time.Sleep(50 * time.Millisecond)
			}

			// --verify: equal tables swap...
			out, _ := admRun(t, nil, append([]string{"projections", "rebuild", "read_models", "--verify"}, store.args...)...)
			if !strings.Contains(out, "verified: the rebuilt rows equal the live ones") || !strings.Contains(out, "swapped in at") {
				t.Fatalf("rebuild --verify printed %q", out)
			}
			// ...different ones do not, and the server is not left paused.
			corrupt(t, store, room.ID, 3)
			c = admStart(t, nil, append([]string{"projections", "rebuild", "read_models", "--verify"}, store.args...)...)
			if err := c.wait(t); err == nil || !strings.Contains(c.stderr.String(), "nothing swapped") {
				t.Fatalf("rebuild --verify of a corrupted table: %v\n%s", err, c.stderr.String())
			}
			if out := c.stdout.String(); !strings.Contains(out, "proj_messages: 66 live rows, 66 rebuilt; 1 only live, 1 only rebuilt") || !strings.Contains(out, `text="corrupted"`) {
				t.Fatalf("rebuild --verify printed %q", out)
			}
			post("a1", "after the failed verify")
			h = history(t, ctx, alice, room.ID)
			if h[3].Text != "corrupted" || h[68].Text != "after the failed verify" {
				t.Fatalf("after a failed verify: #3 %q, #68 %q", h[3].Text, h[68].Text)
			}
			srv.stop(t)
		})
	}
}

// TestProjectionsStatusPositions: projections status says what the
// numbers of the head and the checkpoint are, on both stores (on
// PostgreSQL a position is two numbers: the event's position and its
// writing transaction's ID).
func TestProjectionsStatusPositions(t *testing.T) {
	t.Parallel()
	for _, mk := range []func(*testing.T) admStore{admSQLite, admPostgres} {
		store := mk(t)
		t.Run(store.name, func(t *testing.T) {
			t.Parallel()
			var es eventstore.Store
			if store.name == "sqlite" {
				es = sqliteStore(t, store.data)
			} else {
				pg, err := postgres.Open(admCtx(t), store.url, postgres.Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { pg.Close() })
				es = pg
			}
			l := newAdmLog(t, es)
			l.signUp(time.Now(), "alice", "bob", "carol")
			head := l.last
			want := fmt.Sprintf("position %d", head.Prepare)
			format := "position/position"
			if store.name == "postgres" {
				want = fmt.Sprintf("position %d, transaction %d", head.Prepare, head.Commit)
				format = "transaction/position"
			}
			out, _ := admRun(t, nil, append([]string{"projections", "status"}, store.args...)...)
			if !strings.Contains(out, "\nhead   "+want+"\n") {
				t.Errorf("status does not show the head as %q:\n%s", want, out)
			}
			if strings.Contains(out, head.String()) {
				t.Errorf("status shows the bare position %s:\n%s", head, out)
			}
			// Not projected yet: the checkpoint is the start, labelled too.
			if !strings.Contains(out, "read_models  "+map[string]string{"sqlite": "position 0", "postgres": "position 0, transaction 0"}[store.name]+" ") {
				t.Errorf("status does not label the checkpoint:\n%s", out)
			}
			if st := status(t, store); st.PositionFormat != format || st.Head != head.String() {
				t.Errorf("status --json: head %q, position_format %q; want %q, %q", st.Head, st.PositionFormat, head.String(), format)
			}
		})
	}
}
