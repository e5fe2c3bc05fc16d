package web

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// twemojiZip is the bundled emoji set that scripts/gen-emoji builds: one
// Twemoji SVG per emoji and data.json (names, shortcodes, groups,
// keywords, skin tones), each deflated once. It is served as it is, not
// through the asset table: thousands of files would slow the start-up's
// minify, hash and compress pass for images a page loads a few at a time.
//
//go:embed emoji/twemoji.zip
var twemojiZip []byte

// emojiPrefix is the path the emoji set is served under:
// /emoji/<hash>/<name>, where <hash> is the first hashLen hex digits of
// the zip's SHA-256 (the client's util/emoji-base.js names it).
const emojiPrefix = "/emoji/"

// emojiSet is the zip's files by name, read once.
type emojiSet struct {
	hash  string
	files map[string]*zip.File
}

var (
	emojiOnce sync.Once
	emojis    *emojiSet
)

// loadEmojiSet reads the zip's directory (no file is inflated) and hashes
// it: a few milliseconds, on the first emoji request.
func loadEmojiSet() *emojiSet {
	emojiOnce.Do(func() {
		zr, err := zip.NewReader(bytes.NewReader(twemojiZip), int64(len(twemojiZip)))
		if err != nil {
			panic(fmt.Errorf("web: the embedded emoji set: %w", err)) // checked by the package's tests
		}
		sum := sha256.Sum256(twemojiZip)
		s := &emojiSet{hash: hex.EncodeToString(sum[:])[:hashLen], files: make(map[string]*zip.File, len(zr.File))}
		for _, f := range zr.File {
			if f.Method == zip.Deflate {
				s.files[f.Name] = f
			}
		}
		emojis = s
	})
	return emojis
}

// serveEmoji answers a request under emojiPrefix: a file of the set under
// the set's hash, immutable, gzip-encoded when the browser accepts it (the
// stored deflate stream in a gzip frame: nothing is compressed per
// request), inflated otherwise. Any other name or hash is a 404.
func serveEmoji(w http.ResponseWriter, r *http.Request) {
	s := loadEmojiSet()
	hash, name, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, emojiPrefix), "/")
	f := s.files[name]
	if !ok || hash != s.hash || f == nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", cacheImmutable)
	h.Set("Vary", "Accept-Encoding")
	h.Set("X-Content-Type-Options", "nosniff")
	// An image opened by itself runs nothing and loads nothing.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	switch path.Ext(name) {
	case ".svg":
		h.Set("Content-Type", "image/svg+xml")
	default:
		h.Set("Content-Type", "application/json")
	}
	etag := `"` + s.hash + "-" + strconv.FormatUint(uint64(f.CRC32), 16)
	if acceptedEncodings(r.Header.Get("Accept-Encoding"))["gzip"] {
		raw, err := f.OpenRaw()
		if err != nil {
			http.Error(w, "emoji: "+err.Error(), http.StatusInternalServerError)
			return
		}
		body := make([]byte, 0, 10+f.CompressedSize64+8)
		body = append(body, 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff) // gzip header: deflate, no name, no time
		body, err = appendAll(body, raw)
		if err != nil {
			http.Error(w, "emoji: "+err.Error(), http.StatusInternalServerError)
			return
		}
		body = binary.LittleEndian.AppendUint32(body, f.CRC32)
		body = binary.LittleEndian.AppendUint32(body, uint32(f.UncompressedSize64))
		h.Set("Content-Encoding", "gzip")
		h.Set("ETag", etag+`-gzip"`)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
		return
	}
	rc, err := f.Open()
	if err != nil {
		http.Error(w, "emoji: "+err.Error(), http.StatusInternalServerError)
		return
	}
	defer rc.Close()
	body, err := appendAll(make([]byte, 0, f.UncompressedSize64), rc)
	if err != nil {
		http.Error(w, "emoji: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h.Set("ETag", etag+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// appendAll appends what r reads to dst.
func appendAll(dst []byte, r io.Reader) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}
