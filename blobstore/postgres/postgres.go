package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/confabhq/confab/blobstore"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

var _ blobstore.Store = (*Store)(nil)

// ChunkSize is the size of a blob's rows in confab_blob_chunks.
const ChunkSize = 1 << 20

const schema = `
CREATE TABLE IF NOT EXISTS confab_blobs (
	digest    TEXT PRIMARY KEY,
	size      BIGINT NOT NULL,
	stored_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS confab_blob_chunks (
	digest TEXT NOT NULL,
	n      INTEGER NOT NULL,
	data   BYTEA NOT NULL,
	PRIMARY KEY (digest, n)
);`

// Store keeps blobs in PostgreSQL: a row per blob in confab_blobs and its
// bytes in rows of ChunkSize in confab_blob_chunks.
type Store struct {
	pool *pgxpool.Pool
	own  bool
}

// Open connects to url and creates the tables if need be.
func Open(ctx context.Context, url string) (*Store, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	s, err := New(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.own = true
	return s, nil
}

// New returns the store on pool (which Close leaves open), creating the
// tables if need be.
func New(ctx context.Context, pool *pgxpool.Pool) (*Store, error) {
	if _, err := pool.Exec(ctx, schema); err != nil {
		return nil, fmt.Errorf("blob store: create tables: %w", err)
	}
	return &Store{pool: pool}, nil
}

// Put writes the chunks under a temporary name in one transaction, then
// names them by their digest, or drops them if the blob is stored
// already (and marks it stored now): an interrupted Put leaves nothing.
func (s *Store) Put(ctx context.Context, r io.Reader, max int64) (blobstore.Info, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return blobstore.Info{}, fmt.Errorf("put blob: %w", err)
	}
	defer tx.Rollback(context.Background())
	tmp := "tmp:" + uuid.NewString()
	h := blobstore.NewHasher(max)
	buf := make([]byte, ChunkSize)
	for n := 0; ; n++ {
		k, err := io.ReadFull(r, buf)
		if k > 0 {
			if _, werr := h.Write(buf[:k]); werr != nil {
				return blobstore.Info{}, fmt.Errorf("put blob: %w", werr)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO confab_blob_chunks (digest, n, data) VALUES ($1, $2, $3)`, tmp, n, buf[:k]); err != nil {
				return blobstore.Info{}, fmt.Errorf("put blob: %w", err)
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return blobstore.Info{}, fmt.Errorf("put blob: %w", err)
		}
	}
	digest := h.Digest()
	var stored time.Time
	var inserted bool
	err = tx.QueryRow(ctx, `INSERT INTO confab_blobs (digest, size, stored_at) VALUES ($1, $2, now())
		ON CONFLICT (digest) DO UPDATE SET stored_at = now() RETURNING stored_at, xmax = 0`, digest, h.Size()).Scan(&stored, &inserted)
	if err != nil {
		return blobstore.Info{}, fmt.Errorf("put blob: %w", err)
	}
	if inserted {
		_, err = tx.Exec(ctx, `UPDATE confab_blob_chunks SET digest = $1 WHERE digest = $2`, digest, tmp)
	} else {
		_, err = tx.Exec(ctx, `DELETE FROM confab_blob_chunks WHERE digest = $1`, tmp)
	}
	if err != nil {
		return blobstore.Info{}, fmt.Errorf("put blob: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return blobstore.Info{}, fmt.Errorf("put blob: %w", err)
	}
	return blobstore.Info{Digest: digest, Size: h.Size(), Stored: stored}, nil
}

// Open returns a reader that fetches the chunk it is in, one at a time.
func (s *Store) Open(ctx context.Context, digest string) (blobstore.Blob, error) {
	if _, err := blobstore.CheckDigest(digest); err != nil {
		return nil, err
	}
	var size int64
	err := s.pool.QueryRow(ctx, `SELECT size FROM confab_blobs WHERE digest = $1`, digest).Scan(&size)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, blobstore.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("open blob: %w", err)
	}
	return &blob{ctx: ctx, pool: s.pool, digest: digest, size: size, chunk: -1}, nil
}

// blob reads a blob chunk by chunk. Its ctx is the Open's: the reader
// lives within the request that opened it.
type blob struct {
	ctx    context.Context
	pool   *pgxpool.Pool
	digest string
	size   int64
	off    int64
	chunk  int64 // the chunk in data, -1 if none
	data   []byte
}

func (b *blob) Size() int64 { return b.size }

func (b *blob) Read(p []byte) (int, error) {
	if b.off >= b.size {
		return 0, io.EOF
	}
	n := b.off / ChunkSize
	if n != b.chunk {
		var data []byte
		err := b.pool.QueryRow(b.ctx, `SELECT data FROM confab_blob_chunks WHERE digest = $1 AND n = $2`, b.digest, n).Scan(&data)
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, fmt.Errorf("read blob %s: chunk %d: %w", b.digest, n, blobstore.ErrNotFound)
		}
		if err != nil {
			return 0, fmt.Errorf("read blob %s: %w", b.digest, err)
		}
		b.chunk, b.data = n, data
	}
	i := b.off - n*ChunkSize
	if i >= int64(len(b.data)) {
		return 0, io.ErrUnexpectedEOF
	}
	k := copy(p, b.data[i:])
	b.off += int64(k)
	return k, nil
}

func (b *blob) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += b.off
	case io.SeekEnd:
		offset += b.size
	default:
		return 0, errors.New("seek: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("seek: negative position")
	}
	b.off = offset
	return offset, nil
}

func (b *blob) Close() error { b.data = nil; return nil }

// Delete removes the blob and its chunks in one transaction if it was
// last stored before olderThan; a concurrent Put of the same bytes waits
// for it (the row lock), then stores them anew.
func (s *Store) Delete(ctx context.Context, digest string, olderThan time.Time) (bool, error) {
	if _, err := blobstore.CheckDigest(digest); err != nil {
		return false, err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("delete blob: %w", err)
	}
	defer tx.Rollback(context.Background())
	tag, err := tx.Exec(ctx, `DELETE FROM confab_blobs WHERE digest = $1 AND stored_at < $2`, digest, olderThan)
	if err != nil {
		return false, fmt.Errorf("delete blob: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	if _, err := tx.Exec(ctx, `DELETE FROM confab_blob_chunks WHERE digest = $1`, digest); err != nil {
		return false, fmt.Errorf("delete blob: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("delete blob: %w", err)
	}
	return true, nil
}

// List reads confab_blobs.
func (s *Store) List(ctx context.Context, f func(blobstore.Info) error) error {
	rows, err := s.pool.Query(ctx, `SELECT digest, size, stored_at FROM confab_blobs`)
	if err != nil {
		return fmt.Errorf("list blobs: %w", err)
	}
	var infos []blobstore.Info
	for rows.Next() {
		var i blobstore.Info
		if err := rows.Scan(&i.Digest, &i.Size, &i.Stored); err != nil {
			rows.Close()
			return fmt.Errorf("list blobs: %w", err)
		}
		infos = append(infos, i)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list blobs: %w", err)
	}
	for _, i := range infos {
		if err := f(i); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the pool if Open made it.
func (s *Store) Close() error {
	if s.own {
		s.pool.Close()
	}
	return nil
}
