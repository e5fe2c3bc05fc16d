package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/confabhq/confab/bus"
	"github.com/confabhq/confab/eventstore"
	natsgo "github.com/nats-io/nats.go"
)

// Buckets and timings of call hosting.
const (
	// HostsBucket holds one key per room whose call is hosted: the host
	// node and its fencing token. Entries expire after LeaseTTL without
	// a renewal (the server's MaxAge, not the nodes' clocks).
	HostsBucket = "CONFAB_CALL_HOSTS"
	// NodesBucket is the registry of calls-enabled nodes: one key per
	// node, its load, expiring after LoadTTL without an update.
	NodesBucket = "CONFAB_CALL_NODES"

	DefaultLeaseTTL = 9 * time.Second
	DefaultLoadTTL  = 6 * time.Second
)

// kvWait bounds one KV operation: a renewal that takes longer fails,
// and the host gives up the room rather than serve without a lease.
const kvWait = 2 * time.Second

// LeasesConfig configures Leases. Zero durations take the defaults.
type LeasesConfig struct {
	// Node is this node's ID: the holder named in its leases.
	Node string
	// LeaseTTL is how long a host lease lives without a renewal
	// (DefaultLeaseTTL); renew well within it (a third).
	LeaseTTL time.Duration
	// LoadTTL is how long a node's load entry lives without an update
	// (DefaultLoadTTL).
	LoadTTL time.Duration
}

// Leases are the host leases of calls and the registry of calls-enabled
// nodes, in two JetStream KV buckets. Safe for concurrent use.
type Leases struct {
	node  string
	hosts natsgo.KeyValue
	nodes natsgo.KeyValue
}

// leaseValue is a host lease as the bucket stores it. Token 0 means the
// entry's own revision: a claim writes once, and its revision (monotonic
// over the bucket) is the new holder's token.
type leaseValue struct {
	Node  string `json:"node"`
	Token uint64 `json:"token,omitempty"`
}

// loadValue is a node's entry in the registry.
type loadValue struct {
	Participants int `json:"participants"`
}

