package gateway

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/gorilla/websocket"
)

// maxCatchUpBuffer bounds the live events a subscription holds while it
// catches up from the store; past it the client is told to resync.
const maxCatchUpBuffer = 4096

// hub routes committed events to the connections subscribed to their rooms
// and personal frames to the connections of a user. Each event is encoded
// once and the same prepared frame is queued on every connection.
type hub struct {
	logger *slog.Logger

	mu    sync.RWMutex
	rooms map[domain.RoomID]map[*subscription]struct{}
	users map[domain.UserID]map[*conn]struct{}

	// presence receives the users whose connections opened or closed;
	// profiles those whose profile changed (account.go).
	presence chan presenceChange
	profiles chan presenceChange
	// onRoomEvent, if set, sees every room event after its delivery.
	onRoomEvent func(room domain.RoomID, seq uint64, ev domain.Event)
	// onMembers, if set, sees every membership event (changesMembers)
	// right after the hub applied it, in log order, before the events
	// after it are dispatched: the presence loop's member cache.
	onMembers func(room domain.RoomID, pos eventstore.Position, ev domain.Event)
	// onFanout, if set, gets the time from a room event's commit to its
	// frame being queued, for events this node has subscribers of.
	onFanout func(time.Duration)

	// run and seen are dispatch's buffers (the events of the run it
	// fans out next), kept between batches; dispatch runs on one
	// goroutine.
	run  []fanEvent
	seen []seenEvent
	// chunk and inline are fanChunk and fanInline (tests make them
	// smaller).
	chunk, inline int
}

type presenceChange struct {
	user domain.UserID
	pos  eventstore.Position
}

func newHub(logger *slog.Logger) *hub {
	return &hub{
		logger:   logger,
		rooms:    map[domain.RoomID]map[*subscription]struct{}{},
		users:    map[domain.UserID]map[*conn]struct{}{},
		presence: make(chan presenceChange, 4096),
		profiles: make(chan presenceChange, 1024),
		chunk:    fanChunk,
		inline:   fanInline,
	}
}

// subscription is one connection's subscription to one room. It delivers
// each sequence number at most once and in order: while the connection
// catches up from the store, live events wait in buffer.
type subscription struct {
	c    *conn
	room domain.RoomID

	mu         sync.Mutex
	last       uint64 // last sequence number queued to the client
	catchingUp bool
	buffer     []bufferedEvent
	overflow   bool
}

type bufferedEvent struct {
	seq   uint64
	frame *websocket.PreparedMessage
}

// offer queues a live event unless the client already has it. It reports
// whether the caller must start the connection's writer (see
// conn.enqueue).
func (s *subscription) offer(seq uint64, frame *websocket.PreparedMessage) (start bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.catchingUp {
		if !s.overflow {
			if len(s.buffer) >= maxCatchUpBuffer {
				s.overflow, s.buffer = true, nil
			} else {
				s.buffer = append(s.buffer, bufferedEvent{seq, frame})
			}
		}
		return false
	}
	if seq <= s.last {
		return false
	}
	s.last = seq
	return s.c.enqueue(frame)
}

// addConn registers an authenticated connection.
func (h *hub) addConn(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	set := h.users[c.user]
	if set == nil {
		set = map[*conn]struct{}{}
		h.users[c.user] = set
	}
	set[c] = struct{}{}
}

// removeConn forgets a connection and its subscriptions.
func (h *hub) removeConn(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if set := h.users[c.user]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(h.users, c.user)
		}
	}
	c.mu.Lock()
	subs := c.subs
	c.subs = nil
	c.mu.Unlock()
	for _, s := range subs {
		h.removeSubLocked(s)
	}
}

// subscribe registers a subscription in catch-up mode; it receives live
// events from now on, buffered until finishCatchUp.
func (h *hub) subscribe(c *conn, room domain.RoomID, after uint64) *subscription {
	s := &subscription{c: c, room: room, last: after, catchingUp: true}
	h.mu.Lock()
	defer h.mu.Unlock()
	c.mu.Lock()
	old := c.subs[room]
	if c.subs == nil {
		c.subs = map[domain.RoomID]*subscription{}
	}
	c.subs[room] = s
	c.mu.Unlock()
	if old != nil {
		h.removeSubLocked(old)
	}
	set := h.rooms[room]
	if set == nil {
		set = map[*subscription]struct{}{}
		h.rooms[room] = set
	}
	set[s] = struct{}{}
	return s
}

