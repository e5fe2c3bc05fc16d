package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/confabhq/confab/bus"
	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/internal/supervise"
	"github.com/confabhq/confab/media"
)

// CallHosts keeps which node's SFU hosts each room's call, under a lease
// with a fencing token, and which nodes can host (bus/nats.Leases, on
// NATS JetStream KV). Without it (one node) every call is hosted here.
type CallHosts interface {
	// Get returns the room's host lease; ok is false if nobody hosts it.
	Get(ctx context.Context, room string) (lease bus.HostLease, ok bool, err error)
	// Claim makes this node the room's host: bus.ErrLeaseHeld if a node is.
	Claim(ctx context.Context, room string) (bus.HostLease, error)
	// Renew extends this node's lease if it is unchanged: bus.ErrLeaseLost
	// if not.
	Renew(ctx context.Context, room string, l bus.HostLease) (bus.HostLease, error)
	// Takeover replaces old, whose holder is gone, with this node's lease.
	Takeover(ctx context.Context, room string, old bus.HostLease) (bus.HostLease, error)
	// Release gives this node's lease up, if it is unchanged.
	Release(ctx context.Context, room string, l bus.HostLease) error
	// DropNode deletes the leases naming this node (at start).
	DropNode(ctx context.Context) (int, error)
	// SetLoad publishes this node's participants: it is a candidate host
	// while the entry lives. DropLoad removes it.
	SetLoad(ctx context.Context, participants int) error
	DropLoad(ctx context.Context) error
	// Loads returns the calls-enabled nodes and their participants.
	Loads(ctx context.Context) (map[string]int, error)
}

// Timings of call hosting. The leases' TTL is the CallHosts' (9 s on
// NATS): renewals come at a third of it, so that one lost renewal is not
// fatal.
const (
	hostRenewEvery   = 3 * time.Second
	hostLoadEvery    = 2 * time.Second
	hostWatchEvery   = time.Second
	relayTimeout     = 5 * time.Second  // a relayed request without a reply fails
	rejoinGrace      = 20 * time.Second // a client told to rejoin that does not is recorded as connection_failed
	hostSlack        = 8                // participants this node may have above the least loaded one and still host a new call
	loopCallHosts    = "call hosts"
	loopCallRelay    = "call relay"
	reasonHostLost   = "host_lost"
	claimAttempts    = 3
	maxEnvelopeBytes = 2*maxSDPBytes + 16<<10
)

// errHostUnavailable answers call frames whose host node did not answer
// in time, or whose call is moving to another host.
var errHostUnavailable = &apiError{Status: http.StatusServiceUnavailable, Code: CodeCallHostUnavailable, RetryAfter: 2 * time.Second,
	Message: "the node hosting this call does not answer; try again in a few seconds"}

// hosting is the rooms whose calls this node's SFU hosts, with their
// leases. Its lock is taken alone.
type hosting struct {
	mu     sync.Mutex
	leases map[domain.RoomID]bus.HostLease
}

func (h *hosting) token(room domain.RoomID) (uint64, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	l, ok := h.leases[room]
	return l.Token, ok
}

// adopt records that this node hosts room under l, unless it holds a
// lease with that token already.
func (h *hosting) adopt(room domain.RoomID, l bus.HostLease) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.leases == nil {
		h.leases = map[domain.RoomID]bus.HostLease{}
	}
	if old, ok := h.leases[room]; !ok || old.Token != l.Token {
		h.leases[room] = l
	}
}

func (h *hosting) snapshot() map[domain.RoomID]bus.HostLease {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.leases)
}

// update replaces the room's lease if it still has token; drop forgets it.
func (h *hosting) update(room domain.RoomID, l bus.HostLease) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if old, ok := h.leases[room]; ok && old.Token == l.Token {
		h.leases[room] = l
	}
}

func (h *hosting) drop(room domain.RoomID, token uint64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if old, ok := h.leases[room]; ok && old.Token == token {
		delete(h.leases, room)
		return true
	}
	return false
}

// CallsHosted returns the number of calls this node's SFU carries.
func (g *Gateway) CallsHosted() int {
	if g.sfu == nil {
		return 0
	}
	return g.sfu.Rooms()
}

