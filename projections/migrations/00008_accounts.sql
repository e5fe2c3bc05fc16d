-- +goose Up
-- Account settings and the operators' account actions: a user's display
-- name ('' if none), avatar (the blob's digest and content type, '' if
-- none) and status: 'active', 'disabled' or 'deleted'. A deleted user's
-- row stays, with its username, display name and avatar emptied: messages
-- and DMs show "Deleted user".
ALTER TABLE proj_users ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE proj_users ADD COLUMN avatar TEXT NOT NULL DEFAULT '';
ALTER TABLE proj_users ADD COLUMN avatar_type TEXT NOT NULL DEFAULT '';
ALTER TABLE proj_users ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
CREATE INDEX proj_users_avatar ON proj_users (avatar);

-- +goose Down
DROP INDEX proj_users_avatar;
ALTER TABLE proj_users DROP COLUMN status;
ALTER TABLE proj_users DROP COLUMN avatar_type;
ALTER TABLE proj_users DROP COLUMN avatar;
ALTER TABLE proj_users DROP COLUMN display_name;
