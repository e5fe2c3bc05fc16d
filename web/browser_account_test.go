package web_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestAccountSettings signs one account in on two browser profiles: a
// display name and an avatar set in the account settings of one show in
// the other, live; a wrong current password is refused under its field;
// changing the password signs the other profile out (back on the sign-in
// page) and keeps this one, and the new password signs in.
func TestAccountSettings(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	srv := startServer(t)
	laptop := newBrowser(t, "laptop")
	phone := newBrowser(t, "phone")

	laptop.open(srv.URL)
	laptop.signUp("alice", "correct horse")
	phone.open(srv.URL)
	phone.waitJS("the sign-in form shows", `document.querySelector("#auth-form")`)
	phone.fillAuth("alice", "correct horse")
	phone.waitJS("the app shows after sign-in", `document.querySelector(".me-name")?.textContent === "alice"`)

	laptop.do(chromedp.Click(chromedp.ID("open-account")))
	laptop.waitJS("the account settings open", `document.querySelector("#account-dialog[open] #account-display-name")`)

	// The display name, seen live in the other profile.
	laptop.do(chromedp.SendKeys(chromedp.ID("account-display-name"), "Alice ☕"), chromedp.Click(chromedp.ID("account-save-name")))
	laptop.waitJS("the name shows here", `document.querySelector(".me-name")?.textContent === "Alice ☕"`)
	phone.waitJS("the name shows in the other profile", `document.querySelector(".me-name")?.textContent === "Alice ☕"`)

	// The avatar.
	img := image.NewNRGBA(image.Rect(0, 0, 600, 400))
	for y := range 400 {
		for x := range 600 {
			img.SetNRGBA(x, y, color.NRGBA{R: uint8(x / 3), G: 80, B: uint8(y / 2), A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "me.png")
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	laptop.do(chromedp.SetUploadFiles(chromedp.ID("account-avatar-file"), []string{file}))
	laptop.waitJS("the upload ends", `document.querySelector(".me-avatar img.avatar-img") || document.querySelector("#account-avatar-error").textContent`)
	if msg := eval[string](laptop, `document.querySelector("#account-avatar-error").textContent`); msg != "" {
		t.Fatalf("avatar upload: %s", msg)
	}
	laptop.waitJS("the avatar shows here", `(() => { const i = document.querySelector(".me-avatar img.avatar-img"); return i && i.complete && i.naturalWidth === 256; })()`)
	phone.waitJS("the avatar shows in the other profile", `document.querySelector(".me-avatar img.avatar-img")`)
	saveScreenshot(t, "account.png", laptop.screenshot())

	// A wrong current password, then the change.
	laptop.do(
		chromedp.SendKeys(chromedp.ID("account-old-password"), "wrong horse"),
		chromedp.SendKeys(chromedp.ID("account-new-password"), "staple tuna violin"),
		chromedp.SendKeys(chromedp.ID("account-confirm-password"), "staple tuna violin"),
		chromedp.Click(chromedp.ID("account-change-password")))
	laptop.waitJS("the wrong password is named", `document.querySelector("#account-old-password-error")?.textContent === "The current password is wrong."`)
	laptop.clear("#account-old-password")
	laptop.do(chromedp.SendKeys(chromedp.ID("account-old-password"), "correct horse"), chromedp.Click(chromedp.ID("account-change-password")))
	phone.waitJS("the other profile is signed out", `document.querySelector("#auth-form") && !document.querySelector(".me-name")`)
	laptop.waitJS("the fields are cleared", `document.querySelector("#account-old-password").value === "" && !document.querySelector("#account-old-password-error").textContent`)
	if eval[bool](laptop, `!document.querySelector(".me-name")`) {
		t.Fatal("changing the password signed this profile out too")
	}
	phone.fillAuth("alice", "correct horse")
	phone.waitJS("the old password is refused", `document.querySelector("#auth-form") && /wrong/i.test(document.querySelector("#auth-form").textContent)`)
	phone.fillAuth("alice", "staple tuna violin")
	phone.waitJS("the new password signs in", `document.querySelector(".me-name")?.textContent === "Alice ☕"`)
}
