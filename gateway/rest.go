package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/confabhq/confab/commands"
	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/projections"
	"github.com/google/uuid"
)

func (g *Gateway) routes() {
	m := g.mux
	m.HandleFunc("GET /healthz", g.healthz)
	m.HandleFunc("GET /readyz", g.readyz)
	m.HandleFunc("POST /api/v1/auth/signup", g.handle(g.signUp))
	m.HandleFunc("POST /api/v1/auth/signin", g.handle(g.signIn))
	m.HandleFunc("POST /api/v1/auth/signout", g.authed(g.signOut))
	m.HandleFunc("GET /api/v1/me", g.authed(g.me))
	m.HandleFunc("PATCH /api/v1/me", g.authed(g.updateMe))
	m.HandleFunc("POST /api/v1/me/password", g.authed(g.changePassword))
	m.HandleFunc("PUT /api/v1/me/avatar", g.authed(g.putAvatar))
	m.HandleFunc("DELETE /api/v1/me/avatar", g.authed(g.deleteAvatar))
	m.HandleFunc("GET /api/v1/avatars/{id}", g.authed(g.getAvatar))
	m.HandleFunc("GET /api/v1/sessions", g.authed(g.listSessions))
	m.HandleFunc("DELETE /api/v1/sessions/{id}", g.authed(g.revokeSession))
	m.HandleFunc("POST /api/v1/sessions/revoke-others", g.authed(g.revokeOtherSessions))
	m.HandleFunc("GET /api/v1/users/{id}", g.authed(g.getUser))
	m.HandleFunc("GET /api/v1/users/by-name/{username}", g.authed(g.getUserByName))
	m.HandleFunc("POST /api/v1/dms", g.authed(g.openDM))
	m.HandleFunc("GET /api/v1/rooms", g.authed(g.listRooms))
	m.HandleFunc("POST /api/v1/rooms", g.authed(g.createRoom))
	m.HandleFunc("POST /api/v1/rooms/join", g.authed(g.joinRoom))
	m.HandleFunc("GET /api/v1/rooms/{id}", g.authed(g.member(g.getRoom)))
	m.HandleFunc("PATCH /api/v1/rooms/{id}", g.authed(g.member(g.renameRoom)))
	m.HandleFunc("POST /api/v1/rooms/{id}/leave", g.authed(g.member(g.manage(commands.ActionLeave))))
	m.HandleFunc("POST /api/v1/rooms/{id}/invite", g.authed(g.member(g.rotateInvite)))
	m.HandleFunc("GET /api/v1/rooms/{id}/members", g.authed(g.member(g.listMembers)))
	m.HandleFunc("POST /api/v1/rooms/{id}/members/{user_id}/kick", g.authed(g.member(g.manage(commands.ActionKick))))
	m.HandleFunc("POST /api/v1/rooms/{id}/members/{user_id}/ban", g.authed(g.member(g.manage(commands.ActionBan))))
	m.HandleFunc("DELETE /api/v1/rooms/{id}/bans/{user_id}", g.authed(g.member(g.manage(commands.ActionUnban))))
	m.HandleFunc("PUT /api/v1/rooms/{id}/members/{user_id}/role", g.authed(g.member(g.setRole)))
	m.HandleFunc("GET /api/v1/rooms/{id}/messages", g.authed(g.member(g.listMessages)))
	m.HandleFunc("POST /api/v1/rooms/{id}/messages", g.authed(g.member(g.postMessage)))
	m.HandleFunc("PATCH /api/v1/rooms/{id}/messages/{seq}", g.authed(g.member(g.editMessage)))
	m.HandleFunc("DELETE /api/v1/rooms/{id}/messages/{seq}", g.authed(g.member(g.deleteMessage)))
	m.HandleFunc("PUT /api/v1/rooms/{id}/messages/{seq}/reactions/{emoji}", g.authed(g.member(g.react(true))))
	m.HandleFunc("DELETE /api/v1/rooms/{id}/messages/{seq}/reactions/{emoji}", g.authed(g.member(g.react(false))))
	m.HandleFunc("POST /api/v1/rooms/{id}/read", g.authed(g.member(g.markRead)))
	m.HandleFunc("GET /api/v1/rooms/{id}/threads", g.authed(g.member(g.listThreads)))
	m.HandleFunc("GET /api/v1/rooms/{id}/threads/{root}/messages", g.authed(g.member(g.listThreadMessages)))
	m.HandleFunc("POST /api/v1/rooms/{id}/threads/{root}/read", g.authed(g.member(g.markThreadRead)))
	g.pinRoutes(m)
	m.HandleFunc("POST /api/v1/rooms/{id}/attachments", g.authed(g.member(g.uploadAttachment)))
	m.HandleFunc("GET /api/v1/attachments/{id}/thumbnail", g.authed(g.getThumbnail))
	m.HandleFunc("GET /api/v1/attachments/{id}/{name}", g.authed(g.getAttachment))
	m.HandleFunc("GET /api/v1/rooms/{id}/call", g.authed(g.member(g.getCall)))
	m.HandleFunc("GET /api/v1/rooms/{id}/calls", g.authed(g.member(g.listCalls)))
	m.HandleFunc("GET /api/v1/rtc/ice-servers", g.authed(g.getICEServers))
	m.HandleFunc("GET /api/v1/search", g.authed(g.search))
	m.HandleFunc("GET /api/v1/ws", g.serveWS)
	m.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		g.writeError(w, errorf(http.StatusNotFound, domain.KindNotFound.String(), "no such endpoint: "+r.Method+" "+r.URL.Path))
	})
	if g.ui != nil {
		m.Handle("/", g.ui)
	}
}

