package turn

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pionturn "github.com/pion/turn/v4"
)

// closeTimeout bounds how long Close waits for pion's goroutines. They stop
// within microseconds once their sockets are closed; the bound only keeps
// a bug from hanging shutdown.
const closeTimeout = 5 * time.Second

// Server is a running TURN/STUN server. It is safe for concurrent use.
type Server struct {
	cfg    Config
	log    *slog.Logger
	policy peerPolicy
	pion   *pionturn.Server
	udp    net.PacketConn // nil when UDP is disabled
	tcp    net.Listener   // nil when TCP is disabled

	// loops counts pion's read loops still running on our sockets: the UDP
	// loop, the TCP accept loop and one per accepted connection.
	loops atomic.Int64

	mu     sync.Mutex
	closed bool
	conns  map[*trackedConn]struct{} // accepted TCP connections
	relays map[*relayConn]struct{}   // open relay sockets

	closeOnce sync.Once
	closeErr  error
}

// ICEServer is one entry of RTCPeerConnection's iceServers, in the JSON
// shape browsers take as is.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// Start binds the configured listeners and starts serving. The caller must
// Close the returned Server.
func Start(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:    cfg,
		log:    cfg.Logger,
		policy: peerPolicy{allow: cfg.AllowPeers},
		conns:  make(map[*trackedConn]struct{}),
		relays: make(map[*relayConn]struct{}),
	}
	if err := s.start(); err != nil {
		// Nothing is served yet: closing the raw sockets is all the cleanup.
		if s.udp != nil {
			s.udp.Close()
		}
		if s.tcp != nil {
			s.tcp.Close()
		}
		return nil, err
	}
	s.log.Info("turn: listening", "udp", s.UDPAddr(), "tcp", s.TCPAddr(), "relay_ip", s.cfg.RelayIP,
		"relay_ports", s.portRange(), "realm", s.cfg.Realm)
	return s, nil
}

func (s *Server) start() error {
	var bound []net.Addr
	if s.cfg.ListenUDP != "" {
		conn, err := net.ListenPacket("udp", s.cfg.ListenUDP)
		if err != nil {
			return fmt.Errorf("turn: listen udp %s: %w", s.cfg.ListenUDP, err)
		}
		s.udp = conn
		bound = append(bound, conn.LocalAddr())
	}
	if s.cfg.ListenTCP != "" {
		ln, err := net.Listen("tcp", s.cfg.ListenTCP)
		if err != nil {
			return fmt.Errorf("turn: listen tcp %s: %w", s.cfg.ListenTCP, err)
		}
		s.tcp = ln
		bound = append(bound, ln.Addr())
	}
	if err := s.cfg.resolveRelayIP(bound...); err != nil {
		return err
	}

	// One generator serves both listeners: relays are UDP whichever
	// transport the client came in on.
	relays := relayGenerator{RelayAddressGenerator: s.baseRelayGenerator(), s: s}
	pcfg := pionturn.ServerConfig{
		Realm:         s.cfg.Realm,
		AuthHandler:   s.authenticate,
		EventHandler:  pionturn.EventHandler{OnAuth: s.onAuth},
		LoggerFactory: pionLogs{s.log},
	}
	if s.udp != nil {
		pcfg.PacketConnConfigs = []pionturn.PacketConnConfig{{
			PacketConn:            &loopPacketConn{PacketConn: s.udp, s: s, slot: requestSlot{s: s}},
			RelayAddressGenerator: relays,
			PermissionHandler:     s.permit,
		}}
	}
	if s.tcp != nil {
		pcfg.ListenerConfigs = []pionturn.ListenerConfig{{
			Listener:              &loopListener{Listener: s.tcp, s: s},
			RelayAddressGenerator: relays,
			PermissionHandler:     s.permit,
		}}
	}
	// Count the loops before pion starts them: a loop that fails at once
	// must not drive the count below zero.
	s.loops.Add(int64(len(pcfg.PacketConnConfigs) + len(pcfg.ListenerConfigs)))
	srv, err := pionturn.NewServer(pcfg)
	if err != nil {
		return fmt.Errorf("turn: start: %w", err)
	}
	s.pion = srv
	return nil
}

