package turn

import (
	"log/slog"
	"net"
	"net/netip"
	"testing"
)

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestPeerPolicy(t *testing.T) {
	cases := []struct {
		ip   string
		want string // "" when allowed
	}{
		{"8.8.8.8", ""},
		{"192.0.2.1", ""},
		{"2001:4860:4860::8888", ""},
		{"::ffff:8.8.8.8", ""},
		{"0.0.0.0", "unspecified"},
		{"0.1.2.3", "unspecified"},
		{"::", "unspecified"},
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"::1", "loopback"},
		{"::ffff:127.0.0.1", "loopback"},
		{"10.0.0.1", "private"},
		{"10.255.255.255", "private"},
		{"::ffff:10.0.0.1", "private"},
		{"172.15.255.255", ""},
		{"172.16.0.0", "private"},
		{"172.31.255.255", "private"},
		{"172.32.0.0", ""},
		{"192.167.255.255", ""},
		{"192.168.1.1", "private"},
		{"fc00::1", "private"},
		{"fd12:3456::1", "private"},
		{"100.63.255.255", ""},
		{"100.64.0.0", "shared (carrier-grade NAT)"},
		{"100.127.255.255", "shared (carrier-grade NAT)"},
		{"100.128.0.0", ""},
		{"169.254.1.1", "link-local"},
		{"169.254.169.254", "link-local"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"fec0::1", "site-local"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"ff02::1", "multicast"},
		{"255.255.255.255", "broadcast"},
	}
	var p peerPolicy
	for _, tc := range cases {
		if got := p.check(netip.MustParseAddr(tc.ip)); got != tc.want {
			t.Errorf("check(%s) = %q, want %q", tc.ip, got, tc.want)
		}
	}
	if got := p.check(netip.Addr{}); got == "" {
		t.Errorf("check(invalid) allowed it")
	}
}

func TestPeerPolicyAllow(t *testing.T) {
	p := peerPolicy{allow: []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("192.168.10.0/24"),
		netip.MustParsePrefix("fd00::/64"),
	}}
	cases := []struct {
		ip      string
		allowed bool
	}{
		{"127.0.0.1", true},
		{"::ffff:127.0.0.1", true},
		{"192.168.10.7", true},
		{"192.168.11.7", false},
		{"10.0.0.1", false},
		{"::1", false}, // IPv6 loopback is not in 127.0.0.0/8
		{"fd00::5", true},
		{"fd00:0:0:1::5", false},
		{"8.8.8.8", true},
	}
	for _, tc := range cases {
		if got := p.check(netip.MustParseAddr(tc.ip)) == ""; got != tc.allowed {
			t.Errorf("check(%s) allowed = %v, want %v", tc.ip, got, tc.allowed)
		}
	}
}

// TestPermit checks the handler pion calls, with the net.IP forms pion
// hands it (4- and 16-byte IPv4, IPv6, nil).
func TestPermit(t *testing.T) {
	s := &Server{log: quietLogger()}
	client := &net.UDPAddr{IP: net.IPv4(203, 0, 113, 5), Port: 5000}
	cases := []struct {
		ip   net.IP
		want bool
	}{
		{net.IPv4(10, 0, 0, 1), false},           // 16-byte form
		{net.IPv4(10, 0, 0, 1).To4(), false},     // 4-byte form
		{net.IPv4(93, 184, 216, 34), true},       // public
		{net.IPv4(93, 184, 216, 34).To4(), true}, // public, 4-byte form
		{net.ParseIP("::1"), false},
		{net.ParseIP("2606:4700::1111"), true},
		{nil, false},
		{net.IP{1, 2, 3}, false},
	}
	for _, tc := range cases {
		if got := s.permit(client, tc.ip); got != tc.want {
			t.Errorf("permit(%v) = %v, want %v", tc.ip, got, tc.want)
		}
	}
}
