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

// TestPresenceUnknownWhileDisconnected: while bob's socket is down his
// member list shows no one online (presence unknown, "Reconnecting…"),
// and once it is back it shows what changed meanwhile: alice left.
func TestPresenceUnknownWhileDisconnected(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	srv := startServer(t)
	p := startProxy(t, srv.Addr)
	alice := newBrowser(t, "alice")
	alice.open(srv.URL)
	alice.signUp("alice", "correct horse")
	code := alice.createRoom("Lobby")
	bob := newBrowser(t, "bob")
	bob.open(p.URL())
	bob.signUp("bob", "correct horse")
	bob.joinRoom(code, "Lobby")
	const aliceOnline = `[...document.querySelectorAll("#members-online .member")].some((m) => m.dataset.username === "alice")`
	bob.waitJS("bob sees alice online", aliceOnline)

	p.Cut()
	bob.waitJS("bob's member list says presence is unknown", `document.querySelector("#member-list").dataset.presence === "unknown"
		&& !document.querySelector("#members-stale").hidden && /connecting/i.test(document.querySelector("#members-stale").textContent)
		&& document.querySelector("#members-online").hidden
		&& [...document.querySelectorAll("#members-offline .member")].map((m) => m.dataset.status).join() === "unknown,unknown"
		&& !document.querySelector('.presence-dot[data-status="online"]')`)
	if got := eval[string](bob, `document.querySelector("#members-offline h3").textContent`); got != "Members — 2" {
		t.Errorf("the list's heading while disconnected is %q, want %q", got, "Members — 2")
	}

	alice.Close() // alice goes offline while bob cannot hear it
	p.Restore()
	bob.waitJS("once reconnected, bob sees alice offline", `document.querySelector("#member-list").dataset.presence === "live"
		&& document.querySelector("#members-stale").hidden
		&& [...document.querySelectorAll("#members-offline .member")].some((m) => m.dataset.username === "alice" && m.dataset.status === "offline" && /last seen/.test(m.textContent))
		&& [...document.querySelectorAll("#members-online .member")].some((m) => m.dataset.username === "bob")`)
}
