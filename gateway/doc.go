// Package gateway is confab's edge: the HTTP API under /api/v1, the
// WebSocket that streams committed events to clients, and the health
// endpoints operators and orchestrators probe. It authenticates callers,
// turns requests into commands and queries, and translates errors into
// statuses and error codes in one place.
//
// Slow consumers: each connection has a bounded outbound queue (conn) and
// one writer; on TCP the bytes waiting unsent in the kernel are capped
// (TCP_NOTSENT_LOWAT, see batchConn) so that the socket always has room
// for a close frame. A connection whose queue overflows, or whose socket
// takes nothing for the write timeout, is closed with 4008: an overflow
// interrupts the writer's blocked write, the rest of the frame it cut and
// the close frame go out with the cap lifted, and the drop is logged at
// info and counted (Metrics.SlowConsumer). The hub never waits for a
// connection: it only queues.
package gateway
