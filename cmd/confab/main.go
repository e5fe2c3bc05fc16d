package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v3"
)

func main() {
	// The first SIGINT or SIGTERM cancels ctx and starts a graceful
	// shutdown; stop then restores the default handlers, so a second
	// signal ends the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	m := &Main{Stdout: os.Stdout, Stderr: os.Stderr}
	if err := m.Run(ctx, os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "confab:", err)
		os.Exit(1)
	}
}

// Main is the program, apart from the process it runs in.
type Main struct {
	Stdout, Stderr io.Writer
	// Stdin is what commands read (users reset-password --stdin);
	// os.Stdin if nil.
	Stdin io.Reader
	// Ready, if set, is called by serve once it is listening.
	Ready func(addr net.Addr)
}

// Run runs the command line args (args[0] is the program name) until it
// is done or ctx ends.
func (m *Main) Run(ctx context.Context, args []string) error {
	root := &cli.Command{
		Name:                  "confab",
		Usage:                 "a self-hosted chat and calls server",
		Writer:                m.Stdout,
		ErrWriter:             m.Stderr,
		HideHelpCommand:       true,
		EnableShellCompletion: false,
		Commands:              []*cli.Command{m.serveCommand(), m.projectionsCommand(), m.eventsCommand(), m.usersCommand(), m.healthcheckCommand()},
		// Errors are returned to main, which prints them and exits.
		ExitErrHandler: func(context.Context, *cli.Command, error) {},
	}
	showTrueDefaults(root)
	return root.Run(ctx, args)
}

// showTrueDefaults makes the help of every boolean flag that is on by
// default say so, and how to turn it off: urfave/cli shows no default for
// a boolean, which reads as off.
func showTrueDefaults(c *cli.Command) {
	for _, f := range c.Flags {
		if b, ok := f.(*cli.BoolFlag); ok && b.Value && b.DefaultText == "" {
			b.DefaultText = "true; --" + b.Name + "=false turns it off"
		}
	}
	for _, sub := range c.Commands {
		showTrueDefaults(sub)
	}
}

// logFlags configure the logger of a command.
func logFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text or json", Sources: cli.EnvVars("CONFAB_LOG_FORMAT")},
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "log level: debug, info, warn or error", Sources: cli.EnvVars("CONFAB_LOG_LEVEL")},
	}
}

func (m *Main) logger(c *cli.Command) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(c.String("log-format")) {
	case "text":
		return slog.New(slog.NewTextHandler(m.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(m.Stderr, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json", c.String("log-format"))
	}
}
