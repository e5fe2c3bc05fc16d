// Package supervise keeps confab's long-running loops (the relay, the
// projections, the gateway's followers, presence, node leases and
// reapers) alive through the faults of their dependencies, and shows
// their state.
//
// A Loop runs a function again when it fails with an error that is not
// fatal (eventstore.Classify): after a capped exponential backoff with
// jitter, from wherever the function resumes (its last checkpoint). The
// function reports progress with Healthy, which resets the backoff.
// Periodic loops that never return (presence, leases) report each round
// with Healthy or Failed instead of being run by Run.
//
// Each loop has a State (starting, running, retrying, stopped, failed),
// a retry count and its last error, read by Status; a Set holds a node's
// loops, for /readyz (Set.Check: 503 while any loop retries, with the
// reason) and /metrics (Set.Statuses). A loop logs once per change of
// state (a warning when it starts retrying, an error if the error is not
// recognised, info when it recovers, with the retries and downtime),
// never once per failure.
//
// Only a fatal error ends a Run (and so the process): it is logged at
// error level with the loop's name first.
//
// Locks: each Loop has one mutex over its state; Set has one over its
// list. Neither is held while calling out (logging apart).
package supervise
