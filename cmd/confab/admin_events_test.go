package main

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/internal/apitest"
)

// TestAdminMoveToPostgres moves a server's history from the embedded
// store to PostgreSQL as an operator would: export, import into an empty
// database, rebuild the read models. The read models come out row for
// row as the server built them, the events with their IDs and per-stream
// order, and replay shows the same history there, as it was at any
// moment.
func TestAdminMoveToPostgres(t *testing.T) {
	t.Parallel()
	ctx := admCtx(t)
	src := admSQLite(t)
	srv := admServe(t, src)
	const pw = "correct horse battery"
	alice, err := apitest.SignUp(ctx, srv.base, "alice", pw)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := apitest.SignUp(ctx, srv.base, "bob", pw)
	if err != nil {
		t.Fatal(err)
	}
	carol, err := apitest.SignUp(ctx, srv.base, "carol", pw)
	if err != nil {
		t.Fatal(err)
	}
	room, err := alice.CreateRoom(ctx, "general")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*apitest.Client{bob, carol} {
		if _, err := c.Join(ctx, room.InviteCode); err != nil {
			t.Fatal(err)
		}
	}
	post := func(c *apitest.Client, room, id, text string) uint64 {
		t.Helper()
		m, err := c.Post(ctx, room, id, text)
		if err != nil {
			t.Fatal(err)
		}
		return m.Seq
	}
	do := func(c *apitest.Client, method, path string, body any) {
		t.Helper()
		if err := c.Do(ctx, method, "/api/v1/rooms/"+room.ID+path, body, nil); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	post(alice, room.ID, "a1", "hello everyone")
	typo := post(bob, room.ID, "b1", "helo")
	do(bob, http.MethodPatch, fmt.Sprintf("/messages/%d", typo), map[string]string{"text": "hello alice"})
	do(carol, http.MethodPut, fmt.Sprintf("/messages/%d/reactions/%s", typo, url.PathEscape("👍")), nil)
	secret := post(carol, room.ID, "c1", "my password is hunter2")
	do(alice, http.MethodPost, "/read", map[string]uint64{"seq": secret})
	time.Sleep(5 * time.Millisecond)
	mid := time.Now().UTC() // after the secret, before it is deleted
	time.Sleep(5 * time.Millisecond)
	do(carol, http.MethodDelete, fmt.Sprintf("/messages/%d", secret), nil)
	do(carol, http.MethodPost, "/leave", nil)
	dm, err := alice.DM(ctx, bob.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	post(alice, dm.ID, "d1", "psst")
	// A connection that opens and closes: presence events.
	ws, err := alice.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ws.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		u, err := bob.GetUser(ctx, alice.User.ID)
		if err == nil && u.LastSeen != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alice's connection never closed: %+v %v", u, err)
		}
	}
	srv.stop(t)
	if st := status(t, src).Projections[0]; st.Lag != 0 {
		t.Fatalf("the server stopped %d events behind", st.Lag)
	}

	// Export.
	exp, _ := admRun(t, nil, append([]string{"events", "export"}, src.args...)...)
	lines := jsonLines(t, exp)
	end, _ := lines[len(lines)-1]["end"].(map[string]any)
	if end == nil || end["events"] != float64(len(lines)-1) || end["format"] != exportFormat {
		t.Fatalf("export's last line %v, %d events", lines[len(lines)-1], len(lines)-1)
	}
	file := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(file, []byte(exp), 0o600); err != nil {
		t.Fatal(err)
	}
	importFile := func(t *testing.T, args ...string) string {
		t.Helper()
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		out, _ := admRun(t, f, append([]string{"events", "import"}, args...)...)
		return out
	}

	// Import into an empty PostgreSQL; again changes nothing.
	dst := admPostgres(t)
	n := len(lines) - 1
	if out := importFile(t, dst.args...); !strings.Contains(out, fmt.Sprintf("appended %d events (0 were there already)", n)) {
		t.Fatalf("import printed %q", out)
	}
	if out := importFile(t, dst.args...); !strings.Contains(out, fmt.Sprintf("appended 0 events (%d were there already)", n)) {
		t.Fatalf("second import printed %q", out)
	}

	// The same events, stream by stream.
	exp2, _ := admRun(t, nil, append([]string{"events", "export"}, dst.args...)...)
	sameEvents(t, jsonLines(t, exp2), lines)

	// Rebuilt, the read models are the server's, row for row.
	// Log positions are the store's own (PostgreSQL's sequence has gaps),
	// so the search rows are compared without them.
	admRun(t, nil, append([]string{"projections", "rebuild", "--all"}, dst.args...)...)
	sameDumps(t, withoutLogPositions(dst.dump(t)), withoutLogPositions(src.dump(t)))

	// Replay on the new store: the deleted secret as it was, and gone.
	replay := func(args ...string) string {
		t.Helper()
		out, _ := admRun(t, nil, append(append([]string{"events", "replay", "--room", room.ID}, args...), dst.args...)...)
		return out
	}
	then := replay("--until", mid.Format(time.RFC3339Nano))
	for _, want := range []string{`room "general"`, "alice created the room", "bob joined", "alice: hello everyone", "bob: hello alice  (edited", "👍 carol", "carol: my password is hunter2", "members: alice (owner), bob (member), carol (member)"} {
		if !strings.Contains(then, want) {
			t.Errorf("replay until the middle lacks %q:\n%s", want, then)
		}
	}
	if strings.Contains(then, "deleted") || strings.Contains(then, "left") {
		t.Errorf("replay until the middle shows what came later:\n%s", then)
	}
	played := replay("--speed", "1000000")
	if !strings.Contains(played, fmt.Sprintf("carol deleted #%d (carol had written: my password is hunter2)", secret)) || !strings.Contains(played, fmt.Sprintf("bob edited #%d: hello alice", typo)) {
		t.Errorf("played back:\n%s", played)
	}

	// Tail on the new store.
	tail, _ := admRun(t, nil, append([]string{"events", "tail", "--stream", "room-" + room.ID, "-n", "2"}, dst.args...)...)
	got := jsonLines(t, tail)
	if len(got) != 2 || got[0]["revision"] != float64(secret+1) || got[1]["revision"] != float64(secret+2) || got[1]["type"] != "MemberLeft" {
		t.Fatalf("tail -n 2 of the room printed %q", tail)
	}
	for _, k := range []string{"position", "stream", "revision", "type", "data", "recorded_at", "id"} {
		if _, ok := got[0][k]; !ok {
			t.Errorf("a tail line lacks %q: %v", k, got[0])
		}
	}
}

