package domain

import (
	"crypto/subtle"
	"slices"
	"time"
)

// Room is the state of a room, built from its stream: what its commands
// need to decide, not what its timeline shows.
type Room struct {
	ID         RoomID
	Kind       string
	Name       string
	Owner      UserID
	InviteCode string
	Exists     bool
	// Seq is the room's last sequence number (its stream revision).
	Seq     uint64
	Members map[UserID]Role
	Banned  map[UserID]bool
	// Messages holds what commands about a message need to know.
	Messages map[uint64]*MessageState
	// Call is the ongoing call, nil if none.
	Call *Call
	// Attachments maps the IDs of the attachments posted in the room to
	// the sequence number of the message that holds (or held) them: an
	// attachment goes on one message, once.
	Attachments map[string]uint64
	// Pins holds the sequence numbers of the pinned messages (pin.go).
	Pins map[uint64]bool
	// MembersCanPin lets plain members pin (RoomSettingsChanged).
	MembersCanPin bool
}

// MessageState is what a room remembers of a message.
type MessageState struct {
	Sender  UserID
	Deleted bool
	// ThreadRoot is the root's sequence number for a reply in a thread.
	ThreadRoot uint64
	// Attachments are the IDs of the message's attachments still on it.
	Attachments []string
	Reactions   map[string]map[UserID]bool // emoji -> users
}

// Apply evolves the room by one of its events, which has sequence number
// seq.
func (r *Room) Apply(seq uint64, e Event) {
	r.Seq = seq
	switch e := e.(type) {
	case RoomCreated:
		r.ID, r.Kind, r.Name, r.Owner, r.InviteCode, r.Exists = e.RoomID, e.Kind, e.Name, e.OwnerID, e.InviteCode, true
		r.Members, r.Banned, r.Messages = map[UserID]Role{}, map[UserID]bool{}, map[uint64]*MessageState{}
		for _, m := range e.Members {
			r.Members[m] = RoleMember
		}
		if e.OwnerID != "" {
			r.Members[e.OwnerID] = RoleOwner
		}
	case MemberJoined:
		r.Members[e.UserID] = RoleMember
	case MemberLeft:
		delete(r.Members, e.UserID)
	case MemberKicked:
		delete(r.Members, e.UserID)
	case MemberBanned:
		delete(r.Members, e.UserID)
		r.Banned[e.UserID] = true
	case MemberUnbanned:
		delete(r.Banned, e.UserID)
	case MemberRoleChanged:
		r.Members[e.UserID] = e.Role
	case RoomRenamed:
		r.Name = e.Name
	case InviteCodeRotated:
		r.InviteCode = e.InviteCode
	case MessagePosted:
		m := &MessageState{Sender: e.SenderID, ThreadRoot: e.ThreadRoot}
		for _, a := range e.Attachments {
			if r.Attachments == nil {
				r.Attachments = map[string]uint64{}
			}
			r.Attachments[a.ID] = seq
			m.Attachments = append(m.Attachments, a.ID)
		}
		r.Messages[seq] = m
	case MessageEdited:
		if m := r.Messages[e.Seq]; m != nil && len(e.RemovedAttachments) > 0 {
			m.Attachments = slices.DeleteFunc(m.Attachments, func(id string) bool { return slices.Contains(e.RemovedAttachments, id) })
		}
	case MessageDeleted:
		if m := r.Messages[e.Seq]; m != nil {
			m.Deleted = true
			m.Reactions = nil
			m.Attachments = nil
		}
		delete(r.Pins, e.Seq)
	case ReactionAdded:
		if m := r.Messages[e.Seq]; m != nil {
			if m.Reactions == nil {
				m.Reactions = map[string]map[UserID]bool{}
			}
			if m.Reactions[e.Emoji] == nil {
				m.Reactions[e.Emoji] = map[UserID]bool{}
			}
			m.Reactions[e.Emoji][e.UserID] = true
		}
	case ReactionRemoved:
		if m := r.Messages[e.Seq]; m != nil {
			delete(m.Reactions[e.Emoji], e.UserID)
			if len(m.Reactions[e.Emoji]) == 0 {
				delete(m.Reactions, e.Emoji)
			}
		}
	case CallStarted, CallJoined, CallLeft, CallEnded:
		r.applyCall(e)
	case MessagePinned, MessageUnpinned, RoomSettingsChanged:
		r.applyPin(e)
	}
}

