// Package sqlite is the embedded event store: one SQLite file (through
// modernc.org/sqlite, pure Go, no cgo) in WAL mode with synchronous=FULL,
// so an append has been fsynced when it returns.
//
// Writes go through one connection and an eventstore.GroupCommitter:
// appends that arrive together are committed in one transaction, sharing
// one fsync, which is what makes tens of thousands of durable appends per
// second possible on an ordinary disk. Because there is a single writer,
// the table's AUTOINCREMENT position is assigned in commit order and is
// the global order by itself. Reads use a separate pool of connections,
// which WAL lets run beside the writer.
//
// Subscribers in this process are woken as soon as a batch commits; a
// writer in another process (the admin CLI importing events) is noticed
// by polling.
//
// The schema is created and migrated on Open with goose; the SQL files are
// in migrations/.
package sqlite