// Leases opens (creating if needed) the buckets of call hosting.
func (b *Bus) Leases(ctx context.Context, cfg LeasesConfig) (*Leases, error) {
	if cfg.Node == "" {
		return nil, errors.New("nats: leases: no node ID")
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.LoadTTL <= 0 {
		cfg.LoadTTL = DefaultLoadTTL
	}
	js, err := b.pubConn.JetStream(natsgo.MaxWait(kvWait))
	if err != nil {
		return nil, fmt.Errorf("nats: leases: %w", err)
	}
	l := &Leases{node: cfg.Node}
	if l.hosts, err = bucket(js, HostsBucket, "confab call hosts: room -> host node and fencing token", cfg.LeaseTTL); err != nil {
		return nil, err
	}
	if l.nodes, err = bucket(js, NodesBucket, "confab calls-enabled nodes and their load", cfg.LoadTTL); err != nil {
		return nil, err
	}
	return l, nil
}

// bucket creates a KV bucket in memory with one revision per key and
// entries expiring after ttl, or binds to it if it exists (with another
// TTL: the first node's configuration stands until the bucket is
// deleted).
func bucket(js natsgo.JetStreamContext, name, desc string, ttl time.Duration) (natsgo.KeyValue, error) {
	cfg := &natsgo.KeyValueConfig{Bucket: name, Description: desc, History: 1, TTL: ttl, Storage: natsgo.MemoryStorage}
	kv, err := js.CreateKeyValue(cfg)
	if errors.Is(err, natsgo.ErrStreamNameAlreadyInUse) {
		kv, err = js.KeyValue(name)
	}
	if err != nil {
		return nil, eventstore.AsTransient(fmt.Errorf("nats: bucket %s: %w", name, err))
	}
	return kv, nil
}

// Node returns this node's ID.
func (l *Leases) Node() string { return l.node }

// Get returns the room's host lease; ok is false if nobody hosts it.
func (l *Leases) Get(_ context.Context, room string) (lease bus.HostLease, ok bool, err error) {
	e, err := l.hosts.Get(room)
	if errors.Is(err, natsgo.ErrKeyNotFound) {
		return bus.HostLease{}, false, nil
	}
	if err != nil {
		return bus.HostLease{}, false, eventstore.AsTransient(fmt.Errorf("nats: get host of %s: %w", room, err))
	}
	return decodeLease(e)
}

func decodeLease(e natsgo.KeyValueEntry) (bus.HostLease, bool, error) {
	var v leaseValue
	if err := json.Unmarshal(e.Value(), &v); err != nil || v.Node == "" {
		return bus.HostLease{}, false, fmt.Errorf("nats: host lease of %s: unreadable value %q", e.Key(), e.Value())
	}
	if v.Token == 0 {
		v.Token = e.Revision()
	}
	return bus.HostLease{Node: v.Node, Token: v.Token, Revision: e.Revision()}, true, nil
}

// Claim makes this node the room's host, if nobody is: bus.ErrLeaseHeld
// otherwise.
func (l *Leases) Claim(_ context.Context, room string) (bus.HostLease, error) {
	rev, err := l.hosts.Create(room, mustJSON(leaseValue{Node: l.node}))
	if errors.Is(err, natsgo.ErrKeyExists) {
		return bus.HostLease{}, fmt.Errorf("claim %s: %w", room, bus.ErrLeaseHeld)
	}
	if err != nil {
		return bus.HostLease{}, eventstore.AsTransient(fmt.Errorf("nats: claim %s: %w", room, err))
	}
	return bus.HostLease{Node: l.node, Token: rev, Revision: rev}, nil
}

// Renew extends this node's lease on the room if it is still the one
// read (compare-and-set on its revision), keeping its token:
// bus.ErrLeaseLost if it changed or expired.
func (l *Leases) Renew(_ context.Context, room string, lease bus.HostLease) (bus.HostLease, error) {
	rev, err := l.hosts.Update(room, mustJSON(leaseValue{Node: lease.Node, Token: lease.Token}), lease.Revision)
	if err != nil {
		return bus.HostLease{}, l.casError("renew", room, err)
	}
	lease.Revision = rev
	return lease, nil
}

// Takeover replaces old, a lease its holder disowns (its node is gone
// from the registry), with this node's, and a new token:
// bus.ErrLeaseLost if the lease is no longer old.
func (l *Leases) Takeover(_ context.Context, room string, old bus.HostLease) (bus.HostLease, error) {
	rev, err := l.hosts.Update(room, mustJSON(leaseValue{Node: l.node}), old.Revision)
	if err != nil {
		return bus.HostLease{}, l.casError("take over", room, err)
	}
	return bus.HostLease{Node: l.node, Token: rev, Revision: rev}, nil
}

// Release gives the lease up, if it is still the one read.
func (l *Leases) Release(_ context.Context, room string, lease bus.HostLease) error {
	if err := l.hosts.Delete(room, natsgo.LastRevision(lease.Revision)); err != nil {
		return l.casError("release", room, err)
	}
	return nil
}

func (l *Leases) casError(op, room string, err error) error {
	if errors.Is(err, natsgo.ErrKeyRevisionMismatch) || errors.Is(err, natsgo.ErrKeyExists) {
		return fmt.Errorf("%s %s: %w", op, room, bus.ErrLeaseLost)
	}
	return eventstore.AsTransient(fmt.Errorf("nats: %s %s: %w", op, room, err))
}

// DropNode deletes the leases naming this node: a node that starts holds
// no call, whatever a previous process of the same ID left.
func (l *Leases) DropNode(ctx context.Context) (int, error) {
	keys, err := l.hosts.Keys()
	if errors.Is(err, natsgo.ErrNoKeysFound) {
		return 0, nil
	}
	if err != nil {
		return 0, eventstore.AsTransient(fmt.Errorf("nats: list host leases: %w", err))
	}
	dropped := 0
	for _, k := range keys {
		lease, ok, err := l.Get(ctx, k)
		if err != nil || !ok || lease.Node != l.node {
			continue
		}
		if err := l.Release(ctx, k, lease); err == nil {
			dropped++
		}
	}
	return dropped, nil
}

// SetLoad publishes this node's load: it is a candidate host until the
// entry expires.
func (l *Leases) SetLoad(_ context.Context, participants int) error {
	if _, err := l.nodes.Put(l.node, mustJSON(loadValue{Participants: participants})); err != nil {
		return eventstore.AsTransient(fmt.Errorf("nats: publish load: %w", err))
	}
	return nil
}

// Loads returns the calls-enabled nodes and their participants.
func (l *Leases) Loads(context.Context) (map[string]int, error) {
	keys, err := l.nodes.Keys()
	if errors.Is(err, natsgo.ErrNoKeysFound) {
		return map[string]int{}, nil
	}
	if err != nil {
		return nil, eventstore.AsTransient(fmt.Errorf("nats: list nodes: %w", err))
	}
	out := make(map[string]int, len(keys))
	for _, k := range keys {
		e, err := l.nodes.Get(k)
		if err != nil {
			continue // expired meanwhile
		}
		var v loadValue
		if json.Unmarshal(e.Value(), &v) == nil {
			out[k] = v.Participants
		}
	}
	return out, nil
}

// DropLoad removes this node from the registry (a graceful stop).
func (l *Leases) DropLoad(context.Context) error {
	if err := l.nodes.Delete(l.node); err != nil {
		return eventstore.AsTransient(fmt.Errorf("nats: drop load: %w", err))
	}
	return nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
