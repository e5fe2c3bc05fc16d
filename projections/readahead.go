package projections

import (
	"context"
	"fmt"

	"github.com/confabhq/confab/eventstore"
)

// A rebuild reads the log one batch ahead of what it applies: while a
// batch is applied (on PostgreSQL, mostly the server's work) the next one
// is read and decoded from the store, on a connection of its own.

// readBatch is a batch of the log, or the error that ended the reading.
type readBatch struct {
	events []eventstore.RecordedEvent
	err    error
}

// readAhead reads the log after after in batches of n on a goroutine of
// its own, keeping one batch ready, until a read returns nothing (then it
// closes the channel), a read fails (it sends the error, then closes) or
// stop is called. The caller must call stop, which waits for the
// goroutine to end.
func readAhead(ctx context.Context, store eventstore.Store, after eventstore.Position, n int) (batches <-chan readBatch, stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan readBatch, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		for {
			events, err := store.ReadAll(ctx, after, n)
			if err != nil {
				err = fmt.Errorf("projections: rebuild: read after %v: %w", after, err)
			}
			if err == nil && len(events) == 0 {
				return
			}
			select {
			case ch <- readBatch{events: events, err: err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
			after = events[len(events)-1].Position
		}
	}()
	return ch, func() {
		cancel()
		<-done
	}
}
