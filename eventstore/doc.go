// Package eventstore defines the contract every confab event store adapter
// implements, and the small pieces of logic the adapters share.
//
// An event store holds streams of events. Each stream (for example
// "user-<id>" or "room-<id>") is an append-only list whose revisions are
// contiguous from 1: a room stream's revision is the room's sequence number.
// Across all streams every event also has a global Position, and the store
// offers one total order of all events by Position that never changes once
// an event is visible to a reader. Subscribers use that order to tail the
// store from a checkpoint: they catch up from the store and then follow live
// appends with no gap and no duplicate at the hand-over.
//
// Appends are optimistic: the caller states what revision it expects the
// stream to be at (Any, NoStream, StreamExists or an exact revision) and a
// mismatch fails with a *WrongRevisionError. Appends are idempotent by
// event ID: appending events whose IDs are already stored, in the same
// stream and order, stores nothing and returns the original result.
//
// Classify sorts errors into transient (retry later: a lost connection,
// a restarting server, a full disk, a timeout), fatal (corrupted data, a
// bug) and unknown, by the errors of this package and the standard
// library and the interfaces drivers' errors implement (SQLState,
// SafeToRetry, Timeout, SQLite's Code), so that it imports no driver.
// Adapters wrap their transient errors with ErrUnavailable (Unavailable);
// long-running loops (package internal/supervise) retry what is not fatal.
//
// Adapters live in sub-packages named after their technology (sqlite,
// postgres, eventstoredb) and all pass the one conformance suite in
// package storetest.
package eventstore
