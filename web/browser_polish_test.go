package web_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"
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

// wsBot is a bot's WebSocket: it sends request frames and waits for
// their answers.
type wsBot struct {
	t    *testing.T
	conn *websocket.Conn
	n    int
}

func dialBot(t *testing.T, srv *server, token string) *wsBot {
	t.Helper()
	h := http.Header{"Authorization": {"Bearer " + token}}
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr+"/api/v1/ws", h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &wsBot{t: t, conn: conn}
}

// request sends a frame and waits for its ack.
func (b *wsBot) request(frame map[string]any) {
	b.t.Helper()
	b.n++
	id := "r" + strconv.Itoa(b.n)
	frame["id"] = id
	if err := b.conn.WriteJSON(frame); err != nil {
		b.t.Fatal(err)
	}
	b.conn.SetReadDeadline(time.Now().Add(waitTimeout))
	for {
		_, data, err := b.conn.ReadMessage()
		if err != nil {
			b.t.Fatalf("waiting for the answer to %v: %v", frame, err)
		}
		var f struct{ Type, ID, Code, Message string }
		json.Unmarshal(data, &f)
		if f.ID != id {
			continue
		}
		if f.Type != "ack" {
			b.t.Fatalf("%v: %s", frame, data)
		}
		return
	}
}

// TestCallIsOneTimelineLine: a call shows as one line in the timeline,
// updated as people join and leave, not a line per join and leave.
func TestCallIsOneTimelineLine(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	srv := startServer(t)
	alice := signUpAPI(t, srv, "alice")
	bob := signUpAPI(t, srv, "bob")
	carolTok := signUpAPI(t, srv, "carol")
	room := srv.api(t, alice, "POST", "/rooms", map[string]any{"name": "Standup"})["room"].(map[string]any)
	roomID := room["id"].(string)
	srv.api(t, bob, "POST", "/rooms/join", map[string]any{"invite_code": room["invite_code"]})
	srv.api(t, carolTok, "POST", "/rooms/join", map[string]any{"invite_code": room["invite_code"]})

	carol := newBrowser(t, "carol")
	carol.openSignedIn(srv.URL, carolTok, roomID)
	carol.waitJS("the room shows", `document.querySelector("#room-title")?.textContent === "Standup"`)

	callLines := `[...document.querySelectorAll('#timeline .sys[data-event^="call"]')]`
	oneLine := func(what, re string) {
		t.Helper()
		carol.waitJS(what, `(() => { const l = `+callLines+`; return l.length === 1 && new RegExp(`+jsString(re)+`).test(l[0].textContent); })()`)
	}
	a := dialBot(t, srv, alice)
	a.request(map[string]any{"type": "call.join", "room_id": roomID})
	oneLine("the call's line says alice started it", `^Call started by alice · 1 joined · 1 in the call`)
	b := dialBot(t, srv, bob)
	b.request(map[string]any{"type": "call.join", "room_id": roomID})
	oneLine("the same line counts bob", `^Call started by alice · 2 joined · 2 in the call`)
	b.request(map[string]any{"type": "call.leave", "room_id": roomID})
	oneLine("the same line says bob left", `^Call started by alice · 2 joined · 1 in the call`)
	a.request(map[string]any{"type": "call.leave", "room_id": roomID})
	oneLine("the call ended: the line sums it up", `^Call started by alice · 2 joined · ended after \d+ s`)

	// After a reload, from history: the same one line.
	carol.do(chromedp.Reload())
	carol.waitJS("the room shows again", `document.querySelector("#room-title")?.textContent === "Standup"`)
	oneLine("after a reload the call is one line", `^Call started by alice · 2 joined · ended after \d+ s`)
}

// TestToastCoversNothing: the "You joined" toast covers neither the
// composer nor the room header, at 1280 px and at 390 px.
func TestToastCoversNothing(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	srv := startServer(t)
	alice := signUpAPI(t, srv, "alice")
	bob := newBrowser(t, "bob")
	bob.open(srv.URL)
	bob.signUp("bob", "correct horse")
	for i, width := range []int64{1280, 390} {
		name := "Room " + strconv.Itoa(i)
		code := srv.api(t, alice, "POST", "/rooms", map[string]any{"name": name})["room"].(map[string]any)["invite_code"].(string)
		bob.do(chromedp.EmulateViewport(width, 844))
		bob.open(srv.URL + "/join/" + code)
		bob.waitJS("the joined room opens", `document.querySelector("#room-title")?.textContent === `+jsString(name))
		bob.waitJS("the toast shows", `[...document.querySelectorAll(".toast")].some((e) => e.textContent.includes("You joined"))`)
		type rect struct{ Top, Bottom, Left, Right float64 }
		r := eval[map[string]rect](bob, `(() => {
			const r = (e) => { const b = e.getBoundingClientRect(); return {top: b.top, bottom: b.bottom, left: b.left, right: b.right}; };
			return {toast: r([...document.querySelectorAll(".toast")].find((e) => e.textContent.includes("You joined"))),
				composer: r(document.querySelector("#composer")), header: r(document.querySelector("#room-header"))};
		})()`)
		overlaps := func(a, b rect) bool {
			return a.Left < b.Right && b.Left < a.Right && a.Top < b.Bottom && b.Top < a.Bottom
		}
		for _, other := range []string{"composer", "header"} {
			if overlaps(r["toast"], r[other]) {
				t.Errorf("at %d px the toast %+v covers the %s %+v", width, r["toast"], other, r[other])
			}
		}
		if r["toast"].Left < 0 || r["toast"].Right > float64(width) {
			t.Errorf("at %d px the toast %+v does not fit the screen", width, r["toast"])
		}
	}
}

