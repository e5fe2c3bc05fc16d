-- +goose Up
-- Calls: each room has one call at a time (domain.Call).

-- proj_calls has one row per call: its place in the room's timeline (the
-- seq of its CallStarted), who started it and when, and once it ended, when
-- and how many people came.
CREATE TABLE proj_calls (
    room_id      TEXT    NOT NULL,
    call_id      TEXT    NOT NULL,
    seq          BIGINT  NOT NULL,
    started_by   TEXT    NOT NULL,
    started_at   BIGINT  NOT NULL,
    ended_seq    BIGINT  NOT NULL, -- 0 while it goes on
    ended_at     BIGINT  NOT NULL, -- 0 while it goes on
    participants INTEGER NOT NULL, -- users who were in it at some time, once it ended
    PRIMARY KEY (room_id, call_id)
);
CREATE INDEX proj_calls_seq ON proj_calls (room_id, seq);

-- proj_call_participants holds who is in each ongoing call, and on which
-- connection of which node: the reaper takes the participants of a lost
-- node out of their calls.
CREATE TABLE proj_call_participants (
    room_id   TEXT   NOT NULL,
    user_id   TEXT   NOT NULL,
    call_id   TEXT   NOT NULL,
    node_id   TEXT   NOT NULL,
    conn_id   TEXT   NOT NULL,
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX proj_call_participants_node ON proj_call_participants (node_id);

-- +goose Down
DROP TABLE proj_call_participants;
DROP TABLE proj_calls;
