package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/internal/apitest"
	"github.com/gorilla/websocket"
)

// nothingAppended fails t unless the store holds nothing after head but
// what allow accepts.
func (s storeUnderTest) nothingAppended(t *testing.T, ctx context.Context, head eventstore.Position, allow func(eventstore.RecordedEvent) bool) {
	t.Helper()
	for _, e := range s.since(t, ctx, head) {
		if allow == nil || !allow(e) {
			t.Errorf("bad input appended %s %s: %s", e.Stream, e.Type, e.Data)
		}
	}
}

// waitClosed waits until the server closed ws and returns its close code.
func waitClosed(t *testing.T, ctx context.Context, ws *apitest.WS) int {
	t.Helper()
	select {
	case <-ws.Closed():
		return ws.CloseCode()
	case <-ctx.Done():
		t.Fatal("the server did not close the connection")
		return 0
	}
}

// wantCloseCode checks the close code a server sent when it hung up on a
// client that was still sending.
func wantCloseCode(t *testing.T, ws *apitest.WS, code, want int) {
	t.Helper()
	t.Run(fmt.Sprintf("close_code_%d", want), func(t *testing.T) {
		if code != want {
			t.Errorf("closed with %d (%v), want %d", code, ws.CloseErr, want)
		}
	})
}

// nextError returns the next error frame of ws, skipping others.
func nextError(t *testing.T, ctx context.Context, ws *apitest.WS) apitest.Frame {
	t.Helper()
	f, err := ws.NextOf(ctx, "error")
	if err != nil {
		t.Fatalf("waiting for an error frame: %v", err)
	}
	return f
}

