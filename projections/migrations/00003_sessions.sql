-- +goose Up
-- Sessions expire (domain.SessionPolicy) and users list their own: a
-- session's row keeps what its SessionStarted recorded of the client, and
-- last_used_at, the time of its latest SessionUsed (else its start), from
-- which its idle timeout runs. Rows of sessions started before this
-- migration have no client and were never used since they started: what a
-- rebuild from the log gives them too.
ALTER TABLE proj_sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE proj_sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '';
ALTER TABLE proj_sessions ADD COLUMN last_used_at BIGINT NOT NULL DEFAULT 0;
UPDATE proj_sessions SET last_used_at = created_at;

-- +goose Down
ALTER TABLE proj_sessions DROP COLUMN last_used_at;
ALTER TABLE proj_sessions DROP COLUMN ip;
ALTER TABLE proj_sessions DROP COLUMN user_agent;
