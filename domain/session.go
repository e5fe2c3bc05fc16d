package domain

import (
	"cmp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Session is a session of a user that has not ended. It may have expired:
// whether it has depends on the time and the SessionPolicy, so that the
// state stays a function of the events.
type Session struct {
	TokenHash string
	UserAgent string
	IP        string
	StartedAt time.Time
	// LastUsedAt is the time of the session's latest SessionUsed, else
	// StartedAt: the start of its idle time, up to a touch interval
	// earlier than its last use.
	LastUsedAt time.Time
	// Order is the session's place among the user's sign-ins, from 1: it
	// orders sessions that started at the same time.
	Order uint64
}

// Reasons a session ends (SessionEnded.Reason).
const (
	EndSignedOut = "signed_out"    // the session signed itself out
	EndRevoked   = "revoked"       // revoked from a session of the same user
	EndExpired   = "expired"       // idle or too old, cleaned up at the user's next sign-in
	EndLimit     = "session_limit" // the oldest, ended by a sign-in past the per-user limit
)

// Limits of what a SessionStarted records of the client.
const (
	MaxUserAgentLen = 256 // bytes, cut at a character boundary
	maxIPLen        = 64
)

// Session policy defaults: long-lived sessions, as chat apps keep them.
const (
	DefaultSessionIdleTimeout = 30 * 24 * time.Hour
	DefaultSessionMaxAge      = 90 * 24 * time.Hour
	DefaultMaxSessionsPerUser = 50
	// maxTouchInterval bounds how stale a session's recorded last use
	// may get before a request records a new one.
	maxTouchInterval = time.Hour
)

// SessionPolicy bounds sessions. A session expires IdleTimeout after its
// last recorded use or MaxAge after it started, whichever comes first; a
// sign-in that would give a user more than MaxPerUser sessions ends their
// oldest ones. Zero fields take the defaults.
type SessionPolicy struct {
	IdleTimeout time.Duration
	MaxAge      time.Duration
	MaxPerUser  int
}

// WithDefaults returns p with its zero fields set to the defaults.
func (p SessionPolicy) WithDefaults() SessionPolicy {
	if p.IdleTimeout == 0 {
		p.IdleTimeout = DefaultSessionIdleTimeout
	}
	if p.MaxAge == 0 {
		p.MaxAge = DefaultSessionMaxAge
	}
	if p.MaxPerUser == 0 {
		p.MaxPerUser = DefaultMaxSessionsPerUser
	}
	return p
}

// Validate refuses negative limits.
func (p SessionPolicy) Validate() error {
	if p.IdleTimeout < 0 || p.MaxAge < 0 || p.MaxPerUser < 0 {
		return Errorf(KindInvalid, "session policy", "idle timeout, max age and sessions per user must not be negative")
	}
	return nil
}

// TouchInterval is how old a session's recorded last use may be before a
// request that the session authenticates records a new one (SessionUsed):
// a tenth of the idle timeout, at most an hour. So a session expires
// between IdleTimeout-TouchInterval and IdleTimeout after its last use,
// and an active session costs at most one event per TouchInterval.
func (p SessionPolicy) TouchInterval() time.Duration {
	return min(p.WithDefaults().IdleTimeout/10, maxTouchInterval)
}

// ExpiresAt returns when a session that started at started and was last
// used at lastUsed expires.
func (p SessionPolicy) ExpiresAt(started, lastUsed time.Time) time.Time {
	p = p.WithDefaults()
	idle, old := lastUsed.Add(p.IdleTimeout), started.Add(p.MaxAge)
	if idle.Before(old) {
		return idle
	}
	return old
}

// Expired reports whether s has expired at now.
func (p SessionPolicy) Expired(s Session, now time.Time) bool {
	return !now.Before(p.ExpiresAt(s.StartedAt, s.LastUsedAt))
}

// SessionClient is what a sign-in records of the client.
type SessionClient struct {
	UserAgent string
	IP        string
}

// clean returns the client as stored: valid UTF-8 without control
// characters, each field cut to its limit.
func (c SessionClient) clean() SessionClient {
	clean := func(s string, limit int) string {
		s = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return -1
			}
			return r
		}, strings.ToValidUTF8(s, "\uFFFD"))
		s = strings.TrimSpace(s)
		for len(s) > limit {
			_, size := utf8.DecodeLastRuneInString(s)
			s = s[:len(s)-size]
		}
		return s
	}
	return SessionClient{UserAgent: clean(c.UserAgent, MaxUserAgentLen), IP: clean(c.IP, maxIPLen)}
}

