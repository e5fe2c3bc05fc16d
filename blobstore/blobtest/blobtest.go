package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/confabhq/confab/blobstore"
)

// Harness opens the store under test.
type Harness struct {
	// Open returns an empty store for one test; the suite closes it.
	Open func(t testing.TB) blobstore.Store
	// Reopen closes s and opens a store on the same data.
	Reopen func(t testing.TB, s blobstore.Store) blobstore.Store
}

// Check is one conformance check.
type Check struct {
	Name string
	Func func(t testing.TB, h Harness)
}

// Checks lists the whole suite.
var Checks = []Check{
	{"PutOpen", PutOpen},
	{"Dedup", Dedup},
	{"Seek", Seek},
	{"TooLarge", TooLarge},
	{"Delete", Delete},
	{"List", List},
	{"Concurrent", Concurrent},
	{"Durability", Durability},
	{"BadInput", BadInput},
}

// Run runs every check as a subtest.
func Run(t *testing.T, h Harness) {
	for _, c := range Checks {
		t.Run(c.Name, func(t *testing.T) { c.Func(t, h) })
	}
}

func open(t testing.TB, h Harness) blobstore.Store {
	s := h.Open(t)
	t.Cleanup(func() { s.Close() })
	return s
}

func random(t testing.TB, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return blobstore.DigestPrefix + hex.EncodeToString(sum[:])
}

func put(t testing.TB, s blobstore.Store, b []byte) blobstore.Info {
	t.Helper()
	info, err := s.Put(context.Background(), bytes.NewReader(b), 0)
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	return info
}

func read(t testing.TB, s blobstore.Store, digest string) []byte {
	t.Helper()
	b, err := s.Open(context.Background(), digest)
	if err != nil {
		t.Fatalf("open %s: %v", digest, err)
	}
	defer b.Close()
	data, err := io.ReadAll(b)
	if err != nil {
		t.Fatalf("read %s: %v", digest, err)
	}
	if int64(len(data)) != b.Size() {
		t.Fatalf("read %d bytes of a blob of size %d", len(data), b.Size())
	}
	return data
}

// PutOpen: a blob reads back as written, whatever its size (empty, small,
// several chunks of the adapters that chunk).
func PutOpen(t testing.TB, h Harness) {
	s := open(t, h)
	for _, n := range []int{0, 1, 4096, 3<<20 + 17} {
		data := random(t, n)
		info := put(t, s, data)
		if info.Digest != digestOf(data) || info.Size != int64(n) {
			t.Fatalf("put %d bytes: got %+v, want digest %s", n, info, digestOf(data))
		}
		if got := read(t, s, info.Digest); !bytes.Equal(got, data) {
			t.Fatalf("%d bytes read back differ", n)
		}
	}
	if _, err := s.Open(context.Background(), digestOf([]byte("never stored"))); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("open absent: %v, want ErrNotFound", err)
	}
}

// Dedup: the same bytes twice are one blob, and the second Put marks it
// stored anew.
func Dedup(t testing.TB, h Harness) {
	s := open(t, h)
	data := random(t, 1000)
	a := put(t, s, data)
	b := put(t, s, data)
	if a.Digest != b.Digest {
		t.Fatalf("digests %s, %s", a.Digest, b.Digest)
	}
	if b.Stored.Before(a.Stored) {
		t.Fatalf("second put stored at %v, before the first %v", b.Stored, a.Stored)
	}
	n := 0
	if err := s.List(context.Background(), func(blobstore.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d blobs listed, want 1", n)
	}
}

// Seek: reads from any offset, across chunk boundaries, as http.ServeContent
// does for a Range.
func Seek(t testing.TB, h Harness) {
	s := open(t, h)
	data := random(t, 2<<20+100)
	info := put(t, s, data)
	b, err := s.Open(context.Background(), info.Digest)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, off := range []int64{0, 1, 1<<20 - 3, 1 << 20, 2<<20 + 99, 5} {
		if _, err := b.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 10)
		n, err := io.ReadFull(b, got)
		want := data[off:min(off+10, int64(len(data)))]
		if !bytes.Equal(got[:n], want) || (err != nil && !errors.Is(err, io.ErrUnexpectedEOF)) {
			t.Fatalf("at %d: got %x (%v), want %x", off, got[:n], err, want)
		}
	}
	if end, err := b.Seek(0, io.SeekEnd); err != nil || end != int64(len(data)) {
		t.Fatalf("seek end: %d, %v", end, err)
	}
}

// TooLarge: bytes past the limit fail the Put and store nothing.
func TooLarge(t testing.TB, h Harness) {
	s := open(t, h)
	data := random(t, 2<<20)
	if _, err := s.Put(context.Background(), bytes.NewReader(data), 1<<20); !errors.Is(err, blobstore.ErrTooLarge) {
		t.Fatalf("put over the limit: %v, want ErrTooLarge", err)
	}
	if _, err := s.Open(context.Background(), digestOf(data)); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("open after a refused put: %v, want ErrNotFound", err)
	}
	assertEmpty(t, s)
	if _, err := s.Put(context.Background(), bytes.NewReader(data[:1<<20]), 1<<20); err != nil {
		t.Fatalf("put at the limit: %v", err)
	}
}

