package commands

import (
	"context"
	"errors"

	"github.com/confabhq/confab/domain"
)

// SignOut ends a session: its token stops working.
type SignOut struct {
	UserID    domain.UserID
	SessionID string
}

// SignOutHandler handles SignOut.
type SignOutHandler struct{ agg *Aggregates }

// NewSignOutHandler returns a SignOut handler.
func NewSignOutHandler(agg *Aggregates) (*SignOutHandler, error) {
	if agg == nil {
		return nil, errors.New("commands: nil aggregates")
	}
	return &SignOutHandler{agg: agg}, nil
}

// Handle ends the session.
func (h *SignOutHandler) Handle(ctx context.Context, cmd SignOut) (Result, error) {
	return h.agg.updateUser(ctx, cmd.UserID, func(u *domain.User) ([]domain.Event, error) {
		return u.EndSession(cmd.SessionID, domain.EndSignedOut, h.agg.now())
	})
}
