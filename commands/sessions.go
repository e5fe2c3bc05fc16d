package commands

import (
	"context"
	"errors"

	"github.com/confabhq/confab/domain"
)

// The use cases of a user's sessions besides signing in and out: recording
// their use (for the idle timeout), and revoking them from another session.
//
// The idle timeout runs from a session's last recorded use. That is an
// event (SessionUsed), not a column the gateway writes beside the log: the
// read models stay a pure function of the log (a rebuild gives the same
// last uses), every node sees the same last use in the shared store, and
// the user's aggregate can end idle sessions at sign-in. It costs one
// event per session per touch interval (a tenth of the idle timeout, at
// most an hour), only while the session is in use, and concurrent
// touches from several nodes append one event, since the second decides
// again on the first's (expected revisions).
//
// Expiry needs no command: a session expires by the clock, as the policy
// says (domain.SessionPolicy), and whoever authenticates a request checks
// it. The next sign-in of the user ends the expired sessions for good.

// clientKey is the context key of a Client.
type clientKey struct{}

// WithClient returns ctx carrying what a sign-in (SignIn, SignUp) records
// of the client in its new session: the request's values, like its
// deadline, travel with the request through the handlers.
func WithClient(ctx context.Context, c domain.SessionClient) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

func clientOf(ctx context.Context) domain.SessionClient {
	c, _ := ctx.Value(clientKey{}).(domain.SessionClient)
	return c
}

// TouchSession records that a session authenticated a request, at most
// once per touch interval (domain.SessionPolicy.TouchInterval): the event
// that slides its idle timeout.
type TouchSession struct {
	UserID    domain.UserID
	SessionID string
}

// TouchSessionHandler handles TouchSession.
type TouchSessionHandler struct{ agg *Aggregates }

// NewTouchSessionHandler returns a TouchSession handler.
func NewTouchSessionHandler(agg *Aggregates) (*TouchSessionHandler, error) {
	if agg == nil {
		return nil, errors.New("commands: nil aggregates")
	}
	return &TouchSessionHandler{agg: agg}, nil
}

// Handle appends a SessionUsed unless the session's last recorded use is
// recent, or it ended or expired. Nodes that touch the same session at
// once append one event: the second decides again on the first's.
func (h *TouchSessionHandler) Handle(ctx context.Context, cmd TouchSession) (Result, error) {
	return h.agg.updateUser(ctx, cmd.UserID, func(u *domain.User) ([]domain.Event, error) {
		return u.TouchSession(cmd.SessionID, h.agg.sessions, h.agg.now())
	})
}

// RevokeSession ends one of the user's own sessions.
type RevokeSession struct {
	UserID    domain.UserID // the caller
	SessionID string
}

// RevokeSessionHandler handles RevokeSession.
type RevokeSessionHandler struct{ agg *Aggregates }

// NewRevokeSessionHandler returns a RevokeSession handler.
func NewRevokeSessionHandler(agg *Aggregates) (*RevokeSessionHandler, error) {
	if agg == nil {
		return nil, errors.New("commands: nil aggregates")
	}
	return &RevokeSessionHandler{agg: agg}, nil
}

// Handle ends the session, or fails with KindNotFound if the caller has
// no such session (another user's session is not found either).
func (h *RevokeSessionHandler) Handle(ctx context.Context, cmd RevokeSession) (Result, error) {
	return h.agg.updateUser(ctx, cmd.UserID, func(u *domain.User) ([]domain.Event, error) {
		return u.RevokeSession(cmd.SessionID, h.agg.now())
	})
}

// RevokeOtherSessions ends every session of the user but the caller's
// own: "sign out everywhere else".
type RevokeOtherSessions struct {
	UserID domain.UserID
	Keep   string // the caller's session
}

// RevokeOtherSessionsHandler handles RevokeOtherSessions.
type RevokeOtherSessionsHandler struct{ agg *Aggregates }

// NewRevokeOtherSessionsHandler returns a RevokeOtherSessions handler.
func NewRevokeOtherSessionsHandler(agg *Aggregates) (*RevokeOtherSessionsHandler, error) {
	if agg == nil {
		return nil, errors.New("commands: nil aggregates")
	}
	return &RevokeOtherSessionsHandler{agg: agg}, nil
}

// Handle ends the other sessions; the result's events say how many.
func (h *RevokeOtherSessionsHandler) Handle(ctx context.Context, cmd RevokeOtherSessions) (Result, error) {
	return h.agg.updateUser(ctx, cmd.UserID, func(u *domain.User) ([]domain.Event, error) {
		return u.RevokeOtherSessions(cmd.Keep, h.agg.now())
	})
}
