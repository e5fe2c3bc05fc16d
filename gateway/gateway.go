package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/confabhq/confab/blobstore"
	"github.com/confabhq/confab/bus"
	"github.com/confabhq/confab/commands"
	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/internal/supervise"
	"github.com/confabhq/confab/internal/throttle"
	"github.com/confabhq/confab/media"
	"github.com/confabhq/confab/projections"
	"github.com/gorilla/websocket"
	"golang.org/x/sync/errgroup"
)

// Limits bound what one client may cost. Zero fields take the defaults.
type Limits struct {
	MaxFrameBytes   int           // largest WebSocket frame read (default 64 KiB)
	MaxBodyBytes    int64         // largest REST request body (default 64 KiB)
	FramesPerSecond float64       // sustained frames per connection (default 20)
	FrameBurst      int           // frames allowed in a burst (default 50)
	FloodFrames     int           // rate-limited frames in a row before disconnecting (default 100)
	OutboundQueue   int           // frames queued per connection before it counts as slow (default 1024)
	MaxCatchUp      int           // events sent on subscribe before saying too_many_missed (default 1000)
	HelloTimeout    time.Duration // time to send hello when not authenticated by the request (default 10s)
	PingInterval    time.Duration // server pings (default 20s)
	PongTimeout     time.Duration // a connection silent this long is dead (default 45s)
	WriteTimeout    time.Duration // one frame write (default 10s)
	CommandTimeout  time.Duration // one request (default 10s)
	TypingInterval  time.Duration // typing frames forwarded per room and connection (default 2s)
	LeaseTTL        time.Duration // node lease; connections of a node silent this long are ended (default 15s)
	PresenceWindow  time.Duration // a connection's presence changes are sent together at most this often (default 100ms)
	// Caps; zero takes the default, a negative value lifts the cap.
	ConnsPerUser     int // WebSockets one user may hold on this node (default 32)
	ConnsPerIP       int // WebSockets one client address may hold on this node (default 256)
	MaxSubscriptions int // rooms one connection may subscribe to (default 500)
	RoomsPerHour     int // group rooms one user may create at once and then per hour on this node (default 30)
	// Attachments.
	MaxUploadBytes int64 // largest file uploaded (default DefaultMaxUpload, 25 MiB)
	UploadQuota    int64 // bytes one user's attachments may take (0: no quota)
	// UploadTimeout is how long an upload's body may take to arrive; it
	// replaces the server's read timeout for uploads (default 10 min).
	UploadTimeout time.Duration
}

func (l *Limits) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	dur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxFrameBytes, 64<<10)
	dur(&l.UploadTimeout, 10*time.Minute)
	if l.MaxUploadBytes <= 0 {
		l.MaxUploadBytes = DefaultMaxUpload
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = 64 << 10
	}
	if l.FramesPerSecond <= 0 {
		l.FramesPerSecond = 20
	}
	def(&l.FrameBurst, 50)
	def(&l.FloodFrames, 100)
	def(&l.OutboundQueue, 1024)
	def(&l.MaxCatchUp, 1000)
	dur(&l.HelloTimeout, 10*time.Second)
	dur(&l.PingInterval, 20*time.Second)
	dur(&l.PongTimeout, 45*time.Second)
	dur(&l.WriteTimeout, 10*time.Second)
	dur(&l.CommandTimeout, 10*time.Second)
	dur(&l.TypingInterval, 2*time.Second)
	dur(&l.LeaseTTL, 15*time.Second)
	dur(&l.PresenceWindow, 100*time.Millisecond)
	capDef := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	capDef(&l.ConnsPerUser, 32)
	capDef(&l.ConnsPerIP, 256)
	capDef(&l.MaxSubscriptions, 500)
	capDef(&l.RoomsPerHour, 30)
}

// roomBuckets returns the per-user buckets of room creations: perHour at
// once, refilled at perHour an hour; nil for no cap (perHour <= 0).
func roomBuckets(perHour int) *throttle.Buckets {
	if perHour <= 0 {
		return nil
	}
	return throttle.NewBuckets(float64(perHour)/3600, perHour, nil, 0)
}

