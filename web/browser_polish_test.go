package web_test

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// Tests of small fixes (issue 16): each fails without its fix.

// roomOf returns the room with id from GET /rooms as token's user sees it.
func roomOf(t *testing.T, srv *server, token, id string) map[string]any {
	t.Helper()
	for _, r := range srv.api(t, token, "GET", "/rooms", nil)["rooms"].([]any) {
		if r := r.(map[string]any); r["id"] == id {
			return r
		}
	}
	t.Fatalf("room %s is not in GET /rooms", id)
	return nil
}

// TestReadAfterQuickRoomSwitch: a DM message that arrives while bob reads
// the DM stays read when he switches to another room 0.2 s later (before
// the read is sent) and reloads: the server's read marker moved.
func TestReadAfterQuickRoomSwitch(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	srv := startServer(t)
	alice := signUpAPI(t, srv, "alice")
	bobToken := signUpAPI(t, srv, "bob")
	bobID := srv.api(t, bobToken, "GET", "/me", nil)["user"].(map[string]any)["id"].(string)
	srv.api(t, bobToken, "POST", "/rooms", map[string]string{"name": "General"})
	dm := srv.api(t, alice, "POST", "/dms", map[string]string{"user_id": bobID})["room"].(map[string]any)["id"].(string)
	srv.api(t, alice, "POST", "/rooms/"+dm+"/messages", map[string]any{"client_msg_id": "m1", "text": "first"})

	bob := newBrowser(t, "bob")
	bob.open(srv.URL)
	bob.waitJS("the sign-in form shows", `document.querySelector("#auth-form")`)
	bob.fillAuth("bob", "correct horse")
	bob.waitJS("the DM is listed", `document.querySelector("#dm-list .room-link")`)
	bob.do(chromedp.Click(chromedp.CSS("#dm-list .room-link")))
	bob.waitMessage("first")
	bob.waitJS("the DM is read", `!document.querySelector("#dm-list .room-link.unread")`)
	waitUntil(t, "the first message is marked read", func() bool {
		r := roomOf(t, srv, bobToken, dm)
		return r["read_seq"] == r["last_seq"]
	})

	// Bob switches to General 0.2 s after the next message shows.
	bob.do(chromedp.Evaluate[chromedp.Void](`(() => {
		const timer = setInterval(() => {
			if (![...document.querySelectorAll("#timeline .msg[data-seq] .msg-text")].some((e) => e.textContent === "second")) return;
			clearInterval(timer);
			setTimeout(() => { document.querySelector("#room-list .room-link").click(); window.__switched = true; }, 200);
		}, 5);
	})()`))
	srv.api(t, alice, "POST", "/rooms/"+dm+"/messages", map[string]any{"client_msg_id": "m2", "text": "second"})
	bob.waitJS("bob switched to General", `window.__switched && document.querySelector("#room-title")?.textContent === "General"`)
	waitUntil(t, "the server's read marker reaches the DM's last event", func() bool {
		r := roomOf(t, srv, bobToken, dm)
		return r["read_seq"] == r["last_seq"]
	})

	bob.do(chromedp.Reload())
	bob.waitJS("the app shows again", `document.querySelector("#room-title")?.textContent === "General" && document.querySelector("#dm-list .room-link")`)
	bob.waitJS("the app is online", `document.querySelector(".me-status")?.dataset.conn === "online"`)
	if eval[bool](bob, `!!document.querySelector("#dm-list .room-link.unread, #dm-list .badge")`) {
		bob.fatalf("the DM shows as unread after the reload")
	}
}
