package main

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/internal/apitest"
	"github.com/confabhq/confab/internal/natstest"
	"github.com/confabhq/confab/internal/pgtest"
	"github.com/gorilla/websocket"
)

// apiSession is a session as GET /sessions shows it.
type apiSession struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	UserAgent  string    `json:"user_agent"`
	IP         string    `json:"ip"`
	Current    bool      `json:"current"`
}

func listSessions(t *testing.T, ctx context.Context, c *apitest.Client) []apiSession {
	t.Helper()
	var out struct{ Sessions []apiSession }
	if err := c.Do(ctx, "GET", "/api/v1/sessions", nil, &out); err != nil {
		t.Fatalf("list sessions: %v", err)
	}
	return out.Sessions
}

// currentSession returns the ID of the client's own session.
func currentSession(t *testing.T, ctx context.Context, c *apitest.Client) string {
	t.Helper()
	for _, s := range listSessions(t, ctx, c) {
		if s.Current {
			return s.ID
		}
	}
	t.Fatal("no session is marked current")
	return ""
}

// wantUnauthenticated checks that a token no longer authenticates, with
// the message msg ("" for any).
func wantUnauthenticated(t *testing.T, ctx context.Context, base, token, msg string) {
	t.Helper()
	res, err := rawRequest(ctx, base, "GET", "/api/v1/me", bearer(token), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusUnauthorized || res.Code != "unauthenticated" || (msg != "" && res.Message != msg) {
		t.Fatalf("GET /me with the token: %v, want 401 unauthenticated %q", res, msg)
	}
}

// wantSessionClosed waits until ws closes with 4001 and the reason.
func wantSessionClosed(t *testing.T, ctx context.Context, ws *apitest.WS, reason string) {
	t.Helper()
	if code := waitClosed(t, ctx, ws); code != 4001 {
		t.Fatalf("WebSocket closed with %d (%v), want 4001", code, ws.CloseErr)
	}
	var ce *websocket.CloseError
	if errors.As(ws.CloseErr, &ce) && ce.Text != reason {
		t.Errorf("close reason %q, want %q", ce.Text, reason)
	}
}

// TestSessions checks the per-user limit, listing and revoking sessions,
// and that revoked sessions' WebSockets close.
func TestSessions(t *testing.T) {
	for name, sut := range storesUnderTest(t) {
		t.Run(name, func(t *testing.T) {
			addr, stop := startServe(t, append(sut.args, "--max-sessions-per-user", "3")...)
			defer stop()
			base := "http://" + addr
			ctx := testCtx(t)

			first, err := apitest.SignUp(ctx, base, "alice", "correct horse")
			if err != nil {
				t.Fatal(err)
			}
			var alice []*apitest.Client
			for range 3 {
				c, err := apitest.SignIn(ctx, base, "alice", "correct horse")
				if err != nil {
					t.Fatal(err)
				}
				alice = append(alice, c)
			}
			// The fourth session ended the first, the oldest.
			wantUnauthenticated(t, ctx, base, first.Token, "")
			sut.waitForUserEvent(t, ctx, first.User.ID, "SessionStarted")
			var ended []string
			for _, e := range sut.since(t, ctx, eventstore.Start) {
				if e.Type == "SessionEnded" {
					ended = append(ended, string(e.Data))
				}
			}
			if len(ended) != 1 || !slices.ContainsFunc(ended, func(d string) bool { return contains(d, `"reason":"session_limit"`) }) {
				t.Errorf("SessionEnded events %v, want one with reason session_limit", ended)
			}

			list := listSessions(t, ctx, alice[2])
			if len(list) != 3 {
				t.Fatalf("sessions %+v, want 3", list)
			}
			for i, s := range list {
				if s.Current != (i == 2) || s.UserAgent == "" || s.IP != "127.0.0.1" || s.CreatedAt.IsZero() ||
					s.LastUsedAt.Before(s.CreatedAt) || !s.ExpiresAt.After(s.CreatedAt) {
					t.Errorf("session %d: %+v", i, s)
				}
			}
			ids := []string{list[0].ID, list[1].ID, list[2].ID}

			// Revoke one: its WebSocket closes, its token is dead.
			ws0, err := alice[0].Dial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer ws0.Close()
			if err := alice[2].Do(ctx, "DELETE", "/api/v1/sessions/"+ids[0], nil, nil); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			wantSessionClosed(t, ctx, ws0, "session revoked")
			wantUnauthenticated(t, ctx, base, alice[0].Token, "")

			// Someone else's session is not found, and nothing changes.
			bob, err := apitest.SignUp(ctx, base, "bob", "battery staple")
			if err != nil {
				t.Fatal(err)
			}
			head := sut.head(t, ctx)
			for _, id := range []string{ids[1], ids[0], "not-a-uuid", "00000000-0000-0000-0000-000000000000"} {
				if err := bob.Do(ctx, "DELETE", "/api/v1/sessions/"+id, nil, nil); !isAPIError(err, 404, "not_found") {
					t.Errorf("bob revokes %s: %v, want 404 not_found", id, err)
				}
			}
			sut.nothingAppended(t, ctx, head, nil)
			if got := listSessions(t, ctx, alice[1]); len(got) != 2 {
				t.Errorf("alice's sessions after bob's attempts: %+v, want 2", got)
			}

			// Sign out everywhere else: the other session's WebSocket
			// closes, the caller's goes on.
			ws1, err := alice[1].Dial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer ws1.Close()
			ws2, err := alice[2].Dial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer ws2.Close()
			var out struct{ Revoked int }
			if err := alice[2].Do(ctx, "POST", "/api/v1/sessions/revoke-others", nil, &out); err != nil || out.Revoked != 1 {
				t.Fatalf("revoke others: %+v, %v; want 1 revoked", out, err)
			}
			wantSessionClosed(t, ctx, ws1, "session revoked")
			wantUnauthenticated(t, ctx, base, alice[1].Token, "")
			if got := listSessions(t, ctx, alice[2]); len(got) != 1 || got[0].ID != ids[2] || !got[0].Current {
				t.Errorf("sessions after revoking the others: %+v", got)
			}
			ping(t, ctx, ws2)

			// Revoking the current session signs it out.
			if err := alice[2].Do(ctx, "DELETE", "/api/v1/sessions/"+ids[2], nil, nil); err != nil {
				t.Fatal(err)
			}
			wantSessionClosed(t, ctx, ws2, "session revoked")
			wantUnauthenticated(t, ctx, base, alice[2].Token, "")
		})
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// TestSessionExpiry checks both limits of a session's life on the server:
// its maximum age (its WebSocket closes then), and its idle timeout, which
// use slides.
func TestSessionExpiry(t *testing.T) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			t.Run("max_age", func(t *testing.T) {
				dir := storesUnderTest(t, name)[name]
				addr, stop := startServe(t, append(dir.args, "--session-max-age", "3s")...)
				defer stop()
				base := "http://" + addr
				ctx := testCtx(t)
				alice, err := apitest.SignUp(ctx, base, "alice", "correct horse")
				if err != nil {
					t.Fatal(err)
				}
				ws, err := alice.Dial(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer ws.Close()
				// Used all along, it still expires.
				waitUntil(t, ctx, "the session to expire", func() bool {
					res, err := rawRequest(ctx, base, "GET", "/api/v1/me", bearer(alice.Token), nil)
					return err == nil && res.Status == http.StatusUnauthorized
				})
				wantUnauthenticated(t, ctx, base, alice.Token, "session expired")
				wantSessionClosed(t, ctx, ws, "session expired")
				if _, err := alice.Dial(ctx); err == nil {
					t.Error("an expired session opened a WebSocket")
				}
			})
			t.Run("idle", func(t *testing.T) {
				dir := storesUnderTest(t, name)[name]
				addr, stop := startServe(t, append(dir.args, "--session-idle-timeout", "2s")...)
				defer stop()
				base := "http://" + addr
				ctx := testCtx(t)
				idle, err := apitest.SignUp(ctx, base, "alice", "correct horse")
				if err != nil {
					t.Fatal(err)
				}
				busy, err := apitest.SignIn(ctx, base, "alice", "correct horse")
				if err != nil {
					t.Fatal(err)
				}
				// The busy session's use is recorded and slides its idle
				// timeout; the idle one drops out of the list once expired.
				waitUntil(t, ctx, "the idle session to expire", func() bool {
					var out struct{ Sessions []apiSession }
					if err := busy.Do(ctx, "GET", "/api/v1/sessions", nil, &out); err != nil {
						t.Fatalf("the busy session: %v", err)
					}
					return len(out.Sessions) == 1 && out.Sessions[0].Current
				})
				wantUnauthenticated(t, ctx, base, idle.Token, "session expired")
				s := listSessions(t, ctx, busy)[0]
				if !s.LastUsedAt.After(s.CreatedAt) || !s.ExpiresAt.After(s.CreatedAt.Add(2*time.Second)) {
					t.Errorf("busy session %+v: want its use recorded, expiring later than 2 s after sign-in", s)
				}
				used := 0
				for _, e := range dir.since(t, ctx, eventstore.Start) {
					if e.Type == "SessionUsed" {
						used++
					}
				}
				if used == 0 {
					t.Error("no SessionUsed event stored")
				}
			})
		})
	}
}

// TestSessionRevokedAcrossNodes revokes a session on one node while its
// WebSocket is open on another: the other node closes it.
func TestSessionRevokedAcrossNodes(t *testing.T) {
	args := []string{"--store", "postgres", "--postgres-url", pgtest.NewTestDatabase(t), "--nats-url", natstest.Start(t)}
	addr0, stop0 := startServe(t, args...)
	defer stop0()
	addr1, stop1 := startServe(t, args...)
	defer stop1()
	ctx := testCtx(t)
	laptop, err := apitest.SignUp(ctx, "http://"+addr0, "alice", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	phone, err := apitest.SignIn(ctx, "http://"+addr1, "alice", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	ws, err := phone.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	var out struct{ Revoked int }
	if err := laptop.Do(ctx, "POST", "/api/v1/sessions/revoke-others", nil, &out); err != nil || out.Revoked != 1 {
		t.Fatalf("revoke others on node 0: %+v, %v", out, err)
	}
	wantSessionClosed(t, ctx, ws, "session revoked")
	wantUnauthenticated(t, ctx, "http://"+addr1, phone.Token, "")
}
