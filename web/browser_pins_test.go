package web_test

import (
	"context"
	"strings"
	"testing"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// notificationSpy wraps the browser's real Notification constructor: each
// notification the page makes is recorded (window.__notes) and then made
// for real. Only the page's visibility is overridden (window.__setHidden):
// a headless tab is always visible.
const notificationSpy = visibilityShim + `
{
	const Real = window.Notification;
	window.Notification = new Proxy(Real, {
		construct(target, args) {
			window.__notes.push({title: args[0], body: (args[1] && args[1].body) || "", permission: Real.permission});
			return Reflect.construct(target, args);
		},
	});
}
`

// grantNotifications grants the page's origin Chromium's notification
// permission, as a user accepting the prompt would.
func (b *browser) grantNotifications(origin string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
		Permission: &cdpbrowser.PermissionDescriptor{Name: "notifications"}, Setting: cdpbrowser.PermissionSettingGranted, Origin: origin,
	}); err != nil {
		b.fatalf("grant notifications: %v", err)
	}
}

// clickJS clicks the element a selector finds, as a user would (the
// message actions show on hover only).
func (b *browser) clickJS(what, sel string) {
	b.t.Helper()
	b.waitJS(what+" shows", `document.querySelector(`+jsString(sel)+`)`)
	b.do(chromedp.Evaluate[chromedp.Void](`document.querySelector(` + jsString(sel) + `).click()`))
}

// checkARIARefs fails the test if an aria-controls, aria-labelledby,
// aria-describedby or aria-activedescendant on the page names an element
// that is not there (invalid ARIA: Lighthouse's aria-valid-attr-value,
// e.g. a button controlling a panel that is only loaded on first use).
func (b *browser) checkARIARefs(when string) {
	b.t.Helper()
	broken := eval[[]string](b, `(() => {
		const attrs = ["aria-controls", "aria-labelledby", "aria-describedby", "aria-activedescendant"];
		return [...document.querySelectorAll(attrs.map((a) => "[" + a + "]").join(","))].flatMap((e) => attrs.flatMap((a) =>
			(e.getAttribute(a) || "").split(/\s+/).filter((id) => id && !document.getElementById(id)).map((id) => e.outerHTML.slice(0, 80) + " " + a + "=" + id)));
	})()`)
	if len(broken) > 0 {
		b.t.Errorf("%s: %s: ARIA references to no element:\n%s", b.name, when, strings.Join(broken, "\n"))
	}
}

