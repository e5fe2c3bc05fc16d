// Package projections builds confab's read models (users, sessions, rooms,
// memberships, bans, room timelines with reactions, read markers, unread
// counts, presence) from the event log, in the database that holds the
// events: a SQLite file or PostgreSQL, reached through database/sql with
// the caller's driver ("sqlite" from modernc.org/sqlite, "pgx" from pgx's
// stdlib), so that this package imports no database driver.
//
// # Applying events
//
// Open migrates the schema (goose, history table
// confab_projections_migrations) and returns a *Projections. Apply takes a
// batch of recorded events in global order and, in one transaction,
// updates every read model and moves the checkpoint to the batch's last
// event. Events at or before the checkpoint are skipped, so a batch
// delivered twice changes nothing; events of unknown types are skipped but
// still move the checkpoint. The transaction starts by locking the
// checkpoint row, so appliers in several processes sharing a database
// apply each event exactly once.
//
// Run feeds Apply from the bus (bus.Follow from the checkpoint, user and
// room streams only). WaitFor blocks until a position is applied: the
// gateway's read-your-writes after a command.
//
// The read models are a pure function of the log: times come from the
// events (their At, else the store's RecordedAt), never from the clock, and
// a room event's sequence number is its stream revision. Rebuild empties
// them and applies the whole log again; it yields the same rows, which
// Dump shows. While a rebuild runs the checkpoint row says so and Apply,
// in any process, waits for it to end; a failed Rebuild leaves that mark,
// and Apply waits until a Rebuild succeeds.
//
// # Tables
//
//	proj_checkpoint    the last applied position, and the rebuilding mark
//	proj_users         accounts; last_seen is the latest ConnectionClosed
//	proj_sessions      active sessions by token hash
//	proj_rooms         rooms: current name and invite code, last_seq, last activity
//	proj_members       current members and roles
//	proj_bans          current bans
//	proj_messages      room timelines: one row per MessagePosted, edits and deletions applied
//	proj_reactions     reactions of live messages
//	proj_read_markers  each user's last read sequence number per room
//	proj_connections   open connections: a user with one is online
//	proj_node_leases   node leases for the presence reaper
//
// proj_node_leases is operational state, not a projection: RenewLease,
// DropLease and ExpiredNodes maintain it, Rebuild keeps it and Dump leaves
// it out. Times are BIGINT Unix microseconds (0: never), lists JSON text,
// and the SQL is written once for both databases, with ? placeholders that
// Dialect.Rebind turns into $n for PostgreSQL.
//
// Queries return errors of kind domain.KindNotFound for what does not
// exist, and domain.KindInvalid for bad arguments.
//
// This package must not import pgx, pion, net/http or NATS
// (internal/archtest checks).
package projections