// sameEvents compares two exports: the same events with the same IDs,
// types, data and metadata, in the same order within each stream.
func sameEvents(t *testing.T, got, want []map[string]any) {
	t.Helper()
	byStream := func(lines []map[string]any) map[string][]string {
		out := map[string][]string{}
		for _, l := range lines {
			if l["end"] != nil {
				continue
			}
			s := l["stream"].(string)
			out[s] = append(out[s], fmt.Sprint(l["id"], l["revision"], l["type"], l["data"], l["data_base64"], l["metadata"], l["metadata_base64"]))
		}
		return out
	}
	g, w := byStream(got), byStream(want)
	if len(g) != len(w) {
		t.Errorf("%d streams, want %d", len(g), len(w))
	}
	for s, evs := range w {
		if strings.Join(g[s], "\n") != strings.Join(evs, "\n") {
			t.Errorf("stream %s:\n got %v\nwant %v", s, g[s], evs)
		}
	}
}

// replayLog writes a room's history at chosen times.
func replayLog(t *testing.T, store eventstore.Store) {
	t0 := time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)
	m := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }
	alice, bob, carol := domain.UserIDFor("alice"), domain.UserIDFor("bob"), domain.UserIDFor("carol")
	l := newAdmLog(t, store)
	l.signUp(t0, "alice", "bob", "carol")
	l.room("r1",
		domain.RoomCreated{RoomID: "r1", Kind: domain.KindGroup, Name: "General", OwnerID: alice, Members: []domain.UserID{alice}, InviteCode: "c1", At: m(1)},
		domain.MemberJoined{UserID: bob, At: m(2)},
		domain.MemberJoined{UserID: carol, At: m(3)},
		domain.MessagePosted{SenderID: alice, ClientMsgID: "1", Text: "hello", At: m(4)},
		domain.MessagePosted{SenderID: bob, ClientMsgID: "2", Text: "helo", ReplyTo: 4, At: m(5)},
		domain.MessageEdited{Seq: 5, Text: "hello back\nand welcome", By: bob, At: m(6)},
		domain.ReactionAdded{Seq: 4, Emoji: "👍", UserID: carol, At: m(7)},
		domain.CallStarted{CallID: "k1", By: alice, At: m(8)},
		domain.CallJoined{CallID: "k1", UserID: alice, NodeID: "n", ConnID: "a", At: m(8)},
		domain.CallJoined{CallID: "k1", UserID: bob, NodeID: "n", ConnID: "b", At: m(9)},
		domain.MessagePosted{SenderID: carol, ClientMsgID: "3", Text: "secret", At: m(10)},
		domain.CallLeft{CallID: "k1", UserID: bob, Reason: domain.CallLeaveDisconnected, At: m(12)},
		domain.CallLeft{CallID: "k1", UserID: alice, Reason: domain.CallLeaveLeft, At: m(13)},
		domain.CallEnded{CallID: "k1", StartedAt: m(8), Participants: 2, At: m(13)},
		domain.MessageDeleted{Seq: 11, By: carol, At: m(15)},
		domain.MemberLeft{UserID: carol, At: m(16)},
		domain.RoomRenamed{Name: "Town square", By: alice, At: m(17)},
		domain.MessagePosted{SenderID: bob, ClientMsgID: "4", Text: "in a thread", ThreadRoot: 4, At: m(18)},
		domain.MessagePinned{Seq: 4, By: alice, At: m(19)},
	)
}

