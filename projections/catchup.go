package projections

import (
	"context"
	"fmt"

	"github.com/confabhq/confab/eventstore"
)

// catchUpBatch is how many events CatchUp reads at once.
const catchUpBatch = 1000

// CatchUp applies the events of store after the checkpoint, up to its
// head, in batches: what an admin command that reads the read models, or
// waits for them to show its own events, does in a process that follows
// no bus. A server applying at the same time is harmless: each event is
// applied once (Apply).
func (p *Projections) CatchUp(ctx context.Context, store eventstore.Store) error {
	cp, err := p.Checkpoint(ctx)
	if err != nil {
		return err
	}
	filter := Filter()
	for {
		events, err := store.ReadAll(ctx, cp, catchUpBatch)
		if err != nil {
			return fmt.Errorf("projections: catch up: %w", err)
		}
		if len(events) == 0 {
			return nil
		}
		matched := make([]eventstore.RecordedEvent, 0, len(events))
		for i := range events {
			if filter.Match(&events[i]) {
				matched = append(matched, events[i])
			}
		}
		if len(matched) > 0 {
			if err := p.Apply(ctx, matched); err != nil {
				return err
			}
		}
		cp = events[len(events)-1].Position
	}
}
