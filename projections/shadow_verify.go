package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Verify: a rebuild compares the shadow tables with the live ones before
// it swaps them in.

// TableDiff is how a rebuilt table differs from the live one.
type TableDiff struct {
	Table                     string
	LiveRows, RebuiltRows     int64
	OnlyLive, OnlyRebuilt     int64    // rows in one table and not the other
	OnlyLiveEx, OnlyRebuiltEx []string // up to 3 of them, formatted as Dump does
}

// verify brings the shadow and the live tables to the same position and
// compares them. To compare without holding a write lock (on SQLite that
// would stall the event store's appends) it pauses the live appliers with
// the checkpoint's rebuilding mark, which swap clears; if it fails or the
// tables differ, it clears the mark itself.
func (r *shadowRun) verify(ctx context.Context) (diffs []TableDiff, err error) {
	p := r.p
	r.report(PhaseVerify)
	p.applyMu.Lock()
	err = func() error {
		tx, err := p.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("projections: verify: begin: %w", err)
		}
		defer tx.Rollback()
		live, _, err := lockCheckpoint(ctx, tx, p.d)
		if err != nil {
			return err
		}
		tl, err := r.applyTail(ctx, tx)
		if err != nil {
			return err
		}
		shadow, err := shadowCheckpoint(ctx, tx, p.d)
		if err != nil {
			return err
		}
		at := live
		if shadow.After(live) {
			at = shadow
			if err := r.catchUpLive(ctx, tx, live, at); err != nil {
				return err
			}
		}
		if err := writeShadow(ctx, tx, p.d, at, -1); err != nil {
			return err
		}
		if err := writeCheckpoint(ctx, tx, p.d, at, true); err != nil {
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("projections: verify: commit: %w", err)
		}
		r.done(tl)
		p.setLast(at)
		return nil
	}()
	p.applyMu.Unlock()
	if err != nil {
		return nil, err
	}
	r.paused = true
	defer func() {
		if err != nil || len(diffs) > 0 {
			if uerr := p.unpause(context.WithoutCancel(ctx)); uerr != nil {
				err = errors.Join(err, uerr)
			} else {
				r.paused = false
			}
		}
	}()
	err = p.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		diffs, err = compareShadow(ctx, tx, p.d)
		return err
	})
	return diffs, err
}

// compareShadow compares each read-model table with its shadow, row for
// row, in the database (EXCEPT both ways), and returns the tables that
// differ.
func compareShadow(ctx context.Context, q querier, d Dialect) ([]TableDiff, error) {
	var diffs []TableDiff
	count := func(query string) (int64, error) {
		var n int64
		err := q.QueryRowContext(ctx, query).Scan(&n)
		return n, err
	}
	for _, t := range readModelTables {
		s := shadowPrefix + t
		diff := TableDiff{Table: t}
		var err error
		if diff.LiveRows, err = count(`SELECT COUNT(*) FROM ` + t); err != nil {
			return nil, fmt.Errorf("projections: verify %s: %w", t, err)
		}
		if diff.RebuiltRows, err = count(`SELECT COUNT(*) FROM ` + s); err != nil {
			return nil, fmt.Errorf("projections: verify %s: %w", t, err)
		}
		onlyLive := `SELECT * FROM (SELECT * FROM ` + t + ` EXCEPT SELECT * FROM ` + s + `) d`
		onlyRebuilt := `SELECT * FROM (SELECT * FROM ` + s + ` EXCEPT SELECT * FROM ` + t + `) d`
		if diff.OnlyLive, err = count(`SELECT COUNT(*) FROM (` + onlyLive + `) n`); err != nil {
			return nil, fmt.Errorf("projections: verify %s: %w", t, err)
		}
		if diff.OnlyRebuilt, err = count(`SELECT COUNT(*) FROM (` + onlyRebuilt + `) n`); err != nil {
			return nil, fmt.Errorf("projections: verify %s: %w", t, err)
		}
		if diff.OnlyLive == 0 && diff.OnlyRebuilt == 0 {
			continue
		}
		if diff.OnlyLiveEx, err = formatRows(ctx, q, t, onlyLive+` LIMIT 3`); err != nil {
			return nil, fmt.Errorf("projections: verify %s: %w", t, err)
		}
		if diff.OnlyRebuiltEx, err = formatRows(ctx, q, t, onlyRebuilt+` LIMIT 3`); err != nil {
			return nil, fmt.Errorf("projections: verify %s: %w", t, err)
		}
		diffs = append(diffs, diff)
	}
	return diffs, nil
}