// TestAdminReplay replays a room's history at several moments, and plays
// it back.
func TestAdminReplay(t *testing.T) {
	t.Parallel()
	store := admSQLite(t)
	replayLog(t, sqliteStore(t, store.data))
	replay := func(args ...string) string {
		t.Helper()
		out, _ := admRun(t, nil, append(append([]string{"events", "replay", "--room", "r1"}, args...), store.args...)...)
		return out
	}
	tests := []struct {
		until string
		want  string
	}{
		{"2025-06-01T09:11", `room "General" (r1) as of 2025-06-01 09:11:00 UTC: 11 of 19 events
2025-06-01 09:01:00  #1    alice created the room "General"
2025-06-01 09:02:00  #2    bob joined
2025-06-01 09:03:00  #3    carol joined
2025-06-01 09:04:00  #4    alice: hello
                             👍 carol
2025-06-01 09:05:00  #5    bob (reply to #4): hello back
                           and welcome  (edited 2025-06-01 09:06:00)
2025-06-01 09:08:00  #8    alice started a call (still going on)
2025-06-01 09:08:00  #9    alice joined the call
2025-06-01 09:09:00  #10   bob joined the call
2025-06-01 09:10:00  #11   carol: secret
members: alice (owner), bob (member), carol (member)
in the call: alice, bob
`},
		{"2025-06-02", `room "Town square" (r1) as of 2025-06-02 00:00:00 UTC: 19 of 19 events
2025-06-01 09:01:00  #1    alice created the room "General"
2025-06-01 09:02:00  #2    bob joined
2025-06-01 09:03:00  #3    carol joined
2025-06-01 09:04:00  #4    alice: hello
                             👍 carol
                             [thread: 1 reply, last #18]
2025-06-01 09:05:00  #5    bob (reply to #4): hello back
                           and welcome  (edited 2025-06-01 09:06:00)
2025-06-01 09:08:00  #8    alice started a call (ended 2025-06-01 09:13:00, after 5m0s, 2 people)
2025-06-01 09:08:00  #9    alice joined the call
2025-06-01 09:09:00  #10   bob joined the call
2025-06-01 09:10:00  #11   carol: [deleted at 2025-06-01 09:15:00 by carol]
2025-06-01 09:12:00  #12   bob left the call (disconnected)
2025-06-01 09:13:00  #13   alice left the call
2025-06-01 09:13:00  #14   the call ended after 5m0s, 2 people
2025-06-01 09:16:00  #16   carol left
2025-06-01 09:17:00  #17   alice renamed the room to "Town square"
2025-06-01 09:18:00  #18   bob (in thread #4): in a thread
2025-06-01 09:19:00  #19   alice pinned #4
members: alice (owner), bob (member)
`},
	}
	for _, tt := range tests {
		if got := replay("--until", tt.until); got != tt.want {
			t.Errorf("replay until %s:\n%s\nwant:\n%s", tt.until, got, tt.want)
		}
	}

	// Played back at 6000x: a minute takes 10ms.
	start := time.Now()
	got := replay("--until", "2025-06-01T09:16:00Z", "--speed", "6000")
	took := time.Since(start)
	want := `room "General" (r1), played back at 6000x until 2025-06-01 09:16:00 UTC (16 of 19 events)
2025-06-01 09:01:00  #1    alice created the room "General"
2025-06-01 09:02:00  #2    bob joined
2025-06-01 09:03:00  #3    carol joined
2025-06-01 09:04:00  #4    alice: hello
2025-06-01 09:05:00  #5    bob (reply to #4): helo
2025-06-01 09:06:00  #6    bob edited #5: hello back
                           and welcome
2025-06-01 09:07:00  #7    carol reacted 👍 to #4
2025-06-01 09:08:00  #8    alice started a call
2025-06-01 09:08:00  #9    alice joined the call
2025-06-01 09:09:00  #10   bob joined the call
2025-06-01 09:10:00  #11   carol: secret
2025-06-01 09:12:00  #12   bob left the call (disconnected)
2025-06-01 09:13:00  #13   alice left the call
2025-06-01 09:13:00  #14   the call ended after 5m0s, 2 people
2025-06-01 09:15:00  #15   carol deleted #11 (carol had written: secret)
2025-06-01 09:16:00  #16   carol left
members: alice (owner), bob (member)
`
	if got != want {
		t.Errorf("played back:\n%s\nwant:\n%s", got, want)
	}
	if took < 150*time.Millisecond {
		t.Errorf("15 minutes at 6000x took %v, want at least 150ms", took)
	}
}

