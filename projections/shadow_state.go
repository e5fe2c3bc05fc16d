package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/confabhq/confab/eventstore"
)

// The state of a shadow rebuild: one row of proj_shadow per projection
// being rebuilt, and the shadow tables it describes.

// shadowState is a row of proj_shadow.
type shadowState struct {
	pos                  eventstore.Position
	schema               string // fingerprint of the live schema the shadow copies
	events               int64  // events applied to the shadow, over every run
	startedAt, updatedAt time.Time
}

// errShadowGone reports that the shadow went away under a rebuild:
// another rebuild restarted it or swapped it in.
var errShadowGone = errors.New("projections: rebuild: the shadow tables are gone (another rebuild restarted or finished?)")

const createShadowState = `CREATE TABLE IF NOT EXISTS ` + shadowStateTable + ` (
    name        TEXT   PRIMARY KEY,
    commit_pos  BIGINT NOT NULL,
    prepare_pos BIGINT NOT NULL,
    schema_hash TEXT   NOT NULL,
    events      BIGINT NOT NULL,
    started_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
)`

func scanShadow(row *sql.Row) (*shadowState, error) {
	var c, pr, started, updated int64
	st := &shadowState{}
	if err := row.Scan(&c, &pr, &st.schema, &st.events, &started, &updated); err != nil {
		return nil, err
	}
	st.pos = decodePosition(c, pr)
	st.startedAt, st.updatedAt = fromMicros(started), fromMicros(updated)
	return st, nil
}

// readShadow returns the state of the read models' shadow rebuild; nil if
// none was started, or the last one finished.
func readShadow(ctx context.Context, q querier, d Dialect) (*shadowState, error) {
	exists, err := tableExists(ctx, q, d, shadowStateTable)
	if err != nil || !exists {
		return nil, err
	}
	st, err := scanShadow(q.QueryRowContext(ctx, d.Rebind(`SELECT commit_pos, prepare_pos, schema_hash, events, started_at, updated_at
		FROM `+shadowStateTable+` WHERE name = ?`), ReadModels))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("projections: read shadow state: %w", err)
	}
	return st, nil
}

// lockShadow takes the shadow state row for the transaction.
func lockShadow(ctx context.Context, tx *sql.Tx, d Dialect) (*shadowState, error) {
	st, err := scanShadow(tx.QueryRowContext(ctx, d.Rebind(`UPDATE `+shadowStateTable+` SET name = name WHERE name = ?
		RETURNING commit_pos, prepare_pos, schema_hash, events, started_at, updated_at`), ReadModels))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errShadowGone
	}
	if err != nil {
		return nil, fmt.Errorf("projections: lock shadow state: %w", err)
	}
	return st, nil
}

// writeShadow moves the shadow checkpoint; events < 0 keeps the count.
func writeShadow(ctx context.Context, tx *sql.Tx, d Dialect, pos eventstore.Position, events int64) error {
	c, pr := encodePosition(pos)
	var err error
	if events < 0 {
		_, err = tx.ExecContext(ctx, d.Rebind(`UPDATE `+shadowStateTable+` SET commit_pos = ?, prepare_pos = ?, updated_at = ? WHERE name = ?`),
			c, pr, micros(time.Now()), ReadModels)
	} else {
		_, err = tx.ExecContext(ctx, d.Rebind(`UPDATE `+shadowStateTable+` SET commit_pos = ?, prepare_pos = ?, events = ?, updated_at = ? WHERE name = ?`),
			c, pr, events, micros(time.Now()), ReadModels)
	}
	if err != nil {
		return fmt.Errorf("projections: write shadow checkpoint: %w", err)
	}
	return nil
}

