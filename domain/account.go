package domain

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Account settings and the operators' account actions: changing a
// password (which ends the user's other sessions), the display name and
// the avatar, and disabling, enabling and deleting an account.
//
// A deleted account keeps its stream: its events are the history of the
// rooms it was in, and its username stays reserved (a user ID is derived
// from the username, so a new account of the same name would be the same
// stream). UserDeleted is what the read models act on: they drop the
// user's username, display name and avatar (the user shows as "Deleted
// user") and its sessions end (SessionEnded events of the same append).

// MaxDisplayNameLen is the longest display name, in characters.
const MaxDisplayNameLen = 32

// Account statuses, as the read models and the admin CLI show them.
const (
	StatusActive   = "active"
	StatusDisabled = "disabled"
	StatusDeleted  = "deleted"
)

// Reasons a session ends because of its account (SessionEnded.Reason).
const (
	EndPasswordChanged = "password_changed" // the password changed: every other session ends
	EndDisabled        = "disabled"         // an operator disabled the account
	EndDeleted         = "deleted"          // the account was deleted
)

// Who changed a password (PasswordChanged.By).
const (
	ByUser     = "user"     // the user, from one of their sessions, with the old password
	ByOperator = "operator" // an operator, with confab users reset-password
)

// Avatar is a user's picture: a small square image in the blob store.
type Avatar struct {
	Digest      string `json:"digest"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
}

// Account events, in the stream user-<id>.
type (
	// PasswordChanged replaces the password's hash. The append that
	// holds it ends the user's other sessions (EndPasswordChanged): all
	// of them when an operator reset it.
	PasswordChanged struct {
		PasswordHash string    `json:"password_hash"` // argon2id, PHC string form
		By           string    `json:"by"`            // ByUser or ByOperator
		At           time.Time `json:"at"`
	}
	// DisplayNameChanged sets the name shown instead of the username;
	// "" clears it.
	DisplayNameChanged struct {
		DisplayName string    `json:"display_name"`
		At          time.Time `json:"at"`
	}
	// AvatarChanged sets the user's avatar.
	AvatarChanged struct {
		Avatar Avatar    `json:"avatar"`
		At     time.Time `json:"at"`
	}
	// AvatarRemoved takes the avatar away.
	AvatarRemoved struct {
		At time.Time `json:"at"`
	}
	// UserDisabled bars the account from signing in; the same append
	// ends its sessions (EndDisabled).
	UserDisabled struct {
		At time.Time `json:"at"`
	}
	// UserEnabled lets a disabled account sign in again.
	UserEnabled struct {
		At time.Time `json:"at"`
	}
	// UserDeleted deletes the account: it cannot sign in, its sessions
	// end (EndDeleted) and the read models drop its personal data.
	UserDeleted struct {
		At time.Time `json:"at"`
	}
)

func (PasswordChanged) EventType() string    { return "PasswordChanged" }
func (DisplayNameChanged) EventType() string { return "DisplayNameChanged" }
func (AvatarChanged) EventType() string      { return "AvatarChanged" }
func (AvatarRemoved) EventType() string      { return "AvatarRemoved" }
func (UserDisabled) EventType() string       { return "UserDisabled" }
func (UserEnabled) EventType() string        { return "UserEnabled" }
func (UserDeleted) EventType() string        { return "UserDeleted" }

func init() {
	register[PasswordChanged]()
	register[DisplayNameChanged]()
	register[AvatarChanged]()
	register[AvatarRemoved]()
	register[UserDisabled]()
	register[UserEnabled]()
	register[UserDeleted]()
}

// applyAccount applies an account event.
func (u *User) applyAccount(e Event) {
	switch e := e.(type) {
	case PasswordChanged:
		u.PasswordHash = e.PasswordHash
	case DisplayNameChanged:
		u.DisplayName = e.DisplayName
	case AvatarChanged:
		a := e.Avatar
		u.Avatar = &a
	case AvatarRemoved:
		u.Avatar = nil
	case UserDisabled:
		u.Disabled = true
	case UserEnabled:
		u.Disabled = false
	case UserDeleted:
		u.Deleted, u.Disabled, u.DisplayName, u.Avatar = true, false, "", nil
	}
}

// Status returns the account's status: StatusActive, StatusDisabled or
// StatusDeleted.
func (u *User) Status() string {
	switch {
	case u.Deleted:
		return StatusDeleted
	case u.Disabled:
		return StatusDisabled
	}
	return StatusActive
}

// CleanDisplayName trims a display name and checks it as usernames are
// checked for length: at most 32 characters of valid UTF-8, at least one
// of them visible, no control or bidirectional formatting characters. An
// empty name (after trimming) is valid: it clears the display name.
func CleanDisplayName(name string) (string, error) {
	const op = "set display name"
	name = strings.TrimSpace(name)
	if name == "" {
		return "", nil
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxDisplayNameLen {
		return "", invalid(op, "display name must be at most %d characters", MaxDisplayNameLen)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return "", invalid(op, "display name must not contain control characters")
		}
		if IsBidiControl(r) {
			return "", invalid(op, "display name must not contain bidirectional control characters (U+%04X)", r)
		}
	}
	if !HasVisible(name) {
		return "", invalid(op, "display name must contain a visible character")
	}
	return name, nil
}

// endSessions ends every session of the user but keep, oldest first.
func (u *User) endSessions(keep, reason string, now time.Time) []Event {
	var events []Event
	for _, id := range u.sessionIDs() {
		if id != keep {
			events = append(events, SessionEnded{SessionID: id, Reason: reason, At: now})
		}
	}
	return events
}

// ChangePassword sets a new password hash (the caller checked the old
// password, or is an operator) and ends every session but keep
// (EndPasswordChanged); keep is "" for an operator's reset, which ends
// them all.
func (u *User) ChangePassword(hash, keep, by string, now time.Time) ([]Event, error) {
	if err := u.mustExist("change password"); err != nil {
		return nil, err
	}
	if hash == "" || (by != ByUser && by != ByOperator) {
		return nil, invalid("change password", "a password change needs a hash and who made it")
	}
	return append([]Event{PasswordChanged{PasswordHash: hash, By: by, At: now}}, u.endSessions(keep, EndPasswordChanged, now)...), nil
}

// SetDisplayName sets (or, with "", clears) the display name; setting the
// current one changes nothing.
func (u *User) SetDisplayName(name string, now time.Time) ([]Event, error) {
	if err := u.mustExist("set display name"); err != nil {
		return nil, err
	}
	name, err := CleanDisplayName(name)
	if err != nil {
		return nil, err
	}
	if name == u.DisplayName {
		return nil, nil
	}
	return []Event{DisplayNameChanged{DisplayName: name, At: now}}, nil
}

// SetAvatar sets the avatar to a stored image; setting the current one
// changes nothing.
func (u *User) SetAvatar(a Avatar, now time.Time) ([]Event, error) {
	if err := u.mustExist("set avatar"); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(a.Digest, "sha256:") || a.Size <= 0 || !strings.HasPrefix(a.ContentType, "image/") {
		return nil, invalid("set avatar", "an avatar needs a stored image")
	}
	if u.Avatar != nil && *u.Avatar == a {
		return nil, nil
	}
	return []Event{AvatarChanged{Avatar: a, At: now}}, nil
}

// RemoveAvatar takes the avatar away; a user without one changes nothing.
func (u *User) RemoveAvatar(now time.Time) ([]Event, error) {
	if err := u.mustExist("remove avatar"); err != nil {
		return nil, err
	}
	if u.Avatar == nil {
		return nil, nil
	}
	return []Event{AvatarRemoved{At: now}}, nil
}

// Disable bars the account from signing in and ends its sessions
// (EndDisabled); a disabled account changes nothing.
func (u *User) Disable(now time.Time) ([]Event, error) {
	if err := u.mustExist("disable user"); err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, nil
	}
	return append([]Event{UserDisabled{At: now}}, u.endSessions("", EndDisabled, now)...), nil
}

// Enable lets a disabled account sign in again; an enabled one changes
// nothing.
func (u *User) Enable(now time.Time) ([]Event, error) {
	if err := u.mustExist("enable user"); err != nil {
		return nil, err
	}
	if !u.Disabled {
		return nil, nil
	}
	return []Event{UserEnabled{At: now}}, nil
}

// Delete deletes the account and ends its sessions (EndDeleted). Deleting
// a deleted account changes nothing; an account that never existed is not
// found.
func (u *User) Delete(now time.Time) ([]Event, error) {
	if !u.Exists {
		return nil, Errorf(KindNotFound, "delete user", "no such user")
	}
	if u.Deleted {
		return nil, nil
	}
	return append([]Event{UserDeleted{At: now}}, u.endSessions("", EndDeleted, now)...), nil
}

// CanSignIn returns why the account cannot start a session, or nil.
func (u *User) CanSignIn() error {
	if err := u.mustExist("sign in"); err != nil {
		return err
	}
	if u.Disabled {
		return Errorf(KindForbidden, "sign in", "this account is disabled")
	}
	return nil
}