// baseRelayGenerator returns pion's generator for the configured relay
// address and port range.
func (s *Server) baseRelayGenerator() pionturn.RelayAddressGenerator {
	relayIP := net.IP(s.cfg.RelayIP.AsSlice())
	if s.cfg.MinPort == 0 {
		return &pionturn.RelayAddressGeneratorStatic{RelayAddress: relayIP, Address: s.cfg.RelayBind}
	}
	return &pionturn.RelayAddressGeneratorPortRange{
		RelayAddress: relayIP,
		Address:      s.cfg.RelayBind,
		MinPort:      s.cfg.MinPort,
		MaxPort:      s.cfg.MaxPort,
	}
}

func (s *Server) portRange() string {
	if s.cfg.MinPort == 0 {
		return "any"
	}
	return fmt.Sprintf("%d-%d", s.cfg.MinPort, s.cfg.MaxPort)
}

// UDPAddr returns the address the UDP listener is bound to, or nil when UDP
// is disabled.
func (s *Server) UDPAddr() net.Addr {
	if s.udp == nil {
		return nil
	}
	return s.udp.LocalAddr()
}

// TCPAddr returns the address the TCP listener is bound to, or nil when TCP
// is disabled.
func (s *Server) TCPAddr() net.Addr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr()
}

// Allocations returns the number of live relay allocations, over both
// transports.
func (s *Server) Allocations() int {
	return s.pion.AllocationCount()
}

// ICEServers returns the STUN and TURN servers a browser should use, with
// credentials for userID (not empty) valid for Config.CredentialTTL from
// now. STUN is listed only with UDP: browsers do not do STUN over TCP.
func (s *Server) ICEServers(userID string, now time.Time) []ICEServer {
	var servers []ICEServer
	var turnURLs []string
	if s.udp != nil {
		hostPort := s.hostPort(s.udp.LocalAddr())
		servers = append(servers, ICEServer{URLs: []string{"stun:" + hostPort}})
		turnURLs = append(turnURLs, "turn:"+hostPort+"?transport=udp")
	}
	if s.tcp != nil {
		turnURLs = append(turnURLs, "turn:"+s.hostPort(s.tcp.Addr())+"?transport=tcp")
	}
	username, password := Credentials(s.cfg.Secret, userID, now.Add(s.cfg.CredentialTTL))
	return append(servers, ICEServer{URLs: turnURLs, Username: username, Credential: password})
}

// hostPort joins the public host with a listener's port, bracketing an
// IPv6 host.
func (s *Server) hostPort(listener net.Addr) string {
	port := 0
	switch a := listener.(type) {
	case *net.UDPAddr:
		port = a.Port
	case *net.TCPAddr:
		port = a.Port
	}
	host := strings.TrimSuffix(strings.TrimPrefix(s.cfg.PublicHost, "["), "]")
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// Close stops the server: it closes the listeners, every TCP connection and
// every relay socket, and waits until pion's goroutines have returned and
// no allocation is left. Calling it again returns the first result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Server) close() error {
	var errs []error
	// Closes the listeners; their loops then close their allocations.
	if err := s.pion.Close(); err != nil {
		errs = append(errs, fmt.Errorf("turn: close listeners: %w", err))
	}

	s.mu.Lock()
	s.closed = true // from here on, new connections and relays are refused
	conns := make([]*trackedConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	relays := make([]*relayConn, 0, len(s.relays))
	for r := range s.relays {
		relays = append(relays, r)
	}
	s.mu.Unlock()

	// pion leaves accepted TCP connections open. Close the raw connection,
	// not the tracked one: its failing read ends pion's goroutine, which
	// then deletes the allocation and calls trackedConn.Close itself.
	for _, c := range conns {
		c.Conn.Close()
	}
	// pion closes these too, but asynchronously, from the loops' goroutines;
	// closing them here does not depend on that.
	for _, r := range relays {
		r.Close()
	}

	deadline := time.Now().Add(closeTimeout)
	for {
		loops, relays, allocs := s.remaining()
		if loops == 0 && relays == 0 && allocs == 0 {
			break
		}
		if time.Now().After(deadline) {
			errs = append(errs, fmt.Errorf("turn: close: after %s, %d read loops, %d relay sockets and %d allocations remain",
				closeTimeout, loops, relays, allocs))
			break
		}
		time.Sleep(time.Millisecond)
	}
	if len(errs) == 0 {
		s.log.Info("turn: closed")
	}
	return errors.Join(errs...)
}

// remaining reports what Close is still waiting for.
func (s *Server) remaining() (loops int64, relays, allocs int) {
	s.mu.Lock()
	relays = len(s.relays)
	s.mu.Unlock()
	return s.loops.Load(), relays, s.pion.AllocationCount()
}
