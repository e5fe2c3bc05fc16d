package eventstoredb

import (
	"context"
	"errors"
	"fmt"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/confabhq/confab/eventstore"
)

const (
	// subBuffer is how many subscription messages wait for the handler.
	subBuffer = 1024
	// maxBatch is the most events passed to a handler at once.
	maxBatch = 512
)

// Subscribe implements eventstore.Store with a catch-up subscription to
// $all: EventStoreDB reads the stored events after the position, then
// switches to live ones itself, without gap or duplicate. A server-side
// filter (stream prefixes, else event type prefixes, else "no system
// events") keeps most unwanted events off the wire; filter.Match and the
// system event check decide on the client. Events are passed in batches
// of what has arrived by the time the handler is free.
//
// A subscription the server drops (it restarts, loses leadership, ...)
// ends Subscribe with an error; the caller resubscribes from the last
// position it handled.
func (s *Store) Subscribe(ctx context.Context, after eventstore.Position, filter eventstore.Filter, handle eventstore.Handler) error {
	if handle == nil {
		return fmt.Errorf("%w: eventstoredb: subscribe: nil handler", eventstore.ErrInvalid)
	}
	if err := s.begin(); err != nil {
		return err
	}
	// The subscription ends with ctx or with Close.
	subCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.closeCtx, cancel)
	defer stop()

	sub, err := s.client.SubscribeToAll(subCtx, esdb.SubscribeToAllOptions{
		From:   allReadFrom(after),
		Filter: serverFilter(filter),
	})
	if err != nil {
		s.ops.Done()
		return s.fail(ctx, err, "subscribe to $all")
	}

	// A goroutine receives, so that the handler gets what has arrived
	// in batches. It is the only user of the client from here on, so
	// the call ends for Close when it does.
	msgs := make(chan *esdb.SubscriptionEvent, subBuffer)
	received := make(chan struct{})
	go func() {
		defer s.ops.Done()
		defer close(received)
		for {
			m := sub.Recv()
			select {
			case msgs <- m:
			case <-subCtx.Done():
				return
			}
			if m.SubscriptionDropped != nil {
				return
			}
		}
	}()
	defer func() {
		cancel()
		sub.Close()
		<-received
	}()

	// accept converts e if it is to be passed on: strictly after the
	// last position seen (the subscription's start position is not
	// repeated), not a system event, matching filter.
	last := after
	accept := func(e *esdb.RecordedEvent) (eventstore.RecordedEvent, bool) {
		p := fromESDBPosition(e.Position)
		if !p.After(last) {
			return eventstore.RecordedEvent{}, false
		}
		last = p
		if isSystem(e) {
			return eventstore.RecordedEvent{}, false
		}
		r := fromESDBEvent(e)
		return r, filter.Match(&r)
	}

	batch := make([]eventstore.RecordedEvent, 0, maxBatch)
	for {
		var m *esdb.SubscriptionEvent
		select {
		case m = <-msgs:
		case <-subCtx.Done():
		}
		if subCtx.Err() != nil {
			return s.fail(ctx, subCtx.Err(), "subscribe to $all")
		}

		// Take what has arrived, up to maxBatch events.
		batch = batch[:0]
		var dropped error
	fill:
		for {
			switch {
			case m.SubscriptionDropped != nil:
				dropped = m.SubscriptionDropped.Error
				if dropped == nil {
					dropped = errors.New("no reason given")
				}
				break fill
			case m.EventAppeared != nil && m.EventAppeared.Event != nil:
				if r, ok := accept(m.EventAppeared.Event); ok {
					batch = append(batch, r)
				}
			}
			if len(batch) == maxBatch {
				break fill
			}
			select {
			case m = <-msgs:
			default:
				break fill
			}
		}

		if len(batch) > 0 {
			if err := handle(subCtx, batch); err != nil {
				if ctx.Err() == nil && s.closeCtx.Err() != nil && errors.Is(err, context.Canceled) {
					return eventstore.ErrClosed
				}
				return err
			}
		}
		if dropped != nil {
			return s.fail(ctx, dropped, "subscription to $all dropped")
		}
	}
}
