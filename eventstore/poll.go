package eventstore

import (
	"context"
	"time"
)

// PollConfig tunes PollSubscribe.
type PollConfig struct {
	// Read reads events after a position, like Store.ReadAll.
	Read func(ctx context.Context, after Position, limit int) ([]RecordedEvent, error)
	// Wake returns a channel closed when new events may be visible, like
	// Signal.C. It must be taken before a read to not miss a wake-up.
	Wake func() <-chan struct{}
	// Interval is how often to read without a wake-up, as a safety net for
	// writers in other processes or wake-ups that were lost. Default 250ms.
	Interval time.Duration
	// BatchSize is how many events to read at once. Default 1000.
	BatchSize int
}

// PollSubscribe implements Store.Subscribe for stores that can read all
// events in a stable global order: it reads forward from after, hands
// each batch to handle and, once caught up, waits for a wake-up. Catch-up
// and live delivery are the same loop reading by position, so nothing is
// skipped or repeated at the hand-over.
//
// While it catches up (a read returned a full batch), it reads the next
// batch while handle runs on the current one, so that reading and handling
// overlap.
//
// A wake-up that finds nothing new (an event whose writer committed but is
// not yet readable because an older transaction is still open) is followed
// by reads at growing intervals from 1ms up to Interval.
func PollSubscribe(ctx context.Context, cfg PollConfig, after Position, filter Filter, handle Handler) error {
	if cfg.Interval <= 0 {
		cfg.Interval = 250 * time.Millisecond
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1000
	}
	// Reads run on their own context, so that a read ahead can be stopped
	// when handle fails.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	read := func(after Position) readResult {
		wake := cfg.Wake()
		events, err := cfg.Read(rctx, after, cfg.BatchSize)
		return readResult{events: events, wake: wake, err: err}
	}
	timer := time.NewTimer(cfg.Interval)
	defer timer.Stop()
	var (
		matched []RecordedEvent
		retry   time.Duration // >0 after a wake-up found nothing new
		ahead   chan readResult
	)
	res := read(after)
	for {
		if res.err != nil {
			if err := ctx.Err(); err != nil {
				return err
			}
			return res.err
		}
		if events := res.events; len(events) > 0 {
			retry = 0
			after = events[len(events)-1].Position
			if len(events) >= cfg.BatchSize {
				ahead = make(chan readResult, 1)
				go func(after Position) { ahead <- read(after) }(after)
			}
			batch := events
			if !filter.IsZero() {
				matched = matched[:0]
				for i := range events {
					if filter.Match(&events[i]) {
						matched = append(matched, events[i])
					}
				}
				batch = matched
			}
			if len(batch) > 0 {
				if err := handle(ctx, batch); err != nil {
					if ahead != nil {
						cancel()
						<-ahead
					}
					return err
				}
			}
			if ahead != nil {
				res, ahead = <-ahead, nil
			} else {
				res = read(after)
			}
			continue
		}

		wait := cfg.Interval
		if retry > 0 {
			wait = retry
			if retry *= 2; retry > cfg.Interval {
				retry = 0
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-res.wake:
			retry = time.Millisecond
			if !timer.Stop() {
				<-timer.C
			}
		case <-timer.C:
		}
		res = read(after)
	}
}

// readResult is the outcome of one read of PollSubscribe, with the wake-up
// channel taken before it.
type readResult struct {
	events []RecordedEvent
	wake   <-chan struct{}
	err    error
}
