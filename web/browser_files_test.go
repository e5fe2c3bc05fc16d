package web_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// testPNG is a w×h PNG: a gradient, so that it is not one flat colour.
func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{R: uint8(255 * x / w), G: uint8(120 + 100*y/h), B: 200, A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// dropFiles is JavaScript that drops files on the element sel the way a
// drag from the desktop does: dragenter, dragover and drop events carrying
// a DataTransfer that holds the files, built from bytes (base64).
func dropFiles(sel string, files ...[3]string) string {
	js := `(() => {
		const dt = new DataTransfer();
		for (const [name, type, b64] of ` + mustJSON(files) + `) {
			const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
			dt.items.add(new File([bytes], name, {type}));
		}
		const el = document.querySelector(` + jsString(sel) + `);
		const r = el.getBoundingClientRect();
		const at = {bubbles: true, cancelable: true, dataTransfer: dt, clientX: r.left + r.width / 2, clientY: r.top + r.height / 2};
		el.dispatchEvent(new DragEvent("dragenter", at));
		el.dispatchEvent(new DragEvent("dragover", at));
		return !el.dispatchEvent(new DragEvent("drop", at)); // true: the page took the drop
	})()`
	return js
}

func mustJSON(v any) string {
	j, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(j)
}

// TestFilesInBrowsers: alice drops an image on the timeline and sends it
// with a caption; bob sees its thumbnail, in a box of the image's aspect
// ratio reserved before it loaded, opens it in the viewer (focus inside,
// Escape closes it and gives focus back), and a plain file shows as a
// card with a download link. Alice's edit takes an attachment off, and
// bob's view follows.
func TestFilesInBrowsers(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	srv := startServer(t)
	alice := newBrowser(t, "alice")
	bob := newBrowser(t, "bob")
	alice.open(srv.URL)
	alice.signUp("alice", "correct horse")
	code := alice.createRoom("Photos")
	bob.open(srv.URL)
	bob.signUp("bob", "battery staple")
	bob.joinRoom(code, "Photos")
	alice.waitJS("alice sees that bob joined", `[...document.querySelectorAll("#timeline .sys")].some(e => e.textContent.includes("bob joined the room"))`)

	pic := base64.StdEncoding.EncodeToString(testPNG(t, 640, 360))
	notes := base64.StdEncoding.EncodeToString([]byte("minutes of the meeting\n"))

	// A file dropped by mistake is taken off before sending.
	if !eval[bool](alice, dropFiles("#composer-input", [3]string{"wrong.txt", "text/plain", notes})) {
		alice.fatalf("the composer did not take the drop")
	}
	alice.waitJS("the upload finishes", `document.querySelector('#upload-tray .upload[data-state="done"]')`)
	alice.do(chromedp.Click(chromedp.CSS(`#upload-tray button[aria-label="Remove wrong.txt"]`)))
	alice.waitJS("the tray is empty again", `document.querySelector("#upload-tray").hidden && !document.querySelector("#upload-tray .upload")`)

	if !eval[bool](alice, dropFiles("#timeline", [3]string{"sunset.png", "image/png", pic}, [3]string{"notes.txt", "text/plain", notes})) {
		alice.fatalf("the timeline did not take the drop")
	}
	alice.waitJS("both uploads finish", `(() => {
		const ups = [...document.querySelectorAll("#upload-tray .upload")];
		return ups.length === 2 && ups.every((u) => u.dataset.state === "done");
	})()`)
	alice.send("the view from the hill")
	alice.waitJS("the tray empties once sent", `document.querySelector("#upload-tray").hidden`)

	// A pasted image, sent without a caption.
	square := base64.StdEncoding.EncodeToString(testPNG(t, 300, 300))
	alice.do(chromedp.Evaluate[chromedp.Void](`(() => {
		const dt = new DataTransfer();
		dt.items.add(new File([Uint8Array.from(atob(` + jsString(square) + `), (c) => c.charCodeAt(0))], "square.png", {type: "image/png"}));
		const el = document.querySelector("#composer-input");
		el.focus();
		el.dispatchEvent(new ClipboardEvent("paste", {clipboardData: dt, bubbles: true, cancelable: true}));
	})()`))
	alice.waitJS("the pasted image uploads", `document.querySelector('#upload-tray .upload[data-state="done"]')?.textContent.includes("square.png")`)
	alice.do(chromedp.Focus(chromedp.ID("composer-input")), pressEnter)
	alice.waitJS("the tray empties once the pasted image is sent", `document.querySelector("#upload-tray").hidden`)

	// Bob sees the caption, the thumbnail and the file card.
	bob.waitMessage("the view from the hill")
	bob.waitJS("bob's thumbnails load", `(() => {
		const imgs = [...document.querySelectorAll("#timeline .msg[data-seq] .att-image img")];
		return imgs.length === 2 && imgs.every((img) => img.complete && img.naturalWidth > 0);
	})()`)
	box := eval[map[string]float64](bob, `(() => {
		const img = document.querySelector("#timeline .att-image img");
		const r = img.getBoundingClientRect();
		return {w: r.width, h: r.height, aw: img.width, ah: img.height, nw: img.naturalWidth, nh: img.naturalHeight};
	})()`)
	if box["w"] < 100 || box["h"] < 50 || abs(box["w"]/box["h"]-640.0/360) > 0.02 {
		t.Errorf("the thumbnail shows %v×%v, want the image's 16:9 aspect ratio (%v)", box["w"], box["h"], box)
	}
	if box["aw"] == 0 || box["ah"] == 0 {
		t.Errorf("the thumbnail has no width and height attributes, so its box is not reserved before it loads: %v", box)
	}
	bob.waitJS("the file shows as a card with a download link", `(() => {
		const a = document.querySelector("#timeline .att-file a.att-file-name");
		return a && a.textContent === "notes.txt" && a.hasAttribute("download") && /^\/api\/v1\/attachments\/[^/]+\/notes\.txt$/.test(a.getAttribute("href"))
			&& document.querySelector("#timeline .att-file .att-file-meta").textContent.includes("23 B");
	})()`)

	// The viewer: opens on a click, keeps focus inside, Escape closes it.
	bob.do(chromedp.Click(chromedp.CSS("#timeline .att-image")))
	bob.waitJS("the viewer opens with the image", `(() => {
		const v = document.querySelector("dialog#viewer[open]");
		const img = v && v.querySelector(".viewer-img");
		return img && img.complete && img.naturalWidth === 640 && v.contains(document.activeElement)
			&& v.querySelector(".viewer-title").textContent === "sunset.png";
	})()`)
	saveScreenshot(t, "viewer.png", bob.screenshot())
	bob.do(chromedp.KeyEvent(kb.ArrowRight))
	bob.waitJS("→ shows the next image of the room", `document.querySelector("#viewer .viewer-title").textContent === "square.png" && document.querySelector("#viewer .viewer-count").textContent === "2 of 2"`)
	bob.do(chromedp.KeyEvent(kb.ArrowLeft))
	bob.waitJS("← goes back", `document.querySelector("#viewer .viewer-title").textContent === "sunset.png"`)
	for range 4 {
		bob.do(chromedp.KeyEvent(kb.Tab))
		if !eval[bool](bob, `document.querySelector("dialog#viewer").contains(document.activeElement)`) {
			bob.fatalf("Tab moved the focus out of the viewer, to %s", eval[string](bob, `document.activeElement.outerHTML.slice(0, 120)`))
		}
	}
	bob.do(chromedp.KeyEvent(kb.Escape))
	bob.waitJS("Escape closes the viewer and focus goes back to the image", `!document.querySelector("dialog#viewer") && document.activeElement?.classList.contains("att-image")`)
	// Clicking the image scrolled the timeline to it: back to the bottom.
	bob.do(chromedp.Evaluate[chromedp.Void](`document.querySelector(".jump-present").hidden || document.querySelector(".jump-present").click()`))
	bob.waitJS("the timeline is at the bottom", `(() => {
		const t = document.querySelector("#timeline");
		return document.querySelector(".jump-present").hidden && t.scrollHeight - t.scrollTop - t.clientHeight < 2;
	})()`)
	saveScreenshot(t, "files.png", bob.screenshot())

	// Alice edits the message and takes the text file off.
	const captioned = `[...document.querySelectorAll("#timeline .msg[data-seq]")].find((m) => m.querySelector(".msg-text")?.textContent.startsWith("the view from the hill"))`
	alice.waitJS("alice's message shows its attachments", captioned+`?.querySelectorAll(".attachments > *").length === 2`)
	alice.do(chromedp.Evaluate[chromedp.Void](captioned + `.querySelector('[data-action="edit"]').click()`))
	alice.waitJS("the editor lists the attachments", `document.querySelectorAll(".msg-editor .edit-attachment").length === 2`)
	alice.do(chromedp.Click(chromedp.CSS(`.msg-editor button[aria-label="Remove notes.txt"]`)))
	alice.waitJS("one attachment is left in the editor", `document.querySelectorAll(".msg-editor .edit-attachment").length === 1`)
	alice.do(chromedp.Focus(chromedp.CSS(".msg-edit-input")), pressEnter)
	bob.waitJS("bob sees the file gone and the image still there", `!document.querySelector("#timeline .att-file") && document.querySelectorAll("#timeline .att-image img").length === 2`)

	// A reload shows the attachments from the history.
	bob.do(chromedp.Reload())
	bob.waitJS("the thumbnail loads from the history", `(() => {
		const img = document.querySelector("#timeline .msg[data-seq] .att-image img");
		return img && img.complete && img.naturalWidth > 0;
	})()`)
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// TestSearchAndJump: a message far back in the history is found by
// search (its word highlighted in a <mark>), and a click on the result
// loads the messages around it: it is highlighted and on screen; scrolling
// down loads newer messages until the timeline is live again. A bad
// filter shows the server's message.
func TestSearchAndJump(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	srv := startServer(t)
	const n = 320
	const needle = 20
	token := srv.api(t, "", "POST", "/auth/signup", map[string]string{"username": "carol", "password": "correct horse"})["token"].(string)
	room := srv.api(t, token, "POST", "/rooms", map[string]string{"name": "Archive"})["room"].(map[string]any)
	roomID := room["id"].(string)
	for i := 1; i <= n; i++ {
		text := fmt.Sprintf("message %d", i)
		if i == needle {
			text = "the Haystack meeting moved to Thursday"
		}
		srv.api(t, token, "POST", "/rooms/"+roomID+"/messages", map[string]any{"client_msg_id": fmt.Sprintf("seed-%d", i), "text": text})
	}

	carol := newBrowser(t, "carol")
	carol.open(srv.URL)
	carol.waitJS("the sign-in form shows", `document.querySelector("#auth-form")`)
	carol.fillAuth("carol", "correct horse")
	carol.waitJS("the room list shows the room", `document.querySelector("#room-list .room-link")`)
	carol.do(chromedp.Click(chromedp.CSS("#room-list .room-link")))
	carol.waitMessage(fmt.Sprintf("message %d", n))
	if eval[bool](carol, `[...document.querySelectorAll("#timeline .msg-text")].some(e => e.textContent.includes("Haystack"))`) {
		t.Fatal("the old message is loaded already; the test needs more messages than the first load covers")
	}

	// Ctrl+F opens the search panel with the focus in its box.
	carol.do(chromedp.KeyEvent("f", chromedp.KeyModifiers(kb.ModifierCtrl)))
	carol.waitJS("Ctrl+F opens the search box", `!document.querySelector("#search-panel").hidden && document.activeElement?.id === "search-input"`)
	carol.do(chromedp.SendKeys(chromedp.ID("search-input"), "nosuchfilter:x"+kb.Enter))
	carol.waitJS("a bad filter shows the server's message", `document.querySelector("#search-status .search-error")?.textContent.length > 0`)
	carol.clear("#search-input")
	carol.do(chromedp.SendKeys(chromedp.ID("search-input"), "hay thurs"+kb.Enter))
	carol.waitJS("the result shows with its words highlighted", `(() => {
		const r = document.querySelectorAll("#search-results .search-result");
		if (r.length !== 1) return false;
		const marks = [...r[0].querySelectorAll(".search-text mark")].map((m) => m.textContent);
		return marks.join(",") === "Hay,Thurs" && r[0].querySelector(".search-room").textContent === "#Archive";
	})()`)
	// "This room only" sends room_id: the result is still there.
	carol.do(chromedp.Click(chromedp.ID("search-room-only")))
	carol.waitJS("the room-only search finds it too", `document.querySelectorAll("#search-results .search-result").length === 1 && document.querySelector("#search-status").textContent === "1 result"`)
	saveScreenshot(t, "search.png", carol.screenshot())

	carol.do(chromedp.Click(chromedp.CSS("#search-results .search-result")))
	carol.waitJS("the message is highlighted and on screen", `(() => {
		const m = document.querySelector("#timeline .msg.highlight");
		if (!m || !m.textContent.includes("Haystack meeting")) return false;
		const r = m.getBoundingClientRect(), tl = document.querySelector("#timeline").getBoundingClientRect();
		return r.top >= tl.top && r.bottom <= tl.bottom && document.querySelector("#search-panel").hidden;
	})()`)
	if !eval[bool](carol, `[...document.querySelectorAll("#timeline .msg-text")].some(e => e.textContent === "message 19")`) {
		t.Errorf("the messages before the result are not shown around it")
	}

	// Scrolling down loads newer messages until the timeline is live.
	deadline := time.Now().Add(waitTimeout)
	for !eval[bool](carol, `document.querySelector(".jump-present").hidden && [...document.querySelectorAll("#timeline .msg-text")].some(e => e.textContent === "message `+fmt.Sprint(n)+`")`) {
		if time.Now().After(deadline) {
			carol.fatalf("scrolling down never came back to the present")
		}
		carol.do(chromedp.Evaluate[chromedp.Void](`(() => { const t = document.querySelector("#timeline"); t.scrollTop = t.scrollHeight; })()`))
		time.Sleep(100 * time.Millisecond)
	}
	got := carol.messages()
	// Every message from the result to the newest shows once, in order.
	start := -1
	for i, s := range got {
		if s == "the Haystack meeting moved to Thursday" {
			start = i
		}
	}
	if start < 0 {
		t.Fatalf("the result left the timeline")
	}
	for i, s := range got[start+1:] {
		if want := fmt.Sprintf("message %d", needle+1+i); s != want {
			t.Fatalf("after the result, message %d is %q, want %q", i, s, want)
		}
	}
	if len(got[start+1:]) != n-needle {
		t.Errorf("after the result %d messages show, want %d", len(got[start+1:]), n-needle)
	}

	// A message sent now goes to the present.
	carol.send("back to now")
	carol.waitMessage("back to now")

	// On a phone the header's search button opens the panel full screen,
	// and a result still jumps to its message.
	carol.do(chromedp.EmulateViewport(390, 844))
	// (Once the drawers have slid off screen.)
	carol.waitJS("the header shows the search button at 390 px", `(() => {
		const b = document.querySelector("#search-open");
		const r = b.getBoundingClientRect();
		return r.width > 0 && r.right <= innerWidth && b.getAttribute("aria-label") === "Search messages"
			&& b.contains(document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2));
	})()`)
	carol.do(chromedp.Click(chromedp.ID("search-open")))
	carol.waitJS("the panel fills the screen", `(() => {
		const p = document.querySelector("#search-panel");
		const r = p.getBoundingClientRect();
		return !p.hidden && r.left === 0 && Math.abs(r.right - innerWidth) < 1 && r.top === 0 && Math.abs(r.bottom - innerHeight) < 1
			&& document.documentElement.scrollWidth <= innerWidth && document.querySelectorAll("#search-results .search-result").length === 1;
	})()`)
	carol.do(chromedp.Click(chromedp.CSS("#search-results .search-result")))
	carol.waitJS("at 390 px the message is highlighted and on screen", `(() => {
		const m = document.querySelector("#timeline .msg.highlight");
		if (!m || !m.textContent.includes("Haystack meeting")) return false;
		const r = m.getBoundingClientRect(), tl = document.querySelector("#timeline").getBoundingClientRect();
		return r.top >= tl.top && r.bottom <= tl.bottom && document.querySelector("#search-panel").hidden;
	})()`)
}
