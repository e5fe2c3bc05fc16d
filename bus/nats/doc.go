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
// Calls across nodes (Bus.Leases, leases.go) use two JetStream KV buckets,
// in memory, one revision per key:
//
//   - CONFAB_CALL_HOSTS: key = room ID, value = {node, token}: the node
//     whose SFU hosts the room's call. Entries expire after LeaseTTL (9 s
//     by default; the bucket's MaxAge, so the server's clock decides, not
//     the nodes'); the host renews every ~3 s with a compare-and-set on
//     the revision it holds. A claim is Create (fails if held); a takeover
//     is Update with the revision read. The fencing token is the revision
//     of the entry that made the holder (monotonic over the bucket): the
//     host refuses relayed requests carrying another token, so a host
//     that lost its lease never serves. A node that starts drops the
//     leases naming its ID (DropNode).
//   - CONFAB_CALL_NODES: key = node ID, value = {participants}: the
//     registry of calls-enabled nodes and their load, written every ~2 s,
//     expiring after LoadTTL (6 s): the candidates when a call starts.
//
// The first node to open a bucket sets its TTL; the others bind to it.
//
// The connection reconnects forever; while NATS is away, publishing fails
// (the relay retries) and consumers wait.
package nats
