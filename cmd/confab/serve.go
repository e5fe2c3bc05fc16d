package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/confabhq/confab/bus"
	natsbus "github.com/confabhq/confab/bus/nats"
	"github.com/confabhq/confab/commands"
	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/gateway"
	"github.com/confabhq/confab/internal/metrics"
	"github.com/confabhq/confab/internal/supervise"
	"github.com/confabhq/confab/projections"
	"github.com/confabhq/confab/web"
	"github.com/google/uuid"
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
			minFreeDiskFlag(),
			&cli.StringFlag{Name: "store", Value: "sqlite", Usage: storeUsage, Sources: cli.EnvVars("CONFAB_STORE")},
			&cli.StringFlag{Name: "postgres-url", Usage: "PostgreSQL URL, with --store postgres", Sources: cli.EnvVars("CONFAB_POSTGRES_URL")},
			eventStoreDBURLFlag(),
			searchLanguageFlag(),
			&cli.StringFlag{Name: "nats-url", Usage: "NATS server URL (JetStream): nodes sharing a --store postgres fan events and typing out through it; without it, they stay in this process", Sources: cli.EnvVars("CONFAB_NATS_URL")},
			&cli.Float64Flag{Name: "ws-rate", Value: 20, Usage: "WebSocket frames per second a connection may send, sustained", Sources: cli.EnvVars("CONFAB_WS_RATE")},
			&cli.IntFlag{Name: "ws-burst", Value: 50, Usage: "WebSocket frames a connection may send in a burst", Sources: cli.EnvVars("CONFAB_WS_BURST")},
			&cli.BoolFlag{Name: "secure-cookies", Usage: "mark session cookies Secure (set when serving over HTTPS, directly or behind a proxy)", Sources: cli.EnvVars("CONFAB_SECURE_COOKIES")},
			&cli.DurationFlag{Name: "shutdown-timeout", Value: 10 * time.Second, Usage: "how long a graceful shutdown may take", Sources: cli.EnvVars("CONFAB_SHUTDOWN_TIMEOUT")},
		}, slices.Concat(edgeFlags(), tlsFlags(), opsFlags(), pprofFlags(), callFlags(), sessionFlags(), logFlags(), authFlags())...),
		Action: func(ctx context.Context, c *cli.Command) error {
			logger, err := m.logger(c)
			if err != nil {
				return err
			}
			return m.serve(ctx, c, logger)
		},
	}
}

// pubSub is the bus: committed events from the relay to the consumers,
// ephemeral frames between gateways.
type pubSub interface {
	message.Publisher
	message.Subscriber
}

// openBus returns NATS if the flags name a server (several nodes), else
// the in-process bus.
func openBus(ctx context.Context, c *cli.Command, nodeID string, logger *slog.Logger) (pubSub, error) {
	url := c.String("nats-url")
	if url == "" {
		return bus.NewGoChannel(logger), nil
	}
	if c.String("store") != "postgres" {
		// Nodes on different stores would mix their logs on one bus; on
		// EventStoreDB each node keeps its read models (node leases
		// among them) to itself.
		return nil, errors.New("--nats-url connects nodes that share one store: use it with --store postgres")
	}
	nb, err := natsbus.Open(ctx, natsbus.Config{URL: url, Name: "confab node " + nodeID, Logger: logger})
	if err != nil {
		return nil, err
	}
	return nb, nil
}

// serve runs the server until ctx ends, then shuts it down gracefully:
// WebSockets get a close frame, HTTP requests finish, queued appends
// commit. Its phases: open (stores, bus, gateway, listeners), run (the
// workers and servers until ctx ends or one of them fails), shutdown.
func (m *Main) serve(ctx context.Context, c *cli.Command, logger *slog.Logger) error {
	n, err := openNode(ctx, c, logger)
	if err != nil {
		return err
	}
	defer n.close()
	return n.run(ctx, m.Ready)
}

// node is a serving confab process: what open made, for run and shutdown.
type node struct {
	logger          *slog.Logger
	storeName       string
	shutdownTimeout time.Duration
	id              string

	b      *backend
	head   eventstore.Position // the store's head when the node opened
	read   *projections.Projections
	mets   *metrics.Metrics
	pubsub pubSub
	relay  *bus.Relay
	loops  *supervise.Set
	calls  *calls
	gw     *gateway.Gateway

	srv     *http.Server // the main server, on ln
	ln      net.Listener
	useTLS  bool
	side    []*http.Server // ACME's HTTP-01 challenges, /metrics: they stop after srv
	sideLns []net.Listener
}

