-- +goose Up
-- confab_append_batch appends a batch of appends in one statement, so that
-- a batch costs one round trip and a handful of statements, whatever its
-- size. The appends are given as arrays: per append its stream (as an index
-- into p_names, the batch's distinct streams), expected revision and number
-- of events; per event, one after the other in append order, the index of
-- its append, its place in that append (from 1) and its columns.
--
-- It locks every stream of the batch, in key order, before it writes
-- anything: the transaction gets its xid at its first write, so it is
-- younger than every transaction that wrote these streams before and older
-- than every one that will, and the (xid, position) order agrees with each
-- stream's revisions. Then it checks the appends in order, as if they ran
-- one after the other, and inserts the events of those that pass in one
-- statement, in array order (so positions follow revisions).
--
-- It returns one row per append, in order: status 'ok' with the revision,
-- xid and position of its last event, or 'wrong_revision' with the
-- stream's actual revision. If any of the event IDs is stored already, it
-- writes nothing and returns a single row with status 'ids_stored': telling
-- a retry from a conflict is left to the caller, which then checks the
-- batch one append at a time. The caller makes sure that no event ID
-- appears twice in a batch.
--
-- The function sets enable_seqscan off: the plans of its statements are
-- cached for the session, and a plan made while the table was nearly empty
-- would otherwise scan the whole table on every call once it is not.
-- +goose StatementBegin
CREATE FUNCTION confab_append_batch(
    p_names    text[],   -- the batch's distinct streams
    p_stream   int[],    -- per append: index into p_names
    p_expected bigint[], -- per append: -1 any, -2 exists, n >= 0 exactly n
    p_count    int[],    -- per append: how many events
    p_app      int[],    -- per event: index of its append
    p_ord      int[],    -- per event: place in its append, from 1
    p_ids      uuid[],
    p_types    text[],
    p_data     bytea[],
    p_metadata bytea[]
) RETURNS TABLE (status text, revision bigint, xid text, "position" bigint)
LANGUAGE plpgsql
SET enable_seqscan = off
AS $fn$
#variable_conflict use_column
DECLARE
    n      int := cardinality(p_stream);
    revs   bigint[];  -- per stream: its revision as the appends go
    base   bigint[];  -- per append: revision before its first event; NULL if it fails
    actual bigint[];  -- per append that fails: the stream's revision
    cur    bigint;
    s      int;
BEGIN
    PERFORM count(pg_advisory_xact_lock(k))
       FROM (SELECT DISTINCT hashtextextended(nm, 0) AS k FROM unnest(p_names) AS nm ORDER BY k) AS keys;

    IF EXISTS (SELECT FROM events e WHERE e.id = ANY (p_ids)) THEN
        RETURN QUERY SELECT 'ids_stored'::text, NULL::bigint, NULL::text, NULL::bigint;
        RETURN;
    END IF;

    SELECT array_agg(coalesce((SELECT e.revision FROM events e WHERE e.stream = u.nm ORDER BY e.revision DESC LIMIT 1), 0) ORDER BY u.i)
      INTO revs
      FROM unnest(p_names) WITH ORDINALITY AS u(nm, i);

    base := array_fill(NULL::bigint, ARRAY[n]);
    actual := array_fill(NULL::bigint, ARRAY[n]);
    FOR i IN 1..n LOOP
        s := p_stream[i];
        cur := revs[s];
        IF p_expected[i] = -1 OR (p_expected[i] = -2 AND cur > 0) OR p_expected[i] = cur THEN
            base[i] := cur;
            revs[s] := cur + p_count[i];
        ELSE
            actual[i] := cur;
        END IF;
    END LOOP;

    RETURN QUERY
    WITH inserted AS (
        INSERT INTO events (id, stream, revision, type, data, metadata)
        SELECT u.id, p_names[p_stream[u.app]], base[u.app] + u.ord, u.type, u.data, u.metadata
          FROM unnest(p_app, p_ord, p_ids, p_types, p_data, p_metadata) WITH ORDINALITY AS u(app, ord, id, type, data, metadata, k)
         WHERE base[u.app] IS NOT NULL
         ORDER BY u.k
        RETURNING events.stream, events.revision, events.xid, events.position
    )
    SELECT CASE WHEN base[a.i] IS NULL THEN 'wrong_revision' ELSE 'ok' END,
           coalesce(ins.revision, actual[a.i]),
           ins.xid::text,
           ins.position
      FROM generate_subscripts(p_stream, 1) AS a(i)
      LEFT JOIN inserted ins ON ins.stream = p_names[p_stream[a.i]] AND ins.revision = base[a.i] + p_count[a.i]
     ORDER BY a.i;
END
$fn$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION confab_append_batch;
