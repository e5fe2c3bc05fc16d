// Package postgres keeps blobs in PostgreSQL, in the database of the
// events, so that every node of a cluster reads every blob: confab_blobs
// has a row per blob (digest, size, stored_at), confab_blob_chunks its
// bytes in bytea rows of ChunkSize (1 MiB), so that no value is huge and
// a Range read fetches only the chunks it needs. Open creates the tables.
// A Put runs in one transaction (its chunks under a temporary name until
// the digest is known); Delete takes the blob's row lock, so a concurrent
// Put of the same bytes is ordered after or before it, never lost. The
// only shared state is the pgx pool.
package postgres
