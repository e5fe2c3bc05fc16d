package projections

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/confabhq/confab/eventstore"
)

// Status is the state of a projection, for operators.
type Status struct {
	Name string
	// Checkpoint is the position of the last applied event.
	Checkpoint eventstore.Position
	// Paused is true while the checkpoint carries the rebuilding mark:
	// appliers wait (an in-place Rebuild runs or failed, or a verifying
	// shadow rebuild compares the tables).
	Paused bool
	// Tables lists the projection's tables with their row counts.
	Tables []TableRows
	// Shadow is the shadow rebuild under way or interrupted, if any.
	Shadow *ShadowStatus
}

// TableRows is a table and how many rows it holds.
type TableRows struct {
	Table string
	Rows  int64
}

// ShadowStatus is how far a shadow rebuild got.
type ShadowStatus struct {
	// Position is the shadow's checkpoint; Events counts the events
	// applied to it.
	Position  eventstore.Position
	Events    int64
	StartedAt time.Time
	UpdatedAt time.Time
}

// Status returns the state of the read models: checkpoint, row counts and
// any shadow rebuild. It reads in one transaction.
func (p *Projections) Status(ctx context.Context) (Status, error) {
	s := Status{Name: ReadModels}
	err := p.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		if s.Checkpoint, s.Paused, err = readCheckpoint(ctx, tx, p.d); err != nil {
			return err
		}
		for _, t := range readModelTables {
			var n int64
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t).Scan(&n); err != nil {
				return fmt.Errorf("projections: count %s: %w", t, err)
			}
			s.Tables = append(s.Tables, TableRows{Table: t, Rows: n})
		}
		st, err := readShadow(ctx, tx, p.d)
		if err != nil || st == nil {
			return err
		}
		s.Shadow = &ShadowStatus{Position: st.pos, Events: st.events, StartedAt: st.startedAt, UpdatedAt: st.updatedAt}
		return nil
	})
	return s, err
}

// Behind counts the events of the user and room streams after position
// after, the events the read models have still to apply if after is their
// checkpoint. It stops counting at limit (if limit > 0) and then returns
// false.
func Behind(ctx context.Context, store eventstore.Store, after eventstore.Position, limit int64) (n int64, complete bool, err error) {
	filter := Filter()
	for {
		events, err := store.ReadAll(ctx, after, rebuildBatch)
		if err != nil {
			return n, false, fmt.Errorf("projections: count events after %v: %w", after, err)
		}
		if len(events) == 0 {
			return n, true, nil
		}
		for i := range events {
			if filter.Match(&events[i]) {
				n++
			}
		}
		if limit > 0 && n >= limit {
			return n, false, nil
		}
		after = events[len(events)-1].Position
	}
}
