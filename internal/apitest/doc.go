// Package apitest is a client of confab's public API (REST and WebSocket)
// for end-to-end tests and the load generator: it speaks only what
// docs/protocol.md documents.
package apitest
