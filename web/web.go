package web

import (
	"bytes"
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed static
var static embed.FS

// ContentSecurityPolicy is the policy of the client's pages, sent as a
// header (a <meta> policy cannot forbid framing): only the server's own
// scripts, styles and connections; never inside another site's frame.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"media-src 'self' blob: mediastream:; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// Cache policies: a hashed URL never changes its bytes; index.html and the
// plain names are revalidated (one 304 when nothing changed).
const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cacheRevalidate = "no-cache"
)

var (
	tableOnce sync.Once
	table     *assetTable
)

// assets builds the asset table on first use: hashing and compressing the
// embedded files once per process, never per request.
func assets() *assetTable {
	tableOnce.Do(func() {
		files, err := fs.Sub(static, "static")
		if err != nil {
			panic(err) // the embedded tree always has static/
		}
		t, err := buildAssets(files)
		if err != nil {
			panic(err) // the embedded files are checked by the package's tests
		}
		table = t
	})
	return table
}

// Handler serves the browser client: its files under content-hashed URLs
// (immutable), under their plain names (revalidated), and index.html for
// every other path, so that the client's own routes survive a reload.
// Every file is sent gzip or brotli compressed when the browser accepts it.
// The bundled emoji set is served under /emoji/<hash>/ (serveEmoji).
func Handler() http.Handler {
	t := assets()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if strings.HasPrefix(r.URL.Path, emojiPrefix) {
			serveEmoji(w, r)
			return
		}
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		a, cache := t.index, cacheRevalidate
		if hashed, ok := t.hashed[r.URL.Path]; ok {
			a, cache = hashed, cacheImmutable
		} else if plain, ok := t.plain[r.URL.Path]; ok {
			a = plain
		} else if missingFile(r.URL.Path) {
			// A file of another version (or none): a page whose module
			// got index.html instead would fail less clearly.
			http.NotFound(w, r)
			return
		}
		h.Set("Cache-Control", cache)
		serveAsset(w, r, a)
	})
}

// missingFile reports whether p names a file the client would load (by
// its extension), rather than one of the client's routes.
func missingFile(p string) bool {
	switch path.Ext(p) {
	case ".js", ".css", ".svg", ".ico", ".map", ".png", ".json":
		return true
	}
	return false
}

// serveAsset sends the variant of a that the request accepts; ServeContent
// answers a matching If-None-Match with 304.
func serveAsset(w http.ResponseWriter, r *http.Request, a *asset) {
	v := a.pick(r.Header.Get("Accept-Encoding"))
	h := w.Header()
	h.Set("Vary", "Accept-Encoding")
	h.Set("Content-Type", a.ctype)
	h.Set("ETag", v.etag)
	if v.encoding != "" {
		h.Set("Content-Encoding", v.encoding)
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(v.body))
}

// pick returns the smallest variant whose encoding acceptEncoding allows
// (q > 0), or the identity.
func (a *asset) pick(acceptEncoding string) variant {
	ok := acceptedEncodings(acceptEncoding)
	best := a.variants[0]
	for _, v := range a.variants[1:] {
		if ok[v.encoding] && len(v.body) < len(best.body) {
			best = v
		}
	}
	return best
}

// acceptedEncodings parses an Accept-Encoding header into the codings it
// accepts with a non-zero quality ("*" is ignored: only named codings).
func acceptedEncodings(header string) map[string]bool {
	ok := map[string]bool{}
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		q := 1.0
		if k, val, found := strings.Cut(strings.TrimSpace(params), "="); found && strings.TrimSpace(k) == "q" {
			if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
				q = f
			}
		}
		if name != "" && q > 0 {
			ok[name] = true
		}
	}
	return ok
}
