package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/confabhq/confab/bus"
	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/eventstore/postgres"
	"github.com/confabhq/confab/eventstore/sqlite"
	"github.com/confabhq/confab/gateway"
	"github.com/urfave/cli/v3"
	"golang.org/x/sync/errgroup"
)

func (m *Main) serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the confab server",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "addr", Value: ":8080", Usage: "HTTP listen address", Sources: cli.EnvVars("CONFAB_ADDR")},
			&cli.StringFlag{Name: "data", Value: "data", Usage: "data directory of the embedded store", Sources: cli.EnvVars("CONFAB_DATA")},
			&cli.StringFlag{Name: "store", Value: "sqlite", Usage: "event store: sqlite (embedded, in --data) or postgres", Sources: cli.EnvVars("CONFAB_STORE")},
			&cli.StringFlag{Name: "postgres-url", Usage: "PostgreSQL URL, with --store postgres", Sources: cli.EnvVars("CONFAB_POSTGRES_URL")},
			&cli.DurationFlag{Name: "shutdown-timeout", Value: 10 * time.Second, Usage: "how long a graceful shutdown may take", Sources: cli.EnvVars("CONFAB_SHUTDOWN_TIMEOUT")},
		}, logFlags()...),
		Action: func(ctx context.Context, c *cli.Command) error {
			logger, err := m.logger(c)
			if err != nil {
				return err
			}
			return m.serve(ctx, c, logger)
		},
	}
}

// openStore opens the event store the flags name.
func openStore(ctx context.Context, c *cli.Command, logger *slog.Logger) (eventstore.Store, error) {
	switch c.String("store") {
	case "sqlite":
		return sqlite.Open(ctx, filepath.Join(c.String("data"), "events.db"))
	case "postgres":
		url := c.String("postgres-url")
		if url == "" {
			return nil, errors.New("--store postgres needs --postgres-url (or CONFAB_POSTGRES_URL)")
		}
		return postgres.Open(ctx, url, postgres.Options{Logger: logger})
	default:
		return nil, fmt.Errorf("--store %q: want sqlite or postgres", c.String("store"))
	}
}

// serve runs the server until ctx ends, then shuts it down gracefully.
func (m *Main) serve(ctx context.Context, c *cli.Command, logger *slog.Logger) error {
	store, err := openStore(ctx, c, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	head, err := store.Head(ctx)
	if err != nil {
		return err
	}
	pubsub := bus.NewGoChannel(logger)
	defer pubsub.Close()
	relay, err := bus.NewRelay(store, pubsub, logger)
	if err != nil {
		return err
	}
	gw, err := gateway.New(gateway.PingFunc(func(ctx context.Context) error {
		_, err := store.Head(ctx)
		return err
	}), logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.String("addr"))
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           gw,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := relay.Run(gctx, head); !errors.Is(err, context.Canceled) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		logger.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), c.Duration("shutdown-timeout"))
		defer cancel()
		return srv.Shutdown(sctx)
	})
	logger.Info("listening", "addr", ln.Addr().String(), "store", c.String("store"))
	if m.Ready != nil {
		m.Ready(ln.Addr())
	}
	err = g.Wait()
	logger.Info("stopped")
	return err
}