// unsubscribe ends c's subscription to room, if any.
func (h *hub) unsubscribe(c *conn, room domain.RoomID) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	c.mu.Lock()
	s := c.subs[room]
	delete(c.subs, room)
	c.mu.Unlock()
	if s == nil {
		return false
	}
	h.removeSubLocked(s)
	return true
}

func (h *hub) removeSubLocked(s *subscription) {
	if set := h.rooms[s.room]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(h.rooms, s.room)
		}
	}
}

// finishCatchUp switches s to live delivery after it caught up to seq
// last: it queues ack (made by ackFor from the final seq) on the reply
// lane, after the catch-up events, then the live events that arrived
// meanwhile on the fan-out queue. It reports false, queuing nothing, if too
// many arrived; the caller then tells the client to resubscribe.
func (s *subscription) finishCatchUp(last uint64, ackFor func(seq uint64) *websocket.PreparedMessage) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = max(s.last, last)
	s.catchingUp = false
	buffer, overflow := s.buffer, s.overflow
	s.buffer, s.overflow = nil, false
	if overflow {
		return false
	}
	if pm := ackFor(s.last); pm != nil {
		// After the catch-up, on the reply lane, so before the live
		// events, which go to the fan-out queue.
		s.c.reply(pm)
	}
	for _, b := range buffer {
		if b.seq > s.last {
			s.last = b.seq
			s.c.send(b.frame)
		}
	}
	return true
}

// dispatch routes a batch of committed events; it is the bus consumer's
// handler and must not block. It encodes each room event once, on this
// goroutine, and hands runs of them to fanOut, which offers them to the
// subscriptions on several cores and returns once all are queued. A run
// ends before a user's event and after a membership change, whose
// effects (a member who left stops receiving the room, after the event
// that says so) must follow the deliveries before them and precede the
// ones after.
func (h *hub) dispatch(_ context.Context, events []eventstore.RecordedEvent) error {
	run, seen := h.run[:0], h.seen[:0]
	flush := func() {
		if len(run) == 0 {
			return
		}
		subs := h.fanOut(run)
		for _, e := range run {
			if subs[e.room] > 0 && h.onFanout != nil {
				h.onFanout(time.Since(e.at))
			}
		}
		if h.onRoomEvent != nil {
			for _, e := range seen {
				h.onRoomEvent(e.room, e.seq, e.ev)
			}
		}
		clear(run)
		clear(seen)
		run, seen = run[:0], seen[:0]
	}
	defer func() { flush(); h.run, h.seen = run, seen }()
	for i := range events {
		re := &events[i]
		if user, ok := domain.UserIDOfStream(re.Stream); ok {
			flush()
			h.dispatchUserEvent(user, re)
			continue
		}
		room, frame, ev, ok, err := encodeRoomEvent(re)
		if err != nil {
			h.logger.Error("cannot encode event", "stream", re.Stream, "rev", re.Revision, "err", err)
			continue
		}
		if !ok {
			continue
		}
		pm, err := websocket.NewPreparedMessage(websocket.TextMessage, frame)
		if err != nil {
			h.logger.Error("cannot prepare frame", "err", err)
			continue
		}
		run = append(run, fanEvent{room: room, seq: re.Revision, frame: pm, at: re.RecordedAt})
		seen = append(seen, seenEvent{room: room, seq: re.Revision, ev: ev})
		if changesMembers(ev) {
			flush()
			h.membersChanged(room, ev)
			if h.onMembers != nil {
				h.onMembers(room, re.Position, ev)
			}
		}
	}
	return nil
}

// seenEvent is a room event of a run, for onRoomEvent after its delivery.
type seenEvent struct {
	room domain.RoomID
	seq  uint64
	ev   domain.Event
}

// changesMembers tells the events after whose delivery the hub changes
// who receives a room, or tells users their rooms changed.
func changesMembers(ev domain.Event) bool {
	switch ev.(type) {
	case domain.RoomCreated, domain.MemberJoined, domain.MemberLeft, domain.MemberKicked, domain.MemberBanned:
		return true
	}
	return false
}

