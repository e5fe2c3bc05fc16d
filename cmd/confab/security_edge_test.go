package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/eventstore/sqlite"
	"github.com/confabhq/confab/internal/apitest"
	"github.com/gorilla/websocket"
)

// This file tests the HTTP server and WebSocket edge against abuse: slow
// and idle connections, too many connections, subscriptions and rooms,
// cross-site requests, missing security headers, text the JSON decoder
// would silently change, /metrics in public and readable data files.

// waitHangUp reads from conn until the server closes it, and fails if the
// generous deadline passes first (the server never cut the connection).
func waitHangUp(t *testing.T, conn net.Conn, what string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: the server kept the connection open", what)
	}
}

// TestSlowAndIdleConnectionsCut checks the HTTP server's timeouts: a
// client sending its body slowly is cut after --read-timeout, an idle
// keep-alive connection after --idle-timeout, while a WebSocket lives on
// past both.
func TestSlowAndIdleConnectionsCut(t *testing.T) {
	ctx := testCtx(t)
	addr, stop := startServe(t, "--data", t.TempDir(), "--read-timeout", "1s", "--idle-timeout", "1s", "--read-header-timeout", "1s")
	defer stop()
	base := "http://" + addr
	alice := apitest.MustSignUp(t, ctx, base, "alice", "correct horse")

	t.Run("slow_body", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /api/v1/auth/signin HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"username\":", addr)
		waitHangUp(t, conn, "a body that never ends")
	})
	t.Run("slow_headers", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: %s\r\n", addr)
		waitHangUp(t, conn, "headers that never end")
	})
	t.Run("idle_keep_alive", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Close {
			t.Fatalf("GET /healthz: %s (close %v), want 200 kept alive", resp.Status, resp.Close)
		}
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, err = io.Copy(io.Discard, br)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("an idle keep-alive connection was kept open")
		}
	})
	t.Run("websocket_outlives_timeouts", func(t *testing.T) {
		ws := alice.MustDial(t, ctx)
		// Three times the read and idle timeouts pass in silence.
		time.Sleep(3 * time.Second)
		select {
		case <-ws.Closed():
			t.Fatalf("the WebSocket was closed (%v) by the HTTP server's timeouts", ws.CloseErr)
		default:
		}
		ping(t, ctx, ws)
	})
}

