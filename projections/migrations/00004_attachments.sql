-- +goose Up
-- Attachments (issue 15). A message's attachments are in its row, as JSON
-- (domain.Attachment objects, in the order posted; '[]' if none, and once
-- deleted). proj_attachments has a row per upload that is not discarded
-- (AttachmentUploaded in the uploader's stream; AttachmentDiscarded drops
-- it): who may fetch it, which blobs it holds, and since when nothing
-- reaches it (released_at), from which the collector's grace runs.
ALTER TABLE proj_messages ADD COLUMN attachments TEXT NOT NULL DEFAULT '[]';

CREATE TABLE proj_attachments (
    attachment_id TEXT   NOT NULL PRIMARY KEY,
    uploader_id   TEXT   NOT NULL,
    room_id       TEXT   NOT NULL,
    message       TEXT   NOT NULL, -- '<room_id>/<seq>' of the message that holds it, '' before it is posted
    digest        TEXT   NOT NULL,
    thumbnail     TEXT   NOT NULL, -- digest of the thumbnail blob, '' if none
    name          TEXT   NOT NULL,
    content_type  TEXT   NOT NULL,
    size          BIGINT NOT NULL,
    width         BIGINT NOT NULL,
    height        BIGINT NOT NULL,
    seq           BIGINT NOT NULL, -- the message's seq, 0 before it is posted
    uploaded_at   BIGINT NOT NULL,
    released_at   BIGINT NOT NULL  -- when its message was deleted or an edit took it off; 0 if not
);
CREATE INDEX proj_attachments_message ON proj_attachments (message);
CREATE INDEX proj_attachments_digest ON proj_attachments (digest);
CREATE INDEX proj_attachments_thumbnail ON proj_attachments (thumbnail);

-- +goose Down
DROP TABLE proj_attachments;
ALTER TABLE proj_messages DROP COLUMN attachments;
