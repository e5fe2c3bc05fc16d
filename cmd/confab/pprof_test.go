package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestPprofAddr checks that --pprof-addr serves the profiles on loopback
// (the block and mutex ones among them), is off by default, and refuses
// an address that is not loopback.
func TestPprofAddr(t *testing.T) {
	if got := serveConfig(t, nil).String("pprof-addr"); got != metricsOff {
		t.Errorf("default --pprof-addr %q, want off", got)
	}
	srv := startServeLogged(t, "--data", t.TempDir(), "--metrics-addr", "off", "--pprof-addr", "127.0.0.1:0")
	defer srv.stop()
	addr := srv.logAttr(t, "pprof listening", "addr")
	for _, p := range []string{"/debug/pprof/", "/debug/pprof/block?debug=1", "/debug/pprof/mutex?debug=1", "/debug/pprof/goroutine?debug=1"} {
		resp, err := http.Get("http://" + addr + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("GET %s: %d, %d bytes", p, resp.StatusCode, len(body))
		}
	}
	if resp, err := http.Get("http://" + srv.addr + "/debug/pprof/"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), "goroutine") {
			t.Errorf("/debug/pprof/ is served on --addr")
		}
	}
	for _, a := range []string{"0.0.0.0:0", ":0", "example.com:1", "127.0.0.1"} {
		m := &Main{Stdout: io.Discard, Stderr: io.Discard}
		err := m.Run(context.Background(), []string{"confab", "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--metrics-addr", "off", "--calls=false", "--pprof-addr", a})
		if err == nil || !strings.Contains(err.Error(), "--pprof-addr") {
			t.Errorf("serve --pprof-addr %q: %v, want an error naming --pprof-addr", a, err)
		}
	}
}
