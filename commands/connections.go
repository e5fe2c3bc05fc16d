package commands

import (
	"context"
	"errors"

	"github.com/confabhq/confab/domain"
)

// Connect records a client connection opening (presence: online) or
// closing (offline once the user's last connection closes).
type Connect struct {
	User   domain.UserID
	ConnID string
	NodeID string
	// SessionID, if set, is the session that authenticated the
	// connection: its use is recorded in the same append as the
	// connection's opening, as TouchSession would (at most once per
	// touch interval), so that a connect costs one append.
	SessionID string
	// Close records the end of the connection instead; Reason says why.
	Close  bool
	Reason string
}

// ConnectHandler handles Connect.
type ConnectHandler struct{ agg *Aggregates }

// NewConnectHandler returns a Connect handler.
func NewConnectHandler(agg *Aggregates) (*ConnectHandler, error) {
	if agg == nil {
		return nil, errors.New("commands: nil aggregates")
	}
	return &ConnectHandler{agg: agg}, nil
}

// Handle records the connection's opening (and its session's use) or
// closing.
func (h *ConnectHandler) Handle(ctx context.Context, cmd Connect) (Result, error) {
	return h.agg.updateUser(ctx, cmd.User, func(u *domain.User) ([]domain.Event, error) {
		if cmd.Close {
			return u.CloseConnection(cmd.ConnID, cmd.Reason, h.agg.now())
		}
		now := h.agg.now()
		events, err := u.OpenConnection(cmd.ConnID, cmd.NodeID, now)
		if err != nil || cmd.SessionID == "" {
			return events, err
		}
		touch, err := u.TouchSession(cmd.SessionID, h.agg.sessions, now)
		if err != nil {
			return nil, err
		}
		return append(events, touch...), nil
	})
}
