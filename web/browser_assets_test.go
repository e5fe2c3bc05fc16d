package web_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// transfers adds up what a browser receives over the network for the
// client's files (not the API, whose answers depend on the data): the
// encodedDataLength of every finished request, headers included, as
// Chromium reports it. A file taken from the cache counts 0.
type transfers struct {
	mu    sync.Mutex
	urls  map[network.RequestID]string
	bytes map[string]float64 // URL -> bytes
}

func recordTransfers(b *browser) *transfers {
	b.t.Helper()
	tr := &transfers{urls: map[network.RequestID]string{}, bytes: map[string]float64{}}
	err := chromedp.Listen(b.ctx, func(ev any) {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			tr.urls[ev.RequestID] = ev.Request.URL
		case *network.EventLoadingFinished:
			if u, ok := tr.urls[ev.RequestID]; ok && !strings.Contains(u, "/api/") {
				tr.bytes[u] += ev.EncodedDataLength
			}
		}
	})
	if err != nil {
		b.t.Fatalf("listen to the network events: %v", err)
	}
	return tr
}

// take returns the total so far and what made it up, and starts again.
func (tr *transfers) take() (float64, map[string]float64) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	total := 0.0
	for _, n := range tr.bytes {
		total += n
	}
	got := tr.bytes
	tr.bytes = map[string]float64{}
	return total, got
}

// notLoaded fails the test if one of the URLs of files has one of the
// path prefixes.
func notLoaded(t *testing.T, what string, files map[string]float64, prefixes ...string) {
	t.Helper()
	for u := range files {
		for _, p := range prefixes {
			if strings.Contains(u, p) {
				t.Errorf("%s loaded %s, which it does not need", what, u)
			}
		}
	}
}

// TestLoadSizes loads the client in a fresh Chromium and counts the bytes
// it transfers: the sign-in page, then the app after signing up, then a
// reload of the app, which must take every file from the cache (only the
// revalidation of index.html, a 304, goes over the network). The sign-in
// page loads no app code, the app no call media code (it loads when a
// call starts).
func TestLoadSizes(t *testing.T) {
	s := startServer(t)
	b := newBrowser(t, "alice")
	tr := recordTransfers(b)

	b.open(s.URL)
	b.waitJS("the sign-in form shows", `document.querySelector("#auth-form")`)
	signIn, files := tr.take()
	t.Logf("sign-in page: %.0f bytes %v", signIn, files)
	if signIn >= 40*1024 {
		t.Errorf("the sign-in page transferred %.0f bytes, want < 40 KB: %v", signIn, files)
	}

	notLoaded(t, "the sign-in page", files, "/js/client.", "/js/socket.", "/js/ui/app.", "/js/call/")

	b.signUp("alice", "correct horse battery")
	app, files := tr.take()
	t.Logf("app after sign-in: %.0f bytes %v", app, files)
	if signIn+app >= 90*1024 {
		t.Errorf("the first load of the app transferred %.0f bytes, want < 90 KB: %v", signIn+app, files)
	}

	notLoaded(t, "the app", files, "/js/call/session.", "/js/call/devices.", "/js/call/sdp.")

	b.open(s.URL)
	b.waitJS("the app shows after the reload", `document.querySelector("#app") && document.querySelector(".me-name")?.textContent === "alice"`)
	reload, files := tr.take()
	t.Logf("reload: %.0f bytes %v", reload, files)
	if reload >= 5*1024 {
		t.Errorf("the reload transferred %.0f bytes, want < 5 KB: %v", reload, files)
	}
}
