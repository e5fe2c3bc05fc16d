package projections

import (
	"context"
	"fmt"
	"slices"

	"github.com/confabhq/confab/domain"
)

// RoomIDsOf returns, sorted, the rooms user is a member of: what the
// gateway needs to find who sees user's presence.
func (p *Projections) RoomIDsOf(ctx context.Context, user domain.UserID) ([]domain.RoomID, error) {
	return queryIDs[domain.RoomID](ctx, p, `SELECT room_id FROM proj_members WHERE user_id = ?`, string(user), "rooms of "+string(user))
}

// MemberIDs returns, sorted, the user IDs of room's members (none for a
// room that does not exist): the member set the gateway caches.
func (p *Projections) MemberIDs(ctx context.Context, room domain.RoomID) ([]domain.UserID, error) {
	return queryIDs[domain.UserID](ctx, p, `SELECT user_id FROM proj_members WHERE room_id = ?`, string(room), "member IDs of "+string(room))
}

// queryIDs runs query, which selects one text column by one argument,
// and returns the column's values sorted.
func queryIDs[T ~string](ctx context.Context, p *Projections, query, arg, what string) ([]T, error) {
	rows, err := p.db.QueryContext(ctx, p.d.Rebind(query), arg)
	if err != nil {
		return nil, fmt.Errorf("projections: %s: %w", what, err)
	}
	defer rows.Close()
	var ids []T
	for rows.Next() {
		var id T
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("projections: %s: %w", what, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("projections: %s: %w", what, err)
	}
	slices.Sort(ids)
	return ids, nil
}