// Config wires a gateway.
type Config struct {
	Store       eventstore.Store
	Commands    *commands.Handlers
	Projections *projections.Projections
	// Pub and Sub are the bus: committed events arrive on Sub (from the
	// relay); ephemeral frames (typing) go out on Pub.
	Pub    message.Publisher
	Sub    message.Subscriber
	NodeID string
	Limits Limits
	Logger *slog.Logger
	// SecureCookies marks session cookies Secure (serve over HTTPS).
	SecureCookies bool
	// UI, if set, serves every path outside /api/ and /healthz: the
	// browser client.
	UI http.Handler
	// SFU, if set, carries the rooms' calls; without it call frames get
	// calls_unavailable.
	SFU *media.SFU
	// ICEServers returns the STUN/TURN servers, with credentials, that a
	// user's client may use in calls.
	ICEServers func(user string, now time.Time) []ICEServer
	// CallHosts, if set, says which node hosts each room's call (several
	// nodes, on NATS): calls hosted elsewhere are relayed there over the
	// bus. Without it every call is hosted by SFU.
	CallHosts CallHosts
	// Metrics, if set, receives measurements of frames and fan-out.
	Metrics Metrics
	// ReadyMaxLag is how many events the read models may be behind the
	// store while /readyz still answers ready (default 1000).
	ReadyMaxLag int64
	// TrustedProxies are the addresses of reverse proxies whose
	// X-Forwarded-For header names the client (for sign-in throttling).
	TrustedProxies []netip.Prefix
	// Loops holds the node's supervised loops: the gateway adds its own
	// (hub follower, typing follower, presence, node lease, reaper), and
	// /readyz answers 503 while any loop of the set is retrying or
	// failed. Default: a set of the gateway's loops only.
	Loops *supervise.Set
	// Blobs, if set, stores attachments; without it uploads and
	// downloads answer unavailable.
	Blobs blobstore.Store
}

// Gateway serves confab's HTTP API and WebSocket.
type Gateway struct {
	store    eventstore.Store
	cmds     *commands.Handlers
	read     *projections.Projections
	pub      message.Publisher
	sub      message.Subscriber
	nodeID   string
	limits   Limits
	logger   *slog.Logger
	secure   bool
	ui       http.Handler
	sfu      *media.SFU
	ice      func(user string, now time.Time) []ICEServer
	calls    callRegistry
	hosts    CallHosts
	hosted   hosting
	relay    relay
	metrics  Metrics
	maxLag   int64
	proxies  []netip.Prefix
	loops    *supervise.Set
	mux      *http.ServeMux
	hub      *hub
	members  *memberCache // member sets of rooms, for presence
	upgrader websocket.Upgrader
	caps     *connCaps
	newRooms *throttle.Buckets // rooms created per user; nil: no cap
	blobs    blobstore.Store

	baseCtx    context.Context
	cancelBase context.CancelFunc

	// touching holds the session IDs whose use this node is recording.
	touching sync.Map

	connsMu sync.Mutex
	conns   map[*conn]struct{}
	closing bool
	connsWG sync.WaitGroup
}

// New returns a gateway. Run must run for it to deliver events.
func New(cfg Config) (*Gateway, error) {
	if cfg.Store == nil || cfg.Commands == nil || cfg.Projections == nil || cfg.Pub == nil || cfg.Sub == nil {
		return nil, errors.New("gateway: missing store, commands, projections or bus")
	}
	if cfg.NodeID == "" {
		return nil, errors.New("gateway: missing node ID")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Limits.setDefaults()
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	if cfg.ReadyMaxLag <= 0 {
		cfg.ReadyMaxLag = 1000
	}
	if cfg.Loops == nil {
		cfg.Loops = supervise.NewSet(cfg.Logger, supervise.DefaultBackoff)
	}
	g := &Gateway{
		store: cfg.Store, cmds: cfg.Commands, read: cfg.Projections, pub: cfg.Pub, sub: cfg.Sub,
		nodeID: cfg.NodeID, limits: cfg.Limits, logger: cfg.Logger, secure: cfg.SecureCookies, ui: cfg.UI,
		sfu: cfg.SFU, ice: cfg.ICEServers, metrics: cfg.Metrics, maxLag: cfg.ReadyMaxLag, proxies: cfg.TrustedProxies,
		loops: cfg.Loops, hosts: cfg.CallHosts, blobs: cfg.Blobs,
		mux: http.NewServeMux(), hub: newHub(cfg.Logger), conns: map[*conn]struct{}{},
		caps:     newConnCaps(cfg.Limits.ConnsPerUser, cfg.Limits.ConnsPerIP),
		newRooms: roomBuckets(cfg.Limits.RoomsPerHour),
	}
	g.baseCtx, g.cancelBase = context.WithCancel(context.Background())
	g.upgrader = websocket.Upgrader{
		// 0: read through the reader batchHijacker gives it.
		ReadBufferSize:  0,
		WriteBufferSize: 1024,
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     g.checkWSOrigin,
	}
	g.hub.onRoomEvent = g.onCallEvent
	g.members = newMemberCache(cfg.Projections)
	g.hub.onMembers = g.members.apply
	g.hub.onFanout = cfg.Metrics.Fanout
	g.routes()
	return g, nil
}

// Names of the gateway's loops, in Config.Loops.
const (
	loopHub      = "hub follower"
	loopTyping   = "typing follower"
	loopPresence = "presence"
	loopProfiles = "profiles"
	loopLease    = "node lease"
	loopReaper   = "reaper"
)

// Run follows committed events and ephemeral frames, and keeps this
// node's lease and presence, until ctx ends. Each of these loops survives
// the faults of the store and the bus (package supervise): Run returns
// early only on a fatal error.
func (g *Gateway) Run(ctx context.Context, after eventstore.Position) error {
	grp, ctx := errgroup.WithContext(ctx)
	grp.Go(func() error {
		filter := eventstore.Filter{StreamPrefixes: []string{"room-", "user-"}}
		return bus.FollowSupervised(ctx, g.loops.Loop(loopHub), g.store, g.sub, after, filter, g.hub.dispatch)
	})
	grp.Go(func() error { return g.loops.Loop(loopTyping).Run(ctx, g.followEphemeral) })
	grp.Go(func() error { return g.presenceLoop(ctx, g.loops.Loop(loopPresence)) })
	grp.Go(func() error { return g.profileLoop(ctx, g.loops.Loop(loopProfiles)) })
	grp.Go(func() error { return g.leaseLoop(ctx, g.loops.Loop(loopLease), g.loops.Loop(loopReaper)) })
	grp.Go(func() error { g.sessionLoop(ctx); return nil })
	if g.hosts != nil {
		grp.Go(func() error { return g.loops.Loop(loopCallRelay).Run(ctx, g.followCalls) })
		grp.Go(func() error { return g.callHostLoop(ctx, g.loops.Loop(loopCallHosts)) })
	}
	err := grp.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Shutdown hands the calls this node hosts off (their participants on
// other nodes rejoin elsewhere at once), closes every WebSocket with
// "going away", records their end, and gives up this node's lease. http.Server.Shutdown does not close
// hijacked connections; call both.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.handOffCalls(ctx)
	g.connsMu.Lock()
	g.closing = true
	for c := range g.conns {
		c.closeWith(websocket.CloseGoingAway, "server shutting down")
	}
	g.connsMu.Unlock()
	done := make(chan struct{})
	go func() { g.connsWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		g.cancelBase()
		return ctx.Err()
	}
	g.cancelBase()
	return g.read.DropLease(ctx, g.nodeID)
}

func (g *Gateway) track(c *conn) bool {
	g.connsMu.Lock()
	defer g.connsMu.Unlock()
	if g.closing {
		return false
	}
	g.conns[c] = struct{}{}
	g.connsWG.Add(1)
	return true
}

// Connections returns the number of authenticated WebSocket connections
// open on this node.
func (g *Gateway) Connections() int {
	g.connsMu.Lock()
	defer g.connsMu.Unlock()
	return len(g.conns)
}

func (g *Gateway) untrack(c *conn) {
	g.connsMu.Lock()
	delete(g.conns, c)
	g.connsMu.Unlock()
	g.connsWG.Done()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (g *Gateway) writeError(w http.ResponseWriter, err error) {
	ae := toAPIError(err, g.logger)
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(ae.RetryAfter.Seconds()))))
	}
	writeJSON(w, ae.Status, map[string]apiError{"error": ae})
}

