package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/confabhq/confab/internal/apitest"
)

// TestUsersCLI runs confab users against a running server's store, on
// both stores: disable ends the sessions and bars sign-in until enable;
// reset-password ends the sessions and sets the new password; delete ends
// the sessions and memberships, drops the user's name, reserves the
// username and keeps their messages.
func TestUsersCLI(t *testing.T) {
	for name, sut := range storesUnderTest(t) {
		t.Run(name, func(t *testing.T) {
			addr, stop := startServe(t, sut.args...)
			defer stop()
			base := "http://" + addr
			ctx := testCtx(t)
			users := func(args ...string) string {
				t.Helper()
				out, _ := admRun(t, nil, append(append([]string{"users"}, args...), sut.args...)...)
				return out
			}

			alice := apitest.MustSignUp(t, ctx, base, "alice", "correct horse")
			bob := apitest.MustSignUp(t, ctx, base, "bob", "correct horse")
			room := alice.MustCreateRoom(t, ctx, "general")
			if _, err := bob.Join(ctx, room.ID); err == nil {
				t.Fatal("joined by room ID")
			}
			if _, err := bob.Join(ctx, room.InviteCode); err != nil {
				t.Fatal(err)
			}
			msg, err := bob.Post(ctx, room.ID, "b1", "hello from bob")
			if err != nil {
				t.Fatal(err)
			}
			if err := bob.Do(ctx, "PATCH", "/api/v1/me", map[string]string{"display_name": "Bobby"}, nil); err != nil {
				t.Fatal(err)
			}

			out := users("list")
			if !regexp.MustCompile(`(?m)^`+alice.User.ID+`\s+alice\s+-\s+active\s`).MatchString(out) ||
				!regexp.MustCompile(`(?m)^`+bob.User.ID+`\s+bob\s+Bobby\s+active\s`).MatchString(out) {
				t.Errorf("users list:\n%s", out)
			}

			// Disable: the session and its WebSocket end; sign-in is refused.
			ws, err := bob.Dial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if out := users("disable", "bob"); !strings.Contains(out, "bob disabled; 1 session ended") {
				t.Errorf("disable: %q", out)
			}
			wantSessionClosed(t, ctx, ws, "account disabled")
			wantUnauthenticated(t, ctx, base, bob.Token, "")
			if _, err := apitest.SignIn(ctx, base, "bob", "correct horse"); err == nil || err.(*apitest.Error).Status != 403 {
				t.Errorf("a disabled user signs in: %v", err)
			}
			if out := users("list"); !regexp.MustCompile(`(?m)^` + bob.User.ID + `\s+bob\s+Bobby\s+disabled\s`).MatchString(out) {
				t.Errorf("users list after disable:\n%s", out)
			}
			if out := users("enable", bob.User.ID); !strings.Contains(out, "bob enabled") {
				t.Errorf("enable: %q", out)
			}
			bob, err = apitest.SignIn(ctx, base, "bob", "correct horse")
			if err != nil {
				t.Fatalf("an enabled user cannot sign in: %v", err)
			}

			// Reset the password, from stdin, then generated.
			c := admStart(t, strings.NewReader("staple tuna violin\n"), append([]string{"users", "reset-password", "--stdin", "bob"}, sut.args...)...)
			if err := c.wait(t); err != nil || !strings.Contains(c.stdout.String(), "password of bob reset; 1 session ended") {
				t.Fatalf("reset-password --stdin: %v\n%s\n%s", err, c.stdout.String(), c.stderr.String())
			}
			wantUnauthenticated(t, ctx, base, bob.Token, "")
			if _, err := apitest.SignIn(ctx, base, "bob", "correct horse"); err == nil {
				t.Error("the old password still signs in")
			}
			out = users("reset-password", "BOB")
			m := regexp.MustCompile(`new password of bob: (\S+)`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("reset-password printed no password:\n%s", out)
			}
			if bob, err = apitest.SignIn(ctx, base, "bob", m[1]); err != nil {
				t.Fatalf("the generated password does not sign in: %v", err)
			}
			c = admStart(t, strings.NewReader("short\n"), append([]string{"users", "reset-password", "--stdin", "bob"}, sut.args...)...)
			if err := c.wait(t); err == nil || !strings.Contains(c.stderr.String(), "at least 8") {
				t.Errorf("a short password: %v\n%s", err, c.stderr.String())
			}

			// Delete: needs --yes; ends the session and the membership,
			// keeps the message, frees nothing.
			if msg := admFail(t, nil, append([]string{"users", "delete", "bob"}, sut.args...)...); !strings.Contains(msg, "--yes") {
				t.Errorf("delete without --yes: %s", msg)
			}
			if msg := admFail(t, nil, append([]string{"users", "delete", "--yes", "nobody"}, sut.args...)...); !strings.Contains(msg, `no user "nobody"`) {
				t.Errorf("delete nobody: %s", msg)
			}
			ws, err = bob.Dial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if out := users("delete", "--yes", "bob"); !strings.Contains(out, "bob deleted; 1 session ended, 1 room left") {
				t.Errorf("delete: %q", out)
			}
			wantSessionClosed(t, ctx, ws, "account deleted")
			wantUnauthenticated(t, ctx, base, bob.Token, "")
			if _, err := apitest.SignIn(ctx, base, "bob", m[1]); err == nil || err.(*apitest.Error).Status != 401 {
				t.Errorf("a deleted user signs in: %v", err)
			}
			if _, err := apitest.SignUp(ctx, base, "bob", "correct horse"); err == nil || err.(*apitest.Error).Status != 409 {
				t.Errorf("a deleted user's username signs up: %v", err)
			}
			members, err := alice.Members(ctx, room.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(members) != 1 || members[0].User.ID != alice.User.ID {
				t.Errorf("members after the deletion: %+v", members)
			}
			u, err := alice.GetUser(ctx, bob.User.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !u.Deleted || u.Username != "" || u.DisplayName != "" || u.AvatarURL != "" {
				t.Errorf("the deleted user shows as %+v", u)
			}
			msgs, err := alice.Messages(ctx, room.ID, 0, 50)
			if err != nil {
				t.Fatal(err)
			}
			kept := false
			for _, mm := range msgs {
				if mm.Seq == msg.Seq {
					kept = mm.Text == "hello from bob" && mm.SenderID == bob.User.ID
				}
			}
			if !kept {
				t.Errorf("bob's message after the deletion: %+v", msgs)
			}
			if out := users("list"); !regexp.MustCompile(`(?m)^` + bob.User.ID + `\s+-\s+-\s+deleted\s`).MatchString(out) {
				t.Errorf("users list after delete:\n%s", out)
			}
			if out := users("delete", "--yes", bob.User.ID); !strings.Contains(out, "deleted; 0 sessions ended, 0 rooms left") {
				t.Errorf("deleting twice: %q", out)
			}
		})
	}
}
