package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"

	"github.com/urfave/cli/v3"
)

// pprofFlags configure the profiling endpoint, a debugging aid for load
// tests: off unless asked for.
func pprofFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "pprof-addr", Value: metricsOff, Usage: `listen address of net/http/pprof (/debug/pprof/), loopback only; it also turns on the block and mutex profiles; "off": none`, Sources: cli.EnvVars("CONFAB_PPROF_ADDR")},
	}
}

// listenPprof opens the profiling side server of --pprof-addr, if any.
// It takes loopback addresses only: the profiles show the process's
// memory and stacks to anyone who can reach them.
func (n *node) listenPprof(c *cli.Command) error {
	a := c.String("pprof-addr")
	if a == metricsOff {
		return nil
	}
	host, _, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("--pprof-addr %q: %w", a, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--pprof-addr %q: give a loopback address (127.0.0.1:port), or off", a)
	}
	// Every blocking event and every contended mutex: a debugging run
	// pays for the accounting.
	runtime.SetBlockProfileRate(1)
	runtime.SetMutexProfileFraction(1)
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return n.listenSide(c, "pprof", a, mux)
}
