package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/confabhq/confab/internal/apitest"
	"golang.org/x/sync/errgroup"
)

// presenceView is what one connection knows of everyone's presence: the
// room's members from REST right after its ready, then every presence
// and presence_batch frame, in order.
type presenceView struct {
	mu       sync.Mutex
	status   map[string]string
	lastSeen map[string]bool
	framed   map[string]bool // users a frame was received about
	batches  int
}

func (v *presenceView) set(user, status string, lastSeen bool) {
	v.status[user] = status
	v.lastSeen[user] = lastSeen
}

// follow applies ws's presence frames to v until ws closes.
func (v *presenceView) follow(ctx context.Context, ws *apitest.WS) {
	for {
		f, err := ws.Next(ctx)
		if err != nil {
			return
		}
		ps := f.Presence()
		if ps == nil {
			continue
		}
		v.mu.Lock()
		if f.Type() == "presence_batch" {
			v.batches++
		}
		for _, p := range ps {
			v.set(p.Str("user_id"), p.Str("status"), p.Str("last_seen") != "")
			v.framed[p.Str("user_id")] = true
		}
		v.mu.Unlock()
	}
}

// wrong returns how v differs from want (user ID to status; offline
// users must have a last_seen), or "".
func (v *presenceView) wrong(want map[string]string) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var bad []string
	for u, s := range want {
		if v.status[u] != s || (s == "offline" && !v.lastSeen[u]) {
			bad = append(bad, fmt.Sprintf("%s:%q", u[:8], v.status[u]))
		}
	}
	if len(bad) == 0 {
		return ""
	}
	return fmt.Sprintf("%d wrong, e.g. %s", len(bad), strings.Join(bad[:min(len(bad), 3)], " "))
}

// TestPresenceConnectStorm has every member of a room of n connect at
// once to a real server: every connection ends up seeing everyone
// online, then the half that disconnects offline (with last_seen), and
// the presence frames are at most one per connection and presence
// window, far below the n² of one frame per change and peer.
func TestPresenceConnectStorm(t *testing.T) {
	const n = 200
	// 201 sign-ups, each an argon2id hash, take a while on a busy box.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	addr, stop := startServe(t, "--data", t.TempDir(), "--metrics-token", testMetricsToken,
		"--signup-rate", "-1", "--ws-per-ip", "0", "--presence-window", "1s")
	defer stop()
	base := "http://" + addr
	metricsURL := base + "/metrics"

	// users[n] is the sentinel: it connects after the storm, so that once
	// every connection has its frame, the storm's windows have ended.
	users := make([]*apitest.Client, n+1)
	var grp errgroup.Group
	grp.SetLimit(4)
	for i := range users {
		grp.Go(func() error {
			for {
				c, err := apitest.SignUp(ctx, base, fmt.Sprintf("storm%03d", i), "correct horse")
				if isAPIError(err, 503, "unavailable") {
					time.Sleep(time.Second) // the password hashes are busy: Retry-After
					continue
				}
				users[i] = c
				return err
			}
		})
	}
	if err := grp.Wait(); err != nil {
		t.Fatal(err)
	}
	room, err := users[0].CreateRoom(ctx, "storm")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range users[1:] {
		grp.Go(func() error { _, err := c.Join(ctx, room.InviteCode); return err })
	}
	if err := grp.Wait(); err != nil {
		t.Fatal(err)
	}
	before := scrape(t, metricsURL)

	// The storm: everyone connects at once.
	conns := make([]*apitest.WS, n)
	views := make([]*presenceView, n)
	var storm errgroup.Group
	lists := make(chan struct{}, 4)
	for i, c := range users[:n] {
		storm.Go(func() error {
			ws, err := c.Dial(ctx)
			if err != nil {
				return fmt.Errorf("user %d connects: %w", i, err)
			}
			conns[i] = ws
			lists <- struct{}{} // a few member lists at a time: the storm is the connects
			members, err := c.Members(ctx, room.ID)
			<-lists
			if err != nil {
				return fmt.Errorf("user %d lists the members: %w", i, err)
			}
			v := &presenceView{status: map[string]string{}, lastSeen: map[string]bool{}, framed: map[string]bool{}}
			for _, m := range members {
				v.set(m.User.ID, m.User.Status, m.User.LastSeen != nil)
			}
			views[i] = v
			go v.follow(ctx, ws)
			return nil
		})
	}
	err = storm.Wait()
	for _, ws := range conns {
		if ws != nil {
			defer ws.Close()
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, c := range users[:n] {
		want[c.User.ID] = "online"
	}
	waitViews := func(what string, views []*presenceView) {
		t.Helper()
		invWaitFor(t, ctx, 2*time.Minute, what, func() (bool, string) {
			for i, v := range views {
				if w := v.wrong(want); w != "" {
					return false, fmt.Sprintf("connection %d: %s", i, w)
				}
			}
			return true, ""
		})
	}
	waitViews("every connection to see everyone online", views)
	pushed := func(changes float64) {
		t.Helper()
		invWaitFor(t, ctx, time.Minute, fmt.Sprintf("%v presence changes pushed", changes), func() (bool, string) {
			got := metric(t, scrape(t, metricsURL), "confab_presence_changes_total") - metric(t, before, "confab_presence_changes_total")
			return got == changes, fmt.Sprintf("%v", got)
		})
	}
	pushed(n)
	// The sentinel's change comes after every change of the storm: its
	// window is the last, and the metrics count a frame before it is sent.
	sentinel, err := users[n].Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sentinel.Close()
	want[users[n].User.ID] = "online"
	invWaitFor(t, ctx, 2*time.Minute, "every connection to get the sentinel's frame", func() (bool, string) {
		for i, v := range views {
			v.mu.Lock()
			ok := v.framed[users[n].User.ID]
			v.mu.Unlock()
			if !ok {
				return false, fmt.Sprintf("connection %d has not", i)
			}
		}
		return true, ""
	})
	pushed(n + 1)
	after := scrape(t, metricsURL)
	frames := metric(t, after, "confab_presence_frames_total") - metric(t, before, "confab_presence_frames_total")
	windows := metric(t, after, "confab_presence_windows_total") - metric(t, before, "confab_presence_windows_total")
	t.Logf("connect storm of %d: %v presence frames in %v windows (one frame per change and peer: %d)", n, frames, windows, n*n)
	if frames > windows*(n+1) {
		t.Errorf("%v presence frames in %v windows to %d connections: more than one per connection and window", frames, windows, n+1)
	}
	if frames >= n*n/4 {
		t.Errorf("%v presence frames for %d connects in a room of %d: want far below %d", frames, n, n, n*n)
	}

	// Every other user disconnects; the rest see them go offline.
	var stay []*presenceView
	for i, ws := range conns {
		if i%2 == 1 {
			ws.Close()
			want[users[i].User.ID] = "offline"
		} else {
			stay = append(stay, views[i])
		}
	}
	waitViews("the connections left to see the half that left offline", stay)
	var batches int
	for _, v := range views {
		v.mu.Lock()
		batches += v.batches
		v.mu.Unlock()
	}
	t.Logf("%d presence_batch frames received", batches)
}
