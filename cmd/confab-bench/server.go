package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// serverSample is the server process's resource use at one moment.
type serverSample struct {
	At         time.Time
	CPUSeconds float64 // user + system
	RSS        int64   // bytes
	HWM        int64   // peak RSS, bytes (only from /proc)
	Threads    int
	OK         bool
	// From /metrics only: the SFU's counters (zero on a node without
	// calls), and why a scrape gave no sample.
	Forwarded, Dropped float64
	SFUParticipants    int64
	CallsHosted        int64   // confab_calls_hosted, where the server has it
	RelayMessages      float64 // confab_call_relay_messages_total, every kind
	Err                string
}

// serverProbe reads the server's CPU time and memory, from /proc when the
// server's PID is known (same machine), else from its /metrics endpoint if
// it serves Prometheus text with process_* metrics.
type serverProbe struct {
	pid        int
	metricsURL string
	token      string // bearer token for metricsURL, if any
	http       *http.Client
	source     string // "proc", "metrics" or "" (nothing)
}

func newServerProbe(ctx context.Context, pid int, metricsURL, token string) *serverProbe {
	p := &serverProbe{pid: pid, metricsURL: metricsURL, token: token, http: &http.Client{Timeout: 5 * time.Second}}
	if pid > 0 {
		if s := p.readProc(); s.OK {
			p.source = "proc"
			return p
		}
	}
	if metricsURL != "" {
		if s := p.scrape(ctx); s.OK {
			p.source = "metrics"
		}
	}
	return p
}

func (p *serverProbe) sample(ctx context.Context) serverSample {
	switch p.source {
	case "proc":
		return p.readProc()
	case "metrics":
		return p.scrape(ctx)
	}
	return serverSample{At: time.Now()}
}

// readProc reads /proc/<pid>/stat (utime, stime in clock ticks of 1/100 s,
// which is USER_HZ on Linux) and /proc/<pid>/status (VmRSS, VmHWM).
func (p *serverProbe) readProc() serverSample {
	s := serverSample{At: time.Now()}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
	if err != nil {
		return s
	}
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 || i+2 > len(stat) {
		return s
	}
	f := strings.Fields(string(stat[i+2:]))
	if len(f) < 18 {
		return s
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	s.CPUSeconds = float64(ut+st) / 100
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
	if err != nil {
		return s
	}
	for _, l := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "VmRSS":
			s.RSS = n * 1024
		case "VmHWM":
			s.HWM = n * 1024
		case "Threads":
			s.Threads = int(n)
		}
	}
	s.OK = s.RSS > 0
	return s
}

// scrape reads process_cpu_seconds_total and process_resident_memory_bytes
// (and the SFU's counters) from a Prometheus text endpoint, sending the
// bearer token if there is one. Anything else (no endpoint, an HTML page)
// is not a sample; Err says why.
func (p *serverProbe) scrape(ctx context.Context) serverSample {
	s := serverSample{At: time.Now()}
	req, err := http.NewRequestWithContext(ctx, "GET", p.metricsURL, nil)
	if err != nil {
		s.Err = err.Error()
		return s
	}
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		s.Err = err.Error()
		return s
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || !strings.HasPrefix(ct, "text/plain") {
		io.Copy(io.Discard, resp.Body)
		s.Err = fmt.Sprintf("GET %s: %s, %s (a node's --metrics-token, or its --metrics-addr, serves Prometheus text)", p.metricsURL, resp.Status, ct)
		return s
	}
	m := parseMetrics(resp.Body)
	m.At = s.At
	if !m.OK {
		m.Err = fmt.Sprintf("GET %s: no process_cpu_seconds_total and process_resident_memory_bytes", p.metricsURL)
	}
	return m
}

// parseMetrics reads the process and SFU figures from Prometheus text.
// The sample is OK when it has the process's CPU time and RSS.
func parseMetrics(r io.Reader) serverSample {
	var s serverSample
	var cpu, rss bool
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		name, _, _ = strings.Cut(name, "{") // labelled series are summed
		f := strings.Fields(val)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		switch name {
		case "process_cpu_seconds_total":
			s.CPUSeconds, cpu = n, true
		case "process_resident_memory_bytes":
			s.RSS, rss = int64(n), true
		case "confab_rtp_packets_forwarded_total":
			s.Forwarded = n
		case "confab_rtp_packets_dropped_total":
			s.Dropped = n
		case "confab_call_participants":
			s.SFUParticipants = int64(n)
		case "confab_calls_hosted":
			s.CallsHosted = int64(n)
		case "confab_call_relay_messages_total":
			s.RelayMessages += n
		}
	}
	s.OK = cpu && rss
	return s
}

// findListener returns the PID of the local process listening on the TCP
// port of base, if base names a loopback address: it finds the listening
// socket's inode in /proc/net/tcp{,6} and the process holding it in
// /proc/*/fd. It returns 0 when it cannot tell.
func findListener(base string) int {
	u, err := url.Parse(base)
	if err != nil {
		return 0
	}
	host, portStr, err := net.SplitHostPort(u.Host)
	if err != nil {
		return 0
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return 0
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return 0
	}
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(data), "\n")[1:] {
			fs := strings.Fields(l)
			if len(fs) < 10 || fs[3] != "0A" { // 0A: LISTEN
				continue
			}
			_, p, _ := strings.Cut(fs[1], ":")
			if n, err := strconv.ParseUint(p, 16, 16); err == nil && n == port {
				inodes["socket:["+fs[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0
	}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		if target, err := os.Readlink(fd); err == nil && inodes[target] {
			pid, _ := strconv.Atoi(strings.Split(fd, "/")[2])
			if pid != os.Getpid() {
				return pid
			}
		}
	}
	return 0
}
