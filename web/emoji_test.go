package web

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/confabhq/confab/domain"
)

func emojiGet(t *testing.T, srv *httptest.Server, path string, header map[string]string) (*http.Response, []byte) {
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
		t.Fatal(err)
	}
	return resp, body
}

// emojiBase is the URL prefix the client uses, from the generated module.
func emojiBase(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("static/js/util/emoji-base.js")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`EMOJI_BASE = "(/emoji/[0-9a-f]{10}/)"`).FindSubmatch(src)
	if m == nil {
		t.Fatalf("emoji-base.js names no /emoji/<hash>/ prefix:\n%s", src)
	}
	return string(m[1])
}

// TestEmojiBaseIsTheZipsHash checks that the client's prefix names the
// embedded zip (scripts/gen-emoji wrote both): a stale one would load
// nothing.
func TestEmojiBaseIsTheZipsHash(t *testing.T) {
	sum := sha256.Sum256(twemojiZip)
	if want := "/emoji/" + hex.EncodeToString(sum[:])[:hashLen] + "/"; emojiBase(t) != want {
		t.Errorf("emoji-base.js has %s, the zip's hash is %s: run scripts/gen-emoji", emojiBase(t), want)
	}
}

// TestEmojiHandler fetches an image and the data as a browser would:
// immutable, gzip as stored or inflated, 304 on a matching ETag, and a
// 404 for any other name or hash.
func TestEmojiHandler(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	base := emojiBase(t)

	for _, name := range []string{"1f600.svg", "data.json"} {
		resp, plain := emojiGet(t, srv, base+name, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", name, resp.StatusCode)
		}
		want := map[string]string{"Cache-Control": "public, max-age=31536000, immutable", "Vary": "Accept-Encoding",
			"X-Content-Type-Options": "nosniff", "Content-Encoding": ""}
		if strings.HasSuffix(name, ".svg") {
			want["Content-Type"] = "image/svg+xml"
			if !bytes.HasPrefix(plain, []byte("<svg")) {
				t.Errorf("GET %s: not an SVG: %.40q", name, plain)
			}
		} else {
			want["Content-Type"] = "application/json"
			if !json.Valid(plain) {
				t.Errorf("GET %s: not JSON", name)
			}
		}
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("GET %s: %s %q, want %q", name, k, got, v)
			}
		}
		if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("GET %s: CSP %q, want default-src 'none'", name, resp.Header.Get("Content-Security-Policy"))
		}

		zresp, z := emojiGet(t, srv, base+name, map[string]string{"Accept-Encoding": "gzip, deflate, br"})
		if zresp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("GET %s with gzip accepted: Content-Encoding %q", name, zresp.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(z))
		if err != nil {
			t.Fatalf("GET %s: gzip: %v", name, err)
		}
		unz, err := io.ReadAll(zr) // checks the CRC and the size
		if err != nil || !bytes.Equal(unz, plain) {
			t.Errorf("GET %s: the gzip body does not decode to the plain one (err %v)", name, err)
		}
		if len(z) >= len(plain) {
			t.Errorf("GET %s: gzip %d bytes, plain %d", name, len(z), len(plain))
		}
		etag := zresp.Header.Get("ETag")
		if etag == "" || etag == resp.Header.Get("ETag") {
			t.Errorf("GET %s: ETag %q (plain %q), want one per encoding", name, etag, resp.Header.Get("ETag"))
		}
		again, body := emojiGet(t, srv, base+name, map[string]string{"Accept-Encoding": "gzip", "If-None-Match": etag})
		if again.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Errorf("GET %s with If-None-Match: %d, %d bytes; want 304", name, again.StatusCode, len(body))
		}
	}

	for _, p := range []string{
		base + "ffffff.svg",           // no such emoji
		base + "1F600.svg",            // names are lower case
		base + "1f600.png",            // no such file
		base,                          // the directory
		base + "x/../1f600.svg",       // not a name of the set
		"/emoji/0000000000/1f600.svg", // another version's hash
		"/emoji/1f600.svg",
		"/emoji/",
	} {
		if resp, _ := emojiGet(t, srv, p, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+base+"1f600.svg", nil)
	if resp, err := srv.Client().Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST an emoji: %v %v, want 405", resp.StatusCode, err)
	}
}

// emojiData is data.json as gen-emoji writes it.
type emojiData struct {
	Groups []string
	Emoji  [][]json.RawMessage
}

