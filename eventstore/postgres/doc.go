// Package postgres is the event store on PostgreSQL (through pgx/v5), for
// deployments with several confab nodes.
//
// # Global order with concurrent writers
//
// Each event row records the ID of the transaction that wrote it (xid8)
// and a sequence-assigned position; the global order is (xid, position).
// Sequence numbers are handed out when rows are inserted, not when they
// commit, so a reader that simply asks for "position > last" can read
// position 11 before the transaction holding position 10 commits, move its
// checkpoint past 10, and lose that event for good. Readers here only read
// rows whose transaction ID is below pg_snapshot_xmin(pg_current_snapshot()),
// the oldest transaction still running: every transaction below it has
// finished, so no row can appear below the line after it was read.
//
// # Appends
//
// Appends go through an eventstore.GroupCommitter with a few writers (two
// by default), each serving its share of the streams: concurrent appends
// are committed as one batch, in one statement, one round trip and one WAL
// flush. The statement calls confab_append_batch, a PL/pgSQL function
// created by the migrations, with the batch as arrays: it takes the
// transaction-scoped advisory lock of every stream of the batch (in key
// order, before writing anything), checks each append's expected revision
// as if the appends ran one after the other, and inserts the events of
// those that pass with one INSERT. A batch that reuses event IDs (a retried
// append, an ID used in another stream) is checked in Go instead, in a
// transaction of two round trips, which tells retries from conflicts. If a
// batch fails as a whole (an event ID taken concurrently in another
// stream), its appends are retried one per transaction so that only the
// offending one fails.
//
// The global order stays consistent with each stream's revisions because a
// transaction takes the locks of all its streams before its first write,
// which is when it gets its xid: it is younger than every transaction that
// wrote these streams before, and older than every one that will.
//
// # Subscriptions
//
// After appending, a notifier sends a NOTIFY on the confab_events channel
// (outside the appending transactions, one per burst of commits); a listener
// connection turns notifications into wake-ups of local subscribers, which
// then read by (xid, position) like any reader. NOTIFY is only a wake-up:
// subscribers also poll, so a lost notification delays but never loses
// events.
//
// # Faults
//
// The store reconnects by itself. The pool checks idle connections every
// 5 s (at most) and pings those idle for more than a second before use,
// so the connections a restart or pg_terminate_backend killed are
// replaced; a transaction that failed before anything was sent is
// retried at once. Errors of a database that is down, restarting or out
// of disk (eventstore.Classify: Transient) are wrapped with
// eventstore.ErrUnavailable, so that commands fail with "unavailable"
// and nothing is acknowledged. The listener is a supervised loop: it
// listens again once it can, and then wakes every subscriber, whose read
// catches up with what was appended meanwhile.
//
// The schema is created and migrated on Open with goose, under a session
// advisory lock so that several nodes can start at once.
package postgres
