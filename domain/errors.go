package domain

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error so that the edge (HTTP, WebSocket) can translate
// it once, with one table, into a status and an error code.
type Kind uint8

// Error kinds.
const (
	KindInternal        Kind = iota // something broke; not the caller's fault
	KindInvalid                     // bad input
	KindNotFound                    // no such thing, or not visible to the caller
	KindConflict                    // contradicts the current state
	KindForbidden                   // authenticated but not allowed
	KindUnauthenticated             // no valid session
	KindRateLimited                 // too many requests; retry later
	KindUnavailable                 // the server cannot do it right now (store down, disk full, overloaded); retry later
)

var kindNames = [...]string{
	KindInternal:        "internal",
	KindInvalid:         "invalid",
	KindNotFound:        "not_found",
	KindConflict:        "conflict",
	KindForbidden:       "forbidden",
	KindUnauthenticated: "unauthenticated",
	KindRateLimited:     "rate_limited",
	KindUnavailable:     "unavailable",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Error is an error with a kind, the operation that failed, and a message
// safe to show to the caller.
type Error struct {
	Kind    Kind
	Op      string // e.g. "send message"
	Message string
	Err     error // the cause, if any
	// RetryAfter, for KindRateLimited and KindUnavailable, is how long to
	// wait.
	RetryAfter time.Duration
}

// Errorf returns an *Error of kind k for operation op.
func Errorf(k Kind, op, format string, args ...any) *Error {
	return &Error{Kind: k, Op: op, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	msg := e.Message
	if e.Op != "" {
		msg = e.Op + ": " + msg
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of the first *Error in err's chain, or
// KindInternal if there is none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}