// TestAdminTailFollow follows a stream while events are appended, until
// interrupted.
func TestAdminTailFollow(t *testing.T) {
	t.Parallel()
	store := admSQLite(t)
	es := sqliteStore(t, store.data)
	l := newAdmLog(t, es)
	l.signUp(time.Now(), "alice")
	alice := domain.UserIDFor("alice")
	l.room("r1", domain.RoomCreated{RoomID: "r1", Kind: domain.KindGroup, Name: "General", OwnerID: alice, Members: []domain.UserID{alice}, InviteCode: "c1", At: time.Now()})

	c := admStart(t, nil, append([]string{"events", "tail", "--follow", "--stream", "room-r1", "-n", "1"}, store.args...)...)
	c.stdout.waitFor(t, `"type":"RoomCreated"`, c.done)
	l.signUp(time.Now(), "bob") // another stream
	l.room("r1", domain.MessagePosted{SenderID: alice, ClientMsgID: "1", Text: "live <&>", At: time.Now()})
	// Data is printed as stored: domain.Encode escapes <, > and &.
	c.stdout.waitFor(t, `"text":"live \u003c\u0026\u003e"`, c.done)
	c.cmd.Process.Signal(syscall.SIGINT)
	if err := c.wait(t); err != nil {
		t.Fatalf("tail --follow after SIGINT: %v\n%s", err, c.stderr.String())
	}
	lines := jsonLines(t, c.stdout.String())
	if len(lines) != 2 || lines[0]["revision"] != float64(1) || lines[1]["revision"] != float64(2) || lines[1]["stream"] != "room-r1" {
		t.Fatalf("tail printed:\n%s", c.stdout.String())
	}
}

