package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/confabhq/confab/internal/apitest"
)

// Calls across nodes: --call with several --server spreads the call's
// participants over those nodes, round-robin in the order publishers,
// subscribers, late joiner, so the first publisher is on the first node.
// It joins alone before the others, so that the first node hosts the call
// (a call is hosted by the node of its first participant). Each node's
// /metrics is scraped at the window's edges: a node whose SFU forwarded
// packets in the window is the host, the others relay their participants'
// signaling to it.

// assignNodes returns the node (an index into the servers) of each of n
// participants: participant i is on node i mod nodes.
func assignNodes(n, nodes int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i % max(nodes, 1)
	}
	return out
}

// metricsURLs sets MetricsURL (the first server's endpoint) and, with
// several servers, MetricsURLs (one per server) from --metrics-url: empty
// means <server>/metrics for each, "none" no figures, else one URL per
// server, comma-separated, in the servers' order.
func (c *config) metricsURLs() error {
	switch c.MetricsURL {
	case "none":
		c.MetricsURL = ""
		return nil
	case "":
		c.MetricsURL = c.Server + "/metrics"
		for _, s := range c.Servers {
			c.MetricsURLs = append(c.MetricsURLs, s+"/metrics")
		}
		return nil
	}
	if len(c.Servers) == 0 {
		return nil
	}
	urls := strings.Split(c.MetricsURL, ",")
	if len(urls) != len(c.Servers) {
		return fmt.Errorf("--metrics-url has %d URLs for %d --server: give one per server, in their order", len(urls), len(c.Servers))
	}
	for i, u := range urls {
		urls[i] = strings.TrimSpace(u)
		if !strings.HasPrefix(urls[i], "http://") && !strings.HasPrefix(urls[i], "https://") {
			return fmt.Errorf("--metrics-url %q: want an http:// or https:// URL", u)
		}
	}
	c.MetricsURL, c.MetricsURLs = urls[0], urls
	return nil
}

// nodes returns the servers the participants connect to: every --server.
func (c config) nodes() []string {
	if len(c.Servers) > 0 {
		return c.Servers
	}
	return []string{c.Server}
}

// nodeClient is restClient on node i of the servers.
func (b *bench) nodeClient(i int, token string) *apitest.Client {
	c := apitest.New(b.cfg.nodes()[i])
	c.HTTP = b.http
	c.Token = token
	return c
}

// newNodeProbes returns a probe of each node's /metrics when the call
// spreads over several nodes, else nil; it logs the nodes it cannot read.
func (b *bench) newNodeProbes(ctx context.Context) []*serverProbe {
	if len(b.cfg.Servers) < 2 || b.cfg.MetricsURL == "" {
		return nil
	}
	var ps []*serverProbe
	for i, u := range b.cfg.MetricsURLs {
		p := &serverProbe{metricsURL: u, token: b.cfg.MetricsToken, http: &http.Client{Timeout: 5 * time.Second}, source: "metrics"}
		if s := p.sample(ctx); !s.OK {
			b.log.Warn("call: a node's /metrics cannot be read: no figures for it", "node", b.cfg.Servers[i], "error", s.Err)
		}
		ps = append(ps, p)
	}
	return ps
}

// sampleNodes samples every node probe at once.
func sampleNodes(ctx context.Context, ps []*serverProbe) []serverSample {
	out := make([]serverSample, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Go(func() { out[i] = p.sample(ctx) })
	}
	wg.Wait()
	return out
}

// Roles of a node in a call across nodes.
const (
	roleHost  = "host"  // its SFU forwarded packets in the window
	roleRelay = "relay" // its SFU forwarded none: it relays its participants' signaling
)

// callNode is one node's figures over the window of a call across nodes.
type callNode struct {
	URL  string `json:"url"`
	Role string `json:"role,omitempty"` // host or relay; empty without figures
	// Participants and Publishers are the generator's participants
	// connected to this node in the window (the late joiner is not).
	Participants int `json:"participants"`
	Publishers   int `json:"publishers"`
	// SFUParticipants is confab_call_participants at the window's end:
	// the participants this node's SFU hosts, from every node.
	SFUParticipants int64 `json:"sfu_participants"`
	CallsHosted     int64 `json:"calls_hosted"` // confab_calls_hosted at the window's end, if the node has it
	// RelayPerSec is call relay messages per second the node sent to
	// other nodes (confab_call_relay_messages_total, every kind).
	RelayPerSec     float64 `json:"relay_messages_per_sec"`
	Forwarded       float64 `json:"forwarded"` // confab_rtp_packets_forwarded_total in the window
	ForwardedPerSec float64 `json:"forwarded_per_sec"`
	Dropped         float64 `json:"dropped"` // confab_rtp_packets_dropped_total in the window
	CPUSeconds      float64 `json:"cpu_seconds"`
	Cores           float64 `json:"cores"` // CPU-seconds per second
	// ForwardedPerCore (a host) is forwarded packets/s per core in use.
	ForwardedPerCore float64 `json:"forwarded_per_sec_per_core,omitempty"`
	// CoresPerParticipant (a relay) is its cores in use per participant
	// connected to it: the cost of relaying one remote participant.
	CoresPerParticipant float64 `json:"cores_per_participant,omitempty"`
	RSSEnd              int64   `json:"rss_end,omitempty"`
	Error               string  `json:"error,omitempty"` // why there are no figures

	// The joins, from the first call.join until every receiver got
	// every track: the node's CPU-seconds and relay messages, and its
	// CPU-seconds per participant: on a relay, per participant connected
	// to it (the cost of relaying one remote participant's join); on the
	// host, per participant of its SFU (its SFU set them all up).
	JoinCPUSeconds        float64 `json:"join_cpu_seconds"`
	JoinRelayMessages     float64 `json:"join_relay_messages"`
	JoinCPUPerParticipant float64 `json:"join_cpu_seconds_per_participant,omitempty"`
}