// TestBadFrames checks Invariant 8 on the WebSocket: bad frames get a
// clear error, the connection stays usable unless the frame was one to
// hang up on, and nothing is stored.
func TestBadFrames(t *testing.T) {
	for name, sut := range storesUnderTest(t) {
		t.Run(name, func(t *testing.T) {
			addr, stop := startServe(t, sut.args...)
			defer stop()
			base := "http://" + addr
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			alice, err := apitest.SignUp(ctx, base, "alice", "correct horse")
			if err != nil {
				t.Fatal(err)
			}
			room, err := alice.CreateRoom(ctx, "general")
			if err != nil {
				t.Fatal(err)
			}
			R := room.ID
			msg, err := alice.Post(ctx, R, "m1", "hello")
			if err != nil {
				t.Fatal(err)
			}
			// A connection that never says hello is closed after the
			// hello timeout (10 s); it waits while the other cases run.
			silent, err := apitest.DialWS(ctx, base, http.Header{})
			if err != nil {
				t.Fatal(err)
			}
			defer silent.Close()
			me := domain.UserStream(domain.UserID(alice.User.ID))
			closedByServer := func(e eventstore.RecordedEvent) bool {
				return e.Stream == me && e.Type == "ConnectionClosed"
			}

			// dial opens an authenticated connection whose opening is
			// stored, and closes it at the end of the test once its
			// closing is stored too, so that each case starts quiet.
			dial := func(t *testing.T) (*apitest.WS, eventstore.Position) {
				t.Helper()
				before := sut.head(t, ctx)
				ws, err := alice.Dial(ctx)
				if err != nil {
					t.Fatal(err)
				}
				ping(t, ctx, ws)
				// The opening is durable before the pong, but on PostgreSQL
				// a read sees it only once older transactions are done:
				// wait until it is there, so that it is before head.
				for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
					opened := slices.ContainsFunc(sut.since(t, ctx, before), func(e eventstore.RecordedEvent) bool {
						return e.Stream == me && e.Type == "ConnectionOpened"
					})
					if opened {
						break
					}
					if time.Now().After(deadline) {
						t.Fatal("the connection's opening was not stored")
					}
				}
				t.Cleanup(func() {
					ws.Close()
					sut.waitForUserEvent(t, ctx, alice.User.ID, "ConnectionClosed")
				})
				return ws, sut.head(t, ctx)
			}
			// kept checks that ws still answers and nothing was stored.
			kept := func(t *testing.T, ws *apitest.WS, head eventstore.Position) {
				t.Helper()
				ping(t, ctx, ws)
				sut.nothingAppended(t, ctx, head, nil)
			}
			write := func(t *testing.T, ws *apitest.WS, typ int, data string) {
				t.Helper()
				if err := ws.Conn.WriteMessage(typ, []byte(data)); err != nil {
					t.Fatal(err)
				}
			}
			wantError := func(t *testing.T, f apitest.Frame, code string) {
				t.Helper()
				if f.Type() != "error" || f.Str("code") != code || f.Str("message") == "" {
					t.Fatalf("got %v, want an error frame with code %s and a message", f, code)
				}
			}

			t.Run("malformed_json", func(t *testing.T) {
				ws, head := dial(t)
				for _, data := range []string{`{"type":`, `not json`, `{"type":"ping",}`, `[`, `{"type":"ping","id":"x"`} {
					write(t, ws, websocket.TextMessage, data)
					wantError(t, nextError(t, ctx, ws), "invalid_json")
				}
				// The documented ping still works, with its id.
				write(t, ws, websocket.TextMessage, `{"type":"ping","id":"p"}`)
				if f, err := ws.NextOf(ctx, "pong"); err != nil || f.Str("id") != "p" {
					t.Fatalf("ping after bad JSON: %v %v, want pong p", f, err)
				}
				kept(t, ws, head)
			})

			t.Run("binary_frame", func(t *testing.T) {
				ws, head := dial(t)
				write(t, ws, websocket.BinaryMessage, `{"type":"ping","id":"b"}`)
				wantError(t, nextError(t, ctx, ws), "invalid_json")
				kept(t, ws, head)
			})

			t.Run("bad_requests", func(t *testing.T) {
				ws, head := dial(t)
				long := strings.Repeat("a", domain.MaxMessageLen+1)
				tests := []struct {
					frame map[string]any
					code  string
				}{
					{map[string]any{"type": "bogus"}, "unknown_type"},
					{map[string]any{"type": "Send", "room_id": R, "client_msg_id": "c", "text": "x"}, "unknown_type"},
					{map[string]any{"type": ""}, "unknown_type"},
					{map[string]any{"type": "subscribe"}, "invalid"},
					{map[string]any{"type": "send", "room_id": R, "text": "no client_msg_id"}, "invalid"},
					{map[string]any{"type": "send", "client_msg_id": "c", "text": "no room"}, "invalid"},
					{map[string]any{"type": "edit", "room_id": R, "text": "no seq"}, "invalid"},
					{map[string]any{"type": "react", "room_id": R, "seq": msg.Seq}, "invalid"},
					{map[string]any{"type": "read", "room_id": R}, "invalid"},
					{map[string]any{"type": "hello", "token": alice.Token}, "invalid"},
					{map[string]any{"type": "send", "room_id": R, "client_msg_id": "long", "text": long}, "invalid"},
					{map[string]any{"type": "send", "room_id": R, "client_msg_id": "long2", "text": strings.Repeat("é", domain.MaxMessageLen+1)}, "invalid"},
					{map[string]any{"type": "send", "room_id": R, "client_msg_id": "blank", "text": " \n\t "}, "invalid"},
					{map[string]any{"type": "send", "room_id": R, "client_msg_id": "nul", "text": "a\x00b"}, "invalid"},
					{map[string]any{"type": "send", "room_id": R, "client_msg_id": "has space", "text": "x"}, "invalid"},
					{map[string]any{"type": "send", "room_id": R, "client_msg_id": strings.Repeat("c", 65), "text": "x"}, "invalid"},
					{map[string]any{"type": "send", "room_id": R, "client_msg_id": "reply", "text": "x", "reply_to": 999}, "invalid"},
					{map[string]any{"type": "send", "room_id": "not-a-room", "client_msg_id": "c", "text": "x"}, "not_found"},
					{map[string]any{"type": "subscribe", "room_id": R, "after_seq": 999}, "invalid"},
					{map[string]any{"type": "edit", "room_id": R, "seq": msg.Seq, "text": ""}, "invalid"},
					{map[string]any{"type": "edit", "room_id": R, "seq": 999, "text": "x"}, "not_found"},
					{map[string]any{"type": "react", "room_id": R, "seq": msg.Seq, "emoji": "a b"}, "invalid"},
					{map[string]any{"type": "react", "room_id": R, "seq": msg.Seq, "emoji": strings.Repeat("x", 33)}, "invalid"},
					{map[string]any{"type": "read", "room_id": R, "seq": 999}, "invalid"},
					{map[string]any{"type": "unsubscribe", "room_id": R}, "not_subscribed"},
				}
				for _, tt := range tests {
					f, err := ws.Request(ctx, tt.frame)
					if !isAPIError(err, 0, tt.code) || err.(*apitest.Error).Message == "" {
						t.Errorf("%v: %v %v, want an error %s with a message", tt.frame, f, err, tt.code)
					}
				}
				// Valid JSON that is not a valid frame: unknown fields and
				// fields of the wrong type.
				for i, data := range []string{
					`{"type":"ping","id":"j1","sender_id":"` + alice.User.ID + `"}`,
					`{"type":"send","id":"j2","room_id":"` + R + `","client_msg_id":5,"text":"x"}`,
					`{"type":"read","id":"j3","room_id":"` + R + `","seq":-1}`,
				} {
					write(t, ws, websocket.TextMessage, data)
					f := nextError(t, ctx, ws)
					wantError(t, f, "invalid_json")
					t.Run(fmt.Sprintf("id_echoed_%d", i+1), func(t *testing.T) {
						if f.Str("id") != fmt.Sprintf("j%d", i+1) {
							t.Errorf("error %v for %s, want id j%d", f, data, i+1)
						}
					})
				}
				// An id longer than 64 characters is not echoed.
				write(t, ws, websocket.TextMessage, `{"type":"ping","id":"`+strings.Repeat("i", 65)+`"}`)
				if f := nextError(t, ctx, ws); f.Str("code") != "invalid" || f.Str("id") != "" {
					t.Errorf("a 65-character id: %v, want invalid without the id", f)
				}
				kept(t, ws, head)
			})

			t.Run("trailing_delimiter", func(t *testing.T) {
				ws, head := dial(t)
				write(t, ws, websocket.TextMessage, `{"type":"ping","id":"t"}}`)
				wantError(t, nextError(t, ctx, ws), "invalid_json")
				kept(t, ws, head)
			})

			t.Run("oversized_frame", func(t *testing.T) {
				ws, head := dial(t)
				big := `{"type":"send","room_id":"` + R + `","client_msg_id":"big","text":"` + strings.Repeat("a", 65<<10) + `"}`
				write(t, ws, websocket.TextMessage, big)
				code := waitClosed(t, ctx, ws)
				sut.waitForUserEvent(t, ctx, alice.User.ID, "ConnectionClosed")
				sut.nothingAppended(t, ctx, head, closedByServer)
				wantCloseCode(t, ws, code, websocket.CloseMessageTooBig)
			})

			t.Run("flood", func(t *testing.T) {
				ws, head := dial(t)
				// A burst past the allowance (50 frames) gets rate_limited
				// errors, each with its frame's id, and the connection
				// stays: fewer than 100 in a row were refused.
				limited := 0
				for round := 0; limited == 0; round++ {
					if round == 5 {
						t.Fatal("no frame of five bursts was rate limited")
					}
					const burst = 80
					for i := range burst {
						write(t, ws, websocket.TextMessage, fmt.Sprintf(`{"type":"ping","id":"f%d-%d"}`, round, i))
					}
					for answers := 0; answers < burst; {
						f, err := ws.Next(ctx)
						if err != nil {
							t.Fatalf("burst %d: %v", round, err)
						}
						if f.Type() == "pong" || f.Type() == "error" {
							answers++
						}
						switch {
						case f.Type() == "presence" || f.Type() == "presence_batch":
						case f.Type() == "pong":
						case f.Type() == "error" && f.Str("code") == "rate_limited" && strings.HasPrefix(f.Str("id"), fmt.Sprintf("f%d-", round)) && f.Str("message") != "":
							limited++
						default:
							t.Fatalf("burst answered with %v, want pong or rate_limited with the frame's id", f)
						}
					}
				}
				waitUntil(t, ctx, "the allowance to refill", func() bool {
					f, err := ws.Request(ctx, map[string]any{"type": "ping"})
					if err != nil && !isAPIError(err, 0, "rate_limited") {
						t.Fatalf("ping after the burst: %v", err)
					}
					return err == nil && f.Type() == "pong"
				})
				sut.nothingAppended(t, ctx, head, nil)

				// A flood: past 100 rate-limited frames in a row the server
				// hangs up with 4029.
				sent := 0
			flood:
				for ; sent < 100000; sent++ {
					select {
					case <-ws.Closed():
						break flood
					default:
					}
					if ws.Conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)) != nil {
						break
					}
				}
				code := waitClosed(t, ctx, ws)
				sut.waitForUserEvent(t, ctx, alice.User.ID, "ConnectionClosed")
				sut.nothingAppended(t, ctx, head, closedByServer)
				wantCloseCode(t, ws, code, 4029)
			})

			// Connections that have not authenticated: the first frame
			// must be a hello with a token.
			t.Run("unauthenticated", func(t *testing.T) {
				head := sut.head(t, ctx)
				tests := []struct {
					first string
					code  string
					close int
				}{
					{`{"type":"hello"}`, "invalid", websocket.ClosePolicyViolation},
					{`{"type":"hello","token":""}`, "invalid", websocket.ClosePolicyViolation},
					{`{"type":"ping","id":"p"}`, "unauthenticated", websocket.ClosePolicyViolation},
					{`{"type":"subscribe","room_id":"` + R + `"}`, "unauthenticated", websocket.ClosePolicyViolation},
					{`{"type":`, "invalid_json", websocket.ClosePolicyViolation},
					{`{"type":"hello","token":"` + strings.Repeat("t", 200) + `"}`, "unauthenticated", 4001},
					{`{"type":"hello","token":"` + forgedToken() + `"}`, "unauthenticated", 4001},
				}
				for _, tt := range tests {
					ws, err := apitest.DialWS(ctx, base, http.Header{})
					if err != nil {
						t.Fatal(err)
					}
					write(t, ws, websocket.TextMessage, tt.first)
					f, err := ws.Next(ctx)
					if err != nil || f.Type() != "error" || f.Str("code") != tt.code {
						t.Errorf("first frame %s: %v %v, want an error %s", tt.first, f, err, tt.code)
					}
					if code := waitClosed(t, ctx, ws); code != tt.close {
						t.Errorf("first frame %s: closed with %d (%v), want %d", tt.first, code, ws.CloseErr, tt.close)
					}
					ws.Close()
				}
				sut.nothingAppended(t, ctx, head, nil)
			})

			// The silent connection opened first has had the time by now.
			t.Run("hello_timeout", func(t *testing.T) {
				f, err := silent.Next(ctx)
				if err != nil || f.Type() != "error" || f.Str("code") != "auth_timeout" {
					t.Errorf("silent connection: %v %v, want an error auth_timeout", f, err)
				}
				if code := waitClosed(t, ctx, silent); code != 4002 {
					t.Errorf("silent connection closed with %d (%v), want 4002", code, silent.CloseErr)
				}
			})
		})
	}
}

