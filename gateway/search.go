package gateway

import (
	"net/http"
	"strconv"

	"github.com/confabhq/confab/commands"
	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/projections"
)

// Full-text search (GET /api/v1/search, docs/protocol.md "Search"): the
// query is parsed by projections.ParseSearchQuery and run on the search
// read model, over the rooms the caller is a member of now.

type searchRoomJSON struct {
	ID   domain.RoomID `json:"id"`
	Name string        `json:"name"`
	Kind string        `json:"kind"`
}

type searchResultJSON struct {
	Message messageJSON    `json:"message"`
	Room    searchRoomJSON `json:"room"`
}

type searchJSON struct {
	Results    []searchResultJSON `json:"results"`
	Terms      []string           `json:"terms"`
	NextCursor string             `json:"next_cursor,omitempty"`
}

// defaultSearchLimit is the page size when the client gives none.
const defaultSearchLimit = 25

func (g *Gateway) search(w http.ResponseWriter, r *http.Request, s *session) error {
	v := r.URL.Query()
	q, err := projections.ParseSearchQuery(v.Get("q"))
	if err != nil {
		return err
	}
	limit := defaultSearchLimit
	if l := v.Get("limit"); l != "" {
		if limit, err = strconv.Atoi(l); err != nil || limit < 1 || limit > projections.MaxSearchLimit {
			return domain.Errorf(domain.KindInvalid, "search", "limit must be 1-%d", projections.MaxSearchLimit)
		}
	}
	var room domain.RoomID
	if id := v.Get("room_id"); id != "" {
		if room, err = parseRoomID(id); err != nil {
			return domain.Errorf(domain.KindInvalid, "search", "room_id must be a room ID")
		}
	}
	// Read your writes: what the caller posted before asking is found.
	head, err := g.store.Head(r.Context())
	if err == nil {
		err = g.waitFor(r.Context(), commands.Result{Position: head})
	}
	if err != nil {
		return err
	}
	page, err := g.read.Search(r.Context(), s.UserID, q, room, v.Get("cursor"), limit)
	if err != nil {
		return err
	}
	out := searchJSON{Results: make([]searchResultJSON, len(page.Results)), Terms: q.Terms(), NextCursor: page.Next}
	for i, res := range page.Results {
		out.Results[i] = searchResultJSON{Message: toMessageJSON(res.Room.ID, res.Message),
			Room: searchRoomJSON{ID: res.Room.ID, Name: res.Room.Name, Kind: res.Room.Kind}}
	}
	return respond(w, http.StatusOK, out)
}