// callHost returns the lease of the node hosting room's call, choosing
// and claiming one if none does: this node if it has calls and is not
// much busier than the least loaded calls-enabled node, else that node
// (asked with a claim request). Without CallHosts it is this node.
func (g *Gateway) callHost(ctx context.Context, room domain.RoomID) (bus.HostLease, error) {
	if g.hosts == nil {
		if g.sfu == nil {
			return bus.HostLease{}, errNoCalls
		}
		return bus.HostLease{Node: g.nodeID}, nil
	}
	for range claimAttempts {
		l, ok, err := g.hosts.Get(ctx, string(room))
		if err != nil {
			g.logger.Warn("calls: cannot read the host lease", "room", room, "err", err)
			return bus.HostLease{}, errHostUnavailable
		}
		loads, err := g.hosts.Loads(ctx)
		if err != nil {
			g.logger.Warn("calls: cannot read the calls-enabled nodes", "err", err)
			return bus.HostLease{}, errHostUnavailable
		}
		if ok {
			if _, live := loads[l.Node]; live || l.Node == g.nodeID || g.sfu == nil {
				if l.Node == g.nodeID {
					g.hosted.adopt(room, l)
				}
				return l, nil
			}
			// Its holder is gone from the registry: take the call over.
			nl, err := g.hosts.Takeover(ctx, string(room), l)
			if err == nil {
				g.logger.Info("calls: took over a call whose host is gone", "room", room, "from", l.Node, "token", nl.Token)
				g.hosted.adopt(room, nl)
				return nl, nil
			}
			continue
		}
		node, err := g.chooseHost(loads)
		if err != nil {
			return bus.HostLease{}, err
		}
		if node != g.nodeID {
			l, err := g.requestClaim(ctx, node, room)
			if err == nil {
				return l, nil
			}
			g.logger.Warn("calls: the chosen host did not claim the call", "room", room, "node", node, "err", err)
			if g.sfu == nil {
				return bus.HostLease{}, errHostUnavailable
			}
		}
		l, err = g.claimHere(ctx, room)
		if errors.Is(err, bus.ErrLeaseHeld) {
			continue // another node claimed it meanwhile
		}
		return l, err
	}
	return bus.HostLease{}, errHostUnavailable
}

// claimHere claims room's call for this node's SFU; if a node holds it,
// that node's lease is returned with bus.ErrLeaseHeld.
func (g *Gateway) claimHere(ctx context.Context, room domain.RoomID) (bus.HostLease, error) {
	if g.sfu == nil {
		return bus.HostLease{}, errNoCalls
	}
	l, err := g.hosts.Claim(ctx, string(room))
	if errors.Is(err, bus.ErrLeaseHeld) {
		held, ok, gerr := g.hosts.Get(ctx, string(room))
		if gerr == nil && ok {
			return held, err
		}
		return bus.HostLease{}, err
	}
	if err != nil {
		g.logger.Warn("calls: cannot claim a call", "room", room, "err", err)
		return bus.HostLease{}, errHostUnavailable
	}
	g.logger.Info("calls: hosting a call", "room", room, "token", l.Token)
	g.hosted.adopt(room, l)
	return l, nil
}

// chooseHost picks the node to host a new call from the calls-enabled
// nodes' loads.
func (g *Gateway) chooseHost(loads map[string]int) (string, error) {
	if g.sfu != nil {
		if _, ok := loads[g.nodeID]; !ok {
			loads[g.nodeID] = int(g.sfu.Stats().Participants)
		}
	}
	if len(loads) == 0 {
		return "", errNoCalls
	}
	nodes := slices.Collect(maps.Keys(loads))
	slices.SortFunc(nodes, func(a, b string) int { return cmp.Or(cmp.Compare(loads[a], loads[b]), cmp.Compare(a, b)) })
	least := nodes[0]
	if g.sfu != nil && loads[g.nodeID] <= loads[least]+hostSlack {
		return g.nodeID, nil
	}
	return least, nil
}

// callHostLoop keeps this node's side of call hosting until ctx ends: at
// start it drops the leases a previous process of its ID left; then it
// publishes its load (every 2 s, if it has calls), renews the leases of
// the calls it hosts (every 3 s; a call it cannot renew it stops hosting
// at once, and one without participants it releases), and watches the
// leases of the calls its connections take part in elsewhere (every 1 s;
// a lease gone or with a new token sends its clients call.rejoin).
func (g *Gateway) callHostLoop(ctx context.Context, loop *supervise.Loop) error {
	return loop.Run(ctx, func(ctx context.Context) error {
		if g.sfu != nil {
			n, err := g.hosts.DropNode(ctx)
			if err != nil {
				return fmt.Errorf("calls: drop this node's old leases: %w", err)
			}
			if n > 0 {
				g.logger.Info("calls: dropped leases a previous process of this node held", "leases", n)
			}
			if err := g.hosts.SetLoad(ctx, int(g.sfu.Stats().Participants)); err != nil {
				return fmt.Errorf("calls: publish load: %w", err)
			}
		}
		loop.Healthy()
		load, renew, watch := time.NewTicker(hostLoadEvery), time.NewTicker(hostRenewEvery), time.NewTicker(hostWatchEvery)
		defer load.Stop()
		defer renew.Stop()
		defer watch.Stop()
		for {
			select {
			case <-ctx.Done():
				if g.sfu != nil {
					dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
					g.hosts.DropLoad(dctx)
					cancel()
				}
				return ctx.Err()
			case <-load.C:
				if g.sfu != nil {
					if err := g.hosts.SetLoad(ctx, int(g.sfu.Stats().Participants)); err != nil {
						g.logger.Warn("calls: cannot publish load", "err", err)
					}
				}
			case <-renew.C:
				g.renewHosted(ctx)
			case <-watch.C:
				g.watchHosts(ctx)
			}
		}
	})
}

