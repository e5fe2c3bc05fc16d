package main

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strings"
	"testing"

	"github.com/confabhq/confab/internal/apitest"
)

// Account settings over the API, on both stores: a password change ends
// the other sessions (their tokens and WebSockets) and keeps the
// caller's; display names reach other members, live; avatars are images
// the server crops, and anything else is refused.

// pngOf returns a w×h PNG.
func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{R: uint8(x), G: uint8(y), B: 200, A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func putAvatar(ctx context.Context, c *apitest.Client, body []byte) (apiResult, error) {
	return rawRequest(ctx, c.Base, "PUT", "/api/v1/me/avatar", http.Header{"Authorization": {"Bearer " + c.Token}, "Content-Type": {"application/octet-stream"}}, body)
}

func TestAccountSettings(t *testing.T) {
	for name, sut := range storesUnderTest(t) {
		t.Run(name, func(t *testing.T) {
			addr, stop := startServe(t, sut.args...)
			defer stop()
			base := "http://" + addr
			ctx := testCtx(t)

			alice := apitest.MustSignUp(t, ctx, base, "alice", "correct horse")
			other, err := apitest.SignIn(ctx, base, "alice", "correct horse")
			if err != nil {
				t.Fatal(err)
			}
			bob := apitest.MustSignUp(t, ctx, base, "bob", "correct horse")
			room := alice.MustCreateRoom(t, ctx, "general", bob)
			otherWS := other.MustDial(t, ctx)
			bobWS := bob.MustDial(t, ctx)

			// The password: wrong old one, too short, too common, then right.
			for _, c := range []struct {
				old, new string
				status   int
				code     string
			}{
				{"wrong horse", "staple tuna violin", 403, "forbidden"},
				{"correct horse", "short", 400, "invalid"},
				{"correct horse", "password123", 400, "invalid"},
			} {
				res, err := rawRequest(ctx, base, "POST", "/api/v1/me/password", bearer(alice.Token), map[string]string{"old_password": c.old, "new_password": c.new})
				if err != nil {
					t.Fatal(err)
				}
				if res.Status != c.status || res.Code != c.code {
					t.Errorf("change password %q -> %q: %d %s %q, want %d %s", c.old, c.new, res.Status, res.Code, res.Message, c.status, c.code)
				}
			}
			wantOK(t, ctx, other) // refusals ended nothing
			var changed struct {
				SessionsEnded int `json:"sessions_ended"`
			}
			if err := alice.Do(ctx, "POST", "/api/v1/me/password", map[string]string{"old_password": "correct horse", "new_password": "staple tuna violin"}, &changed); err != nil {
				t.Fatal(err)
			}
			if changed.SessionsEnded != 1 {
				t.Errorf("sessions ended: %d, want 1", changed.SessionsEnded)
			}
			wantUnauthenticated(t, ctx, base, other.Token, "")
			wantSessionClosed(t, ctx, otherWS, "password changed")
			wantOK(t, ctx, alice)
			if _, err := apitest.SignIn(ctx, base, "alice", "correct horse"); err == nil {
				t.Error("the old password still signs in")
			}
			if _, err := apitest.SignIn(ctx, base, "alice", "staple tuna violin"); err != nil {
				t.Errorf("the new password does not sign in: %v", err)
			}

			// The display name: refused when hostile, else seen by bob,
			// live and in the members list.
			for _, bad := range []string{"evil\u202egpj.exe", strings.Repeat("x", 33), "a\nb"} {
				res, err := rawRequest(ctx, base, "PATCH", "/api/v1/me", bearer(alice.Token), map[string]string{"display_name": bad})
				if err != nil {
					t.Fatal(err)
				}
				if res.Status != 400 {
					t.Errorf("display name %q: %d %s, want 400", bad, res.Status, res.Message)
				}
			}
			var me struct{ User apitest.User }
			if err := alice.Do(ctx, "PATCH", "/api/v1/me", map[string]string{"display_name": " Alice ☕ "}, &me); err != nil {
				t.Fatal(err)
			}
			if me.User.DisplayName != "Alice ☕" || me.User.Username != "alice" {
				t.Errorf("PATCH /me: %+v", me.User)
			}
			f, err := bobWS.NextOf(ctx, "user")
			if err != nil {
				t.Fatalf("bob's user frame: %v", err)
			}
			if u, _ := f["user"].(map[string]any); u["id"] != alice.User.ID || u["display_name"] != "Alice ☕" {
				t.Errorf("bob's user frame: %v", f)
			}
			members, err := bob.Members(ctx, room.ID)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, m := range members {
				if m.User.ID == alice.User.ID {
					found = m.User.DisplayName == "Alice ☕"
				}
			}
			if !found {
				t.Errorf("bob's members list does not show alice's display name: %+v", members)
			}

			// The avatar: hostile and oversized files refused, an image
			// cropped to a square that bob can fetch.
			bomb := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x01\x86\xa0\x00\x01\x86\xa0\x08\x06\x00\x00\x00"), make([]byte, 64)...)
			for name, c := range map[string]struct {
				body   []byte
				status int
			}{
				"html":   {[]byte("<html><script>alert(document.cookie)</script></html>"), 400},
				"svg":    {[]byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), 400},
				"bomb":   {bomb, 400},
				"broken": {pngOf(t, 10, 10)[:60], 400},
				"large":  {append(pngOf(t, 4, 4), make([]byte, 9<<20)...), 413},
			} {
				res, err := putAvatar(ctx, alice, c.body)
				if err != nil {
					t.Fatal(err)
				}
				if res.Status != c.status {
					t.Errorf("avatar %s: %d %s %q, want %d", name, res.Status, res.Code, res.Message, c.status)
				}
			}
			res, err := putAvatar(ctx, alice, pngOf(t, 600, 400))
			if err != nil || res.Status != 200 {
				t.Fatalf("avatar: %v %v", res, err)
			}
			if err := bob.Do(ctx, "GET", "/api/v1/users/"+alice.User.ID, nil, &me); err != nil {
				t.Fatal(err)
			}
			if me.User.AvatarURL == "" {
				t.Fatalf("no avatar_url: %+v", me.User)
			}
			resp, data, err := bob.Fetch(ctx, me.User.AvatarURL, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 || resp.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "sandbox") ||
				!strings.HasPrefix(resp.Header.Get("Content-Type"), "image/") {
				t.Errorf("avatar: %d %v", resp.StatusCode, resp.Header)
			}
			img, _, err := image.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("avatar does not decode: %v", err)
			}
			if b := img.Bounds(); b.Dx() != 256 || b.Dy() != 256 {
				t.Errorf("avatar is %v, want 256×256", b)
			}
			if resp, _, _ := apitest.New(base).Fetch(ctx, me.User.AvatarURL, nil); resp.StatusCode != 401 {
				t.Errorf("avatar without a session: %d, want 401", resp.StatusCode)
			}
			me.User = apitest.User{}
			if err := alice.Do(ctx, "DELETE", "/api/v1/me/avatar", nil, &me); err != nil || me.User.AvatarURL != "" {
				t.Fatalf("remove avatar: %+v %v", me.User, err)
			}
			if resp, _, _ := bob.Fetch(ctx, "/api/v1/avatars/"+alice.User.ID, nil); resp.StatusCode != 404 {
				t.Errorf("removed avatar: %d, want 404", resp.StatusCode)
			}
		})
	}
}

// wantOK checks that c's session still authenticates.
func wantOK(t *testing.T, ctx context.Context, c *apitest.Client) {
	t.Helper()
	if err := c.Do(ctx, "GET", "/api/v1/me", nil, nil); err != nil {
		t.Fatalf("GET /me: %v", err)
	}
}
