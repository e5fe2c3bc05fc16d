package gateway

import (
	"encoding/json"
	"time"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/google/uuid"
	"github.com/gorilla/websocket"
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

// wireNames are the public names of room events, by event type. Every
// event type of the domain is here or in userStreamEvents
// (TestEveryEventTypeHasAWireName).
var wireNames = map[string]string{
	domain.RoomCreated{}.EventType():       "room.created",
	domain.MemberJoined{}.EventType():      "member.joined",
	domain.MemberLeft{}.EventType():        "member.left",
	domain.MemberKicked{}.EventType():      "member.kicked",
	domain.MemberBanned{}.EventType():      "member.banned",
	domain.MemberUnbanned{}.EventType():    "member.unbanned",
	domain.MemberRoleChanged{}.EventType(): "member.role_changed",
	domain.RoomRenamed{}.EventType():       "room.renamed",
	domain.InviteCodeRotated{}.EventType(): "invite.rotated",
	domain.MessagePosted{}.EventType():     "message.posted",
	domain.MessageEdited{}.EventType():     "message.edited",
	domain.MessageDeleted{}.EventType():    "message.deleted",
	domain.ReactionAdded{}.EventType():     "reaction.added",
	domain.ReactionRemoved{}.EventType():   "reaction.removed",
	domain.CallStarted{}.EventType():       "call.started",
	domain.CallJoined{}.EventType():        "call.joined",
	domain.CallLeft{}.EventType():          "call.left",
	domain.CallEnded{}.EventType():         "call.ended",

	// Pins and room settings (pins.go).
	domain.MessagePinned{}.EventType():       "message.pinned",
	domain.MessageUnpinned{}.EventType():     "message.unpinned",
	domain.RoomSettingsChanged{}.EventType(): "room.settings_changed",
}

// userStreamEvents are the event types of user streams, which never reach
// clients as event frames (the hub turns some of them into presence,
// read_marker and session changes).
var userStreamEvents = []string{
	domain.UserSignedUp{}.EventType(), domain.SessionStarted{}.EventType(), domain.SessionUsed{}.EventType(),
	domain.SessionEnded{}.EventType(), domain.ConnectionOpened{}.EventType(), domain.ConnectionClosed{}.EventType(),
	domain.RoomRead{}.EventType(), domain.ThreadRead{}.EventType(), domain.AttachmentUploaded{}.EventType(), domain.AttachmentDiscarded{}.EventType(),
	domain.RoomNotifySet{}.EventType(),
	domain.PasswordChanged{}.EventType(), domain.DisplayNameChanged{}.EventType(), domain.AvatarChanged{}.EventType(),
	domain.AvatarRemoved{}.EventType(), domain.UserDisabled{}.EventType(), domain.UserEnabled{}.EventType(), domain.UserDeleted{}.EventType(),
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
	case domain.MessagePosted:
		if len(e.Attachments) > 0 {
			// Attachments as the API shows them, with their URLs.
			return struct {
				domain.MessagePosted
				Attachments []attachmentJSON `json:"attachments"`
			}{e, toAttachmentsJSON(e.Attachments)}
		}
		return e
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

// ackFrame acknowledges a request frame.
type ackFrame struct {
	Type          string `json:"type"` // "ack"
	ID            string `json:"id,omitempty"`
	RoomID        string `json:"room_id,omitempty"`
	Seq           uint64 `json:"seq,omitempty"`
	ClientMsgID   string `json:"client_msg_id,omitempty"`
	TooManyMissed bool   `json:"too_many_missed,omitempty"`
}

// errorFrame reports a failed request frame.
type errorFrame struct {
	Type    string `json:"type"` // "error"
	ID      string `json:"id,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// frameID digs the id out of a frame that will not be handled.
func frameID(data []byte) string {
	var f struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(data, &f) != nil || len(f.ID) > maxFrameID {
		return ""
	}
	return f.ID
}

// parseRoomID checks a room ID from a client.
func parseRoomID(s string) (domain.RoomID, error) {
	u, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return "", domain.Errorf(domain.KindNotFound, "", "no such room, or you are not a member")
	}
	return domain.RoomID(u.String()), nil
}

// prepare encodes a frame once for any number of connections.
func prepare(v any) (*websocket.PreparedMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return websocket.NewPreparedMessage(websocket.TextMessage, b)
}