// roomMenuItem opens the room menu and clicks its item labelled label.
func (b *browser) roomMenuItem(label string) {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.ID("room-menu-btn")))
	b.waitJS("the room menu opens", `document.querySelector("#room-menu")`)
	b.do(chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll("#room-menu .menu-item")].find(b => b.textContent === ` + jsString(label) + `).click()`))
	b.waitJS("the room menu closes", `!document.querySelector("#room-menu")`)
}

// TestPinsAndNotifications: alice (the owner) pins and unpins a message
// and bob sees it live, in the timeline and in the pinned messages panel;
// bob may pin once alice lets members pin. Then bob, his tab hidden and
// Chromium's notification permission granted, gets a desktop notification
// for a mention, and none once he mutes the room.
func TestPinsAndNotifications(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	srv := startServer(t)
	alice := newBrowser(t, "alice")
	bob := newBrowser(t, "bob")
	bob.addInitScript(notificationSpy)
	bob.grantNotifications(srv.URL)

	alice.open(srv.URL)
	alice.signUp("alice", "correct horse")
	code := alice.createRoom("Pins")
	bob.open(srv.URL)
	bob.signUp("bob", "battery staple")
	bob.joinRoom(code, "Pins")

	alice.send("the plan is on the wiki")
	bob.waitMessage("the plan is on the wiki")
	alice.waitMessage("the plan is on the wiki")
	bob.waitJS("a plain member has no pin action", `document.querySelector("#timeline .msg[data-seq] .msg-actions") && !document.querySelector('#timeline .msg-action[data-action="pin"]')`)
	bob.checkARIARefs("in a room, no panel opened yet")

	// Alice pins it from the message's actions; bob sees the pin live.
	alice.clickJS("the pin action", `#timeline .msg[data-seq] .msg-action[data-action="pin"]`)
	alice.waitJS("alice sees the pin icon", `document.querySelector("#timeline .msg.pinned .msg-pin")`)
	bob.waitJS("bob sees the pin icon", `document.querySelector("#timeline .msg.pinned .msg-pin")`)
	bob.waitJS("bob sees who pinned", `[...document.querySelectorAll("#timeline .sys")].some(e => e.textContent.includes("alice pinned a message"))`)

	// Bob's panel lists it; a click jumps to the message.
	bob.do(chromedp.Click(chromedp.ID("pins-open")))
	bob.waitJS("bob's panel lists the pin", `document.querySelector("#pins-panel:not([hidden]) .pin-item .search-text")?.textContent === "the plan is on the wiki"`)
	bob.checkARIARefs("with the pins panel open")
	saveScreenshot(t, "pins.png", bob.screenshot())
	if n := eval[int](bob, `document.querySelectorAll("#pins-panel .pin-unpin").length`); n != 0 {
		t.Errorf("bob, a plain member, sees %d unpin buttons", n)
	}
	bob.clickJS("the pin", `#pins-panel .pin-jump`)
	bob.waitJS("the jump highlights the message", `document.querySelector("#timeline .msg.pinned.highlight, #timeline .msg.pinned.flash")`)

	// Alice unpins from her panel; bob's open panel and timeline follow.
	alice.do(chromedp.Click(chromedp.ID("pins-open")))
	alice.clickJS("the unpin button", `#pins-panel .pin-item .pin-unpin`)
	alice.waitJS("alice's panel is empty", `document.querySelector("#pins-status")?.textContent === "No pinned messages yet." && !document.querySelector("#pins-panel .pin-item")`)
	bob.do(chromedp.Click(chromedp.ID("pins-open")))
	bob.waitJS("bob's panel is empty", `document.querySelector("#pins-status")?.textContent === "No pinned messages yet."`)
	bob.waitJS("the pin icon is gone for bob", `!document.querySelector("#timeline .msg.pinned")`)
	for _, b := range []*browser{alice, bob} {
		b.do(chromedp.Evaluate[chromedp.Void](`document.querySelector("#pins-panel .pins-close").click()`))
		b.waitJS("the panel closes", `document.querySelector("#pins-panel").hidden`)
	}

	// Alice lets members pin: bob may now, and alice sees his pin.
	alice.roomMenuItem("Members can pin")
	bob.clickJS("bob's pin action, once members may pin", `#timeline .msg[data-seq] .msg-action[data-action="pin"]`)
	alice.waitJS("alice sees bob's pin", `document.querySelector("#timeline .msg.pinned .msg-pin") && [...document.querySelectorAll("#timeline .sys")].some(e => e.textContent.includes("bob pinned a message"))`)

	// A mention while bob's tab is hidden: a real desktop notification.
	bob.waitJS("notifications are on", `document.querySelector('.me-panel [aria-pressed="true"]') && Notification.permission === "granted"`)
	bob.do(chromedp.Evaluate[chromedp.Void](`window.__setHidden(true)`))
	alice.send("@bob can you check?")
	bob.waitJS("bob gets a notification", `window.__notes.length === 1`)
	note := eval[map[string]any](bob, `window.__notes[0]`)
	if note["title"] != "\u2068alice\u2069 in #\u2068Pins\u2069" || note["body"] != "@bob can you check?" || note["permission"] != "granted" {
		t.Errorf("notification %v", note)
	}
	bob.waitJS("the tab title counts the unread mention", `document.title.startsWith("(1) ")`)

	// Bob mutes the room: the next mention neither notifies nor counts.
	bob.do(chromedp.Evaluate[chromedp.Void](`window.__setHidden(false)`))
	bob.roomMenuItem("Mute")
	bob.waitJS("the room shows as muted", `document.querySelector('#room-list .room-link .room-notify[aria-label="muted"]')`)
	bob.do(chromedp.Evaluate[chromedp.Void](`window.__setHidden(true)`))
	alice.send("@bob still there?")
	bob.waitMessage("@bob still there?")
	if n := eval[int](bob, `window.__notes.length`); n != 1 {
		t.Errorf("a muted room made %d notifications, want the 1 from before", n)
	}
	bob.waitJS("the tab title has no count", `!/^\(\d+\)/.test(document.title)`)

	// Only mentions: a plain message neither notifies nor counts, a
	// mention does both (the title counts the unread mentions: the two
	// above are unread still).
	bob.do(chromedp.Evaluate[chromedp.Void](`window.__setHidden(false)`))
	bob.roomMenuItem("Only mentions")
	bob.waitJS("the room shows mentions only", `document.querySelector('#room-list .room-link .room-notify[aria-label="mentions only"]')`)
	bob.waitJS("the title counts the two unread mentions", `document.title.startsWith("(2) ")`)
	bob.do(chromedp.Evaluate[chromedp.Void](`window.__setHidden(true)`))
	alice.send("a plain message")
	bob.waitMessage("a plain message")
	if n := eval[int](bob, `window.__notes.length`); n != 1 {
		t.Errorf("a plain message with mentions only made %d notifications, want the 1 from before", n)
	}
	if title := eval[string](bob, `document.title`); !strings.HasPrefix(title, "(2) ") {
		t.Errorf("after a plain message with mentions only the title is %q, want the count of mentions, (2)", title)
	}
	alice.send("@bob one more")
	bob.waitJS("the mention notifies", `window.__notes.length === 2 && window.__notes[1].body === "@bob one more"`)
	bob.waitJS("and counts in the title", `document.title.startsWith("(3) ")`)
	bob.do(chromedp.Evaluate[chromedp.Void](`window.__setHidden(false)`))
	bob.roomMenuItem("Mute")
	bob.waitJS("the room shows as muted again", `document.querySelector('#room-list .room-link .room-notify[aria-label="muted"]')`)

	// Another room's muted count shows dimmed in the sidebar.
	code2 := alice.createRoom("Other")
	bob.do(chromedp.Evaluate[chromedp.Void](`window.__setHidden(false)`))
	bob.joinRoom(code2, "Other")
	alice.send("in the other room")
	alice.do(chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll("#room-list .room-link")].find(a => a.textContent.includes("Pins")).click()`))
	alice.waitJS("alice is back in Pins", `document.querySelector("#room-title")?.textContent === "Pins"`)
	alice.send("unread but muted")
	bob.waitJS("the muted room's count is dimmed", `[...document.querySelectorAll("#room-list .room-link")].some(a => a.textContent.includes("Pins") && a.querySelector(".badge.muted") && !a.classList.contains("unread"))`)
	bob.waitJS("and left out of the title", `!/^\(\d+\)/.test(document.title)`)
}