// twemojiName is Twemoji's file name for an emoji, as util/emoji.js
// computes it.
func twemojiName(e string) string {
	if !strings.Contains(e, "\u200d") {
		e = strings.ReplaceAll(e, "\ufe0f", "")
	}
	var parts []string
	for _, r := range e {
		parts = append(parts, strconv.FormatInt(int64(r), 16))
	}
	return strings.Join(parts, "-") + ".svg"
}

// TestEmojiData checks the generated data against the images: every emoji
// and skin variant has its image in the zip, every shortcode names one
// emoji, every group has emoji, and the server accepts each as a reaction.
func TestEmojiData(t *testing.T) {
	start := time.Now()
	s := loadEmojiSet()
	t.Logf("the emoji set: %d files, %d bytes, its directory read and hashed in %v", len(s.files), len(twemojiZip), time.Since(start))
	rc, err := s.files["data.json"].Open()
	if err != nil {
		t.Fatal(err)
	}
	var d emojiData
	if err := json.NewDecoder(rc).Decode(&d); err != nil {
		t.Fatalf("data.json: %v", err)
	}
	if len(d.Groups) != 9 || len(d.Emoji) < 1800 {
		t.Fatalf("data.json has %d groups and %d emoji, want 9 and the whole set", len(d.Groups), len(d.Emoji))
	}
	codes := map[string]string{}
	perGroup := make([]int, len(d.Groups))
	shortcode := regexp.MustCompile(`^[a-z0-9_+\-]+$`)
	check := func(e string) {
		t.Helper()
		if f := s.files[twemojiName(e)]; f == nil {
			t.Errorf("%q (%s) has no image in the zip", e, twemojiName(e))
		}
		if err := domain.ValidateEmoji(e); err != nil {
			t.Errorf("the server refuses %q as a reaction: %v", e, err)
		}
	}
	claim := func(code, e string) {
		t.Helper()
		if !shortcode.MatchString(code) {
			t.Errorf("%q has the shortcode %q, not of [a-z0-9_+-]", e, code)
		}
		if other, ok := codes[code]; ok && other != e {
			t.Errorf(":%s: names both %q and %q", code, other, e)
		}
		codes[code] = e
	}
	for _, row := range d.Emoji {
		var e, name, keywords string
		var group int
		var sc []string
		for i, p := range []any{&e, &name, &group, &sc, &keywords} {
			if err := json.Unmarshal(row[i], p); err != nil {
				t.Fatalf("entry %s: field %d: %v", row[0], i, err)
			}
		}
		if !utf8.ValidString(e) || name == "" || group < 0 || group >= len(d.Groups) || len(sc) == 0 {
			t.Errorf("bad entry %q %q %d %v", e, name, group, sc)
			continue
		}
		perGroup[group]++
		check(e)
		for _, c := range sc {
			claim(c, e)
		}
		if len(row) > 5 {
			var skins [][]json.RawMessage
			if err := json.Unmarshal(row[5], &skins); err != nil {
				t.Fatalf("entry %q: skins: %v", e, err)
			}
			for _, sk := range skins {
				var se, code string
				json.Unmarshal(sk[0], &se)
				json.Unmarshal(sk[1], &code)
				check(se)
				if code != "" {
					claim(code, se)
				}
			}
		}
	}
	for i, n := range perGroup {
		if n == 0 {
			t.Errorf("group %q has no emoji", d.Groups[i])
		}
	}
	for code, want := range map[string]string{"+1": "👍", "smile": "😄", "tada": "🎉", "heart": "❤️", "rocket": "🚀", "one": "1️⃣", "us": "🇺🇸"} {
		if codes[code] != want {
			t.Errorf(":%s: = %q, want %q", code, codes[code], want)
		}
	}
	// Every file of the zip is deflated, and nothing but the set is in it.
	zr, _ := zip.NewReader(bytes.NewReader(twemojiZip), int64(len(twemojiZip)))
	if len(zr.File) != len(s.files) {
		t.Errorf("the zip has %d files, %d of them deflated", len(zr.File), len(s.files))
	}
}

// BenchmarkEmojiSetLoad measures the start-up work of the emoji set
// (reading the zip's directory and hashing it), which happens once.
func BenchmarkEmojiSetLoad(b *testing.B) {
	for b.Loop() {
		emojiOnce = sync.Once{}
		loadEmojiSet()
	}
}
