-- +goose Up
-- events is the log. position is the global order: AUTOINCREMENT never
-- reuses a value, and the single writer assigns them in commit order.
CREATE TABLE events (
    position    INTEGER PRIMARY KEY AUTOINCREMENT,
    id          BLOB    NOT NULL UNIQUE,
    stream      TEXT    NOT NULL,
    revision    INTEGER NOT NULL,
    type        TEXT    NOT NULL,
    data        BLOB,
    metadata    BLOB,
    recorded_at INTEGER NOT NULL, -- Unix microseconds, UTC
    UNIQUE (stream, revision)
);

-- +goose Down
DROP TABLE events;