// HealthChecker is implemented by dependencies that can tell whether
// they can serve right now: the event store (a read-only store, a disk
// nearly full), the bus (NATS disconnected). /readyz consults the store,
// Pub and Sub when they implement it.
type HealthChecker interface {
	// Health returns nil if the dependency works, else why not.
	Health(ctx context.Context) error
}

// healthz answers 200 while the process runs and serves HTTP: liveness
// only. A node whose database or bus is down is alive (it recovers by
// itself, and restarting it would not help); /readyz tells whether it
// can serve.
func (g *Gateway) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when this node should receive traffic: it is not
// shutting down, the event store answers, every dependency implementing
// HealthChecker (the store, the bus) says it works, no supervised loop
// (Config.Loops: relay, projections, followers, presence, leases) is
// retrying or failed, and the read models are at most ReadyMaxLag events
// behind the store. Otherwise 503, with the reason.
func (g *Gateway) readyz(w http.ResponseWriter, r *http.Request) {
	unready := func(reason string) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": reason})
	}
	g.connsMu.Lock()
	closing := g.closing
	g.connsMu.Unlock()
	if closing {
		unready("shutting down")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := g.store.Head(ctx); err != nil {
		unready("event store unreachable")
		return
	}
	if reason := g.dependencyHealth(ctx); reason != "" {
		unready(reason)
		return
	}
	if err := g.loops.Check(); err != nil {
		unready(strings.ReplaceAll(err.Error(), "\n", "; "))
		return
	}
	cp, err := g.read.Checkpoint(ctx)
	if err != nil {
		unready("read models unreachable")
		return
	}
	lag, _, err := projections.Behind(ctx, g.store, cp, g.maxLag+1)
	if err != nil {
		unready("event store unreachable")
		return
	}
	if lag > g.maxLag {
		unready(fmt.Sprintf("read models are more than %d events behind the event store", g.maxLag))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "projection_lag": lag})
}

// dependencyHealth asks the store and the bus that implement
// HealthChecker, and returns why the first unhealthy one is, or "".
func (g *Gateway) dependencyHealth(ctx context.Context) string {
	deps := []struct {
		name string
		dep  any
	}{{"event store", g.store}, {"bus", g.pub}, {"bus", g.sub}}
	for _, d := range deps {
		if hc, ok := d.dep.(HealthChecker); ok {
			if err := hc.Health(ctx); err != nil {
				return d.name + ": " + err.Error()
			}
		}
	}
	return ""
}
