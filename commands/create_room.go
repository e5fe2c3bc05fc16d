package commands

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"

	"github.com/confabhq/confab/domain"
	"github.com/google/uuid"
)

// CreateRoom opens a group room owned by its creator.
type CreateRoom struct {
	Owner domain.UserID
	Name  string
}

// CreateRoomHandler handles CreateRoom.
type CreateRoomHandler struct{ agg *Aggregates }

// NewCreateRoomHandler returns a CreateRoom handler.
func NewCreateRoomHandler(agg *Aggregates) (*CreateRoomHandler, error) {
	if agg == nil {
		return nil, errors.New("commands: nil aggregates")
	}
	return &CreateRoomHandler{agg: agg}, nil
}

// Handle creates the room with a new ID and invite code, and returns the
// room's ID.
func (h *CreateRoomHandler) Handle(ctx context.Context, cmd CreateRoom) (domain.RoomID, Result, error) {
	code, err := NewInviteCode()
	if err != nil {
		return "", Result{}, err
	}
	id := domain.RoomID(uuid.NewString())
	res, err := h.agg.rooms.update(ctx, string(id), true, nil, func(r *domain.Room, _ uint64) ([]domain.Event, error) {
		return r.CreateRoom(id, cmd.Owner, cmd.Name, code, h.agg.now())
	})
	return id, res, err
}

var inviteEncoding = base32.NewEncoding("abcdefghijkmnpqrstuvwxyz23456789").WithPadding(base32.NoPadding)

// NewInviteCode returns a random invite code: 80 bits in 16 characters of
// an alphabet without look-alikes.
func NewInviteCode() (string, error) {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("invite code: %w", err)
	}
	return inviteEncoding.EncodeToString(b), nil
}
