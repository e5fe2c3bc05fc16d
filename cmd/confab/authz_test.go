package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/eventstore/postgres"
	"github.com/confabhq/confab/eventstore/sqlite"
	"github.com/confabhq/confab/internal/apitest"
	"github.com/confabhq/confab/internal/pgtest"
	"github.com/gorilla/websocket"
)

// storeUnderTest is a way to run the server on one event store, and to
// open that store beside the running server to look at what it holds.
type storeUnderTest struct {
	args []string
	open func(ctx context.Context) (eventstore.Store, error)
}

// storesUnderTest returns the configurations of the named stores (sqlite,
// postgres), or of both when no name is given.
func storesUnderTest(t *testing.T, names ...string) map[string]storeUnderTest {
	all := map[string]func() storeUnderTest{
		"sqlite": func() storeUnderTest {
			dir := t.TempDir()
			return storeUnderTest{
				args: []string{"--data", dir},
				open: func(ctx context.Context) (eventstore.Store, error) {
					return sqlite.Open(ctx, filepath.Join(dir, "events.db"))
				},
			}
		},
		"postgres": func() storeUnderTest {
			url := pgtest.NewTestDatabase(t)
			return storeUnderTest{
				args: []string{"--store", "postgres", "--postgres-url", url},
				open: func(ctx context.Context) (eventstore.Store, error) {
					return postgres.Open(ctx, url, postgres.Options{})
				},
			}
		},
	}
	if len(names) == 0 {
		names = []string{"sqlite", "postgres"}
	}
	out := map[string]storeUnderTest{}
	for _, n := range names {
		out[n] = all[n]()
	}
	return out
}

// withStore opens the store beside the server, calls f, and closes it.
func (s storeUnderTest) withStore(t *testing.T, ctx context.Context, f func(eventstore.Store) error) {
	t.Helper()
	st, err := s.open(ctx)
	if err != nil {
		t.Fatalf("open the event store beside the server: %v", err)
	}
	defer st.Close()
	if err := f(st); err != nil {
		t.Fatal(err)
	}
}

// head returns the event store's head.
func (s storeUnderTest) head(t *testing.T, ctx context.Context) eventstore.Position {
	t.Helper()
	var head eventstore.Position
	s.withStore(t, ctx, func(st eventstore.Store) (err error) {
		head, err = st.Head(ctx)
		return err
	})
	return head
}

// since returns the events stored after pos.
func (s storeUnderTest) since(t *testing.T, ctx context.Context, pos eventstore.Position) []eventstore.RecordedEvent {
	t.Helper()
	var events []eventstore.RecordedEvent
	s.withStore(t, ctx, func(st eventstore.Store) (err error) {
		events, err = st.ReadAll(ctx, pos, 10000)
		return err
	})
	return events
}

// waitUntil polls cond until it holds or ctx ends.
func waitUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitForUserEvent waits until the last event of user's stream has type
// typ (for example the ConnectionClosed a closed WebSocket appends).
func (s storeUnderTest) waitForUserEvent(t *testing.T, ctx context.Context, user, typ string) {
	t.Helper()
	st, err := s.open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	waitUntil(t, ctx, user+" "+typ, func() bool {
		evs, err := st.ReadStream(ctx, domain.UserStream(domain.UserID(user)), eventstore.End, eventstore.Backwards, 1)
		return err == nil && len(evs) == 1 && evs[0].Type == typ
	})
}

// apiResult is the outcome of a raw API request.
type apiResult struct {
	Status  int
	Code    string
	Message string
	Body    []byte
	JSON    bool // the answer was application/json
	Header  http.Header
}

func (r apiResult) String() string {
	return fmt.Sprintf("%d %s %q", r.Status, r.Code, r.Message)
}

