package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/confabhq/confab/blobstore"
	"github.com/urfave/cli/v3"
)

// Attachments' bytes are not events: events export carries the events
// that name them (by digest), and export-blobs / import-blobs carry the
// blobs, one file per blob named by its digest's hex, so that a move
// from the embedded store to PostgreSQL takes both.

func blobDirFlag() cli.Flag {
	return &cli.StringFlag{Name: "blob-dir", Usage: "directory of the file blob store (default: <data>/blobs); with --store postgres, blobs are in the database", Sources: cli.EnvVars("CONFAB_BLOB_DIR")}
}

func blobsExportCommand(m *Main) *cli.Command {
	return &cli.Command{
		Name:  "export-blobs",
		Usage: "copy every blob (attachments' bytes) of this store into a directory, one file per blob named by its SHA-256; files there already are kept",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Required: true, Usage: "the directory to write to (created if need be)"},
			blobDirFlag(),
		},
		Action: func(ctx context.Context, c *cli.Command) error {
			blobs, err := openBlobs(ctx, c)
			if err != nil {
				return err
			}
			defer blobs.Close()
			dir := c.String("dir")
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			n, skipped := 0, 0
			err = blobs.List(ctx, func(i blobstore.Info) error {
				hex, err := blobstore.CheckDigest(i.Digest)
				if err != nil {
					return err
				}
				dst := filepath.Join(dir, hex)
				if st, err := os.Stat(dst); err == nil && st.Size() == i.Size {
					skipped++
					return nil
				}
				if err := exportBlob(ctx, blobs, i.Digest, dst); err != nil {
					return fmt.Errorf("export %s: %w", i.Digest, err)
				}
				n++
				return nil
			})
			fmt.Fprintf(m.Stderr, "exported %s (%d there already) to %s\n", count(n, "blob", "blobs"), skipped, dir)
			return err
		},
	}
}

func exportBlob(ctx context.Context, blobs blobstore.Store, digest, dst string) error {
	b, err := blobs.Open(ctx, digest)
	if err != nil {
		return err
	}
	defer b.Close()
	tmp := dst + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	h := blobstore.NewHasher(0)
	if _, err := io.Copy(io.MultiWriter(f, h), b); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		os.Remove(tmp)
		return err
	}
	if h.Digest() != digest {
		os.Remove(tmp)
		return fmt.Errorf("the stored bytes hash to %s", h.Digest())
	}
	return os.Rename(tmp, dst)
}

func blobsImportCommand(m *Main) *cli.Command {
	return &cli.Command{
		Name:  "import-blobs",
		Usage: "store the blobs of an export-blobs directory in this store, each checked against its name (run it again to continue)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Required: true, Usage: "the directory export-blobs wrote"},
			blobDirFlag(),
		},
		Action: func(ctx context.Context, c *cli.Command) error {
			blobs, err := openBlobs(ctx, c)
			if err != nil {
				return err
			}
			defer blobs.Close()
			entries, err := os.ReadDir(c.String("dir"))
			if err != nil {
				return err
			}
			n := 0
			for _, e := range entries {
				if e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") {
					continue
				}
				want := blobstore.DigestPrefix + e.Name()
				if _, err := blobstore.CheckDigest(want); err != nil {
					return fmt.Errorf("%s: not a blob of export-blobs", e.Name())
				}
				data, err := os.ReadFile(filepath.Join(c.String("dir"), e.Name()))
				if err != nil {
					return err
				}
				h := blobstore.NewHasher(0)
				h.Write(data)
				if h.Digest() != want {
					return fmt.Errorf("%s holds bytes whose SHA-256 is %s: the export is damaged", e.Name(), h.Digest())
				}
				if _, err := blobs.Put(ctx, bytes.NewReader(data), 0); err != nil {
					return fmt.Errorf("import %s: %w", e.Name(), err)
				}
				n++
			}
			fmt.Fprintf(m.Stderr, "imported %s\n", count(n, "blob", "blobs"))
			return nil
		},
	}
}
