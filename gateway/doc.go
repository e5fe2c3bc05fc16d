// Package gateway is confab's edge: the HTTP API under /api/v1, the
// WebSocket that streams committed events to clients, and the health
// endpoints operators and orchestrators probe. It authenticates callers,
// turns requests into commands and queries, and translates errors into
// statuses and error codes in one place.
//
// # The edge's defenses
//
// Before any route (edge.go, ServeHTTP): every response gets the security
// headers (CSP with frame-ancestors 'none', X-Frame-Options, nosniff,
// Referrer-Policy, HSTS over HTTPS); state-changing /api/ requests from
// another site (Origin, Sec-Fetch-Site) get 403 csrf, and bodies that are
// not application/json 415. "This site" is publicOrigin: Host and TLS, or
// a trusted proxy's X-Forwarded-Host/-Proto; the WebSocket's CheckOrigin
// uses the same sameOrigin. authed adds that a cookie-authenticated
// change must prove its origin. Text is checked on the raw bytes before
// JSON decoding (text.go: UTF-8 and lone surrogate escapes), because
// encoding/json would replace it with U+FFFD silently: REST answers 400,
// a WebSocket text frame that is not UTF-8 closes with 1007.
//
// Caps (caps.go): connCaps counts this node's WebSockets per client
// address (taken before the upgrade) and per user (at the upgrade when
// the request carries a token, else after hello); a connSlot holds both
// until endConn releases it, once. keyedRate is a sliding window of room
// creations per user. Both are in memory, per node. Their mutexes are
// leaves: nothing else is locked while they are held.
package gateway
