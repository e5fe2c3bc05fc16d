package domain

import "time"

// MaxPins is how many messages a room may have pinned at once.
const MaxPins = 50

// Pins and room settings, in the room's stream. A pinned message that is
// deleted is no longer pinned (no event: MessageDeleted unpins it).
type (
	// MessagePinned pins a live message of the room.
	MessagePinned struct {
		Seq uint64    `json:"seq"`
		By  UserID    `json:"by"`
		At  time.Time `json:"at"`
	}
	// MessageUnpinned takes a message off the room's pins.
	MessageUnpinned struct {
		Seq uint64    `json:"seq"`
		By  UserID    `json:"by"`
		At  time.Time `json:"at"`
	}
	// RoomSettingsChanged sets a group room's settings, all of them:
	// MembersCanPin lets plain members pin and unpin messages (the owner
	// and admins always may).
	RoomSettingsChanged struct {
		MembersCanPin bool      `json:"members_can_pin"`
		By            UserID    `json:"by"`
		At            time.Time `json:"at"`
	}
)

func (MessagePinned) EventType() string       { return "MessagePinned" }
func (MessageUnpinned) EventType() string     { return "MessageUnpinned" }
func (RoomSettingsChanged) EventType() string { return "RoomSettingsChanged" }

func init() {
	register[MessagePinned]()
	register[MessageUnpinned]()
	register[RoomSettingsChanged]()
}

// applyPin evolves the room by a pin or settings event.
func (r *Room) applyPin(e Event) {
	switch e := e.(type) {
	case MessagePinned:
		if r.Pins == nil {
			r.Pins = map[uint64]bool{}
		}
		r.Pins[e.Seq] = true
	case MessageUnpinned:
		delete(r.Pins, e.Seq)
	case RoomSettingsChanged:
		r.MembersCanPin = e.MembersCanPin
	}
}

// mayPin reports whether actor, a member, may pin and unpin: in a DM both
// members may; in a group room the owner and admins, and plain members if
// the room allows it.
func (r *Room) mayPin(actor UserID) bool {
	if r.Kind == KindDM {
		return true
	}
	switch r.Members[actor] {
	case RoleOwner, RoleAdmin:
		return true
	}
	return r.MembersCanPin
}

// Pin pins (pin true) or unpins a message. Pinning a pinned message or
// unpinning one that is not pinned changes nothing. A room holds at most
// MaxPins pins.
func (r *Room) Pin(actor UserID, seq uint64, pin bool, now time.Time) ([]Event, error) {
	op := "pin message"
	if !pin {
		op = "unpin message"
	}
	if err := r.mustBeMember(op, actor); err != nil {
		return nil, err
	}
	if !r.mayPin(actor) {
		return nil, Errorf(KindForbidden, op, "only the owner and admins may pin messages in this room")
	}
	if !pin {
		if !r.Pins[seq] {
			return nil, nil
		}
		return []Event{MessageUnpinned{Seq: seq, By: actor, At: now}}, nil
	}
	if _, err := r.message(op, seq); err != nil {
		return nil, err
	}
	if r.Pins[seq] {
		return nil, nil
	}
	if len(r.Pins) >= MaxPins {
		return nil, Errorf(KindConflict, op, "the room has %d pinned messages, the most it may have: unpin one first", MaxPins)
	}
	return []Event{MessagePinned{Seq: seq, By: actor, At: now}}, nil
}

// SetSettings changes a group room's settings; the owner and admins may.
// Setting them as they are changes nothing.
func (r *Room) SetSettings(actor UserID, membersCanPin bool, now time.Time) ([]Event, error) {
	if err := r.mustBeMember("room settings", actor); err != nil {
		return nil, err
	}
	if err := r.mustBeGroup("room settings"); err != nil {
		return nil, err
	}
	if role := r.Members[actor]; role != RoleOwner && role != RoleAdmin {
		return nil, Errorf(KindForbidden, "room settings", "only the owner and admins may change the room's settings")
	}
	if membersCanPin == r.MembersCanPin {
		return nil, nil
	}
	return []Event{RoomSettingsChanged{MembersCanPin: membersCanPin, By: actor, At: now}}, nil
}
