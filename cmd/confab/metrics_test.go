package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/confabhq/confab/eventstore/sqlite"
	"github.com/confabhq/confab/internal/apitest"
	"github.com/confabhq/confab/internal/rtctest"
)

// testMetricsToken is the --metrics-token of servers whose /metrics the
// tests scrape on --addr; scrape sends it.
const testMetricsToken = "metrics-secret"

// scrape reads a /metrics page into series ("name" or "name{labels}" as
// printed) and their values.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testMetricsToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET %s: %s %s", url, resp.Status, resp.Header.Get("Content-Type"))
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// metric returns a series' value, failing if it is not exported.
func metric(t *testing.T, m map[string]float64, series string) float64 {
	t.Helper()
	v, ok := m[series]
	if !ok {
		t.Fatalf("/metrics has no %s", series)
	}
	return v
}

// waitMetric polls /metrics until cond holds for a series.
func waitMetric(t *testing.T, url, series string, what string, cond func(float64) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v := metric(t, scrape(t, url), series)
		if cond(v) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is %v, want %s", series, v, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMetrics scrapes /metrics from a running server before and after
// chat traffic and checks that the series moved as the traffic says.
func TestMetrics(t *testing.T) {
	ctx := testCtx(t)
	addr, stop := startServe(t, "--data", t.TempDir(), "--metrics-token", testMetricsToken)
	defer stop()
	base := "http://" + addr
	url := base + "/metrics"

	before := scrape(t, url)
	for _, s := range []string{
		"confab_ws_connections", "confab_ws_frames_sent_total", "confab_events_appended_total",
		`confab_store_appends_total{result="ok"}`, "confab_store_append_duration_seconds_count",
		"confab_fanout_delay_seconds_count", "confab_projection_lag_events",
		"confab_call_participants", "confab_rtp_packets_forwarded_total", "confab_rtp_packets_dropped_total",
		"confab_turn_allocations", "go_goroutines", "process_resident_memory_bytes",
	} {
		metric(t, before, s)
	}
	if v := metric(t, before, "confab_ws_connections"); v != 0 {
		t.Errorf("confab_ws_connections %v before any client, want 0", v)
	}

	alice := apitest.MustSignUp(t, ctx, base, "alice", "correct horse")
	bob := apitest.MustSignUp(t, ctx, base, "bob", "battery staple")
	room := alice.MustCreateRoom(t, ctx, "metrics", bob)
	wsA := alice.MustDial(t, ctx)
	wsB := bob.MustDial(t, ctx)
	for _, ws := range []*apitest.WS{wsA, wsB} {
		if _, err := ws.Subscribe(ctx, room.ID, 0); err != nil {
			t.Fatal(err)
		}
	}
	const sent = 5
	for i := range sent {
		if _, err := wsA.SendMessage(ctx, room.ID, fmt.Sprint(i), fmt.Sprint("hello ", i)); err != nil {
			t.Fatal(err)
		}
	}
	// Bob receives them (after the room's creation and his join).
	for got := 0; got < sent; {
		if f := nextEvent(t, ctx, wsB); strings.HasPrefix(f.Data().Str("text"), "hello ") {
			got++
		}
	}
	if err := wsB.Send(map[string]any{"type": "no-such-frame"}); err != nil {
		t.Fatal(err)
	}
	if _, err := wsB.NextOf(ctx, "error"); err != nil {
		t.Fatal(err)
	}

	after := scrape(t, url)
	if v := metric(t, after, "confab_ws_connections"); v != 2 {
		t.Errorf("confab_ws_connections %v with two clients connected, want 2", v)
	}
	// Sign-ups, the room, the join, two connections and the messages were
	// appended.
	appended := metric(t, after, "confab_events_appended_total") - metric(t, before, "confab_events_appended_total")
	if appended < sent+6 {
		t.Errorf("confab_events_appended_total rose by %v, want at least %d", appended, sent+6)
	}
	if ok := metric(t, after, `confab_store_appends_total{result="ok"}`); ok < sent+5 || ok > appended {
		t.Errorf(`confab_store_appends_total{result="ok"} %v, want between %d and the %v events appended`, ok, sent+5, appended)
	}
	if n := metric(t, after, "confab_store_append_duration_seconds_count"); n < sent+5 {
		t.Errorf("confab_store_append_duration_seconds_count %v, want at least %d", n, sent+5)
	}
	if s := metric(t, after, "confab_store_append_duration_seconds_sum"); s <= 0 {
		t.Errorf("confab_store_append_duration_seconds_sum %v, want > 0", s)
	}
	for typ, want := range map[string]float64{"send": sent, "subscribe": 2, "invalid": 1} {
		if v := metric(t, after, `confab_ws_frames_received_total{type="`+typ+`"}`); v != want {
			t.Errorf(`confab_ws_frames_received_total{type=%q} %v, want %v`, typ, v, want)
		}
	}
	// Each client got ready, acks and the events; bob the error too.
	if v := metric(t, after, "confab_ws_frames_sent_total"); v < 2+2+sent+2*sent+1 {
		t.Errorf("confab_ws_frames_sent_total %v, want at least %d", v, 2+2+sent+2*sent+1)
	}
	// Every message had subscribers here: each was fanned out once.
	if n := metric(t, after, "confab_fanout_delay_seconds_count"); n < sent {
		t.Errorf("confab_fanout_delay_seconds_count %v, want at least %d", n, sent)
	}
	if v := metric(t, after, `confab_fanout_delay_seconds_bucket{le="+Inf"}`); v != metric(t, after, "confab_fanout_delay_seconds_count") {
		t.Errorf("fan-out histogram's +Inf bucket %v differs from its count", v)
	}
	if v := metric(t, after, "confab_projection_lag_events"); v != 0 {
		t.Errorf("confab_projection_lag_events %v on an idle node, want 0", v)
	}

	// A client leaves: the gauge follows.
	wsA.Close()
	waitMetric(t, url, "confab_ws_connections", "1 after a client left", func(v float64) bool { return v == 1 })
}

// TestMetricsCalls checks the call series during a call through TURN:
// participants, forwarded packets, allocations.
func TestMetricsCalls(t *testing.T) {
	ctx := testCtx(t)
	w := newCallWorld(t, ctx, []string{"--turn-allow-peers", "127.0.0.0/8", "--metrics-token", testMetricsToken}, "alice", "bob")
	url := w.base + "/metrics"
	opts := rtctest.Options{Publish: []string{"audio", "video"}, RelayOnly: true}
	a := w.join(t, ctx, "alice", opts)
	b := w.join(t, ctx, "bob", opts)
	waitCall(t, 30*time.Second, "media through the relay", func() bool {
		return hearsAndSees(a, w.id("bob")) && hearsAndSees(b, w.id("alice"))
	}, describeCalls(map[string]*rtctest.WSCall{"alice": a, "bob": b}))
	m := scrape(t, url)
	if v := metric(t, m, "confab_call_participants"); v != 2 {
		t.Errorf("confab_call_participants %v during a call of two, want 2", v)
	}
	if v := metric(t, m, "confab_rtp_packets_forwarded_total"); v < 40 {
		t.Errorf("confab_rtp_packets_forwarded_total %v while both hear and see each other, want at least 40", v)
	}
	if v := metric(t, m, "confab_turn_allocations"); v < 2 {
		t.Errorf("confab_turn_allocations %v with two relay-only clients, want at least 2", v)
	}
	a.Close()
	b.Close()
	waitMetric(t, url, "confab_call_participants", "0 once both left", func(v float64) bool { return v == 0 })
}

// TestReadyz checks /readyz and the healthcheck command on a server with
// its metrics on their own address.
func TestReadyz(t *testing.T) {
	srv := startServeLogged(t, "--data", t.TempDir(), "--metrics-addr", "127.0.0.1:0")
	defer srv.stop()
	opsAddr := srv.logAttr(t, "metrics listening", "addr")

	ready := func(base string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	for _, base := range []string{"http://" + srv.addr, "http://" + opsAddr} {
		if code, body := ready(base); code != http.StatusOK || body["status"] != "ok" || body["projection_lag"] != 0.0 {
			t.Errorf("GET %s/readyz: %d %v, want 200 ok with projection_lag 0", base, code, body)
		}
	}
	// /metrics is on its own address only.
	scrape(t, "http://"+opsAddr+"/metrics")
	if resp, err := http.Get("http://" + srv.addr + "/metrics"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "confab_ws_connections") {
			t.Error("/metrics is served on --addr too, with --metrics-addr set")
		}
	}

	// The healthcheck command finds the server from serve's flags.
	var out strings.Builder
	m := &Main{Stdout: &out, Stderr: io.Discard}
	if err := m.Run(context.Background(), []string{"confab", "healthcheck", "--addr", srv.addr, "--metrics-addr", ""}); err != nil {
		t.Errorf("healthcheck --addr %s: %v", srv.addr, err)
	}
	if err := m.Run(context.Background(), []string{"confab", "healthcheck", "--metrics-addr", opsAddr}); err != nil {
		t.Errorf("healthcheck --metrics-addr %s: %v", opsAddr, err)
	}
	if !strings.Contains(out.String(), "200 OK") {
		t.Errorf("healthcheck printed %q", out.String())
	}

	// Stopped: the healthcheck fails.
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background(), []string{"confab", "healthcheck", "--metrics-addr", opsAddr, "--timeout", "2s"}); err == nil {
		t.Error("healthcheck succeeded against a stopped server")
	}
}