// visibleCreateJS lists the visible controls that create a room, by their
// text or accessible name.
const visibleCreateJS = `[...document.querySelectorAll("button, a")].filter((e) => {
	const r = e.getBoundingClientRect();
	if (!e.offsetParent || r.width === 0 || r.right <= 0 || r.left >= innerWidth || r.bottom <= 0 || r.top >= innerHeight) return false;
	return /create (a )?room/i.test((e.getAttribute("aria-label") || "") + " " + e.textContent);
}).map((e) => e.id || e.className)`

// TestCreateRoomOnce: the empty home page offers "Create a room" once (its
// card), at 1280 px and 390 px; in a room the sidebar offers it, once.
func TestCreateRoomOnce(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	srv := startServer(t)
	b := newBrowser(t, "alice")
	b.open(srv.URL)
	b.signUp("alice", "correct horse")
	b.waitJS("the home page shows its cards", `document.querySelector("#welcome-create")?.offsetParent`)
	for _, width := range []int64{1280, 390} {
		b.do(chromedp.EmulateViewport(width, 844))
		if got := eval[[]string](b, visibleCreateJS); len(got) != 1 || got[0] != "welcome-create" {
			t.Errorf("at %d px the empty home page offers to create a room %d times: %q", width, len(got), got)
		}
	}
	b.do(chromedp.EmulateViewport(1280, 800))
	b.createRoom("General")
	if got := eval[[]string](b, visibleCreateJS); len(got) != 1 || got[0] != "create-room" {
		t.Errorf("in a room, the page offers to create a room %d times: %q", len(got), got)
	}
}

// hashIconJS finds the "#" icon (its SVG path) in the elements sel selects.
func hashIconJS(sel string) string {
	return `[...document.querySelectorAll(` + jsString(sel) + `)].some((e) => [...e.querySelectorAll("svg path")].some((p) => p.getAttribute("d") === "M5 9h14M4 15h14M10 3 8 21M16 3l-2 18"))`
}

// TestDMHasNoHash: a DM shows the peer's avatar or "@", never "#": in the
// sidebar, the header, the timeline's first lines, the composer and the
// tab title.
func TestDMHasNoHash(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	srv := startServer(t)
	alice := signUpAPI(t, srv, "alice")
	bobTok := signUpAPI(t, srv, "bob")
	bobID := srv.api(t, bobTok, "GET", "/me", nil)["user"].(map[string]any)["id"].(string)
	srv.api(t, bobTok, "POST", "/rooms", map[string]string{"name": "General"})
	dm := srv.api(t, alice, "POST", "/dms", map[string]string{"user_id": bobID})["room"].(map[string]any)["id"].(string)
	srv.api(t, alice, "POST", "/rooms/"+dm+"/messages", map[string]any{"client_msg_id": "m1", "text": "hi bob"})

	bob := newBrowser(t, "bob")
	bob.open(srv.URL)
	bob.waitJS("the sign-in form shows", `document.querySelector("#auth-form")`)
	bob.fillAuth("bob", "correct horse")
	bob.waitJS("the DM is listed", `document.querySelector("#dm-list .room-link")`)
	if !eval[bool](bob, hashIconJS("#room-list .room-link")) {
		t.Fatal("the test's # icon is not the one group rooms show: the test checks nothing")
	}
	bob.do(chromedp.Click(chromedp.CSS("#dm-list .room-link")))
	bob.waitMessage("hi bob")
	bob.waitJS("the DM's first line shows", `document.querySelector('#timeline .sys[data-event="room.created"]')`)
	for _, where := range []string{"#dm-list", "#room-header", "#timeline"} {
		if eval[bool](bob, hashIconJS(where)) {
			t.Errorf("the DM shows a # icon in %s", where)
		}
	}
	if !eval[bool](bob, `!!document.querySelector('#timeline .sys[data-event="room.created"] svg path')`) {
		t.Error("the DM's first line has no icon")
	}
	got := eval[map[string]string](bob, `({title: document.title.replace(/[\u2068\u2069]/g, "").replace(/^\(\d+\) /, ""), placeholder: document.querySelector("#composer-input").placeholder,
		start: document.querySelector("#timeline .tl-start")?.textContent || ""})`)
	if got["title"] != "@alice · confab" || got["placeholder"] != "Message @alice" || strings.Contains(got["start"], "#") {
		t.Errorf("the DM reads: %q", got)
	}
}
