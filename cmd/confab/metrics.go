package main

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/confabhq/confab/commands"
	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/gateway"
	"github.com/confabhq/confab/internal/metrics"
	"github.com/confabhq/confab/internal/supervise"
	"github.com/confabhq/confab/projections"
	"github.com/urfave/cli/v3"
)

// opsFlags configure what operators and their tools see of a node:
// metrics, readiness, and the proxies in front of it.
func opsFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "metrics-addr", Value: defaultMetricsAddr, Usage: `listen address of /metrics (and /healthz, /readyz) apart from the API, loopback only by default; "off": none`, Sources: cli.EnvVars("CONFAB_METRICS_ADDR")},
		&cli.StringFlag{Name: "metrics-token", Usage: "if set, /metrics is served on --addr too, to requests with Authorization: Bearer <this token>", Sources: cli.EnvVars("CONFAB_METRICS_TOKEN")},
		&cli.Int64Flag{Name: "ready-max-lag", Value: 1000, Usage: "events the read models may be behind the store while /readyz still answers ready", Sources: cli.EnvVars("CONFAB_READY_MAX_LAG")},
		&cli.StringSliceFlag{Name: "trusted-proxies", Usage: "CIDRs of reverse proxies whose X-Forwarded-For names the client (sign-in throttling counts by client address)", Sources: cli.EnvVars("CONFAB_TRUSTED_PROXIES")},
	}
}

// metricsOff is the --metrics-addr that disables /metrics.
const metricsOff = "off"

// defaultMetricsAddr keeps /metrics off the public listener: on loopback,
// for a Prometheus (or a tunnel) on the same host.
const defaultMetricsAddr = "127.0.0.1:9090"

// projectionLagInterval is how often the read models' lag is sampled.
var projectionLagInterval = 5 * time.Second

// projectionLagLimit bounds the events counted when sampling the lag: a
// node far behind reports this many rather than reading the whole log.
const projectionLagLimit = 100_000