// TestAdminImportRejects checks that import refuses what it must, says
// which line and why, and writes nothing; and that an import of a longer
// export of the same history goes on where the first stopped.
func TestAdminImportRejects(t *testing.T) {
	t.Parallel()
	src := admSQLite(t)
	es := sqliteStore(t, src.data)
	l := newAdmLog(t, es)
	t0 := time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)
	l.signUp(t0, "alice", "bob")
	alice := domain.UserIDFor("alice")
	l.room("r1", domain.RoomCreated{RoomID: "r1", Kind: domain.KindGroup, Name: "General", OwnerID: alice, Members: []domain.UserID{alice}, InviteCode: "c1", At: t0})
	for i := range 3 {
		l.room("r1", domain.MessagePosted{SenderID: alice, ClientMsgID: fmt.Sprint(i), Text: fmt.Sprint("message ", i), At: t0})
	}
	exp, _ := admRun(t, nil, append([]string{"events", "export"}, src.args...)...)
	lines := strings.Split(strings.TrimSuffix(exp, "\n"), "\n")
	if len(lines) != 7 {
		t.Fatalf("export of 6 events has %d lines:\n%s", len(lines), exp)
	}
	without := func(i int) []string { return append(append([]string(nil), lines[:i]...), lines[i+1:]...) }
	with := func(i int, line string) []string {
		out := append([]string(nil), lines...)
		out[i] = line
		return out
	}
	idOf := func(line string) string { return strings.Split(strings.Split(line, `"id":"`)[1], `"`)[0] }
	tests := []struct {
		name  string
		lines []string
		want  []string
	}{
		{"cut short", lines[:6], []string{"the file ends after line 6 without export's end line"}},
		{"garbage", with(1, `{"id":`), []string{"line 2: not an event as export writes it"}},
		{"gap", without(3), []string{"line 4: revision 3 of stream room-r1 follows revision 1: revisions 2 to 2 are missing", "line 6: the end line counts 6 events, the file has 5"}},
		{"reordered", []string{lines[0], lines[1], lines[2], lines[4], lines[3], lines[5], lines[6]}, []string{"line 4: revision 3 of stream room-r1 follows revision 1", "line 5: revision 2 of stream room-r1 comes after revision 3"}},
		{"bad data", with(4, strings.Replace(lines[4], `"text":"message 1"`, `"text":1`, 1)), []string{"line 5: data is not a MessagePosted"}},
		{"duplicate ID", with(5, strings.Replace(lines[5], idOf(lines[5]), idOf(lines[4]), 1)), []string{"line 6: event ID " + idOf(lines[4]) + " is used on line 5 already"}},
		{"unknown field", with(0, strings.Replace(lines[0], `{`, `{"colour":"red",`, 1)), []string{`line 1: not an event as export writes it: json: unknown field "colour"`}},
		{"bad stream", with(0, strings.Replace(lines[0], `"stream":"user-`, `"stream":"$user-`, 1)), []string{"line 1: invalid: stream name", "reserved"}},
		{"after the end", append(append([]string(nil), lines...), lines[0]), []string{"line 8: more after the end line"}},
		{"empty line", with(2, ""), []string{"line 3: empty"}},
	}
	for _, tt := range tests {
		_, err := checkExport(strings.NewReader(strings.Join(tt.lines, "\n") + "\n"))
		for _, w := range append(tt.want, "nothing was imported") {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: import's check says %v, want %q in it", tt.name, err, w)
			}
		}
	}
	// As a command: the message, and no store made.
	dst := admSQLite(t)
	file := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(file, []byte(strings.Join(tests[2].lines, "\n")+"\n"), 0o600)
	out := admFail(t, nil, append([]string{"events", "import", "--input", file}, dst.args...)...)
	for _, w := range append(tests[2].want, "nothing was imported") {
		if !strings.Contains(out, w) {
			t.Errorf("import printed %q, want %q in it", out, w)
		}
	}
	if _, err := os.Stat(filepath.Join(dst.data, "events.db")); err == nil {
		t.Error("a store was made")
	}

	// PostgreSQL: the first import, then a longer export of the same
	// history goes on after it.
	pg := admPostgres(t)
	admRun(t, strings.NewReader(exp), append([]string{"events", "import"}, pg.args...)...)
	l.room("r1", domain.MessagePosted{SenderID: alice, ClientMsgID: "4", Text: "later", At: t0})
	l.signUp(t0, "carol")
	exp2, _ := admRun(t, nil, append([]string{"events", "export"}, src.args...)...)
	out, _ = admRun(t, strings.NewReader(exp2), append([]string{"events", "import"}, pg.args...)...)
	if !strings.Contains(out, "appended 2 events (6 were there already)") {
		t.Fatalf("import of the longer export printed %q", out)
	}

	// Another history in the same streams: refused, nothing appended.
	other := admSQLite(t)
	ol := newAdmLog(t, sqliteStore(t, other.data))
	ol.signUp(t0, "alice")
	out = admFail(t, strings.NewReader(exp), append([]string{"events", "import"}, other.args...)...)
	if !strings.Contains(out, "line 1: the store's stream user-"+string(alice)+" holds event") || !strings.Contains(out, "nothing was imported") {
		t.Fatalf("import into another history printed %q", out)
	}
	// A store of other streams: refused unless forced.
	zedOnly := admSQLite(t)
	zl := newAdmLog(t, sqliteStore(t, zedOnly.data))
	zl.signUp(t0, "zed")
	out = admFail(t, strings.NewReader(exp), append([]string{"events", "import"}, zedOnly.args...)...)
	if !strings.Contains(out, "is not empty") || !strings.Contains(out, "--force") {
		t.Fatalf("import into a store of other streams printed %q", out)
	}
	out, _ = admRun(t, strings.NewReader(exp), append([]string{"events", "import", "--force"}, zedOnly.args...)...)
	if !strings.Contains(out, "appended 6 events") {
		t.Fatalf("forced import printed %q", out)
	}
}