// IsMember reports whether user is a member of the room.
func (r *Room) IsMember(user UserID) bool {
	_, ok := r.Members[user]
	return ok
}

// canModerate reports whether actor may act on target's membership: the
// owner on anyone but themself, an admin on plain members and non-members.
func (r *Room) canModerate(actor, target UserID) bool {
	if actor == target {
		return false
	}
	switch r.Members[actor] {
	case RoleOwner:
		return true
	case RoleAdmin:
		role, member := r.Members[target]
		return !member || role == RoleMember
	}
	return false
}

func (r *Room) mustExist(op string) error {
	if !r.Exists {
		return Errorf(KindNotFound, op, "no such room")
	}
	return nil
}

// mustBeMember returns the error a non-member gets. It does not tell them
// whether the room exists.
func (r *Room) mustBeMember(op string, user UserID) error {
	if !r.Exists || !r.IsMember(user) {
		return Errorf(KindNotFound, op, "no such room, or you are not a member")
	}
	return nil
}

func (r *Room) mustBeGroup(op string) error {
	if r.Kind != KindGroup {
		return Errorf(KindInvalid, op, "not possible in a direct-message room")
	}
	return nil
}

// CreateRoom opens a group room owned by its creator.
func (r *Room) CreateRoom(id RoomID, owner UserID, name, inviteCode string, now time.Time) ([]Event, error) {
	name, err := CleanRoomName(name)
	if err != nil {
		return nil, err
	}
	if inviteCode == "" {
		return nil, Errorf(KindInvalid, "create room", "a room needs an invite code")
	}
	if r.Exists {
		return nil, Errorf(KindConflict, "create room", "room exists")
	}
	return []Event{RoomCreated{RoomID: id, Kind: KindGroup, Name: name, OwnerID: owner, Members: []UserID{owner}, InviteCode: inviteCode, At: now}}, nil
}

// OpenDM opens the direct-message room of two users; opening it again
// changes nothing.
func (r *Room) OpenDM(a, b UserID, now time.Time) ([]Event, error) {
	if a == b {
		return nil, Errorf(KindInvalid, "open DM", "cannot open a DM with yourself")
	}
	if r.Exists {
		return nil, nil
	}
	members := []UserID{a, b}
	slices.Sort(members)
	return []Event{RoomCreated{RoomID: DMRoomID(a, b), Kind: KindDM, Members: members, At: now}}, nil
}

// Join adds user to the room if code is its current invite code.
func (r *Room) Join(user UserID, code string, now time.Time) ([]Event, error) {
	if !r.Exists || r.Kind != KindGroup || code == "" || subtle.ConstantTimeCompare([]byte(code), []byte(r.InviteCode)) != 1 {
		return nil, Errorf(KindNotFound, "join room", "invalid invite code")
	}
	if r.Banned[user] {
		return nil, Errorf(KindForbidden, "join room", "you are banned from this room")
	}
	if r.IsMember(user) {
		return nil, nil
	}
	return []Event{MemberJoined{UserID: user, At: now}}, nil
}

// Leave removes user from the room. The owner cannot leave a room.
func (r *Room) Leave(user UserID, now time.Time) ([]Event, error) {
	if err := r.mustBeMember("leave room", user); err != nil {
		return nil, err
	}
	if err := r.mustBeGroup("leave room"); err != nil {
		return nil, err
	}
	if r.Members[user] == RoleOwner {
		return nil, Errorf(KindConflict, "leave room", "the owner cannot leave the room")
	}
	return append([]Event{MemberLeft{UserID: user, At: now}}, r.removedFromCall(user, now)...), nil
}

