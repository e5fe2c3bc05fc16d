// Package commands holds confab's use cases, one file each (sign_up.go,
// send_message.go, ...): a command struct, a handler built by a constructor
// that rejects nil dependencies, and Handle(ctx, cmd). A handler loads its
// aggregate from the event store (snapshot plus tail), lets package domain
// decide, and appends the resulting events with the expected revision,
// retrying on a conflict. Handlers a client may retry are idempotent.
//
// The interfaces handlers need from other parts are declared here, where
// they are used. This package must not import pgx, pion, net/http or NATS
// (internal/archtest checks).
package commands
