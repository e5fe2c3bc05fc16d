package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/confabhq/confab/gateway"
	"github.com/urfave/cli/v3"
)

// edgeFlags bound what one client may cost the HTTP server and the
// gateway: slow and idle connections, WebSockets, subscriptions, rooms.
func edgeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "read-header-timeout", Value: 10 * time.Second, Usage: "time a client has to send a request's headers", Sources: cli.EnvVars("CONFAB_READ_HEADER_TIMEOUT")},
		&cli.DurationFlag{Name: "read-timeout", Value: 30 * time.Second, Usage: "time a client has to send a whole request, body included (WebSockets are not bound by it once upgraded)", Sources: cli.EnvVars("CONFAB_READ_TIMEOUT")},
		&cli.DurationFlag{Name: "idle-timeout", Value: 120 * time.Second, Usage: "how long an idle keep-alive HTTP connection is kept open", Sources: cli.EnvVars("CONFAB_IDLE_TIMEOUT")},
		&cli.IntFlag{Name: "max-header-bytes", Value: 64 << 10, Usage: "largest request header block, in bytes (larger: 431)", Sources: cli.EnvVars("CONFAB_MAX_HEADER_BYTES")},
		&cli.IntFlag{Name: "ws-per-user", Value: 32, Usage: "WebSockets one user may hold open on this node (0: no cap)", Sources: cli.EnvVars("CONFAB_WS_PER_USER")},
		&cli.IntFlag{Name: "ws-per-ip", Value: 256, Usage: "WebSockets one client address may hold open on this node (0: no cap; see --trusted-proxies)", Sources: cli.EnvVars("CONFAB_WS_PER_IP")},
		&cli.IntFlag{Name: "ws-max-subscriptions", Value: 500, Usage: "rooms one WebSocket may subscribe to (0: no cap)", Sources: cli.EnvVars("CONFAB_WS_MAX_SUBSCRIPTIONS")},
		&cli.DurationFlag{Name: "presence-window", Value: defaultPresenceWindow, Usage: "a WebSocket is sent the presence changes of this long together, in one frame (1ms to 10s)", Sources: cli.EnvVars("CONFAB_PRESENCE_WINDOW"), Validator: checkPresenceWindow},
		&cli.IntFlag{Name: "rooms-per-hour", Value: 30, Usage: "group rooms one user may create at once, and then per hour, on this node (0: no cap)", Sources: cli.EnvVars("CONFAB_ROOMS_PER_HOUR")},
	}
}

// defaultPresenceWindow is --presence-window's default.
const defaultPresenceWindow = 100 * time.Millisecond

// checkPresenceWindow refuses a presence window that would send every
// change alone (below 1ms) or hold changes for too long (above 10s).
func checkPresenceWindow(d time.Duration) error {
	if d < time.Millisecond || d > 10*time.Second {
		return fmt.Errorf("--presence-window %s: want 1ms to 10s", d)
	}
	return nil
}

// edgeLimits are the gateway's limits from the flags; a cap of 0 (none)
// is a negative one for the gateway, whose zero means the default.
func edgeLimits(c *cli.Command) gateway.Limits {
	capOf := func(name string) int {
		if n := int(c.Int(name)); n > 0 {
			return n
		}
		return -1
	}
	return gateway.Limits{
		FramesPerSecond: c.Float64("ws-rate"), FrameBurst: int(c.Int("ws-burst")),
		ConnsPerUser: capOf("ws-per-user"), ConnsPerIP: capOf("ws-per-ip"),
		MaxSubscriptions: capOf("ws-max-subscriptions"), RoomsPerHour: capOf("rooms-per-hour"),
		PresenceWindow: c.Duration("presence-window"),
	}
}

// newHTTPServer is an HTTP server with the flags' timeouts: a client that
// sends its request slowly, or holds an idle connection, is cut off.
// Hijacked connections (WebSockets) are the gateway's: it clears the
// server's deadlines on them.
func newHTTPServer(c *cli.Command, h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: c.Duration("read-header-timeout"),
		ReadTimeout:       c.Duration("read-timeout"),
		IdleTimeout:       c.Duration("idle-timeout"),
		MaxHeaderBytes:    int(c.Int("max-header-bytes")),
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}