// RemoveDeleted ends the membership of a deleted account in a group room,
// whatever its role (MemberLeft; a room whose owner is deleted has no
// owner). A DM keeps both members: the other user keeps the conversation,
// with "Deleted user". A non-member, or a DM, changes nothing.
func (r *Room) RemoveDeleted(user UserID, now time.Time) ([]Event, error) {
	if !r.Exists || !r.IsMember(user) || r.Kind != KindGroup {
		return nil, nil
	}
	return append([]Event{MemberLeft{UserID: user, At: now}}, r.removedFromCall(user, now)...), nil
}

// Kick removes a member; the owner may kick anyone, admins plain members.
func (r *Room) Kick(actor, target UserID, now time.Time) ([]Event, error) {
	if err := r.mustBeMember("kick", actor); err != nil {
		return nil, err
	}
	if err := r.mustBeGroup("kick"); err != nil {
		return nil, err
	}
	if !r.IsMember(target) {
		return nil, Errorf(KindNotFound, "kick", "not a member")
	}
	if !r.canModerate(actor, target) {
		return nil, Errorf(KindForbidden, "kick", "you may not kick this member")
	}
	return append([]Event{MemberKicked{UserID: target, By: actor, At: now}}, r.removedFromCall(target, now)...), nil
}

// Ban removes a user, member or not, and keeps them out.
func (r *Room) Ban(actor, target UserID, now time.Time) ([]Event, error) {
	if err := r.mustBeMember("ban", actor); err != nil {
		return nil, err
	}
	if err := r.mustBeGroup("ban"); err != nil {
		return nil, err
	}
	if !r.canModerate(actor, target) {
		return nil, Errorf(KindForbidden, "ban", "you may not ban this user")
	}
	if r.Banned[target] {
		return nil, nil
	}
	return append([]Event{MemberBanned{UserID: target, By: actor, At: now}}, r.removedFromCall(target, now)...), nil
}

// Unban lets a banned user join again.
func (r *Room) Unban(actor, target UserID, now time.Time) ([]Event, error) {
	if err := r.mustBeMember("unban", actor); err != nil {
		return nil, err
	}
	if err := r.mustBeGroup("unban"); err != nil {
		return nil, err
	}
	if role := r.Members[actor]; role != RoleOwner && role != RoleAdmin {
		return nil, Errorf(KindForbidden, "unban", "only the owner and admins may unban")
	}
	if !r.Banned[target] {
		return nil, nil
	}
	return []Event{MemberUnbanned{UserID: target, By: actor, At: now}}, nil
}

// SetRole makes a member an admin or a plain member. Only the owner may.
func (r *Room) SetRole(actor, target UserID, role Role, now time.Time) ([]Event, error) {
	if err := r.mustBeMember("set role", actor); err != nil {
		return nil, err
	}
	if err := r.mustBeGroup("set role"); err != nil {
		return nil, err
	}
	if role != RoleAdmin && role != RoleMember {
		return nil, Errorf(KindInvalid, "set role", "role must be admin or member")
	}
	if r.Members[actor] != RoleOwner {
		return nil, Errorf(KindForbidden, "set role", "only the owner may change roles")
	}
	current, ok := r.Members[target]
	if !ok {
		return nil, Errorf(KindNotFound, "set role", "not a member")
	}
	if current == RoleOwner {
		return nil, Errorf(KindConflict, "set role", "the owner's role cannot change")
	}
	if current == role {
		return nil, nil
	}
	return []Event{MemberRoleChanged{UserID: target, Role: role, By: actor, At: now}}, nil
}

