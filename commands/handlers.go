package commands

import (
	"runtime"
	"time"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/internal/password"
	"github.com/confabhq/confab/internal/throttle"
)

// Handlers are all of the use cases, wired to one store.
type Handlers struct {
	Aggregates *Aggregates
	// Hashing is the limiter every password hash and check runs in.
	Hashing       *password.Limiter
	SignUp        *SignUpHandler
	SignIn        *SignInHandler
	SignOut       *SignOutHandler
	CreateRoom    *CreateRoomHandler
	JoinRoom      *JoinRoomHandler
	ManageRoom    *ManageRoomHandler
	OpenDM        *OpenDMHandler
	PostMessage   *PostMessageHandler
	EditMessage   *EditMessageHandler
	DeleteMessage *DeleteMessageHandler
	React         *ReactHandler
	MarkRead      *MarkReadHandler
	// MarkThreadRead moves read markers in threads.
	MarkThreadRead *MarkThreadReadHandler
	// Pin pins messages, SetRoomSettings sets who may, SetNotify sets a
	// member's notification level.
	Pin             *PinHandler
	SetRoomSettings *SetRoomSettingsHandler
	SetNotify       *SetNotifyHandler
	Connect         *ConnectHandler
	JoinCall        *JoinCallHandler
	LeaveCall       *LeaveCallHandler
	// RecordUpload and DiscardAttachment record uploads and their end.
	RecordUpload      *RecordUploadHandler
	DiscardAttachment *DiscardAttachmentHandler
	// Sessions are the use cases of a user's sessions; SessionPolicy is
	// the policy every session is held to.
	TouchSession        *TouchSessionHandler
	RevokeSession       *RevokeSessionHandler
	RevokeOtherSessions *RevokeOtherSessionsHandler
	SessionPolicy       domain.SessionPolicy
	// Account settings (the user's) and account actions (the
	// operators', confab users).
	ChangePassword *ChangePasswordHandler
	SetDisplayName *SetDisplayNameHandler
	SetAvatar      *SetAvatarHandler
	ResetPassword  *ResetPasswordHandler
	SetUserEnabled *SetUserEnabledHandler
	// DeleteUser is nil if Config has no Memberships (nor Invites that
	// list them).
	DeleteUser *DeleteUserHandler
}

// Config configures the handlers.
type Config struct {
	Store   EventStore
	Invites InviteLookup
	// Memberships lists a user's rooms, for DeleteUser; Invites if nil
	// and it has the method (the read models do).
	Memberships MembershipLookup
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// Password is the argon2id cost; password.Default if zero.
	Password password.Params
	// HashConcurrency is how many password hashes may run at once
	// (GOMAXPROCS if 0), and HashQueue how many more may wait for one,
	// each at most HashWait (4 × HashConcurrency and 1 s if 0): the rest
	// are answered unavailable.
	HashConcurrency, HashQueue int
	HashWait                   time.Duration
	// SignUpsPerHour is how many sign-ups one IP address may make an
	// hour, sustained, and SignUpBurst how many at once
	// (DefaultSignUpsPerHour and DefaultSignUpBurst if 0; a negative
	// SignUpsPerHour turns the throttle off).
	SignUpsPerHour float64
	SignUpBurst    int
	// Sessions bounds sessions; zero fields take the defaults.
	Sessions domain.SessionPolicy
}

// Sign-up throttle defaults.
const (
	DefaultSignUpsPerHour = 30
	DefaultSignUpBurst    = 30
)

// newHashing returns the limiter cfg asks for.
func newHashing(cfg Config) *password.Limiter {
	n := cfg.HashConcurrency
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	q := cfg.HashQueue
	if q <= 0 {
		q = 4 * n
	}
	wait := cfg.HashWait
	if wait <= 0 {
		wait = time.Second
	}
	return password.NewLimiter(n, q, wait)
}

