package domain

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Event is something that happened, stored in a stream. Its type name is
// its stored type; its JSON form is its stored data.
type Event interface {
	EventType() string
}

// Account events, in the stream user-<id>.
type (
	// UserSignedUp opens an account.
	UserSignedUp struct {
		UserID       UserID    `json:"user_id"`
		Username     string    `json:"username"`
		PasswordHash string    `json:"password_hash"` // argon2id, PHC string form
		At           time.Time `json:"at"`
	}
	// SessionStarted records a sign-in. Only the token's hash is stored,
	// with what the user needs to recognise the session in a list of
	// their sessions: the client's user agent (at most MaxUserAgentLen
	// bytes) and address, when the sign-in came with them.
	SessionStarted struct {
		SessionID string    `json:"session_id"`
		TokenHash string    `json:"token_hash"` // hex SHA-256 of the token
		UserAgent string    `json:"user_agent,omitempty"`
		IP        string    `json:"ip,omitempty"`
		At        time.Time `json:"at"`
	}
	// SessionUsed records that a session authenticated a request: the
	// start of its idle time. It is appended at most once per touch
	// interval per session (see SessionPolicy), not per request.
	SessionUsed struct {
		SessionID string    `json:"session_id"`
		At        time.Time `json:"at"`
	}
	// SessionEnded records the end of a session: the token stops
	// working. Reason is one of the End* reasons; empty in events stored
	// before reasons existed, which were all sign-outs.
	SessionEnded struct {
		SessionID string    `json:"session_id"`
		Reason    string    `json:"reason,omitempty"`
		At        time.Time `json:"at"`
	}
	// RoomRead moves the user's read marker in a room forward.
	RoomRead struct {
		RoomID RoomID    `json:"room_id"`
		Seq    uint64    `json:"seq"`
		At     time.Time `json:"at"`
	}
	// ThreadRead moves the user's read marker in a thread (of room
	// RoomID, whose root message is Root) forward to the reply Seq.
	ThreadRead struct {
		RoomID RoomID    `json:"room_id"`
		Root   uint64    `json:"root"`
		Seq    uint64    `json:"seq"`
		At     time.Time `json:"at"`
	}
	// ConnectionOpened records a client connection (a browser tab) on a
	// node. A user with at least one open connection is online.
	ConnectionOpened struct {
		ConnID string    `json:"conn_id"`
		NodeID string    `json:"node_id"`
		At     time.Time `json:"at"`
	}
	// ConnectionClosed records the end of a connection. Reason is "closed"
	// when the node saw it end, "node_lost" when a reaper ended it because
	// its node stopped renewing its lease.
	ConnectionClosed struct {
		ConnID string    `json:"conn_id"`
		Reason string    `json:"reason"`
		At     time.Time `json:"at"`
	}
)

// Room kinds.
const (
	KindGroup = "group" // a room joined by invite code
	KindDM    = "dm"    // the direct-message room of two users
)

// Member roles.
type Role string

// Roles, from most to least powerful.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
)

// Room events, in the stream room-<id>. The stream revision of each is its
// sequence number in the room.
type (
	// RoomCreated opens a room. A group room's creator is its owner; a DM
	// room has its two members from the start and no owner.
	RoomCreated struct {
		RoomID     RoomID    `json:"room_id"`
		Kind       string    `json:"kind"`
		Name       string    `json:"name"`
		OwnerID    UserID    `json:"owner_id,omitempty"`
		Members    []UserID  `json:"members"`
		InviteCode string    `json:"invite_code,omitempty"`
		At         time.Time `json:"at"`
	}
	// MemberJoined adds a member by invite code.
	MemberJoined struct {
		UserID UserID    `json:"user_id"`
		At     time.Time `json:"at"`
	}
	// MemberLeft records a member leaving.
	MemberLeft struct {
		UserID UserID    `json:"user_id"`
		At     time.Time `json:"at"`
	}
	// MemberKicked removes a member; they may join again with a code.
	MemberKicked struct {
		UserID UserID    `json:"user_id"`
		By     UserID    `json:"by"`
		At     time.Time `json:"at"`
	}
	// MemberBanned removes a user (member or not) and bars them from
	// joining until unbanned.
	MemberBanned struct {
		UserID UserID    `json:"user_id"`
		By     UserID    `json:"by"`
		At     time.Time `json:"at"`
	}
	// MemberUnbanned lifts a ban.
	MemberUnbanned struct {
		UserID UserID    `json:"user_id"`
		By     UserID    `json:"by"`
		At     time.Time `json:"at"`
	}
	// MemberRoleChanged makes a member an admin or a plain member again.
	MemberRoleChanged struct {
		UserID UserID    `json:"user_id"`
		Role   Role      `json:"role"`
		By     UserID    `json:"by"`
		At     time.Time `json:"at"`
	}
	// RoomRenamed changes a room's name.
	RoomRenamed struct {
		Name string    `json:"name"`
		By   UserID    `json:"by"`
		At   time.Time `json:"at"`
	}
	// InviteCodeRotated replaces the invite code; the old one stops working.
	InviteCodeRotated struct {
		InviteCode string    `json:"invite_code"`
		By         UserID    `json:"by"`
		At         time.Time `json:"at"`
	}
	// MessagePosted is a message. Its sequence number identifies it.
	MessagePosted struct {
		SenderID    UserID `json:"sender_id"`
		ClientMsgID string `json:"client_msg_id"`
		Text        string `json:"text"`
		ReplyTo     uint64 `json:"reply_to,omitempty"`
		// ThreadRoot is, for a reply in a thread, the sequence number of
		// the thread's root message; 0 for a message of the timeline.
		ThreadRoot uint64   `json:"thread_root,omitempty"`
		Mentions   []UserID `json:"mentions,omitempty"`
		// Attachments are the files shared with the message, in the order
		// they were given.
		Attachments []Attachment `json:"attachments,omitempty"`
		At          time.Time    `json:"at"`
	}
	// MessageEdited replaces a message's text.
	MessageEdited struct {
		Seq      uint64   `json:"seq"`
		Text     string   `json:"text"`
		Mentions []UserID `json:"mentions,omitempty"`
		// RemovedAttachments are the IDs of attachments the edit takes off
		// the message; the others stay.
		RemovedAttachments []string  `json:"removed_attachments,omitempty"`
		By                 UserID    `json:"by"`
		At                 time.Time `json:"at"`
	}
	// MessageDeleted removes a message's content. ThreadRoot is the
	// thread of a deleted reply (its MessagePosted's ThreadRoot), so that
	// read models and clients update the root without looking it up.
	MessageDeleted struct {
		Seq        uint64    `json:"seq"`
		ThreadRoot uint64    `json:"thread_root,omitempty"`
		By         UserID    `json:"by"`
		At         time.Time `json:"at"`
	}
	// ReactionAdded adds a user's reaction to a message.
	ReactionAdded struct {
		Seq    uint64    `json:"seq"`
		Emoji  string    `json:"emoji"`
		UserID UserID    `json:"user_id"`
		At     time.Time `json:"at"`
	}
	// ReactionRemoved takes a user's reaction back.
	ReactionRemoved struct {
		Seq    uint64    `json:"seq"`
		Emoji  string    `json:"emoji"`
		UserID UserID    `json:"user_id"`
		At     time.Time `json:"at"`
	}
)

