package web_test

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// TestRevokeSessions signs one account in on two browser profiles, lists
// the sessions in the account's sessions dialog, revokes the other one and
// sees the other profile signed out; then signs out everywhere else.
func TestRevokeSessions(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	srv := startServer(t)
	laptop := newBrowser(t, "laptop")
	phone := newBrowser(t, "phone")

	laptop.open(srv.URL)
	laptop.signUp("alice", "correct horse")
	signIn := func() {
		phone.open(srv.URL)
		phone.waitJS("the sign-in form shows", `document.querySelector("#auth-form")`)
		phone.fillAuth("alice", "correct horse")
		phone.waitJS("the app shows after sign-in", `document.querySelector(".me-name")?.textContent === "alice"`)
	}
	signIn()

	openSessions := func() {
		laptop.do(chromedp.Click(chromedp.ID("open-sessions")))
		laptop.waitJS("both sessions are listed, this device marked",
			`document.querySelectorAll("#session-list .session").length === 2 && document.querySelectorAll("#session-list .session.current").length === 1`)
	}
	openSessions()
	saveScreenshot(t, "sessions.png", laptop.screenshot())
	laptop.do(chromedp.Evaluate[chromedp.Void](`document.querySelector("#session-list .session:not(.current) .session-revoke").click()`))
	phone.waitJS("the revoked profile is signed out", `document.querySelector("#auth-form") && !document.querySelector(".me-name")`)
	laptop.waitJS("one session is left, this one", `document.querySelectorAll("#session-list .session").length === 1 && document.querySelector("#session-list .session.current")`)
	laptop.do(chromedp.Evaluate[chromedp.Void](`document.querySelector("#sessions-dialog .dialog-close").click()`))

	// Sign out everywhere else.
	signIn()
	openSessions()
	laptop.do(chromedp.Click(chromedp.ID("revoke-other-sessions")))
	laptop.do(chromedp.Click(chromedp.CSS("dialog.confirm[open] .btn-danger")))
	phone.waitJS("the other profile is signed out again", `document.querySelector("#auth-form") && !document.querySelector(".me-name")`)
	laptop.waitJS("only this session is left", `document.querySelectorAll("#session-list .session").length === 1 && document.querySelector("#revoke-other-sessions").disabled`)
	if eval[bool](laptop, `!document.querySelector(".me-name")`) {
		t.Error("signing out everywhere else signed this profile out too")
	}
}
