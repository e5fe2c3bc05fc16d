package domain

import "time"

// User is the state of an account, built from its stream.
type User struct {
	ID           UserID
	Username     string
	PasswordHash string
	Exists       bool
	// Sessions maps active session IDs to their token hashes.
	Sessions map[string]string
	// ReadMarkers maps rooms to the last sequence number read.
	ReadMarkers map[RoomID]uint64
	// Conns maps open connection IDs to their nodes.
	Conns map[string]string
}

// Apply evolves the user by one of its events.
func (u *User) Apply(e Event) {
	switch e := e.(type) {
	case UserSignedUp:
		u.ID, u.Username, u.PasswordHash, u.Exists = e.UserID, e.Username, e.PasswordHash, true
	case SessionStarted:
		if u.Sessions == nil {
			u.Sessions = map[string]string{}
		}
		u.Sessions[e.SessionID] = e.TokenHash
	case SessionEnded:
		delete(u.Sessions, e.SessionID)
	case RoomRead:
		if u.ReadMarkers == nil {
			u.ReadMarkers = map[RoomID]uint64{}
		}
		u.ReadMarkers[e.RoomID] = max(u.ReadMarkers[e.RoomID], e.Seq)
	case ConnectionOpened:
		if u.Conns == nil {
			u.Conns = map[string]string{}
		}
		u.Conns[e.ConnID] = e.NodeID
	case ConnectionClosed:
		delete(u.Conns, e.ConnID)
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
	if !u.Exists {
		return Errorf(KindNotFound, op, "no such user")
	}
	return nil
}

// StartSession signs the user in with a new session.
func (u *User) StartSession(sessionID, tokenHash string, now time.Time) ([]Event, error) {
	if err := u.mustExist("sign in"); err != nil {
		return nil, err
	}
	if sessionID == "" || tokenHash == "" {
		return nil, Errorf(KindInvalid, "sign in", "session needs an ID and a token hash")
	}
	if _, ok := u.Sessions[sessionID]; ok {
		return nil, nil // a retry
	}
	return []Event{SessionStarted{SessionID: sessionID, TokenHash: tokenHash, At: now}}, nil
}

// EndSession signs a session out. Ending an ended session changes nothing.
func (u *User) EndSession(sessionID string, now time.Time) ([]Event, error) {
	if err := u.mustExist("sign out"); err != nil {
		return nil, err
	}
	if _, ok := u.Sessions[sessionID]; !ok {
		return nil, nil
	}
	return []Event{SessionEnded{SessionID: sessionID, At: now}}, nil
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
