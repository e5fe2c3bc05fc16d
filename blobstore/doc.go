// Package blobstore is the contract of confab's blob stores, which keep
// the bytes of attachments (and their thumbnails) by the SHA-256 of those
// bytes: a blob's name is its content, so the same file uploaded twice is
// stored once, and a blob never changes once stored.
//
// What refers to a blob lives in the event log (domain.AttachmentUploaded
// in the uploader's stream, domain.MessagePosted in the room's): the
// store holds bytes, not ownership. A collector (cmd/confab) deletes the
// blobs nothing live refers to; Delete takes a time so that it removes
// only blobs not Put again since it decided (a Put of bytes stored
// already marks them stored anew).
//
// Adapters, one package each, all pass the suite of blobtest:
//   - file: files under a directory (the embedded default, beside the
//     SQLite event store), written to a temporary file, fsynced, renamed
//     into place and the directory fsynced;
//   - postgres: the bytes in 1 MiB bytea rows in the database of the
//     events, so that every node of a cluster sees every blob.
//
// Neither keeps goroutines or locks of its own beyond the database pool.
package blobstore