// dialStatus dials the WebSocket with headers h and returns the HTTP
// error of a refused upgrade (status, code), or the connection.
func dialStatus(t *testing.T, ctx context.Context, base string, h http.Header) (*websocket.Conn, int, string) {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.DialContext(ctx, "ws"+strings.TrimPrefix(base, "http")+"/api/v1/ws", h)
	if err == nil {
		t.Cleanup(func() { conn.Close() })
		return conn, http.StatusSwitchingProtocols, ""
	}
	if resp == nil {
		t.Fatalf("dial: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var code string
	if i := strings.Index(string(body), `"code":"`); i >= 0 {
		code, _, _ = strings.Cut(string(body)[i+8:], `"`)
	}
	return nil, resp.StatusCode, code
}

// TestConnectionCaps checks the caps on WebSockets per user and per
// client address, subscriptions per connection and rooms per hour: each
// refusal has its code, nothing is stored for it, and a freed place can
// be taken again.
func TestConnectionCaps(t *testing.T) {
	ctx := testCtx(t)
	sut := storesUnderTest(t, "sqlite")["sqlite"]
	addr, stop := startServe(t, append(sut.args, "--ws-per-user", "2", "--ws-per-ip", "5", "--ws-max-subscriptions", "2", "--rooms-per-hour", "3")...)
	defer stop()
	base := "http://" + addr
	users := map[string]*apitest.Client{}
	for _, name := range []string{"alice", "bob", "carol"} {
		c := apitest.MustSignUp(t, ctx, base, name, "correct horse")
		users[name] = c
	}
	alice := users["alice"]

	t.Run("rooms_per_hour", func(t *testing.T) {
		// A refused attempt costs nothing.
		if res, err := rawRequest(ctx, base, "POST", "/api/v1/rooms", bearer(alice.Token), map[string]string{"name": " "}); err != nil || res.Status != http.StatusBadRequest {
			t.Fatalf("a room without a name: %v %v, want 400", res, err)
		}
		for i := range 3 {
			if _, err := alice.CreateRoom(ctx, fmt.Sprint("room ", i)); err != nil {
				t.Fatalf("room %d of 3: %v", i, err)
			}
		}
		head := sut.head(t, ctx)
		req, _ := http.NewRequestWithContext(ctx, "POST", base+"/api/v1/rooms", strings.NewReader(`{"name":"one too many"}`))
		req.Header.Set("Authorization", "Bearer "+alice.Token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		retry, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(body), `"rate_limited"`) || retry < 1 {
			t.Errorf("the 4th room in an hour: %s %s Retry-After %q, want 429 rate_limited with Retry-After", resp.Status, body, resp.Header.Get("Retry-After"))
		}
		sut.nothingAppended(t, ctx, head, nil)
		// Others still may.
		if _, err := users["bob"].CreateRoom(ctx, "bob's"); err != nil {
			t.Errorf("bob's first room: %v", err)
		}
	})

	t.Run("subscriptions", func(t *testing.T) {
		rooms, err := alice.Rooms(ctx)
		if err != nil || len(rooms) < 3 {
			t.Fatalf("alice's rooms: %v %v", rooms, err)
		}
		ws := dialOnceFree(t, ctx, alice)
		defer ws.Close()
		sub := func(room string) apitest.Frame {
			t.Helper()
			f, err := ws.Request(ctx, map[string]any{"type": "subscribe", "room_id": room})
			if f == nil {
				t.Fatal(err) // no answer
			}
			return f
		}
		for _, r := range rooms[:2] {
			if f := sub(r.ID); f.Type() != "ack" {
				t.Fatalf("subscription within the cap: %v", f)
			}
		}
		if f := sub(rooms[2].ID); f.Type() != "error" || f.Str("code") != "too_many_subscriptions" {
			t.Errorf("a 3rd subscription with a cap of 2: %v, want error too_many_subscriptions", f)
		}
		if f := sub(rooms[0].ID); f.Type() != "ack" {
			t.Errorf("subscribing again to a subscribed room: %v, want ack", f)
		}
		if f, err := ws.Request(ctx, map[string]any{"type": "unsubscribe", "room_id": rooms[1].ID}); err != nil || f.Type() != "ack" {
			t.Fatalf("unsubscribe: %v %v", f, err)
		}
		if f := sub(rooms[2].ID); f.Type() != "ack" {
			t.Errorf("subscribing after an unsubscribe: %v, want ack", f)
		}
	})

	t.Run("per_user", func(t *testing.T) {
		var open []*apitest.WS
		for range 2 {
			open = append(open, dialOnceFree(t, ctx, alice))
		}
		head := sut.head(t, ctx)
		if _, status, code := dialStatus(t, ctx, base, bearer(alice.Token)); status != http.StatusTooManyRequests || code != "too_many_connections" {
			t.Errorf("a 3rd WebSocket of alice by token: %d %s, want 429 too_many_connections", status, code)
		}
		// By hello, the refusal comes after the upgrade: an error frame,
		// then close 4009.
		ws, err := apitest.DialWS(ctx, base, http.Header{})
		if err != nil {
			t.Fatal(err)
		}
		if err := ws.Send(map[string]any{"type": "hello", "token": alice.Token}); err != nil {
			t.Fatal(err)
		}
		if f := nextError(t, ctx, ws); f.Str("code") != "too_many_connections" {
			t.Errorf("hello over the cap: %v, want error too_many_connections", f)
		}
		if code := waitClosed(t, ctx, ws); code != 4009 {
			t.Errorf("hello over the cap: close %d, want 4009", code)
		}
		sut.nothingAppended(t, ctx, head, nil)
		// Bob is not alice.
		bob := dialOnceFree(t, ctx, users["bob"])
		defer bob.Close()
		// Closing one frees its place.
		open[0].Close()
		waitUntil(t, ctx, "alice's place freed", func() bool {
			conn, status, _ := dialStatus(t, ctx, base, bearer(alice.Token))
			if conn != nil {
				open[0] = &apitest.WS{Conn: conn}
			}
			return status == http.StatusSwitchingProtocols
		})
		for _, ws := range open {
			ws.Conn.Close()
		}
	})

	t.Run("per_address", func(t *testing.T) {
		// Fill the address's 5 places (as earlier connections' places
		// come free), then one more is refused.
		var conns []*websocket.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		names := []string{"alice", "alice", "bob", "bob", "carol"}
		waitUntil(t, ctx, "5 WebSockets open from one address", func() bool {
			conn, status, code := dialStatus(t, ctx, base, bearer(users[names[len(conns)]].Token))
			if conn != nil {
				conns = append(conns, conn)
			} else if status != http.StatusTooManyRequests || code != "too_many_connections" {
				t.Fatalf("dial: %d %s", status, code)
			}
			return len(conns) == 5
		})
		if _, status, code := dialStatus(t, ctx, base, bearer(users["carol"].Token)); status != http.StatusTooManyRequests || code != "too_many_connections" {
			t.Errorf("a 6th WebSocket from one address with a cap of 5: %d %s, want 429 too_many_connections", status, code)
		}
	})
}

// dialOnceFree opens a WebSocket for c once c's and the address's places
// allow (earlier connections' places are freed once the server sees them
// close), and waits until its opening is stored.
func dialOnceFree(t *testing.T, ctx context.Context, c *apitest.Client) *apitest.WS {
	t.Helper()
	var ws *apitest.WS
	waitUntil(t, ctx, c.User.Username+"'s WebSocket", func() bool {
		var err error
		ws, err = c.Dial(ctx)
		if err != nil && !strings.Contains(err.Error(), "HTTP 429") {
			t.Fatal(err)
		}
		return err == nil
	})
	ping(t, ctx, ws) // answered after the opening is stored
	return ws
}

// cookie is the session cookie header of a token.
func cookie(token string) http.Header {
	return http.Header{"Cookie": {"confab_session=" + token}}
}

// with returns h with more headers (pairs of name, value).
func with(h http.Header, kv ...string) http.Header {
	out := h.Clone()
	if out == nil {
		out = http.Header{}
	}
	for i := 0; i < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}

// TestCrossSiteRequests checks CSRF defenses: a state-changing request
// authenticated by the cookie must come from the server's own pages; a
// body must be declared JSON; sign-in and sign-up from another site are
// refused. Refused requests store nothing.
func TestCrossSiteRequests(t *testing.T) {
	ctx := testCtx(t)
	sut := storesUnderTest(t, "sqlite")["sqlite"]
	addr, stop := startServe(t, sut.args...)
	defer stop()
	base := "http://" + addr
	self := "http://" + addr
	alice := apitest.MustSignUp(t, ctx, base, "alice", "correct horse")
	room := alice.MustCreateRoom(t, ctx, "general")
	post := "/api/v1/rooms/" + room.ID + "/messages"
	n := 0
	msg := func() map[string]string {
		n++
		return map[string]string{"client_msg_id": fmt.Sprint("m", n), "text": "hello"}
	}
	refused := []struct {
		name   string
		method string
		path   string
		h      http.Header
		body   any
		status int
		code   string
	}{
		{"cookie_foreign_origin", "POST", post, with(cookie(alice.Token), "Origin", "https://evil.example"), msg(), 403, "csrf"},
		{"cookie_null_origin", "POST", post, with(cookie(alice.Token), "Origin", "null"), msg(), 403, "csrf"},
		{"cookie_same_host_other_port", "POST", post, with(cookie(alice.Token), "Origin", "http://127.0.0.1:1"), msg(), 403, "csrf"},
		{"cookie_without_origin", "POST", post, cookie(alice.Token), msg(), 403, "csrf"},
		{"cookie_cross_site_fetch", "POST", post, with(cookie(alice.Token), "Sec-Fetch-Site", "cross-site"), msg(), 403, "csrf"},
		{"cookie_same_site_fetch", "POST", post, with(cookie(alice.Token), "Sec-Fetch-Site", "same-site"), msg(), 403, "csrf"},
		{"cookie_sign_out_cross_site", "POST", "/api/v1/auth/signout", with(cookie(alice.Token), "Origin", "https://evil.example"), nil, 403, "csrf"},
		{"cookie_leave_without_origin", "POST", "/api/v1/rooms/" + room.ID + "/leave", cookie(alice.Token), nil, 403, "csrf"},
		{"text_plain", "POST", post, with(bearer(alice.Token), "Content-Type", "text/plain"), msg(), 415, "unsupported_media_type"},
		{"form", "POST", post, with(bearer(alice.Token), "Content-Type", "application/x-www-form-urlencoded"), "text=hello", 415, "unsupported_media_type"},
		{"cookie_text_plain_same_origin", "POST", post, with(cookie(alice.Token), "Origin", self, "Content-Type", "text/plain"), msg(), 415, "unsupported_media_type"},
		{"json_latin1", "POST", post, with(bearer(alice.Token), "Content-Type", "application/json; charset=latin1"), msg(), 415, "unsupported_media_type"},
		{"body_without_type", "POST", post, with(bearer(alice.Token), "Content-Type", ""), msg(), 415, "unsupported_media_type"},
		{"form_without_body", "POST", "/api/v1/rooms/" + room.ID + "/leave", with(bearer(alice.Token), "Content-Type", "text/plain"), nil, 415, "unsupported_media_type"},
		{"login_csrf", "POST", "/api/v1/auth/signin", http.Header{"Origin": {"https://evil.example"}}, map[string]string{"username": "alice", "password": "correct horse"}, 403, "csrf"},
		{"login_csrf_fetch_metadata", "POST", "/api/v1/auth/signin", http.Header{"Sec-Fetch-Site": {"cross-site"}}, map[string]string{"username": "alice", "password": "correct horse"}, 403, "csrf"},
		{"signup_csrf", "POST", "/api/v1/auth/signup", http.Header{"Origin": {"https://evil.example"}}, map[string]string{"username": "mallory", "password": "correct horse"}, 403, "csrf"},
		{"signin_text_plain", "POST", "/api/v1/auth/signin", http.Header{"Content-Type": {"text/plain"}}, `{"username":"alice","password":"correct horse"}`, 415, "unsupported_media_type"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			head := sut.head(t, ctx)
			res, err := rawRequestHeaders(ctx, base, tt.method, tt.path, tt.h, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tt.status || res.Code != tt.code || !res.JSON {
				t.Errorf("%s %s: %v, want %d %s", tt.method, tt.path, res, tt.status, tt.code)
			}
			if res.setCookie {
				t.Error("a refused request set a cookie")
			}
			sut.nothingAppended(t, ctx, head, nil)
		})
	}

	// What browsers on the server's own pages and bots send still works.
	allowed := []struct {
		name   string
		method string
		path   string
		h      http.Header
		body   any
		status int
	}{
		{"cookie_same_origin", "POST", post, with(cookie(alice.Token), "Origin", self), msg(), 201},
		{"cookie_same_origin_fetch", "POST", post, with(cookie(alice.Token), "Sec-Fetch-Site", "same-origin"), msg(), 201},
		{"cookie_same_origin_both", "POST", post, with(cookie(alice.Token), "Origin", self, "Sec-Fetch-Site", "same-origin"), msg(), 201},
		{"json_utf8", "POST", post, with(bearer(alice.Token), "Content-Type", "application/json; charset=UTF-8"), msg(), 201},
		{"bearer_no_origin", "POST", post, bearer(alice.Token), msg(), 201},
		{"bearer_no_body_no_type", "PUT", "/api/v1/rooms/" + room.ID + "/messages/2/reactions/" + url.PathEscape("👍"), bearer(alice.Token), nil, 200},
		{"signin_bot", "POST", "/api/v1/auth/signin", nil, map[string]string{"username": "alice", "password": "correct horse"}, 200},
		{"signin_same_origin", "POST", "/api/v1/auth/signin", http.Header{"Origin": {self}, "Sec-Fetch-Site": {"same-origin"}}, map[string]string{"username": "alice", "password": "correct horse"}, 200},
		{"get_cross_site", "GET", "/api/v1/me", with(cookie(alice.Token), "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"), nil, 200},
	}
	for _, tt := range allowed {
		t.Run(tt.name, func(t *testing.T) {
			res, err := rawRequest(ctx, base, tt.method, tt.path, tt.h, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tt.status {
				t.Errorf("%s %s: %v, want %d", tt.method, tt.path, res, tt.status)
			}
		})
	}

	// WebSockets: the same origin rule.
	if _, status, _ := dialStatus(t, ctx, base, with(cookie(alice.Token), "Origin", "https://evil.example")); status != http.StatusForbidden {
		t.Errorf("a WebSocket from another site: %d, want 403", status)
	}
	if conn, status, _ := dialStatus(t, ctx, base, with(cookie(alice.Token), "Origin", self)); conn == nil {
		t.Errorf("a WebSocket from the server's pages: %d, want 101", status)
	}
}

// rawRequestHeaders is rawRequest that also says whether the answer set a
// cookie; a Content-Type of "" in h sends none.
func rawRequestHeaders(ctx context.Context, base, method, path string, h http.Header, body any) (apiResultCookie, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return apiResultCookie{}, err
		}
		rd = strings.NewReader(string(data))
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return apiResultCookie{}, err
	}
	ct, typed := h["Content-Type"]
	for k, v := range h {
		if k != "Content-Type" {
			req.Header[k] = v
		}
	}
	switch {
	case typed && len(ct) > 0 && ct[0] != "":
		req.Header["Content-Type"] = ct
	case !typed && body != nil:
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return apiResultCookie{}, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	res := apiResultCookie{apiResult: apiResult{Status: resp.StatusCode, Body: data, JSON: strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json")}}
	var e struct {
		Error struct{ Code, Message string }
	}
	if json.Unmarshal(data, &e) == nil {
		res.Code, res.Message = e.Error.Code, e.Error.Message
	}
	res.setCookie = len(resp.Cookies()) > 0
	return res, nil
}

// apiResultCookie is an apiResult and whether it set a cookie.
type apiResultCookie struct {
	apiResult
	setCookie bool
}

// TestSecurityHeaders checks the headers of every kind of response: the
// browser client, API answers and errors, health, unknown paths.
func TestSecurityHeaders(t *testing.T) {
	ctx := testCtx(t)
	addr, stop := startServe(t, "--data", t.TempDir())
	defer stop()
	base := "http://" + addr
	alice := apitest.MustSignUp(t, ctx, base, "alice", "correct horse")
	for _, tt := range []struct {
		method, path string
		h            http.Header
		body         any
		status       int
		ui           bool
	}{
		{"GET", "/", nil, nil, 200, true},
		{"GET", "/js/main.js", nil, nil, 200, true},
		{"GET", "/rooms/some/client/route", nil, nil, 200, true},
		{"GET", "/api/v1/me", bearer(alice.Token), nil, 200, false},
		{"GET", "/api/v1/me", nil, nil, 401, false},
		{"POST", "/api/v1/rooms", bearer(alice.Token), map[string]string{"name": "headers"}, 201, false},
		{"POST", "/api/v1/rooms", with(bearer(alice.Token), "Content-Type", "text/plain"), "{}", 415, false},
		{"GET", "/api/v1/nope", nil, nil, 404, false},
		{"GET", "/healthz", nil, nil, 200, false},
		{"GET", "/readyz", nil, nil, 200, false},
		{"GET", "/api/v1/ws", nil, nil, 400, false},
	} {
		t.Run(tt.method+tt.path, func(t *testing.T) {
			var rd io.Reader
			switch b := tt.body.(type) {
			case string:
				rd = strings.NewReader(b)
			case nil:
			default:
				data, _ := json.Marshal(b)
				rd = strings.NewReader(string(data))
			}
			req, _ := http.NewRequestWithContext(ctx, tt.method, base+tt.path, rd)
			for k, v := range tt.h {
				req.Header[k] = v
			}
			if tt.body != nil && req.Header.Get("Content-Type") == "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			h := resp.Header
			for name, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
				if got := h.Get(name); got != want {
					t.Errorf("%s %q, want %q", name, got, want)
				}
			}
			csp := h.Get("Content-Security-Policy")
			if !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("Content-Security-Policy %q lacks frame-ancestors 'none'", csp)
			}
			if tt.ui && !strings.Contains(csp, "script-src 'self'") {
				t.Errorf("the client's Content-Security-Policy %q lacks script-src 'self'", csp)
			}
			if !tt.ui && !strings.HasPrefix(csp, "default-src 'none'") {
				t.Errorf("an API answer's Content-Security-Policy %q, want default-src 'none'", csp)
			}
			if hsts := h.Get("Strict-Transport-Security"); hsts != "" {
				t.Errorf("Strict-Transport-Security %q over plain HTTP", hsts)
			}
		})
	}
	// The policy moved from a <meta> tag (which cannot forbid framing) to
	// the header.
	res, err := rawRequest(ctx, base, "GET", "/", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(res.Body), "Content-Security-Policy") {
		t.Error("index.html still carries a Content-Security-Policy <meta> tag")
	}
}

// TestStrictText checks that text the JSON decoder would change is
// refused: invalid UTF-8 and lone surrogate escapes over REST (400
// invalid), a WebSocket text frame that is not UTF-8 (close 1007), a
// lone surrogate in a frame (error invalid). Nothing is stored.
func TestStrictText(t *testing.T) {
	ctx := testCtx(t)
	sut := storesUnderTest(t, "sqlite")["sqlite"]
	addr, stop := startServe(t, sut.args...)
	defer stop()
	base := "http://" + addr
	alice := apitest.MustSignUp(t, ctx, base, "alice", "correct horse")
	room := alice.MustCreateRoom(t, ctx, "general")
	post := "/api/v1/rooms/" + room.ID + "/messages"
	for _, body := range []string{
		`{"client_msg_id":"u1","text":"a` + "\xff\xfe" + `b"}`,
		`{"client_msg_id":"u2","text":"a\ud800b"}`,
		`{"client_msg_id":"u3","text":"\udc00"}`,
		`{"client_msg_id":"u4","text":"a\ud800\u0041"}`,
		"{\"client_msg_id\":\"u5\",\"text\":\"\xed\xa0\x80\"}", // a surrogate in UTF-8
	} {
		head := sut.head(t, ctx)
		res, err := rawRequest(ctx, base, "POST", post, bearer(alice.Token), body)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != http.StatusBadRequest || res.Code != "invalid" || !strings.Contains(res.Message, "not valid text") {
			t.Errorf("POST %q: %v, want 400 invalid", body, res)
		}
		sut.nothingAppended(t, ctx, head, nil)
	}
	for _, body := range []string{`{"username":"b` + "\xff" + `ob","password":"correct horse"}`, `{"username":"bob","password":"x\udfffxxxxxxxx"}`} {
		head := sut.head(t, ctx)
		res, err := rawRequest(ctx, base, "POST", "/api/v1/auth/signup", nil, body)
		if err != nil || res.Status != http.StatusBadRequest || res.Code != "invalid" {
			t.Errorf("sign-up %q: %v %v, want 400 invalid", body, res, err)
		}
		sut.nothingAppended(t, ctx, head, nil)
	}
	// Valid text, pairs included, is stored as sent.
	if m, err := alice.Post(ctx, room.ID, "ok", "a\U0001F600b \\ud800"); err != nil || m.Text != "a😀b \\ud800" {
		t.Errorf("valid text: %+v %v", m, err)
	}

	ws := alice.MustDial(t, ctx)
	ping(t, ctx, ws)
	head := sut.head(t, ctx)
	// A lone surrogate: an error, the connection stays.
	if err := ws.Conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"send","id":"s1","room_id":"`+room.ID+`","client_msg_id":"w1","text":"a\ud800"}`)); err != nil {
		t.Fatal(err)
	}
	if f := nextError(t, ctx, ws); f.Str("code") != "invalid" || f.Str("id") != "s1" {
		t.Errorf("a lone surrogate in a frame: %v, want error invalid with id s1", f)
	}
	ping(t, ctx, ws)
	sut.nothingAppended(t, ctx, head, nil)
	// Not UTF-8: close 1007.
	if err := ws.Conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"send","room_id":"`+room.ID+`","client_msg_id":"w2","text":"a`+"\xff\xfe"+`b"}`)); err != nil {
		t.Fatal(err)
	}
	if code := waitClosed(t, ctx, ws); code != websocket.CloseInvalidFramePayloadData {
		t.Errorf("a text frame that is not UTF-8: close %d (%v), want 1007", code, ws.CloseErr)
	}
	sut.waitForUserEvent(t, ctx, alice.User.ID, "ConnectionClosed")
	sut.nothingAppended(t, ctx, head, func(e eventstore.RecordedEvent) bool { return e.Type == "ConnectionClosed" })

	// And as the first frame of a connection that says hello.
	hello, err := apitest.DialWS(ctx, base, http.Header{})
	if err != nil {
		t.Fatal(err)
	}
	defer hello.Close()
	if err := hello.Conn.WriteMessage(websocket.TextMessage, []byte("{\"type\":\"hello\",\"token\":\"\xff\"}")); err != nil {
		t.Fatal(err)
	}
	if code := waitClosed(t, ctx, hello); code != websocket.CloseInvalidFramePayloadData {
		t.Errorf("a hello frame that is not UTF-8: close %d, want 1007", code)
	}
}

