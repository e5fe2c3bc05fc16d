// Package bus carries committed events from the event store to the
// consumers that react to them (projections, WebSocket gateways) over a
// watermill pub/sub: GoChannel within one process, NATS JetStream across
// nodes.
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
package bus
