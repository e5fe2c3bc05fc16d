package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/internal/supervise"
)

// Chain is a bus on which a message can be published on condition that
// the topic's last message is the one the publisher expects, as NATS
// JetStream does with the Nats-Expected-Last-Msg-Id header. Relays on
// several nodes that publish to a Chain put each event on the bus once: the
// messages of a topic form one chain of consecutive batches, whichever relay
// published each of them. See the package documentation.
type Chain interface {
	message.Publisher
	// PublishAfter publishes msg on topic if the topic's last message has
	// ID last or, if last is "", if the topic has no last message or one
	// without an ID. Otherwise it publishes nothing and returns a
	// *NotLastError.
	PublishAfter(topic, last string, msg *message.Message) error
}

// NotLastError reports that a conditional publish found another message
// at the end of the topic.
type NotLastError struct {
	// Last is the ID of the topic's last message: "" if it has none, or if
	// the bus could not tell.
	Last string
}

func (e *NotLastError) Error() string {
	return fmt.Sprintf("bus: the topic's last message is %q, not the expected one", e.Last)
}

// maxNotLast bounds the conditional publishes of one batch. Each refusal
// means another relay published meanwhile, so it takes many only when the
// relays cannot make sense of the chain (a last message ID that is not
// theirs); past it the relay publishes unconditionally (a duplicate is
// harmless: Follow skips what it already has), so that it never stops.
const maxNotLast = 20

// Relay publishes the store's committed events on the bus.
type Relay struct {
	store  eventstore.Store
	pub    message.Publisher
	logger *slog.Logger
	loop   *supervise.Loop
}

// NewRelay returns a relay from store to pub. If pub is a Chain, the relay
// publishes conditionally and leaves out what other relays published.
func NewRelay(store eventstore.Store, pub message.Publisher, logger *slog.Logger) (*Relay, error) {
	if store == nil || pub == nil {
		return nil, errors.New("bus: new relay: nil store or publisher")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Relay{store: store, pub: pub, logger: logger, loop: supervise.NewLoop("relay", logger, supervise.DefaultBackoff)}, nil
}

// Supervise makes loop the relay's loop (for its state in /readyz and
// metrics) instead of one of its own. Call it before Run.
func (r *Relay) Supervise(loop *supervise.Loop) {
	if loop != nil {
		r.loop = loop
	}
}

// Run publishes every event after position after, as it is committed,
// until ctx is done. If the store or the bus fails, it resumes from the
// last published event after a backoff (see package supervise: the
// relay's loop logs once when it starts failing and once when it
// recovers); consumers that missed messages meanwhile fill the gap from
// the store. Only a fatal error (eventstore.Classify) ends it early.
func (r *Relay) Run(ctx context.Context, after eventstore.Position) error {
	chain, _ := r.pub.(Chain)
	last := "" // the chain's last message, as far as this relay knows
	publish := func(ctx context.Context, events []eventstore.RecordedEvent) error {
		var err error
		if chain != nil {
			err = r.publishChained(chain, &last, after, events)
		} else {
			err = r.publish(after, events)
		}
		if err != nil {
			return eventstore.AsTransient(err)
		}
		after = events[len(events)-1].Position
		r.loop.Healthy()
		return nil
	}
	return r.loop.Run(ctx, func(ctx context.Context) error {
		// Catch up first: the relay is healthy once it has published
		// what the store holds, so both work.
		for {
			events, err := r.store.ReadAll(ctx, after, catchUpBatch)
			if err != nil {
				return fmt.Errorf("bus: relay: read after %v: %w", after, err)
			}
			if len(events) == 0 {
				break
			}
			if err := publish(ctx, events); err != nil {
				return err
			}
		}
		r.loop.Healthy()
		return r.store.Subscribe(ctx, after, eventstore.Filter{}, publish)
	})
}

// PayloadLimiter is implemented by buses that cap the size of a message's
// payload (NATS: the server's max_payload). The relay splits batches into
// messages that fit.
type PayloadLimiter interface {
	// MaxPayload returns the largest payload a message may have, in bytes.
	MaxPayload() int
}

// maxPayload returns the bus's payload limit, 0 for none.
func (r *Relay) maxPayload() int {
	if l, ok := r.pub.(PayloadLimiter); ok {
		return max(l.MaxPayload(), 1)
	}
	return 0
}

// publish publishes the events, read after position after, in messages
// that fit the bus.
func (r *Relay) publish(after eventstore.Position, events []eventstore.RecordedEvent) error {
	limit := r.maxPayload()
	for len(events) > 0 {
		msg, n, err := encodeFitting(after, events, limit)
		if err != nil {
			return err
		}
		if err := r.pub.Publish(Topic, msg); err != nil {
			return fmt.Errorf("bus: publish: %w", err)
		}
		after, events = events[n-1].Position, events[n:]
	}
	return nil
}

// publishChained publishes the events, read after position after, that
// the chain does not have yet, as the messages following the chain's last
// one, *last. When another relay got there first, it learns the new last
// message and tries again with what is left.
func (r *Relay) publishChained(chain Chain, last *string, after eventstore.Position, events []eventstore.RecordedEvent) error {
	limit := r.maxPayload()
	refused := 0
	for {
		prev, rest := after, events
		// The chain's last message ends at an event at or before which
		// the chain has everything (or shows the gap): leave those out.
		if end, ok := ParseMessageID(*last); ok && end.Compare(after) >= 0 {
			i := 0
			for i < len(rest) && !rest[i].Position.After(end) {
				i++
			}
			prev, rest = end, rest[i:]
		}
		if len(rest) == 0 {
			return nil
		}
		msg, _, err := encodeFitting(prev, rest, limit)
		if err != nil {
			return err
		}
		if refused < maxNotLast {
			err = chain.PublishAfter(Topic, *last, msg)
		} else {
			r.logger.Warn("relay: the bus refused a batch too often; publishing it unconditionally", "last", *last, "message", msg.UUID)
			err = chain.Publish(Topic, msg)
		}
		var nl *NotLastError
		if errors.As(err, &nl) {
			*last = nl.Last
			refused++
			continue
		}
		if err != nil {
			*last = "" // after a failure, ask the bus
			return fmt.Errorf("bus: publish: %w", err)
		}
		*last = msg.UUID // the next round leaves out what msg carried
		refused = 0
	}
}

// encodeFitting encodes the longest prefix of events, read after prev,
// whose message fits in limit bytes (any size if limit is 0), halving the
// prefix until it fits, and returns the message and how many events it
// covers. An event too big to fit alone is left out: the message covering
// it carries no events and has the event's position as its previous one,
// so consumers read the event from the store.
func encodeFitting(prev eventstore.Position, events []eventstore.RecordedEvent, limit int) (*message.Message, int, error) {
	n := len(events)
	for {
		msg, err := Encode(prev, events[:n])
		if err != nil {
			return nil, 0, err
		}
		if limit <= 0 || len(msg.Payload) <= limit {
			return msg, n, nil
		}
		if n == 1 {
			msg, err := Encode(events[0].Position, nil)
			return msg, 1, err
		}
		n /= 2
	}
}
