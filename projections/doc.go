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
// # Applying a batch
//
// On PostgreSQL, where every statement is a round trip, the applier folds
// each batch (fold.go, tables.go, bulk_postgres.go): it decodes the
// events, loads every row they touch with one query (the keys as arrays
// joined with the tables by primary key), applies the events to those
// rows in memory, and writes the rows that changed with one statement of
// data-modifying WITH queries (per table, an INSERT of the new rows, an
// UPDATE of the changed ones, a DELETE of the removed ones). A batch
// costs seven round trips whatever its size, and a row that changes many
// times in a batch (a room's last_seq, a message posted, edited, reacted
// to and deleted, a read marker) is written once. Rows that cannot exist
// yet (the message a MessagePosted inserts) are not loaded; a closed
// applier's batch, its maps grown, goes to a sync.Pool for the next
// transaction (batches). The applier's
// transaction joins by nested loops with generic plans (joinsByIndex):
// a fresh shadow table's statistics would otherwise have the planner scan
// whole tables once per batch. On SQLite, in the process, each event runs
// its statements as it comes (statements.go); both give the same rows
// (fold_test.go). The same fold, with no database, shows one room:
// a Timeline (replay.go) applies the room's events to rows that start
// empty and are kept from event to event, and returns the room, members,
// messages with their reactions and calls as the queries do; confab
// events replay shows a room's history with it (replay_test.go checks
// that it equals the read models at the head, on both databases).
// Rebuild and RebuildShadow read the log one batch ahead
// of what they apply, on a goroutine of their own that ends with them
// (readahead.go).
//
// Run feeds Apply from the bus (bus.Follow from the checkpoint, user and
// room streams only). Given a supervise.Loop it survives the database's
// and the bus's faults: transient errors (a lost connection, a restart, a
// full disk) are retried with backoff from the last applied event, and
// only a fatal one (an event that does not decode, eventstore.ErrCorrupt;
// a query the database rejects) ends it. WaitFor blocks until a position is applied: the
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
// # One projection, rebuilt in the shadow
//
// The read models form one projection, named "read_models" (ReadModels,
// Names), with one checkpoint, rather than one projection per read model
// (rooms, messages, presence, calls) each with its own. They are not
// independent: an event touches several tables in one transaction (a
// MessagePosted inserts a message and moves its room's last_seq and
// activity; a MessageDeleted updates the message and drops its reactions;
// a ReactionAdded reads proj_messages), and queries join them (unread
// counts join rooms, members, messages and read markers; presence joins
// members and connections). One checkpoint keeps every query on one
// position of the log, so a reader never sees a message whose room does
// not show it, and keeps Rebuild == incremental a property of one
// function of the log (verify_test.go). Split projections would need
// per-projection appliers that still agree with each other at every
// moment, for little gain: rebuilding one read model alone saves time
// only if the others are large, and the shadow rebuild below already
// rebuilds without downtime. Should a read model ever become independent
// and big (a search index), it can get its own name and checkpoint then.
//
// RebuildShadow rebuilds without stopping the server. It copies the live
// tables' schema from the catalog (sqlite_master; PostgreSQL's
// pg_constraint and pg_get_indexdef) into empty shadow_proj_* tables,
// with their indexes and constraints, and applies the log to them with
// the same applier (its statements renamed to the shadow tables),
// checkpointed in proj_shadow: an interrupted rebuild resumes there, and
// one whose schema changed meanwhile (a migration ran) starts over. Once
// it has caught up with the store it swaps, in one transaction that first
// takes the live checkpoint row (so the live appliers, in every process,
// wait): it applies the events appended since (at most a few batches; a
// longer tail is caught up outside the transaction first), drops the live
// tables, renames the shadow tables and their indexes to the live names
// (SQLite cannot rename an index, so there the indexes are made again),
// moves the checkpoint to the shadow's and deletes the shadow state. On
// PostgreSQL it takes the tables with a lock_timeout, and a swap that
// times out or loses a deadlock to a reader is retried. The
// live appliers go on from there, skipping what the swap applied; readers
// see the old tables until the commit and the new ones after. With Verify
// it first brings both to the same position, pauses the live appliers
// with the rebuilding mark, compares the tables row for row (EXCEPT both
// ways, in the database) outside any write lock, and swaps only if they
// are equal. Status reports the checkpoint, row counts and any shadow;
// Behind counts the events after a checkpoint.
//
// The files: shadow.go runs a rebuild (RebuildShadow, catch-up, tail,
// swap); shadow_state.go keeps its state row and prepares or discards the
// shadow; shadow_schema.go renames to the shadow, reads the catalog and
// swaps the tables, with each dialect's catalog in shadow_sqlite.go and
// shadow_postgres.go; shadow_verify.go compares shadow and live; dump.go
// has the one row formatter (formatRows) that Dump and verify share.
//
// # Tables
//
//	proj_checkpoint    the last applied position, and the rebuilding mark
//	proj_users         accounts; last_seen is the latest ConnectionClosed; display
//	                   name, avatar and status (accounts.go: a deleted user's
//	                   row stays, its username, display name and avatar emptied)
//	proj_sessions      sessions not ended, by token hash: client, start, last recorded use
//	proj_rooms         rooms: current name and invite code, last_seq, last activity
//	proj_members       current members and roles
//	proj_bans          current bans
//	proj_messages      room timelines: one row per MessagePosted, edits and deletions applied;
//	                   replies in threads carry their root's seq (thread_root) and are
//	                   left out of the timeline's queries and unread counts
//	proj_reactions     reactions of live messages
//	proj_read_markers  each user's last read sequence number per room
//	proj_threads       per thread root: live replies, latest reply (threads.go)
//	proj_thread_reads  each user's last read sequence number per thread
//	proj_connections   open connections: a user with one is online
//	proj_node_leases   node leases for the presence reaper
//	proj_search        the search index: one row per live message (text, sender,
//	                   mentions, attachments, links), by room and seq, ordered by
//	                   the log position of its MessagePosted
//	proj_search_fts    SQLite only: the FTS5 index of proj_search's text and
//	                   mentions
//	proj_pins          pinned live messages per room (pins.go, migration 00007)
//	proj_room_settings rooms whose settings were set: members_can_pin
//	proj_notify        each user's notification level per room, when not "all"
//	proj_shadow        progress of shadow rebuilds (made by the first one)
//
// # Search
//
// proj_search is a read model like the others (migration 00005): both
// appliers write it, Rebuild empties it, RebuildShadow copies and swaps
// it, Dump lists it. Its word index depends on the database and is made
// by Open (search_index.go): on SQLite a contentless FTS5 table,
// proj_search_fts, whose rowid is proj_search.pos, which the SQLite
// applier writes beside proj_search and which a shadow rebuild copies
// and swaps with the read models (schemaTables); on PostgreSQL a stored
// generated tsvector column with a GIN index (its pending list of new
// entries, which every query scans, held to 256 kB), in the text search
// configuration WithSearchLanguage names ("simple" by default), and a
// GIN index of the mentions of the rows that have some. Search
// (search.go) takes a SearchQuery that ParseSearchQuery
// (search_query.go) made from the user's text, and builds the index's
// query (an FTS5 MATCH, a tsquery) from its words, which hold only
// letters and digits: nothing the user types is query syntax. It
// searches the rooms the user is a member of at the query's snapshot,
// newest first by pos: on SQLite the FTS5 index yields its rowids in
// that order; on PostgreSQL the query runs in spans of positions, each
// as wide as the density of the matches so far says the page needs, so
// that neither a common word (every match read and sorted) nor a rare
// one (every row walked) is slow.
//
// A session's last use comes from SessionUsed events, which the gateway
// appends at most once per touch interval per session
// (domain.SessionPolicy.TouchInterval), so last_used_at is a function of
// the log like every other column; whether a session has expired is left
// to the reader, who has the clock.
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
