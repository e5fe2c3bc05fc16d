package commands_test

// Specs: the commands' behaviour as data (STYLE.md, convention 8).
//
// Each file testdata/specs/<command>/<case>.json is one spec:
//
//	{
//	  "doc":   "what the spec shows",
//	  "skip":  "bug: ...",            // optional: a known bug (see below)
//	  "given": [{"stream": "room-{{room:r1}}", "type": "RoomCreated", "data": {...}}, ...],
//	  "when":  {"command": "PostMessage", "args": {"Room": "{{room:r1}}", ...}},
//	  "then":  [{"stream": ..., "type": ..., "data": {...}}, ...],   // the events appended, or
//	  "error": "not_found",           // the kind of the error (domain.KindOf(err).String())
//	  "revision": 3                   // optional: the command's Result.Revision
//	}
//
// The runner appends the given events to a fresh SQLite event store (in
// order, expecting any revision; a MessagePosted gets the event ID that
// PostMessage would give it, so retries are recognised), applies them to the
// read models in the same file (JoinRoom looks invite codes up there), runs
// the command with commands.New on a fixed clock, and compares the events
// appended by the command with "then" (type, stream, and data as JSON), or
// its error's kind with "error". "then": [] means the command succeeded and
// changed nothing.
//
// "when" is one command or a list of them; "repeat": N runs a command N
// times and "advance": "1s" moves the clock forward before it. Only the last
// run's outcome is compared; the read models follow every run. The args are
// the command struct in JSON (Go field names, unknown fields refused).
//
// Placeholders keep the files readable: {{user:alice}} is
// domain.UserIDFor("alice"), {{room:r1}} a fixed UUID per name,
// {{dm:alice,bob}} the DM room of two users, {{now}} the clock's start,
// {{hash:PASSWORD}} an argon2id hash of PASSWORD, {{repeat:N:S}} S repeated N
// times. In expected values, "<any>" matches one or more characters: use it
// for what a command makes up at random (IDs of new rooms and sessions,
// invite codes, token and password hashes).
//
// go test ./commands -run TestSpecs -update rewrites "then", "error" and
// "revision" from the actual outcome: events that still match are kept as
// written, the others are written with placeholders put back and random
// values replaced by "<any>".
//
// A spec with "skip" describes the correct behaviour of a command that has
// a known bug. It runs, and is skipped while it fails; once it passes the
// test fails, asking for the "skip" to be removed. -update leaves it alone.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/confabhq/confab/commands"
	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/eventstore/sqlite"
	"github.com/confabhq/confab/internal/password"
	"github.com/confabhq/confab/projections"
	"github.com/google/uuid"
)

var update = flag.Bool("update", false, "rewrite the outcomes of testdata/specs from the actual ones")

// specStart is the specs' clock until a step advances it.
var specStart = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// cheap is the argon2id cost in specs.
var cheap = password.Params{Memory: 64, Time: 1, Threads: 1}

// specRoomNS is the namespace of the room IDs of {{room:NAME}}.
var specRoomNS = uuid.MustParse("5b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")

const anyValue = "<any>"

func TestSpecs(t *testing.T) {
	var files []string
	err := filepath.WalkDir(filepath.Join("testdata", "specs"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".json") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no specs in testdata/specs")
	}
	template := migratedTemplate(t)
	for _, file := range files {
		name, _ := filepath.Rel(filepath.Join("testdata", "specs"), file)
		t.Run(strings.TrimSuffix(filepath.ToSlash(name), ".json"), func(t *testing.T) {
			t.Parallel()
			runSpecFile(t, file, template)
		})
	}
}

// spec is one spec file.
type spec struct {
	Doc      string       `json:"doc"`
	Skip     string       `json:"skip,omitempty"`
	Given    []specEvent  `json:"given,omitempty"`
	When     steps        `json:"when"`
	Then     *[]specEvent `json:"then,omitempty"`
	Error    string       `json:"error,omitempty"`
	Revision *uint64      `json:"revision,omitempty"`
}

