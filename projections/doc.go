// Package projections builds confab's read models (users, sessions, rooms,
// memberships, room timelines, presence, unread counts) from the event log.
// Each projection is a checkpointed consumer that writes its rows and its
// checkpoint in one transaction, is idempotent, and is a pure function of
// the log: rebuilt from position zero it yields the same rows.
//
// This package must not import pgx, pion, net/http or NATS
// (internal/archtest checks); storage is reached through interfaces
// declared here.
package projections
