package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// Pinger is what the health check asks: can the event store be read?
type Pinger interface {
	Ping(ctx context.Context) error
}

// PingFunc adapts a function to Pinger.
type PingFunc func(ctx context.Context) error

// Ping calls f.
func (f PingFunc) Ping(ctx context.Context) error { return f(ctx) }

// Gateway serves confab's HTTP endpoints.
type Gateway struct {
	store  Pinger
	logger *slog.Logger
	mux    *http.ServeMux
}

// New returns a gateway whose health depends on store.
func New(store Pinger, logger *slog.Logger) (*Gateway, error) {
	if store == nil {
		return nil, errors.New("gateway: nil store")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{store: store, logger: logger, mux: http.NewServeMux()}
	g.mux.HandleFunc("GET /healthz", g.healthz)
	return g, nil
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.mux.ServeHTTP(w, r) }

// healthz answers 200 when the event store can be read within a second,
// 503 otherwise.
func (g *Gateway) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	if err := g.store.Ping(ctx); err != nil {
		g.logger.Warn("health check failed", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "event store unreachable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