type specEvent struct {
	Stream string          `json:"stream"`
	Type   string          `json:"type"`
	Data   json.RawMessage `json:"data"`
}

type step struct {
	Command string          `json:"command"`
	Args    json.RawMessage `json:"args"`
	Repeat  int             `json:"repeat,omitempty"`
	Advance string          `json:"advance,omitempty"`
}

// steps is "when": one step, or a list of them.
type steps struct {
	list   []step
	isList bool
}

func (s *steps) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		s.isList = true
		return strictUnmarshal(b, &s.list)
	}
	var one step
	if err := strictUnmarshal(b, &one); err != nil {
		return err
	}
	s.list = []step{one}
	return nil
}

func (s steps) MarshalJSON() ([]byte, error) {
	if s.isList {
		return marshal(s.list, "")
	}
	return marshal(s.list[0], "")
}

func strictUnmarshal(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

// marshal encodes v without escaping <, > and &, indented if indent is set.
func marshal(v any, indent string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if indent != "" {
		enc.SetIndent("", indent)
	}
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if indent == "" {
		return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
	}
	return buf.Bytes(), nil
}

func (sp *spec) check(update bool) error {
	if sp.Doc == "" {
		return errors.New(`no "doc"`)
	}
	if len(sp.When.list) == 0 {
		return errors.New(`no "when"`)
	}
	for i, st := range sp.When.list {
		if _, ok := commandTable[st.Command]; !ok {
			return fmt.Errorf("step %d: unknown command %q", i, st.Command)
		}
		if st.Repeat < 0 {
			return fmt.Errorf("step %d: negative repeat", i)
		}
	}
	switch {
	case sp.Then != nil && sp.Error != "":
		return errors.New(`both "then" and "error"`)
	case sp.Then == nil && sp.Error == "" && !update:
		return errors.New(`neither "then" nor "error" (run with -update to fill in the actual outcome)`)
	}
	return nil
}

// outcome is what a command returned besides its events.
type outcome struct {
	result  commands.Result
	room    domain.RoomID     // of CreateRoom, JoinRoom, OpenDM
	session *commands.Session // of SignUp, SignIn
	// password is SignUp's, to check the stored hash against.
	password string
}

type commandFunc func(ctx context.Context, h *commands.Handlers, args []byte) (outcome, error)

// errArgs marks args that do not decode into the command.
var errArgs = errors.New("bad args")

// handle adapts a handler call taking command C to a commandFunc.
func handle[C any](f func(ctx context.Context, h *commands.Handlers, cmd C) (outcome, error)) commandFunc {
	return func(ctx context.Context, h *commands.Handlers, args []byte) (outcome, error) {
		var cmd C
		if len(args) > 0 {
			if err := strictUnmarshal(args, &cmd); err != nil {
				return outcome{}, fmt.Errorf("%w: %T: %v", errArgs, cmd, err)
			}
		}
		return f(ctx, h, cmd)
	}
}

func session(s commands.Session, err error) *commands.Session {
	if err != nil {
		return nil
	}
	return &s
}

var commandTable = map[string]commandFunc{
	"SignUp": handle(func(ctx context.Context, h *commands.Handlers, c commands.SignUp) (outcome, error) {
		s, err := h.SignUp.Handle(ctx, c)
		return outcome{result: s.Result, session: session(s, err), password: c.Password}, err
	}),
	"SignIn": handle(func(ctx context.Context, h *commands.Handlers, c commands.SignIn) (outcome, error) {
		s, err := h.SignIn.Handle(ctx, c)
		return outcome{result: s.Result, session: session(s, err)}, err
	}),
	"SignOut": handle(func(ctx context.Context, h *commands.Handlers, c commands.SignOut) (outcome, error) {
		res, err := h.SignOut.Handle(ctx, c)
		return outcome{result: res}, err
	}),
	"TouchSession": handle(func(ctx context.Context, h *commands.Handlers, c commands.TouchSession) (outcome, error) {
		res, err := h.TouchSession.Handle(ctx, c)
		return outcome{result: res}, err
	}),
	"RevokeSession": handle(func(ctx context.Context, h *commands.Handlers, c commands.RevokeSession) (outcome, error) {
		res, err := h.RevokeSession.Handle(ctx, c)
		return outcome{result: res}, err
	}),
	"RevokeOtherSessions": handle(func(ctx context.Context, h *commands.Handlers, c commands.RevokeOtherSessions) (outcome, error) {
		res, err := h.RevokeOtherSessions.Handle(ctx, c)
		return outcome{result: res}, err
	}),
	"ChangePassword": handle(func(ctx context.Context, h *commands.Handlers, c commands.ChangePassword) (outcome, error) {
		res, err := h.ChangePassword.Handle(ctx, c)
		return outcome{result: res}, err
	}),
	"SetDisplayName": handle(func(ctx context.Context, h *commands.Handlers, c commands.SetDisplayName) (outcome, error) {
		res, err := h.SetDisplayName.Handle(ctx, c)
		return outcome{result: res}, err
	}),
	"SetAvatar": handle(func(ctx context.Context, h *commands.Handlers, c commands.SetAvatar) (outcome, error) {
		res, err := h.SetAvatar.Handle(ctx, c)
		return outcome{result: res}, err
	}),
	"ResetPassword": handle(func(ctx context.Context, h *commands.Handlers, c commands.ResetPassword) (outcome, error) {
		res, err := h.ResetPassword.Handle(ctx, c)
		return outcome{result: res}, err
	}),
	"SetUserEnabled": handle(func(ctx context.Context, h *commands.Handlers, c commands.SetUserEnabled) (outcome, error) {
		res, err := h.SetUserEnabled.Handle(ctx, c)
		return outcome{result: res}, err
	}),
	"DeleteUser": handle(func(ctx context.Context, h *commands.Handlers, c commands.DeleteUser) (outcome, error) {
		res, err := h.DeleteUser.Handle(ctx, c)
		return outcome{result: res}, err
	}),
	"CreateRoom": handle(func(ctx context.Context, h *commands.Handlers, c commands.CreateRoom) (outcome, error) {
		id, res, err := h.CreateRoom.Handle(ctx, c)
		return outcome{result: res, room: id}, err
	}),
	"JoinRoom": handle(func(ctx context.Context, h *commands.Handlers, c commands.JoinRoom) (outcome, error) {
		id, res, err := h.JoinRoom.Handle(ctx, c)
		return outcome{result: res, room: id}, err
	}),
	"ManageRoom": handle(func(ctx context.Context, h *commands.Handlers, c commands.ManageRoom) (outcome, error) {
		res, err := h.ManageRoom.Handle(ctx, c)
		return outcome{result: res}, err
	}),
	"OpenDM": handle(func(ctx context.Context, h *commands.Handlers, c commands.OpenDM) (outcome, error) {
		id, res, err := h.OpenDM.Handle(ctx, c)
		return outcome{result: res, room: id}, err
	}),
	"PostMessage": handle(func(ctx context.Context, h *commands.Handlers, c commands.PostMessage) (outcome, error) {
		res, err := h.PostMessage.Handle(ctx, c)
		return outcome{result: res}, err
	}),
	"EditMessage": handle(func(ctx context.Context, h *commands.Handlers, c commands.EditMessage) (outcome, error) {
		res, err := h.EditMessage.Handle(ctx, c)
		return outcome{result: res}, err
	}),
	"DeleteMessage": handle(func(ctx context.Context, h *commands.Handlers, c commands.DeleteMessage) (outcome, error) {
		res, err := h.DeleteMessage.Handle(ctx, c)
		return outcome{result: res}, err
	}),
	"React": handle(func(ctx context.Context, h *commands.Handlers, c commands.React) (outcome, error) {
		res, err := h.React.Handle(ctx, c)
		return outcome{result: res}, err
	}),
	"Pin": handle(func(ctx context.Context, h *commands.Handlers, c commands.Pin) (outcome, error) {
		res, err := h.Pin.Handle(ctx, c)
		return outcome{result: res}, err
	}),
	"SetRoomSettings": handle(func(ctx context.Context, h *commands.Handlers, c commands.SetRoomSettings) (outcome, error) {
		res, err := h.SetRoomSettings.Handle(ctx, c)
		return outcome{result: res}, err
	}),
	"SetNotify": handle(func(ctx context.Context, h *commands.Handlers, c commands.SetNotify) (outcome, error) {
		res, err := h.SetNotify.Handle(ctx, c)
		return outcome{result: res}, err
	}),
	"MarkRead": handle(func(ctx context.Context, h *commands.Handlers, c commands.MarkRead) (outcome, error) {
		res, err := h.MarkRead.Handle(ctx, c)
		return outcome{result: res}, err
	}),
	"MarkThreadRead": handle(func(ctx context.Context, h *commands.Handlers, c commands.MarkThreadRead) (outcome, error) {
		res, err := h.MarkThreadRead.Handle(ctx, c)
		return outcome{result: res}, err
	}),
	"Connect": handle(func(ctx context.Context, h *commands.Handlers, c commands.Connect) (outcome, error) {
		res, err := h.Connect.Handle(ctx, c)
		return outcome{result: res}, err
	}),
	"JoinCall": handle(func(ctx context.Context, h *commands.Handlers, c commands.JoinCall) (outcome, error) {
		_, res, err := h.JoinCall.Handle(ctx, c)
		return outcome{result: res}, err
	}),
	"LeaveCall": handle(func(ctx context.Context, h *commands.Handlers, c commands.LeaveCall) (outcome, error) {
		res, err := h.LeaveCall.Handle(ctx, c)
		return outcome{result: res}, err
	}),
}

func runSpecFile(t *testing.T, file, template string) {
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var sp spec
	if err := strictUnmarshal(raw, &sp); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if err := sp.check(*update); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	x, err := newExpander(raw, specStart)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}

	w := newWorld(t, template, specStart)
	w.appendGiven(x, sp.Given)

	// Run the steps; the last run is the one compared.
	var (
		out    outcome
		runErr error
		got    []eventstore.RecordedEvent
	)
	for i, st := range sp.When.list {
		if st.Advance != "" {
			d, err := time.ParseDuration(st.Advance)
			if err != nil || d < 0 {
				t.Fatalf("step %d: bad advance %q", i, st.Advance)
			}
			w.clock.advance(d)
		}
		args, err := x.expand(string(st.Args))
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		for range max(st.Repeat, 1) {
			head, err := w.store.Head(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			out, runErr = commandTable[st.Command](t.Context(), w.h, []byte(args))
			if errors.Is(runErr, errArgs) {
				t.Fatalf("step %d: %v", i, runErr)
			}
			if runErr != nil && domain.KindOf(runErr) == domain.KindInternal {
				if sp.Skip != "" {
					t.Skipf("%s\n(the spec still fails: step %d: internal error: %v)", sp.Skip, i, runErr)
				}
				t.Fatalf("step %d (%s): internal error: %v", i, st.Command, runErr)
			}
			got = w.readAfter(head)
			w.project()
		}
	}
	var problems []string
	if runErr != nil {
		t.Logf("%s: %v", sp.When.list[len(sp.When.list)-1].Command, runErr)
	} else {
		problems = checkOutcome(out, got)
	}

	gotErr := ""
	if runErr != nil {
		gotErr = domain.KindOf(runErr).String()
	}
	match, why := sp.matches(x, got, gotErr, out.result.Revision)
	if match && len(problems) > 0 {
		match, why = false, problems[0]
	}

	if sp.Skip != "" {
		if match {
			t.Fatalf("the spec passes but is marked %q; if the bug is fixed, remove the \"skip\"", sp.Skip)
		}
		t.Skipf("%s\n(the spec still fails: %s)", sp.Skip, why)
	}
	for _, p := range problems {
		t.Error(p)
	}
	if *update {
		sp.rewrite(x, got, gotErr, out.result.Revision)
		b, err := marshal(&sp, "  ")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, raw) {
			if err := os.WriteFile(file, b, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("updated %s", file)
		}
		return
	}
	if !match {
		want, _ := marshal(sp.outcomeView(), "  ")
		gotView := sp
		gotView.rewrite(x, got, gotErr, out.result.Revision)
		have, _ := marshal(gotView.outcomeView(), "  ")
		t.Errorf("%s: %s\nwant:\n%s\ngot:\n%s(run go test ./commands -run TestSpecs -update to accept the actual outcome)",
			file, why, want, have)
	}
}

// outcomeView returns the parts of sp that say what happened.
func (sp *spec) outcomeView() any {
	return struct {
		Then     *[]specEvent `json:"then,omitempty"`
		Error    string       `json:"error,omitempty"`
		Revision *uint64      `json:"revision,omitempty"`
	}{sp.Then, sp.Error, sp.Revision}
}

// matches compares the actual outcome with the expected one and says why
// they differ.
func (sp *spec) matches(x *expander, got []eventstore.RecordedEvent, gotErr string, rev uint64) (bool, string) {
	if sp.Revision != nil && gotErr == "" && *sp.Revision != rev {
		return false, fmt.Sprintf("revision %d, want %d", rev, *sp.Revision)
	}
	switch {
	case sp.Error != "" && gotErr == "":
		return false, fmt.Sprintf("no error, want %s", sp.Error)
	case sp.Error != "":
		if gotErr != sp.Error {
			return false, fmt.Sprintf("error %s, want %s", gotErr, sp.Error)
		}
		if len(got) > 0 {
			return false, fmt.Sprintf("error %s, but %d events appended", gotErr, len(got))
		}
		return true, ""
	case sp.Then == nil:
		return false, "no expected outcome"
	case gotErr != "":
		return false, fmt.Sprintf("error %s, want events", gotErr)
	}
	want := *sp.Then
	if len(got) != len(want) {
		return false, fmt.Sprintf("%d events, want %d", len(got), len(want))
	}
	for i := range want {
		if ok, why := x.matchEvent(want[i], got[i]); !ok {
			return false, fmt.Sprintf("event %d: %s", i, why)
		}
	}
	return true, ""
}

// rewrite sets the outcome of sp to the actual one, keeping the expected
// events that match.
func (sp *spec) rewrite(x *expander, got []eventstore.RecordedEvent, gotErr string, rev uint64) {
	var old []specEvent
	if sp.Then != nil {
		old = *sp.Then
	}
	sp.Error, sp.Then = gotErr, nil
	if gotErr != "" {
		sp.Revision = nil
		return
	}
	if sp.Revision != nil {
		sp.Revision = &rev
	}
	then := make([]specEvent, len(got))
	for i, e := range got {
		if i < len(old) {
			if ok, _ := x.matchEvent(old[i], e); ok {
				then[i] = old[i]
				continue
			}
		}
		then[i] = x.render(e)
	}
	sp.Then = &then
}

// checkOutcome checks what a successful command returned against the
// events it appended, and returns the problems it finds.
func checkOutcome(out outcome, got []eventstore.RecordedEvent) []string {
	var problems []string
	errorf := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	// The result reports the command's events: the last of those appended.
	res := out.result
	if n := len(res.Events); n > len(got) {
		errorf("the result reports %d events; %d were appended", n, len(got))
	} else if n > 0 {
		tail := got[len(got)-n:]
		for i, e := range res.Events {
			if e.EventType() != tail[i].Type {
				errorf("result event %d is a %s; the appended one a %s", i, e.EventType(), tail[i].Type)
			}
		}
		last := tail[n-1]
		if res.Revision != last.Revision || res.Position != last.Position {
			errorf("result at revision %d, position %v; the last event is at %d, %v", res.Revision, res.Position, last.Revision, last.Position)
		}
	} else if len(got) > 0 && out.session == nil {
		errorf("the result reports no events; %d were appended", len(got))
	}

	if out.room != "" {
		for _, e := range got {
			if e.Stream != domain.RoomStream(out.room) {
				errorf("returned room %s, but an event went to %s", out.room, e.Stream)
			}
		}
	}

	for _, e := range got {
		ev, err := domain.Decode(e.Type, e.Data)
		if err != nil {
			errorf("appended event: %v", err)
			continue
		}
		switch ev := ev.(type) {
		case domain.UserSignedUp:
			if ok, err := password.Verify(out.password, ev.PasswordHash); !ok || err != nil {
				errorf("the stored password hash does not verify the password: %v, %v", ok, err)
			}
			if e.Stream != domain.UserStream(ev.UserID) {
				errorf("UserSignedUp of %s in stream %s", ev.UserID, e.Stream)
			}
		case domain.SessionStarted:
			s := out.session
			switch {
			case s == nil:
				errorf("a session started, but the command returned none")
			case e.Stream != domain.UserStream(s.UserID) || s.UserID != domain.UserIDFor(s.Username):
				errorf("session of %s (%q) started in stream %s", s.UserID, s.Username, e.Stream)
			case ev.SessionID != s.SessionID || ev.TokenHash != commands.HashToken(s.Token):
				errorf("stored session %s with token hash %s; returned %s with token hashing to %s",
					ev.SessionID, ev.TokenHash, s.SessionID, commands.HashToken(s.Token))
			}
		}
	}
	return problems
}

// world is one spec's store, read models, clock and handlers.
type world struct {
	t       *testing.T
	store   *sqlite.Store
	proj    *projections.Projections
	h       *commands.Handlers
	clock   *clock
	applied eventstore.Position
}

// migratedTemplate returns an empty SQLite file with the event store's and
// the read models' schemas, for specs to copy: migrating takes most of the
// time of a spec.
func migratedTemplate(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "template.db")
	store, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	db, err := sqlite.OpenDB(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := projections.Open(t.Context(), db, projections.SQLite); err != nil {
		t.Fatal(err)
	}
	// Move everything into the main file, so that it alone is the database.
	if _, err := db.ExecContext(t.Context(), `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	return path
}

// newWorld opens a store and read models on a copy of the template file.
func newWorld(t *testing.T, template string, start time.Time) *world {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "confab.db")
	b, err := os.ReadFile(template)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	db, err := sqlite.OpenDB(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	proj, err := projections.Open(ctx, db, projections.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{now: start}
	h, err := commands.New(commands.Config{Store: store, Invites: proj, Now: c.Now, Password: cheap})
	if err != nil {
		t.Fatal(err)
	}
	return &world{t: t, store: store, proj: proj, h: h, clock: c}
}

// appendGiven appends the given events, one at a time, and applies them to
// the read models.
func (w *world) appendGiven(x *expander, given []specEvent) {
	t := w.t
	for i, g := range given {
		stream, err := x.expand(g.Stream)
		if err != nil {
			t.Fatalf("given %d: %v", i, err)
		}
		data, err := x.expand(string(g.Data))
		if err != nil {
			t.Fatalf("given %d: %v", i, err)
		}
		ev, err := checkGiven(g.Type, []byte(data))
		if err != nil {
			t.Fatalf("given %d: %v", i, err)
		}
		id := uuid.New()
		if m, ok := ev.(domain.MessagePosted); ok {
			room, ok := domain.RoomIDOfStream(stream)
			if !ok {
				t.Fatalf("given %d: a message in stream %s", i, stream)
			}
			id = uuid.UUID(domain.MessageEventID(room, m.SenderID, m.ClientMsgID))
		}
		if _, err := w.store.Append(t.Context(), stream, eventstore.Any, eventstore.EventData{ID: id, Type: g.Type, Data: []byte(data)}); err != nil {
			t.Fatalf("given %d: %v", i, err)
		}
	}
	w.project()
}

// checkGiven decodes a given event and refuses fields its type lacks.
func checkGiven(typ string, data []byte) (domain.Event, error) {
	if !domain.KnownType(typ) {
		return nil, fmt.Errorf("unknown event type %q", typ)
	}
	ev, err := domain.Decode(typ, data)
	if err != nil {
		return nil, err
	}
	var given, known map[string]any
	if err := json.Unmarshal(data, &given); err != nil {
		return nil, err
	}
	_, encoded, err := domain.Encode(ev)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(encoded, &known); err != nil {
		return nil, err
	}
	for k, v := range given {
		if _, ok := known[k]; !ok && !isZero(v) { // absent when zero and omitempty
			return nil, fmt.Errorf("%s has no field %q", typ, k)
		}
	}
	return ev, nil
}

func isZero(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case float64:
		return v == 0
	case bool:
		return !v
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}

// readAfter returns the events after pos.
func (w *world) readAfter(pos eventstore.Position) []eventstore.RecordedEvent {
	var all []eventstore.RecordedEvent
	for {
		events, err := w.store.ReadAll(w.t.Context(), pos, 1000)
		if err != nil {
			w.t.Fatal(err)
		}
		all = append(all, events...)
		if len(events) < 1000 {
			return all
		}
		pos = events[len(events)-1].Position
	}
}

// project applies the new events to the read models.
func (w *world) project() {
	events := w.readAfter(w.applied)
	if len(events) == 0 {
		return
	}
	if err := w.proj.Apply(w.t.Context(), events); err != nil {
		w.t.Fatal(err)
	}
	w.applied = events[len(events)-1].Position
}

// clock is the handlers' clock; it moves only when a step advances it.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// expander expands placeholders, and puts them back into actual values.
type expander struct {
	now      time.Time
	reverser *strings.Replacer
}

var (
	placeholderRE = regexp.MustCompile(`\{\{(\w+)(?::([^{}]*))?\}\}`)
	uuidRE        = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	// randomFieldRE matches the fields of events whose values commands
	// make up at random, in compact JSON.
	randomFieldRE = regexp.MustCompile(`"(invite_code|token_hash|password_hash)":"(?:[^"\\]|\\.)*"`)
)

