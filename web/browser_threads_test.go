package web_test

import (
	"encoding/base64"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestThreads: alice starts a thread on her message; bob sees its reply
// count and its unread count under the root (the replies stay out of the
// timeline), opens it, reads the reply and answers live; replies are full
// messages: bob's reaction, alice's edit ("(edited)"), bob's file and its
// deletion by alice (the count drops) show live in the other's panel; the
// unread count clears and stays cleared after a reload; alice, who takes part, is
// notified of bob's next reply while her tab is hidden; Esc closes the
// panel; at 390 px the panel takes the screen; a thread of 101 replies
// opens with 100 and loads the last with "Load more replies".
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
	alice.checkARIARefs("with the thread panel open")
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

	// A reply is a full message. Bob reacts to alice's reply from its
	// action bar, and alice's panel shows the reaction live.
	bob.do(chromedp.Evaluate[chromedp.Void](threadReply("only if the tests pass") + `.querySelector('.msg-actions [data-action="picker"]').click()`))
	bob.waitJS("the quick reaction picker opens", `document.querySelector('.picker button[aria-label="React with 👍"]')`)
	bob.do(chromedp.Click(chromedp.CSS(`.picker button[aria-label="React with 👍"]`)))
	alice.waitJS("alice sees bob's reaction on her reply", threadReply("only if the tests pass")+`?.querySelector('.reaction[title="bob reacted with 👍"] .reaction-count')?.textContent === "1"`)
	bob.waitJS("bob's reaction shows pressed", threadReply("only if the tests pass")+`?.querySelector('.reaction.mine[aria-pressed="true"]')`)

	// Alice edits her reply inline; bob sees the new text, marked edited.
	alice.do(chromedp.Evaluate[chromedp.Void](threadReply("only if the tests pass") + `.querySelector('.msg-actions [data-action="edit"]').click()`))
	alice.waitJS("the editor opens in the panel", `document.activeElement?.matches("#thread-panel .msg-edit-input")`)
	alice.clear("#thread-panel .msg-edit-input")
	// Bob takes his reaction back meanwhile: the open editor stays, with
	// the focus.
	bob.do(chromedp.Evaluate[chromedp.Void](threadReply("only if the tests pass") + `.querySelector(".reaction.mine").click()`))
	alice.waitJS("the reaction goes while alice edits, her editor keeps the focus", `(() => {
		const m = document.querySelector("#thread-panel .msg-edit-input")?.closest(".msg");
		return !!m && !m.querySelector(".reaction") && document.activeElement?.matches("#thread-panel .msg-edit-input") && document.activeElement.value === "";
	})()`)
	alice.do(chromedp.SendKeys(chromedp.CSS("#thread-panel .msg-edit-input"), "only if the tests pass, all of them"), pressEnter)
	alice.waitJS("the editor closes", `!document.querySelector("#thread-panel .msg-edit-input")`)
	bob.waitJS("bob sees the edit, marked edited", `(() => {
		const m = `+threadReply("all of them")+`;
		return !!m && m.querySelector(".msg-edited")?.textContent.includes("(edited)");
	})()`)

	// From the keyboard: E on her focused reply edits it, Esc cancels and
	// goes back to the thread's composer.
	alice.do(chromedp.Evaluate[chromedp.Void](threadReply("all of them") + `.focus()`))
	alice.do(chromedp.KeyEvent("e"))
	alice.waitJS("E opens the editor", `document.activeElement?.matches("#thread-panel .msg-edit-input")`)
	alice.do(chromedp.KeyEvent(kb.Escape))
	alice.waitJS("Esc cancels the edit", `!document.querySelector("#thread-panel .msg-edit-input") && document.activeElement?.id === "thread-composer-input" && !document.querySelector("#thread-panel").hidden`)

	// Bob replies with a file (the thread composer's attach button); alice
	// sees the attachment in her panel.
	notes := base64.StdEncoding.EncodeToString([]byte("release notes\n"))
	bob.do(chromedp.Evaluate[chromedp.Void](setFiles("#thread-composer-file", [3]string{"notes.txt", "text/plain", notes})))
	bob.waitJS("the upload finishes", `document.querySelector('#thread-composer-tray .upload[data-state="done"]')`)
	bob.do(chromedp.SendKeys(chromedp.ID("thread-composer-input"), "the notes"), pressEnter)
	alice.waitJS("alice sees bob's file in the thread", threadReply("the notes")+`?.querySelector(".attachments")?.textContent.includes("notes.txt")`)
	for _, b := range []*browser{alice, bob} {
		b.waitJS(b.name+" sees 3 replies", `document.querySelector("#timeline .thread-summary")?.textContent.includes("3 replies")`)
	}

	// Alice, the room's owner, deletes it (confirmed): both see it deleted
	// and the root's count drops.
	alice.do(chromedp.Evaluate[chromedp.Void](threadReply("the notes") + `.querySelector('.msg-actions [data-action="delete"]').click()`))
	alice.waitJS("a confirmation opens", `document.querySelector("dialog.confirm[open] .btn-danger")`)
	alice.do(chromedp.Click(chromedp.CSS("dialog.confirm[open] .btn-danger")))
	for _, b := range []*browser{alice, bob} {
		b.waitJS(b.name+" sees the reply deleted", `[...document.querySelectorAll("#thread-panel .thread-list .msg.deleted")].some(m => m.textContent.includes("This message was deleted.") && !m.querySelector(".attachments, .msg-actions"))`)
		b.waitJS(b.name+" sees the count drop to 2", `document.querySelector("#timeline .thread-summary")?.textContent.includes("2 replies") && document.querySelector("#thread-panel .thread-count")?.textContent === "2 replies"`)
	}

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

	// A thread of 101 replies opens with the first 100; "Load more
	// replies" fetches the rest. (200 replies in another thread after
	// them keep them out of the events a page load catches up on.)
	alice.send("a long thread")
	alice.waitMessage("a long thread")
	alice.send("filler")
	alice.waitMessage("filler")
	if n := evalAwait[int](alice, `(async () => {
		const room = location.pathname.split("/")[2];
		const seq = (text) => Number([...document.querySelectorAll("#timeline .msg[data-seq]")].find(m => m.textContent.includes(text)).dataset.seq);
		const post = (root, id, text) => fetch("/api/v1/rooms/" + room + "/messages", {method: "POST", credentials: "same-origin", headers: {"Content-Type": "application/json"},
			body: JSON.stringify({client_msg_id: id, text, thread_root: root})}).then(res => res.ok ? 1 : 0);
		const long = seq("a long thread"), filler = seq("filler");
		let n = 0;
		for (let i = 1; i <= 101; i++) n += await post(long, "long-" + i, "long reply " + i);
		for (let i = 1; i <= 200; i++) n += await post(filler, "filler-" + i, "filler " + i);
		return n;
	})()`); n != 301 {
		t.Fatalf("posted %d of 301 replies", n)
	}
	bob.do(chromedp.Reload())
	longRoot := `[...document.querySelectorAll("#timeline .msg[data-seq]")].find(m => m.textContent.includes("a long thread"))?.querySelector(".thread-summary")`
	bob.waitJS("the long thread counts 101 replies", longRoot+`?.textContent.includes("101 replies")`)
	bob.do(chromedp.Evaluate[chromedp.Void](longRoot + `.click()`))
	replyRows := `document.querySelectorAll("#thread-panel .thread-list .msg[data-seq]").length`
	bob.waitJS("the panel shows the first 100 replies and a button for more", `(() => {
		const more = document.querySelector("#thread-panel .thread-more");
		return `+replyRows+` === 100 && more && !more.hidden && document.querySelector("#thread-panel .thread-count")?.textContent === "101 replies" && !document.querySelector("#thread-panel").textContent.includes("long reply 101");
	})()`)
	bob.do(chromedp.Evaluate[chromedp.Void](`document.querySelector("#thread-panel .thread-more").click()`))
	bob.waitJS("the last reply loads", replyRows+` === 101 && document.querySelector("#thread-panel").textContent.includes("long reply 101") && !document.querySelector("#thread-panel .thread-more:not([hidden])")`)
}

// threadReply is JavaScript for the reply row in the thread panel whose
// text includes text.
func threadReply(text string) string {
	return `[...document.querySelectorAll("#thread-panel .thread-list .msg[data-seq]")].find(m => m.textContent.includes(` + jsString(text) + `))`
}

// setFiles is JavaScript that sets files (built from bytes, base64) on the
// file input sel, as picking them in the file dialog does, and fires its
// change event.
func setFiles(sel string, files ...[3]string) string {
	return `(() => {
		const dt = new DataTransfer();
		for (const [name, type, b64] of ` + mustJSON(files) + `) {
			const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
			dt.items.add(new File([bytes], name, {type}));
		}
		const input = document.querySelector(` + jsString(sel) + `);
		input.files = dt.files;
		input.dispatchEvent(new Event("change", {bubbles: true}));
	})()`
}
