package gateway

import (
	"context"
	"net/http"
	"time"

	"github.com/confabhq/confab/commands"
	"github.com/confabhq/confab/domain"
	"github.com/google/uuid"
)

// Sessions on the server: a session expires by the policy
// (domain.SessionPolicy) at its idle timeout or its maximum age. Every
// authentication (REST request, WebSocket upgrade, hello) checks it, and
// records the session's use (a SessionUsed event) when the recorded one
// is at least a touch interval old (a WebSocket records it in the append
// of its ConnectionOpened: commands.Connect.SessionID, one append per
// connect). An open WebSocket is use too: the
// session loop touches the sessions of this node's connections every
// sweep, and closes, with 4001 "session expired", those whose session
// reached its maximum age. Sessions that end (signed out, revoked, past
// the per-user limit) close their WebSockets on every node when the hub
// sees the SessionEnded.

var errSessionExpired = domain.Errorf(domain.KindUnauthenticated, "", "session expired")

// sessionPolicy returns the policy of the commands.
func (g *Gateway) sessionPolicy() domain.SessionPolicy { return g.cmds.SessionPolicy }

// sweepInterval is how often the session loop runs: a tenth of the
// shortest limit, at most a minute and at least 50 ms.
func (g *Gateway) sweepInterval() time.Duration {
	p := g.sessionPolicy()
	return max(min(p.TouchInterval(), p.MaxAge/10, time.Minute), 50*time.Millisecond)
}

// touch records a session's use in the background, unless its recorded
// last use is recent or a touch of it is under way on this node.
func (g *Gateway) touch(user domain.UserID, sessionID string, lastUsed time.Time) {
	if time.Since(lastUsed) < g.sessionPolicy().TouchInterval() {
		return
	}
	if _, busy := g.touching.LoadOrStore(sessionID, struct{}{}); busy {
		return
	}
	go func() {
		defer g.touching.Delete(sessionID)
		ctx, cancel := context.WithTimeout(g.baseCtx, g.limits.CommandTimeout)
		defer cancel()
		res, err := g.cmds.TouchSession.Handle(ctx, commands.TouchSession{UserID: user, SessionID: sessionID})
		if err == nil {
			// Wait until the read models show it, so that the next
			// authentication does not touch again.
			err = g.waitFor(ctx, res)
		}
		if err != nil && g.baseCtx.Err() == nil {
			g.logger.Warn("cannot record a session's use", "err", err)
		}
	}()
}

// sessionLoop touches the sessions of open WebSockets and closes those
// whose session reached its maximum age, until ctx ends.
func (g *Gateway) sessionLoop(ctx context.Context) {
	t := time.NewTicker(g.sweepInterval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p := g.sessionPolicy()
		now := time.Now()
		seen := map[string]bool{}
		for _, c := range g.hub.allConns() {
			if !now.Before(c.sessionStart.Add(p.MaxAge)) {
				c.closeWith(closeSignedOut, "session expired")
				continue
			}
			if !seen[c.sessionID] && now.Sub(c.touchedAt) >= p.TouchInterval() {
				seen[c.sessionID] = true
				c.touchedAt = now
				g.touchOpen(ctx, c)
			}
		}
	}
}

// touchOpen touches the session of an open connection, by the read
// models' last use.
func (g *Gateway) touchOpen(ctx context.Context, c *conn) {
	s, err := g.read.SessionByTokenHash(ctx, c.tokenHash)
	if err != nil {
		return // ended: the hub closes it
	}
	g.touch(s.UserID, s.SessionID, s.LastUsedAt)
}

// sessionJSON is a session as GET /sessions shows it.
type sessionJSON struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	UserAgent  string    `json:"user_agent"`
	IP         string    `json:"ip"`
	Current    bool      `json:"current"`
}

// listSessions answers the caller's sessions that have not ended or
// expired, oldest first.
func (g *Gateway) listSessions(w http.ResponseWriter, r *http.Request, s *session) error {
	all, err := g.read.Sessions(r.Context(), s.UserID)
	if err != nil {
		return err
	}
	p, now := g.sessionPolicy(), time.Now()
	out := []sessionJSON{}
	for _, ss := range all {
		exp := p.ExpiresAt(ss.CreatedAt, ss.LastUsedAt)
		if !now.Before(exp) {
			continue
		}
		out = append(out, sessionJSON{ID: ss.SessionID, CreatedAt: ss.CreatedAt, LastUsedAt: ss.LastUsedAt, ExpiresAt: exp,
			UserAgent: ss.UserAgent, IP: ss.IP, Current: ss.SessionID == s.SessionID})
	}
	return respond(w, http.StatusOK, map[string]any{"sessions": out})
}

// revokeSession ends one of the caller's sessions; revoking the current
// one signs out and clears the cookie.
func (g *Gateway) revokeSession(w http.ResponseWriter, r *http.Request, s *session) error {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return domain.Errorf(domain.KindNotFound, "revoke session", "no such session")
	}
	res, err := g.cmds.RevokeSession.Handle(r.Context(), commands.RevokeSession{UserID: s.UserID, SessionID: id.String()})
	if err == nil {
		err = g.waitFor(r.Context(), res)
	}
	if err != nil {
		return err
	}
	if id.String() == s.SessionID {
		g.clearCookie(w)
	}
	return noContent(w)
}

// revokeOtherSessions ends every session of the caller but the current
// one.
func (g *Gateway) revokeOtherSessions(w http.ResponseWriter, r *http.Request, s *session) error {
	res, err := g.cmds.RevokeOtherSessions.Handle(r.Context(), commands.RevokeOtherSessions{UserID: s.UserID, Keep: s.SessionID})
	if err == nil {
		err = g.waitFor(r.Context(), res)
	}
	if err != nil {
		return err
	}
	return respond(w, http.StatusOK, map[string]int{"revoked": len(res.Events)})
}

// endReasons are the close reasons of a session's WebSockets, by
// SessionEnded.Reason; all close with 4001.
var endReasons = map[string]string{
	"":                  "signed out",
	domain.EndSignedOut: "signed out",
	domain.EndRevoked:   "session revoked",
	domain.EndExpired:   "session expired",
	domain.EndLimit:     "session limit",
	// The account's (account.go, domain/account.go).
	domain.EndPasswordChanged: "password changed",
	domain.EndDisabled:        "account disabled",
	domain.EndDeleted:         "account deleted",
}
