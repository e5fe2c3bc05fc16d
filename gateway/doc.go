// Package gateway is confab's edge: the HTTP API under /api/v1, the
// WebSocket that streams committed events to clients, and the health
// endpoints operators and orchestrators probe. It authenticates callers,
// turns requests into commands and queries, and translates errors into
// statuses and error codes in one place.
package gateway
