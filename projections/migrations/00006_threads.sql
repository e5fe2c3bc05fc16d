-- +goose Up
-- Threads (issue 16). A reply in a thread is a message of the room's
-- timeline with thread_root, its root's seq (0 for the timeline's own
-- messages). proj_threads has a row per message that has had a reply:
-- its live replies (reply_count: a deleted reply no longer counts) and
-- its latest reply (last_reply_seq, last_reply_at: the latest posted,
-- deleted or not, as a room's last activity is). proj_thread_reads is
-- each user's read marker per thread (ThreadRead in the user's stream).
ALTER TABLE proj_messages ADD COLUMN thread_root BIGINT NOT NULL DEFAULT 0;
CREATE INDEX proj_messages_thread ON proj_messages (room_id, thread_root, seq) WHERE thread_root <> 0;

CREATE TABLE proj_threads (
    room_id        TEXT   NOT NULL,
    root_seq       BIGINT NOT NULL,
    reply_count    BIGINT NOT NULL,
    last_reply_seq BIGINT NOT NULL,
    last_reply_at  BIGINT NOT NULL,
    PRIMARY KEY (room_id, root_seq)
);
CREATE INDEX proj_threads_recent ON proj_threads (room_id, last_reply_seq);

CREATE TABLE proj_thread_reads (
    user_id  TEXT   NOT NULL,
    room_id  TEXT   NOT NULL,
    root_seq BIGINT NOT NULL,
    seq      BIGINT NOT NULL,
    PRIMARY KEY (user_id, room_id, root_seq)
);

-- +goose Down
DROP TABLE proj_thread_reads;
DROP TABLE proj_threads;
DROP INDEX proj_messages_thread;
ALTER TABLE proj_messages DROP COLUMN thread_root;
