package nats_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/confabhq/confab/bus"
	"github.com/confabhq/confab/bus/nats"
	"github.com/confabhq/confab/internal/natstest"
)

func openLeases(t *testing.T, url, node string, ttl time.Duration) *nats.Leases {
	t.Helper()
	l, err := openBus(t, url).Leases(context.Background(), nats.LeasesConfig{Node: node, LeaseTTL: ttl, LoadTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func getLease(t *testing.T, l *nats.Leases, room string) (bus.HostLease, bool) {
	t.Helper()
	lease, ok, err := l.Get(context.Background(), room)
	if err != nil {
		t.Fatal(err)
	}
	return lease, ok
}

// TestLeaseClaimRenewTakeover: one claim wins; the holder renews with its
// token; a takeover with the revision read gives a greater token, and the
// old holder's renewal is then refused.
func TestLeaseClaimRenewTakeover(t *testing.T) {
	ctx := context.Background()
	url := natstest.Start(t)
	a, b := openLeases(t, url, "node-a", time.Minute), openLeases(t, url, "node-b", time.Minute)
	const room = "0b7c3a52-3f0e-4d84-9a8c-1c1f9e7e0a01"

	if _, ok := getLease(t, a, room); ok {
		t.Fatal("a lease before any claim")
	}
	la, err := a.Claim(ctx, room)
	if err != nil || la.Node != "node-a" || la.Token == 0 {
		t.Fatalf("claim: %+v %v", la, err)
	}
	if _, err := b.Claim(ctx, room); !errors.Is(err, bus.ErrLeaseHeld) {
		t.Fatalf("a second claim: %v, want ErrLeaseHeld", err)
	}
	if got, ok := getLease(t, b, room); !ok || got != la {
		t.Fatalf("b reads %+v %v, want %+v", got, ok, la)
	}

	renewed, err := a.Renew(ctx, room, la)
	if err != nil || renewed.Token != la.Token || renewed.Revision <= la.Revision {
		t.Fatalf("renew: %+v %v, want token %d and a later revision", renewed, err, la.Token)
	}
	if got, _ := getLease(t, b, room); got != renewed {
		t.Fatalf("after renewal b reads %+v, want %+v", got, renewed)
	}
	// A renewal with a revision that is no longer the lease's fails.
	if _, err := a.Renew(ctx, room, la); !errors.Is(err, bus.ErrLeaseLost) {
		t.Fatalf("renewal with a stale revision: %v, want ErrLeaseLost", err)
	}

	// b takes over with what it read; a's token is now stale.
	if _, err := b.Takeover(ctx, room, la); !errors.Is(err, bus.ErrLeaseLost) {
		t.Fatalf("takeover with a stale revision: %v, want ErrLeaseLost", err)
	}
	lb, err := b.Takeover(ctx, room, renewed)
	if err != nil || lb.Node != "node-b" || lb.Token <= renewed.Token {
		t.Fatalf("takeover: %+v %v, want node-b with a token above %d", lb, err, renewed.Token)
	}
	if _, err := a.Renew(ctx, room, renewed); !errors.Is(err, bus.ErrLeaseLost) {
		t.Fatalf("the old holder's renewal: %v, want ErrLeaseLost", err)
	}
	if got, _ := getLease(t, a, room); got.Node != "node-b" || got.Token != lb.Token {
		t.Fatalf("a reads %+v, want node-b's token %d: a request with token %d is refused", got, lb.Token, renewed.Token)
	}

	// Released, it can be claimed again, with a greater token still.
	if err := b.Release(ctx, room, lb); err != nil {
		t.Fatal(err)
	}
	if _, ok := getLease(t, a, room); ok {
		t.Fatal("a lease after its release")
	}
	again, err := a.Claim(ctx, room)
	if err != nil || again.Token <= lb.Token {
		t.Fatalf("claim after release: %+v %v, want a token above %d", again, err, lb.Token)
	}
}

// TestLeaseExpires: a lease nobody renews is gone after its TTL, by the
// server's clock, and another node can claim the room.
func TestLeaseExpires(t *testing.T) {
	ctx := context.Background()
	url := natstest.Start(t)
	a, b := openLeases(t, url, "node-a", time.Second), openLeases(t, url, "node-b", time.Second)
	const room = "0b7c3a52-3f0e-4d84-9a8c-1c1f9e7e0a02"
	la, err := a.Claim(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SetLoad(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if loads, err := b.Loads(ctx); err != nil || loads["node-a"] != 3 {
		t.Fatalf("loads %v %v, want node-a with 3", loads, err)
	}
	waitFor(t, 20*time.Second, func() error {
		if _, ok := getLease(t, b, room); ok {
			return errors.New("the lease is still there")
		}
		if loads, _ := b.Loads(ctx); len(loads) != 0 {
			return fmt.Errorf("loads %v after their TTL", loads)
		}
		return nil
	})
	lb, err := b.Claim(ctx, room)
	if err != nil || lb.Token <= la.Token {
		t.Fatalf("claim after expiry: %+v %v, want a token above %d", lb, err, la.Token)
	}
	if _, err := a.Renew(ctx, room, la); !errors.Is(err, bus.ErrLeaseLost) {
		t.Fatalf("renewal of an expired lease: %v, want ErrLeaseLost", err)
	}
}

// TestLeaseRestartCleanup: a node that starts drops the leases naming its
// ID, and only those.
func TestLeaseRestartCleanup(t *testing.T) {
	ctx := context.Background()
	url := natstest.Start(t)
	a, b := openLeases(t, url, "node-a", time.Minute), openLeases(t, url, "node-b", time.Minute)
	rooms := []string{"0b7c3a52-3f0e-4d84-9a8c-1c1f9e7e0a03", "0b7c3a52-3f0e-4d84-9a8c-1c1f9e7e0a04", "0b7c3a52-3f0e-4d84-9a8c-1c1f9e7e0a05"}
	for _, r := range rooms[:2] {
		if _, err := a.Claim(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Claim(ctx, rooms[2]); err != nil {
		t.Fatal(err)
	}
	// node-a restarts with the same ID.
	restarted := openLeases(t, url, "node-a", time.Minute)
	n, err := restarted.DropNode(ctx)
	if err != nil || n != 2 {
		t.Fatalf("DropNode: %d %v, want 2", n, err)
	}
	for _, r := range rooms[:2] {
		if l, ok := getLease(t, b, r); ok {
			t.Errorf("room %s still hosted by %+v", r, l)
		}
	}
	if l, ok := getLease(t, b, rooms[2]); !ok || l.Node != "node-b" {
		t.Errorf("node-b's lease: %+v %v, want it kept", l, ok)
	}
	if n, err := restarted.DropNode(ctx); err != nil || n != 0 {
		t.Errorf("DropNode again: %d %v, want 0", n, err)
	}
}
