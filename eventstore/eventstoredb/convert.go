package eventstoredb

import (
	"encoding/json"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/confabhq/confab/eventstore"
)

// This file holds the pure mappings between the eventstore contract and
// the EventStoreDB client's types. They need no server and are unit tested.

// toESDBExpected maps an expected revision of the contract, whose exact
// revisions count from 1, to EventStoreDB's, whose count from 0.
// ok is false for a value the contract does not define.
func toESDBExpected(e eventstore.ExpectedRevision) (_ esdb.ExpectedRevision, ok bool) {
	switch {
	case e == eventstore.Any:
		return esdb.Any{}, true
	case e == eventstore.NoStream:
		return esdb.NoStream{}, true
	case e == eventstore.StreamExists:
		return esdb.StreamExists{}, true
	case e >= 1:
		return esdb.Revision(uint64(e) - 1), true
	}
	return nil, false
}

// fromESDBRevision turns an EventStoreDB event number (from 0) into a
// stream revision of the contract (from 1).
func fromESDBRevision(n uint64) uint64 { return n + 1 }

// toESDBRevision turns a stream revision of the contract (>= 1) into an
// EventStoreDB event number.
func toESDBRevision(rev uint64) uint64 { return rev - 1 }

// streamReadFrom maps the from revision of ReadStream to the position an
// EventStoreDB read starts at. empty is true when the read cannot return
// anything (forwards from End, backwards from revision 0), so that no
// request is needed.
func streamReadFrom(from uint64, dir eventstore.Direction) (_ esdb.StreamPosition, empty bool) {
	if dir == eventstore.Backwards {
		switch from {
		case eventstore.End:
			return esdb.End{}, false
		case 0:
			return nil, true
		}
		return esdb.Revision(toESDBRevision(from)), false
	}
	switch {
	case from == eventstore.End:
		return nil, true
	case from <= 1:
		return esdb.Start{}, false
	}
	return esdb.Revision(toESDBRevision(from)), false
}

func toESDBDirection(dir eventstore.Direction) esdb.Direction {
	if dir == eventstore.Backwards {
		return esdb.Backwards
	}
	return esdb.Forwards
}

// allReadFrom maps a position of the contract to where a read or a
// subscription of $all starts.
func allReadFrom(p eventstore.Position) esdb.AllPosition {
	if p == eventstore.Start {
		return esdb.Start{}
	}
	return toESDBPosition(p)
}

func toESDBPosition(p eventstore.Position) esdb.Position {
	return esdb.Position{Commit: p.Commit, Prepare: p.Prepare}
}

func fromESDBPosition(p esdb.Position) eventstore.Position {
	return eventstore.Position{Commit: p.Commit, Prepare: p.Prepare}
}

// toESDBEvent turns an event to append into EventStoreDB's form. The
// client uses github.com/google/uuid like the contract, so the ID is the
// same 16 bytes. Data is marked JSON when it is JSON (what confab
// writes), binary otherwise, so that server-side projections never choke
// on it.
func toESDBEvent(e eventstore.EventData) esdb.EventData {
	ct := esdb.ContentTypeBinary
	if json.Valid(e.Data) {
		ct = esdb.ContentTypeJson
	}
	return esdb.EventData{
		EventID:     e.ID,
		EventType:   e.Type,
		ContentType: ct,
		Data:        e.Data,
		Metadata:    e.Metadata,
	}
}

// fromESDBEvent turns an event read from EventStoreDB into the contract's
// form. Empty payloads read as nil whatever the transport made of them.
func fromESDBEvent(e *esdb.RecordedEvent) eventstore.RecordedEvent {
	return eventstore.RecordedEvent{
		ID:         e.EventID,
		Stream:     e.StreamID,
		Revision:   fromESDBRevision(e.EventNumber),
		Position:   fromESDBPosition(e.Position),
		Type:       e.EventType,
		Data:       nilIfEmpty(e.Data),
		Metadata:   nilIfEmpty(e.UserMetadata),
		RecordedAt: e.CreatedDate.UTC(),
	}
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// isSystem reports whether e is one of EventStoreDB's own events: its
// type or its stream starts with '$' (stats, settings, projections' link
// events, stream metadata, ...). The contract reserves such names, so no
// confab event is one.
func isSystem(e *esdb.RecordedEvent) bool {
	return strings.HasPrefix(e.EventType, "$") || strings.HasPrefix(e.StreamID, "$")
}

// serverFilter chooses the one server-side filter EventStoreDB allows for
// a subscription to $all. Stream prefixes select fewer events than types
// in confab's layout, so they win when both are set; event types are
// matched by prefix on the server, so Filter.Match still decides on the
// client. Without a filter, system events are left out on the server.
func serverFilter(f eventstore.Filter) *esdb.SubscriptionFilter {
	switch {
	case len(f.StreamPrefixes) > 0:
		for _, p := range f.StreamPrefixes {
			if p == "" {
				// An empty prefix selects every stream.
				return esdb.ExcludeSystemEventsFilter()
			}
		}
		return &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: f.StreamPrefixes}
	case len(f.EventTypes) > 0:
		return &esdb.SubscriptionFilter{Type: esdb.EventFilterType, Prefixes: f.EventTypes}
	}
	return esdb.ExcludeSystemEventsFilter()
}

// wrongRevision builds the conflict error of an append.
func wrongRevision(stream string, expected eventstore.ExpectedRevision, actual uint64) error {
	return &eventstore.WrongRevisionError{Stream: stream, Expected: expected, Actual: actual}
}

// withIDs returns the events of stored whose IDs are among those of
// events.
func withIDs(stored []eventstore.RecordedEvent, events []eventstore.EventData) []eventstore.RecordedEvent {
	want := make(map[uuid.UUID]struct{}, len(events))
	for i := range events {
		want[events[i].ID] = struct{}{}
	}
	var found []eventstore.RecordedEvent
	for _, e := range stored {
		if _, ok := want[e.ID]; ok {
			found = append(found, e)
		}
	}
	return found
}

// sameIDs reports whether stored holds events' IDs, in order.
func sameIDs(stored []eventstore.RecordedEvent, events []eventstore.EventData) bool {
	if len(stored) != len(events) {
		return false
	}
	for i := range stored {
		if stored[i].ID != events[i].ID {
			return false
		}
	}
	return true
}
