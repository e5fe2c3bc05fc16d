package bus

import (
	"context"
	"errors"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/internal/supervise"
)

// catchUpBatch is how many events Follow reads from the store at once.
const catchUpBatch = 1000

// followQueue is how many messages a consumer may fall behind the bus
// before it skips them and reads the store instead.
const followQueue = 256

// Follow calls handle with every event after position after that matches
// filter, in global order and exactly once, until ctx is done or handle
// fails. It subscribes to the bus before reading the store, so nothing
// committed in between is missed, then takes events from the bus; a
// message that shows a gap (its previous position is past the last event
// seen) is preceded by reading the gap from the store.
//
// A slow handler never holds up the bus: messages are taken off it at
// once into a bounded queue, and when the queue is full they are dropped
// and the consumer reads what it missed from the store.
func Follow(ctx context.Context, store eventstore.Store, sub message.Subscriber, after eventstore.Position, filter eventstore.Filter, handle eventstore.Handler) error {
	f := follower{store: store, last: after, filter: filter, handle: handle, progress: func() {}}
	return f.run(ctx, sub)
}

// FollowSupervised follows like Follow, but survives the faults of the
// store and the bus: when a read, the subscription or handle fails with an
// error that is not fatal (eventstore.Classify), it follows again after
// loop's backoff, from the last event handled, so that nothing is skipped
// or handled twice. It tells loop it is healthy once it has caught up with
// the store, and after each batch handled. It returns ctx.Err() when ctx
// ends, or the first fatal error.
func FollowSupervised(ctx context.Context, loop *supervise.Loop, store eventstore.Store, sub message.Subscriber, after eventstore.Position, filter eventstore.Filter, handle eventstore.Handler) error {
	f := follower{store: store, last: after, filter: filter, handle: handle, progress: loop.Healthy}
	return loop.Run(ctx, func(ctx context.Context) error { return f.run(ctx, sub) })
}

// run follows the bus from f.last until ctx ends or something fails.
func (f *follower) run(ctx context.Context, sub message.Subscriber) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the bus subscription and the reader
	msgs, err := sub.Subscribe(ctx, Topic)
	if err != nil {
		return eventstore.AsTransient(fmt.Errorf("bus: subscribe: %w", err))
	}
	type item struct {
		prev   eventstore.Position
		events []eventstore.RecordedEvent
	}
	queue := make(chan item, followQueue)
	missed := make(chan struct{}, 1) // a message was dropped or unreadable
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		for msg := range msgs {
			prev, events, err := Decode(msg)
			msg.Ack()
			if err == nil {
				select {
				case queue <- item{prev, events}:
					continue
				default:
				}
			}
			select {
			case missed <- struct{}{}:
			default:
			}
		}
	}()

	if err := f.catchUp(ctx, nil); err != nil {
		return err
	}
	f.progress()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-closed:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return eventstore.AsTransient(errors.New("bus: subscription closed"))
		case <-missed:
			if err := f.catchUp(ctx, nil); err != nil {
				return err
			}
		case it := <-queue:
			if it.prev.After(f.last) {
				if err := f.catchUp(ctx, &it.prev); err != nil {
					return err
				}
			}
			if err := f.deliver(ctx, it.events); err != nil {
				return err
			}
		}
	}
}

type follower struct {
	store   eventstore.Store
	last    eventstore.Position
	filter  eventstore.Filter
	handle  eventstore.Handler
	matched []eventstore.RecordedEvent
	// progress is called after each batch handled.
	progress func()
}

// catchUp reads the store after f.last until it has nothing more or, if
// until is not nil, until f.last reaches *until.
func (f *follower) catchUp(ctx context.Context, until *eventstore.Position) error {
	for until == nil || until.After(f.last) {
		events, err := f.store.ReadAll(ctx, f.last, catchUpBatch)
		if err != nil {
			return fmt.Errorf("bus: catch up after %v: %w", f.last, err)
		}
		if len(events) == 0 {
			return nil
		}
		if err := f.deliver(ctx, events); err != nil {
			return err
		}
	}
	return nil
}

// deliver hands the events after f.last that match the filter to handle,
// and moves f.last past them once handle succeeded (so that a retry hands
// them again).
func (f *follower) deliver(ctx context.Context, events []eventstore.RecordedEvent) error {
	f.matched = f.matched[:0]
	last := f.last
	for i := range events {
		e := &events[i]
		if !e.Position.After(last) {
			continue
		}
		last = e.Position
		if f.filter.Match(e) {
			f.matched = append(f.matched, *e)
		}
	}
	if len(f.matched) > 0 {
		if err := f.handle(ctx, f.matched); err != nil {
			return err
		}
		f.progress()
	}
	f.last = last
	return nil
}
