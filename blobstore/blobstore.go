package blobstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"
)

// Store keeps blobs by the SHA-256 of their bytes.
type Store interface {
	// Put stores the bytes r yields and returns the blob's digest and
	// size. If r yields more than max bytes (max > 0), Put fails with
	// ErrTooLarge and stores nothing. Putting bytes that are stored
	// already stores them once and marks the blob as stored now (see
	// Delete).
	Put(ctx context.Context, r io.Reader, max int64) (Info, error)
	// Open returns the blob's bytes, or ErrNotFound.
	Open(ctx context.Context, digest string) (Blob, error)
	// Delete removes the blob if its last Put was before olderThan, so
	// that a collector does not remove a blob an upload has just stored
	// again. It reports whether it removed it; an absent blob is not an
	// error.
	Delete(ctx context.Context, digest string, olderThan time.Time) (bool, error)
	// List calls f with each stored blob, in no particular order, until f
	// returns an error, which List returns.
	List(ctx context.Context, f func(Info) error) error
	Close() error
}

// Info describes a stored blob.
type Info struct {
	Digest string // "sha256:" and the hex SHA-256 of the bytes
	Size   int64
	Stored time.Time // when it was last Put
}

// Blob is a stored blob's bytes, open for reading.
type Blob interface {
	io.ReadSeekCloser
	Size() int64
}

var (
	// ErrNotFound: no blob has that digest.
	ErrNotFound = errors.New("blobstore: no such blob")
	// ErrTooLarge: the bytes exceeded the limit given to Put.
	ErrTooLarge = errors.New("blobstore: blob too large")
	// ErrBadDigest: a digest that is not "sha256:" and 64 lower-case hex
	// digits.
	ErrBadDigest = errors.New("blobstore: malformed digest")
)

// DigestPrefix starts every digest.
const DigestPrefix = "sha256:"

// CheckDigest returns the hex part of digest, or ErrBadDigest.
func CheckDigest(digest string) (string, error) {
	h, ok := strings.CutPrefix(digest, DigestPrefix)
	if !ok || len(h) != sha256.Size*2 || strings.ToLower(h) != h {
		return "", fmt.Errorf("%w: %q", ErrBadDigest, digest)
	}
	if _, err := hex.DecodeString(h); err != nil {
		return "", fmt.Errorf("%w: %q", ErrBadDigest, digest)
	}
	return h, nil
}

// Hasher counts and hashes the bytes written to it, and fails a write
// past a limit: what adapters copy a Put's bytes through.
type Hasher struct {
	h   hash.Hash
	n   int64
	max int64
}

// NewHasher returns a Hasher that fails past max bytes (none if max <= 0).
func NewHasher(max int64) *Hasher { return &Hasher{h: sha256.New(), max: max} }

// Write hashes p, or returns ErrTooLarge if it takes the count past the
// limit.
func (h *Hasher) Write(p []byte) (int, error) {
	if h.max > 0 && h.n+int64(len(p)) > h.max {
		return 0, ErrTooLarge
	}
	h.n += int64(len(p))
	return h.h.Write(p)
}

// Size is the number of bytes written.
func (h *Hasher) Size() int64 { return h.n }

// Digest is the digest of the bytes written.
func (h *Hasher) Digest() string { return DigestPrefix + hex.EncodeToString(h.h.Sum(nil)) }
