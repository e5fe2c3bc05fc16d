package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/confabhq/confab/projections"
	"github.com/urfave/cli/v3"
)

// openTimeout bounds how long an admin command waits for its store to
// answer: a wrong PostgreSQL host should fail, not hang.
const openTimeout = 20 * time.Second

// storeFlags name the event store, as serve's flags do (same names, same
// CONFAB_* variables), so that an admin command reaches the store the
// server uses. They are set on the admin parents (projections, events) and
// inherited by their subcommands.
func storeFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "data", Value: "data", Usage: "data directory of the embedded store", Sources: cli.EnvVars("CONFAB_DATA")},
		&cli.StringFlag{Name: "store", Value: "sqlite", Usage: storeUsage, Sources: cli.EnvVars("CONFAB_STORE")},
		&cli.StringFlag{Name: "postgres-url", Usage: "PostgreSQL URL, with --store postgres", Sources: cli.EnvVars("CONFAB_POSTGRES_URL")},
		eventStoreDBURLFlag(),
		minFreeDiskFlag(),
		searchLanguageFlag(),
	}, logFlags()...)
}

// errNoStore reports that the embedded store an admin command names does
// not exist.
var errNoStore = errors.New("no event store")

// admin is what an admin command works on.
type admin struct {
	*backend
	logger *slog.Logger
	// where names the store for messages: "sqlite data/events.db".
	where string
	// searchLanguage is --search-language.
	searchLanguage string
}

// openAdmin opens the store the flags name. Unless create is set, the
// embedded store must exist already: a mistyped --data fails instead of
// making an empty store.
func (m *Main) openAdmin(ctx context.Context, c *cli.Command, create bool) (*admin, error) {
	logger, err := m.logger(c)
	if err != nil {
		return nil, err
	}
	where := c.String("store")
	switch c.String("store") {
	case "sqlite":
		path := filepath.Join(c.String("data"), "events.db")
		where = "sqlite " + path
		if !create {
			if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%w at %s: check --data (or CONFAB_DATA), or --store", errNoStore, path)
			} else if err != nil {
				return nil, err
			}
		}
	case "postgres":
		where = "postgres"
	}
	octx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	b, err := openBackend(octx, c, logger)
	if err != nil {
		if ctx.Err() == nil && octx.Err() != nil {
			return nil, fmt.Errorf("open the %s store: no answer within %v: %w", where, openTimeout, err)
		}
		return nil, fmt.Errorf("open the %s store: %w", where, err)
	}
	return &admin{backend: b, logger: logger, where: where, searchLanguage: c.String("search-language")}, nil
}

// projections opens the read models on the store's database.
func (a *admin) projections(ctx context.Context) (*projections.Projections, error) {
	p, err := projections.Open(ctx, a.db, a.dialect, projections.WithSearchLanguage(a.searchLanguage))
	if err != nil {
		return nil, fmt.Errorf("open the read models: %w", err)
	}
	return p, nil
}
