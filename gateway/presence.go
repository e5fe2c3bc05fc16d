package gateway

import (
	"context"
	"time"

	"github.com/confabhq/confab/commands"
	"github.com/confabhq/confab/domain"
)

// presenceLoop pushes a user's presence to everyone who shares a room
// with them whenever it flips: online when their first connection opens,
// offline with last_seen when their last one closes (on any node).
func (g *Gateway) presenceLoop(ctx context.Context) {
	last := map[domain.UserID]bool{}
	for {
		var pc presenceChange
		select {
		case <-ctx.Done():
			return
		case pc = <-g.hub.presence:
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := g.read.WaitFor(wctx, pc.pos)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				g.logger.Warn("presence: read models lag", "err", err)
			}
			continue
		}
		u, err := g.read.User(ctx, pc.user)
		if err != nil {
			g.logger.Warn("presence: cannot read user", "user", pc.user, "err", err)
			continue
		}
		if online, seen := last[pc.user]; seen && online == u.Online {
			continue
		}
		last[pc.user] = u.Online
		frame := presenceFrame{Type: "presence", UserID: u.ID, Status: "offline"}
		if u.Online {
			frame.Status = "online"
		} else if !u.LastSeen.IsZero() {
			ls := u.LastSeen
			frame.LastSeen = &ls
		}
		peers, err := g.read.SharedRoomMembers(ctx, pc.user)
		if err != nil {
			g.logger.Warn("presence: cannot read room members", "user", pc.user, "err", err)
			continue
		}
		pm, err := prepare(frame)
		if err != nil {
			continue
		}
		g.hub.mu.RLock()
		for _, p := range peers {
			for c := range g.hub.users[p] {
				c.send(pm)
			}
		}
		g.hub.mu.RUnlock()
	}
}

// leaseLoop renews this node's lease and ends the connections of nodes
// whose lease ran out (they died without recording their clients leaving,
// or this node restarted): their users go offline.
func (g *Gateway) leaseLoop(ctx context.Context) {
	tick := time.NewTicker(g.limits.LeaseTTL / 3)
	defer tick.Stop()
	for {
		now := time.Now()
		if err := g.read.RenewLease(ctx, g.nodeID, now.Add(g.limits.LeaseTTL)); err != nil && ctx.Err() == nil {
			g.logger.Warn("cannot renew node lease", "err", err)
		}
		g.reap(ctx, now)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// reap records the end of every open connection of an expired node.
func (g *Gateway) reap(ctx context.Context, now time.Time) {
	nodes, err := g.read.ExpiredNodes(ctx, now)
	if err != nil {
		if ctx.Err() == nil {
			g.logger.Warn("reaper: cannot list expired nodes", "err", err)
		}
		return
	}
	if len(nodes) == 0 {
		return
	}
	expired := map[string]bool{}
	for _, n := range nodes {
		if n != g.nodeID {
			expired[n] = true
		}
	}
	conns, err := g.read.OpenConnections(ctx)
	if err != nil {
		g.logger.Warn("reaper: cannot list connections", "err", err)
		return
	}
	reaped := 0
	for _, c := range conns {
		if !expired[c.NodeID] {
			continue
		}
		if _, err := g.cmds.Connect.Handle(ctx, commands.Connect{User: c.UserID, ConnID: c.ConnID, Close: true, Reason: "node_lost"}); err != nil {
			g.logger.Warn("reaper: cannot end a connection", "conn", c.ConnID, "err", err)
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
	g.reapCalls(ctx, lost)
}
