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
	timer := time.NewTimer(cfg.Interval)
	defer timer.Stop()
	var (
		matched []RecordedEvent
		retry   time.Duration // >0 after a wake-up found nothing new
	)
	for {
		wake := cfg.Wake()
		events, err := cfg.Read(ctx, after, cfg.BatchSize)
		if err != nil {
			return err
		}
		if len(events) > 0 {
			retry = 0
			after = events[len(events)-1].Position
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
					return err
				}
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
		case <-wake:
			retry = time.Millisecond
			if !timer.Stop() {
				<-timer.C
			}
		case <-timer.C:
		}
	}
}
