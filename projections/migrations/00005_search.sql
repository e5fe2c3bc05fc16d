-- +goose Up
-- Full-text search (issue 15): proj_search has one row per live message
-- (a deleted message's row is deleted), what search filters on. The
-- word index beside it depends on the database, so Open makes it, not
-- this file (search_index.go): on SQLite an FTS5 table, proj_search_fts,
-- whose rowid is pos; on PostgreSQL a generated tsvector column, tsv,
-- with a GIN index. A database upgraded from before this migration has
-- its older messages in the index once the read models are rebuilt
-- (confab projections rebuild).
--
-- pos is the prepare position of the message's MessagePosted in the
-- event log: unique, the same on every rebuild, and the order of
-- results (newest first). mentions, files and images are lists of IDs,
-- each followed by a space, and mentions starts with one (" u1 u2 "), so
-- that LIKE '% id %' finds one; files lists every attachment, images
-- those whose content type is image/*.
CREATE TABLE proj_search (
    room_id    TEXT    NOT NULL,
    seq        BIGINT  NOT NULL,
    pos        BIGINT  NOT NULL,
    sender_id  TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    text       TEXT    NOT NULL,
    mentions   TEXT    NOT NULL,
    files      TEXT    NOT NULL,
    images     TEXT    NOT NULL,
    has_link   INTEGER NOT NULL,
    PRIMARY KEY (room_id, seq)
);
CREATE UNIQUE INDEX proj_search_pos ON proj_search (pos);
CREATE INDEX proj_search_room ON proj_search (room_id, pos);
CREATE INDEX proj_search_sender ON proj_search (sender_id, pos);

-- +goose Down
DROP TABLE proj_search;
