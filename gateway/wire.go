package gateway

import (
	"encoding/json"
	"time"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
)

// eventFrame is the frame that carries a room event to clients.
type eventFrame struct {
	Type   string    `json:"type"` // "event"
	RoomID string    `json:"room_id"`
	Seq    uint64    `json:"seq"`
	Event  string    `json:"event"`
	Data   any       `json:"data"`
	At     time.Time `json:"at"`
}

// wireNames are the public names of room events.
var wireNames = map[string]string{
	"RoomCreated":       "room.created",
	"MemberJoined":      "member.joined",
	"MemberLeft":        "member.left",
	"MemberKicked":      "member.kicked",
	"MemberBanned":      "member.banned",
	"MemberUnbanned":    "member.unbanned",
	"MemberRoleChanged": "member.role_changed",
	"RoomRenamed":       "room.renamed",
	"InviteCodeRotated": "invite.rotated",
	"MessagePosted":     "message.posted",
	"MessageEdited":     "message.edited",
	"MessageDeleted":    "message.deleted",
	"ReactionAdded":     "reaction.added",
	"ReactionRemoved":   "reaction.removed",
	"CallStarted":       "call.started",
	"CallJoined":        "call.joined",
	"CallLeft":          "call.left",
	"CallEnded":         "call.ended",
}

// publicData returns what clients may see of a room event: everything but
// invite codes, which only owners and admins read, over REST.
func publicData(e domain.Event) any {
	switch e := e.(type) {
	case domain.RoomCreated:
		e.InviteCode = ""
		return e
	case domain.InviteCodeRotated:
		return struct {
			By domain.UserID `json:"by"`
			At time.Time     `json:"at"`
		}{e.By, e.At}
	case domain.CallJoined:
		// Where a participant is connected is the servers' business.
		return struct {
			CallID string        `json:"call_id"`
			UserID domain.UserID `json:"user_id"`
			At     time.Time     `json:"at"`
		}{e.CallID, e.UserID, e.At}
	}
	return e
}

// encodeRoomEvent returns the event frame of a recorded room event, or ok
// false if clients do not see it.
func encodeRoomEvent(re *eventstore.RecordedEvent) (room domain.RoomID, frame []byte, ev domain.Event, ok bool, err error) {
	room, isRoom := domain.RoomIDOfStream(re.Stream)
	name, known := wireNames[re.Type]
	if !isRoom || !known {
		return "", nil, nil, false, nil
	}
	ev, err = domain.Decode(re.Type, re.Data)
	if err != nil {
		return "", nil, nil, false, err
	}
	frame, err = json.Marshal(eventFrame{Type: "event", RoomID: string(room), Seq: re.Revision, Event: name, Data: publicData(ev), At: re.RecordedAt})
	return room, frame, ev, err == nil, err
}