// TestMetricsNotPublic checks that /metrics is not on the public listener
// by default: it listens on loopback apart from the API, and on --addr
// only for requests bearing --metrics-token.
func TestMetricsNotPublic(t *testing.T) {
	get := func(url string, h http.Header) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// The default, on a free port: the API has no /metrics.
	srv := startServeLogged(t, "--data", t.TempDir(), "--metrics-addr", "127.0.0.1:0")
	defer srv.stop()
	if _, body := get("http://"+srv.addr+"/metrics", nil); strings.Contains(body, "confab_ws_connections") {
		t.Error("/metrics is served on --addr")
	}
	ops := srv.logAttr(t, "metrics listening", "addr")
	if code, body := get("http://"+ops+"/metrics", nil); code != 200 || !strings.Contains(body, "confab_ws_connections") {
		t.Errorf("/metrics on --metrics-addr: %d", code)
	}
	// With a token, on --addr too, for its bearer only.
	addr, stop := startServe(t, "--data", t.TempDir(), "--metrics-token", "s3cret")
	defer stop()
	for _, tt := range []struct {
		h    http.Header
		want int
	}{{nil, 401}, {bearer("wrong"), 401}, {bearer("s3cret"), 200}} {
		if code, body := get("http://"+addr+"/metrics", tt.h); code != tt.want || (code == 200) != strings.Contains(body, "confab_ws_connections") {
			t.Errorf("/metrics on --addr with %v: %d, want %d", tt.h, code, tt.want)
		}
	}
	// "" used to mean --addr: it is refused with a hint now.
	m := &Main{Stdout: io.Discard, Stderr: io.Discard}
	err := m.Run(context.Background(), []string{"confab", "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--metrics-addr", ""})
	if err == nil || !strings.Contains(err.Error(), "--metrics-token") {
		t.Errorf(`serve --metrics-addr "": %v, want an error pointing to --metrics-token`, err)
	}
}