func specRoomID(name string) string { return uuid.NewSHA1(specRoomNS, []byte(name)).String() }

// newExpander returns the expander of a spec file: the users and rooms it
// names (with placeholders, as usernames, or mentioned in texts) are put
// back as placeholders into actual values.
func newExpander(raw []byte, now time.Time) (*expander, error) {
	x := &expander{now: now}
	users := map[string]bool{}
	var pairs []string
	for _, m := range placeholderRE.FindAllSubmatch(raw, -1) {
		kind, arg := string(m[1]), string(m[2])
		switch kind {
		case "user":
			users[strings.ToLower(arg)] = true
		case "dm":
			for _, u := range strings.Split(arg, ",") {
				users[strings.ToLower(strings.TrimSpace(u))] = true
			}
		case "room":
			pairs = append(pairs, specRoomID(arg), "{{room:"+arg+"}}")
		}
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	walkJSON(doc, func(key string, v any) {
		s, ok := v.(string)
		if !ok {
			return
		}
		switch strings.ToLower(key) {
		case "username":
			if domain.ValidateUsername(s) == nil {
				users[strings.ToLower(s)] = true
			}
		case "text":
			for _, name := range domain.ParseMentions(s) {
				users[name] = true
			}
		}
	})
	names := make([]string, 0, len(users))
	for u := range users {
		names = append(names, u)
		pairs = append(pairs, string(domain.UserIDFor(u)), "{{user:"+u+"}}")
	}
	slices.Sort(names)
	for i, a := range names {
		for _, b := range names[i+1:] {
			pairs = append(pairs, string(domain.DMRoomID(domain.UserIDFor(a), domain.UserIDFor(b))), "{{dm:"+a+","+b+"}}")
		}
	}
	pairs = append(pairs, now.Format(time.RFC3339Nano), "{{now}}")
	x.reverser = strings.NewReplacer(pairs...)
	return x, nil
}

// walkJSON calls f with every key and value of the objects in v.
func walkJSON(v any, f func(key string, v any)) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			f(k, e)
			walkJSON(e, f)
		}
	case []any:
		for _, e := range v {
			walkJSON(e, f)
		}
	}
}