// newSignUpBuckets returns the per-IP sign-up throttle cfg asks for, or
// nil for none.
func newSignUpBuckets(cfg Config, now func() time.Time) *throttle.Buckets {
	perHour, burst := cfg.SignUpsPerHour, cfg.SignUpBurst
	if perHour < 0 {
		return nil
	}
	if perHour == 0 {
		perHour = DefaultSignUpsPerHour
	}
	if burst <= 0 {
		burst = DefaultSignUpBurst
	}
	return throttle.NewBuckets(perHour/3600, burst, now, 0)
}

// New wires every handler.
func New(cfg Config) (*Handlers, error) {
	agg, err := NewAggregates(cfg.Store, cfg.Now)
	if err != nil {
		return nil, err
	}
	if err := cfg.Sessions.Validate(); err != nil {
		return nil, err
	}
	agg.sessions = cfg.Sessions.WithDefaults()
	if cfg.Password == (password.Params{}) {
		cfg.Password = password.Default
	}
	h := &Handlers{Aggregates: agg, Hashing: newHashing(cfg), SessionPolicy: agg.sessions}
	if cfg.Memberships == nil {
		cfg.Memberships, _ = cfg.Invites.(MembershipLookup)
	}
	var errs [30]error
	h.SignUp, errs[0] = NewSignUpHandler(agg, cfg.Password, h.Hashing, newSignUpBuckets(cfg, agg.now))
	h.SignIn, errs[1] = NewSignInHandler(agg, h.Hashing, cfg.Password)
	h.SignOut, errs[2] = NewSignOutHandler(agg)
	h.CreateRoom, errs[3] = NewCreateRoomHandler(agg)
	h.JoinRoom, errs[4] = NewJoinRoomHandler(agg, cfg.Invites)
	h.ManageRoom, errs[5] = NewManageRoomHandler(agg)
	h.OpenDM, errs[6] = NewOpenDMHandler(agg)
	h.PostMessage, errs[7] = NewPostMessageHandler(agg)
	h.EditMessage, errs[8] = NewEditMessageHandler(agg)
	h.DeleteMessage, errs[9] = NewDeleteMessageHandler(agg)
	h.React, errs[10] = NewReactHandler(agg)
	h.MarkRead, errs[11] = NewMarkReadHandler(agg)
	h.Connect, errs[12] = NewConnectHandler(agg)
	h.JoinCall, errs[13] = NewJoinCallHandler(agg)
	h.LeaveCall, errs[14] = NewLeaveCallHandler(agg)
	h.TouchSession, errs[15] = NewTouchSessionHandler(agg)
	h.RevokeSession, errs[16] = NewRevokeSessionHandler(agg)
	h.RevokeOtherSessions, errs[17] = NewRevokeOtherSessionsHandler(agg)
	h.RecordUpload, errs[18] = NewRecordUploadHandler(agg)
	h.DiscardAttachment, errs[19] = NewDiscardAttachmentHandler(agg)
	h.ChangePassword, errs[20] = NewChangePasswordHandler(agg, cfg.Password, h.Hashing)
	h.SetDisplayName, errs[21] = NewSetDisplayNameHandler(agg)
	h.SetAvatar, errs[22] = NewSetAvatarHandler(agg)
	h.ResetPassword, errs[23] = NewResetPasswordHandler(agg, cfg.Password, h.Hashing)
	h.SetUserEnabled, errs[24] = NewSetUserEnabledHandler(agg)
	if cfg.Memberships != nil {
		h.DeleteUser, errs[25] = NewDeleteUserHandler(agg, cfg.Memberships)
	}
	h.MarkThreadRead, errs[26] = NewMarkThreadReadHandler(agg)
	h.Pin, errs[27] = NewPinHandler(agg)
	h.SetRoomSettings, errs[28] = NewSetRoomSettingsHandler(agg)
	h.SetNotify, errs[29] = NewSetNotifyHandler(agg)
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return h, nil
}
