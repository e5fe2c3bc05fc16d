package commands

import (
	"context"
	"errors"

	"github.com/confabhq/confab/domain"
	"github.com/google/uuid"
)

// JoinCall puts a member in their room's call, on one client connection
// of a node.
type JoinCall struct {
	Room   domain.RoomID
	User   domain.UserID
	NodeID string
	ConnID string
}

// JoinCallHandler handles JoinCall.
type JoinCallHandler struct{ agg *Aggregates }

// NewJoinCallHandler returns a JoinCall handler.
func NewJoinCallHandler(agg *Aggregates) (*JoinCallHandler, error) {
	if agg == nil {
		return nil, errors.New("commands: nil aggregates")
	}
	return &JoinCallHandler{agg: agg}, nil
}

// Handle joins the call, starting it if the room has none. It returns the
// ID of the call. Joining again on the same connection changes nothing.
func (h *JoinCallHandler) Handle(ctx context.Context, cmd JoinCall) (callID string, res Result, err error) {
	newID := uuid.NewString()
	res, err = h.agg.updateRoom(ctx, cmd.Room, nil, func(r *domain.Room) ([]domain.Event, error) {
		events, err := r.JoinCall(cmd.User, cmd.NodeID, cmd.ConnID, newID, h.agg.now())
		if err == nil {
			callID = newID
			if r.Call != nil {
				callID = r.Call.ID
			}
		}
		return events, err
	})
	return callID, res, err
}

// LeaveCall takes a user out of their room's call.
type LeaveCall struct {
	Room domain.RoomID
	User domain.UserID
	// ConnID, if set, makes the leave apply only if the user is in the
	// call on that connection.
	ConnID string
	// Reason is one of domain's CallLeave* reasons.
	Reason string
}

// LeaveCallHandler handles LeaveCall.
type LeaveCallHandler struct{ agg *Aggregates }

// NewLeaveCallHandler returns a LeaveCall handler.
func NewLeaveCallHandler(agg *Aggregates) (*LeaveCallHandler, error) {
	if agg == nil {
		return nil, errors.New("commands: nil aggregates")
	}
	return &LeaveCallHandler{agg: agg}, nil
}

// Handle leaves the call, ending it if nobody is left. Leaving when not in
// the call changes nothing.
func (h *LeaveCallHandler) Handle(ctx context.Context, cmd LeaveCall) (Result, error) {
	switch cmd.Reason {
	case domain.CallLeaveLeft, domain.CallLeaveDisconnected, domain.CallLeaveFailed, domain.CallLeaveNodeLost:
	default:
		return Result{}, domain.Errorf(domain.KindInvalid, "leave call", "unknown reason %q", cmd.Reason)
	}
	return h.agg.updateRoom(ctx, cmd.Room, nil, func(r *domain.Room) ([]domain.Event, error) {
		return r.LeaveCall(cmd.User, cmd.ConnID, cmd.Reason, h.agg.now())
	})
}