// TestMetricsAddrDefault checks that /metrics listens on loopback only
// unless told otherwise (the other tests run with CONFAB_METRICS_ADDR=off:
// a fixed port would collide).
func TestMetricsAddrDefault(t *testing.T) {
	if got := serveConfig(t, nil).String("metrics-addr"); got != "127.0.0.1:9090" {
		t.Errorf("default --metrics-addr %q, want 127.0.0.1:9090 (loopback only)", got)
	}
}

// TestDataFilesPrivate checks the modes of the embedded store: in a new
// data directory every directory (the blob store's too) is 0700 and every
// file 0600 whatever the umask; an existing
// store with looser modes is tightened at start, with a log line.
func TestDataFilesPrivate(t *testing.T) {
	ctx := testCtx(t)
	// modes returns the permissions of everything under dir, by path
	// relative to it, and which of them are directories.
	modes := func(dir string) (map[string]fs.FileMode, map[string]bool) {
		t.Helper()
		out, dirs := map[string]fs.FileMode{}, map[string]bool{}
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, path)
			out[rel], dirs[rel] = fi.Mode().Perm(), d.IsDir()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out, dirs
	}
	check := func(t *testing.T, dir string, want ...string) {
		t.Helper()
		got, dirs := modes(dir)
		for _, name := range append([]string{"events.db", "events.db-wal", "events.db-shm"}, want...) {
			if _, ok := got[name]; !ok {
				t.Errorf("%s missing in the data directory: %v", name, got)
			}
		}
		for name, mode := range got {
			want := fs.FileMode(0o600)
			if dirs[name] {
				want = 0o700
			}
			if mode != want {
				t.Errorf("%s has mode %v, want %v", name, mode, want)
			}
		}
	}

	t.Run("new", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		addr, stop := startServe(t, "--data", dir)
		alice := apitest.MustSignUp(t, ctx, "http://"+addr, "alice", "correct horse")
		room := alice.MustCreateRoom(t, ctx, "files")
		if _, err := alice.Upload(ctx, room.ID, "notes.txt", []byte("private notes"), false); err != nil {
			t.Fatal(err)
		}
		check(t, dir, "blobs") // while serving: the -wal and -shm files exist
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("existing", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		store, err := sqlite.Open(ctx, filepath.Join(dir, "events.db"))
		if err != nil {
			t.Fatal(err)
		}
		store.Close()
		for name, mode := range map[string]fs.FileMode{".": 0o755, "events.db": 0o644} {
			if err := os.Chmod(filepath.Join(dir, name), mode); err != nil {
				t.Fatal(err)
			}
		}
		srv := startServeLogged(t, "--data", dir)
		defer srv.stop()
		if _, err := apitest.SignUp(ctx, "http://"+srv.addr, "alice", "correct horse"); err != nil {
			t.Fatal(err)
		}
		check(t, dir)
		if p := srv.logAttr(t, "tightened the permissions of the data files: only confab's user may read them", "path"); p == "" {
			t.Error("no log line names the tightened files")
		}
	})
}
