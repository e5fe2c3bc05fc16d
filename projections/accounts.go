package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/confabhq/confab/domain"
)

// Account events change a user's row of proj_users: display name, avatar
// (digest and content type) and status. UserDeleted empties the row's
// username, display name and avatar and marks it deleted: the user's
// personal data leaves the read models, while the row keeps the ID that
// their messages, reactions and DMs name (shown as "Deleted user"). The
// sessions and group memberships a deletion ends go by their own events
// (SessionEnded, MemberLeft). PasswordChanged changes no row: the hash is
// the commands' business, and the sessions it ends are SessionEnded too.
//
// Both appliers change the row with foldAccount: the SQLite applier reads
// it, folds the event and writes it back (runAccount), the PostgreSQL
// fold folds its loaded row.

// foldAccount applies an account event to a user's row.
func foldAccount(r *userRow, ev domain.Event) {
	switch ev := ev.(type) {
	case domain.DisplayNameChanged:
		r.displayName = ev.DisplayName
	case domain.AvatarChanged:
		r.avatar, r.avatarType = ev.Avatar.Digest, ev.Avatar.ContentType
	case domain.AvatarRemoved:
		r.avatar, r.avatarType = "", ""
	case domain.UserDisabled:
		if r.status != domain.StatusDeleted {
			r.status = domain.StatusDisabled
		}
	case domain.UserEnabled:
		if r.status != domain.StatusDeleted {
			r.status = domain.StatusActive
		}
	case domain.UserDeleted:
		r.username, r.displayName, r.avatar, r.avatarType, r.status = "", "", "", "", domain.StatusDeleted
	}
}

// runAccount applies an account event of user's stream on SQLite.
func (a *applier) runAccount(ctx context.Context, user domain.UserID, ev domain.Event) error {
	if _, ok := ev.(domain.PasswordChanged); ok {
		return nil
	}
	r := userRow{id: string(user)}
	err := a.queryRow(ctx, `SELECT username, display_name, avatar, avatar_type, status FROM proj_users WHERE user_id = ?`, string(user)).
		Scan(&r.username, &r.displayName, &r.avatar, &r.avatarType, &r.status)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	before := r
	foldAccount(&r, ev)
	if r == before {
		return nil
	}
	_, err = a.run(ctx, `UPDATE proj_users SET username = ?, display_name = ?, avatar = ?, avatar_type = ?, status = ? WHERE user_id = ?`,
		r.username, r.displayName, r.avatar, r.avatarType, r.status, string(user))
	return err
}

// UserListing is a user as the operators' list shows them.
type UserListing struct {
	ID          domain.UserID
	Username    string // "" once deleted
	DisplayName string
	Status      string // domain.StatusActive, StatusDisabled or StatusDeleted
	CreatedAt   int64  // Unix microseconds
}

// ListUsers returns every account, oldest first (deleted ones included:
// their rows stay, emptied).
func (p *Projections) ListUsers(ctx context.Context) ([]UserListing, error) {
	rows, err := p.db.QueryContext(ctx, `SELECT user_id, username, display_name, status, created_at FROM proj_users ORDER BY created_at, user_id`)
	if err != nil {
		return nil, fmt.Errorf("projections: list users: %w", err)
	}
	defer rows.Close()
	var out []UserListing
	for rows.Next() {
		var u UserListing
		if err := rows.Scan(&u.ID, &u.Username, &u.DisplayName, &u.Status, &u.CreatedAt); err != nil {
			return nil, fmt.Errorf("projections: list users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("projections: list users: %w", err)
	}
	return out, nil
}