// membersChanged applies a membership event after its delivery: a member
// who leaves or is removed stops receiving the room. Users whose list of
// rooms changed are told on all their connections, subscribed or not.
func (h *hub) membersChanged(room domain.RoomID, ev domain.Event) {
	switch ev := ev.(type) {
	case domain.RoomCreated:
		for _, m := range ev.Members {
			h.roomsChanged(m, room, "added")
		}
	case domain.MemberJoined:
		h.roomsChanged(ev.UserID, room, "added")
	case domain.MemberLeft:
		h.dropMember(room, ev.UserID)
		h.roomsChanged(ev.UserID, room, "removed")
	case domain.MemberKicked:
		h.dropMember(room, ev.UserID)
		h.roomsChanged(ev.UserID, room, "removed")
	case domain.MemberBanned:
		h.dropMember(room, ev.UserID)
		h.roomsChanged(ev.UserID, room, "removed")
	}
}

// roomsChanged tells user's connections that they were added to or
// removed from room.
func (h *hub) roomsChanged(user domain.UserID, room domain.RoomID, change string) {
	h.toUser(user, map[string]any{"type": "rooms_changed", "room_id": room, "change": change})
}

// dropMember ends every subscription of user to room on this node.
func (h *hub) dropMember(room domain.RoomID, user domain.UserID) {
	h.mu.RLock()
	conns := make([]*conn, 0, len(h.users[user]))
	for c := range h.users[user] {
		conns = append(conns, c)
	}
	h.mu.RUnlock()
	for _, c := range conns {
		h.unsubscribe(c, room)
	}
}

func (h *hub) dispatchUserEvent(user domain.UserID, re *eventstore.RecordedEvent) {
	if profileEvent(re.Type) {
		select {
		case h.profiles <- presenceChange{user: user, pos: re.Position}:
		default:
			h.logger.Warn("profile queue full; a profile change is not pushed", "user", user)
		}
		return
	}
	switch re.Type {
	case "ConnectionOpened", "ConnectionClosed":
		select {
		case h.presence <- presenceChange{user: user, pos: re.Position}:
		default:
			h.logger.Warn("presence queue full; a presence change is delayed to the next one", "user", user)
		}
	case "RoomRead":
		ev, err := domain.Decode(re.Type, re.Data)
		if err != nil {
			return
		}
		rr := ev.(domain.RoomRead)
		h.toUser(user, map[string]any{"type": "read_marker", "room_id": rr.RoomID, "seq": rr.Seq})
	case "ThreadRead":
		ev, err := domain.Decode(re.Type, re.Data)
		if err != nil {
			return
		}
		tr := ev.(domain.ThreadRead)
		h.toUser(user, map[string]any{"type": "thread_read", "room_id": tr.RoomID, "root": tr.Root, "seq": tr.Seq})
	case "RoomNotifySet":
		ev, err := domain.Decode(re.Type, re.Data)
		if err != nil {
			return
		}
		ns := ev.(domain.RoomNotifySet)
		h.toUser(user, map[string]any{"type": "notify_level", "room_id": ns.RoomID, "level": ns.Level})
	case "SessionEnded":
		ev, err := domain.Decode(re.Type, re.Data)
		if err != nil {
			return
		}
		se := ev.(domain.SessionEnded)
		h.mu.RLock()
		for c := range h.users[user] {
			if c.sessionID == se.SessionID {
				c.closeWith(closeSignedOut, endReasons[se.Reason])
			}
		}
		h.mu.RUnlock()
	}
}

// toUser queues a frame on every connection of user on this node.
func (h *hub) toUser(user domain.UserID, v any) {
	pm, err := prepare(v)
	if err != nil {
		h.logger.Error("cannot prepare frame", "err", err)
		return
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.users[user] {
		c.send(pm)
	}
}

// toRoom queues a frame on every subscription of room but those of the
// user except.
func (h *hub) toRoom(room domain.RoomID, except domain.UserID, v any) {
	pm, err := prepare(v)
	if err != nil {
		h.logger.Error("cannot prepare frame", "err", err)
		return
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	for s := range h.rooms[room] {
		if s.c.user != except {
			s.c.send(pm)
		}
	}
}

// connsOf returns the connections of user on this node.
func (h *hub) connCount() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for _, set := range h.users {
		n += len(set)
	}
	return n
}

// allConns returns every connection on this node.
func (h *hub) allConns() []*conn {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var out []*conn
	for _, set := range h.users {
		for c := range set {
			out = append(out, c)
		}
	}
	return out
}

// presenceFrame tells clients a user's presence: what a connection is
// sent for the changes of one presence window when there is one.
type presenceFrame struct {
	Type     string        `json:"type"` // "presence"
	UserID   domain.UserID `json:"user_id"`
	Status   string        `json:"status"` // "online" or "offline"
	LastSeen *time.Time    `json:"last_seen,omitempty"`
}
