package gateway

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/confabhq/confab/commands"
	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
)

// cookieName is the browser's session cookie (HttpOnly, SameSite=Lax).
const cookieName = "confab_session"

// session is an authenticated caller.
type session struct {
	UserID    domain.UserID
	Username  string
	SessionID string
	TokenHash string
	CreatedAt time.Time
	lastUsed  time.Time // the read models' last recorded use
}

// requestToken returns the bearer token of a request: the Authorization
// header, else the session cookie.
func requestToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
		return "\x00malformed" // a header that is not a bearer token never falls back to the cookie
	}
	if c, err := r.Cookie(cookieName); err == nil {
		return c.Value
	}
	return ""
}

var errUnauthenticated = domain.Errorf(domain.KindUnauthenticated, "", "missing or invalid session token")

// lookupSession returns the session of a token; a session is the only
// identity a request has. An expired session gets "session expired"; a
// session in use has its use recorded (see sessions.go).
func (g *Gateway) lookupSession(ctx context.Context, token string) (*session, error) {
	s, err := g.authenticate(ctx, token)
	if err != nil {
		return nil, err
	}
	g.touch(s.UserID, s.SessionID, s.lastUsed)
	return s, nil
}

// authenticate is lookupSession without recording the use: a WebSocket
// records it with its opening (commands.Connect.SessionID).
func (g *Gateway) authenticate(ctx context.Context, token string) (*session, error) {
	if token == "" || len(token) > 128 {
		return nil, errUnauthenticated
	}
	hash := commands.HashToken(token)
	s, err := g.read.SessionByTokenHash(ctx, hash)
	if domain.KindOf(err) == domain.KindNotFound {
		return nil, errUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	if !time.Now().Before(g.sessionPolicy().ExpiresAt(s.CreatedAt, s.LastUsedAt)) {
		return nil, errSessionExpired
	}
	u, err := g.read.User(ctx, s.UserID)
	if err != nil {
		return nil, err
	}
	return &session{UserID: s.UserID, Username: u.Username, SessionID: s.SessionID, TokenHash: hash, CreatedAt: s.CreatedAt, lastUsed: s.LastUsedAt}, nil
}

// withClient returns the request's context carrying what a new session
// records of the client: its user agent and address.
func (g *Gateway) withClient(r *http.Request) context.Context {
	return commands.WithClient(r.Context(), domain.SessionClient{UserAgent: r.UserAgent(), IP: g.clientIP(r)})
}

// clearCookie drops the browser's session cookie.
func (g *Gateway) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", HttpOnly: true, Secure: g.secure, SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// authed wraps a handler that needs a session.
func (g *Gateway) authed(h func(w http.ResponseWriter, r *http.Request, s *session) error) http.HandlerFunc {
	return g.handle(func(w http.ResponseWriter, r *http.Request) error {
		s, err := g.lookupSession(r.Context(), requestToken(r))
		if err == nil {
			err = checkCookieOrigin(r)
		}
		if err != nil {
			return err
		}
		return h(w, r, s)
	})
}

// clientIP is the address sign-in throttling counts by: the peer's
// address, unless the peer is a trusted proxy (Config.TrustedProxies).
// Then it is the last address in X-Forwarded-For that is not a trusted
// proxy: proxies append the address they got the request from, so the
// entries left of it may be forged by the client.
func (g *Gateway) clientIP(r *http.Request) string {
	host, peer, ok := peerAddr(r)
	if !ok || !g.trusted(peer) {
		return host
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		ip, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		peer = ip.Unmap()
		if !g.trusted(peer) {
			break
		}
	}
	return peer.String()
}

// trusted reports whether ip is a trusted proxy's.
func (g *Gateway) trusted(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range g.proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type authResponse struct {
	User  userJSON `json:"user"`
	Token string   `json:"token"`
}

func (g *Gateway) signUp(w http.ResponseWriter, r *http.Request) error {
	var in credentials
	if err := g.decode(w, r, &in); err != nil {
		return err
	}
	s, err := g.cmds.SignUp.Handle(g.withClient(r), commands.SignUp{Username: in.Username, Password: in.Password, IP: g.clientIP(r)})
	if err != nil {
		return err
	}
	return g.finishSignIn(w, r, s, http.StatusCreated)
}

func (g *Gateway) signIn(w http.ResponseWriter, r *http.Request) error {
	var in credentials
	if err := g.decode(w, r, &in); err != nil {
		return err
	}
	s, err := g.cmds.SignIn.Handle(g.withClient(r), commands.SignIn{Username: in.Username, Password: in.Password, IP: g.clientIP(r)})
	if err != nil {
		return err
	}
	return g.finishSignIn(w, r, s, http.StatusOK)
}

// finishSignIn waits until the new session can authenticate requests, sets
// the cookie and answers with the user and token.
func (g *Gateway) finishSignIn(w http.ResponseWriter, r *http.Request, s commands.Session, status int) error {
	if err := g.waitFor(r.Context(), s.Result); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: s.Token, Path: "/", HttpOnly: true, Secure: g.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(g.sessionPolicy().MaxAge.Seconds()),
	})
	u, err := g.read.User(r.Context(), s.UserID)
	if err != nil {
		return err
	}
	return respond(w, status, authResponse{User: toUserJSON(u), Token: s.Token})
}

func (g *Gateway) signOut(w http.ResponseWriter, r *http.Request, s *session) error {
	res, err := g.cmds.SignOut.Handle(r.Context(), commands.SignOut{UserID: s.UserID, SessionID: s.SessionID})
	if err == nil {
		err = g.waitFor(r.Context(), res)
	}
	if err != nil {
		return err
	}
	g.clearCookie(w)
	return noContent(w)
}

func (g *Gateway) me(w http.ResponseWriter, r *http.Request, s *session) error {
	u, err := g.read.User(r.Context(), s.UserID)
	if err != nil {
		return err
	}
	return respond(w, http.StatusOK, map[string]userJSON{"user": toUserJSON(u)})
}

// waitFor waits until the read models show a command's result, so that a
// client reads its own writes.
func (g *Gateway) waitFor(ctx context.Context, res commands.Result) error {
	if res.Position == eventstore.Start {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, g.limits.CommandTimeout)
	defer cancel()
	return g.read.WaitFor(ctx, res.Position)
}
