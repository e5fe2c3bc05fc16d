package turn

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/logging"
	pionturn "github.com/pion/turn/v4"
)

const testSecret = "test-secret"

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logBuffer collects a server's log so tests can check what was refused
// and why, and show it when they fail.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testServer is a running Server with its log.
type testServer struct {
	*Server
	log *logBuffer
}

// startServer starts a server on loopback, on free ports, with cfg's
// unset fields defaulted for tests; it is closed when the test ends.
func startServer(t *testing.T, cfg Config) testServer {
	t.Helper()
	logs := &logBuffer{}
	if cfg.Secret == "" {
		cfg.Secret = testSecret
	}
	if cfg.ListenUDP == "" && cfg.ListenTCP == "" {
		cfg.ListenUDP = "127.0.0.1:0"
		cfg.ListenTCP = "127.0.0.1:0"
	}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: levelTrace}))
	srv, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	return testServer{Server: srv, log: logs}
}

// quietPion keeps pion's client logs out of the test output.
func quietPion() logging.LoggerFactory {
	return pionLogs{slog.New(slog.DiscardHandler)}
}

// turnClient is a pion TURN client connected to a test server.
type turnClient struct {
	*pionturn.Client
	conn net.PacketConn // the client's socket towards the server
}

// dialTURN connects a pion TURN client to srv over network ("udp" or
// "tcp"). It does not allocate.
func dialTURN(t *testing.T, srv *Server, network, username, password string) *turnClient {
	t.Helper()
	var conn net.PacketConn
	var server string
	switch network {
	case "udp":
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		conn, server = c, srv.UDPAddr().String()
	case "tcp":
		c, err := net.Dial("tcp", srv.TCPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		// STUNConn frames STUN messages and ChannelData on the stream.
		conn, server = pionturn.NewSTUNConn(c), srv.TCPAddr().String()
	default:
		t.Fatalf("unknown network %q", network)
	}
	client, err := pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: server,
		TURNServerAddr: server,
		Conn:           conn,
		Username:       username,
		Password:       password,
		LoggerFactory:  quietPion(),
		// Fail fast in refusal tests: a refused request gets an answer,
		// but a lost one must not stall the suite for long.
		RTO: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.Close()
		conn.Close()
	})
	return &turnClient{Client: client, conn: conn}
}

// allocate allocates a relay and closes it when the test ends.
func (c *turnClient) allocate(t *testing.T) net.PacketConn {
	t.Helper()
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	t.Cleanup(func() { relay.Close() })
	return relay
}

// echoPeer is a UDP peer on loopback that echoes every datagram and
// remembers where they came from.
type echoPeer struct {
	conn     net.PacketConn
	received atomic.Int64
	mu       sync.Mutex
	sources  map[string]bool
	first    chan []byte // the first datagram received
	once     sync.Once
}

func startEchoPeer(t *testing.T) *echoPeer {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &echoPeer{conn: conn, sources: map[string]bool{}, first: make(chan []byte, 1)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			p.received.Add(1)
			p.mu.Lock()
			p.sources[from.String()] = true
			p.mu.Unlock()
			p.once.Do(func() { p.first <- append([]byte(nil), buf[:n]...) })
			conn.WriteTo(buf[:n], from)
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	return p
}

func (p *echoPeer) addr() *net.UDPAddr { return p.conn.LocalAddr().(*net.UDPAddr) }

func (p *echoPeer) sawSource(addr string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sources[addr]
}

func (p *echoPeer) sourceList() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var list []string
	for s := range p.sources {
		list = append(list, s)
	}
	return list
}

// roundTrip sends each message through relay to peer and waits for its
// echo, resending while it is missing: UDP may drop, even on loopback.
func roundTrip(t *testing.T, relay net.PacketConn, peer net.Addr, messages int) {
	t.Helper()
	buf := make([]byte, 2048)
	deadline := time.Now().Add(10 * time.Second)
	for i := range messages {
		msg := fmt.Sprintf("message %d", i)
	send:
		for {
			if _, err := relay.WriteTo([]byte(msg), peer); err != nil {
				t.Fatalf("WriteTo %s through the relay: %v", peer, err)
			}
			for {
				if time.Now().After(deadline) {
					t.Fatalf("no echo of %q through the relay", msg)
				}
				relay.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
				n, from, err := relay.ReadFrom(buf)
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					continue send
				}
				if err != nil {
					t.Fatalf("ReadFrom the relay: %v", err)
				}
				if from.String() != peer.String() {
					t.Fatalf("echo of %q came from %s, want the peer %s", msg, from, peer)
				}
				if string(buf[:n]) == msg {
					break send
				}
				// An echo of an earlier, resent message: keep reading.
			}
		}
	}
	relay.SetReadDeadline(time.Time{})
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// logHas reports whether the server's log has a line containing all parts.
func (s testServer) logHas(parts ...string) bool {
	for line := range strings.SplitSeq(s.log.String(), "\n") {
		all := true
		for _, p := range parts {
			if !strings.Contains(line, p) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}
