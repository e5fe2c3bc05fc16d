package domain

import (
	"crypto/sha1"
	"fmt"
	"strings"
)

// UserID identifies a user. It is derived from the lower-cased username
// (UserIDFor), so that signing up is an append to a stream that must not
// exist yet: two people can never hold the same name, whatever the case.
type UserID string

// RoomID identifies a room.
type RoomID string

// Streams of the event store.
const (
	userStreamPrefix = "user-"
	roomStreamPrefix = "room-"
)

// UserStream returns the stream of a user's account, sessions, read
// markers and connections.
func UserStream(id UserID) string { return userStreamPrefix + string(id) }

// RoomStream returns the stream of a room's timeline; its revision is the
// room's sequence number.
func RoomStream(id RoomID) string { return roomStreamPrefix + string(id) }

// RoomIDOfStream returns the room a stream belongs to, if it is a room's.
func RoomIDOfStream(stream string) (RoomID, bool) {
	id, ok := strings.CutPrefix(stream, roomStreamPrefix)
	return RoomID(id), ok
}

// UserIDOfStream returns the user a stream belongs to, if it is a user's.
func UserIDOfStream(stream string) (UserID, bool) {
	id, ok := strings.CutPrefix(stream, userStreamPrefix)
	return UserID(id), ok
}

// Name-based UUIDs (RFC 9562 version 5) in namespaces of our own.
var (
	nsUser    = [16]byte{0x6c, 0x0f, 0x5e, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e, 0x8f, 0x70, 0x81, 0x92, 0xa3, 0xb4, 0xc5, 0xd6}
	nsDM      = [16]byte{0x7d, 0x1e, 0x6f, 0x2b, 0x3c, 0x4d, 0x5e, 0x6f, 0x80, 0x71, 0x82, 0x93, 0xa4, 0xb5, 0xc6, 0xd7}
	nsMessage = [16]byte{0x8e, 0x2f, 0x70, 0x3c, 0x4d, 0x5e, 0x6f, 0x70, 0x81, 0x72, 0x83, 0x94, 0xa5, 0xb6, 0xc7, 0xd8}
)

// NameUUID returns the version 5 UUID of name in namespace ns.
func NameUUID(ns [16]byte, name string) [16]byte {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = (u[6] & 0x0f) | 0x50 // version 5
	u[8] = (u[8] & 0x3f) | 0x80 // RFC 4122 variant
	return u
}

// FormatUUID formats u in the canonical 8-4-4-4-12 form.
func FormatUUID(u [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// UserIDFor returns the ID of the user with the given username, in any case.
func UserIDFor(username string) UserID {
	return UserID(FormatUUID(NameUUID(nsUser, strings.ToLower(username))))
}

// DMRoomID returns the ID of the one direct-message room of two users,
// whichever of them asks.
func DMRoomID(a, b UserID) RoomID {
	if b < a {
		a, b = b, a
	}
	return RoomID(FormatUUID(NameUUID(nsDM, string(a)+"|"+string(b))))
}

// MessageEventID returns the event ID of a message sent to room by sender
// with the client's message ID: a retried send has the same event ID, which
// the event store stores once.
func MessageEventID(room RoomID, sender UserID, clientMsgID string) [16]byte {
	return NameUUID(nsMessage, string(room)+"|"+string(sender)+"|"+clientMsgID)
}
