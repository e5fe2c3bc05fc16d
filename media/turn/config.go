package turn

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"
)

// Defaults for the optional fields of Config.
const (
	DefaultRealm         = "confab"
	DefaultRelayBind     = "0.0.0.0"
	DefaultCredentialTTL = time.Hour
)

// Config configures a Server. Secret, and at least one of ListenUDP and
// ListenTCP, are required; so is RelayIP unless a listener is bound to a
// specific IPv4 address, which then serves as the default.
type Config struct {
	// Realm is the TURN realm; it is part of the long-term credential key.
	// Default "confab".
	Realm string

	// Secret is the shared secret that signs credentials (coturn's
	// static-auth-secret). Required.
	Secret string

	// ListenUDP and ListenTCP are the addresses the server listens on, for
	// example ":3478". Either may be empty to disable that transport, but
	// not both. Port 0 picks a free port; see Server.UDPAddr/TCPAddr.
	ListenUDP string
	ListenTCP string

	// RelayIP is the address advertised to clients for their relays
	// (XOR-RELAYED-ADDRESS): the server's public IPv4 address in a
	// deployment behind 1:1 NAT, or the host's own address. It must be
	// IPv4, because pion/turn v4.1.4 only opens udp4 relay sockets. When
	// zero, it defaults to the UDP (else TCP) listener's IP if that is a
	// specific IPv4 address.
	RelayIP netip.Addr

	// RelayBind is the local IPv4 address relay sockets bind to. Default
	// "0.0.0.0" (every interface).
	RelayBind string

	// MinPort and MaxPort bound the relay port range, inclusive; open it in
	// the firewall. 0 means no bound: with both 0 the kernel picks any free
	// port; with only MaxPort set the range starts at 1024; with only
	// MinPort set it ends at 65535.
	MinPort uint16
	MaxPort uint16

	// PublicHost is the host name or IP put in the ICE server URLs.
	// Default RelayIP.
	PublicHost string

	// CredentialTTL is how long credentials minted by ICEServers stay
	// valid. Default 1h: HMAC credentials cannot be revoked, so their
	// lifetime bounds how long a user who signed out, or left every room,
	// can keep relaying.
	CredentialTTL time.Duration

	// AllowPeers are peer ranges that may be relayed to even though the
	// relay policy denies them by default (see the package documentation).
	AllowPeers []netip.Prefix

	// Logger receives the server's logs, pion's included. Nil discards them.
	Logger *slog.Logger
}

// withDefaults returns c with defaults filled in and checks what does not
// depend on the listeners.
func (c Config) withDefaults() (Config, error) {
	if c.Realm == "" {
		c.Realm = DefaultRealm
	}
	if c.Secret == "" {
		return c, errors.New("turn: config: Secret is required")
	}
	if c.ListenUDP == "" && c.ListenTCP == "" {
		return c, errors.New("turn: config: ListenUDP or ListenTCP is required")
	}
	if c.RelayBind == "" {
		c.RelayBind = DefaultRelayBind
	}
	// pion builds the relay socket address as RelayBind+":"+port and
	// listens on "udp4", so only an IPv4 literal works here.
	if bind, err := netip.ParseAddr(c.RelayBind); err != nil || !bind.Is4() {
		return c, fmt.Errorf("turn: config: RelayBind %q is not an IPv4 address", c.RelayBind)
	}
	if c.MinPort != 0 || c.MaxPort != 0 {
		if c.MinPort == 0 {
			c.MinPort = 1024
		}
		if c.MaxPort == 0 {
			c.MaxPort = 65535
		}
		if c.MinPort > c.MaxPort {
			return c, fmt.Errorf("turn: config: MinPort %d is above MaxPort %d", c.MinPort, c.MaxPort)
		}
	}
	if c.CredentialTTL == 0 {
		c.CredentialTTL = DefaultCredentialTTL
	}
	if c.CredentialTTL < 0 {
		return c, fmt.Errorf("turn: config: negative CredentialTTL %s", c.CredentialTTL)
	}
	for _, p := range c.AllowPeers {
		if !p.IsValid() {
			return c, fmt.Errorf("turn: config: invalid AllowPeers prefix %v", p)
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// resolveRelayIP fills in RelayIP from the bound listeners when it is not
// set, and checks it. It runs after the listeners are bound.
func (c *Config) resolveRelayIP(listeners ...net.Addr) error {
	if !c.RelayIP.IsValid() {
		for _, a := range listeners {
			if ip, ok := addrIP(a); ok && !ip.IsUnspecified() {
				c.RelayIP = ip
				break
			}
		}
	}
	if !c.RelayIP.IsValid() {
		return errors.New("turn: config: RelayIP is required when the listeners bind every interface")
	}
	c.RelayIP = c.RelayIP.Unmap()
	if !c.RelayIP.Is4() || c.RelayIP.IsUnspecified() {
		return fmt.Errorf("turn: config: RelayIP %s is not a usable IPv4 address (pion/turn v4 relays over udp4 only)", c.RelayIP)
	}
	if c.PublicHost == "" {
		c.PublicHost = c.RelayIP.String()
	}
	return nil
}

// addrIP returns the IP of a bound listener's address; ok is false for a
// nil address or one of an unknown type.
func addrIP(a net.Addr) (netip.Addr, bool) {
	switch a := a.(type) {
	case *net.UDPAddr:
		ip, ok := netip.AddrFromSlice(a.IP)
		return ip.Unmap(), ok
	case *net.TCPAddr:
		ip, ok := netip.AddrFromSlice(a.IP)
		return ip.Unmap(), ok
	}
	return netip.Addr{}, false
}