// A REST handler returns its error rather than writing it: handle (and
// authed and member, which use it) writes it once, through the error
// table of errors.go. respond and noContent write a success and return
// nil, so that a handler ends with `return respond(...)`.

// handle adapts a handler that returns its error.
func (g *Gateway) handle(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			g.writeError(w, err)
		}
	}
}

// respond answers with v as JSON.
func respond(w http.ResponseWriter, status int, v any) error {
	writeJSON(w, status, v)
	return nil
}

// noContent answers 204 No Content.
func noContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// decode reads a JSON request body of at most MaxBodyBytes into v,
// refusing invalid UTF-8, lone surrogate escapes, unknown fields and
// trailing data.
func (g *Gateway) decode(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.limits.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errorf(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "request body is larger than "+strconv.FormatInt(g.limits.MaxBodyBytes, 10)+" bytes")
		}
		return errorf(http.StatusBadRequest, CodeInvalidJSON, "cannot read the request body")
	}
	if err := checkText(body); err != nil {
		// Refused rather than decoded: the decoder would replace it.
		return errorf(http.StatusBadRequest, domain.KindInvalid.String(), "request body is not valid text: "+err.Error())
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errorf(http.StatusBadRequest, CodeInvalidJSON, "request body is not the expected JSON: "+err.Error())
	}
	if !onlySpace(body[dec.InputOffset():]) {
		return errorf(http.StatusBadRequest, CodeInvalidJSON, "request body has data after the JSON object")
	}
	return nil
}

// roomCtx is a request on a room the caller is a member of.
type roomCtx struct {
	*session
	room domain.RoomID
}

// member wraps a room handler: the caller must be a member of the room in
// the path, by the room's own state (not a lagging read model). Non-members
// get 404 whether or not the room exists.
func (g *Gateway) member(h func(w http.ResponseWriter, r *http.Request, rc roomCtx) error) func(http.ResponseWriter, *http.Request, *session) error {
	return func(w http.ResponseWriter, r *http.Request, s *session) error {
		room, err := parseRoomID(r.PathValue("id"))
		if err != nil {
			return err
		}
		ok, _, err := g.cmds.Aggregates.IsMember(r.Context(), room, s.UserID)
		if err != nil {
			return err
		}
		if !ok {
			return domain.Errorf(domain.KindNotFound, "", "no such room, or you are not a member")
		}
		return h(w, r, roomCtx{session: s, room: room})
	}
}

