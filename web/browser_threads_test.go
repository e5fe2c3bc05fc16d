package web_test

import (
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestThreads: alice starts a thread on her message; bob sees its reply
// count and its unread count under the root (the replies stay out of the
// timeline), opens it, reads the reply and answers live; the unread count
// clears and stays cleared after a reload; alice, who takes part, is
// notified of bob's next reply while her tab is hidden; Esc closes the
// panel; at 390 px the panel takes the screen.
func TestThreads(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	srv := startServer(t)
	alice := newBrowser(t, "alice")
	bob := newBrowser(t, "bob")

	alice.addInitScript(hiddenTabShim)
	alice.open(srv.URL)
	alice.signUp("alice", "correct horse")
	code := alice.createRoom("Release")
	bob.open(srv.URL)
	bob.signUp("bob", "battery staple")
	bob.joinRoom(code, "Release")

	alice.send("shall we ship on friday?")
	alice.waitMessage("shall we ship on friday?")
	bob.waitMessage("shall we ship on friday?")

	// Alice starts a thread from the message's action bar.
	alice.do(chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll("#timeline .msg[data-seq]")].find(m => m.textContent.includes("ship on friday")).querySelector('[data-action="thread"][aria-label="Reply in thread"]').click()`))
	alice.waitJS("the thread panel opens with the root", `!document.querySelector("#thread-panel")?.hidden && document.querySelector("#thread-panel .thread-root").textContent.includes("ship on friday")`)
	alice.waitJS("the thread composer has focus", `document.activeElement?.id === "thread-composer-input"`)
	alice.do(chromedp.SendKeys(chromedp.ID("thread-composer-input"), "only if the tests pass"), pressEnter)
	alice.waitJS("alice's reply shows in the panel", `document.querySelector("#thread-panel .thread-list").textContent.includes("only if the tests pass")`)

	// Bob sees the count and the unread state under the root, not the reply.
	bob.waitJS("bob sees 1 reply, unread", `(() => {
		const s = document.querySelector("#timeline .thread-summary");
		return s && s.textContent.includes("1 reply") && s.querySelector(".thread-unread")?.textContent === "1" && s.getAttribute("aria-label") === "Open thread: 1 reply, 1 unread";
	})()`)
	if got := bob.messages(); len(got) != 1 {
		t.Errorf("bob's timeline shows %q, want only the root", got)
	}

	// Bob opens the thread: the reply shows and the unread count clears.
	bob.do(chromedp.Click(chromedp.CSS("#timeline .thread-summary")))
	bob.waitJS("bob's panel shows alice's reply", `!document.querySelector("#thread-panel")?.hidden && document.querySelector("#thread-panel .thread-list").textContent.includes("only if the tests pass")`)
	bob.waitJS("the unread count clears", `document.querySelector("#timeline .thread-summary") && !document.querySelector("#timeline .thread-unread")`)

	// Bob answers; alice's open panel shows it live, and both roots count 2.
	bob.do(chromedp.SendKeys(chromedp.ID("thread-composer-input"), "they pass, ship it"), pressEnter)
	alice.waitJS("alice sees bob's reply live", `document.querySelector("#thread-panel .thread-list").textContent.includes("they pass, ship it")`)
	saveScreenshot(t, "thread.png", alice.screenshot())
	for _, b := range []*browser{alice, bob} {
		b.waitJS(b.name+" sees 2 replies", `document.querySelector("#timeline .thread-summary")?.textContent.includes("2 replies")`)
	}
	alice.waitJS("alice, reading the thread, has nothing unread in it", `!document.querySelector("#timeline .thread-unread")`)

	// Esc closes the panel.
	alice.do(chromedp.KeyEvent(kb.Escape))
	alice.waitJS("Esc closes the thread panel", `document.querySelector("#thread-panel").hidden`)

	// Alice takes part (she wrote the root): a reply notifies her while her
	// tab is hidden, and shows as unread under the root.
	alice.do(chromedp.Evaluate[chromedp.Void](`window.__setHidden(true)`))
	bob.do(chromedp.SendKeys(chromedp.ID("thread-composer-input"), "tagged v1.0"), pressEnter)
	alice.waitJS("a desktop notification shows the reply", `window.__notes.some(n => n.body === "tagged v1.0")`)
	alice.waitJS("the reply is unread under the root", `document.querySelector("#timeline .thread-unread")?.textContent === "1"`)
	alice.do(chromedp.Evaluate[chromedp.Void](`window.__setHidden(false)`))
	if got := alice.messages(); len(got) != 1 {
		t.Errorf("alice's timeline shows %q, want only the root", got)
	}

	// Bob's read marker is the server's: after a reload nothing is unread
	// for him, and the root still shows its three replies.
	bob.do(chromedp.Reload())
	bob.waitJS("the root shows 3 replies after the reload", `document.querySelector("#timeline .thread-summary")?.textContent.includes("3 replies")`)
	if eval[bool](bob, `!!document.querySelector("#timeline .thread-unread")`) {
		t.Error("after the reload bob has unread replies in the thread he read")
	}

	// A reply found by search opens in its thread: the root in the
	// timeline, the panel open beside it with the reply highlighted.
	bob.do(chromedp.Evaluate[chromedp.Void](`document.querySelector("#search-open").click()`))
	bob.waitJS("the search box opens", `document.activeElement?.id === "search-input"`)
	bob.do(chromedp.SendKeys(chromedp.ID("search-input"), "tests pass"+kb.Enter))
	bob.waitJS("search finds the reply", `[...document.querySelectorAll("#search-results .search-result")].some(r => r.textContent.includes("only if the tests pass"))`)
	bob.do(chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll("#search-results .search-result")].find(r => r.textContent.includes("only if the tests pass")).click()`))
	bob.waitJS("the reply opens highlighted in its thread", `(() => {
		const p = document.querySelector("#thread-panel");
		const hl = p && !p.hidden && p.querySelector(".thread-list .msg.highlight");
		return !!hl && hl.textContent.includes("only if the tests pass") && document.querySelector("#search-panel").hidden;
	})()`)
	bob.do(chromedp.Click(chromedp.ID("thread-close")))
	bob.waitJS("the close button closes the panel", `document.querySelector("#thread-panel").hidden`)
	// The jump left the timeline around the root: back to the present.
	bob.do(chromedp.Click(chromedp.CSS(".jump-present")))
	bob.waitJS("the timeline is back at the present", `document.querySelector(".jump-present").hidden`)

	// At 390 px the panel takes the screen.
	bob.do(chromedp.EmulateViewport(390, 844))
	bob.waitJS("at 390 px the root's summary is on screen, uncovered", `(() => {
		const s = document.querySelector("#timeline .thread-summary");
		s.scrollIntoView({block: "center"});
		const r = s.getBoundingClientRect();
		return s.contains(document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2));
	})()`)
	bob.do(chromedp.Click(chromedp.CSS("#timeline .thread-summary")))
	bob.waitJS("the panel opens at 390 px", `document.querySelector("#thread-panel")?.hidden === false`)
	bob.waitJS("at 390 px the panel fills the width", `(() => {
		const p = document.querySelector("#thread-panel");
		if (!p || p.hidden) return false;
		const r = p.getBoundingClientRect();
		return r.left === 0 && r.width === window.innerWidth && p.textContent.includes("tagged v1.0");
	})()`)
	bob.do(chromedp.Click(chromedp.ID("thread-close")))
	bob.waitJS("the close button closes the panel", `document.querySelector("#thread-panel").hidden`)
}
