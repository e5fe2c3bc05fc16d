package bus

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/confabhq/confab/eventstore"
	"github.com/google/uuid"
)

// Topic is the topic committed events are published on.
const Topic = "confab.events"

// batch is the wire form of a message.
type batch struct {
	// Prev is the position the relay read after: the last event of the
	// relay's previous message, or its starting checkpoint.
	Prev   position `json:"prev"`
	Events []event  `json:"events"`
}

type position struct {
	Commit  uint64 `json:"c"`
	Prepare uint64 `json:"p"`
}

type event struct {
	ID         uuid.UUID `json:"id"`
	Stream     string    `json:"stream"`
	Revision   uint64    `json:"rev"`
	Position   position  `json:"pos"`
	Type       string    `json:"type"`
	Data       []byte    `json:"data,omitempty"`
	Metadata   []byte    `json:"meta,omitempty"`
	RecordedAt time.Time `json:"at"`
}

// Encode makes the message carrying events, read after prev. Its ID is
// MessageID of the last event's position (of prev if there are no events),
// so that two relays that publish up to the same event make messages with
// the same ID.
func Encode(prev eventstore.Position, events []eventstore.RecordedEvent) (*message.Message, error) {
	b := batch{Prev: position(prev), Events: make([]event, len(events))}
	for i, e := range events {
		b.Events[i] = event{
			ID: e.ID, Stream: e.Stream, Revision: e.Revision, Position: position(e.Position),
			Type: e.Type, Data: e.Data, Metadata: e.Metadata, RecordedAt: e.RecordedAt,
		}
	}
	payload, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("bus: encode: %w", err)
	}
	last := prev
	if len(events) > 0 {
		last = events[len(events)-1].Position
	}
	return message.NewMessage(MessageID(last), payload), nil
}

// MessageID is the ID of the message whose last event is at pos:
// "pos-COMMIT-PREPARE".
func MessageID(pos eventstore.Position) string {
	return "pos-" + strconv.FormatUint(pos.Commit, 10) + "-" + strconv.FormatUint(pos.Prepare, 10)
}

// ParseMessageID returns the position a MessageID was made of.
func ParseMessageID(id string) (eventstore.Position, bool) {
	rest, ok := strings.CutPrefix(id, "pos-")
	if !ok {
		return eventstore.Position{}, false
	}
	c, p, ok := strings.Cut(rest, "-")
	if !ok {
		return eventstore.Position{}, false
	}
	commit, err1 := strconv.ParseUint(c, 10, 64)
	prepare, err2 := strconv.ParseUint(p, 10, 64)
	if err1 != nil || err2 != nil {
		return eventstore.Position{}, false
	}
	return eventstore.Position{Commit: commit, Prepare: prepare}, true
}

// Decode reads a message made by Encode.
func Decode(msg *message.Message) (prev eventstore.Position, events []eventstore.RecordedEvent, err error) {
	var b batch
	if err := json.Unmarshal(msg.Payload, &b); err != nil {
		return prev, nil, fmt.Errorf("bus: decode message %s: %w", msg.UUID, err)
	}
	events = make([]eventstore.RecordedEvent, len(b.Events))
	for i, e := range b.Events {
		events[i] = eventstore.RecordedEvent{
			ID: e.ID, Stream: e.Stream, Revision: e.Revision, Position: eventstore.Position(e.Position),
			Type: e.Type, Data: e.Data, Metadata: e.Metadata, RecordedAt: e.RecordedAt,
		}
	}
	return eventstore.Position(b.Prev), events, nil
}
