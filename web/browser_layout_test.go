package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// within is JavaScript that is true when the element sel ends inside the
// box of the element box, and is cut with an ellipsis (its text is wider
// than what shows).
func within(sel, box string) string {
	return `(() => {
		const el = document.querySelector(` + jsString(sel) + `), box = document.querySelector(` + jsString(box) + `);
		if (!el || !box) return false;
		const r = el.getBoundingClientRect(), b = box.getBoundingClientRect();
		return r.right <= b.right + 0.5 && el.scrollWidth > el.clientWidth && getComputedStyle(el).textOverflow === "ellipsis";
	})()`
}

// TestLongNamesTruncate shows the longest room name and username the
// server takes, in wide letters: each is cut with an ellipsis inside the
// sidebar and the member list, and neither scrolls sideways.
func TestLongNamesTruncate(t *testing.T) {
	s := startServer(t)
	b := newBrowser(t, "w")
	username := strings.Repeat("W", 32) // the longest username
	room := strings.Repeat("W", 100)    // the longest room name
	b.open(s.URL)
	b.signUp(username, "correct horse battery")
	b.createRoom(room)
	b.waitJS("the room shows in the sidebar", `document.querySelector(".room-link.active .room-name")?.textContent === `+jsString(room))
	b.waitJS("the member list shows the user", `document.querySelector(".member-name-text")?.textContent === `+jsString(username))
	for _, c := range []struct{ what, sel, box string }{
		{"the room name in the sidebar", ".room-link.active .room-name", ".sidebar"},
		{"the username in the sidebar", ".me-name", ".sidebar"},
		{"the username in the member list", ".member-name-text", ".members"},
	} {
		if !eval[bool](b, within(c.sel, c.box)) {
			b.fatalf("%s is not cut with an ellipsis inside %s: %v", c.what, c.box, eval[any](b, `(() => {
				const el = document.querySelector(`+jsString(c.sel)+`), box = document.querySelector(`+jsString(c.box)+`);
				return {right: el.getBoundingClientRect().right, boxRight: box.getBoundingClientRect().right, scroll: el.scrollWidth, client: el.clientWidth};
			})()`))
		}
	}
	for _, sel := range []string{".sb-scroll", ".member-groups"} {
		if eval[bool](b, `(() => { const e = document.querySelector(`+jsString(sel)+`); return e.scrollWidth > e.clientWidth; })()`) {
			b.fatalf("%s scrolls sideways", sel)
		}
	}
}

// TestUserTextIsIsolated checks that user text cannot reorder the text
// around it. The server refuses bidirectional controls in room names (and
// usernames are ASCII), so the override goes through a message, which may
// carry one: a U+202E in an edited message must not reverse the
// "(edited)" marker after it. Room names may hold right-to-left letters:
// one followed by digits and punctuation ("שלום 42!") must leave the
// welcome line "This is the start of the #… room." in its order, the name
// in a bidi isolate.
func TestUserTextIsIsolated(t *testing.T) {
	s := startServer(t)
	b := newBrowser(t, "alice")
	b.open(s.URL)
	b.signUp("alice", "correct horse battery")
	b.createRoom("bidi")
	b.send("hello")
	b.waitMessage("hello")
	b.do(chromedp.Focus(chromedp.ID("composer-input")), chromedp.KeyEvent(kb.ArrowUp))
	b.waitJS("the editor opens", `document.querySelector(".msg-edit-input")`)
	b.do(chromedp.Evaluate[chromedp.Void](`(() => {
		const el = document.querySelector(".msg-edit-input");
		el.value = "abc \u202Edef";
		el.dispatchEvent(new Event("input", {bubbles: true}));
		el.focus();
	})()`), pressEnter)
	b.waitMessage("abc \u202edef (edited)")
	// In visual order "(" comes before ")" only if the override ended with
	// the message's own text.
	order := eval[[]float64](b, `(() => {
		const t = document.querySelector("#timeline .msg[data-seq] .msg-edited").firstChild;
		const at = (i) => { const r = document.createRange(); r.setStart(t, i); r.setEnd(t, i + 1); return r.getBoundingClientRect().left; };
		return [at(t.data.indexOf("(")), at(t.data.indexOf(")"))];
	})()`)
	if order[0] >= order[1] {
		b.fatalf("the override in the message reversed the \"(edited)\" after it: '(' at %v, ')' at %v", order[0], order[1])
	}

	name := "שלום 42!"
	b.createRoom(name)
	b.waitJS("the welcome line shows", `document.querySelector(".tl-start p strong bdi")?.textContent === `+jsString(name))
	// The three parts of the line lie left to right: the text before, the
	// name, the text after.
	got := eval[map[string]any](b, `(() => {
		const p = document.querySelector(".tl-start p"), name = p.querySelector("strong");
		const box = (n) => { const r = document.createRange(); r.selectNodeContents(n); return r.getBoundingClientRect(); };
		const before = box(p.firstChild), mid = box(name), after = box(p.lastChild);
		return {ordered: before.right <= mid.left + 0.5 && mid.right <= after.left + 0.5,
			isolated: getComputedStyle(name.querySelector("bdi")).unicodeBidi === "isolate",
			text: p.textContent};
	})()`)
	if got["ordered"] != true || got["isolated"] != true {
		b.fatalf("the welcome line with a right-to-left name: %v", got)
	}
}