// prepareShadow finds the shadow an interrupted rebuild left and returns
// its state, or (re)creates the shadow tables empty from the live tables'
// schema. discarded says why a shadow that was there is not resumed.
func (p *Projections) prepareShadow(ctx context.Context, restart bool) (st *shadowState, discarded string, err error) {
	tx, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, "", fmt.Errorf("projections: rebuild: begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, createShadowState); err != nil {
		return nil, "", fmt.Errorf("projections: rebuild: create %s: %w", shadowStateTable, err)
	}
	schema, err := liveSchema(ctx, tx, p.d)
	if err != nil {
		return nil, "", err
	}
	old, err := readShadow(ctx, tx, p.d)
	if err != nil {
		return nil, "", err
	}
	if old != nil {
		complete, err := shadowTablesExist(ctx, tx, p.d)
		if err != nil {
			return nil, "", err
		}
		switch {
		case restart:
			discarded = "restart requested"
		case old.schema != schema.hash:
			discarded = "the read models' schema changed since it started"
		case !complete:
			discarded = "some of its tables are missing"
		default:
			return old, "", tx.Commit()
		}
	}
	for _, t := range schemaTables(p.d) {
		if _, err := tx.ExecContext(ctx, `DROP TABLE IF EXISTS `+shadowPrefix+t); err != nil {
			return nil, "", fmt.Errorf("projections: rebuild: drop old shadow of %s: %w", t, err)
		}
	}
	for _, stmt := range schema.shadowDDL {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return nil, "", fmt.Errorf("projections: rebuild: create shadow tables: %s: %w", stmt, err)
		}
	}
	now := micros(time.Now())
	if _, err := tx.ExecContext(ctx, p.d.Rebind(`DELETE FROM `+shadowStateTable+` WHERE name = ?`), ReadModels); err != nil {
		return nil, "", fmt.Errorf("projections: rebuild: %w", err)
	}
	if _, err := tx.ExecContext(ctx, p.d.Rebind(`INSERT INTO `+shadowStateTable+` (name, commit_pos, prepare_pos, schema_hash, events, started_at, updated_at)
		VALUES (?, 0, 0, ?, 0, ?, ?)`), ReadModels, schema.hash, now, now); err != nil {
		return nil, "", fmt.Errorf("projections: rebuild: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, "", fmt.Errorf("projections: rebuild: commit: %w", err)
	}
	return &shadowState{schema: schema.hash, startedAt: fromMicros(now), updatedAt: fromMicros(now)}, discarded, nil
}

// checkShadowSchema fails if the live schema changed (a migration ran)
// since the shadow was made: its tables would not fit the code any more.
// It drops nothing: the next rebuild starts over.
func checkShadowSchema(ctx context.Context, tx *sql.Tx, d Dialect) error {
	st, err := readShadow(ctx, tx, d)
	if err != nil {
		return err
	}
	if st == nil {
		return errShadowGone
	}
	schema, err := liveSchema(ctx, tx, d)
	if err != nil {
		return err
	}
	if schema.hash != st.schema {
		return errors.New("projections: swap: the read models' schema changed during the rebuild (a migration ran); run the rebuild again")
	}
	return nil
}

// DiscardShadow drops the shadow tables and state of an interrupted
// rebuild, if there are any.
func (p *Projections) DiscardShadow(ctx context.Context) error {
	tx, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("projections: discard shadow: begin: %w", err)
	}
	defer tx.Rollback()
	for _, t := range schemaTables(p.d) {
		if _, err := tx.ExecContext(ctx, `DROP TABLE IF EXISTS `+shadowPrefix+t); err != nil {
			return fmt.Errorf("projections: discard shadow of %s: %w", t, err)
		}
	}
	exists, err := tableExists(ctx, tx, p.d, shadowStateTable)
	if err != nil {
		return err
	}
	if exists {
		if _, err := tx.ExecContext(ctx, p.d.Rebind(`DELETE FROM `+shadowStateTable+` WHERE name = ?`), ReadModels); err != nil {
			return fmt.Errorf("projections: discard shadow: %w", err)
		}
	}
	return tx.Commit()
}