// TestBadRequests checks Invariant 8 on REST: malformed, oversized and
// invalid requests, wrong passwords (throttled) and unknown endpoints get
// a clear JSON error and store nothing.
func TestBadRequests(t *testing.T) {
	sut := storesUnderTest(t, "sqlite")["sqlite"]
	addr, stop := startServe(t, sut.args...)
	defer stop()
	base := "http://" + addr
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	alice, err := apitest.SignUp(ctx, base, "alice", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	room, err := alice.CreateRoom(ctx, "general")
	if err != nil {
		t.Fatal(err)
	}
	R := room.ID
	auth := bearer(alice.Token)
	head := sut.head(t, ctx)

	big := `{"name":"` + strings.Repeat("a", 65<<10) + `"}`
	tests := []struct {
		method, path string
		h            http.Header
		body         any
		status       int
		code         string // "" for any
	}{
		// Malformed JSON, unknown fields, trailing data.
		{"POST", "/api/v1/rooms", auth, `{"name":`, 400, "invalid_json"},
		{"POST", "/api/v1/rooms", auth, `name=x`, 400, "invalid_json"},
		{"POST", "/api/v1/rooms", auth, ``, 400, "invalid_json"},
		{"POST", "/api/v1/rooms", auth, `["general"]`, 400, "invalid_json"},
		{"POST", "/api/v1/rooms", auth, `{"name":5}`, 400, "invalid_json"},
		{"POST", "/api/v1/rooms", auth, `{"name":"x","owner_id":"` + alice.User.ID + `"}`, 400, "invalid_json"},
		{"POST", "/api/v1/rooms", auth, `{"name":"x"} {"name":"y"}`, 400, "invalid_json"},
		{"POST", "/api/v1/auth/signup", nil, `{"username":"bob",`, 400, "invalid_json"},
		{"POST", "/api/v1/auth/signin", nil, `{"username":"alice","password":"correct horse","remember":true}`, 400, "invalid_json"},
		// The session is the only identity: a sender in the body is refused.
		{"POST", "/api/v1/rooms/" + R + "/messages", auth, `{"client_msg_id":"c","text":"x","sender_id":"` + alice.User.ID + `"}`, 400, "invalid_json"},
		// Too large.
		{"POST", "/api/v1/rooms", auth, big, 413, ""},
		{"POST", "/api/v1/auth/signup", nil, big, 413, ""},
		// Wrong password, unknown user: the same answer.
		{"POST", "/api/v1/auth/signin", nil, map[string]string{"username": "alice", "password": "wrong horse"}, 401, "unauthenticated"},
		{"POST", "/api/v1/auth/signin", nil, map[string]string{"username": "nobody", "password": "wrong horse"}, 401, "unauthenticated"},
		// Username and password rules.
		{"POST", "/api/v1/auth/signup", nil, map[string]string{"username": "ab", "password": "long enough"}, 400, "invalid"},
		{"POST", "/api/v1/auth/signup", nil, map[string]string{"username": strings.Repeat("u", 33), "password": "long enough"}, 400, "invalid"},
		{"POST", "/api/v1/auth/signup", nil, map[string]string{"username": "bad name", "password": "long enough"}, 400, "invalid"},
		{"POST", "/api/v1/auth/signup", nil, map[string]string{"username": "bob!", "password": "long enough"}, 400, "invalid"},
		{"POST", "/api/v1/auth/signup", nil, map[string]string{"username": "zoë", "password": "long enough"}, 400, "invalid"},
		{"POST", "/api/v1/auth/signup", nil, map[string]string{"username": "", "password": "long enough"}, 400, "invalid"},
		{"POST", "/api/v1/auth/signup", nil, map[string]string{"username": "Alice", "password": "long enough"}, 409, "conflict"},
		{"POST", "/api/v1/auth/signup", nil, map[string]string{"username": "ALICE", "password": "long enough"}, 409, "conflict"},
		{"POST", "/api/v1/auth/signup", nil, map[string]string{"username": "carol", "password": "short"}, 400, "invalid"},
		{"POST", "/api/v1/auth/signup", nil, map[string]string{"username": "carol", "password": ""}, 400, "invalid"},
		{"POST", "/api/v1/auth/signup", nil, map[string]string{"username": "carol", "password": strings.Repeat("p", 257)}, 400, "invalid"},
		// Room names.
		{"POST", "/api/v1/rooms", auth, map[string]string{"name": ""}, 400, "invalid"},
		{"POST", "/api/v1/rooms", auth, map[string]string{"name": "  \t "}, 400, "invalid"},
		{"POST", "/api/v1/rooms", auth, map[string]string{"name": strings.Repeat("n", 101)}, 400, "invalid"},
		{"POST", "/api/v1/rooms", auth, map[string]string{"name": "bell\a"}, 400, "invalid"},
		{"PATCH", "/api/v1/rooms/" + R, auth, map[string]string{"name": ""}, 400, "invalid"},
		// Messages.
		{"POST", "/api/v1/rooms/" + R + "/messages", auth, map[string]string{"client_msg_id": "c", "text": strings.Repeat("a", 4001)}, 400, "invalid"},
		{"POST", "/api/v1/rooms/" + R + "/messages", auth, map[string]string{"client_msg_id": "", "text": "x"}, 400, "invalid"},
		{"GET", "/api/v1/rooms/" + R + "/messages?limit=1000", auth, nil, 400, "invalid"},
		{"GET", "/api/v1/rooms/" + R + "/messages?before=x", auth, nil, 400, "invalid"},
		// Credentials that are not a bearer token.
		{"GET", "/api/v1/me", http.Header{"Authorization": {"Basic YWxpY2U6Y29ycmVjdA=="}}, nil, 401, "unauthenticated"},
		{"GET", "/api/v1/me", http.Header{"Authorization": {"Bearer "}}, nil, 401, "unauthenticated"},
		{"GET", "/api/v1/me", nil, nil, 401, "unauthenticated"},
		// Unknown endpoints.
		{"GET", "/api/v1/nope", auth, nil, 404, "not_found"},
		{"GET", "/api/v2/rooms", auth, nil, 404, "not_found"},
		{"POST", "/api/v1/rooms/" + R + "/nope", auth, nil, 404, "not_found"},
		{"GET", "/api/v1/rooms/not-a-room", auth, nil, 404, "not_found"},
	}
	for _, tt := range tests {
		got, err := rawRequest(ctx, base, tt.method, tt.path, tt.h, tt.body)
		if err != nil {
			t.Fatalf("%s %s: %v", tt.method, tt.path, err)
		}
		if got.Status != tt.status || (tt.code != "" && got.Code != tt.code) || got.Code == "" || got.Message == "" || !got.JSON {
			t.Errorf("%s %s %.60v: %v (json %v), want %d %s with a JSON error", tt.method, tt.path, tt.body, got, got.JSON, tt.status, tt.code)
		}
	}
	t.Run("trailing_delimiter", func(t *testing.T) {
		got, err := rawRequest(ctx, base, "POST", "/api/v1/rooms", auth, `{"name":"x"}}`)
		if err != nil || got.Status != 400 {
			t.Errorf(`POST /rooms {"name":"x"}}: %v %v, want 400 invalid_json`, got, err)
		}
	})
	sut.nothingAppended(t, ctx, head, nil)

	// Wrong passwords: five failures from one address are free, then that
	// (account, address) pair is locked out for a time that doubles with
	// each further failure, even for the right password.
	t.Run("sign_in_throttle", func(t *testing.T) {
		if _, err := apitest.SignUp(ctx, base, "victim", "the right one"); err != nil {
			t.Fatal(err)
		}
		head := sut.head(t, ctx)
		signIn := func(password string) apiResult {
			t.Helper()
			got, err := rawRequest(ctx, base, "POST", "/api/v1/auth/signin", nil, map[string]string{"username": "victim", "password": password})
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		for i := 1; i <= 5; i++ {
			if got := signIn("wrong"); got.Status != http.StatusUnauthorized {
				t.Fatalf("wrong password, attempt %d: %v, want 401", i, got)
			}
		}
		sixth := signIn("wrong")
		t.Run("sixth_attempt_refused", func(t *testing.T) {
			if sixth.Status != http.StatusTooManyRequests {
				t.Fatalf("6th attempt: %v, want 429", sixth)
			}
		})
		// Locked out: keep failing until refused (a slow machine may let
		// a short lockout lapse between two attempts).
		var locked apiResult
		for i := 7; locked.Status != http.StatusTooManyRequests; i++ {
			if i > 12 {
				t.Fatalf("still not locked out after %d wrong passwords", i-1)
			}
			if locked = signIn("wrong"); locked.Status != http.StatusTooManyRequests && locked.Status != http.StatusUnauthorized {
				t.Fatalf("wrong password, attempt %d: %v, want 401 or 429", i, locked)
			}
		}
		if locked.Code != "rate_limited" || !strings.Contains(locked.Message, "try again in") || !locked.JSON {
			t.Errorf("locked out: %v, want rate_limited saying when to try again", locked)
		}
		// Let two lockouts lapse, failing once after each, so that the
		// next one lasts long enough to try the right password in it.
		var lockedAt time.Time
		for range 2 {
			for {
				got := signIn("wrong")
				if got.Status == http.StatusUnauthorized {
					lockedAt = time.Now()
					break
				}
				if got.Status != http.StatusTooManyRequests {
					t.Fatalf("wrong password during lockout: %v", got)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		got := signIn("the right one")
		switch {
		case got.Status == http.StatusTooManyRequests && got.Code == "rate_limited":
		case got.Status == http.StatusOK && time.Since(lockedAt) > 3*time.Second:
			t.Logf("the lockout lapsed before the right password arrived (%v); not checked", time.Since(lockedAt))
		default:
			t.Errorf("right password during lockout: %v, want 429 rate_limited", got)
		}
		sut.nothingAppended(t, ctx, head, nil)
		// The lockout ends: the right password works again.
		deadline := time.Now().Add(time.Minute)
		for got.Status != http.StatusOK {
			if time.Now().After(deadline) {
				t.Fatalf("right password after the lockout: %v", got)
			}
			time.Sleep(200 * time.Millisecond)
			got = signIn("the right one")
		}
	})
}
