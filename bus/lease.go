package bus

import "errors"

// HostLease is a node's lease on hosting a room's call (package bus/nats
// keeps them in a NATS KV bucket; the gateway declares the interface it
// uses). Token is the fencing token: it grows with every new holder, so a
// node that still believes it hosts with an older token is refused.
// Revision is the entry's revision, for compare-and-set renewals.
type HostLease struct {
	Node     string
	Token    uint64
	Revision uint64
}

// Errors of host leases.
var (
	// ErrLeaseHeld: a claim found the room's lease held (by any node).
	ErrLeaseHeld = errors.New("bus: the room's call is hosted already")
	// ErrLeaseLost: a renewal or takeover found the lease changed or gone.
	ErrLeaseLost = errors.New("bus: the lease changed or expired")
)
