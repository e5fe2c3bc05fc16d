-- +goose Up
-- The read models. This file is shared by SQLite and PostgreSQL, so it uses
-- only types both know: TEXT, INTEGER, BIGINT. Times are Unix microseconds
-- (UTC), 0 meaning "never"; booleans are 0 or 1; lists are JSON text.
-- Every table but proj_node_leases is a pure function of the event log
-- and is emptied by a rebuild.

-- proj_checkpoint is the position of the last applied event. rebuilding is 1
-- while a rebuild runs; other appliers wait for it to end.
CREATE TABLE proj_checkpoint (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    commit_pos  BIGINT  NOT NULL,
    prepare_pos BIGINT  NOT NULL,
    rebuilding  INTEGER NOT NULL
);
INSERT INTO proj_checkpoint (id, commit_pos, prepare_pos, rebuilding) VALUES (1, 0, 0, 0);

CREATE TABLE proj_users (
    user_id    TEXT   PRIMARY KEY,
    username   TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL -- the latest ConnectionClosed; 0 if none
);

-- proj_sessions holds the active sessions only.
CREATE TABLE proj_sessions (
    token_hash TEXT   PRIMARY KEY,
    user_id    TEXT   NOT NULL,
    session_id TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX proj_sessions_user ON proj_sessions (user_id, session_id);

CREATE TABLE proj_rooms (
    room_id          TEXT   PRIMARY KEY,
    kind             TEXT   NOT NULL,
    name             TEXT   NOT NULL,
    owner_id         TEXT   NOT NULL, -- '' for DMs
    invite_code      TEXT   NOT NULL, -- the current code; '' for DMs
    created_at       BIGINT NOT NULL,
    last_seq         BIGINT NOT NULL, -- revision of the room stream's last event
    last_activity_at BIGINT NOT NULL  -- the last message's time, else created_at
);
CREATE INDEX proj_rooms_invite ON proj_rooms (invite_code);

-- proj_members holds the current members only.
CREATE TABLE proj_members (
    room_id   TEXT   NOT NULL,
    user_id   TEXT   NOT NULL,
    role      TEXT   NOT NULL,
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX proj_members_user ON proj_members (user_id, room_id);

CREATE TABLE proj_bans (
    room_id   TEXT   NOT NULL,
    user_id   TEXT   NOT NULL,
    banned_by TEXT   NOT NULL,
    banned_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);

-- proj_messages is the room timeline: one row per MessagePosted, its seq
-- being the event's room stream revision. A deleted message keeps its row
-- with its text and mentions emptied.
CREATE TABLE proj_messages (
    room_id       TEXT    NOT NULL,
    seq           BIGINT  NOT NULL,
    sender_id     TEXT    NOT NULL,
    client_msg_id TEXT    NOT NULL,
    text          TEXT    NOT NULL,
    reply_to      BIGINT  NOT NULL, -- 0 if none
    mentions      TEXT    NOT NULL, -- JSON list of user IDs
    created_at    BIGINT  NOT NULL,
    edited_at     BIGINT  NOT NULL, -- 0 if never
    deleted       INTEGER NOT NULL,
    PRIMARY KEY (room_id, seq)
);

CREATE TABLE proj_reactions (
    room_id    TEXT   NOT NULL,
    seq        BIGINT NOT NULL,
    emoji      TEXT   NOT NULL,
    user_id    TEXT   NOT NULL,
    reacted_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, seq, emoji, user_id)
);

CREATE TABLE proj_read_markers (
    user_id TEXT   NOT NULL,
    room_id TEXT   NOT NULL,
    seq     BIGINT NOT NULL,
    PRIMARY KEY (user_id, room_id)
);

-- proj_connections holds the open connections: a user with one is online.
CREATE TABLE proj_connections (
    user_id   TEXT   NOT NULL,
    conn_id   TEXT   NOT NULL,
    node_id   TEXT   NOT NULL,
    opened_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, conn_id)
);
CREATE INDEX proj_connections_node ON proj_connections (node_id);

-- proj_node_leases is operational state, not a projection: each node
-- renews its lease while it lives; the reaper closes the connections of
-- nodes whose lease ran out. A rebuild keeps it.
CREATE TABLE proj_node_leases (
    node_id    TEXT   PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE proj_node_leases;
DROP TABLE proj_connections;
DROP TABLE proj_read_markers;
DROP TABLE proj_reactions;
DROP TABLE proj_messages;
DROP TABLE proj_bans;
DROP TABLE proj_members;
DROP TABLE proj_rooms;
DROP TABLE proj_sessions;
DROP TABLE proj_users;
DROP TABLE proj_checkpoint;
