package projections

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/confabhq/confab/domain"
)

// RoomInfo is a room.
type RoomInfo struct {
	ID         domain.RoomID
	Kind       string // domain.KindGroup or domain.KindDM
	Name       string // "" for a DM
	OwnerID    domain.UserID
	InviteCode string // the current code; "" for a DM
	// LastSeq is the sequence number of the room's last event.
	LastSeq   uint64
	CreatedAt time.Time
}

// RoomSummary is a room as one of its members lists it.
type RoomSummary struct {
	ID      domain.RoomID
	Kind    string
	Name    string
	OwnerID domain.UserID
	Role    domain.Role // the member's role
	// LastSeq is the sequence number of the room's last event.
	LastSeq uint64
	// ReadSeq is the member's read marker: the last sequence number read.
	ReadSeq uint64
	// Unread counts the messages after ReadSeq that others sent and that
	// are not deleted, in the timeline: replies in threads count in their
	// thread (Threads), not here.
	Unread int
	// LastActivity is when the last message was posted, or the room was
	// created if it has none; the list is sorted by it.
	LastActivity time.Time
	// DMPeer is, for a DM, the other member.
	DMPeer *User
	// Mentions counts the unread messages (of Unread) that mention the
	// member.
	Mentions int
	// Notify is the member's notification level in the room
	// (domain.NotifyAll, NotifyMentions or NotifyNone).
	Notify string
	// MembersCanPin is the room's setting: plain members may pin.
	MembersCanPin bool
}

// Member is a member of a room.
type Member struct {
	User     User // with presence
	Role     domain.Role
	JoinedAt time.Time
}

func noRoom(op string) error { return domain.Errorf(domain.KindNotFound, op, "no such room") }

// Room returns a room, or a KindNotFound error.
func (p *Projections) Room(ctx context.Context, id domain.RoomID) (RoomInfo, error) {
	r := RoomInfo{ID: id}
	var created, lastSeq int64
	err := p.db.QueryRowContext(ctx, p.d.Rebind(`SELECT kind, name, owner_id, invite_code, last_seq, created_at FROM proj_rooms WHERE room_id = ?`), string(id)).
		Scan(&r.Kind, &r.Name, &r.OwnerID, &r.InviteCode, &lastSeq, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return RoomInfo{}, noRoom("find room")
	}
	if err != nil {
		return RoomInfo{}, fmt.Errorf("projections: find room %s: %w", id, err)
	}
	r.LastSeq, r.CreatedAt = uint64(lastSeq), fromMicros(created)
	return r, nil
}

// RoomByInviteCode returns the group room whose current invite code is
// code, or a KindNotFound error. A rotated code no longer works.
func (p *Projections) RoomByInviteCode(ctx context.Context, code string) (domain.RoomID, error) {
	if code == "" {
		return "", domain.Errorf(domain.KindNotFound, "find invite", "invalid invite code")
	}
	var id domain.RoomID
	err := p.db.QueryRowContext(ctx, p.d.Rebind(`SELECT room_id FROM proj_rooms WHERE invite_code = ? AND kind = ? ORDER BY room_id LIMIT 1`), code, domain.KindGroup).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", domain.Errorf(domain.KindNotFound, "find invite", "invalid invite code")
	}
	if err != nil {
		return "", fmt.Errorf("projections: find invite: %w", err)
	}
	return id, nil
}

// Member returns user's role in room; ok is false if user is not a member
// (never joined, left, was kicked or banned) or the room does not exist.
func (p *Projections) Member(ctx context.Context, room domain.RoomID, user domain.UserID) (role domain.Role, ok bool, err error) {
	err = p.queryRow(ctx, `SELECT role FROM proj_members WHERE room_id = ? AND user_id = ?`, string(room), string(user)).Scan(&role)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("projections: membership of %s in %s: %w", user, room, err)
	}
	return role, true, nil
}

// InAnyRoom reports whether user is a member of at least one room (a
// group or a DM).
func (p *Projections) InAnyRoom(ctx context.Context, user domain.UserID) (bool, error) {
	var one int
	err := p.db.QueryRowContext(ctx, p.d.Rebind(`SELECT 1 FROM proj_members WHERE user_id = ? LIMIT 1`), string(user)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("projections: rooms of %s: %w", user, err)
	}
	return true, nil
}

// Banned reports whether user is banned from room.
func (p *Projections) Banned(ctx context.Context, room domain.RoomID, user domain.UserID) (bool, error) {
	var n int64
	err := p.db.QueryRowContext(ctx, p.d.Rebind(`SELECT COUNT(*) FROM proj_bans WHERE room_id = ? AND user_id = ?`), string(room), string(user)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("projections: ban of %s in %s: %w", user, room, err)
	}
	return n > 0, nil
}

// roleRank orders roles from most to least powerful.
func roleRank(r domain.Role) int {
	switch r {
	case domain.RoleOwner:
		return 0
	case domain.RoleAdmin:
		return 1
	case domain.RoleMember:
		return 2
	}
	return 3
}

