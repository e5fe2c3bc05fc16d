package projections

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/confabhq/confab/domain"
)

// CallInfo is a call of a room, as its timeline shows it.
type CallInfo struct {
	ID string
	// Seq is the sequence number of its CallStarted: its place in the
	// room's timeline.
	Seq       uint64
	StartedBy domain.UserID
	StartedAt time.Time
	// EndedSeq and EndedAt are zero while the call goes on.
	EndedSeq uint64
	EndedAt  time.Time
	// Participants counts the users who came, once the call ended.
	Participants int
	// InCall are the users in the call now, sorted; none once it ended.
	InCall []domain.UserID
}

// CallParticipant is a user in a room's ongoing call.
type CallParticipant struct {
	RoomID   domain.RoomID
	UserID   domain.UserID
	CallID   string
	NodeID   string
	ConnID   string
	JoinedAt time.Time
}

// Calls returns a room's calls that started before sequence number
// before (all if 0), newest first, at most limit.
func (p *Projections) Calls(ctx context.Context, room domain.RoomID, before uint64, limit int) ([]CallInfo, error) {
	if before == 0 {
		before = 1 << 62
	}
	var calls []CallInfo
	err := p.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, p.d.Rebind(`SELECT call_id, seq, started_by, started_at, ended_seq, ended_at, participants
			FROM proj_calls WHERE room_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`), string(room), int64(before), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r := callRow{room: string(room)}
			if err := rows.Scan(&r.call, &r.seq, &r.by, &r.started, &r.endedSeq, &r.ended, &r.people); err != nil {
				return err
			}
			calls = append(calls, r.info())
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range calls {
			if calls[i].EndedSeq != 0 {
				continue
			}
			in, err := p.callParticipants(ctx, tx, `WHERE room_id = ? AND call_id = ?`, string(room), calls[i].ID)
			if err != nil {
				return err
			}
			for _, part := range in {
				calls[i].InCall = append(calls[i].InCall, part.UserID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("projections: calls of %s: %w", room, err)
	}
	return calls, nil
}

// ActiveCall returns the room's ongoing call, if it has one.
func (p *Projections) ActiveCall(ctx context.Context, room domain.RoomID) (CallInfo, bool, error) {
	calls, err := p.Calls(ctx, room, 0, 1)
	if err != nil || len(calls) == 0 || calls[0].EndedSeq != 0 {
		return CallInfo{}, false, err
	}
	return calls[0], true, nil
}

// CallParticipantsOn returns the participants of every ongoing call who
// are connected to one of nodes: what a reaper takes out of their calls
// when those nodes are lost.
func (p *Projections) CallParticipantsOn(ctx context.Context, nodes []string) ([]CallParticipant, error) {
	if len(nodes) == 0 {
		return nil, nil
	}
	var parts []CallParticipant
	err := p.readTx(ctx, func(tx *sql.Tx) error {
		args := make([]any, len(nodes))
		for i, n := range nodes {
			args[i] = n
		}
		var err error
		parts, err = p.callParticipants(ctx, tx, `WHERE node_id IN (?`+strings.Repeat(", ?", len(nodes)-1)+`)`, args...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("projections: call participants: %w", err)
	}
	return parts, nil
}

func (p *Projections) callParticipants(ctx context.Context, tx *sql.Tx, where string, args ...any) ([]CallParticipant, error) {
	rows, err := tx.QueryContext(ctx, p.d.Rebind(`SELECT room_id, user_id, call_id, node_id, conn_id, joined_at FROM proj_call_participants `+where), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var parts []CallParticipant
	for rows.Next() {
		var r participantRow
		if err := rows.Scan(&r.room, &r.user, &r.call, &r.node, &r.conn, &r.joined); err != nil {
			return nil, err
		}
		parts = append(parts, r.participant())
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sortParticipants(parts)
	return parts, nil
}

func (r *participantRow) participant() CallParticipant {
	return CallParticipant{RoomID: domain.RoomID(r.room), UserID: domain.UserID(r.user), CallID: r.call, NodeID: r.node, ConnID: r.conn, JoinedAt: fromMicros(r.joined)}
}

// sortParticipants sorts call participants by room and user.
func sortParticipants(parts []CallParticipant) {
	slices.SortFunc(parts, func(a, b CallParticipant) int {
		return cmp.Or(strings.Compare(string(a.RoomID), string(b.RoomID)), strings.Compare(string(a.UserID), string(b.UserID)))
	})
}

// info returns a call as Calls does, without who is in it.
func (r *callRow) info() CallInfo {
	return CallInfo{ID: r.call, Seq: uint64(r.seq), StartedBy: domain.UserID(r.by), StartedAt: fromMicros(r.started),
		EndedSeq: uint64(r.endedSeq), EndedAt: fromMicros(r.ended), Participants: int(r.people)}
}