// nodeFigures derives a node's figures from its samples at the window's
// edges and the participants the generator connected to it.
func nodeFigures(url string, s0, s1 serverSample, participants, publishers int) callNode {
	n := callNode{URL: url, Participants: participants, Publishers: publishers}
	secs := s1.At.Sub(s0.At).Seconds()
	switch {
	case !s0.OK || !s1.OK:
		n.Error = "no /metrics figures: " + firstNonEmpty(s0.Err, s1.Err, "not scraped")
		return n
	case secs <= 0:
		n.Error = "the window's samples are not in order"
		return n
	}
	n.Forwarded = s1.Forwarded - s0.Forwarded
	n.Dropped = s1.Dropped - s0.Dropped
	n.ForwardedPerSec = n.Forwarded / secs
	n.CPUSeconds = s1.CPUSeconds - s0.CPUSeconds
	n.Cores = n.CPUSeconds / secs
	n.SFUParticipants, n.CallsHosted, n.RSSEnd = s1.SFUParticipants, s1.CallsHosted, s1.RSS
	n.RelayPerSec = (s1.RelayMessages - s0.RelayMessages) / secs
	if n.Forwarded > 0 {
		n.Role = roleHost
		if n.Cores > 0 {
			n.ForwardedPerCore = n.ForwardedPerSec / n.Cores
		}
		return n
	}
	n.Role = roleRelay
	if participants > 0 {
		n.CoresPerParticipant = n.Cores / float64(participants)
	}
	return n
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// callNodes derives every node's figures from the samples of each node at
// the window's edges, counting the participants of the window by node.
func callNodes(servers []string, s0, s1 []serverSample, all []*participant) []callNode {
	var out []callNode
	for i, u := range servers {
		parts, pubs := 0, 0
		for _, p := range all {
			if p.node == i {
				parts++
				if p.pub {
					pubs++
				}
			}
		}
		var a, b serverSample
		if i < len(s0) && i < len(s1) {
			a, b = s0[i], s1[i]
		}
		out = append(out, nodeFigures(u, a, b, parts, pubs))
	}
	return out
}

// addJoinFigures adds the join phase's figures to nodes from each node's
// samples before the first join (j0) and once everyone received (j1).
func addJoinFigures(nodes []callNode, j0, j1 []serverSample) {
	for i := range nodes {
		if i >= len(j0) || i >= len(j1) || !j0[i].OK || !j1[i].OK {
			continue
		}
		n := &nodes[i]
		n.JoinCPUSeconds = j1[i].CPUSeconds - j0[i].CPUSeconds
		n.JoinRelayMessages = j1[i].RelayMessages - j0[i].RelayMessages
		per := int64(n.Participants)
		if n.Role == roleHost && n.SFUParticipants > 0 {
			per = n.SFUParticipants
		}
		if per > 0 {
			n.JoinCPUPerParticipant = n.JoinCPUSeconds / float64(per)
		}
	}
}

// writeNodesText writes the per-node lines of a call across nodes.
func writeNodesText(w io.Writer, nodes []callNode) {
	hosts := 0
	for i, n := range nodes {
		if n.Role == roleHost {
			hosts++
		}
		head := fmt.Sprintf("  node %d %s: %d participants (%d publishers)", i+1, n.URL, n.Participants, n.Publishers)
		switch {
		case n.Error != "":
			fmt.Fprintf(w, "%s; %s\n", head, n.Error)
		case n.Role == roleHost:
			fmt.Fprintf(w, "%s; host: its SFU has %d participants, forwarded %.0f packets/s (%.0f dropped), %.1f relay messages/s, %.2f CPU-s = %.2f cores: %.0f forwarded packets/s per core; RSS %s\n",
				head, n.SFUParticipants, n.ForwardedPerSec, n.Dropped, n.RelayPerSec, n.CPUSeconds, n.Cores, n.ForwardedPerCore, mb(n.RSSEnd))
		default:
			fmt.Fprintf(w, "%s; relay: forwarded nothing, %.1f relay messages/s, %.2f CPU-s = %.3f cores: %.4f cores (%.1f ms CPU per second) per remote participant; RSS %s\n",
				head, n.RelayPerSec, n.CPUSeconds, n.Cores, n.CoresPerParticipant, 1000*n.CoresPerParticipant, mb(n.RSSEnd))
		}
	}
	for i, n := range nodes {
		if n.Error == "" {
			of := "on it"
			if n.Role == roleHost {
				of = "of its SFU"
			}
			fmt.Fprintf(w, "  node %d joins: %.2f CPU-s (%.1f ms per participant %s), %.0f relay messages\n",
				i+1, n.JoinCPUSeconds, 1000*n.JoinCPUPerParticipant, of, n.JoinRelayMessages)
		}
	}
	if len(nodes) > 0 && hosts != 1 {
		fmt.Fprintf(w, "  warning: %d nodes forwarded packets in the window, want 1 (the call's host)\n", hosts)
	}
}