func (u *User) applySession(e Event) {
	switch e := e.(type) {
	case SessionStarted:
		if u.Sessions == nil {
			u.Sessions = map[string]Session{}
		}
		u.sessionsStarted++
		u.Sessions[e.SessionID] = Session{TokenHash: e.TokenHash, UserAgent: e.UserAgent, IP: e.IP,
			StartedAt: e.At, LastUsedAt: e.At, Order: u.sessionsStarted}
	case SessionUsed:
		if s, ok := u.Sessions[e.SessionID]; ok && e.At.After(s.LastUsedAt) {
			s.LastUsedAt = e.At
			u.Sessions[e.SessionID] = s
		}
	case SessionEnded:
		delete(u.Sessions, e.SessionID)
	}
}

// sessionIDs returns the IDs of the user's sessions, oldest first.
func (u *User) sessionIDs() []string {
	ids := make([]string, 0, len(u.Sessions))
	for id := range u.Sessions {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int { return cmp.Compare(u.Sessions[a].Order, u.Sessions[b].Order) })
	return ids
}

// StartSession signs the user in with a new session. It first ends the
// sessions that have expired (EndExpired), then, if the user would have
// more than policy.MaxPerUser sessions, the oldest ones (EndLimit).
func (u *User) StartSession(sessionID, tokenHash string, client SessionClient, policy SessionPolicy, now time.Time) ([]Event, error) {
	if err := u.CanSignIn(); err != nil {
		return nil, err
	}
	if sessionID == "" || tokenHash == "" {
		return nil, Errorf(KindInvalid, "sign in", "session needs an ID and a token hash")
	}
	if _, ok := u.Sessions[sessionID]; ok {
		return nil, nil // a retry
	}
	policy = policy.WithDefaults()
	var events []Event
	var live []string
	for _, id := range u.sessionIDs() {
		if policy.Expired(u.Sessions[id], now) {
			events = append(events, SessionEnded{SessionID: id, Reason: EndExpired, At: now})
		} else {
			live = append(live, id)
		}
	}
	for len(live) >= policy.MaxPerUser {
		events = append(events, SessionEnded{SessionID: live[0], Reason: EndLimit, At: now})
		live = live[1:]
	}
	client = client.clean()
	return append(events, SessionStarted{SessionID: sessionID, TokenHash: tokenHash, UserAgent: client.UserAgent, IP: client.IP, At: now}), nil
}

// TouchSession records that a session was used, if its recorded last use
// is at least policy.TouchInterval old; an unknown, ended or expired
// session changes nothing (an expired one stays expired).
func (u *User) TouchSession(sessionID string, policy SessionPolicy, now time.Time) ([]Event, error) {
	if err := u.mustExist("touch session"); err != nil {
		return nil, err
	}
	s, ok := u.Sessions[sessionID]
	if !ok || policy.Expired(s, now) || now.Sub(s.LastUsedAt) < policy.TouchInterval() {
		return nil, nil
	}
	return []Event{SessionUsed{SessionID: sessionID, At: now}}, nil
}

// EndSession ends a session for reason (one of the End* reasons). Ending
// an ended or unknown session changes nothing.
func (u *User) EndSession(sessionID, reason string, now time.Time) ([]Event, error) {
	if err := u.mustExist("sign out"); err != nil {
		return nil, err
	}
	if _, ok := u.Sessions[sessionID]; !ok {
		return nil, nil
	}
	return []Event{SessionEnded{SessionID: sessionID, Reason: reason, At: now}}, nil
}

// RevokeSession ends one of the user's sessions (EndRevoked). A session
// that is not the user's, or has ended, is not found: a user cannot tell
// another user's session IDs from made-up ones.
func (u *User) RevokeSession(sessionID string, now time.Time) ([]Event, error) {
	if err := u.mustExist("revoke session"); err != nil {
		return nil, err
	}
	if _, ok := u.Sessions[sessionID]; !ok {
		return nil, Errorf(KindNotFound, "revoke session", "no such session")
	}
	return []Event{SessionEnded{SessionID: sessionID, Reason: EndRevoked, At: now}}, nil
}

// RevokeOtherSessions ends every session of the user but keep
// (EndRevoked), oldest first: "sign out everywhere else".
func (u *User) RevokeOtherSessions(keep string, now time.Time) ([]Event, error) {
	if err := u.mustExist("revoke sessions"); err != nil {
		return nil, err
	}
	var events []Event
	for _, id := range u.sessionIDs() {
		if id != keep {
			events = append(events, SessionEnded{SessionID: id, Reason: EndRevoked, At: now})
		}
	}
	return events, nil
}