// renewHosted renews the lease of every call this node hosts; it
// releases those without participants and stops hosting those it cannot
// renew.
func (g *Gateway) renewHosted(ctx context.Context) {
	for room, l := range g.hosted.snapshot() {
		if len(g.sfu.Participants(string(room))) == 0 {
			if g.hosted.drop(room, l.Token) {
				if err := g.hosts.Release(ctx, string(room), l); err != nil {
					g.logger.Debug("calls: release", "room", room, "err", err)
				}
			}
			continue
		}
		nl, err := g.hosts.Renew(ctx, string(room), l)
		if err != nil {
			g.logger.Warn("calls: lost the lease of a hosted call; its participants rejoin", "room", room, "token", l.Token, "err", err)
			g.stopHosting(room, l.Token)
			continue
		}
		g.hosted.update(room, nl)
	}
}

// stopHosting takes every participant out of room's call on this node's
// SFU and tells each to rejoin (wherever the call is hosted next).
func (g *Gateway) stopHosting(room domain.RoomID, token uint64) {
	if !g.hosted.drop(room, token) {
		return
	}
	for _, p := range g.sfu.Participants(string(room)) {
		rejoin := g.calls.rejoiner(p)
		p.Leave()
		if rejoin != nil {
			rejoin(reasonHostLost)
		}
	}
}

// watchHosts checks the leases of the calls this node's connections take
// part in on other nodes: when one is gone or has another token, the
// host is lost; a new one is elected and the connections' clients are
// told to rejoin.
func (g *Gateway) watchHosts(ctx context.Context) {
	for room, seats := range g.relay.remoteByRoom() {
		l, ok, err := g.hosts.Get(ctx, string(room))
		if err != nil {
			continue // NATS trouble: requests tell the clients
		}
		lost := seats[:0]
		for _, s := range seats {
			if !ok || l.Token != s.token {
				lost = append(lost, s)
			}
		}
		if len(lost) == 0 {
			continue
		}
		g.logger.Info("calls: the host of a call is gone; its participants here rejoin", "room", room, "host", lost[0].host, "participants", len(lost))
		if _, err := g.callHost(ctx, room); err != nil {
			g.logger.Warn("calls: cannot elect a new host", "room", room, "err", err)
		}
		for _, s := range lost {
			g.seatLost(s.c, room, s, reasonHostLost)
		}
	}
}

// pendingRejoin is a connection told to rejoin room's call: its seat in
// the log is kept until it rejoins, leaves, closes, or the grace ends.
type pendingRejoin struct {
	room  domain.RoomID
	timer *time.Timer
}

// callRejoinFrame tells a client to join the room's call again: close
// both peer connections and send call.join on the same WebSocket.
type callRejoinFrame struct {
	Type   string `json:"type"` // "call.rejoin"
	RoomID string `json:"room_id"`
	Reason string `json:"reason"`
}

// seatLost tells c's client to rejoin room's call, whose host is lost:
// the connection's seat (which is s, if s is not nil) ends here without a
// CallLeft; one comes after rejoinGrace unless the client rejoins.
func (g *Gateway) seatLost(c *conn, room domain.RoomID, s seat, reason string) {
	c.callMu.Lock()
	if c.call == nil || c.call.room != room || s != nil && c.call.p != s {
		c.callMu.Unlock()
		return
	}
	old := c.call.p
	c.call = nil
	g.setRejoinLocked(c, room)
	c.callMu.Unlock()
	if rs, ok := old.(*remoteSeat); ok {
		rs.close()
	} else {
		old.Leave()
	}
	g.sendJSON(c, callRejoinFrame{Type: "call.rejoin", RoomID: string(room), Reason: reason})
}

func (g *Gateway) setRejoinLocked(c *conn, room domain.RoomID) {
	g.cancelRejoinLocked(c)
	pr := &pendingRejoin{room: room}
	pr.timer = time.AfterFunc(rejoinGrace, func() {
		c.callMu.Lock()
		mine := c.rejoin == pr
		if mine {
			c.rejoin = nil
		}
		c.callMu.Unlock()
		if mine {
			g.recordLeave(room, c.user, c.id, domain.CallLeaveFailed)
		}
	})
	c.rejoin = pr
}

// cancelRejoinLocked forgets a pending rejoin, returning its room.
func (g *Gateway) cancelRejoinLocked(c *conn) (domain.RoomID, bool) {
	pr := c.rejoin
	if pr == nil {
		return "", false
	}
	pr.timer.Stop()
	c.rejoin = nil
	return pr.room, true
}

// hostedSeat joins c to room's call on this node's SFU, hosting it under
// l (when there are CallHosts).
func (g *Gateway) hostedSeat(c *conn, room domain.RoomID, seq uint64) (seat, error) {
	p, err := g.sfu.Join(string(room), string(c.user), c.id, func(m media.Message) {
		if v := callFrame(room, m); v != nil {
			g.sendJSON(c, v)
		}
	})
	if err != nil {
		return nil, err
	}
	s := localSeat{p}
	g.calls.add(p, seq, func(reason string) { g.seatLost(c, room, s, reason) })
	return s, nil
}