// expand replaces the placeholders in s.
func (x *expander) expand(s string) (string, error) {
	var errs []error
	out := placeholderRE.ReplaceAllStringFunc(s, func(p string) string {
		m := placeholderRE.FindStringSubmatch(p)
		kind, arg := m[1], m[2]
		switch kind {
		case "user":
			return string(domain.UserIDFor(arg))
		case "room":
			return specRoomID(arg)
		case "dm":
			a, b, ok := strings.Cut(arg, ",")
			if ok {
				return string(domain.DMRoomID(domain.UserIDFor(strings.TrimSpace(a)), domain.UserIDFor(strings.TrimSpace(b))))
			}
		case "now":
			return x.now.Format(time.RFC3339Nano)
		case "hash":
			h, err := password.Hash(arg, cheap)
			if err != nil {
				errs = append(errs, err)
			}
			return h
		case "repeat":
			n, str, ok := strings.Cut(arg, ":")
			if count, err := strconv.Atoi(n); ok && err == nil && count >= 0 {
				return strings.Repeat(str, count)
			}
		}
		errs = append(errs, fmt.Errorf("bad placeholder %s", p))
		return p
	})
	return out, errors.Join(errs...)
}

// render returns an actual event as a spec writes it: placeholders for the
// users, rooms and time it knows, "<any>" for random values.
func (x *expander) render(e eventstore.RecordedEvent) specEvent {
	var buf bytes.Buffer
	data := e.Data
	if json.Compact(&buf, data) == nil {
		data = buf.Bytes()
	}
	s := x.reverser.Replace(string(data))
	s = randomFieldRE.ReplaceAllString(s, `"$1":"`+anyValue+`"`)
	s = uuidRE.ReplaceAllString(s, anyValue)
	stream := uuidRE.ReplaceAllString(x.reverser.Replace(e.Stream), anyValue)
	return specEvent{Stream: stream, Type: e.Type, Data: json.RawMessage(s)}
}

