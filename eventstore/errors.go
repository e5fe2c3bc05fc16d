package eventstore

import (
	"errors"
	"fmt"
)

// Errors adapters return, to be tested with errors.Is.
var (
	// ErrInvalid marks bad input: an empty stream name, an oversized
	// event, an invalid expected revision, ...
	ErrInvalid = errors.New("invalid")
	// ErrConflict marks an append that contradicts what is stored: a
	// wrong expected revision, or an event ID already used elsewhere.
	ErrConflict = errors.New("conflict")
	// ErrClosed is returned by a store after Close.
	ErrClosed = errors.New("event store closed")
	// ErrUnavailable marks a write or read the store cannot do right now
	// but may do later: the database is unreachable or restarting, the
	// disk is full, the store was opened read-only. Nothing was written.
	// Adapters wrap their cause with it (fmt.Errorf("%w: %w", ...)).
	ErrUnavailable = errors.New("event store unavailable")
)

// WrongRevisionError is returned by Append when the stream is not at the
// expected revision. errors.Is(err, ErrConflict) holds for it.
type WrongRevisionError struct {
	Stream   string
	Expected ExpectedRevision
	Actual   uint64 // the stream's last revision; 0 if it has no events
}

func (e *WrongRevisionError) Error() string {
	return fmt.Sprintf("append to %s: wrong expected revision: expected %s, stream is at %d", e.Stream, e.Expected, e.Actual)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *WrongRevisionError) Is(target error) bool { return target == ErrConflict }

// invalidf returns an ErrInvalid error with a message.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}
