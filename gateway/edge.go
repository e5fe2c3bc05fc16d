package gateway

import (
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// Headers every response carries (docs/protocol.md, "Security headers").
// The browser client's handler replaces the Content-Security-Policy with
// the one its pages need (web.ContentSecurityPolicy).
const (
	apiContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'"
	hstsValue                = "max-age=31536000"
)

// setSecurityHeaders sets the headers of every response: no framing, no
// MIME sniffing, no referrer; HSTS when the client reached us over HTTPS.
func setSecurityHeaders(h http.Header, https bool) {
	h.Set("Content-Security-Policy", apiContentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if https {
		h.Set("Strict-Transport-Security", hstsValue)
	}
}

// unsafeMethod reports whether a request may change state.
func unsafeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// fromTrustedProxy reports whether the request's peer is a trusted proxy,
// whose X-Forwarded-* headers are believed.
func (g *Gateway) fromTrustedProxy(r *http.Request) bool {
	_, ip, ok := peerAddr(r)
	return ok && g.trusted(ip)
}

// peerAddr returns the address of the request's peer, as text and, if it
// parses, as an IP address.
func peerAddr(r *http.Request) (host string, ip netip.Addr, ok bool) {
	host = r.RemoteAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(host)
	return host, ip, err == nil
}

// publicOrigin returns how the client reached this server: its scheme and
// host. The host is the request's Host, the scheme https when the
// connection is TLS. Behind a trusted proxy, X-Forwarded-Host and
// X-Forwarded-Proto (their first values) take precedence. schemeKnown is
// false for plain HTTP with no proxy saying otherwise: a TLS-terminating
// proxy outside --trusted-proxies may be in front.
func (g *Gateway) publicOrigin(r *http.Request) (scheme, host string, schemeKnown bool) {
	scheme, host = "http", r.Host
	if r.TLS != nil {
		scheme, schemeKnown = "https", true
	}
	if !g.fromTrustedProxy(r) {
		return scheme, host, schemeKnown
	}
	if h := firstValue(r.Header.Get("X-Forwarded-Host")); h != "" {
		host = h
	}
	if p := strings.ToLower(firstValue(r.Header.Get("X-Forwarded-Proto"))); p == "http" || p == "https" {
		scheme, schemeKnown = p, true
	}
	return scheme, host, schemeKnown
}

// isHTTPS reports whether the client reached us over HTTPS.
func (g *Gateway) isHTTPS(r *http.Request) bool {
	scheme, _, known := g.publicOrigin(r)
	return known && scheme == "https"
}

func firstValue(h string) string {
	v, _, _ := strings.Cut(h, ",")
	return strings.TrimSpace(v)
}

// sameOrigin reports whether origin (an Origin header's value) is this
// server as the request reached it. Over plain HTTP without a trusted
// proxy's word on the scheme, http and https on the same host both are.
func (g *Gateway) sameOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.Path != "" || u.User != nil {
		return false
	}
	scheme, host, known := g.publicOrigin(r)
	got := strings.ToLower(u.Scheme)
	if known && got != scheme || !known && got != "http" && got != "https" {
		return false
	}
	return strings.EqualFold(withoutDefaultPort(u.Host, got), withoutDefaultPort(host, got))
}

// withoutDefaultPort drops the scheme's default port from host:port.
func withoutDefaultPort(host, scheme string) string {
	if scheme == "http" {
		return strings.TrimSuffix(host, ":80")
	}
	return strings.TrimSuffix(host, ":443")
}

// checkWSOrigin is the upgrader's CheckOrigin: pages of this server, and
// clients that send no Origin (bots, tests).
func (g *Gateway) checkWSOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	return origin == "" || g.sameOrigin(origin, r)
}

// errCrossSite refuses a state-changing request made by another site's
// page.
var errCrossSite = errorf(http.StatusForbidden, CodeCSRF, "cross-site request refused: state-changing requests must come from this server's own pages")

// checkCrossSite refuses a state-changing request that a browser says
// comes from another site: a foreign Origin, or Sec-Fetch-Site other
// than same-origin (or none: typed by the user). Requests with neither
// header (bots) pass.
func (g *Gateway) checkCrossSite(r *http.Request) error {
	if origin := r.Header.Get("Origin"); origin != "" && !g.sameOrigin(origin, r) {
		return errCrossSite
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return nil
	}
	return errCrossSite
}

// checkCookieOrigin refuses a state-changing request authenticated by the
// session cookie unless the browser proves it comes from this server's
// pages: by an Origin header (checkCrossSite has checked it is ours) or
// Sec-Fetch-Site: same-origin. Bearer tokens need no proof: a page of
// another site cannot set the Authorization header.
func checkCookieOrigin(r *http.Request) error {
	if !unsafeMethod(r.Method) || r.Header.Get("Authorization") != "" {
		return nil
	}
	if r.Header.Get("Origin") != "" || r.Header.Get("Sec-Fetch-Site") == "same-origin" {
		return nil
	}
	return errorf(http.StatusForbidden, CodeCSRF, "a request authenticated by the session cookie must carry Origin or Sec-Fetch-Site: same-origin (browsers send them); bots use Authorization: Bearer")
}

// checkContentType refuses a state-changing request whose body is not
// declared JSON: a Content-Type other than application/json (charset
// utf-8 allowed), or a body without a Content-Type. A request without a
// body may omit it. HTML forms cannot send application/json, so this
// also stops cross-site form posts.
func checkContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		if r.ContentLength == 0 {
			return nil
		}
		return errorf(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "a request body needs Content-Type: application/json")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return errorf(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "Content-Type must be application/json")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return errorf(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "the only charset is utf-8")
	}
	return nil
}

// ServeHTTP implements http.Handler: security headers on every response,
// then, for state-changing API requests, the cross-site and content type
// checks, then the routes.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header(), g.isHTTPS(r))
	if unsafeMethod(r.Method) && strings.HasPrefix(r.URL.Path, "/api/") {
		err := g.checkCrossSite(r)
		if err == nil && !isUpload(r) && !isAvatarUpload(r) {
			err = checkContentType(r)
		}
		if err != nil {
			g.writeError(w, err)
			return
		}
	}
	g.mux.ServeHTTP(w, r)
}
