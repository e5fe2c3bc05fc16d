package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"bytes"
	"github.com/confabhq/confab/commands"
	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/imaging"
	"github.com/confabhq/confab/internal/supervise"
	"github.com/google/uuid"
)

// Account settings: a user changes their password (giving the old one;
// their other sessions end, which closes their WebSockets on every node),
// display name and avatar. An avatar is an uploaded image the server
// square-crops and scales to imaging.AvatarSize (a new image: none of the
// upload's metadata), stores in the blob store and records with
// AvatarChanged. Avatars are served, with the attachments' security
// headers, to every signed-in user: like a username, a profile picture is
// what anyone who meets the user in a room, a DM or a search result sees,
// and checking shared rooms on each image request would cost a query for
// no secrecy (Discord and Slack serve avatars to everyone too).
//
// Profile changes reach clients live: the hub passes DisplayNameChanged,
// AvatarChanged, AvatarRemoved and UserDeleted to the profile loop, which
// sends a "user" frame with the user as GET /users/{id} shows them to
// every connection of the user and of everyone who shares a room with
// them.

// MaxAvatarUpload is the largest image an avatar upload may carry.
const MaxAvatarUpload = 8 << 20

// isAvatarUpload reports whether r is an avatar upload, whose body is an
// image's raw bytes rather than JSON.
func isAvatarUpload(r *http.Request) bool {
	return r.Method == http.MethodPut && r.URL.Path == "/api/v1/me/avatar"
}

// avatarURL is where a user's avatar is served; v changes with the image,
// so that browsers may cache each one.
func avatarURL(id domain.UserID, digest string) string {
	v := strings.TrimPrefix(digest, "sha256:")
	if len(v) > 16 {
		v = v[:16]
	}
	return "/api/v1/avatars/" + url.PathEscape(string(id)) + "?v=" + v
}

type profileRequest struct {
	DisplayName *string `json:"display_name"`
}

// updateMe changes the caller's profile: PATCH /me {display_name}.
func (g *Gateway) updateMe(w http.ResponseWriter, r *http.Request, s *session) error {
	var in profileRequest
	if err := g.decode(w, r, &in); err != nil {
		return err
	}
	if in.DisplayName == nil {
		return domain.Errorf(domain.KindInvalid, "update profile", "nothing to change: give display_name")
	}
	res, err := g.cmds.SetDisplayName.Handle(r.Context(), commands.SetDisplayName{UserID: s.UserID, DisplayName: *in.DisplayName})
	if err != nil {
		return err
	}
	return g.respondMe(w, r, s, res)
}

// respondMe answers with the caller once the read models show res.
func (g *Gateway) respondMe(w http.ResponseWriter, r *http.Request, s *session, res commands.Result) error {
	if err := g.waitFor(r.Context(), res); err != nil {
		return err
	}
	u, err := g.read.User(r.Context(), s.UserID)
	if err != nil {
		return err
	}
	return respond(w, http.StatusOK, map[string]userJSON{"user": toUserJSON(u)})
}

type passwordRequest struct {
	OldPassword string `json:"old_password"`
	NewPassword string `json:"new_password"`
}

// changePassword changes the caller's password: POST /me/password. Every
// other session of the caller ends; this one stays.
func (g *Gateway) changePassword(w http.ResponseWriter, r *http.Request, s *session) error {
	var in passwordRequest
	if err := g.decode(w, r, &in); err != nil {
		return err
	}
	res, err := g.cmds.ChangePassword.Handle(r.Context(), commands.ChangePassword{UserID: s.UserID, SessionID: s.SessionID, Old: in.OldPassword, New: in.NewPassword})
	if err == nil {
		err = g.waitFor(r.Context(), res)
	}
	if err != nil {
		return err
	}
	return respond(w, http.StatusOK, map[string]int{"sessions_ended": max(0, len(res.Events)-1)})
}

