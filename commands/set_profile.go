package commands

import (
	"context"
	"errors"

	"github.com/confabhq/confab/domain"
)

// The profile a user shows others: a display name and an avatar.

// SetDisplayName sets (or, with "", clears) the caller's display name.
type SetDisplayName struct {
	UserID      domain.UserID
	DisplayName string
}

// SetDisplayNameHandler handles SetDisplayName.
type SetDisplayNameHandler struct{ agg *Aggregates }

// NewSetDisplayNameHandler returns a SetDisplayName handler.
func NewSetDisplayNameHandler(agg *Aggregates) (*SetDisplayNameHandler, error) {
	if agg == nil {
		return nil, errors.New("commands: nil aggregates")
	}
	return &SetDisplayNameHandler{agg: agg}, nil
}

// Handle appends DisplayNameChanged, unless the name is the current one.
func (h *SetDisplayNameHandler) Handle(ctx context.Context, cmd SetDisplayName) (Result, error) {
	return h.agg.updateUser(ctx, cmd.UserID, func(u *domain.User) ([]domain.Event, error) {
		return u.SetDisplayName(cmd.DisplayName, h.agg.now())
	})
}

// SetAvatar sets the caller's avatar to an image the blob store holds
// already (the gateway square-crops and stores it: package imaging);
// a nil Avatar removes it.
type SetAvatar struct {
	UserID domain.UserID
	Avatar *domain.Avatar
}

// SetAvatarHandler handles SetAvatar.
type SetAvatarHandler struct{ agg *Aggregates }

// NewSetAvatarHandler returns a SetAvatar handler.
func NewSetAvatarHandler(agg *Aggregates) (*SetAvatarHandler, error) {
	if agg == nil {
		return nil, errors.New("commands: nil aggregates")
	}
	return &SetAvatarHandler{agg: agg}, nil
}

// Handle appends AvatarChanged or AvatarRemoved, unless nothing changes.
func (h *SetAvatarHandler) Handle(ctx context.Context, cmd SetAvatar) (Result, error) {
	return h.agg.updateUser(ctx, cmd.UserID, func(u *domain.User) ([]domain.Event, error) {
		if cmd.Avatar == nil {
			return u.RemoveAvatar(h.agg.now())
		}
		return u.SetAvatar(*cmd.Avatar, h.agg.now())
	})
}