// matchEvent compares an expected event with an actual one.
func (x *expander) matchEvent(want specEvent, got eventstore.RecordedEvent) (bool, string) {
	stream, err := x.expand(want.Stream)
	if err != nil {
		return false, err.Error()
	}
	if want.Type != got.Type {
		return false, fmt.Sprintf("type %s, want %s", got.Type, want.Type)
	}
	if !globMatch(stream, got.Stream) {
		return false, fmt.Sprintf("stream %s, want %s", got.Stream, stream)
	}
	data, err := x.expand(string(want.Data))
	if err != nil {
		return false, err.Error()
	}
	w, err := decodeJSON([]byte(data))
	if err != nil {
		return false, fmt.Sprintf("expected data: %v", err)
	}
	g, err := decodeJSON(got.Data)
	if err != nil {
		return false, fmt.Sprintf("actual data: %v", err)
	}
	if path, ok := equalJSON("data", w, g); !ok {
		return false, fmt.Sprintf("%s differs", path)
	}
	return true, ""
}

func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

// equalJSON compares decoded JSON values; strings of want may hold "<any>".
// It returns the path of the first difference.
func equalJSON(path string, want, got any) (string, bool) {
	switch w := want.(type) {
	case string:
		if w == anyValue {
			return path, got != nil && got != ""
		}
		g, ok := got.(string)
		return path, ok && globMatch(w, g)
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return path, false
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				return path + "." + k + " (unexpected)", false
			}
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				return path + "." + k + " (missing)", false
			}
			if p, ok := equalJSON(path+"."+k, wv, gv); !ok {
				return p, false
			}
		}
		return path, true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return path, false
		}
		for i := range w {
			if p, ok := equalJSON(fmt.Sprintf("%s[%d]", path, i), w[i], g[i]); !ok {
				return p, false
			}
		}
		return path, true
	}
	return path, reflect.DeepEqual(want, got)
}

// globMatch reports whether s matches pattern, in which "<any>" stands for
// one or more characters.
func globMatch(pattern, s string) bool {
	if !strings.Contains(pattern, anyValue) {
		return pattern == s
	}
	parts := strings.Split(pattern, anyValue)
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(`(?s)^` + strings.Join(parts, `.+`) + `$`).MatchString(s)
}
