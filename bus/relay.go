package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/confabhq/confab/eventstore"
)

// Relay publishes the store's committed events on the bus.
type Relay struct {
	store  eventstore.Store
	pub    message.Publisher
	logger *slog.Logger
}

// NewRelay returns a relay from store to pub.
func NewRelay(store eventstore.Store, pub message.Publisher, logger *slog.Logger) (*Relay, error) {
	if store == nil || pub == nil {
		return nil, errors.New("bus: new relay: nil store or publisher")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Relay{store: store, pub: pub, logger: logger}, nil
}

// Run publishes every event after position after, as it is committed,
// until ctx is done. If the store or the bus fails, it logs the error and
// resumes from the last published event after a backoff; consumers that
// missed messages meanwhile fill the gap from the store.
func (r *Relay) Run(ctx context.Context, after eventstore.Position) error {
	backoff := 100 * time.Millisecond
	for {
		err := r.store.Subscribe(ctx, after, eventstore.Filter{}, func(ctx context.Context, events []eventstore.RecordedEvent) error {
			msg, err := Encode(after, events)
			if err != nil {
				return err
			}
			if err := r.pub.Publish(Topic, msg); err != nil {
				return fmt.Errorf("bus: publish: %w", err)
			}
			after = events[len(events)-1].Position
			backoff = 100 * time.Millisecond
			return nil
		})
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.logger.Error("relay failed; resuming", "after", after.String(), "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}
