package domain

import "time"

// Notification levels of a user in a room: what counts as unread and
// what notifies them.
const (
	NotifyAll      = "all"      // every message (the default)
	NotifyMentions = "mentions" // only messages that mention them
	NotifyNone     = "none"     // nothing: the room is muted
)

// RoomNotifySet sets a user's notification level in a room, in the
// user's stream. It outlives a membership: rejoining keeps it.
type RoomNotifySet struct {
	RoomID RoomID    `json:"room_id"`
	Level  string    `json:"level"`
	At     time.Time `json:"at"`
}

func (RoomNotifySet) EventType() string { return "RoomNotifySet" }

func init() { register[RoomNotifySet]() }

// ValidateNotifyLevel checks a notification level.
func ValidateNotifyLevel(level string) error {
	switch level {
	case NotifyAll, NotifyMentions, NotifyNone:
		return nil
	}
	return invalid("set notifications", "level must be %q, %q or %q", NotifyAll, NotifyMentions, NotifyNone)
}

// NotifyLevel returns the user's notification level in room.
func (u *User) NotifyLevel(room RoomID) string {
	if l, ok := u.notify[room]; ok {
		return l
	}
	return NotifyAll
}

func (u *User) applyNotify(e RoomNotifySet) {
	if e.Level == NotifyAll {
		delete(u.notify, e.RoomID)
		return
	}
	if u.notify == nil {
		u.notify = map[RoomID]string{}
	}
	u.notify[e.RoomID] = e.Level
}

// SetNotify sets the user's notification level in a room; setting it to
// what it is changes nothing. Membership is checked by the caller against
// the room.
func (u *User) SetNotify(room RoomID, level string, now time.Time) ([]Event, error) {
	if err := u.mustExist("set notifications"); err != nil {
		return nil, err
	}
	if err := ValidateNotifyLevel(level); err != nil {
		return nil, err
	}
	if u.NotifyLevel(room) == level {
		return nil, nil
	}
	return []Event{RoomNotifySet{RoomID: room, Level: level, At: now}}, nil
}