// Attachment is a file shared with a message: a blob in the blob store,
// named by its ID, with what the server found out about it at upload.
type Attachment struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Size        int64  `json:"size"`
	ContentType string `json:"content_type"`
	// Width and Height are an image's or a video's dimensions in pixels,
	// zero when unknown.
	Width  int `json:"width,omitempty"`
	Height int `json:"height,omitempty"`
	// Digest is "sha256:" and the hex SHA-256 of the stored bytes.
	Digest string `json:"digest"`
}

func (UserSignedUp) EventType() string      { return "UserSignedUp" }
func (SessionStarted) EventType() string    { return "SessionStarted" }
func (SessionEnded) EventType() string      { return "SessionEnded" }
func (SessionUsed) EventType() string       { return "SessionUsed" }
func (RoomRead) EventType() string          { return "RoomRead" }
func (ThreadRead) EventType() string        { return "ThreadRead" }
func (ConnectionOpened) EventType() string  { return "ConnectionOpened" }
func (ConnectionClosed) EventType() string  { return "ConnectionClosed" }
func (RoomCreated) EventType() string       { return "RoomCreated" }
func (MemberJoined) EventType() string      { return "MemberJoined" }
func (MemberLeft) EventType() string        { return "MemberLeft" }
func (MemberKicked) EventType() string      { return "MemberKicked" }
func (MemberBanned) EventType() string      { return "MemberBanned" }
func (MemberUnbanned) EventType() string    { return "MemberUnbanned" }
func (MemberRoleChanged) EventType() string { return "MemberRoleChanged" }
func (RoomRenamed) EventType() string       { return "RoomRenamed" }
func (InviteCodeRotated) EventType() string { return "InviteCodeRotated" }
func (MessagePosted) EventType() string     { return "MessagePosted" }
func (MessageEdited) EventType() string     { return "MessageEdited" }
func (MessageDeleted) EventType() string    { return "MessageDeleted" }
func (ReactionAdded) EventType() string     { return "ReactionAdded" }
func (ReactionRemoved) EventType() string   { return "ReactionRemoved" }

// decoders decode the data of each stored type.
var decoders = map[string]func(data []byte) (Event, error){}

// register makes the event type E decodable.
func register[E Event]() {
	var zero E
	decoders[zero.EventType()] = func(data []byte) (Event, error) {
		var e E
		err := json.Unmarshal(data, &e)
		return e, err
	}
}

func init() {
	register[UserSignedUp]()
	register[SessionStarted]()
	register[SessionEnded]()
	register[SessionUsed]()
	register[RoomRead]()
	register[ThreadRead]()
	register[ConnectionOpened]()
	register[ConnectionClosed]()
	register[RoomCreated]()
	register[MemberJoined]()
	register[MemberLeft]()
	register[MemberKicked]()
	register[MemberBanned]()
	register[MemberUnbanned]()
	register[MemberRoleChanged]()
	register[RoomRenamed]()
	register[InviteCodeRotated]()
	register[MessagePosted]()
	register[MessageEdited]()
	register[MessageDeleted]()
	register[ReactionAdded]()
	register[ReactionRemoved]()
}

// Decode returns the event of the stored type typ with JSON data, as a
// value of one of this package's event types.
func Decode(typ string, data []byte) (Event, error) {
	decode, ok := decoders[typ]
	if !ok {
		return nil, fmt.Errorf("decode event: unknown type %q", typ)
	}
	e, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", typ, err)
	}
	return e, nil
}

// Encode returns an event's stored type and data.
func Encode(e Event) (typ string, data []byte, err error) {
	data, err = json.Marshal(e)
	if err != nil {
		return "", nil, fmt.Errorf("encode %s: %w", e.EventType(), err)
	}
	return e.EventType(), data, nil
}

// EventTypes returns the stored type of every event this package
// decodes, sorted: what tables keyed by event type must cover.
func EventTypes() []string { return slices.Sorted(maps.Keys(decoders)) }

// KnownType reports whether typ is a stored event type of this package.
func KnownType(typ string) bool {
	_, ok := decoders[typ]
	return ok
}
