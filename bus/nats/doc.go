// Package nats is the bus between confab nodes: NATS, published to with
// watermill-nats and subscribed to with nats.go (watermill-nats'
// subscribers race with their own shutdown; see Bus).
//
// Open connects to a NATS server and returns a *Bus, a watermill publisher
// and subscriber that routes by topic:
//
//   - bus.Topic (committed events) goes through JetStream, on the stream
//     CONFAB_EVENTS (created or updated by Open: file storage, messages
//     kept 2 minutes by default, de-duplication by message ID within a
//     minute). Each subscription is an ordered push consumer that starts
//     with new messages (bus.Follow reads older events from the store) and
//     that the client recreates, resuming after the last message it
//     received, when it misses messages or heartbeats (after a reconnect).
//     Bus is a bus.Chain: relays publish with Nats-Expected-Last-Msg-Id, so
//     that the relays of all nodes put each event on the stream once (see
//     package bus), and a bus.PayloadLimiter: relays split batches to fit
//     the server's max_payload.
//   - every other topic (ephemeral frames between gateways, such as typing)
//     goes through core NATS: no storage, at most once, to every node
//     subscribed at the time.
//
// The stream is a fan-out buffer, not a log: the event store is the log,
// and a consumer that misses messages (a reconnect, a purge) reads the gap
// from the store when the next message shows it. So the stream can be
// deleted or purged at any time while nodes are stopped.
//
// The connection reconnects forever; while NATS is away, publishing fails
// (the relay retries) and consumers wait.
package nats