// Members returns the members of a room with their presence: the owner,
// then admins, then members, each by username. A room that does not exist
// is a KindNotFound error.
func (p *Projections) Members(ctx context.Context, room domain.RoomID) ([]Member, error) {
	var members []Member
	err := p.readTx(ctx, func(tx *sql.Tx) error {
		var n int64
		if err := tx.QueryRowContext(ctx, p.d.Rebind(`SELECT COUNT(*) FROM proj_rooms WHERE room_id = ?`), string(room)).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return noRoom("list members")
		}
		rows, err := tx.QueryContext(ctx, p.d.Rebind(`SELECT m.user_id, m.role, m.joined_at, `+userColumns+`
			FROM proj_members m LEFT JOIN proj_users u ON u.user_id = m.user_id
			WHERE m.room_id = ?`), string(room))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m Member
			var joined int64
			if err := scanUser(rows.Scan, &m.User, &m.User.ID, &m.Role, &joined); err != nil {
				return err
			}
			m.JoinedAt = fromMicros(joined)
			members = append(members, m)
		}
		return rows.Err()
	})
	if err != nil {
		if domain.KindOf(err) == domain.KindNotFound {
			return nil, err
		}
		return nil, fmt.Errorf("projections: members of %s: %w", room, err)
	}
	slices.SortFunc(members, func(a, b Member) int {
		return cmp.Or(
			cmp.Compare(roleRank(a.Role), roleRank(b.Role)),
			strings.Compare(strings.ToLower(a.User.Username), strings.ToLower(b.User.Username)),
			strings.Compare(string(a.User.ID), string(b.User.ID)),
		)
	})
	return members, nil
}

// RoomsOf returns the rooms user is a member of, most recently active
// first, with the user's role, read marker and unread count.
func (p *Projections) RoomsOf(ctx context.Context, user domain.UserID) ([]RoomSummary, error) {
	var rooms []RoomSummary
	err := p.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, p.d.Rebind(`SELECT r.room_id, r.kind, r.name, r.owner_id, m.role, r.last_seq, COALESCE(rm.seq, 0), r.last_activity_at,
				(SELECT COUNT(*) FROM proj_messages x
				  WHERE x.room_id = m.room_id AND x.seq > COALESCE(rm.seq, 0) AND x.sender_id <> m.user_id AND x.deleted = 0 AND x.thread_root = 0),
				(SELECT COUNT(*) FROM proj_messages x
				  WHERE x.room_id = m.room_id AND x.seq > COALESCE(rm.seq, 0) AND x.sender_id <> m.user_id AND x.deleted = 0 AND x.thread_root = 0 AND x.mentions LIKE ?),
				COALESCE(n.level, ?), COALESCE(s.members_can_pin, 0)
			FROM proj_members m
			JOIN proj_rooms r ON r.room_id = m.room_id
			LEFT JOIN proj_read_markers rm ON rm.user_id = m.user_id AND rm.room_id = m.room_id
			LEFT JOIN proj_notify n ON n.user_id = m.user_id AND n.room_id = m.room_id
			LEFT JOIN proj_room_settings s ON s.room_id = m.room_id
			WHERE m.user_id = ?`), `%"`+string(user)+`"%`, domain.NotifyAll, string(user))
		if err != nil {
			return err
		}
		defer rows.Close()
		byID := map[domain.RoomID]int{}
		for rows.Next() {
			var r RoomSummary
			var lastSeq, readSeq, activity, unread, mentions, canPin int64
			if err := rows.Scan(&r.ID, &r.Kind, &r.Name, &r.OwnerID, &r.Role, &lastSeq, &readSeq, &activity, &unread, &mentions, &r.Notify, &canPin); err != nil {
				return err
			}
			r.LastSeq, r.ReadSeq, r.LastActivity, r.Unread = uint64(lastSeq), uint64(readSeq), fromMicros(activity), int(unread)
			r.Mentions, r.MembersCanPin = int(mentions), canPin != 0
			byID[r.ID] = len(rooms)
			rooms = append(rooms, r)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()

		peers, err := tx.QueryContext(ctx, p.d.Rebind(`SELECT o.room_id, o.user_id, `+userColumns+`
			FROM proj_members m
			JOIN proj_rooms r ON r.room_id = m.room_id AND r.kind = ?
			JOIN proj_members o ON o.room_id = m.room_id AND o.user_id <> m.user_id
			LEFT JOIN proj_users u ON u.user_id = o.user_id
			WHERE m.user_id = ?`), domain.KindDM, string(user))
		if err != nil {
			return err
		}
		defer peers.Close()
		for peers.Next() {
			var room domain.RoomID
			var u User
			if err := scanUser(peers.Scan, &u, &room, &u.ID); err != nil {
				return err
			}
			if i, ok := byID[room]; ok {
				rooms[i].DMPeer = &u
			}
		}
		return peers.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("projections: rooms of %s: %w", user, err)
	}
	slices.SortFunc(rooms, func(a, b RoomSummary) int {
		return cmp.Or(b.LastActivity.Compare(a.LastActivity), strings.Compare(string(a.ID), string(b.ID)))
	})
	return rooms, nil
}