// parsePrefixes parses CIDRs (or single addresses) of a flag.
func parsePrefixes(flag string, ss []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range nonEmpty(ss) {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("--%s %q: %w", flag, s, err)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// timedStore is the commands' event store, timing and counting appends.
type timedStore struct {
	commands.EventStore
	m *metrics.Metrics
}

func (s timedStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	start := time.Now()
	res, err := s.EventStore.Append(ctx, stream, expected, events...)
	s.m.Appended(len(events), time.Since(start), err, errors.Is(err, eventstore.ErrConflict))
	return res, err
}

// watchCalls exports the counters of a node's call stack, if it runs one.
// It reads the SFU and TURN server taken now: Close clears the fields of
// cs, while their counters stay readable.
func watchCalls(cs *calls) metrics.Sources {
	var src metrics.Sources
	if sfu := cs.sfu; sfu != nil {
		src.Calls = func() (int64, uint64, uint64) {
			s := sfu.Stats()
			return s.Participants, s.Forwarded, s.Dropped
		}
	}
	if t := cs.turn; t != nil {
		src.TURNAllocations = t.Allocations
	}
	return src
}

// sampleProjectionLag records how far the read models are behind the
// store every interval, until ctx ends.
// It logs once when sampling starts failing and once when it works again,
// not once per sample.
func sampleProjectionLag(ctx context.Context, store eventstore.Store, read *projections.Projections, m *metrics.Metrics, logger *slog.Logger) {
	t := time.NewTicker(projectionLagInterval)
	defer t.Stop()
	loop := supervise.NewLoop("projection lag sampler", logger, supervise.DefaultBackoff)
	for {
		cp, err := read.Checkpoint(ctx)
		if err == nil {
			var n int64
			if n, _, err = projections.Behind(ctx, store, cp, projectionLagLimit); err == nil {
				m.SetProjectionLag(n)
			}
		}
		switch {
		case ctx.Err() != nil:
		case err != nil:
			loop.Failed(err)
		default:
			loop.Healthy()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// opsHandler serves /metrics, /healthz and /readyz on --metrics-addr.
func opsHandler(m *metrics.Metrics, gw *gateway.Gateway) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.Handle("GET /healthz", gw)
	mux.Handle("GET /readyz", gw)
	return mux
}

// withMetrics serves /metrics next to the gateway on the main listener,
// to requests that bear token.
func withMetrics(m *metrics.Metrics, gw http.Handler, token string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", requireBearer(token, m.Handler()))
	mux.Handle("/", gw)
	return mux
}

// requireBearer passes requests with Authorization: Bearer token to h,
// and answers others 401.
func requireBearer(token string, h http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "/metrics needs Authorization: Bearer <--metrics-token>", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// healthcheckCommand probes a running server's /readyz, for container
// health checks in images without curl or wget. It reads the server's own
// flags and environment to find it.
func (m *Main) healthcheckCommand() *cli.Command {
	return &cli.Command{
		Name:  "healthcheck",
		Usage: "exit 0 if the server on this host answers /readyz with 200 (for container health checks)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "url", Usage: "URL to probe (default: /readyz on --metrics-addr if set, else on --addr, over HTTPS when serve would use TLS)", Sources: cli.EnvVars("CONFAB_HEALTHCHECK_URL")},
			&cli.DurationFlag{Name: "timeout", Value: 5 * time.Second, Usage: "how long to wait for the answer", Sources: cli.EnvVars("CONFAB_HEALTHCHECK_TIMEOUT")},
			&cli.StringFlag{Name: "addr", Value: ":8080", Usage: "serve's --addr", Sources: cli.EnvVars("CONFAB_ADDR")},
			&cli.StringFlag{Name: "metrics-addr", Value: defaultMetricsAddr, Usage: `serve's --metrics-addr ("" or "off": probe --addr)`, Sources: cli.EnvVars("CONFAB_METRICS_ADDR")},
			&cli.StringFlag{Name: "tls-cert", Usage: "serve's --tls-cert (HTTPS if set)", Sources: cli.EnvVars("CONFAB_TLS_CERT")},
			&cli.StringSliceFlag{Name: "acme-domain", Usage: "serve's --acme-domain (HTTPS if set)", Sources: cli.EnvVars("CONFAB_ACME_DOMAIN")},
		},
		Action: func(ctx context.Context, c *cli.Command) error {
			url, serverName := c.String("url"), ""
			if url == "" {
				url, serverName = healthcheckURL(c)
			}
			client := &http.Client{
				Timeout: c.Duration("timeout"),
				Transport: &http.Transport{
					// The probe checks that the local server is up and
					// ready, not its certificate: it reaches it by a
					// loopback address the certificate does not name.
					TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: serverName},
				},
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			resp, err := client.Do(req)
			if err != nil {
				return fmt.Errorf("healthcheck: %w", err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("healthcheck: %s: %s %s", url, resp.Status, strings.TrimSpace(string(body)))
			}
			fmt.Fprintf(m.Stdout, "%s: %s\n", url, resp.Status)
			return nil
		},
	}
}

// healthcheckURL is where serve, configured by the same flags and
// environment, answers /readyz; serverName is the TLS server name to ask
// for.
func healthcheckURL(c *cli.Command) (url, serverName string) {
	if a := c.String("metrics-addr"); a != "" && a != metricsOff {
		return "http://" + loopbackHostPort(a) + "/readyz", ""
	}
	scheme := "http"
	if domains := nonEmpty(c.StringSlice("acme-domain")); len(domains) > 0 {
		scheme, serverName = "https", domains[0]
	} else if c.String("tls-cert") != "" {
		scheme = "https"
	}
	return scheme + "://" + loopbackHostPort(c.String("addr")) + "/readyz", serverName
}

// loopbackHostPort turns a listen address into one to connect to on this
// host: an unspecified or missing host becomes loopback.
func loopbackHostPort(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
