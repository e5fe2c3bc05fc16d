package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/confabhq/confab/blobstore"
)

var _ blobstore.Store = (*Store)(nil)

// Store keeps blobs as files under a directory: dir/sha256/ab/abcd... for
// the blob whose digest's hex starts with ab, and dir/tmp for Puts in
// progress (emptied by Open: what a crash left there).
type Store struct {
	dir string
	now func() time.Time
}

// Open returns the store under dir, creating it if need be.
func Open(dir string) (*Store, error) {
	for _, d := range []string{filepath.Join(dir, "sha256"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("blob store: %w", err)
		}
	}
	tmp := filepath.Join(dir, "tmp")
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	for _, e := range entries {
		os.Remove(filepath.Join(tmp, e.Name()))
	}
	return &Store{dir: dir, now: time.Now}, nil
}

func (s *Store) path(hexDigest string) string {
	return filepath.Join(s.dir, "sha256", hexDigest[:2], hexDigest)
}

// Put writes r to a temporary file, fsyncs it, then renames it into
// place and fsyncs the directory; bytes stored already have their file's
// modification time set to now instead.
func (s *Store) Put(ctx context.Context, r io.Reader, max int64) (blobstore.Info, error) {
	f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "put-*")
	if err != nil {
		return blobstore.Info{}, fmt.Errorf("put blob: %w", err)
	}
	tmp := f.Name()
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(tmp)
		}
	}()
	h := blobstore.NewHasher(max)
	if _, err := io.Copy(io.MultiWriter(h, f), contextReader{ctx, r}); err != nil {
		return blobstore.Info{}, fmt.Errorf("put blob: %w", err)
	}
	if err := f.Sync(); err != nil {
		return blobstore.Info{}, fmt.Errorf("put blob: %w", err)
	}
	if err := f.Close(); err != nil {
		return blobstore.Info{}, fmt.Errorf("put blob: %w", err)
	}
	digest := h.Digest()
	hexDigest, _ := blobstore.CheckDigest(digest)
	dst := s.path(hexDigest)
	now := s.now()
	info := blobstore.Info{Digest: digest, Size: h.Size(), Stored: now}
	if _, err := os.Stat(dst); err == nil {
		if err := os.Chtimes(dst, now, now); err != nil {
			return blobstore.Info{}, fmt.Errorf("put blob: %w", err)
		}
		return info, nil
	}
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return blobstore.Info{}, fmt.Errorf("put blob: %w", err)
	}
	if err := os.Chtimes(tmp, now, now); err != nil {
		return blobstore.Info{}, fmt.Errorf("put blob: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return blobstore.Info{}, fmt.Errorf("put blob: %w", err)
	}
	done = true
	if err := syncDir(dir); err != nil {
		return blobstore.Info{}, fmt.Errorf("put blob: %w", err)
	}
	return info, nil
}

// Open opens the blob's file.
func (s *Store) Open(ctx context.Context, digest string) (blobstore.Blob, error) {
	h, err := blobstore.CheckDigest(digest)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(s.path(h))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, blobstore.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("open blob: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open blob: %w", err)
	}
	return fileBlob{f, st.Size()}, nil
}

type fileBlob struct {
	*os.File
	size int64
}

func (b fileBlob) Size() int64 { return b.size }

// Delete removes the blob's file if it was last modified before
// olderThan. Between the check and the removal a Put of the same bytes
// may touch the file: that window is a stat and an unlink wide.
func (s *Store) Delete(ctx context.Context, digest string, olderThan time.Time) (bool, error) {
	h, err := blobstore.CheckDigest(digest)
	if err != nil {
		return false, err
	}
	p := s.path(h)
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("delete blob: %w", err)
	}
	if !st.ModTime().Before(olderThan) {
		return false, nil
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("delete blob: %w", err)
	}
	return true, syncDir(filepath.Dir(p))
}

// List walks the blob files.
func (s *Store) List(ctx context.Context, f func(blobstore.Info) error) error {
	root := filepath.Join(s.dir, "sha256")
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking
			}
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if d.IsDir() {
			return nil
		}
		digest := blobstore.DigestPrefix + d.Name()
		if _, err := blobstore.CheckDigest(digest); err != nil {
			return nil // not a blob
		}
		st, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		return f(blobstore.Info{Digest: digest, Size: st.Size(), Stored: st.ModTime()})
	})
}

// Close does nothing: the store holds no open files between calls.
func (s *Store) Close() error { return nil }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// contextReader stops a copy when ctx ends.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
