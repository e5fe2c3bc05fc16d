// Package bus carries committed events from the event store to the
// consumers that react to them (projections, WebSocket gateways) over a
// watermill pub/sub: GoChannel within one process (NewGoChannel), NATS
// JetStream across nodes (package bus/nats).
//
// Events enter the bus only through a Relay, which tails the store from a
// checkpoint and publishes what it reads. Nothing is ever published beside
// an append (no dual write): an event is on the bus because it is in the
// store.
//
// Every message carries a batch of events in global order and the
// position the relay read after, so consecutive messages chain: a message
// whose previous position is past the last event a consumer has seen tells
// it that it missed something. Follow uses that to give consumers
// exactly-once, in-order delivery whatever the timing: it subscribes to the
// bus, catches up from the store, then takes events from the bus, skipping
// what it already has and filling any gap from the store.
//
// # Several nodes
//
// Several confab processes may share one event store (PostgreSQL) and one
// NATS server. Every node runs a relay, and every relay tails the store; the
// relays agree on what goes on the bus through JetStream itself. A message's
// ID is the position of its last event (MessageID), and a relay publishes a
// batch only on condition that the stream's last message is the one it
// believes last (Chain: the Nats-Expected-Last-Msg-Id header, checked
// atomically by the stream). When another relay was faster, the publish is
// refused with the ID of the actual last message, which says up to which
// event the bus already has the log; the relay leaves those events out and
// publishes the rest after it. So each event is published once, the
// stream's messages chain without overlap, and consumers on every node get
// each batch once.
//
// We chose this over the alternatives:
//
//   - Every node relays and consumers drop duplicates by position: correct
//     (Follow already does it) but every node receives every batch once per
//     node, so bus traffic and decoding grow with the square of the nodes.
//   - JetStream de-duplication by message ID alone: relays cut the log into
//     batches differently, so their messages do not have the same IDs.
//   - One relay leader (a PostgreSQL advisory lock): one store tail instead
//     of one per node, but a leader that dies or loses NATS while holding
//     the lock stops the bus until a standby takes over, a new leader must
//     find where the old one stopped, and the bus would depend on the store's
//     technology (the embedded store has no such lock).
//
// With conditional publishing there is no leader and no failover: when a
// node dies, the others' relays go on publishing at once, and an event
// that the dead node committed but did not publish is published by any
// other relay, since they all tail the store. Correctness never depends on
// the chain: if relays disagree (a lost ack, a stream that lost its last
// message), a batch may be published twice or a message may skip ahead,
// and Follow still delivers every event once, in order, reading any gap
// from the store. The cost is that every node tails the store, and that
// for each batch the relays that lose the race make one refused publish.
//
// # Faults
//
// The relay and the consumers survive the store's and the bus's faults:
// Relay.Run and FollowSupervised run as supervise.Loops, which retry an
// error that is not fatal (eventstore.Classify; the NATS bus marks its
// errors transient) after a capped backoff with jitter, from the last
// event published or handled. A follower moves its position only after
// its handler succeeded, so a retry hands the failed batch again. A loop
// reports itself healthy once it has caught up with the store (and, for
// the relay, published what it read), so a loop does not flap between
// running and retrying while its dependency is away.
//
// Ephemeral messages (typing) go over core NATS, not JetStream: they are
// not stored and a node that is down misses them.
package bus
