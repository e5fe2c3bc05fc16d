package web_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// press presses a key in the focused element without the "char" event
// that chromedp.KeyEvent adds (see pressEnter): keydown, then keyup.
func press(key, code string, vk int64, mods int64) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
			_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, input.DispatchKeyEventParams{
				Type: typ, Key: key, Code: code, WindowsVirtualKeyCode: vk, NativeVirtualKeyCode: vk, Modifiers: mods,
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

var (
	pressShiftTab = press("Tab", "Tab", 9, 8)
	pressUp       = press("ArrowUp", "ArrowUp", 38, 0)
	pressEscape   = press("Escape", "Escape", 27, 0)
	pressDelete   = press("Delete", "Delete", 46, 0)
	pressR        = press("r", "KeyR", 82, 0)
	pressPlus     = press("+", "Equal", 187, 8)
	pressQuestion = press("?", "Slash", 191, 8)
	pressCtrlK    = press("k", "KeyK", 75, 2)
)

// sendText types text into the composer as a paste would (new lines and
// all) and presses Enter.
func (b *browser) sendText(text string) {
	b.t.Helper()
	b.do(chromedp.Evaluate[chromedp.Void](`(() => { const e = document.querySelector("#composer-input");
		e.focus(); e.value = `+jsString(text)+`; e.dispatchEvent(new Event("input", {bubbles: true})); })()`), pressEnter)
}

// focusedText is JavaScript: the text of the focused message.
const focusedText = `document.activeElement?.matches(".msg[data-seq]") && document.activeElement.querySelector(".msg-text")?.textContent`

// TestRichTextAndKeyboard: bob sends markdown and a script payload; alice
// sees them formatted (the payload as text, running nothing: a dialog
// would fail the test), then replies, reacts and deletes with the keyboard
// only, follows a #room link and switches rooms with Ctrl+K.
func TestRichTextAndKeyboard(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	srv := startServer(t)
	alice := newBrowser(t, "alice")
	bob := newBrowser(t, "bob")
	alice.open(srv.URL)
	alice.signUp("alice", "correct horse")
	alice.createRoom("Random")
	code := alice.createRoom("Design")
	bob.open(srv.URL)
	bob.signUp("bob", "battery staple")
	bob.joinRoom(code, "Design")

	rich := "**bold** and `code` ||the butler|| [docs](https://example.com/docs) @alice, see #random\n" +
		"```go\nfunc main() {\n\tprintln(\"hi\")  // two spaces\n}\n```"
	payload := "<script>alert(1)</script> [x](javascript:alert(1))"
	bob.sendText(rich)
	bob.sendText(payload)
	alice.waitMessage(payload)

	// The formatting, on alice's side.
	msg := `[...document.querySelectorAll("#timeline .msg[data-seq]")].find(m => m.querySelector(".md-pre"))`
	alice.waitJS("the code block is highlighted", msg+`?.querySelector(".md-pre .hl-k")?.textContent === "func"`)
	got := eval[map[string]any](alice, `(() => { const m = `+msg+`, pre = m.querySelector(".md-pre");
		const a = m.querySelector(".msg-text a[href]:not(.room-ref)");
		return {bold: m.querySelector(".msg-text strong")?.textContent, code: m.querySelector(".md-code")?.textContent,
			pre: pre.textContent, ws: getComputedStyle(pre).whiteSpace, mono: getComputedStyle(pre).fontFamily.includes("monospace"),
			link: a?.textContent + " " + a?.getAttribute("href"), mention: m.classList.contains("mentions-me") && m.querySelector(".mention.me")?.textContent,
			room: m.querySelector("a.room-ref")?.textContent,
			spoilerHidden: getComputedStyle(m.querySelector(".spoiler-text")).color === "rgba(0, 0, 0, 0)",
			spoilerAria: m.querySelector(".spoiler").getAttribute("aria-label")}; })()`)
	want := map[string]any{"bold": "bold", "code": "code", "pre": "func main() {\n\tprintln(\"hi\")  // two spaces\n}", "ws": "pre-wrap", "mono": true,
		"link": "docs https://example.com/docs", "mention": "@alice", "room": "#random", "spoilerHidden": true, "spoilerAria": "Spoiler, press to reveal"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("the formatted message's %s = %#v, want %#v", k, got[k], v)
		}
	}
	// bob is not in Random: for him #random is text.
	bob.waitJS("bob sees #random as text", `[...document.querySelectorAll("#timeline .msg-text")].some(e => e.textContent.includes("see #random")) && !document.querySelector("#timeline a.room-ref")`)
	alice.do(chromedp.Click(chromedp.CSS("#timeline .spoiler")))
	alice.waitJS("a click reveals the spoiler", `document.querySelector("#timeline .spoiler.revealed .spoiler-text:not([aria-hidden])")`)
	saveScreenshot(t, "markdown.png", alice.screenshot())

	// The payload is text and ran nothing.
	bad := eval[map[string]any](alice, `(() => ({scripts: document.querySelectorAll("#timeline script").length,
		js: document.querySelectorAll('#timeline a[href^="javascript"]').length}))()`)
	if bad["scripts"] != float64(0) || bad["js"] != float64(0) {
		t.Errorf("the payload made elements: %v", bad)
	}

	// Keyboard only: Shift+Tab from the composer to the newest message,
	// ↑ to bob's formatted one, R replies.
	alice.do(chromedp.Focus(chromedp.ID("composer-input")), pressShiftTab)
	alice.waitJS("Shift+Tab lands on the newest message", focusedText+` === `+jsString(payload))
	alice.do(pressUp)
	alice.waitJS("↑ moves to the message before", focusedText+`?.startsWith("bold and code")`)
	if n := eval[int](alice, `document.querySelectorAll('#timeline .msg[data-seq][tabindex="0"]').length`); n != 1 {
		t.Errorf("%d messages are tab stops, want 1", n)
	}
	alice.do(pressR)
	alice.waitJS("R opens the reply bar and focuses the composer", `!document.querySelector(".reply-bar").hidden && document.activeElement?.id === "composer-input"`)
	if s := eval[string](alice, `document.querySelector(".reply-bar-snippet").textContent`); !strings.HasPrefix(s, " — bold and code (spoiler) docs @alice, see #random func main() {") {
		t.Errorf("the reply bar quotes %q, want the text without its markers", s)
	}
	alice.do(chromedp.SendKeys(chromedp.ID("composer-input"), "got it"), pressEnter)
	bob.waitJS("bob sees alice's reply to him", `[...document.querySelectorAll("#timeline .msg[data-seq]")].some(m =>
		m.querySelector(".msg-text")?.textContent === "got it" && m.querySelector(".reply-ref .reply-author")?.textContent === "@bob")`)

	// + reacts to the payload message (once alice's reply is confirmed: a
	// message still sending is not one of the timeline's stops).
	alice.waitMessage("got it")
	alice.do(chromedp.Focus(chromedp.ID("composer-input")), pressShiftTab, pressUp)
	alice.waitJS("↑ from alice's reply is the payload", focusedText+` === `+jsString(payload))
	alice.do(pressPlus)
	alice.waitJS("+ opens the picker with its first emoji focused", `document.activeElement?.matches(".picker .picker-emoji")`)
	alice.do(chromedp.KeyEvent(kb.Enter)) // a button takes Enter's keypress
	bob.waitJS("bob sees alice's reaction", `document.querySelector('#timeline .reaction[data-emoji="👍"] .reaction-count')?.textContent === "1"`)
	alice.waitJS("the focus is back on the message", focusedText+` === `+jsString(payload))

	// Delete deletes alice's own message after a confirmation.
	alice.do(pressEscape)
	alice.waitJS("Escape goes back to the composer", `document.activeElement?.id === "composer-input"`)
	alice.do(pressShiftTab)
	alice.waitJS("the newest is alice's reply", focusedText+` === "got it"`)
	alice.do(pressDelete)
	alice.waitJS("Delete asks first", `document.activeElement?.matches("dialog.confirm[open] .btn-danger")`)
	alice.do(chromedp.KeyEvent(kb.Enter))
	bob.waitJS("bob sees it deleted", `[...document.querySelectorAll("#timeline .msg.deleted")].some(e => e.textContent.includes("This message was deleted."))`)
	// Delete on someone else's message (alice is the room's owner, so she
	// may) asks too; Escape keeps it.
	alice.do(chromedp.Focus(chromedp.ID("composer-input")), pressShiftTab, pressUp)
	alice.waitJS("the payload is focused", focusedText+` === `+jsString(payload))
	alice.do(pressDelete)
	alice.waitJS("Delete asks first", `document.querySelector("dialog.confirm[open]")`)
	alice.do(pressEscape)
	alice.waitJS("Escape keeps the message and the focus", `!document.querySelector("dialog[open]") && `+focusedText+` === `+jsString(payload))

	// ? lists the shortcuts.
	alice.do(pressQuestion)
	alice.waitJS("? opens the shortcuts", `document.querySelector("dialog#shortcuts-dialog[open]")?.textContent.includes("Quick switcher")`)
	alice.do(pressEscape)
	alice.waitJS("Escape closes them", `!document.querySelector("dialog[open]")`)

	// #random opens Random; Ctrl+K goes back to Design.
	alice.do(chromedp.Click(chromedp.CSS("#timeline a.room-ref")))
	alice.waitJS("the #room link opens the room", `document.querySelector("#room-title")?.textContent === "Random"`)
	alice.do(pressCtrlK)
	alice.waitJS("Ctrl+K opens the switcher", `document.activeElement?.id === "switcher-input"`)
	if names := eval[[]string](alice, `[...document.querySelectorAll("#switcher-list .switcher-name")].map(e => e.textContent)`); !equalStrings(names, []string{"Design", "Random"}) {
		t.Errorf("the switcher lists %q, want [Design Random] (the open room last)", names)
	}
	alice.do(chromedp.SendKeys(chromedp.ID("switcher-input"), "dsg"))
	alice.waitJS("the fuzzy filter keeps Design", `[...document.querySelectorAll("#switcher-list .switcher-name")].map(e => e.textContent).join() === "Design"`)
	alice.do(pressEnter)
	alice.waitJS("Enter opens Design", `document.querySelector("#room-title")?.textContent === "Design" && !document.querySelector("dialog[open]")`)
	alice.do(pressCtrlK)
	alice.waitJS("Ctrl+K opens the switcher again", `document.activeElement?.id === "switcher-input"`)
	alice.do(press("ArrowDown", "ArrowDown", 40, 0), press("ArrowUp", "ArrowUp", 38, 0), press("ArrowDown", "ArrowDown", 40, 0))
	alice.waitJS("↓ selects the second", `document.querySelector("#switcher-list .switcher-item.active .switcher-name")?.textContent === "Design"`)
	alice.do(pressEscape)
	alice.waitJS("Escape closes the switcher, staying", `!document.querySelector("dialog[open]") && document.querySelector("#room-title")?.textContent === "Design"`)
	if n := eval[int](alice, `document.querySelectorAll("#timeline .msg .msg-actions button:not([aria-label])").length`); n != 0 {
		t.Errorf("%d message actions have no accessible name", n)
	}
}