// Rename changes the room's name; the owner and admins may.
func (r *Room) Rename(actor UserID, name string, now time.Time) ([]Event, error) {
	if err := r.mustBeMember("rename room", actor); err != nil {
		return nil, err
	}
	if err := r.mustBeGroup("rename room"); err != nil {
		return nil, err
	}
	if role := r.Members[actor]; role != RoleOwner && role != RoleAdmin {
		return nil, Errorf(KindForbidden, "rename room", "only the owner and admins may rename the room")
	}
	name, err := CleanRoomName(name)
	if err != nil {
		return nil, err
	}
	if name == r.Name {
		return nil, nil
	}
	return []Event{RoomRenamed{Name: name, By: actor, At: now}}, nil
}

// RotateInvite replaces the invite code; only the owner may.
func (r *Room) RotateInvite(actor UserID, newCode string, now time.Time) ([]Event, error) {
	if err := r.mustBeMember("rotate invite", actor); err != nil {
		return nil, err
	}
	if err := r.mustBeGroup("rotate invite"); err != nil {
		return nil, err
	}
	if r.Members[actor] != RoleOwner {
		return nil, Errorf(KindForbidden, "rotate invite", "only the owner may rotate the invite code")
	}
	if newCode == "" {
		return nil, Errorf(KindInvalid, "rotate invite", "the new invite code is empty")
	}
	return []Event{InviteCodeRotated{InviteCode: newCode, By: actor, At: now}}, nil
}

// Post posts a message. mentioned are the IDs of the users the text
// mentions (UserIDFor of ParseMentions); only members are kept.
func (r *Room) Post(sender UserID, clientMsgID, text string, replyTo uint64, mentioned []UserID, now time.Time) ([]Event, error) {
	return r.PostFiles(sender, clientMsgID, text, replyTo, mentioned, nil, now)
}

// PostFiles posts a message with attachments: files are uploads of the
// sender to this room (the caller resolved them from the sender's
// uploads), none on a message yet. The text may be empty when there is
// at least one file.
func (r *Room) PostFiles(sender UserID, clientMsgID, text string, replyTo uint64, mentioned []UserID, files []Attachment, now time.Time) ([]Event, error) {
	return r.PostInThread(sender, clientMsgID, text, replyTo, 0, mentioned, files, now)
}

// PostInThread is PostFiles that, if threadRoot is not 0, posts the
// message as a reply in the thread of the message threadRoot: a live
// message of the room that is not itself a reply in a thread.
func (r *Room) PostInThread(sender UserID, clientMsgID, text string, replyTo, threadRoot uint64, mentioned []UserID, files []Attachment, now time.Time) ([]Event, error) {
	if err := r.mustBeMember("post message", sender); err != nil {
		return nil, err
	}
	if err := ValidateClientMsgID(clientMsgID); err != nil {
		return nil, err
	}
	if text != "" || len(files) == 0 {
		if err := ValidateText(text); err != nil {
			return nil, err
		}
	}
	if err := r.checkAttachments(files); err != nil {
		return nil, err
	}
	if replyTo != 0 {
		if m := r.Messages[replyTo]; m == nil {
			return nil, Errorf(KindInvalid, "post message", "reply_to %d is not a message of this room", replyTo)
		}
	}
	if threadRoot != 0 {
		root := r.Messages[threadRoot]
		switch {
		case root == nil:
			return nil, Errorf(KindNotFound, "post message", "thread_root %d is not a message of this room", threadRoot)
		case root.Deleted:
			return nil, Errorf(KindInvalid, "post message", "message %d is deleted: it cannot start a thread", threadRoot)
		case root.ThreadRoot != 0:
			return nil, Errorf(KindInvalid, "post message", "message %d is a reply in a thread: reply in its thread (%d)", threadRoot, root.ThreadRoot)
		}
	}
	return []Event{MessagePosted{SenderID: sender, ClientMsgID: clientMsgID, Text: text, ReplyTo: replyTo, ThreadRoot: threadRoot, Mentions: r.members(mentioned), Attachments: files, At: now}}, nil
}

// ThreadRoot returns the root of the thread seq names: seq itself if it
// is a message that is not a reply in a thread, else a not-found error.
// A deleted root still names its thread (its replies stay readable).
func (r *Room) ThreadRoot(op string, seq uint64) error {
	m := r.Messages[seq]
	if m == nil || m.ThreadRoot != 0 {
		return Errorf(KindNotFound, op, "no thread %d", seq)
	}
	return nil
}

