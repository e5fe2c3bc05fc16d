package eventstore

import (
	"unicode/utf8"

	"github.com/google/uuid"
)

// ValidateAppend checks an append's arguments against the contract's
// rules. Adapters call it before touching storage, so bad input changes
// nothing.
func ValidateAppend(stream string, expected ExpectedRevision, events []EventData) error {
	if err := ValidateStream(stream); err != nil {
		return err
	}
	if expected < StreamExists {
		return invalidf("append to %s: invalid expected revision %d", stream, int64(expected))
	}
	if len(events) == 0 {
		return invalidf("append to %s: no events", stream)
	}
	if len(events) > MaxAppendEvents {
		return invalidf("append to %s: %d events, at most %d per append", stream, len(events), MaxAppendEvents)
	}
	seen := make(map[uuid.UUID]struct{}, len(events))
	for i := range events {
		e := &events[i]
		if e.ID == uuid.Nil {
			return invalidf("append to %s: event %d has no ID", stream, i)
		}
		if _, dup := seen[e.ID]; dup {
			return invalidf("append to %s: event ID %s appears twice", stream, e.ID)
		}
		seen[e.ID] = struct{}{}
		if e.Type == "" || len(e.Type) > MaxEventTypeLen || !utf8.ValidString(e.Type) {
			return invalidf("append to %s: event %d: type must be 1-%d bytes of UTF-8", stream, i, MaxEventTypeLen)
		}
		if n := len(e.Data) + len(e.Metadata); n > MaxEventSize {
			return invalidf("append to %s: event %d is %d bytes, the limit is %d", stream, i, n, MaxEventSize)
		}
	}
	return nil
}

// ValidateStream checks a stream name: 1 to MaxStreamNameLen bytes of
// printable UTF-8, not starting with '$' (reserved for store internals).
func ValidateStream(stream string) error {
	switch {
	case stream == "":
		return invalidf("empty stream name")
	case len(stream) > MaxStreamNameLen:
		return invalidf("stream name is %d bytes, the limit is %d", len(stream), MaxStreamNameLen)
	case !utf8.ValidString(stream):
		return invalidf("stream name is not UTF-8")
	case stream[0] == '$':
		return invalidf("stream name %q: names starting with $ are reserved", stream)
	}
	for _, r := range stream {
		if r < 0x20 || r == 0x7f {
			return invalidf("stream name %q contains a control character", stream)
		}
	}
	return nil
}

// ValidateRead checks the arguments of a read.
func ValidateRead(limit int) error {
	if limit <= 0 {
		return invalidf("read limit must be positive, got %d", limit)
	}
	return nil
}
