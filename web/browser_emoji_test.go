package web_test

import (
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// emojiImageShows is a script that is true when the message or reaction
// matched by sel has an emoji image for emoji that has loaded.
func emojiImageShows(sel, emoji string) string {
	return `[...document.querySelectorAll(` + jsString(sel) + `)].some(img => img.alt === ` + jsString(emoji) + `
		&& /^\/emoji\/[0-9a-f]{10}\/[0-9a-f-]+\.svg$/.test(new URL(img.src).pathname) && img.complete && img.naturalWidth > 0)`
}

// msgTexts is a script for the timeline's message texts with each emoji
// image read as its alt, as a user copying the text would get it.
const msgTexts = `[...document.querySelectorAll("#timeline .msg[data-seq] .msg-text")].map(e => {
	const c = e.cloneNode(true); c.querySelectorAll("img.emoji").forEach(i => i.replaceWith(i.alt)); return c.textContent; })`

// TestEmojiInBrowsers covers the emoji of two users: the composer's
// picker (search, keyboard, insert at the cursor), a message shown with
// Twemoji images on the other side, a reaction picked from the whole set
// with a skin tone, "Recently used", :shortcode: completion and
// conversion, and the picker closing on Escape.
func TestEmojiInBrowsers(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	srv := startServer(t)
	alice := newBrowser(t, "alice")
	bob := newBrowser(t, "bob")

	alice.open(srv.URL)
	alice.signUp("alice", "correct horse")
	code := alice.createRoom("Launch")
	bob.open(srv.URL)
	bob.signUp("bob", "battery staple")
	bob.joinRoom(code, "Launch")

	// Alice types, opens the picker, searches and picks with the keyboard.
	alice.do(chromedp.Focus(chromedp.ID("composer-input")), chromedp.SendKeys(chromedp.ID("composer-input"), "we have liftoff "))
	alice.do(chromedp.Click(chromedp.ID("composer-emoji")))
	alice.waitJS("the emoji picker opens with its groups", `document.querySelectorAll("#emoji-picker .ep-tab").length >= 9 &&
		document.querySelectorAll("#emoji-picker .ep-emoji").length > 50`)
	if credit := eval[string](alice, `document.querySelector("#emoji-picker .ep-credit").textContent`); credit != "Twemoji, CC-BY 4.0" {
		t.Errorf("the picker's credit line = %q, want the Twemoji attribution", credit)
	}
	alice.waitJS("the search has the focus", `document.activeElement?.classList.contains("ep-search")`)
	alice.do(chromedp.SendKeys(chromedp.CSS("#emoji-picker .ep-search"), "rocket"))
	alice.waitJS("the search finds the rocket first", `document.querySelector("#emoji-picker .ep-emoji")?.dataset.emoji === "🚀"`)
	if name := eval[string](alice, `document.querySelector("#emoji-picker .ep-emoji").getAttribute("aria-label")`); name != "rocket" {
		t.Errorf("the rocket's button is named %q, want \"rocket\"", name)
	}
	alice.do(chromedp.KeyEvent(kb.ArrowDown))
	alice.waitJS("↓ moves into the grid", `document.activeElement?.dataset.emoji === "🚀"`)
	alice.do(pressEnter)
	alice.waitJS("Enter inserts the emoji at the cursor and closes the picker",
		`!document.querySelector("#emoji-picker") && document.querySelector("#composer-input").value === "we have liftoff 🚀"`)
	alice.waitJS("the composer has the focus again", `document.activeElement?.id === "composer-input"`)
	alice.do(pressEnter)

	bob.waitJS("bob sees the rocket as an image", emojiImageShows("#timeline .msg[data-seq] .msg-text img.emoji", "🚀"))
	if got := eval[[]string](bob, msgTexts); last(got) != "we have liftoff 🚀" {
		t.Errorf("bob's last message reads %q, want the text with the emoji as its alt", last(got))
	}
	bob.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('#timeline .msg-text img.emoji[alt="🚀"]').dispatchEvent(new MouseEvent("mouseover", {bubbles: true}))`))
	bob.waitJS("the emoji's tooltip is its shortcode", `document.querySelector('#timeline .msg-text img.emoji[alt="🚀"]').title === ":rocket:"`)

	// Bob reacts from the whole set: "More emoji…", a skin tone, a search.
	bob.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('#timeline .msg[data-seq]:last-of-type [data-action="picker"]').click()`))
	bob.waitJS("the quick reactions show as images", `document.querySelectorAll(".picker .picker-emoji img.emoji").length === 10`)
	bob.do(chromedp.Click(chromedp.CSS(".picker .picker-more")))
	bob.waitJS("the emoji picker opens for a reaction", `document.querySelector('#emoji-picker[aria-label="Pick a reaction"] .ep-emoji')`)
	bob.do(chromedp.SetValue(chromedp.CSS("#emoji-picker .ep-skin"), "3"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#emoji-picker .ep-skin").dispatchEvent(new Event("change"))`))
	bob.do(chromedp.SendKeys(chromedp.CSS("#emoji-picker .ep-search"), "waving"))
	bob.waitJS("the search shows the waving hand in the medium skin tone", `document.querySelector("#emoji-picker .ep-emoji")?.dataset.emoji === "👋🏽"`)
	bob.do(chromedp.Click(chromedp.CSS("#emoji-picker .ep-emoji")))
	bob.waitJS("the picker closes", `!document.querySelector("#emoji-picker")`)
	alice.waitJS("alice sees bob's reaction as an image", emojiImageShows(`#timeline .reaction[data-emoji="👋🏽"] img.emoji`, "👋🏽"))
	if n := eval[string](alice, `document.querySelector('#timeline .reaction[data-emoji="👋🏽"] .reaction-count').textContent`); n != "1" {
		t.Errorf("the reaction's count = %q, want 1", n)
	}

	// The next picker opens on "Recently used", with the reaction in it.
	bob.do(chromedp.Click(chromedp.ID("composer-emoji")))
	bob.waitJS("the picker opens on the recent emoji", `document.querySelector('#emoji-picker .ep-tab[aria-selected="true"]')?.getAttribute("aria-label") === "Recently used" &&
		document.querySelector("#emoji-picker .ep-emoji")?.dataset.emoji === "👋🏽"`)
	bob.waitJS("the search has the focus", `document.activeElement?.classList.contains("ep-search")`)
	bob.do(chromedp.Click(chromedp.CSS(`#emoji-picker .ep-tab[data-tab="0"]`)))
	bob.waitJS("the first group shows, its images loaded", `document.querySelector("#emoji-picker .ep-heading").textContent === "Smileys & emotion" &&
		[...document.querySelectorAll("#emoji-picker .ep-emoji img")].slice(0, 40).every(i => i.complete && i.naturalWidth > 0)`)
	saveScreenshot(t, "emoji-picker.png", bob.screenshot())
	bob.do(chromedp.Focus(chromedp.CSS("#emoji-picker .ep-search")))
	bob.do(chromedp.KeyEvent(kb.Escape))
	bob.waitJS("Escape closes the picker and gives the focus back", `!document.querySelector("#emoji-picker") && document.activeElement?.id === "composer-emoji"`)

	// Shortcode completion: ":tad" suggests 🎉, Tab picks it; a complete
	// ":+1:" becomes 👍 as it is typed.
	alice.do(chromedp.Focus(chromedp.ID("composer-input")), chromedp.SendKeys(chromedp.ID("composer-input"), ":tad"))
	alice.waitJS("the completion suggests the party popper", `!document.querySelector("#mention-suggestions").hidden &&
		document.querySelector('#mention-suggestions .suggestion.active')?.dataset.emoji === "🎉"`)
	alice.do(chromedp.KeyEvent(kb.Tab))
	alice.waitJS("Tab picks it", `document.querySelector("#composer-input").value === "🎉" && document.querySelector("#mention-suggestions").hidden`)
	alice.do(chromedp.SendKeys(chromedp.ID("composer-input"), " great :+1:"))
	alice.waitJS("a complete shortcode becomes its emoji", `document.querySelector("#composer-input").value === "🎉 great 👍"`)
	alice.do(chromedp.SendKeys(chromedp.ID("composer-input"), " :smi"))
	alice.waitJS("the completion shows again", `!document.querySelector("#mention-suggestions").hidden`)
	alice.do(chromedp.KeyEvent(kb.Escape))
	alice.waitJS("Escape closes the completion and keeps the text", `document.querySelector("#mention-suggestions").hidden &&
		document.querySelector("#composer-input").value === "🎉 great 👍 :smi"`)
	alice.clear("#composer-input")
	// A shortcode that was not typed (pasted) is converted on send.
	alice.do(chromedp.Evaluate[chromedp.Void](`document.querySelector("#composer-input").value = "🎉 great 👍 :white_check_mark:"`), pressEnter)
	bob.waitJS("bob sees the converted message", `(`+msgTexts+`).includes("🎉 great 👍 ✅")`)
	bob.waitJS("each emoji is an image", emojiImageShows("#timeline .msg-text img.emoji", "✅")+" && "+emojiImageShows("#timeline .msg-text img.emoji", "🎉"))

	// A message of emoji only shows them large; an emoji the set lacks stays text.
	alice.send("🎉🎉")
	bob.waitJS("an emoji-only message is jumbo", `[...document.querySelectorAll("#timeline .msg-text.jumbo img.emoji")].length === 2`)
	bob.waitJS("every emoji image has loaded", `[...document.querySelectorAll("#timeline img.emoji")].every(i => i.complete && i.naturalWidth > 0)`)
	saveScreenshot(t, "emoji.png", bob.screenshot())
}
