package commands

import (
	"context"

	"github.com/confabhq/confab/domain"
)

// IsMember reports whether user is a member of room, from the room's own
// state: authoritative, unlike a read model that may lag. The gateway asks
// it before it lets a connection subscribe to a room.
func (a *Aggregates) IsMember(ctx context.Context, room domain.RoomID, user domain.UserID) (bool, uint64, error) {
	var (
		member bool
		seq    uint64
	)
	err := a.readRoom(ctx, room, func(r *domain.Room) error {
		member, seq = r.Exists && r.IsMember(user), r.Seq
		return nil
	})
	return member, seq, err
}
