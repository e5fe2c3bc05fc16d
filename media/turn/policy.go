package turn

import (
	"net"
	"net/netip"
)

// deniedPeers are the ranges the server does not relay to unless
// Config.AllowPeers says otherwise; the package documentation explains why.
// Listed as prefixes, not netip.Addr.IsPrivate & co., so that the policy
// reads in one place and matches doc.go line for line.
var deniedPeers = []struct {
	prefix netip.Prefix
	class  string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified"}, // "this network"; Linux routes 0.0.0.0 to the host itself
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("fc00::/7"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared (carrier-grade NAT)"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"}, // includes cloud metadata services
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
	{netip.MustParsePrefix("255.255.255.255/32"), "broadcast"},
}

// peerPolicy decides which peers clients may open relay paths to.
type peerPolicy struct {
	allow []netip.Prefix
}

// check returns "" when ip may be relayed to, else the class of address
// that denies it (for the log).
func (p peerPolicy) check(ip netip.Addr) (denied string) {
	if !ip.IsValid() {
		return "invalid address"
	}
	// A peer given as ::ffff:10.0.0.1 reaches 10.0.0.1: judge the IPv4 form.
	// Zones cannot travel in XOR-PEER-ADDRESS; drop them all the same.
	ip = ip.Unmap().WithZone("")
	for _, a := range p.allow {
		if a.Contains(ip) {
			return ""
		}
	}
	for _, d := range deniedPeers {
		if d.prefix.Contains(ip) {
			return d.class
		}
	}
	return ""
}

// permit is pion's PermissionHandler, consulted for every XOR-PEER-ADDRESS
// of a CreatePermission request and for every ChannelBind request.
func (s *Server) permit(client net.Addr, peer net.IP) bool {
	ip, _ := netip.AddrFromSlice(peer) // an invalid ip is refused by check
	if class := s.policy.check(ip); class != "" {
		s.log.Debug("turn: refused relay to peer", "client", client, "peer", peer.String(), "class", class)
		return false
	}
	return true
}
