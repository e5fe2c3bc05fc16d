package commands

import (
	"context"
	"errors"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
)

// OpenDM returns the one direct-message room of two users, opening it the
// first time.
type OpenDM struct {
	User  domain.UserID
	Other domain.UserID
}

// OpenDMHandler handles OpenDM.
type OpenDMHandler struct{ agg *Aggregates }

// NewOpenDMHandler returns an OpenDM handler.
func NewOpenDMHandler(agg *Aggregates) (*OpenDMHandler, error) {
	if agg == nil {
		return nil, errors.New("commands: nil aggregates")
	}
	return &OpenDMHandler{agg: agg}, nil
}

// Handle opens (or finds) the DM room and returns its ID.
func (h *OpenDMHandler) Handle(ctx context.Context, cmd OpenDM) (domain.RoomID, Result, error) {
	if cmd.User == cmd.Other {
		return "", Result{}, domain.Errorf(domain.KindInvalid, "open DM", "cannot open a DM with yourself")
	}
	exists := false
	if err := h.agg.readUser(ctx, cmd.Other, func(u *domain.User) error {
		exists = u.Exists && !u.Deleted
		return nil
	}); err != nil {
		return "", Result{}, err
	}
	if !exists {
		return "", Result{}, domain.Errorf(domain.KindNotFound, "open DM", "no such user")
	}
	id := domain.DMRoomID(cmd.User, cmd.Other)
	res, err := h.agg.updateRoom(ctx, id, nil, func(r *domain.Room) ([]domain.Event, error) {
		return r.OpenDM(cmd.User, cmd.Other, h.agg.now())
	})
	var wrong *eventstore.WrongRevisionError
	if errors.As(err, &wrong) {
		// Both opened it at once; the other won and it exists now.
		return id, Result{Revision: wrong.Actual}, nil
	}
	return id, res, err
}
