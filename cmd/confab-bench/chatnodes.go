package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Chat across nodes: with several --server, client i opens its WebSocket
// on node i mod N. Room r's members are the users r*M .. r*M+M-1, so every
// room's members are spread evenly over the nodes and each message is
// relayed between nodes (issue 14). Setup and REST reads use the first
// server. Each step reports every node's CPU (from /proc for a loopback
// node, else its /metrics) and that of every --watch process tree.

// wsURL is the WebSocket endpoint of client i: that of node i mod N.
func (b *bench) wsURLOf(i int) string {
	return b.wsURLs[i%len(b.wsURLs)]
}

// nodeOf is the node (an index into the servers) of client i.
func (b *bench) nodeOf(i int) int {
	return i % len(b.wsURLs)
}

// newChatNodeProbes returns a probe of each node when chat spreads over
// several nodes, else nil: /proc of the process listening on a loopback
// node, else the node's /metrics.
func (b *bench) newChatNodeProbes(ctx context.Context) []*serverProbe {
	if len(b.cfg.Servers) < 2 {
		return nil
	}
	var ps []*serverProbe
	for i, s := range b.cfg.Servers {
		mu := ""
		if i < len(b.cfg.MetricsURLs) {
			mu = b.cfg.MetricsURLs[i]
		}
		p := newServerProbe(ctx, findListener(s), mu, b.cfg.MetricsToken)
		if p.source == "" {
			b.log.Warn("no figures for a node: run it on this machine or serve its /metrics", "node", s)
		}
		ps = append(ps, p)
	}
	return ps
}

// watch is a --watch process tree: a process (PostgreSQL's postmaster,
// nats-server) whose CPU, with that of its descendants, each step reports.
type watch struct {
	Name string `json:"name"`
	PID  int    `json:"pid"`
}

// watchList is the --watch flag: name=pid, repeated or comma-separated.
type watchList []watch

func (w *watchList) String() string {
	var s []string
	for _, x := range *w {
		s = append(s, fmt.Sprintf("%s=%d", x.Name, x.PID))
	}
	return strings.Join(s, ",")
}

func (w *watchList) Set(v string) error {
	for _, item := range strings.Split(v, ",") {
		name, p, ok := strings.Cut(strings.TrimSpace(item), "=")
		pid, err := strconv.Atoi(p)
		if !ok || name == "" || err != nil || pid < 1 {
			return fmt.Errorf("%q: want name=pid", item)
		}
		*w = append(*w, watch{Name: name, PID: pid})
	}
	return nil
}

// treeCPU returns the CPU-seconds of process pid and of its descendants:
// each live one's user and system time, and the time of the children they
// reaped (cutime, cstime), which keeps the time of PostgreSQL backends that
// ended. It fails when pid is gone.
func treeCPU(pid int) (float64, error) {
	type proc struct {
		ppid  int
		ticks int64
	}
	procs := map[int]proc{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		n, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		ppid, ticks, err := readStat(n)
		if err == nil {
			procs[n] = proc{ppid, ticks}
		}
	}
	if _, ok := procs[pid]; !ok {
		return 0, fmt.Errorf("process %d: %w", pid, os.ErrNotExist)
	}
	var total int64
	for n, p := range procs {
		// Walk up to the root: n is in the tree when pid is an ancestor.
		for a, hops := n, 0; a > 0 && hops < 64; a, hops = procs[a].ppid, hops+1 {
			if a == pid {
				total += p.ticks
				break
			}
			if _, ok := procs[a]; !ok {
				break
			}
		}
	}
	return float64(total) / 100, nil // USER_HZ
}

// readStat reads the parent and utime+stime+cutime+cstime (clock ticks)
// of process pid from /proc/<pid>/stat.
func readStat(pid int) (ppid int, ticks int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 || i+2 > len(data) {
		return 0, 0, errors.New("bad stat")
	}
	f := strings.Fields(string(data[i+2:]))
	if len(f) < 15 {
		return 0, 0, errors.New("bad stat")
	}
	ppid, _ = strconv.Atoi(f[1])
	for _, s := range f[11:15] { // utime, stime, cutime, cstime
		n, _ := strconv.ParseInt(s, 10, 64)
		ticks += n
	}
	return ppid, ticks, nil
}

// procSample is the CPU of the nodes and watched trees at one moment.
type procSample struct {
	at    time.Time
	nodes []serverSample
	trees []float64 // -1: unreadable
}

func (b *bench) sampleProcs(ctx context.Context) procSample {
	s := procSample{at: time.Now(), nodes: sampleNodes(ctx, b.nodeProbes)}
	for _, w := range b.cfg.Watch {
		v, err := treeCPU(w.PID)
		if err != nil {
			v = -1
		}
		s.trees = append(s.trees, v)
	}
	return s
}

// stepProc is one node's or watched process tree's CPU over a step.
type stepProc struct {
	Name        string  `json:"name"`
	Connections int     `json:"connections,omitempty"` // a node's clients
	CPUSeconds  float64 `json:"cpu_seconds"`
	Cores       float64 `json:"cores"` // CPU-seconds per second
	// CPUPerMillionDeliveries is CPUSeconds per million deliveries of the
	// step, to every node.
	CPUPerMillionDeliveries float64 `json:"cpu_seconds_per_million_deliveries,omitempty"`
}

// procsOver returns the CPU of every node and watched tree between two
// samples; figures it could not read are left out.
func (b *bench) procsOver(s0, s1 procSample, deliveries uint64) []stepProc {
	secs := s1.at.Sub(s0.at).Seconds()
	var out []stepProc
	add := func(name string, conns int, cpu float64) {
		p := stepProc{Name: name, Connections: conns, CPUSeconds: cpu, Cores: cpu / secs}
		if deliveries > 0 {
			p.CPUPerMillionDeliveries = cpu / float64(deliveries) * 1e6
		}
		out = append(out, p)
	}
	conns := make([]int, len(b.wsURLs))
	for _, c := range b.clients {
		conns[b.nodeOf(c.idx)]++
	}
	for i := range s0.nodes {
		if s0.nodes[i].OK && s1.nodes[i].OK {
			add("node "+b.cfg.Servers[i], conns[i], s1.nodes[i].CPUSeconds-s0.nodes[i].CPUSeconds)
		}
	}
	for i, w := range b.cfg.Watch {
		if s0.trees[i] >= 0 && s1.trees[i] >= 0 {
			add(w.Name, 0, s1.trees[i]-s0.trees[i])
		}
	}
	return out
}
