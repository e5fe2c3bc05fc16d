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
// than SQLite's work here. Each reader connection keeps its statements
// prepared (stmtCache: a map by driver connection, used inside Conn.Raw;
// its RWMutex keeps Close from finalizing a statement in use), and a
// read's LIMIT is part of its statement's text, since a bound one makes
// SQLite compile the statement again at every run.
//
// Subscribers in this process are woken as soon as a batch commits; a
// writer in another process (the admin CLI importing events) is noticed
// by polling.
//
// A full disk refuses appends instead of failing them half way: before
// each batch the writer checks the free space of the file's filesystem
// (space: a statfs at most every 100 ms, sooner if the bytes written since
// may have used up the margin) against Options.MinFree, and refuses the
// batch with eventstore.ErrUnavailable below it. A commit SQLite fails
// with SQLITE_FULL or SQLITE_IOERR is ErrUnavailable too. Nothing is
// stored either way, reads go on, and appends work again as soon as the
// space is back. Health tells which state the store is in. The handles
// OpenDB gives the read models return modernc's errors as they are:
// eventstore.Classify calls SQLITE_FULL, SQLITE_IOERR and SQLITE_READONLY
// transient, so their loop retries and the gateway answers "unavailable".
//
// The schema is created and migrated on Open with goose; the SQL files are
// in migrations/. Opening writes nothing when no migration is pending,
// but SQLite needs a little space for its shared-memory index: if the
// writer cannot open for want of space, the store opens read-only
// (immutable when no write-ahead log is left), serves reads, refuses
// appends, and stays so until it is opened again.
package sqlite
