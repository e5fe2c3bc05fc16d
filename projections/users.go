package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/confabhq/confab/domain"
)

// Session is a session that has not ended. It may have expired: that
// depends on the clock and the session policy (domain.SessionPolicy), and
// the read models hold no clock.
type Session struct {
	SessionID string
	UserID    domain.UserID
	CreatedAt time.Time
	// LastUsedAt is the time of the session's latest SessionUsed, else
	// CreatedAt: it lags the last use by up to a touch interval.
	LastUsedAt time.Time
	UserAgent  string // as the sign-in sent it, cut to domain.MaxUserAgentLen
	IP         string // the client's address at sign-in
}

// sessionColumns selects a Session from proj_sessions.
const sessionColumns = `session_id, user_id, created_at, last_used_at, user_agent, ip`

func scanSession(scan func(dest ...any) error) (Session, error) {
	var s Session
	var created, used int64
	if err := scan(&s.SessionID, &s.UserID, &created, &used, &s.UserAgent, &s.IP); err != nil {
		return Session{}, err
	}
	s.CreatedAt, s.LastUsedAt = fromMicros(created), fromMicros(used)
	return s, nil
}

// User is an account with its presence.
type User struct {
	ID        domain.UserID
	Username  string
	CreatedAt time.Time
	// Online is true while the user has at least one open connection.
	Online bool
	// LastSeen is when the user's latest connection closed; zero if none
	// ever did.
	LastSeen time.Time
	// DisplayName is the name the user chose to show, "" if none.
	DisplayName string
	// Avatar is the digest of the user's avatar in the blob store and
	// AvatarType its content type; "" if none.
	Avatar, AvatarType string
	// Status is domain.StatusActive, StatusDisabled or StatusDeleted; a
	// deleted user has no username, display name or avatar.
	Status string
}

// SessionByTokenHash returns the session whose token has the given hash
// (hex SHA-256), or a KindNotFound error: a session that ended is gone.
func (p *Projections) SessionByTokenHash(ctx context.Context, tokenHash string) (Session, error) {
	s, err := scanSession(p.queryRow(ctx, `SELECT `+sessionColumns+` FROM proj_sessions WHERE token_hash = ?`, tokenHash).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, domain.Errorf(domain.KindNotFound, "find session", "no such session")
	}
	if err != nil {
		return Session{}, fmt.Errorf("projections: find session: %w", err)
	}
	return s, nil
}

// Sessions returns the sessions of user that have not ended, oldest
// first, expired ones included.
func (p *Projections) Sessions(ctx context.Context, user domain.UserID) ([]Session, error) {
	rows, err := p.db.QueryContext(ctx, p.d.Rebind(`SELECT `+sessionColumns+` FROM proj_sessions WHERE user_id = ?
		ORDER BY created_at, session_id`), string(user))
	if err != nil {
		return nil, fmt.Errorf("projections: sessions of %s: %w", user, err)
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		s, err := scanSession(rows.Scan)
		if err != nil {
			return nil, fmt.Errorf("projections: sessions of %s: %w", user, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("projections: sessions of %s: %w", user, err)
	}
	return out, nil
}

// userColumns selects a User from proj_users aliased as u; u may be
// missing (a LEFT JOIN), leaving its fields zero.
const userColumns = `COALESCE(u.username, ''), COALESCE(u.created_at, 0), COALESCE(u.last_seen, 0),
	CASE WHEN EXISTS (SELECT 1 FROM proj_connections c WHERE c.user_id = u.user_id) THEN 1 ELSE 0 END,
	COALESCE(u.display_name, ''), COALESCE(u.avatar, ''), COALESCE(u.avatar_type, ''), COALESCE(u.status, '')`

// scanUser scans userColumns into u.
func scanUser(scan func(dest ...any) error, u *User, dest ...any) error {
	var created, lastSeen, online int64
	if err := scan(append(dest, &u.Username, &created, &lastSeen, &online, &u.DisplayName, &u.Avatar, &u.AvatarType, &u.Status)...); err != nil {
		return err
	}
	u.CreatedAt, u.LastSeen, u.Online = fromMicros(created), fromMicros(lastSeen), online != 0
	return nil
}

// User returns the user with the given ID, with presence, or a
// KindNotFound error.
func (p *Projections) User(ctx context.Context, id domain.UserID) (User, error) {
	u := User{ID: id}
	row := p.queryRow(ctx, `SELECT `+userColumns+` FROM proj_users u WHERE u.user_id = ?`, string(id))
	err := scanUser(row.Scan, &u)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, domain.Errorf(domain.KindNotFound, "find user", "no such user")
	}
	if err != nil {
		return User{}, fmt.Errorf("projections: find user %s: %w", id, err)
	}
	return u, nil
}

// UserByUsername returns the user with the given username, in any case,
// or a KindNotFound error.
func (p *Projections) UserByUsername(ctx context.Context, username string) (User, error) {
	return p.User(ctx, domain.UserIDFor(username))
}

// SharedRoomMembers returns, sorted, every user who shares at least one
// room with user, and user: those who see user's presence.
func (p *Projections) SharedRoomMembers(ctx context.Context, user domain.UserID) ([]domain.UserID, error) {
	rows, err := p.db.QueryContext(ctx, p.d.Rebind(`SELECT DISTINCT o.user_id FROM proj_members m
		JOIN proj_members o ON o.room_id = m.room_id
		WHERE m.user_id = ?`), string(user))
	if err != nil {
		return nil, fmt.Errorf("projections: shared room members of %s: %w", user, err)
	}
	defer rows.Close()
	ids := []domain.UserID{user}
	for rows.Next() {
		var id domain.UserID
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("projections: shared room members of %s: %w", user, err)
		}
		if id != user {
			ids = append(ids, id)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("projections: shared room members of %s: %w", user, err)
	}
	slices.Sort(ids)
	return ids, nil
}
