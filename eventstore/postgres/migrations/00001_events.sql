-- +goose Up
-- events is the log. The global order is (xid, position): xid is the
-- writing transaction's ID and position a sequence number taken during the
-- transaction. Positions are NOT assigned in commit order when writers run
-- concurrently, so readers only read rows whose transaction is older than
-- every transaction still running (pg_snapshot_xmin): nothing can commit
-- below that line any more, and the order above it is never read early.
CREATE TABLE events (
    position    bigint      GENERATED ALWAYS AS IDENTITY,
    xid         xid8        NOT NULL DEFAULT pg_current_xact_id(),
    id          uuid        NOT NULL PRIMARY KEY,
    stream      text        NOT NULL,
    revision    bigint      NOT NULL,
    type        text        NOT NULL,
    data        bytea       NOT NULL,
    metadata    bytea       NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (stream, revision)
);
CREATE UNIQUE INDEX events_global_order ON events (xid, position);

-- confab_append appends one batch of events to a stream, in one round trip.
-- (The store now appends whole batches with confab_append_batch, from
-- 00002_append_batch.sql; this function stays for nodes that run an older
-- version during an upgrade. Both lock streams the same way.)
-- It serializes writers of the same stream with a transaction-scoped
-- advisory lock, then:
--   * if the event IDs are already stored as one append in this stream, in
--     order, it returns status 'retry' with that append's last event;
--   * if only some are, or elsewhere, status 'id_conflict';
--   * if the stream is not at the expected revision (-1 any, -2 exists,
--     n >= 0 exactly n), status 'wrong_revision' with the actual revision;
--   * otherwise it inserts the events and returns 'ok' with the last one.
-- A failed check writes nothing.
-- +goose StatementBegin
CREATE FUNCTION confab_append(p_stream text, p_expected bigint, p_ids uuid[], p_types text[], p_data bytea[], p_metadata bytea[])
RETURNS TABLE (status text, revision bigint, xid text, "position" bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    n        int := cardinality(p_ids);
    cur      bigint;
    matching int;
    stored   int;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(p_stream, 0));

    -- Every query here must use an index even in a plan cached while the
    -- table was nearly empty: look IDs up with = ANY (the primary key),
    -- not by joining unnest (estimated at 100 rows: a hash join over a
    -- scan of the whole table).
    WITH found AS (
        SELECT array_position(p_ids, e.id) AS ord, e.stream, e.revision
          FROM events e
         WHERE e.id = ANY (p_ids)
    )
    SELECT count(*),
           count(*) FILTER (WHERE f.stream = p_stream
                              AND f.revision = (SELECT f1.revision FROM found f1 WHERE f1.ord = 1) + f.ord - 1)
      INTO stored, matching
      FROM found f;
    IF stored > 0 THEN
        IF stored = n AND matching = n THEN
            RETURN QUERY SELECT 'retry'::text, e.revision, e.xid::text, e.position
                           FROM events e WHERE e.id = p_ids[n];
        ELSE
            RETURN QUERY SELECT 'id_conflict'::text, 0::bigint, NULL::text, NULL::bigint;
        END IF;
        RETURN;
    END IF;

    SELECT coalesce((SELECT e.revision FROM events e WHERE e.stream = p_stream ORDER BY e.revision DESC LIMIT 1), 0) INTO cur;
    IF NOT (p_expected = -1 OR (p_expected = -2 AND cur > 0) OR p_expected = cur) THEN
        RETURN QUERY SELECT 'wrong_revision'::text, cur, NULL::text, NULL::bigint;
        RETURN;
    END IF;

    RETURN QUERY
    WITH inserted AS (
        INSERT INTO events (id, stream, revision, type, data, metadata)
        SELECT u.id, p_stream, cur + u.ord, u.type, u.data, u.metadata
          FROM unnest(p_ids, p_types, p_data, p_metadata) WITH ORDINALITY AS u(id, type, data, metadata, ord)
         ORDER BY u.ord
        RETURNING events.revision, events.xid, events.position
    )
    SELECT 'ok'::text, i.revision, i.xid::text, i.position
      FROM inserted i ORDER BY i.revision DESC LIMIT 1;
END
$fn$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION confab_append;
DROP TABLE events;
