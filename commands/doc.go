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
//
// Sign-up and sign-in share one password.Limiter (Handlers.Hashing): every
// argon2id hash and check runs in one of its slots, so that a flood of
// them takes bounded memory. SignInHandler keeps three in-memory
// throttles (per account and address, per address, per account) and
// SignUpHandler a token bucket per address, each under its own mutex and
// bounded in keys; a paced sign-in waits on a timer in its request's
// goroutine. They start no goroutines.
package commands
