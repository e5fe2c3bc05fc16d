package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"

	"github.com/confabhq/confab/web"
)

// hashedURL is the shape of a content-hashed asset URL.
var hashedURL = regexp.MustCompile(`^/[a-z0-9/_-]+\.[0-9a-f]{10}\.(js|css|svg)$`)

// refs finds the URLs a page, module or stylesheet refers to: every
// string literal or url() holding an absolute path to a script,
// stylesheet or image: href/src attributes, module specifiers (static and
// dynamic imports) and a stylesheet a module adds itself (main.js:
// CALL_CSS), however the minifier quoted or renamed them.
var refs = regexp.MustCompile(`(?:["'` + "`" + `]|url\()(/[^"'` + "`" + `)\s]+\.(?:js|css|svg|png|woff2))`)

func get(t *testing.T, srv *httptest.Server, path string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "identity")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read: %v", path, err)
	}
	return resp, body
}

func decode(t *testing.T, enc string, body []byte) []byte {
	t.Helper()
	var r io.Reader
	switch enc {
	case "gzip":
		z, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		r = z
	case "br":
		r = brotli.NewReader(bytes.NewReader(body))
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode %s: %v", enc, err)
	}
	return out
}

// TestAssetsAsABrowserFetchesThem loads the client as a browser would:
// index.html, then every file it refers to and every module those import,
// checking hashed URLs, the cache headers, the compressed variants and a
// conditional reload of index.html.
func TestAssetsAsABrowserFetchesThem(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()

	resp, index := get(t, srv, "/", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("GET /: %d, Cache-Control %q; want 200, no-cache", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	etag := resp.Header.Get("ETag")
	if !regexp.MustCompile(`^"[0-9a-f]+"$`).MatchString(etag) {
		t.Fatalf("GET /: ETag %q, want a strong tag", etag)
	}
	if !bytes.Contains(index, []byte(`rel="modulepreload"`)) {
		t.Errorf("index.html has no modulepreload hint:\n%s", index)
	}
	reload, body := get(t, srv, "/", map[string]string{"If-None-Match": etag})
	if reload.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Errorf("conditional reload of /: %d with %d bytes, want 304 and none", reload.StatusCode, len(body))
	}
	route, _ := get(t, srv, "/r/some-room", map[string]string{"If-None-Match": etag})
	if route.StatusCode != http.StatusNotModified {
		t.Errorf("conditional reload of a client route: %d, want 304", route.StatusCode)
	}

	if gone, _ := get(t, srv, "/js/main.0000000000.js", nil); gone.StatusCode != http.StatusNotFound {
		t.Errorf("GET an unknown hashed module: %d, want 404", gone.StatusCode)
	}

	queue := []string{}
	for _, m := range refs.FindAllSubmatch(index, -1) {
		queue = append(queue, string(m[1]))
	}
	seen := map[string]bool{}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		if seen[u] {
			continue
		}
		seen[u] = true
		if !hashedURL.MatchString(u) {
			t.Errorf("reference to %q is not a content-hashed URL", u)
			continue
		}
		resp, plain := get(t, srv, u, nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", u, resp.StatusCode)
			continue
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: Cache-Control %q, want immutable", u, cc)
		}
		if !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
			t.Errorf("GET %s: Vary %q, want Accept-Encoding", u, resp.Header.Get("Vary"))
		}
		for _, enc := range []string{"gzip", "br"} {
			zresp, z := get(t, srv, u, map[string]string{"Accept-Encoding": enc})
			if len(plain) < 1024 && zresp.Header.Get("Content-Encoding") == "" {
				continue // too small to gain from compression
			}
			if got := zresp.Header.Get("Content-Encoding"); got != enc {
				t.Errorf("GET %s with Accept-Encoding %s: Content-Encoding %q", u, enc, got)
				continue
			}
			if !bytes.Equal(decode(t, enc, z), plain) {
				t.Errorf("GET %s: the %s variant does not decode to the original", u, enc)
			}
		}
		for _, m := range refs.FindAllSubmatch(plain, -1) {
			queue = append(queue, string(m[1]))
		}
	}
	if bytes.Contains(index, []byte("call.")) {
		t.Errorf("index.html loads call code or styles up front:\n%s", index)
	}
	for _, want := range []string{"js/main", "js/ui/app", "js/ui/auth", "js/call/call", "css/call"} {
		found := false
		for u := range seen {
			found = found || strings.HasPrefix(u, "/"+want+".")
		}
		if !found {
			t.Errorf("the crawl from index.html never reached %s.*: %v", want, seen)
		}
	}
}

// TestAssetsPreferBrotli checks the choice by Accept-Encoding: br over
// gzip when both are accepted, none when refused with q=0.
func TestAssetsPreferBrotli(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	for accept, want := range map[string]string{
		"gzip, deflate, br, zstd": "br",
		"gzip":                    "gzip",
		"br;q=0, gzip":            "gzip",
		"identity":                "",
		"":                        "",
	} {
		resp, _ := get(t, srv, "/", map[string]string{"Accept-Encoding": accept})
		if got := resp.Header.Get("Content-Encoding"); got != want {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, want %q", accept, got, want)
		}
	}
}
