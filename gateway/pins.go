package gateway

import (
	"net/http"
	"time"

	"github.com/confabhq/confab/commands"
	"github.com/confabhq/confab/domain"
)

// Pinned messages, a room's settings and a member's notification level
// (docs/protocol.md, "Pins and notification levels"). Pins and settings
// are room events that reach subscribers as event frames
// (message.pinned, message.unpinned, room.settings_changed); a level is
// in the user's stream and reaches the user's connections as a
// notify_level frame (hub.dispatchUserEvent).

func (g *Gateway) pinRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /api/v1/rooms/{id}/pins", g.authed(g.member(g.listPins)))
	m.HandleFunc("PUT /api/v1/rooms/{id}/pins/{seq}", g.authed(g.member(g.pin(true))))
	m.HandleFunc("DELETE /api/v1/rooms/{id}/pins/{seq}", g.authed(g.member(g.pin(false))))
	m.HandleFunc("PATCH /api/v1/rooms/{id}/settings", g.authed(g.member(g.setRoomSettings)))
	m.HandleFunc("PUT /api/v1/rooms/{id}/notify", g.authed(g.member(g.setNotify)))
}

type pinJSON struct {
	Seq      uint64        `json:"seq"`
	PinnedBy domain.UserID `json:"pinned_by"`
	PinnedAt time.Time     `json:"pinned_at"`
	Message  messageJSON   `json:"message"`
}

func (g *Gateway) listPins(w http.ResponseWriter, r *http.Request, rc roomCtx) error {
	pins, err := g.read.Pins(r.Context(), rc.room)
	if err != nil {
		return err
	}
	out := make([]pinJSON, len(pins))
	for i, p := range pins {
		out[i] = pinJSON{Seq: p.Seq, PinnedBy: p.PinnedBy, PinnedAt: p.PinnedAt, Message: toMessageJSON(rc.room, p.Message)}
	}
	return respond(w, http.StatusOK, map[string][]pinJSON{"pins": out})
}

// pin pins (on) or unpins the path's message and answers with the room's
// pins as they are after it.
func (g *Gateway) pin(on bool) func(http.ResponseWriter, *http.Request, roomCtx) error {
	return func(w http.ResponseWriter, r *http.Request, rc roomCtx) error {
		seq, err := pathSeq(r)
		if err != nil {
			return err
		}
		res, err := g.cmds.Pin.Handle(r.Context(), commands.Pin{Room: rc.room, Actor: rc.UserID, Seq: seq, Pin: on})
		if err == nil {
			err = g.waitFor(r.Context(), res)
		}
		if err != nil {
			return err
		}
		return g.listPins(w, r, rc)
	}
}

func (g *Gateway) setRoomSettings(w http.ResponseWriter, r *http.Request, rc roomCtx) error {
	var in struct {
		MembersCanPin *bool `json:"members_can_pin"`
	}
	if err := g.decode(w, r, &in); err != nil {
		return err
	}
	if in.MembersCanPin == nil {
		return domain.Errorf(domain.KindInvalid, "room settings", "members_can_pin is missing")
	}
	res, err := g.cmds.SetRoomSettings.Handle(r.Context(), commands.SetRoomSettings{Room: rc.room, Actor: rc.UserID, MembersCanPin: *in.MembersCanPin})
	if err != nil {
		return err
	}
	return g.roomResponse(w, r, http.StatusOK, rc.UserID, rc.room, res)
}

func (g *Gateway) setNotify(w http.ResponseWriter, r *http.Request, rc roomCtx) error {
	var in struct {
		Level string `json:"level"`
	}
	if err := g.decode(w, r, &in); err != nil {
		return err
	}
	res, err := g.cmds.SetNotify.Handle(r.Context(), commands.SetNotify{User: rc.UserID, Room: rc.room, Level: in.Level})
	if err != nil {
		return err
	}
	return g.roomResponse(w, r, http.StatusOK, rc.UserID, rc.room, res)
}