type userJSON struct {
	ID       domain.UserID `json:"id"`
	Username string        `json:"username"` // "" once deleted
	// DisplayName is the name the user chose, "" if none; AvatarURL
	// serves their avatar, "" if none; Deleted marks a deleted user,
	// whom clients show as "Deleted user".
	DisplayName string     `json:"display_name,omitempty"`
	AvatarURL   string     `json:"avatar_url,omitempty"`
	Deleted     bool       `json:"deleted,omitempty"`
	Status      string     `json:"status"` // online or offline
	LastSeen    *time.Time `json:"last_seen,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
}

func toUserJSON(u projections.User) userJSON {
	j := userJSON{ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Status: "offline", CreatedAt: u.CreatedAt,
		Deleted: u.Status == domain.StatusDeleted}
	if u.Avatar != "" {
		j.AvatarURL = avatarURL(u.ID, u.Avatar)
	}
	if u.Online {
		j.Status = "online"
	}
	if !u.LastSeen.IsZero() {
		ls := u.LastSeen
		j.LastSeen = &ls
	}
	return j
}

func (g *Gateway) getUser(w http.ResponseWriter, r *http.Request, _ *session) error {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return domain.Errorf(domain.KindNotFound, "", "no such user")
	}
	u, err := g.read.User(r.Context(), domain.UserID(id.String()))
	if err != nil {
		return err
	}
	return respond(w, http.StatusOK, map[string]userJSON{"user": toUserJSON(u)})
}

func (g *Gateway) getUserByName(w http.ResponseWriter, r *http.Request, _ *session) error {
	u, err := g.read.UserByUsername(r.Context(), r.PathValue("username"))
	if err != nil {
		return err
	}
	if u.Status == domain.StatusDeleted {
		return domain.Errorf(domain.KindNotFound, "find user", "no such user")
	}
	return respond(w, http.StatusOK, map[string]userJSON{"user": toUserJSON(u)})
}

type roomJSON struct {
	ID         domain.RoomID `json:"id"`
	Kind       string        `json:"kind"`
	Name       string        `json:"name"`
	OwnerID    domain.UserID `json:"owner_id,omitempty"`
	InviteCode string        `json:"invite_code,omitempty"`
	Role       domain.Role   `json:"role,omitempty"`
	LastSeq    uint64        `json:"last_seq"`
	ReadSeq    uint64        `json:"read_seq"`
	Unread     int           `json:"unread"`
	DMPeer     *userJSON     `json:"dm_peer,omitempty"`
	// Mentions, Notify and MembersCanPin: pins.go.
	Mentions      int    `json:"mentions"`
	Notify        string `json:"notify"`
	MembersCanPin bool   `json:"members_can_pin"`
}

// roomResponse answers with a room as the caller sees it after res.
func (g *Gateway) roomResponse(w http.ResponseWriter, r *http.Request, status int, user domain.UserID, room domain.RoomID, res commands.Result) error {
	return g.roomResponseAfter(w, r, status, user, room, res, false)
}

func (g *Gateway) roomResponseAfter(w http.ResponseWriter, r *http.Request, status int, user domain.UserID, room domain.RoomID, res commands.Result, retried bool) error {
	if err := g.waitFor(r.Context(), res); err != nil {
		return err
	}
	rooms, err := g.read.RoomsOf(r.Context(), user)
	if err != nil {
		return err
	}
	for _, s := range rooms {
		if s.ID == room {
			j := toRoomJSON(s)
			if s.Role == domain.RoleOwner || s.Role == domain.RoleAdmin {
				info, err := g.read.Room(r.Context(), room)
				if err != nil {
					return err
				}
				j.InviteCode = info.InviteCode
			}
			return respond(w, status, map[string]roomJSON{"room": j})
		}
	}
	if !retried {
		// The room was written by a command this request did not wait for
		// (two users opened a DM at once): wait for everything stored.
		head, err := g.store.Head(r.Context())
		if err == nil {
			return g.roomResponseAfter(w, r, status, user, room, commands.Result{Position: head}, true)
		}
	}
	return domain.Errorf(domain.KindNotFound, "", "no such room, or you are not a member")
}

func toRoomJSON(s projections.RoomSummary) roomJSON {
	j := roomJSON{ID: s.ID, Kind: s.Kind, Name: s.Name, OwnerID: s.OwnerID, Role: s.Role, LastSeq: s.LastSeq, ReadSeq: s.ReadSeq, Unread: s.Unread,
		Mentions: s.Mentions, Notify: s.Notify, MembersCanPin: s.MembersCanPin}
	if s.DMPeer != nil {
		p := toUserJSON(*s.DMPeer)
		j.DMPeer = &p
	}
	return j
}

func (g *Gateway) listRooms(w http.ResponseWriter, r *http.Request, s *session) error {
	rooms, err := g.read.RoomsOf(r.Context(), s.UserID)
	if err != nil {
		return err
	}
	out := make([]roomJSON, len(rooms))
	for i, rm := range rooms {
		out[i] = toRoomJSON(rm)
	}
	return respond(w, http.StatusOK, map[string][]roomJSON{"rooms": out})
}

func (g *Gateway) createRoom(w http.ResponseWriter, r *http.Request, s *session) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := g.decode(w, r, &in); err != nil {
		return err
	}
	giveBack := func() {}
	if g.newRooms != nil {
		var wait time.Duration
		if wait, giveBack = g.newRooms.Take(string(s.UserID)); wait > 0 {
			return &apiError{Status: http.StatusTooManyRequests, Code: CodeRateLimited, RetryAfter: wait,
				Message: fmt.Sprintf("you may create %d rooms at once, then %d an hour; try again later", g.limits.RoomsPerHour, g.limits.RoomsPerHour)}
		}
	}
	id, res, err := g.cmds.CreateRoom.Handle(r.Context(), commands.CreateRoom{Owner: s.UserID, Name: in.Name})
	if err != nil {
		giveBack() // nothing was created
		return err
	}
	return g.roomResponse(w, r, http.StatusCreated, s.UserID, id, res)
}

func (g *Gateway) joinRoom(w http.ResponseWriter, r *http.Request, s *session) error {
	var in struct {
		InviteCode string `json:"invite_code"`
	}
	if err := g.decode(w, r, &in); err != nil {
		return err
	}
	id, res, err := g.cmds.JoinRoom.Handle(r.Context(), commands.JoinRoom{User: s.UserID, InviteCode: in.InviteCode})
	if err != nil {
		return err
	}
	return g.roomResponse(w, r, http.StatusOK, s.UserID, id, res)
}

func (g *Gateway) openDM(w http.ResponseWriter, r *http.Request, s *session) error {
	var in struct {
		UserID string `json:"user_id"`
	}
	if err := g.decode(w, r, &in); err != nil {
		return err
	}
	other, err := uuid.Parse(in.UserID)
	if err != nil {
		return domain.Errorf(domain.KindNotFound, "open DM", "no such user")
	}
	id, res, err := g.cmds.OpenDM.Handle(r.Context(), commands.OpenDM{User: s.UserID, Other: domain.UserID(other.String())})
	if err != nil {
		return err
	}
	return g.roomResponse(w, r, http.StatusOK, s.UserID, id, res)
}

func (g *Gateway) getRoom(w http.ResponseWriter, r *http.Request, rc roomCtx) error {
	return g.roomResponse(w, r, http.StatusOK, rc.UserID, rc.room, commands.Result{})
}

func (g *Gateway) renameRoom(w http.ResponseWriter, r *http.Request, rc roomCtx) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := g.decode(w, r, &in); err != nil {
		return err
	}
	res, err := g.cmds.ManageRoom.Handle(r.Context(), commands.ManageRoom{Room: rc.room, Actor: rc.UserID, Action: commands.ActionRename, Name: in.Name})
	if err != nil {
		return err
	}
	return g.roomResponse(w, r, http.StatusOK, rc.UserID, rc.room, res)
}

func (g *Gateway) rotateInvite(w http.ResponseWriter, r *http.Request, rc roomCtx) error {
	res, err := g.cmds.ManageRoom.Handle(r.Context(), commands.ManageRoom{Room: rc.room, Actor: rc.UserID, Action: commands.ActionRotateInvite})
	if err != nil {
		return err
	}
	return g.roomResponse(w, r, http.StatusOK, rc.UserID, rc.room, res)
}

// manage runs a membership action; the target, if any, is the path's
// user_id.
func (g *Gateway) manage(action commands.Action) func(http.ResponseWriter, *http.Request, roomCtx) error {
	return func(w http.ResponseWriter, r *http.Request, rc roomCtx) error {
		cmd := commands.ManageRoom{Room: rc.room, Actor: rc.UserID, Action: action}
		if action != commands.ActionLeave {
			target, err := uuid.Parse(r.PathValue("user_id"))
			if err != nil {
				return domain.Errorf(domain.KindNotFound, "", "no such user")
			}
			cmd.Target = domain.UserID(target.String())
		}
		res, err := g.cmds.ManageRoom.Handle(r.Context(), cmd)
		if err == nil {
			err = g.waitFor(r.Context(), res)
		}
		if err != nil {
			return err
		}
		return noContent(w)
	}
}

func (g *Gateway) setRole(w http.ResponseWriter, r *http.Request, rc roomCtx) error {
	var in struct {
		Role domain.Role `json:"role"`
	}
	if err := g.decode(w, r, &in); err != nil {
		return err
	}
	target, err := uuid.Parse(r.PathValue("user_id"))
	if err != nil {
		return domain.Errorf(domain.KindNotFound, "", "no such user")
	}
	res, err := g.cmds.ManageRoom.Handle(r.Context(), commands.ManageRoom{Room: rc.room, Actor: rc.UserID, Action: commands.ActionSetRole, Target: domain.UserID(target.String()), Role: in.Role})
	if err == nil {
		err = g.waitFor(r.Context(), res)
	}
	if err != nil {
		return err
	}
	return noContent(w)
}

type memberJSON struct {
	User     userJSON    `json:"user"`
	Role     domain.Role `json:"role"`
	JoinedAt time.Time   `json:"joined_at"`
}

func (g *Gateway) listMembers(w http.ResponseWriter, r *http.Request, rc roomCtx) error {
	members, err := g.read.Members(r.Context(), rc.room)
	if err != nil {
		return err
	}
	out := make([]memberJSON, len(members))
	for i, m := range members {
		out[i] = memberJSON{User: toUserJSON(m.User), Role: m.Role, JoinedAt: m.JoinedAt}
	}
	return respond(w, http.StatusOK, map[string][]memberJSON{"members": out})
}

type reactionJSON struct {
	Emoji string          `json:"emoji"`
	Users []domain.UserID `json:"users"`
}

type messageJSON struct {
	RoomID      domain.RoomID    `json:"room_id"`
	Seq         uint64           `json:"seq"`
	SenderID    domain.UserID    `json:"sender_id"`
	SenderName  string           `json:"sender_name"`
	ClientMsgID string           `json:"client_msg_id"`
	Text        string           `json:"text"`
	ReplyTo     uint64           `json:"reply_to,omitempty"`
	ThreadRoot  uint64           `json:"thread_root,omitempty"`
	Thread      *threadJSON      `json:"thread,omitempty"`
	Mentions    []domain.UserID  `json:"mentions"`
	Attachments []attachmentJSON `json:"attachments,omitempty"`
	Reactions   []reactionJSON   `json:"reactions"`
	CreatedAt   time.Time        `json:"created_at"`
	EditedAt    *time.Time       `json:"edited_at,omitempty"`
	Deleted     bool             `json:"deleted,omitempty"`
}

func toMessageJSON(room domain.RoomID, m projections.Message) messageJSON {
	j := messageJSON{RoomID: room, Seq: m.Seq, SenderID: m.SenderID, SenderName: m.SenderName, ClientMsgID: m.ClientMsgID,
		Text: m.Text, ReplyTo: m.ReplyTo, ThreadRoot: m.ThreadRoot, Thread: toThreadJSON(m.Thread), Mentions: m.Mentions, Reactions: []reactionJSON{}, CreatedAt: m.CreatedAt, EditedAt: m.EditedAt, Deleted: m.Deleted}
	if j.Mentions == nil {
		j.Mentions = []domain.UserID{}
	}
	j.Attachments = toAttachmentsJSON(m.Attachments)
	for _, r := range m.Reactions {
		j.Reactions = append(j.Reactions, reactionJSON{Emoji: r.Emoji, Users: r.Users})
	}
	return j
}

// listMessages pages a room's history, newest first: messages with seq <
// before (all if before is 0), at most limit (default 50, at most 100);
// or, to jump to a message, those right after a seq, or around one.
func (g *Gateway) listMessages(w http.ResponseWriter, r *http.Request, rc roomCtx) error {
	before, limit, err := pageParams(r, "list messages")
	if err != nil {
		return err
	}
	// after=SEQ and around=SEQ (jumping to a search result), exclusive
	// with before and with each other.
	var after, around uint64
	q := r.URL.Query()
	given := 0
	for _, p := range []struct {
		name string
		to   *uint64
	}{{"after", &after}, {"around", &around}, {"before", nil}} {
		s := q.Get(p.name)
		if s == "" {
			continue
		}
		given++
		if p.to == nil {
			continue
		}
		if *p.to, err = strconv.ParseUint(s, 10, 64); err != nil || (p.name == "around" && *p.to == 0) {
			return domain.Errorf(domain.KindInvalid, "list messages", "%s must be a sequence number", p.name)
		}
	}
	if given > 1 {
		return domain.Errorf(domain.KindInvalid, "list messages", "give at most one of before, after and around")
	}
	// History must include everything stored when it is asked for: a
	// client that resumes after too_many_missed pages it up to the seq its
	// subscribe ack gave.
	head, err := g.store.Head(r.Context())
	if err == nil {
		err = g.waitFor(r.Context(), commands.Result{Position: head})
	}
	if err != nil {
		return err
	}
	var msgs []projections.Message
	switch {
	case q.Get("after") != "":
		msgs, err = g.read.MessagesAfter(r.Context(), rc.room, after, limit)
	case around != 0:
		msgs, err = g.read.MessagesAround(r.Context(), rc.room, around, limit)
	default:
		msgs, err = g.read.Messages(r.Context(), rc.room, before, limit)
	}
	if err != nil {
		return err
	}
	out := make([]messageJSON, len(msgs))
	for i, m := range msgs {
		out[i] = toMessageJSON(rc.room, m)
	}
	return respond(w, http.StatusOK, map[string][]messageJSON{"messages": out})
}

// messageResponse answers with message seq as stored after res.
func (g *Gateway) messageResponse(w http.ResponseWriter, r *http.Request, status int, room domain.RoomID, seq uint64, res commands.Result) error {
	if err := g.waitFor(r.Context(), res); err != nil {
		return err
	}
	m, err := g.read.MessageBySeq(r.Context(), room, seq)
	if err != nil {
		return err
	}
	return respond(w, status, map[string]messageJSON{"message": toMessageJSON(room, m)})
}

func (g *Gateway) postMessage(w http.ResponseWriter, r *http.Request, rc roomCtx) error {
	var in struct {
		ClientMsgID string   `json:"client_msg_id"`
		Text        string   `json:"text"`
		ReplyTo     uint64   `json:"reply_to"`
		ThreadRoot  uint64   `json:"thread_root"`
		Attachments []string `json:"attachments"`
	}
	if err := g.decode(w, r, &in); err != nil {
		return err
	}
	res, err := g.cmds.PostMessage.Handle(r.Context(), commands.PostMessage{Room: rc.room, Sender: rc.UserID, ClientMsgID: in.ClientMsgID, Text: in.Text, ReplyTo: in.ReplyTo, ThreadRoot: in.ThreadRoot, Attachments: in.Attachments})
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if len(res.Events) == 0 {
		status = http.StatusOK // a retry: the original message
	}
	return g.messageResponse(w, r, status, rc.room, res.Revision, res)
}

func pathSeq(r *http.Request) (uint64, error) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil || seq == 0 {
		return 0, domain.Errorf(domain.KindNotFound, "", "no such message")
	}
	return seq, nil
}

func (g *Gateway) editMessage(w http.ResponseWriter, r *http.Request, rc roomCtx) error {
	seq, err := pathSeq(r)
	if err != nil {
		return err
	}
	var in struct {
		Text        string    `json:"text"`
		Attachments *[]string `json:"attachments"`
	}
	if err := g.decode(w, r, &in); err != nil {
		return err
	}
	res, err := g.cmds.EditMessage.Handle(r.Context(), commands.EditMessage{Room: rc.room, Actor: rc.UserID, Seq: seq, Text: in.Text, Attachments: keepList(in.Attachments)})
	if err != nil {
		return err
	}
	return g.messageResponse(w, r, http.StatusOK, rc.room, seq, res)
}

func (g *Gateway) deleteMessage(w http.ResponseWriter, r *http.Request, rc roomCtx) error {
	seq, err := pathSeq(r)
	if err != nil {
		return err
	}
	res, err := g.cmds.DeleteMessage.Handle(r.Context(), commands.DeleteMessage{Room: rc.room, Actor: rc.UserID, Seq: seq})
	if err == nil {
		err = g.waitFor(r.Context(), res)
	}
	if err != nil {
		return err
	}
	return noContent(w)
}

func (g *Gateway) react(add bool) func(http.ResponseWriter, *http.Request, roomCtx) error {
	return func(w http.ResponseWriter, r *http.Request, rc roomCtx) error {
		seq, err := pathSeq(r)
		if err != nil {
			return err
		}
		res, err := g.cmds.React.Handle(r.Context(), commands.React{Room: rc.room, Actor: rc.UserID, Seq: seq, Emoji: r.PathValue("emoji"), Add: add})
		if err != nil {
			return err
		}
		return g.messageResponse(w, r, http.StatusOK, rc.room, seq, res)
	}
}

func (g *Gateway) markRead(w http.ResponseWriter, r *http.Request, rc roomCtx) error {
	var in struct {
		Seq uint64 `json:"seq"`
	}
	if err := g.decode(w, r, &in); err != nil {
		return err
	}
	res, err := g.cmds.MarkRead.Handle(r.Context(), commands.MarkRead{User: rc.UserID, Room: rc.room, Seq: in.Seq})
	if err == nil {
		err = g.waitFor(r.Context(), res)
	}
	if err != nil {
		return err
	}
	return noContent(w)
}

// pageParams reads a page's ?before=SEQ&limit=N (limit 1-100, default
// 50) for op.
func pageParams(r *http.Request, op string) (before uint64, limit int, err error) {
	q := r.URL.Query()
	limit = 50
	if s := q.Get("before"); s != "" {
		if before, err = strconv.ParseUint(s, 10, 64); err != nil {
			return 0, 0, domain.Errorf(domain.KindInvalid, op, "before must be a sequence number")
		}
	}
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 100 {
			return 0, 0, domain.Errorf(domain.KindInvalid, op, "limit must be 1-100")
		}
	}
	return before, limit, nil
}
