package commands

import (
	"context"
	"errors"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/internal/password"
)

// SignUp opens an account and signs it in.
type SignUp struct {
	Username string
	Password string
}

// SignUpHandler handles SignUp.
type SignUpHandler struct {
	agg    *Aggregates
	params password.Params
}

// NewSignUpHandler returns a handler hashing passwords with params.
func NewSignUpHandler(agg *Aggregates, params password.Params) (*SignUpHandler, error) {
	if agg == nil {
		return nil, errors.New("commands: nil aggregates")
	}
	return &SignUpHandler{agg: agg, params: params}, nil
}

// Handle opens the account (its stream must not exist: usernames are
// unique whatever their case) and starts a session.
func (h *SignUpHandler) Handle(ctx context.Context, cmd SignUp) (Session, error) {
	if err := domain.ValidateUsername(cmd.Username); err != nil {
		return Session{}, err
	}
	if err := domain.ValidatePassword(cmd.Password); err != nil {
		return Session{}, err
	}
	hash, err := password.Hash(cmd.Password, h.params)
	if err != nil {
		return Session{}, err
	}
	id := domain.UserIDFor(cmd.Username)
	_, err = h.agg.users.update(ctx, string(id), true, nil, func(u *domain.User, _ uint64) ([]domain.Event, error) {
		return u.SignUp(cmd.Username, hash, h.agg.now())
	})
	if errors.Is(err, eventstore.ErrConflict) {
		return Session{}, domain.Errorf(domain.KindConflict, "sign up", "username %q is taken", cmd.Username)
	}
	if err != nil {
		return Session{}, err
	}
	return h.agg.startSession(ctx, id)
}