// rawRequest sends a request to the API with the given headers and body
// (nil: none; []byte or string: sent as is; anything else: as JSON). A
// body goes with Content-Type: application/json unless h has one.
func rawRequest(ctx context.Context, base, method, path string, h http.Header, body any) (apiResult, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return apiResult{}, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return apiResult{}, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if _, typed := h["Content-Type"]; body != nil && !typed {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return apiResult{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return apiResult{}, err
	}
	res := apiResult{Status: resp.StatusCode, Body: data, JSON: strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"), Header: resp.Header}
	var e struct {
		Error struct{ Code, Message string }
	}
	if json.Unmarshal(data, &e) == nil {
		res.Code, res.Message = e.Error.Code, e.Error.Message
	}
	return res, nil
}

func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

// forgedToken returns a random token shaped like a real one (256 bits,
// base64url).
func forgedToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// drainFrames returns the frames queued on ws without waiting.
func drainFrames(ws *apitest.WS) []apitest.Frame {
	done, cancel := context.WithCancel(context.Background())
	cancel()
	var out []apitest.Frame
	for {
		f, err := ws.Next(done)
		if err != nil {
			return out
		}
		out = append(out, f)
	}
}

// ping sends a ping and waits for its pong: every frame the server queued
// on ws before it has then arrived.
func ping(t *testing.T, ctx context.Context, ws *apitest.WS) {
	t.Helper()
	f, err := ws.Request(ctx, map[string]any{"type": "ping"})
	if err != nil || f.Type() != "pong" {
		t.Fatalf("ping: %v %v, want a pong", f, err)
	}
}

// subscribeAll subscribes ws to room from the start and reads the
// catch-up events.
func subscribeAll(t *testing.T, ctx context.Context, ws *apitest.WS, room string) uint64 {
	t.Helper()
	ack, err := ws.Subscribe(ctx, room, 0)
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	last := ack.Uint("seq")
	for {
		if f := nextEvent(t, ctx, ws); f.Uint("seq") == last {
			return last
		}
	}
}

// roomView is what the owner sees of a room; "nothing changes" compares two.
type roomView struct {
	Room     apitest.Room
	Messages []apitest.Message
	Members  []string // user:role, sorted
}

func viewRoom(t *testing.T, ctx context.Context, c *apitest.Client, room string) roomView {
	t.Helper()
	var v roomView
	var out struct{ Room apitest.Room }
	if err := c.Do(ctx, "GET", "/api/v1/rooms/"+room, nil, &out); err != nil {
		t.Fatal(err)
	}
	v.Room = out.Room
	v.Room.ReadSeq, v.Room.Unread = 0, 0 // the owner's own read marker is not the room
	msgs, err := c.Messages(ctx, room, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	v.Messages = msgs
	members, err := c.Members(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		v.Members = append(v.Members, m.User.ID+":"+m.Role)
	}
	slices.Sort(v.Members)
	return v
}

// authzActor is a caller who must not get into the room.
type authzActor struct {
	name  string
	token string
	id    string // user ID, or "" for a forged token
	ws    *apitest.WS
}

// TestAuthorizationMatrix checks Invariant 5: a non-member, a kicked
// member, a banned member, a signed-out session and a forged token each try
// every REST path and WebSocket frame on a room; all are refused the same
// way a missing room is, and nothing changes.
func TestAuthorizationMatrix(t *testing.T) {
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
			owner := signUp("owner")
			room, err := owner.CreateRoom(ctx, "secret")
			if err != nil {
				t.Fatal(err)
			}
			R := room.ID
			var ownerMsgSeq uint64 // the owner's last message, with the owner's reaction
			for i := range 3 {
				m, err := owner.Post(ctx, R, fmt.Sprintf("o%d", i), fmt.Sprintf("message %d", i))
				if err != nil {
					t.Fatal(err)
				}
				ownerMsgSeq = m.Seq
			}
			if err := owner.Do(ctx, "PUT", fmt.Sprintf("/api/v1/rooms/%s/messages/%d/reactions/%s", R, ownerMsgSeq, url.PathEscape("👍")), nil, nil); err != nil {
				t.Fatal(err)
			}
			nonMember, kicked, banned, signedOut := signUp("nonmember"), signUp("kicked"), signUp("banned"), signUp("signedout")
			for _, c := range []*apitest.Client{kicked, banned, signedOut} {
				if _, err := c.Join(ctx, room.InviteCode); err != nil {
					t.Fatalf("%s joins: %v", c.User.Username, err)
				}
			}
			// Targets: the owner's message, and one the kicked user posted
			// while a member.
			msg, err := kicked.Post(ctx, R, "k1", "kicked was here")
			if err != nil {
				t.Fatal(err)
			}

			wsO, err := owner.Dial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer wsO.Close()
			subscribeAll(t, ctx, wsO, R)
			wsK, err := kicked.Dial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer wsK.Close()
			subscribeAll(t, ctx, wsK, R)
			wsB, err := banned.Dial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer wsB.Close()
			subscribeAll(t, ctx, wsB, R)
			wsS, err := signedOut.Dial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer wsS.Close()

			// Kick and ban: each removed member's live subscription gets
			// the event that removes them, then nothing more of the room.
			if err := owner.Do(ctx, "POST", "/api/v1/rooms/"+R+"/members/"+kicked.User.ID+"/kick", nil, nil); err != nil {
				t.Fatalf("kick: %v", err)
			}
			if err := owner.Do(ctx, "POST", "/api/v1/rooms/"+R+"/members/"+banned.User.ID+"/ban", nil, nil); err != nil {
				t.Fatalf("ban: %v", err)
			}
			removedAt := map[*apitest.WS]uint64{}
			for ws, want := range map[*apitest.WS][2]string{wsK: {"member.kicked", kicked.User.ID}, wsB: {"member.banned", banned.User.ID}} {
				for {
					f := nextEvent(t, ctx, ws)
					if f.Str("event") == want[0] && f.Data().Str("user_id") == want[1] {
						removedAt[ws] = f.Uint("seq")
						break
					}
				}
			}
			var lastSeq uint64
			for i := range 2 {
				m, err := owner.Post(ctx, R, fmt.Sprintf("after%d", i), "after the kick")
				if err != nil {
					t.Fatal(err)
				}
				lastSeq = m.Seq
			}
			for f := nextEvent(t, ctx, wsO); f.Uint("seq") != lastSeq; f = nextEvent(t, ctx, wsO) {
			}
			// The hub has dispatched both messages: a pong to the removed
			// users comes after anything it queued for them.
			for ws, name := range map[*apitest.WS]string{wsK: "kicked", wsB: "banned"} {
				ping(t, ctx, ws)
				for _, f := range drainFrames(ws) {
					if f.Type() == "event" && f.Str("room_id") == R {
						t.Errorf("%s user got %v after seq %d removed them", name, f, removedAt[ws])
					}
				}
			}

			// Sign out: the session's WebSocket closes, its token is dead.
			if err := signedOut.Do(ctx, "POST", "/api/v1/auth/signout", nil, nil); err != nil {
				t.Fatalf("sign out: %v", err)
			}
			select {
			case <-wsS.Closed():
			case <-ctx.Done():
				t.Fatal("the signed-out session's WebSocket stays open")
			}
			if code := wsS.CloseCode(); code != 4001 {
				t.Errorf("signed-out WebSocket closed with %d (%v), want 4001", code, wsS.CloseErr)
			}
			sut.waitForUserEvent(t, ctx, signedOut.User.ID, "ConnectionClosed")

			wsN, err := nonMember.Dial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer wsN.Close()
			for _, ws := range []*apitest.WS{wsN, wsK, wsB, wsO} {
				ping(t, ctx, ws) // its ConnectionOpened is stored
			}
			drainFrames(wsO)

			before := viewRoom(t, ctx, owner, R)
			head := sut.head(t, ctx)

			actors := []authzActor{
				{name: "nonmember", token: nonMember.Token, id: nonMember.User.ID, ws: wsN},
				{name: "kicked", token: kicked.Token, id: kicked.User.ID, ws: wsK},
				{name: "banned", token: banned.Token, id: banned.User.ID, ws: wsB},
				{name: "signedout", token: signedOut.Token, id: signedOut.User.ID},
				{name: "forged", token: forgedToken()},
			}
			missing := "5f1e8a1c-1b7e-4c5e-8d0c-6a3e2b9c4d11" // a room that does not exist
			type call struct {
				method, path string
				body         any
			}
			roomCalls := func(room, self string) []call {
				p := "/api/v1/rooms/" + room
				emoji := "/reactions/" + url.PathEscape("👍")
				return []call{
					{"GET", p, nil},
					{"PATCH", p, map[string]string{"name": "pwned"}},
					{"POST", p + "/leave", nil},
					{"POST", p + "/invite", nil},
					{"GET", p + "/members", nil},
					{"POST", p + "/members/" + owner.User.ID + "/kick", nil},
					{"POST", p + "/members/" + owner.User.ID + "/ban", nil},
					{"DELETE", p + "/bans/" + banned.User.ID, nil},
					{"PUT", p + "/members/" + self + "/role", map[string]string{"role": "owner"}},
					{"PUT", p + "/members/" + owner.User.ID + "/role", map[string]string{"role": "member"}},
					{"GET", p + "/messages", nil},
					{"GET", fmt.Sprintf("%s/messages?before=%d&limit=1", p, lastSeq), nil},
					{"POST", p + "/messages", map[string]string{"client_msg_id": "x1", "text": "pwned"}},
					{"PATCH", fmt.Sprintf("%s/messages/%d", p, ownerMsgSeq), map[string]string{"text": "pwned"}},
					{"PATCH", fmt.Sprintf("%s/messages/%d", p, msg.Seq), map[string]string{"text": "pwned"}},
					{"DELETE", fmt.Sprintf("%s/messages/%d", p, ownerMsgSeq), nil},
					{"DELETE", fmt.Sprintf("%s/messages/%d", p, msg.Seq), nil},
					{"PUT", fmt.Sprintf("%s/messages/%d%s", p, ownerMsgSeq, emoji), nil},
					{"DELETE", fmt.Sprintf("%s/messages/%d%s", p, ownerMsgSeq, emoji), nil},
					{"POST", p + "/read", map[string]uint64{"seq": 1}},
				}
			}
			accountCalls := []call{
				{"GET", "/api/v1/me", nil},
				{"GET", "/api/v1/rooms", nil},
				{"POST", "/api/v1/rooms", map[string]string{"name": "mine"}},
				{"POST", "/api/v1/rooms/join", map[string]string{"invite_code": room.InviteCode}},
				{"POST", "/api/v1/dms", map[string]string{"user_id": owner.User.ID}},
				{"GET", "/api/v1/users/" + owner.User.ID, nil},
				{"GET", "/api/v1/users/by-name/owner", nil},
				{"POST", "/api/v1/auth/signout", nil},
			}

			for _, a := range actors {
				self := a.id
				if self == "" {
					self = owner.User.ID
				}
				noSession := a.ws == nil
				t.Run(a.name+"/rest", func(t *testing.T) {
					calls := roomCalls(R, self)
					if noSession {
						calls = append(calls, accountCalls...)
					}
					for _, c := range calls {
						got, err := rawRequest(ctx, base, c.method, c.path, bearer(a.token), c.body)
						if err != nil {
							t.Fatal(err)
						}
						want := apiResult{Status: http.StatusNotFound, Code: "not_found"}
						if noSession {
							want = apiResult{Status: http.StatusUnauthorized, Code: "unauthenticated"}
						}
						if got.Status != want.Status || got.Code != want.Code || !got.JSON {
							t.Errorf("%s %s: %v (json %v), want %d %s", c.method, c.path, got, got.JSON, want.Status, want.Code)
						}
						if noSession {
							// A cookie is no way around it either.
							h := http.Header{"Cookie": {"confab_session=" + a.token}}
							if got, err := rawRequest(ctx, base, c.method, c.path, h, c.body); err != nil || got.Status != http.StatusUnauthorized {
								t.Errorf("%s %s with a cookie: %v %v, want 401", c.method, c.path, got, err)
							}
						}
					}
					if noSession {
						return
					}
					// The answers do not tell the room exists: a room that
					// does not exist gets the very same ones.
					for i, c := range roomCalls(missing, self) {
						got, err := rawRequest(ctx, base, c.method, c.path, bearer(a.token), c.body)
						if err != nil {
							t.Fatal(err)
						}
						onR := calls[i]
						gotR, err := rawRequest(ctx, base, onR.method, onR.path, bearer(a.token), onR.body)
						if err != nil {
							t.Fatal(err)
						}
						if got.String() != gotR.String() {
							t.Errorf("%s %s: %v, but on a missing room %v: the answer tells the room exists", onR.method, onR.path, gotR, got)
						}
					}
				})
				t.Run(a.name+"/ws", func(t *testing.T) {
					url := "ws" + strings.TrimPrefix(base, "http") + "/api/v1/ws"
					if noSession {
						// A bearer token is refused at the upgrade.
						conn, resp, err := websocket.DefaultDialer.DialContext(ctx, url, bearer(a.token))
						if err == nil {
							conn.Close()
							t.Fatal("WebSocket upgrade with the token succeeded")
						}
						if resp == nil || resp.StatusCode != http.StatusUnauthorized {
							t.Fatalf("WebSocket upgrade with the token: %v %v, want HTTP 401", resp, err)
						}
						var e struct{ Error struct{ Code string } }
						body, _ := io.ReadAll(resp.Body)
						json.Unmarshal(body, &e)
						if e.Error.Code != "unauthenticated" {
							t.Errorf("WebSocket upgrade refused with body %s, want code unauthenticated", body)
						}
						// A stale cookie may upgrade (the client can still say
						// hello), but it authenticates nothing: the first
						// frame that is not a hello is refused and closed.
						ws, err := apitest.DialWS(ctx, base, http.Header{"Cookie": {"confab_session=" + a.token}})
						if err != nil && !strings.Contains(err.Error(), "HTTP 401") {
							t.Fatalf("WebSocket upgrade with the token as cookie: %v, want HTTP 401 or an unauthenticated connection", err)
						}
						if err == nil {
							if err := ws.Send(map[string]any{"type": "subscribe", "id": "s", "room_id": R}); err != nil {
								t.Fatal(err)
							}
							f, err := ws.Next(ctx)
							if err != nil || f.Type() != "error" || f.Str("code") != "unauthenticated" {
								t.Fatalf("subscribe on a stale cookie's connection: %v %v, want an unauthenticated error", f, err)
							}
							select {
							case <-ws.Closed():
							case <-ctx.Done():
								t.Fatal("the server keeps an unauthenticated connection open")
							}
							ws.Close()
						}
						// A hello with the token is refused and closed.
						ws, err = apitest.DialWS(ctx, base, http.Header{})
						if err != nil {
							t.Fatal(err)
						}
						defer ws.Close()
						if err := ws.Send(map[string]any{"type": "hello", "id": "h", "token": a.token}); err != nil {
							t.Fatal(err)
						}
						f, err := ws.Next(ctx)
						if err != nil || f.Type() != "error" || f.Str("code") != "unauthenticated" {
							t.Fatalf("hello with a dead token: %v %v, want an unauthenticated error", f, err)
						}
						select {
						case <-ws.Closed():
						case <-ctx.Done():
							t.Fatal("the server keeps a connection whose hello failed")
						}
						if code := ws.CloseCode(); code != 4001 {
							t.Errorf("closed with %d (%v), want 4001", code, ws.CloseErr)
						}
						return
					}
					for _, room := range []string{R, missing} {
						frames := []map[string]any{
							{"type": "subscribe", "room_id": room, "after_seq": 0},
							{"type": "subscribe", "room_id": room, "after_seq": lastSeq},
							{"type": "send", "room_id": room, "client_msg_id": "ws1", "text": "pwned"},
							{"type": "edit", "room_id": room, "seq": ownerMsgSeq, "text": "pwned"},
							{"type": "edit", "room_id": room, "seq": msg.Seq, "text": "pwned"},
							{"type": "delete", "room_id": room, "seq": ownerMsgSeq},
							{"type": "delete", "room_id": room, "seq": msg.Seq},
							{"type": "react", "room_id": room, "seq": ownerMsgSeq, "emoji": "👍"},
							{"type": "react", "room_id": room, "seq": ownerMsgSeq, "emoji": "👍", "remove": true},
							{"type": "typing", "room_id": room},
							{"type": "read", "room_id": room, "seq": 1},
						}
						for _, fr := range frames {
							typ := fr["type"]
							f, err := a.ws.Request(ctx, fr)
							ae, ok := err.(*apitest.Error)
							if !ok || (ae.Code != "not_found" && ae.Code != "forbidden") {
								t.Errorf("%v on %s: %v %v, want an error not_found or forbidden", typ, room, f, err)
							} else if ae.Code != "not_found" {
								t.Logf("%v on %s: %s (not_found would hide the room better)", typ, room, ae.Code)
							}
						}
						if _, err := a.ws.Request(ctx, map[string]any{"type": "unsubscribe", "room_id": room}); err == nil {
							t.Errorf("unsubscribe from %s succeeded", room)
						}
					}
					ping(t, ctx, a.ws) // still connected
				})
			}

			// Nothing changed: the owner's view, the owner's live feed,
			// and the event store.
			ping(t, ctx, wsO)
			for _, f := range drainFrames(wsO) {
				if f.Type() == "event" || f.Type() == "typing" {
					t.Errorf("owner got %v from an attempt that should change nothing", f)
				}
			}
			if after := viewRoom(t, ctx, owner, R); !reflect.DeepEqual(after, before) {
				t.Errorf("room changed:\nbefore %+v\nafter  %+v", before, after)
			}
			if h := sut.head(t, ctx); h != head {
				for _, e := range sut.since(t, ctx, head) {
					t.Errorf("appended %s %s: %s", e.Stream, e.Type, e.Data)
				}
			}

			t.Run("rejoin", func(t *testing.T) {
				if _, err := banned.Join(ctx, room.InviteCode); !isAPIError(err, http.StatusForbidden, "forbidden") {
					t.Errorf("banned user rejoins: %v, want 403 forbidden", err)
				}
				if h := sut.head(t, ctx); h != head {
					t.Errorf("a refused join appended events")
				}
				got, err := kicked.Join(ctx, room.InviteCode)
				if err != nil || got.ID != R || got.Role != "member" {
					t.Fatalf("kicked user rejoins: %+v %v, want member of %s", got, err, R)
				}
				if _, err := wsK.Subscribe(ctx, R, lastSeq); err != nil {
					t.Errorf("rejoined user subscribes: %v", err)
				}
				if err := kicked.Do(ctx, "POST", "/api/v1/rooms/"+R+"/leave", nil, nil); err != nil {
					t.Fatalf("rejoined user leaves: %v", err)
				}
				if _, err := wsK.Subscribe(ctx, R, lastSeq); !isAPIError(err, 0, "not_found") {
					t.Errorf("subscribe after leaving: %v, want not_found", err)
				}
				if _, err := kicked.Messages(ctx, R, 0, 10); !isAPIError(err, http.StatusNotFound, "not_found") {
					t.Errorf("history after leaving: %v, want 404", err)
				}
			})
		})
	}
}

// isAPIError reports whether err is an API error with code (and status,
// unless 0).
func isAPIError(err error, status int, code string) bool {
	ae, ok := err.(*apitest.Error)
	return ok && ae.Code == code && (status == 0 || ae.Status == status)
}
