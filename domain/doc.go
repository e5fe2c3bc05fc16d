// Package domain is confab's core model: the events that make up every
// stream (past tense: UserSignedUp, RoomCreated, MessagePosted, ...), the
// aggregates that decide which events a command produces (User, Room), and
// the value types and error kinds shared by the layers above.
//
// Decisions are pure functions: decide(state, command) returns events or
// an error, and evolve(state, event) returns the next state. Nothing here
// does I/O, reads a clock (time is passed in) or imports anything outside
// the standard library; internal/archtest fails if it does.
package domain
