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
// Appends go through an eventstore.GroupCommitter with a few writers:
// concurrent appends are sent as one pipelined batch of confab_append calls
// in one transaction (one round trip and one WAL flush for the batch).
// confab_append, a PL/pgSQL function created by the migrations, takes a
// transaction-scoped advisory lock on the stream, checks the event IDs for
// a retried append, checks the expected revision, and inserts. If a batch
// fails as a whole (a deadlock between two writers' batches, an event ID
// taken concurrently in another stream), its appends are retried one per
// transaction so that only the offending one fails.
//
// # Subscriptions
//
// Appending transactions NOTIFY the confab_events channel; a listener
// connection turns notifications into wake-ups of local subscribers, which
// then read by (xid, position) like any reader. NOTIFY is only a wake-up:
// subscribers also poll, so a lost notification delays but never loses
// events.
//
// The schema is created and migrated on Open with goose, under a session
// advisory lock so that several nodes can start at once.
package postgres
