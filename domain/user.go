package domain

import "time"

// User is the state of an account, built from its stream.
type User struct {
	ID           UserID
	Username     string
	PasswordHash string
	Exists       bool
	// DisplayName is the name shown instead of the username, "" if none;
	// Avatar is the user's picture, nil if none.
	DisplayName string
	Avatar      *Avatar
	// Disabled accounts cannot sign in; Deleted ones are gone (account.go).
	Disabled, Deleted bool
	// Sessions maps the IDs of sessions that have not ended to them;
	// some may have expired (see SessionPolicy).
	Sessions map[string]Session
	// sessionsStarted counts the SessionStarted events applied: the
	// order of sessions that started at the same time.
	sessionsStarted uint64
	// ReadMarkers maps rooms to the last sequence number read.
	ReadMarkers map[RoomID]uint64
	// ThreadMarkers maps threads to the last sequence number read in them.
	ThreadMarkers map[ThreadKey]uint64
	// Conns maps open connection IDs to their nodes.
	Conns map[string]string
	// uploads maps the IDs of the user's attachments that are not
	// discarded to them; uploadBytes is the sum of their sizes.
	uploads     map[string]Upload
	uploadBytes int64
	// notify maps rooms to the user's notification level there, when it
	// is not NotifyAll (notify.go).
	notify map[RoomID]string
}

// Apply evolves the user by one of its events.
func (u *User) Apply(e Event) {
	switch e := e.(type) {
	case UserSignedUp:
		u.ID, u.Username, u.PasswordHash, u.Exists = e.UserID, e.Username, e.PasswordHash, true
	case SessionStarted, SessionUsed, SessionEnded:
		u.applySession(e)
	case RoomRead:
		if u.ReadMarkers == nil {
			u.ReadMarkers = map[RoomID]uint64{}
		}
		u.ReadMarkers[e.RoomID] = max(u.ReadMarkers[e.RoomID], e.Seq)
	case ThreadRead:
		if u.ThreadMarkers == nil {
			u.ThreadMarkers = map[ThreadKey]uint64{}
		}
		k := ThreadKey{e.RoomID, e.Root}
		u.ThreadMarkers[k] = max(u.ThreadMarkers[k], e.Seq)
	case ConnectionOpened:
		if u.Conns == nil {
			u.Conns = map[string]string{}
		}
		u.Conns[e.ConnID] = e.NodeID
	case ConnectionClosed:
		delete(u.Conns, e.ConnID)
	case AttachmentUploaded, AttachmentDiscarded:
		u.applyUpload(e)
	case RoomNotifySet:
		u.applyNotify(e)
	case PasswordChanged, DisplayNameChanged, AvatarChanged, AvatarRemoved, UserDisabled, UserEnabled, UserDeleted:
		u.applyAccount(e)
	}
}

// SignUp opens the account: the user's stream must be empty (the store
// checks that too: sign-up appends expecting no stream).
func (u *User) SignUp(username, passwordHash string, now time.Time) ([]Event, error) {
	if err := ValidateUsername(username); err != nil {
		return nil, err
	}
	if u.Exists {
		return nil, Errorf(KindConflict, "sign up", "username %q is taken", username)
	}
	return []Event{UserSignedUp{UserID: UserIDFor(username), Username: username, PasswordHash: passwordHash, At: now}}, nil
}

func (u *User) mustExist(op string) error {
	if !u.Exists || u.Deleted {
		return Errorf(KindNotFound, op, "no such user")
	}
	return nil
}

// MarkRead moves the read marker of a room forward; moving it back
// changes nothing. Membership is checked by the caller against the room.
func (u *User) MarkRead(room RoomID, seq uint64, now time.Time) ([]Event, error) {
	if err := u.mustExist("mark read"); err != nil {
		return nil, err
	}
	if seq <= u.ReadMarkers[room] {
		return nil, nil
	}
	return []Event{RoomRead{RoomID: room, Seq: seq, At: now}}, nil
}

// ThreadKey names a thread: its room and its root's sequence number.
type ThreadKey struct {
	Room RoomID
	Root uint64
}

// MarkThreadRead moves the read marker of a thread forward; moving it
// back changes nothing. The caller checks membership and the thread
// against the room.
func (u *User) MarkThreadRead(room RoomID, root, seq uint64, now time.Time) ([]Event, error) {
	if err := u.mustExist("mark thread read"); err != nil {
		return nil, err
	}
	if seq <= u.ThreadMarkers[ThreadKey{room, root}] {
		return nil, nil
	}
	return []Event{ThreadRead{RoomID: room, Root: root, Seq: seq, At: now}}, nil
}

// OpenConnection records a new connection of the user on a node.
func (u *User) OpenConnection(connID, nodeID string, now time.Time) ([]Event, error) {
	if err := u.mustExist("connect"); err != nil {
		return nil, err
	}
	if _, ok := u.Conns[connID]; ok {
		return nil, nil
	}
	return []Event{ConnectionOpened{ConnID: connID, NodeID: nodeID, At: now}}, nil
}

// CloseConnection records the end of a connection; closing a closed or
// unknown connection changes nothing.
func (u *User) CloseConnection(connID, reason string, now time.Time) ([]Event, error) {
	if _, ok := u.Conns[connID]; !ok {
		return nil, nil
	}
	return []Event{ConnectionClosed{ConnID: connID, Reason: reason, At: now}}, nil
}
