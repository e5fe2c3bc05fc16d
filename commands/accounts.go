package commands

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"github.com/confabhq/confab/domain"
	"github.com/google/uuid"
)

// HashToken returns the stored form of a session token: hex SHA-256.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// newToken returns a random session token: 256 bits, base64url.
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("session token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Session is a signed-in session.
type Session struct {
	UserID    domain.UserID
	Username  string
	SessionID string
	// Token is the bearer token; only its hash is stored.
	Token  string
	Result Result
}

// startSession appends a new session to a user who exists, under the
// session policy (ending expired sessions and those past the per-user
// limit), recording the client that ctx carries (WithClient).
func (a *Aggregates) startSession(ctx context.Context, id domain.UserID) (Session, error) {
	token, err := newToken()
	if err != nil {
		return Session{}, err
	}
	s := Session{UserID: id, SessionID: uuid.NewString(), Token: token}
	s.Result, err = a.updateUser(ctx, id, func(u *domain.User) ([]domain.Event, error) {
		s.Username = u.Username
		return u.StartSession(s.SessionID, HashToken(token), clientOf(ctx), a.sessions, a.now())
	})
	return s, err
}
