package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/confabhq/confab/blobstore"
	blobfile "github.com/confabhq/confab/blobstore/file"
	blobpg "github.com/confabhq/confab/blobstore/postgres"
	"github.com/confabhq/confab/commands"
	"github.com/confabhq/confab/gateway"
	"github.com/confabhq/confab/internal/supervise"
	"github.com/confabhq/confab/projections"
	"github.com/dustin/go-humanize"
	"github.com/urfave/cli/v3"
)

// attachmentFlags configure attachments: their limits, and the collector
// of the blobs nothing reaches.
func attachmentFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "max-upload", Value: "25MiB", Usage: "largest file one upload may carry (bytes, or with a unit: 25MiB, 10MB)", Sources: cli.EnvVars("CONFAB_MAX_UPLOAD")},
		&cli.StringFlag{Name: "upload-quota", Value: "1GiB", Usage: "bytes one user's attachments may take in all (0: no quota)", Sources: cli.EnvVars("CONFAB_UPLOAD_QUOTA")},
		&cli.DurationFlag{Name: "blob-grace", Value: 24 * time.Hour, Usage: "how long the bytes of an attachment nothing reaches (deleted message, removed by an edit, never posted) are kept before the collector removes them", Sources: cli.EnvVars("CONFAB_BLOB_GRACE")},
		&cli.DurationFlag{Name: "blob-gc-interval", Value: 10 * time.Minute, Usage: "how often the blob collector runs", Sources: cli.EnvVars("CONFAB_BLOB_GC_INTERVAL")},
		&cli.StringFlag{Name: "blob-dir", Usage: "directory of the file blob store (default: <data>/blobs); with --store postgres, blobs are in the database", Sources: cli.EnvVars("CONFAB_BLOB_DIR")},
	}
}

// uploadLimits sets the attachment limits of the gateway from the flags.
func uploadLimits(c *cli.Command, l *gateway.Limits) error {
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"max-upload", &l.MaxUploadBytes}, {"upload-quota", &l.UploadQuota}} {
		n, err := humanize.ParseBytes(c.String(f.name))
		if err != nil || n > 1<<50 {
			return fmt.Errorf("--%s %q: want a size such as 25MiB", f.name, c.String(f.name))
		}
		*f.dst = int64(n)
	}
	if l.MaxUploadBytes == 0 {
		return errors.New("--max-upload 0: give the largest upload, such as 25MiB")
	}
	if c.Duration("blob-grace") <= 0 || c.Duration("blob-gc-interval") <= 0 {
		return errors.New("--blob-grace and --blob-gc-interval must be positive")
	}
	return nil
}

// openBlobs opens the blob store the store flags imply: PostgreSQL's own
// tables with --store postgres (every node sees every blob), else files
// under --blob-dir (<data>/blobs).
func openBlobs(ctx context.Context, c *cli.Command) (blobstore.Store, error) {
	if c.String("store") == "postgres" {
		return blobpg.Open(ctx, c.String("postgres-url"))
	}
	dir := c.String("blob-dir")
	if dir == "" {
		dir = filepath.Join(c.String("data"), "blobs")
	}
	return blobfile.Open(dir)
}

// blobCollector discards the attachments nothing has reached for the
// grace period (AttachmentDiscarded: they stop counting against their
// uploader's quota), then removes the blobs no attachment holds that
// were not stored again within the grace period. Every node may run
// it: discards are idempotent and removals conditional
// (blobstore.Store.Delete).
type blobCollector struct {
	blobs    blobstore.Store
	read     *projections.Projections
	discard  *commands.DiscardAttachmentHandler
	grace    time.Duration
	interval time.Duration
	logger   *slog.Logger
}

// run collects every interval until ctx ends; a failed pass is retried
// with the loop's backoff.
func (gc *blobCollector) run(ctx context.Context, loop *supervise.Loop) error {
	t := time.NewTicker(gc.interval)
	defer t.Stop()
	for {
		if err := loop.Do(ctx, gc.pass); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// pass is one collection.
func (gc *blobCollector) pass(ctx context.Context) error {
	cutoff := time.Now().Add(-gc.grace)
	discarded := 0
	for {
		batch, err := gc.read.UnreachableAttachments(ctx, cutoff, 500)
		if err != nil {
			return err
		}
		for _, a := range batch {
			if _, err := gc.discard.Handle(ctx, commands.DiscardAttachment{Uploader: a.Uploader, ID: a.Attachment.ID}); err != nil {
				return fmt.Errorf("discard attachment %s: %w", a.Attachment.ID, err)
			}
			discarded++
		}
		if len(batch) < 500 {
			break
		}
		// The read models drop discarded rows once they apply the
		// events: wait for them rather than read the same batch again.
		return nil
	}
	removed := 0
	var freed int64
	err := gc.blobs.List(ctx, func(b blobstore.Info) error {
		if !b.Stored.Before(cutoff) {
			return nil
		}
		held, err := gc.read.BlobReferenced(ctx, b.Digest)
		if err != nil || held {
			return err
		}
		ok, err := gc.blobs.Delete(ctx, b.Digest, cutoff)
		if ok {
			removed++
			freed += b.Size
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("collect blobs: %w", err)
	}
	if discarded > 0 || removed > 0 {
		gc.logger.Info("blob collector", "discarded_attachments", discarded, "removed_blobs", removed, "freed_bytes", freed)
	}
	return nil
}
