package gateway

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	tests := []struct {
		name    string
		proxies []netip.Prefix
		remote  string
		xff     []string
		want    string
	}{
		{"no proxies trusted: the peer", nil, "10.1.2.3:5000", []string{"203.0.113.9"}, "10.1.2.3"},
		{"untrusted peer's header is ignored", proxies, "198.51.100.7:5000", []string{"203.0.113.9"}, "198.51.100.7"},
		{"trusted proxy: the client it names", proxies, "10.1.2.3:5000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"a forged entry left of the real one", proxies, "10.1.2.3:5000", []string{"1.1.1.1, 203.0.113.9"}, "203.0.113.9"},
		{"a chain of trusted proxies", proxies, "10.1.2.3:5000", []string{"203.0.113.9, 10.9.9.9", "10.8.8.8"}, "203.0.113.9"},
		{"trusted IPv6 loopback proxy", proxies, "[::1]:5000", []string{"2001:db8::1"}, "2001:db8::1"},
		{"garbage stops the walk at the last good hop", proxies, "10.1.2.3:5000", []string{"203.0.113.9, nonsense"}, "10.1.2.3"},
		{"trusted proxy without the header", proxies, "10.1.2.3:5000", nil, "10.1.2.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &Gateway{proxies: tt.proxies}
			r := httptest.NewRequest("POST", "/api/v1/auth/signin", nil)
			r.RemoteAddr = tt.remote
			for _, h := range tt.xff {
				r.Header.Add("X-Forwarded-For", h)
			}
			if got := g.clientIP(r); got != tt.want {
				t.Errorf("clientIP = %q, want %q", got, tt.want)
			}
		})
	}
}