// TestAdminErrors checks the admin commands' messages for wrong stores,
// names and flags.
func TestAdminErrors(t *testing.T) {
	t.Parallel()
	store := admSQLite(t)
	l := newAdmLog(t, sqliteStore(t, store.data))
	l.signUp(time.Now(), "alice")
	missing := filepath.Join(t.TempDir(), "nowhere")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"projections", "status", "--data", missing}, "no event store at " + filepath.Join(missing, "events.db")},
		{[]string{"events", "export", "--data", missing}, "no event store at"},
		{[]string{"projections", "status", "--store", "mongo"}, `--store "mongo": want sqlite or postgres`},
		{[]string{"projections", "status", "--store", "postgres"}, "needs --postgres-url"},
		{[]string{"projections", "status", "--store", "postgres", "--postgres-url", "postgres://nobody@127.0.0.1:1/x?connect_timeout=2"}, "open the postgres store: postgres:"},
		{[]string{"projections", "status", "--store", "postgres", "--postgres-url", "mysql://x"}, "open the postgres store"},
		{append([]string{"projections", "rebuild", "rooms"}, store.args...), `unknown projection "rooms" (known: read_models)`},
		{append([]string{"projections", "rebuild"}, store.args...), "name a projection to rebuild (read_models) or pass --all"},
		{append([]string{"projections", "rebuild", "read_models", "--all"}, store.args...), "not both"},
		{append([]string{"events", "replay"}, store.args...), `"room"`},
		{append([]string{"events", "replay", "--room", "nosuch"}, store.args...), "no room nosuch: its stream room-nosuch is empty"},
		{append([]string{"events", "replay", "--room", "r1", "--until", "yesterday"}, store.args...), `--until "yesterday"`},
		{append([]string{"events", "tail", "--after", "x"}, store.args...), `--after: position "x"`},
		{append([]string{"events", "import", "--input", missing}, store.args...), "nowhere: no such file"},
	}
	t.Run("each", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(strings.Join(tt.args[:2], " "), func(t *testing.T) {
				t.Parallel()
				out := admFail(t, nil, tt.args...)
				if !strings.Contains(out, tt.want) {
					t.Errorf("confab %s:\n%s\nwant an error with %q", strings.Join(tt.args, " "), out, tt.want)
				}
			})
		}
	})
	if _, err := os.Stat(missing); err == nil {
		t.Error("a command made the missing data directory")
	}
}

// logPosition is the field of a dumped proj_search row that holds the
// message's position in its store's log.
var logPosition = regexp.MustCompile(`\tpos=\d+`)

// withoutLogPositions returns dump with the search rows' log positions
// taken out, for comparing the read models of two stores.
func withoutLogPositions(dump map[string][]string) map[string][]string {
	rows := dump["proj_search"]
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = logPosition.ReplaceAllString(r, "")
	}
	dump["proj_search"] = out
	return dump
}