// members returns those of ids that are members, each once.
func (r *Room) members(ids []UserID) []UserID {
	var out []UserID
	for _, id := range ids {
		if r.IsMember(id) && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// message returns the live message seq for op, or an error.
func (r *Room) message(op string, seq uint64) (*MessageState, error) {
	m := r.Messages[seq]
	if m == nil || m.Deleted {
		return nil, Errorf(KindNotFound, op, "no message %d", seq)
	}
	return m, nil
}

// Edit replaces the text of one of the actor's own messages.
func (r *Room) Edit(actor UserID, seq uint64, text string, mentioned []UserID, now time.Time) ([]Event, error) {
	return r.EditFiles(actor, seq, text, mentioned, nil, false, now)
}

// EditFiles is Edit that, if setFiles, also keeps only the attachments
// keep lists (a subset of the message's), taking the others off. The
// text may be empty when an attachment stays.
func (r *Room) EditFiles(actor UserID, seq uint64, text string, mentioned []UserID, keep []string, setFiles bool, now time.Time) ([]Event, error) {
	if err := r.mustBeMember("edit message", actor); err != nil {
		return nil, err
	}
	m, err := r.message("edit message", seq)
	if err != nil {
		return nil, err
	}
	if m.Sender != actor {
		return nil, Errorf(KindForbidden, "edit message", "you may edit only your own messages")
	}
	var removed []string
	if setFiles {
		if removed, err = removedAttachments(m, keep); err != nil {
			return nil, err
		}
	}
	if text != "" || len(m.Attachments) == len(removed) {
		if err := ValidateText(text); err != nil {
			return nil, err
		}
	}
	return []Event{MessageEdited{Seq: seq, Text: text, Mentions: r.members(mentioned), RemovedAttachments: removed, By: actor, At: now}}, nil
}

// Delete deletes a message: its sender may, and in a group room the owner
// and admins may delete any. Deleting a deleted message changes nothing.
func (r *Room) Delete(actor UserID, seq uint64, now time.Time) ([]Event, error) {
	if err := r.mustBeMember("delete message", actor); err != nil {
		return nil, err
	}
	m := r.Messages[seq]
	if m == nil {
		return nil, Errorf(KindNotFound, "delete message", "no message %d", seq)
	}
	if m.Sender != actor {
		if role := r.Members[actor]; r.Kind != KindGroup || role != RoleOwner && role != RoleAdmin {
			return nil, Errorf(KindForbidden, "delete message", "you may delete only your own messages")
		}
	}
	if m.Deleted {
		return nil, nil
	}
	return []Event{MessageDeleted{Seq: seq, ThreadRoot: m.ThreadRoot, By: actor, At: now}}, nil
}

// React adds (add true) or removes a reaction of the actor to a message.
// Adding a present reaction or removing an absent one changes nothing.
// A reaction that is not an emoji of the set (from before reactions had
// to be) can still be removed by its user.
func (r *Room) React(actor UserID, seq uint64, emoji string, add bool, now time.Time) ([]Event, error) {
	if err := r.mustBeMember("react", actor); err != nil {
		return nil, err
	}
	invalidEmoji := ValidateEmoji(emoji)
	if invalidEmoji != nil && add {
		return nil, invalidEmoji
	}
	m, err := r.message("react", seq)
	if err != nil {
		return nil, err
	}
	has := m.Reactions[emoji][actor]
	if invalidEmoji != nil && !has {
		return nil, invalidEmoji
	}
	switch {
	case add && !has:
		return []Event{ReactionAdded{Seq: seq, Emoji: emoji, UserID: actor, At: now}}, nil
	case !add && has:
		return []Event{ReactionRemoved{Seq: seq, Emoji: emoji, UserID: actor, At: now}}, nil
	}
	return nil, nil
}