// TestReadyzLag checks that /readyz answers 503 while the read models are
// further behind the store than --ready-max-lag, and the lag gauge shows
// it, then 200 once they catch up.
func TestReadyzLag(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	srv := startServeLogged(t, "--data", dir)
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	// Pause the read models (the mark a verifying rebuild sets) and append
	// five events they have not applied.
	db, err := sqlite.OpenDB(filepath.Join(dir, "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `UPDATE proj_checkpoint SET rebuilding = 1`); err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(ctx, filepath.Join(dir, "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	newAdmLog(t, store).signUp(time.Now(), "u1", "u2", "u3", "u4", "u5")
	store.Close()

	srv = startServeLogged(t, "--data", dir, "--ready-max-lag", "2", "--metrics-token", testMetricsToken)
	defer srv.stop()
	base := "http://" + srv.addr
	readyz := func() (int, string) {
		t.Helper()
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Status, Error string }
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Error
	}
	if code, reason := readyz(); code != http.StatusServiceUnavailable || !strings.Contains(reason, "more than 2 events behind") {
		t.Errorf("/readyz with the read models 5 events behind: %d %q, want 503 saying they are behind", code, reason)
	}
	waitMetric(t, base+"/metrics", "confab_projection_lag_events", "5 while paused", func(v float64) bool { return v == 5 })
	if code, _ := getHealth(srv.addr); code != http.StatusOK {
		t.Errorf("/healthz %d while the read models lag: liveness should not depend on them", code)
	}

	// Resume: they catch up, the node is ready.
	if _, err := db.ExecContext(ctx, `UPDATE proj_checkpoint SET rebuilding = 0`); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, reason := readyz()
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d %q after the read models resumed", code, reason)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
