package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/confabhq/confab/blobstore"
	blobfile "github.com/confabhq/confab/blobstore/file"
	blobpg "github.com/confabhq/confab/blobstore/postgres"
	"github.com/confabhq/confab/internal/apitest"
	"github.com/confabhq/confab/internal/pgtest"
)

// gpsMarker stands for the location a photo's EXIF carries.
const gpsMarker = "GPSLatitude=48.8584N"

// photo returns a JPEG with an EXIF segment holding the GPS marker.
func photo(t *testing.T, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 99, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	jpg := b.Bytes()
	tiff := append([]byte{'M', 'M', 0, 42, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0}, gpsMarker...)
	seg := append([]byte{0xff, 0xe1, 0, 0}, "Exif\x00\x00"...)
	seg = append(seg, tiff...)
	binary.BigEndian.PutUint16(seg[2:], uint16(len(seg)-2))
	return append(append(append([]byte{}, jpg[:2]...), seg...), jpg[2:]...)
}

// bomb returns a PNG of a few bytes that declares 100k × 100k pixels.
func bomb(t *testing.T) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	p := b.Bytes()
	binary.BigEndian.PutUint32(p[16:], 100000)
	binary.BigEndian.PutUint32(p[20:], 100000)
	binary.BigEndian.PutUint32(p[29:], crc32.ChecksumIEEE(p[12:29]))
	return p
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// openTestBlobs opens the blob store a server with args uses, to look at
// what it stored.
func openTestBlobs(t *testing.T, args []string) blobstore.Store {
	t.Helper()
	var s blobstore.Store
	var err error
	if i := indexOf(args, "--postgres-url"); i >= 0 {
		s, err = blobpg.Open(context.Background(), args[i+1])
	} else {
		s, err = blobfile.Open(filepath.Join(args[indexOf(args, "--data")+1], "blobs"))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

func blobDigests(t *testing.T, s blobstore.Store) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	if err := s.List(context.Background(), func(i blobstore.Info) error { out[i.Digest] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func wantAPIError(t *testing.T, what string, err error, status int, code string) {
	t.Helper()
	var e *apitest.Error
	if !errors.As(err, &e) || e.Status != status || e.Code != code {
		t.Fatalf("%s: %v, want %d %s", what, err, status, code)
	}
}

func fetchStatus(t *testing.T, ctx context.Context, c *apitest.Client, path string) int {
	t.Helper()
	resp, _, err := c.Fetch(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode
}

// TestAttachments walks issue 15's attachments through a real server:
// upload, post, live delivery and history, who may fetch, the served
// image without its EXIF, the limits, and edits.
func TestAttachments(t *testing.T) {
	for name, args := range stores(t) {
		t.Run(name, func(t *testing.T) {
			args := append(args, "--max-upload", "1MiB", "--upload-quota", "2500KiB")
			addr, stop := startServe(t, args...)
			defer stop()
			base := "http://" + addr
			ctx := testCtx(t)
			blobs := openTestBlobs(t, args)

			alice := apitest.MustSignUp(t, ctx, base, "alice", "correct horse")
			bob := apitest.MustSignUp(t, ctx, base, "bob", "battery staple")
			carol := apitest.MustSignUp(t, ctx, base, "carol", "tr0ub4dor&3")
			room := alice.MustCreateRoom(t, ctx, "photos", bob)
			wsB := bob.MustDial(t, ctx)
			if _, err := wsB.Subscribe(ctx, room.ID, 0); err != nil {
				t.Fatal(err)
			}

			// A non-member's upload is refused and stores nothing.
			if _, err := carol.Upload(ctx, room.ID, "x.bin", randomBytes(100), false); err == nil {
				t.Fatal("a non-member uploaded")
			} else {
				wantAPIError(t, "non-member upload", err, 404, "not_found")
			}
			if n := len(blobDigests(t, blobs)); n != 0 {
				t.Fatalf("%d blobs after a refused upload", n)
			}

			src := photo(t, 800, 600)
			att, err := alice.Upload(ctx, room.ID, "../IMG_0001\u202e.jpg", src, false)
			if err != nil {
				t.Fatal(err)
			}
			if att.ContentType != "image/jpeg" || att.Width != 800 || att.Height != 600 || att.ThumbnailURL == "" || att.Name != "IMG_0001.jpg" ||
				!strings.HasPrefix(att.Digest, "sha256:") || att.URL != "/api/v1/attachments/"+att.ID+"/IMG_0001.jpg" {
				t.Fatalf("uploaded %+v", att)
			}
			// Before it is posted, only the uploader reaches it.
			if s := fetchStatus(t, ctx, alice, att.URL); s != 200 {
				t.Fatalf("uploader before posting: %d", s)
			}
			if s := fetchStatus(t, ctx, bob, att.URL); s != 404 {
				t.Fatalf("member before posting: %d, want 404", s)
			}
			// Someone else's upload cannot be posted.
			if _, err := bob.PostFiles(ctx, room.ID, "b1", "", []string{att.ID}); err == nil {
				t.Fatal("bob posted alice's upload")
			} else {
				wantAPIError(t, "post of another's upload", err, 400, "invalid")
			}

			msg, err := alice.PostFiles(ctx, room.ID, "a1", "", []string{att.ID})
			if err != nil {
				t.Fatal(err)
			}
			if len(msg.Attachments) != 1 || msg.Attachments[0].ID != att.ID || msg.Attachments[0].URL != att.URL {
				t.Fatalf("posted %+v", msg)
			}
			if _, err := alice.PostFiles(ctx, room.ID, "a2", "again", []string{att.ID}); err == nil {
				t.Fatal("an attachment went on two messages")
			}

			// Bob sees it live, with its URLs.
			var ev apitest.Frame
			for ev == nil || ev.Str("event") != "message.posted" {
				ev = nextEvent(t, ctx, wsB)
			}
			files, _ := ev.Data()["attachments"].([]any)
			if len(files) != 1 || apitest.Frame(files[0].(map[string]any)).Str("url") != att.URL || apitest.Frame(files[0].(map[string]any)).Str("thumbnail_url") != att.ThumbnailURL {
				t.Fatalf("live event %v", ev)
			}
			// At once, as a client showing the event does (the read models
			// may not have the message yet: the server waits for them).
			if s := fetchStatus(t, ctx, bob, att.ThumbnailURL); s != 200 {
				t.Fatalf("thumbnail fetched on the live event: %d", s)
			}
			// And in history.
			hist, err := bob.Messages(ctx, room.ID, 0, 10)
			if err != nil || len(hist) == 0 || len(hist[0].Attachments) != 1 || hist[0].Attachments[0].ID != att.ID {
				t.Fatalf("history %+v %v", hist, err)
			}

			// Served without its EXIF, sniffed type, nosniff, sandboxed.
			resp, body, err := bob.Fetch(ctx, att.URL, nil)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("bob fetches: %v %v", resp.StatusCode, err)
			}
			if bytes.Contains(body, []byte(gpsMarker)) {
				t.Fatal("the served photo still has its GPS EXIF")
			}
			if _, err := jpeg.Decode(bytes.NewReader(body)); err != nil || int64(len(body)) != att.Size {
				t.Fatalf("served photo: %d bytes (size %d), %v", len(body), att.Size, err)
			}
			h := resp.Header
			if h.Get("Content-Type") != "image/jpeg" || h.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(h.Get("Content-Security-Policy"), "sandbox") ||
				!strings.HasPrefix(h.Get("Content-Disposition"), "inline") || h.Get("ETag") != `"`+att.Digest+`"` {
				t.Fatalf("headers %v", h)
			}
			resp, part, err := bob.Fetch(ctx, att.URL, http.Header{"Range": {"bytes=10-19"}})
			if err != nil || resp.StatusCode != 206 || !bytes.Equal(part, body[10:20]) {
				t.Fatalf("range: %v %v", resp.StatusCode, err)
			}
			resp, thumb, err := bob.Fetch(ctx, att.ThumbnailURL, nil)
			if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
				t.Fatalf("thumbnail: %v %v", resp.StatusCode, err)
			}
			if cfg, err := jpeg.DecodeConfig(bytes.NewReader(thumb)); err != nil || cfg.Width != 400 || cfg.Height != 300 {
				t.Fatalf("thumbnail %+v %v, want 400×300", cfg, err)
			}

			// Not a member, signed out: 404, 401.
			if s := fetchStatus(t, ctx, carol, att.URL); s != 404 {
				t.Fatalf("non-member fetch: %d", s)
			}
			if s := fetchStatus(t, ctx, carol, att.ThumbnailURL); s != 404 {
				t.Fatalf("non-member thumbnail: %d", s)
			}
			if s := fetchStatus(t, ctx, apitest.New(base), att.URL); s != 401 {
				t.Fatalf("anonymous fetch: %d", s)
			}
			bob2, err := apitest.SignIn(ctx, base, "bob", "battery staple")
			if err != nil {
				t.Fatal(err)
			}
			if err := bob2.Do(ctx, "POST", "/api/v1/auth/signout", nil, nil); err != nil {
				t.Fatal(err)
			}
			if s := fetchStatus(t, ctx, bob2, att.URL); s != 401 {
				t.Fatalf("signed-out fetch: %d", s)
			}

			// Anything else is an attachment to download, whatever it says.
			page, err := alice.Upload(ctx, room.ID, `..\..\evil".html`, []byte("<html><script>alert(1)</script>"), true)
			if err != nil {
				t.Fatal(err)
			}
			if page.Name != "evil.html" || page.ThumbnailURL != "" || page.Width != 0 {
				t.Fatalf("page %+v", page)
			}
			pageMsg, err := alice.PostFiles(ctx, room.ID, "a3", "a page", []string{page.ID})
			if err != nil {
				t.Fatal(err)
			}
			resp, _, err = bob.Fetch(ctx, page.URL, nil)
			if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") ||
				resp.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "sandbox") {
				t.Fatalf("page served %v %v", resp.Header, err)
			}

			// Limits: refused before anything is stored.
			before := blobDigests(t, blobs)
			for _, chunked := range []bool{false, true} {
				_, err := alice.Upload(ctx, room.ID, "big.bin", randomBytes(1<<20+1), chunked)
				wantAPIError(t, "oversize upload", err, 413, "too_large")
			}
			_, err = alice.Upload(ctx, room.ID, "bomb.png", bomb(t), false)
			wantAPIError(t, "decompression bomb", err, 400, "invalid")
			if after := blobDigests(t, blobs); len(after) != len(before) {
				t.Fatalf("refused uploads stored blobs: %d, then %d", len(before), len(after))
			}
			// The quota (2500 KiB) holds two more 1 MiB files, not three.
			for i := range 2 {
				if _, err := alice.Upload(ctx, room.ID, "f.bin", randomBytes(1<<20-1000*i), false); err != nil {
					t.Fatal(err)
				}
			}
			before = blobDigests(t, blobs)
			for _, chunked := range []bool{false, true} {
				_, err := alice.Upload(ctx, room.ID, "over.bin", randomBytes(600<<10), chunked)
				wantAPIError(t, "over-quota upload", err, 413, "quota_exceeded")
			}
			if after := blobDigests(t, blobs); len(after) != len(before) {
				t.Fatal("an over-quota upload stored a blob")
			}
			// Bob's quota is his own.
			if _, err := bob.Upload(ctx, room.ID, "b.bin", randomBytes(600<<10), false); err != nil {
				t.Fatal(err)
			}

			// An edit takes the page off: unreachable at once.
			var edited struct{ Message apitest.Message }
			if err := alice.Do(ctx, "PATCH", "/api/v1/rooms/"+room.ID+"/messages/"+itoa(pageMsg.Seq), map[string]any{"text": "no page", "attachments": []string{}}, &edited); err != nil {
				t.Fatal(err)
			}
			if len(edited.Message.Attachments) != 0 {
				t.Fatalf("edited %+v", edited.Message)
			}
			if s := fetchStatus(t, ctx, bob, page.URL); s != 404 {
				t.Fatalf("removed attachment: %d", s)
			}
			if s := fetchStatus(t, ctx, bob, att.URL); s != 200 {
				t.Fatalf("photo after the edit of another message: %d", s)
			}

			// Kicked: the photo is out of reach.
			if err := alice.Do(ctx, "POST", "/api/v1/rooms/"+room.ID+"/members/"+bob.User.ID+"/kick", nil, nil); err != nil {
				t.Fatal(err)
			}
			if s := fetchStatus(t, ctx, bob, att.URL); s != 404 {
				t.Fatalf("kicked member fetch: %d", s)
			}
		})
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// TestBlobCollector: a deleted message's attachment is unreachable at
// once, and its blob goes after the grace period; so do uploads never
// posted.
func TestBlobCollector(t *testing.T) {
	for name, args := range stores(t) {
		t.Run(name, func(t *testing.T) {
			args := append(args, "--blob-grace", "2s", "--blob-gc-interval", "100ms")
			addr, stop := startServe(t, args...)
			defer stop()
			base := "http://" + addr
			ctx := testCtx(t)
			blobs := openTestBlobs(t, args)
			alice := apitest.MustSignUp(t, ctx, base, "alice", "correct horse")
			room := alice.MustCreateRoom(t, ctx, "gc")
			// Posted at once (the grace counts for unposted uploads too:
			// retry the pair if the machine is slower than 2 s).
			var att apitest.Attachment
			var msg apitest.Message
			var err error
			for i := 0; ; i++ {
				if att, err = alice.Upload(ctx, room.ID, "kept.bin", randomBytes(5000), false); err != nil {
					t.Fatal(err)
				}
				if msg, err = alice.PostFiles(ctx, room.ID, "m"+itoa(uint64(i)), "", []string{att.ID}); err == nil {
					break
				}
				if i == 5 {
					t.Fatal(err)
				}
			}
			lone, err := alice.Upload(ctx, room.ID, "lone.bin", randomBytes(5000), false)
			if err != nil {
				t.Fatal(err)
			}
			if err := alice.Do(ctx, "DELETE", "/api/v1/rooms/"+room.ID+"/messages/"+itoa(msg.Seq), nil, nil); err != nil {
				t.Fatal(err)
			}
			if s := fetchStatus(t, ctx, alice, att.URL); s != 404 {
				t.Fatalf("attachment of a deleted message: %d", s)
			}
			deadline := time.Now().Add(45 * time.Second)
			for {
				d := blobDigests(t, blobs)
				if !d[att.Digest] && !d[lone.Digest] {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("blobs of a deleted message and of an upload never posted still stored: %v %v", d[att.Digest], d[lone.Digest])
				}
				time.Sleep(50 * time.Millisecond)
			}
			if s := fetchStatus(t, ctx, alice, lone.URL); s != 404 {
				t.Fatalf("collected upload: %d", s)
			}
		})
	}
}

// TestBlobsExportImport moves the blobs of the embedded store into
// PostgreSQL with events export-blobs / import-blobs, and events replay
// shows the attachment.
func TestBlobsExportImport(t *testing.T) {
	data := t.TempDir()
	args := []string{"--data", data}
	addr, stop := startServe(t, args...)
	ctx := testCtx(t)
	alice := apitest.MustSignUp(t, ctx, "http://"+addr, "alice", "correct horse")
	room := alice.MustCreateRoom(t, ctx, "moving")
	att, err := alice.Upload(ctx, room.ID, "photo.jpg", photo(t, 64, 48), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.PostFiles(ctx, room.ID, "m1", "look", []string{att.ID}); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	out, _ := admRun(t, nil, "events", "replay", "--data", data, "--room", room.ID)
	if !strings.Contains(out, "alice: look [attached: photo.jpg (image/jpeg, 64×48, ") {
		t.Fatalf("replay does not show the attachment:\n%s", out)
	}
	dir := t.TempDir()
	admRun(t, nil, "events", "export-blobs", "--data", data, "--dir", dir)
	src := blobDigests(t, openTestBlobs(t, args))
	if len(src) != 2 { // the photo and its thumbnail
		t.Fatalf("%d blobs, want 2", len(src))
	}
	pg := []string{"--store", "postgres", "--postgres-url", pgtest.NewTestDatabase(t)}
	admRun(t, nil, append([]string{"events", "import-blobs", "--dir", dir}, pg...)...)
	got := blobDigests(t, openTestBlobs(t, pg))
	for d := range src {
		if !got[d] {
			t.Fatalf("%s not imported", d)
		}
	}
	// A damaged export is refused.
	for name := range src {
		os.WriteFile(filepath.Join(dir, strings.TrimPrefix(name, "sha256:")), []byte("damaged"), 0o600)
		break
	}
	if msg := admFail(t, nil, append([]string{"events", "import-blobs", "--dir", dir}, pg...)...); !strings.Contains(msg, "damaged") {
		t.Fatalf("damaged export: %s", msg)
	}
}

// BenchmarkUpload measures uploads of 10 MiB files (not images) through a
// real server on SQLite and the file blob store: MB/s is upload
// throughput.
func BenchmarkUpload(b *testing.B) {
	data := b.TempDir()
	addr, stop := startServeB(b, "--data", data, "--upload-quota", "0")
	defer stop()
	ctx := context.Background()
	alice := apitest.MustSignUp(b, ctx, "http://"+addr, "alice", "correct horse")
	room, err := alice.CreateRoom(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	file := randomBytes(10 << 20)
	b.SetBytes(int64(len(file)))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		file[0], file[1] = byte(i), byte(i>>8) // a new blob each time
		if _, err := alice.Upload(ctx, room.ID, "f.bin", file, false); err != nil {
			b.Fatal(err)
		}
	}
}

// startServeB is startServe for benchmarks, its logs discarded.
func startServeB(b *testing.B, args ...string) (string, func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	m := &Main{Stdout: io.Discard, Stderr: io.Discard, Ready: func(a net.Addr) { ready <- a }}
	done := make(chan error, 1)
	go func() {
		done <- m.Run(ctx, append([]string{"confab", "serve", "--addr", "127.0.0.1:0", "--metrics-addr", "off", "--calls=false"}, args...))
	}()
	select {
	case a := <-ready:
		return a.String(), func() error { cancel(); return <-done }
	case err := <-done:
		cancel()
		b.Fatalf("serve ended before listening: %v", err)
	}
	return "", nil
}
