package domain

import (
	"maps"
	"slices"
	"time"
)

// Every room has one call at a time, which its members join and leave.
// The call's events are in the room's stream, so its timeline shows when
// a call started, who came and went, and how long it lasted.
type (
	// CallStarted opens the room's call. The user who started it joins it
	// with the CallJoined that follows.
	CallStarted struct {
		CallID string    `json:"call_id"`
		By     UserID    `json:"by"`
		At     time.Time `json:"at"`
	}
	// CallJoined puts a user in the call, on one client connection of a
	// node (whose media server forwards their tracks). Joining again from
	// another connection moves them there.
	CallJoined struct {
		CallID string    `json:"call_id"`
		UserID UserID    `json:"user_id"`
		NodeID string    `json:"node_id"`
		ConnID string    `json:"conn_id"`
		At     time.Time `json:"at"`
	}
	// CallLeft takes a user out of the call. Reason is one of the
	// CallLeave* reasons.
	CallLeft struct {
		CallID string    `json:"call_id"`
		UserID UserID    `json:"user_id"`
		Reason string    `json:"reason"`
		At     time.Time `json:"at"`
	}
	// CallEnded closes the call when its last participant leaves.
	// Participants counts the users who were in it at some time.
	CallEnded struct {
		CallID       string    `json:"call_id"`
		StartedAt    time.Time `json:"started_at"`
		Participants int       `json:"participants"`
		At           time.Time `json:"at"`
	}
)

func (CallStarted) EventType() string { return "CallStarted" }
func (CallJoined) EventType() string  { return "CallJoined" }
func (CallLeft) EventType() string    { return "CallLeft" }
func (CallEnded) EventType() string   { return "CallEnded" }

func init() {
	register[CallStarted]()
	register[CallJoined]()
	register[CallLeft]()
	register[CallEnded]()
}

// Reasons of CallLeft.
const (
	CallLeaveLeft         = "left"              // the user hung up
	CallLeaveDisconnected = "disconnected"      // their client connection closed
	CallLeaveFailed       = "connection_failed" // their media connection failed and did not recover
	CallLeaveNodeLost     = "node_lost"         // their node stopped renewing its lease
	CallLeaveRemoved      = "removed"           // they left the room, or were kicked or banned
)

// Call is the state of a room's ongoing call.
type Call struct {
	ID        string
	StartedAt time.Time
	// Participants maps each user in the call to where they are.
	Participants map[UserID]CallSeat
	// Attended holds every user who was in the call at some time.
	Attended map[UserID]bool
}

// CallSeat is where a participant is connected.
type CallSeat struct {
	NodeID string
	ConnID string
}

// applyCall evolves the room's call by a call event.
func (r *Room) applyCall(e Event) {
	switch e := e.(type) {
	case CallStarted:
		r.Call = &Call{ID: e.CallID, StartedAt: e.At, Participants: map[UserID]CallSeat{}, Attended: map[UserID]bool{}}
	case CallJoined:
		if r.Call != nil {
			r.Call.Participants[e.UserID] = CallSeat{NodeID: e.NodeID, ConnID: e.ConnID}
			r.Call.Attended[e.UserID] = true
		}
	case CallLeft:
		if r.Call != nil {
			delete(r.Call.Participants, e.UserID)
		}
	case CallEnded:
		r.Call = nil
	}
}

// InCall reports whether user is in the room's call.
func (r *Room) InCall(user UserID) bool {
	if r.Call == nil {
		return false
	}
	_, ok := r.Call.Participants[user]
	return ok
}

// JoinCall puts a member in the room's call on connection conn of node,
// starting the call if there is none (with newCallID). Joining again on
// the same connection changes nothing; on another, moves the user there.
func (r *Room) JoinCall(user UserID, node, conn, newCallID string, now time.Time) ([]Event, error) {
	if err := r.mustBeMember("join call", user); err != nil {
		return nil, err
	}
	if node == "" || conn == "" {
		return nil, Errorf(KindInvalid, "join call", "joining a call needs a connection")
	}
	var events []Event
	callID := newCallID
	if r.Call == nil {
		if newCallID == "" {
			return nil, Errorf(KindInvalid, "join call", "a new call needs an ID")
		}
		events = append(events, CallStarted{CallID: callID, By: user, At: now})
	} else {
		callID = r.Call.ID
		if seat, ok := r.Call.Participants[user]; ok && seat == (CallSeat{NodeID: node, ConnID: conn}) {
			return nil, nil
		}
	}
	return append(events, CallJoined{CallID: callID, UserID: user, NodeID: node, ConnID: conn, At: now}), nil
}

// LeaveCall takes user out of the room's call, for reason. If conn is not
// empty, only a participant on that connection leaves (a connection that
// closes after its user moved to another one leaves nothing). Leaving
// when not in the call changes nothing; the last one out ends the call.
// Non-members may leave too: a user removed from the room is taken out of
// its call after the fact.
func (r *Room) LeaveCall(user UserID, conn, reason string, now time.Time) ([]Event, error) {
	if err := r.mustExist("leave call"); err != nil {
		return nil, err
	}
	if r.Call == nil {
		return nil, nil
	}
	seat, ok := r.Call.Participants[user]
	if !ok || conn != "" && seat.ConnID != conn {
		return nil, nil
	}
	return r.leaveCall(user, reason, now), nil
}

// leaveCall returns the events of user leaving the call they are in.
func (r *Room) leaveCall(user UserID, reason string, now time.Time) []Event {
	events := []Event{CallLeft{CallID: r.Call.ID, UserID: user, Reason: reason, At: now}}
	if len(r.Call.Participants) == 1 {
		events = append(events, CallEnded{CallID: r.Call.ID, StartedAt: r.Call.StartedAt, Participants: len(r.Call.Attended), At: now})
	}
	return events
}

// removedFromCall returns the events of taking user out of the call when
// they stop being a member, if they are in it.
func (r *Room) removedFromCall(user UserID, now time.Time) []Event {
	if !r.InCall(user) {
		return nil
	}
	return r.leaveCall(user, CallLeaveRemoved, now)
}

// CallParticipants returns the users in the room's call, sorted.
func (r *Room) CallParticipants() []UserID {
	if r.Call == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(r.Call.Participants))
}
