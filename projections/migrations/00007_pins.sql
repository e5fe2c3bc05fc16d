-- +goose Up
-- Pinned messages, room settings and notification levels (issue 16).

-- proj_pins has a row per pinned live message (MessagePinned; a
-- MessageUnpinned or a MessageDeleted drops it).
CREATE TABLE proj_pins (
    room_id   TEXT   NOT NULL,
    seq       BIGINT NOT NULL,
    pinned_by TEXT   NOT NULL,
    pinned_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, seq)
);

-- proj_room_settings has a row per room whose settings were ever set
-- (RoomSettingsChanged); a room without one has the defaults.
CREATE TABLE proj_room_settings (
    room_id         TEXT    NOT NULL PRIMARY KEY,
    members_can_pin INTEGER NOT NULL
);

-- proj_notify has a row per user and room whose notification level is
-- not 'all' (RoomNotifySet in the user's stream): 'mentions' or 'none'.
CREATE TABLE proj_notify (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    level   TEXT NOT NULL,
    PRIMARY KEY (user_id, room_id)
);

-- +goose Down
DROP TABLE proj_notify;
DROP TABLE proj_room_settings;
DROP TABLE proj_pins;
