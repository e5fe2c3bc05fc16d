package projections

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/confabhq/confab/domain"
)

// Conn is an open connection.
type Conn struct {
	UserID   domain.UserID
	ConnID   string
	NodeID   string
	OpenedAt time.Time
}

// OpenConnections returns every open connection, by node, user and
// connection ID: what a reaper closes when a node's lease runs out.
func (p *Projections) OpenConnections(ctx context.Context) ([]Conn, error) {
	rows, err := p.db.QueryContext(ctx, `SELECT user_id, conn_id, node_id, opened_at FROM proj_connections`)
	if err != nil {
		return nil, fmt.Errorf("projections: open connections: %w", err)
	}
	defer rows.Close()
	var conns []Conn
	for rows.Next() {
		var c Conn
		var opened int64
		if err := rows.Scan(&c.UserID, &c.ConnID, &c.NodeID, &opened); err != nil {
			return nil, fmt.Errorf("projections: open connections: %w", err)
		}
		c.OpenedAt = fromMicros(opened)
		conns = append(conns, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("projections: open connections: %w", err)
	}
	slices.SortFunc(conns, func(a, b Conn) int {
		return cmp.Or(strings.Compare(a.NodeID, b.NodeID), strings.Compare(string(a.UserID), string(b.UserID)), strings.Compare(a.ConnID, b.ConnID))
	})
	return conns, nil
}

// RenewLease records that node is alive until until. Leases are
// operational state, not a read model: Rebuild keeps them and Dump leaves
// them out.
func (p *Projections) RenewLease(ctx context.Context, nodeID string, until time.Time) error {
	_, err := p.db.ExecContext(ctx, p.d.Rebind(`INSERT INTO proj_node_leases (node_id, expires_at) VALUES (?, ?)
		ON CONFLICT (node_id) DO UPDATE SET expires_at = excluded.expires_at`), nodeID, micros(until))
	if err != nil {
		return fmt.Errorf("projections: renew lease of %s: %w", nodeID, err)
	}
	return nil
}

// DropLease removes node's lease, as a node does when it shuts down
// cleanly after closing its connections.
func (p *Projections) DropLease(ctx context.Context, nodeID string) error {
	if _, err := p.db.ExecContext(ctx, p.d.Rebind(`DELETE FROM proj_node_leases WHERE node_id = ?`), nodeID); err != nil {
		return fmt.Errorf("projections: drop lease of %s: %w", nodeID, err)
	}
	return nil
}

// ExpiredNodes returns, sorted, the nodes that have open connections and
// whose lease ended before now, or that have no lease at all: their
// connections are to be closed with reason "node_lost".
func (p *Projections) ExpiredNodes(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := p.db.QueryContext(ctx, p.d.Rebind(`SELECT DISTINCT c.node_id FROM proj_connections c
		LEFT JOIN proj_node_leases l ON l.node_id = c.node_id
		WHERE l.node_id IS NULL OR l.expires_at < ?`), micros(now))
	if err != nil {
		return nil, fmt.Errorf("projections: expired nodes: %w", err)
	}
	defer rows.Close()
	var nodes []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("projections: expired nodes: %w", err)
		}
		nodes = append(nodes, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("projections: expired nodes: %w", err)
	}
	slices.Sort(nodes)
	return nodes, nil
}