// openNode opens everything the node serves with, in order: the store
// and read models, the commands, the bus and relay, the calls and the
// gateway, the metrics, then the listeners. On an error it closes what
// it opened.
func openNode(ctx context.Context, c *cli.Command, logger *slog.Logger) (_ *node, err error) {
	n := &node{logger: logger, storeName: c.String("store"), shutdownTimeout: c.Duration("shutdown-timeout"), id: uuid.NewString()}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	cmds, err := n.openCore(ctx, c)
	if err != nil {
		return nil, err
	}
	tlsSetup, err := n.openGateway(c, cmds)
	if err != nil {
		return nil, err
	}
	if err := n.listen(c, tlsSetup); err != nil {
		return nil, err
	}
	return n, nil
}

// openCore opens the event store, the read models, the metrics, the
// commands, the bus and the relay with its supervised loop.
func (n *node) openCore(ctx context.Context, c *cli.Command) (*commands.Handlers, error) {
	sessions, err := sessionPolicy(c)
	if err != nil {
		return nil, err
	}
	if n.b, err = openBackend(ctx, c, n.logger); err != nil {
		return nil, err
	}
	if n.head, err = n.b.store.Head(ctx); err != nil {
		return nil, err
	}
	if n.read, err = projections.Open(ctx, n.b.db, n.b.dialect, projections.WithSearchLanguage(c.String("search-language"))); err != nil {
		return nil, err
	}
	n.mets = metrics.New()
	cmds, err := commands.New(authConfig(c, commands.Config{Store: timedStore{n.b.store, n.mets}, Invites: n.read, Sessions: sessions}))
	if err != nil {
		return nil, err
	}
	if err := watchHashing(n.mets, cmds.Hashing); err != nil {
		return nil, err
	}
	if n.pubsub, err = openBus(ctx, c, n.id, n.logger); err != nil {
		return nil, err
	}
	if n.relay, err = bus.NewRelay(n.b.store, n.pubsub, n.logger); err != nil {
		return nil, err
	}
	// The long-running loops survive the store's and the bus's faults;
	// /readyz and /metrics show their state (package supervise).
	n.loops = supervise.NewSet(n.logger, supervise.DefaultBackoff)
	n.relay.Supervise(n.loops.Loop("relay"))
	return cmds, nil
}

// openGateway sets up TLS, the calls and the gateway, and has the
// metrics watch them.
func (n *node) openGateway(c *cli.Command, cmds *commands.Handlers) (*serverTLS, error) {
	tlsSetup, err := configureTLS(c, n.logger)
	if err != nil {
		return nil, err
	}
	proxies, err := parsePrefixes("trusted-proxies", c.StringSlice("trusted-proxies"))
	if err != nil {
		return nil, err
	}
	if n.calls, err = startCalls(c, n.logger, func(room, user, conn string) { n.gw.CallFailed(room, user, conn) }); err != nil {
		return nil, err
	}
	hosts, err := n.callHosts()
	if err != nil {
		return nil, err
	}
	n.gw, err = gateway.New(gateway.Config{
		Store: n.b.gatewayStore(n.read), Commands: cmds, Projections: n.read, Pub: n.pubsub, Sub: n.pubsub,
		NodeID: n.id, Logger: n.logger, SecureCookies: c.Bool("secure-cookies") || tlsSetup != nil, UI: web.Handler(),
		SFU: n.calls.sfu, ICEServers: n.calls.iceServers(), CallHosts: hosts,
		Limits:  edgeLimits(c),
		Metrics: n.mets, ReadyMaxLag: c.Int64("ready-max-lag"), TrustedProxies: proxies, Loops: n.loops,
	})
	if err != nil {
		return nil, err
	}
	src := watchCalls(n.calls)
	src.Connections = n.gw.Connections
	src.CallsHosted = n.gw.CallsHosted
	src.Loops = n.loops.Statuses
	if h, ok := n.b.store.(interface{ Health(context.Context) error }); ok {
		src.StoreWritable = func() bool { return h.Health(context.Background()) == nil }
	}
	if err := n.mets.Watch(src); err != nil {
		return nil, err
	}
	return tlsSetup, nil
}

