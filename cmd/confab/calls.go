package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/confabhq/confab/gateway"
	"github.com/confabhq/confab/media"
	"github.com/confabhq/confab/media/turn"
	"github.com/urfave/cli/v3"
)

// callFlags configure the SFU and the embedded TURN server.
func callFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "calls", Value: true, Usage: "enable voice and video calls (the SFU)", Sources: cli.EnvVars("CONFAB_CALLS")},
		&cli.StringSliceFlag{Name: "rtc-public-ip", Usage: "public IP(s) announced for media when the host is behind 1:1 NAT", Sources: cli.EnvVars("CONFAB_RTC_PUBLIC_IP")},
		&cli.Uint16Flag{Name: "rtc-port-min", Usage: "lowest UDP port for media (0: any)", Sources: cli.EnvVars("CONFAB_RTC_PORT_MIN")},
		&cli.Uint16Flag{Name: "rtc-port-max", Usage: "highest UDP port for media (0: any)", Sources: cli.EnvVars("CONFAB_RTC_PORT_MAX")},
		&cli.BoolFlag{Name: "rtc-loopback", Usage: "offer loopback ICE candidates (clients on this host only; for tests)", Sources: cli.EnvVars("CONFAB_RTC_LOOPBACK")},
		&cli.StringFlag{Name: "turn-udp", Value: ":3478", Usage: `TURN/STUN UDP listen address ("" disables)`, Sources: cli.EnvVars("CONFAB_TURN_UDP")},
		&cli.StringFlag{Name: "turn-tcp", Value: ":3478", Usage: `TURN TCP listen address ("" disables)`, Sources: cli.EnvVars("CONFAB_TURN_TCP")},
		&cli.StringFlag{Name: "turn-secret", Usage: "TURN shared secret (coturn's use-auth-secret); random per start if empty; set the same on every node", Sources: cli.EnvVars("CONFAB_TURN_SECRET")},
		&cli.StringFlag{Name: "turn-relay-ip", Usage: "IPv4 address of relayed transports, the public one in deployment (default: this host's first non-loopback IPv4)", Sources: cli.EnvVars("CONFAB_TURN_RELAY_IP")},
		&cli.StringFlag{Name: "turn-public-host", Usage: "host name or IP clients reach TURN at (default: the relay IP)", Sources: cli.EnvVars("CONFAB_TURN_PUBLIC_HOST")},
		&cli.Uint16Flag{Name: "turn-port-min", Value: 49160, Usage: "lowest relay port", Sources: cli.EnvVars("CONFAB_TURN_PORT_MIN")},
		&cli.Uint16Flag{Name: "turn-port-max", Value: 49200, Usage: "highest relay port", Sources: cli.EnvVars("CONFAB_TURN_PORT_MAX")},
		&cli.StringSliceFlag{Name: "turn-allow-peers", Usage: "CIDRs TURN may relay to although they are loopback/private (e.g. the SFU's LAN)", Sources: cli.EnvVars("CONFAB_TURN_ALLOW_PEERS")},
		&cli.DurationFlag{Name: "turn-credential-ttl", Value: time.Hour, Usage: "lifetime of TURN credentials (they cannot be revoked: this bounds their use after sign-out)", Sources: cli.EnvVars("CONFAB_TURN_CREDENTIAL_TTL")},
	}
}

// calls is the call stack of a node: its SFU and TURN server, either of
// which may be off.
type calls struct {
	sfu  *media.SFU
	turn *turn.Server
}

// startCalls starts what the flags enable. onFailed is the SFU's
// Config.OnFailed.
func startCalls(c *cli.Command, logger *slog.Logger, onFailed func(room, user, conn string)) (*calls, error) {
	cs := &calls{}
	if !c.Bool("calls") {
		return cs, nil
	}
	sfu, err := media.New(media.Config{
		PublicIPs: c.StringSlice("rtc-public-ip"), UDPPortMin: c.Uint16("rtc-port-min"), UDPPortMax: c.Uint16("rtc-port-max"),
		IncludeLoopback: c.Bool("rtc-loopback"), OnFailed: onFailed, Logger: logger.With("component", "sfu"),
	})
	if err != nil {
		return nil, err
	}
	cs.sfu = sfu
	if c.String("turn-udp") == "" && c.String("turn-tcp") == "" {
		return cs, nil
	}
	cfg := turn.Config{
		Secret: c.String("turn-secret"), ListenUDP: c.String("turn-udp"), ListenTCP: c.String("turn-tcp"),
		PublicHost: c.String("turn-public-host"), MinPort: c.Uint16("turn-port-min"), MaxPort: c.Uint16("turn-port-max"),
		CredentialTTL: c.Duration("turn-credential-ttl"), Logger: logger.With("component", "turn"),
	}
	if cfg.Secret == "" {
		var b [24]byte
		rand.Read(b[:])
		cfg.Secret = base64.RawStdEncoding.EncodeToString(b[:])
	}
	for _, s := range c.StringSlice("turn-allow-peers") {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			sfu.Close()
			return nil, fmt.Errorf("--turn-allow-peers %q: %w", s, err)
		}
		cfg.AllowPeers = append(cfg.AllowPeers, p)
	}
	if ip := c.String("turn-relay-ip"); ip != "" {
		if cfg.RelayIP, err = netip.ParseAddr(ip); err != nil {
			sfu.Close()
			return nil, fmt.Errorf("--turn-relay-ip %q: %w", ip, err)
		}
	} else if !specificHost(cfg.ListenUDP) && !specificHost(cfg.ListenTCP) {
		cfg.RelayIP = hostIPv4()
	}
	if cs.turn, err = turn.Start(cfg); err != nil {
		sfu.Close()
		return nil, err
	}
	logger.Info("TURN listening", "udp", addrString(cs.turn.UDPAddr()), "tcp", addrString(cs.turn.TCPAddr()))
	return cs, nil
}

// iceServers adapts the TURN server's servers to the gateway's.
func (cs *calls) iceServers() func(user string, now time.Time) []gateway.ICEServer {
	if cs.turn == nil {
		return nil
	}
	return func(user string, now time.Time) []gateway.ICEServer {
		var out []gateway.ICEServer
		for _, s := range cs.turn.ICEServers(user, now) {
			out = append(out, gateway.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
		}
		return out
	}
}

// Close stops the SFU and the TURN server; closing again does nothing.
func (cs *calls) Close() error {
	var errs []error
	if cs.sfu != nil {
		errs = append(errs, cs.sfu.Close())
		cs.sfu = nil
	}
	if cs.turn != nil {
		errs = append(errs, cs.turn.Close())
		cs.turn = nil
	}
	return errors.Join(errs...)
}

// specificHost reports whether a listen address names an IP to bind.
func specificHost(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && !ip.IsUnspecified()
}

// hostIPv4 returns the host's first non-loopback IPv4 address, or
// 127.0.0.1 if it has none.
func hostIPv4() netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() && !p.Addr().IsLoopback() {
				return p.Addr()
			}
		}
	}
	return netip.MustParseAddr("127.0.0.1")
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
