// Package metrics holds confab's Prometheus collectors and serves them in
// the text exposition format on /metrics. The packages it measures do not
// import it: the gateway declares the hooks it calls (gateway.Metrics),
// cmd/confab wraps the commands' event store to time appends, and values
// another package already counts (the SFU's packets, TURN allocations,
// WebSocket connections) are read when Prometheus scrapes.
//
// Every metric is named confab_*; the Go runtime's (go_*) and the
// process's (process_*) are registered too. docs/deployment.md lists them.
package metrics