// callHosts returns the host leases of calls on NATS (several nodes: a
// room's call is hosted by one node's SFU, and the others relay their
// participants' signaling to it), or nil on the in-process bus (every
// call is hosted here).
func (n *node) callHosts() (gateway.CallHosts, error) {
	nb, ok := n.pubsub.(*natsbus.Bus)
	if !ok {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	leases, err := nb.Leases(ctx, natsbus.LeasesConfig{Node: n.id})
	if err != nil {
		return nil, fmt.Errorf("call hosts: %w", err)
	}
	return leases, nil
}

// listen opens the side servers' listeners (/metrics on its own address,
// ACME's HTTP challenges), then the main one.
func (n *node) listen(c *cli.Command, tlsSetup *serverTLS) error {
	handler := http.Handler(n.gw)
	if token := c.String("metrics-token"); token != "" {
		handler = withMetrics(n.mets, n.gw, token)
	}
	switch a := c.String("metrics-addr"); a {
	case "":
		return errors.New(`--metrics-addr "": give a listen address, or "off"; to serve /metrics on --addr, set --metrics-token`)
	case metricsOff:
	default:
		if err := n.listenSide(c, "metrics", a, opsHandler(n.mets, n.gw)); err != nil {
			return fmt.Errorf("%w (set --metrics-addr to a free address, or off)", err)
		}
	}
	if err := n.listenPprof(c); err != nil {
		return err
	}
	if tlsSetup != nil && tlsSetup.acmeHTTP != nil {
		if err := n.listenSide(c, "ACME HTTP challenges", tlsSetup.acmeAddr, tlsSetup.acmeHTTP); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", c.String("addr"))
	if err != nil {
		return err
	}
	n.ln, n.srv = ln, newHTTPServer(c, handler, n.logger)
	if tlsSetup != nil {
		n.srv.TLSConfig, n.useTLS = tlsSetup.config, true
	}
	return nil
}

// listenSide opens a side server's listener.
func (n *node) listenSide(c *cli.Command, what, addr string, h http.Handler) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	n.logger.Info(what+" listening", "addr", l.Addr().String())
	n.side, n.sideLns = append(n.side, newHTTPServer(c, h, n.logger)), append(n.sideLns, l)
	return nil
}

// close releases what open opened, last first; the servers' listeners
// are closed by their shutdown.
func (n *node) close() {
	for _, l := range n.sideLns {
		l.Close()
	}
	if n.calls != nil {
		n.calls.Close()
	}
	if n.pubsub != nil {
		n.pubsub.Close()
	}
	if n.b != nil {
		n.b.Close()
	}
}

// run starts the workers and the servers, tells ready the main address,
// and waits for ctx to end or a worker or server to fail; then it shuts
// down.
func (n *node) run(ctx context.Context, ready func(net.Addr)) error {
	// Workers stop only after the gateway has closed its connections, so
	// that their ends are still recorded and delivered. They return early
	// only on a fatal error (corrupted data, a bug), which ends the
	// process; the database's and the bus's faults are retried inside.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	g, gctx := errgroup.WithContext(workCtx)
	n.startWorkers(gctx, g)
	g.Go(serveHTTP(n.srv, n.ln, n.useTLS))
	for i, s := range n.side {
		g.Go(serveHTTP(s, n.sideLns[i], false))
	}
	scheme := "http"
	if n.useTLS {
		scheme = "https"
	}
	n.logger.Info("listening", "addr", n.ln.Addr().String(), "scheme", scheme, "store", n.storeName, "node", n.id)
	if ready != nil {
		ready(n.ln.Addr())
	}
	select {
	case <-ctx.Done():
	case <-gctx.Done():
	}
	errShutdown := n.shutdown()
	stopWork()
	err := errors.Join(g.Wait(), errShutdown)
	n.logger.Info("stopped")
	return err
}

// startWorkers starts the relay, the read models' appliers (unless the
// store is read-only), the gateway's bus follower and the lag sampler.
func (n *node) startWorkers(ctx context.Context, g *errgroup.Group) {
	notCanceled := func(err error) error {
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
	g.Go(func() error { return notCanceled(n.relay.Run(ctx, n.head)) })
	if n.b.readOnly {
		// Nothing can be appended, and the read models cannot move: they
		// serve what they hold until a restart with free space.
		n.logger.Warn("read-only: the read models are not updated until a restart")
	} else {
		g.Go(func() error { return notCanceled(n.read.Run(ctx, n.b.store, n.pubsub, n.loops.Loop("projections"))) })
	}
	g.Go(func() error { return notCanceled(n.gw.Run(ctx, n.head)) })
	g.Go(func() error { sampleProjectionLag(ctx, n.b.store, n.read, n.mets, n.logger); return nil })
}

// serveHTTP returns a worker that serves s on l until s shuts down.
func serveHTTP(s *http.Server, l net.Listener, useTLS bool) func() error {
	return func() error {
		var err error
		if useTLS {
			err = s.ServeTLS(l, "", "")
		} else {
			err = s.Serve(l)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}

// shutdown stops the servers, the gateway and the calls within the
// shutdown timeout. The HTTP server waits for requests in flight while
// the gateway closes the WebSockets (which the HTTP server does not
// track); the side servers (/readyz there says "shutting down") stop
// last. The workers stop after it.
func (n *node) shutdown() error {
	n.logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), n.shutdownTimeout)
	defer cancel()
	var srvErr error
	srvDone := make(chan struct{})
	go func() { srvErr = n.srv.Shutdown(sctx); close(srvDone) }()
	gwErr := n.gw.Shutdown(sctx)
	<-srvDone
	err := errors.Join(srvErr, gwErr, n.calls.Close())
	for _, s := range n.side {
		err = errors.Join(err, s.Shutdown(sctx))
	}
	return err
}
