// Package sqlite is the embedded event store: one SQLite file (through
// modernc.org/sqlite, pure Go, no cgo) in WAL mode with synchronous=FULL,
// so an append has been fsynced when it returns.
//
// Writes go through one connection and an eventstore.GroupCommitter:
// appends that arrive together are committed in one transaction, sharing
// one fsync, which is what makes tens of thousands of durable appends per
// second possible on an ordinary disk. The writer keeps the last revision
// of the streams it has written, so that an append is usually a single
// INSERT (see writer for why a stale revision, after another process
// appended, is always caught). Because there is a single writer, the
// table's AUTOINCREMENT position is assigned in commit order and is the
// global order by itself. Reads use a separate pool of connections, which
// WAL lets run beside the writer; a large ReadAll is split between two of
// them. Both sides go through the driver connection rather than
// database/sql's statements and Scan, whose per-row conversions cost more
// than SQLite's work here.
//
// Subscribers in this process are woken as soon as a batch commits; a
// writer in another process (the admin CLI importing events) is noticed
// by polling.
//
// The schema is created and migrated on Open with goose; the SQL files are
// in migrations/.
package sqlite
