package commands

import (
	"time"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/internal/password"
)

// Handlers are all of the use cases, wired to one store.
type Handlers struct {
	Aggregates    *Aggregates
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
	Connect       *ConnectHandler
	JoinCall      *JoinCallHandler
	LeaveCall     *LeaveCallHandler
	// Sessions are the use cases of a user's sessions; SessionPolicy is
	// the policy every session is held to.
	TouchSession        *TouchSessionHandler
	RevokeSession       *RevokeSessionHandler
	RevokeOtherSessions *RevokeOtherSessionsHandler
	SessionPolicy       domain.SessionPolicy
}

// Config configures the handlers.
type Config struct {
	Store   EventStore
	Invites InviteLookup
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// Password is the argon2id cost; password.Default if zero.
	Password password.Params
	// Sessions bounds sessions; zero fields take the defaults.
	Sessions domain.SessionPolicy
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
	h := &Handlers{Aggregates: agg, SessionPolicy: agg.sessions}
	var errs [18]error
	h.SignUp, errs[0] = NewSignUpHandler(agg, cfg.Password)
	h.SignIn, errs[1] = NewSignInHandler(agg)
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
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return h, nil
}
