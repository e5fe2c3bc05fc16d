package gateway

import (
	"encoding/json"
	"time"

	"github.com/confabhq/confab/domain"
)

// presenceEntry is one user's presence, as the frames presence and
// presence_batch carry it.
type presenceEntry struct {
	UserID   domain.UserID `json:"user_id"`
	Status   string        `json:"status"` // "online" or "offline"
	LastSeen *time.Time    `json:"last_seen,omitempty"`
}

// presenceBatchFrame tells clients the presence of several users: what a
// connection is sent for the changes of one window when there are more
// than one. users lists each user once, with their latest presence.
type presenceBatchFrame struct {
	Type  string          `json:"type"` // "presence_batch"
	Users []presenceEntry `json:"users"`
}

// presenceBatcher collects, for each receiver (a connection), the latest
// presence of every user that changed since the last flush: a user who
// goes online then offline within a window is sent offline only. It is
// not safe for concurrent use: the presence loop owns it.
type presenceBatcher[K comparable] struct {
	pending map[K]*presenceBatch
	order   []K // receivers in the order of their first change
}

// presenceBatch is one receiver's changes, one entry per user, in the
// order of each user's first change in the window.
type presenceBatch struct {
	idx     map[domain.UserID]int
	entries []presenceEntry
}

func newPresenceBatcher[K comparable]() *presenceBatcher[K] {
	return &presenceBatcher[K]{pending: map[K]*presenceBatch{}}
}

// add records e for to, replacing what to had for the same user.
func (b *presenceBatcher[K]) add(to K, e presenceEntry) {
	pb := b.pending[to]
	if pb == nil {
		pb = &presenceBatch{idx: map[domain.UserID]int{}}
		b.pending[to] = pb
		b.order = append(b.order, to)
	}
	if i, ok := pb.idx[e.UserID]; ok {
		pb.entries[i] = e
		return
	}
	pb.idx[e.UserID] = len(pb.entries)
	pb.entries = append(pb.entries, e)
}

// empty reports whether no receiver has changes waiting.
func (b *presenceBatcher[K]) empty() bool { return len(b.order) == 0 }

// flush calls send with each receiver's frame, in the order of their
// first change, and forgets them: a presence frame (unchanged since
// before batching) for one change, a presence_batch frame for several.
func (b *presenceBatcher[K]) flush(send func(to K, frame []byte)) {
	order := b.order
	pending := b.pending
	b.order, b.pending = nil, map[K]*presenceBatch{}
	for _, to := range order {
		pb := pending[to]
		var v any
		if len(pb.entries) == 1 {
			e := pb.entries[0]
			v = presenceFrame{Type: "presence", UserID: e.UserID, Status: e.Status, LastSeen: e.LastSeen}
		} else {
			v = presenceBatchFrame{Type: "presence_batch", Users: pb.entries}
		}
		frame, err := json.Marshal(v)
		if err != nil {
			continue // cannot happen: the types marshal
		}
		send(to, frame)
	}
}
