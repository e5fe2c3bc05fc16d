package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/confabhq/confab/commands"
	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/internal/supervise"
	"github.com/gorilla/websocket"
)

// presenceLoop pushes a user's presence to everyone who shares a room
// with them whenever it flips: online when their first connection opens,
// offline with last_seen when their last one closes (on any node). The
// peers are the members of the user's rooms, from the member cache
// (members.go). Each receiving connection collects the changes of a
// window (Limits.PresenceWindow) and gets them in one frame when the
// window ends (presencebatch.go). A change that cannot be read because
// the database is away or the read models are behind is retried with
// loop's backoff until it can, so presence converges once the database is
// back; other errors are logged and the change skipped. It returns
// ctx.Err(), or a fatal error.
func (g *Gateway) presenceLoop(ctx context.Context, loop *supervise.Loop) error {
	last := map[domain.UserID]bool{}
	batch := newPresenceBatcher[*conn]()
	window := time.NewTimer(time.Hour)
	window.Stop()
	defer window.Stop()
	var windowEnd <-chan time.Time // nil while no window is open
	for {
		var pc presenceChange
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-windowEnd:
			windowEnd = nil
			g.flushPresence(batch)
			continue
		case pc = <-g.hub.presence:
		}
		err := loop.Do(ctx, func(ctx context.Context) error {
			err := g.pushPresence(ctx, pc, last, batch)
			if err != nil && !eventstore.IsTransient(err) {
				// Not a fault of the database: retrying would not help.
				g.logger.Warn("presence: cannot push a change", "user", pc.user, "err", err)
				return nil
			}
			return err
		})
		if err != nil {
			return err
		}
		if windowEnd == nil && !batch.empty() {
			window.Reset(g.limits.PresenceWindow)
			windowEnd = window.C
		}
	}
}

// pushPresence adds the presence of pc's user to the batch of every
// connection of their peers (and their own), unless last says they were
// online already and still are.
func (g *Gateway) pushPresence(ctx context.Context, pc presenceChange, last map[domain.UserID]bool, batch *presenceBatcher[*conn]) error {
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err := g.read.WaitFor(wctx, pc.pos)
	cancel()
	if err != nil {
		return fmt.Errorf("presence: wait for the read models: %w", err)
	}
	u, err := g.read.User(ctx, pc.user)
	if err != nil {
		return fmt.Errorf("presence: read user %s: %w", pc.user, err)
	}
	if u.Online && last[pc.user] {
		return nil
	}
	e := presenceEntry{UserID: u.ID, Status: "offline"}
	if u.Online {
		e.Status = "online"
	} else if !u.LastSeen.IsZero() {
		ls := u.LastSeen
		e.LastSeen = &ls
	}
	rooms, err := g.read.RoomIDsOf(ctx, pc.user)
	if err != nil {
		return fmt.Errorf("presence: read the rooms of %s: %w", pc.user, err)
	}
	if err := g.members.load(ctx, rooms); err != nil {
		return fmt.Errorf("presence: %w", err)
	}
	// Only online users are remembered, so the map is as big as this
	// node's view of who is online, not of everyone ever seen: an
	// offline change seen twice is sent twice, which peers take as the
	// same state.
	if u.Online {
		last[pc.user] = true
	} else {
		delete(last, pc.user)
	}
	g.metrics.PresenceChange()
	h := g.hub
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.users[pc.user] {
		batch.add(c, e)
	}
	g.members.each(rooms, func(p domain.UserID) {
		if p == pc.user {
			return
		}
		for c := range h.users[p] {
			batch.add(c, e)
		}
	})
	g.members.evict(rooms, func(p domain.UserID) bool { return len(h.users[p]) > 0 })
	return nil
}

// flushPresence queues on each connection of batch the frame of its
// window's changes. Connections given the same changes share one
// prepared frame. The frames are counted before they are queued, so that
// a client that has one sees it in the metrics.
func (g *Gateway) flushPresence(batch *presenceBatcher[*conn]) {
	type out struct {
		c  *conn
		pm *websocket.PreparedMessage
	}
	var outs []out
	shared := map[string]*websocket.PreparedMessage{}
	batch.flush(func(c *conn, frame []byte) {
		pm := shared[string(frame)]
		if pm == nil {
			var err error
			if pm, err = websocket.NewPreparedMessage(websocket.TextMessage, frame); err != nil {
				g.logger.Error("cannot prepare frame", "err", err)
				return
			}
			shared[string(frame)] = pm
		}
		outs = append(outs, out{c, pm})
	})
	g.metrics.PresenceFrames(len(outs))
	for _, o := range outs {
		o.c.send(o.pm)
	}
}

// leaseLoop renews this node's lease and ends the connections of nodes
// whose lease ran out (they died without recording their clients leaving,
// or this node restarted): their users go offline. A renewal that fails
// is retried with lease's backoff until it works; a reaping round that
// fails because the database is away marks reaper failed until a round
// works (the next tick); other failures are logged. It returns ctx.Err(),
// or a fatal error.
func (g *Gateway) leaseLoop(ctx context.Context, lease, reaper *supervise.Loop) error {
	tick := time.NewTicker(g.limits.LeaseTTL / 3)
	defer tick.Stop()
	for {
		err := lease.Do(ctx, func(ctx context.Context) error {
			if err := g.read.RenewLease(ctx, g.nodeID, time.Now().Add(g.limits.LeaseTTL)); err != nil {
				return fmt.Errorf("renew node lease: %w", err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		switch err := g.reap(ctx, time.Now()); {
		case ctx.Err() != nil:
			return ctx.Err()
		case err == nil:
			reaper.Healthy()
		case eventstore.IsTransient(err):
			reaper.Failed(err) // the database is away: not ready until a round works
		default:
			// A connection that cannot be ended for another reason (a
			// command refused it) must not hold the node unready.
			g.logger.Warn("reaper: cannot end the connections of a lost node", "err", err)
			reaper.Healthy()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// reap records the end of every open connection of an expired node. It
// returns the first error (after trying every connection): the next round
// tries what is left.
func (g *Gateway) reap(ctx context.Context, now time.Time) error {
	nodes, err := g.read.ExpiredNodes(ctx, now)
	if err != nil {
		return fmt.Errorf("list expired nodes: %w", err)
	}
	if len(nodes) == 0 {
		return nil
	}
	expired := map[string]bool{}
	for _, n := range nodes {
		if n != g.nodeID {
			expired[n] = true
		}
	}
	conns, err := g.read.OpenConnections(ctx)
	if err != nil {
		return fmt.Errorf("list connections: %w", err)
	}
	reaped := 0
	var first error
	for _, c := range conns {
		if !expired[c.NodeID] {
			continue
		}
		if _, err := g.cmds.Connect.Handle(ctx, commands.Connect{User: c.UserID, ConnID: c.ConnID, Close: true, Reason: "node_lost"}); err != nil {
			if first == nil {
				first = fmt.Errorf("end connection %s: %w", c.ConnID, err)
			}
			continue
		}
		reaped++
	}
	if reaped > 0 {
		g.logger.Info("reaped connections of lost nodes", "connections", reaped, "nodes", len(expired))
	}
	lost := make([]string, 0, len(expired))
	for n := range expired {
		lost = append(lost, n)
	}
	if err := g.reapCalls(ctx, lost); first == nil {
		first = err
	}
	return first
}
