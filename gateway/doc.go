// Package gateway is confab's edge: the HTTP API under /api/v1, the
// WebSocket that streams committed events to clients, and the health
// endpoints operators and orchestrators probe. It authenticates callers,
// turns requests into commands and queries, and translates errors into
// statuses and error codes in one place.
//
// # Sessions
//
// Every authentication (lookupSession) checks the session's expiry by the
// commands' domain.SessionPolicy and, when its recorded last use is a
// touch interval old, records a new one in a short-lived goroutine (at
// most one per session per node: Gateway.touching). Run also runs the
// session loop, which every sweep touches the sessions of this node's
// open WebSockets and closes, with 4001 "session expired", those past
// their maximum age; the hub closes the WebSockets of a session whose
// SessionEnded it sees, on every node (sessions.go).
package gateway