func assertEmpty(t testing.TB, s blobstore.Store) {
	t.Helper()
	if err := s.List(context.Background(), func(i blobstore.Info) error {
		t.Errorf("unexpected blob %s", i.Digest)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// Delete: only a blob stored before the time given goes; then it is gone
// for good, and deleting it again reports nothing removed.
func Delete(t testing.TB, h Harness) {
	s := open(t, h)
	ctx := context.Background()
	data := random(t, 100)
	info := put(t, s, data)
	if ok, err := s.Delete(ctx, info.Digest, info.Stored.Add(-time.Hour)); err != nil || ok {
		t.Fatalf("delete of a blob stored after the cut-off: %v, %v; want false, nil", ok, err)
	}
	read(t, s, info.Digest)
	if ok, err := s.Delete(ctx, info.Digest, time.Now().Add(time.Hour)); err != nil || !ok {
		t.Fatalf("delete: %v, %v; want true, nil", ok, err)
	}
	if _, err := s.Open(ctx, info.Digest); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("open after delete: %v, want ErrNotFound", err)
	}
	if ok, err := s.Delete(ctx, info.Digest, time.Now().Add(time.Hour)); err != nil || ok {
		t.Fatalf("second delete: %v, %v; want false, nil", ok, err)
	}
	assertEmpty(t, s)
	// Stored again after a delete, it is whole.
	put(t, s, data)
	if !bytes.Equal(read(t, s, info.Digest), data) {
		t.Fatal("blob stored again differs")
	}
}

// List: every blob, with its size.
func List(t testing.TB, h Harness) {
	s := open(t, h)
	want := map[string]int64{}
	for i := range 5 {
		data := random(t, 10*i+1)
		want[put(t, s, data).Digest] = int64(len(data))
	}
	got := map[string]int64{}
	if err := s.List(context.Background(), func(i blobstore.Info) error {
		got[i.Digest] = i.Size
		if i.Stored.IsZero() {
			t.Errorf("%s: no stored time", i.Digest)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("listed %d blobs, want %d", len(got), len(want))
	}
	for d, n := range want {
		if got[d] != n {
			t.Fatalf("%s: size %d, want %d", d, got[d], n)
		}
	}
	stop := errors.New("stop")
	if err := s.List(context.Background(), func(blobstore.Info) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("list stopped by f: %v", err)
	}
}

// Concurrent: puts of the same and of different bytes at once all land.
func Concurrent(t testing.TB, h Harness) {
	s := open(t, h)
	same := random(t, 50000)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	distinct := make([][]byte, 8)
	for i := range distinct {
		distinct[i] = random(t, 3000)
	}
	for i := range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := s.Put(context.Background(), bytes.NewReader(same), 0)
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := s.Put(context.Background(), bytes.NewReader(distinct[i]), 0)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(read(t, s, digestOf(same)), same) {
		t.Fatal("concurrently stored blob differs")
	}
	for _, d := range distinct {
		if !bytes.Equal(read(t, s, digestOf(d)), d) {
			t.Fatal("blob differs")
		}
	}
}

// Durability: blobs survive a reopen.
func Durability(t testing.TB, h Harness) {
	s := h.Open(t)
	data := random(t, 1<<20+5)
	info := put(t, s, data)
	s = h.Reopen(t, s)
	t.Cleanup(func() { s.Close() })
	if !bytes.Equal(read(t, s, info.Digest), data) {
		t.Fatal("blob differs after reopen")
	}
}

// BadInput: malformed digests are refused, not looked up; a failing
// reader stores nothing.
func BadInput(t testing.TB, h Harness) {
	s := open(t, h)
	ctx := context.Background()
	for _, d := range []string{"", "sha256:", "md5:00", "sha256:../../etc/passwd", "sha256:" + strings.Repeat("A", 64), "sha256:" + strings.Repeat("0", 63)} {
		if _, err := s.Open(ctx, d); !errors.Is(err, blobstore.ErrBadDigest) {
			t.Errorf("open %q: %v, want ErrBadDigest", d, err)
		}
		if _, err := s.Delete(ctx, d, time.Now()); !errors.Is(err, blobstore.ErrBadDigest) {
			t.Errorf("delete %q: %v, want ErrBadDigest", d, err)
		}
	}
	broken := errors.New("connection reset")
	if _, err := s.Put(ctx, io.MultiReader(bytes.NewReader(random(t, 1<<20+1)), errReader{broken}), 0); !errors.Is(err, broken) {
		t.Fatalf("put from a failing reader: %v", err)
	}
	assertEmpty(t, s)
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
