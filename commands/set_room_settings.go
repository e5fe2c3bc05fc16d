package commands

import (
	"context"
	"errors"

	"github.com/confabhq/confab/domain"
)

// SetRoomSettings changes a group room's settings: whether plain members
// may pin messages.
type SetRoomSettings struct {
	Room          domain.RoomID
	Actor         domain.UserID
	MembersCanPin bool
}

// SetRoomSettingsHandler handles SetRoomSettings.
type SetRoomSettingsHandler struct{ agg *Aggregates }

// NewSetRoomSettingsHandler returns a SetRoomSettings handler.
func NewSetRoomSettingsHandler(agg *Aggregates) (*SetRoomSettingsHandler, error) {
	if agg == nil {
		return nil, errors.New("commands: nil aggregates")
	}
	return &SetRoomSettingsHandler{agg: agg}, nil
}

// Handle sets the settings; the owner and admins may.
func (h *SetRoomSettingsHandler) Handle(ctx context.Context, cmd SetRoomSettings) (Result, error) {
	return h.agg.updateRoom(ctx, cmd.Room, nil, func(r *domain.Room) ([]domain.Event, error) {
		return r.SetSettings(cmd.Actor, cmd.MembersCanPin, h.agg.now())
	})
}