// putAvatar sets the caller's avatar from an image: PUT /me/avatar, the
// body the image's raw bytes (JPEG, PNG, GIF or WebP, at most
// MaxAvatarUpload bytes).
func (g *Gateway) putAvatar(w http.ResponseWriter, r *http.Request, s *session) error {
	if g.blobs == nil {
		return errorf(http.StatusServiceUnavailable, CodeUnavailable, "this server stores no files")
	}
	limit := int64(MaxAvatarUpload)
	tooLarge := errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("an avatar may be at most %d bytes", limit))
	if r.ContentLength > limit {
		return tooLarge
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(g.limits.UploadTimeout))
	body := bufio.NewReaderSize(r.Body, 4096)
	head, err := body.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return domain.Errorf(domain.KindInvalid, "set avatar", "cannot read the upload")
	}
	ct := sniff(head)
	if !imaging.IsImage(ct) {
		return domain.Errorf(domain.KindInvalid, "set avatar", "an avatar must be a JPEG, PNG, GIF or WebP image, not %s", ct)
	}
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return domain.Errorf(domain.KindInvalid, "set avatar", "cannot read the upload")
	}
	if int64(len(data)) > limit {
		return tooLarge
	}
	img, imgType, err := imaging.Avatar(data, ct, imaging.Limits{})
	if err != nil {
		return domain.Errorf(domain.KindInvalid, "set avatar", "%v", err)
	}
	// A stored avatar that ends up unrecorded (a refusal below, a crash)
	// is nobody's: the blob collector removes it after the grace period.
	info, err := g.blobs.Put(r.Context(), bytes.NewReader(img), 0)
	if err != nil {
		return fmt.Errorf("store avatar: %w", err)
	}
	res, err := g.cmds.SetAvatar.Handle(r.Context(), commands.SetAvatar{UserID: s.UserID,
		Avatar: &domain.Avatar{Digest: info.Digest, ContentType: imgType, Size: info.Size}})
	if err != nil {
		return err
	}
	return g.respondMe(w, r, s, res)
}

// deleteAvatar removes the caller's avatar: DELETE /me/avatar.
func (g *Gateway) deleteAvatar(w http.ResponseWriter, r *http.Request, s *session) error {
	res, err := g.cmds.SetAvatar.Handle(r.Context(), commands.SetAvatar{UserID: s.UserID})
	if err != nil {
		return err
	}
	return g.respondMe(w, r, s, res)
}

// getAvatar serves a user's avatar to any signed-in user:
// GET /avatars/{id}.
func (g *Gateway) getAvatar(w http.ResponseWriter, r *http.Request, _ *session) error {
	notFound := domain.Errorf(domain.KindNotFound, "", "no such avatar")
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return notFound
	}
	u, err := g.read.User(r.Context(), domain.UserID(id.String()))
	if domain.KindOf(err) == domain.KindNotFound {
		return notFound
	}
	if err != nil {
		return err
	}
	if u.Avatar == "" {
		return notFound
	}
	return g.serveBlob(w, r, u.Avatar, u.AvatarType, "inline", "avatar")
}

// profileEvent reports whether typ is a user event whose change others see.
func profileEvent(typ string) bool {
	switch typ {
	case "DisplayNameChanged", "AvatarChanged", "AvatarRemoved", "UserDeleted":
		return true
	}
	return false
}

// userFrame tells clients how a user now shows.
type userFrame struct {
	Type string   `json:"type"` // "user"
	User userJSON `json:"user"`
}

// profileLoop sends a "user" frame for each profile change the hub
// passes on, to the user's connections and to those of everyone who
// shares a room with them, once the read models show the change. A
// change that cannot be read because the database is away is retried
// with loop's backoff; others are logged and skipped.
func (g *Gateway) profileLoop(ctx context.Context, loop *supervise.Loop) error {
	for {
		var pc presenceChange
		select {
		case <-ctx.Done():
			return ctx.Err()
		case pc = <-g.hub.profiles:
		}
		err := loop.Do(ctx, func(ctx context.Context) error {
			err := g.pushProfile(ctx, pc)
			if err != nil && !eventstore.IsTransient(err) {
				g.logger.Warn("profile: cannot push a change", "user", pc.user, "err", err)
				return nil
			}
			return err
		})
		if err != nil {
			return err
		}
	}
}

func (g *Gateway) pushProfile(ctx context.Context, pc presenceChange) error {
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err := g.read.WaitFor(wctx, pc.pos)
	cancel()
	if err != nil {
		return fmt.Errorf("profile: wait for the read models: %w", err)
	}
	u, err := g.read.User(ctx, pc.user)
	if err != nil {
		return fmt.Errorf("profile: read user %s: %w", pc.user, err)
	}
	peers, err := g.read.SharedRoomMembers(ctx, pc.user)
	if err != nil {
		return fmt.Errorf("profile: peers of %s: %w", pc.user, err)
	}
	pm, err := prepare(userFrame{Type: "user", User: toUserJSON(u)})
	if err != nil {
		return err
	}
	h := g.hub
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, p := range peers {
		for c := range h.users[p] {
			c.send(pm)
		}
	}
	return nil
}
