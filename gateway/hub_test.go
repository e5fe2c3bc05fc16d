package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/google/uuid"
	"github.com/gorilla/websocket"
)

// postedEvent is a recorded MessagePosted of room at seq.
func postedEvent(t *testing.T, room domain.RoomID, seq uint64) eventstore.RecordedEvent {
	t.Helper()
	typ, data, err := domain.Encode(domain.MessagePosted{SenderID: domain.UserIDFor("alice"), ClientMsgID: "m", Text: "hi", At: time.Unix(1, 0).UTC()})
	if err != nil {
		t.Fatal(err)
	}
	return eventstore.RecordedEvent{Stream: domain.RoomStream(room), Revision: seq, Type: typ, Data: data, ID: uuid.New(), RecordedAt: time.Now()}
}

// readSeqs reads n frames from tc's client and returns, for each, the
// seq of an event frame, or -1 for an ack.
func readSeqs(t *testing.T, tc *testConn, n int) []int64 {
	t.Helper()
	out := make([]int64, n)
	tc.client.SetReadDeadline(time.Now().Add(60 * time.Second))
	for i := range out {
		_, data, err := tc.client.ReadMessage()
		if err != nil {
			t.Fatalf("frame %d of %d: %v", i, n, err)
		}
		var f struct {
			Type string `json:"type"`
			Seq  uint64 `json:"seq"`
		}
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatal(err)
		}
		switch f.Type {
		case "event":
			out[i] = int64(f.Seq)
		case "ack":
			out[i] = -1
		default:
			t.Fatalf("frame %d: %s", i, data)
		}
	}
	return out
}

// newTestHub is a hub whose fan-out splits every room into tasks of 4
// subscriptions and runs them in parallel whatever their number.
func newTestHub() *hub {
	h := newHub(slog.New(slog.DiscardHandler))
	h.chunk, h.inline = 4, 0
	return h
}

// liveSub subscribes tc to room and makes the subscription live after
// seq after, as a subscribe with nothing to catch up does.
func liveSub(t *testing.T, h *hub, tc *testConn, room domain.RoomID, after uint64) {
	t.Helper()
	s := h.subscribe(tc.c, room, after)
	if !s.finishCatchUp(after, func(uint64) *websocket.PreparedMessage { return nil }) {
		t.Fatal("finishCatchUp refused")
	}
}

// TestHubParallelFanOut: events of two rooms, dispatched in batches
// fanned out over several goroutines, with batches repeated (as the bus
// follower may hand over an overlap), reach every subscriber of their room
// exactly once and in order, and nobody else.
func TestHubParallelFanOut(t *testing.T) {
	h := newTestHub()
	roomA, roomB := domain.RoomID(uuid.NewString()), domain.RoomID(uuid.NewString())
	var inA, inB []*testConn
	for i := range 40 {
		tc := newTestConn(t, 4096, time.Hour)
		if i%4 == 3 {
			liveSub(t, h, tc, roomB, 0)
			inB = append(inB, tc)
		} else {
			liveSub(t, h, tc, roomA, 0)
			inA = append(inA, tc)
		}
	}
	const perRoom = 120
	var all []eventstore.RecordedEvent
	for seq := uint64(1); seq <= perRoom; seq++ {
		all = append(all, postedEvent(t, roomA, seq), postedEvent(t, roomB, seq))
	}
	for lo := 0; lo < len(all); lo += 16 {
		batch := all[lo:min(lo+16, len(all))]
		if err := h.dispatch(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		// The overlap of a follower that read the store after the bus:
		// nothing is delivered twice.
		if err := h.dispatch(context.Background(), all[max(lo-8, 0):lo+len(batch)]); err != nil {
			t.Fatal(err)
		}
	}
	for _, group := range [][]*testConn{inA, inB} {
		for i, tc := range group {
			for n, seq := range readSeqs(t, tc, perRoom) {
				if seq != int64(n+1) {
					t.Fatalf("subscriber %d: frame %d has seq %d, want %d", i, n, seq, n+1)
				}
			}
		}
	}
	// Nothing more: one last event of A reaches A's subscribers next,
	// not B's.
	if err := h.dispatch(context.Background(), []eventstore.RecordedEvent{postedEvent(t, roomA, perRoom+1)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range inA {
		if got := readSeqs(t, tc, 1); got[0] != perRoom+1 {
			t.Fatalf("A's subscriber got %d next, want %d", got[0], perRoom+1)
		}
	}
	for _, tc := range inB {
		tc.c.qmu.Lock()
		queued := tc.c.queuedLocked()
		tc.c.qmu.Unlock()
		if queued != 0 {
			t.Fatalf("B's subscriber has %d frames queued, want none", queued)
		}
	}
}

// TestHubCatchUpHandover: live events that arrive while a subscription
// catches up wait; the catch-up, the ack and then the live events after
// the catch-up reach the client once each, in order, under a parallel
// fan-out.
func TestHubCatchUpHandover(t *testing.T) {
	h := newTestHub()
	room := domain.RoomID(uuid.NewString())
	// Others in the room, so that the fan-out runs in parallel.
	for range 8 {
		liveSub(t, h, newTestConn(t, 4096, time.Hour), room, 0)
	}
	tc := newTestConn(t, 4096, time.Hour)
	s := h.subscribe(tc.c, room, 2) // the client has seen up to 2
	var live []eventstore.RecordedEvent
	for seq := uint64(5); seq <= 10; seq++ {
		live = append(live, postedEvent(t, room, seq))
	}
	if err := h.dispatch(context.Background(), live); err != nil {
		t.Fatal(err)
	}
	// The catch-up read the store up to 7 (the store had moved on).
	for seq := uint64(3); seq <= 7; seq++ {
		re := postedEvent(t, room, seq)
		_, frame, _, _, err := encodeRoomEvent(&re)
		if err != nil {
			t.Fatal(err)
		}
		pm, _ := websocket.NewPreparedMessage(websocket.TextMessage, frame)
		tc.c.reply(pm)
	}
	if !s.finishCatchUp(7, func(seq uint64) *websocket.PreparedMessage {
		pm, _ := prepare(ackFrame{Type: "ack", Seq: seq})
		return pm
	}) {
		t.Fatal("finishCatchUp refused")
	}
	// Live events after the handover, overlapping what was buffered.
	var more []eventstore.RecordedEvent
	for seq := uint64(9); seq <= 12; seq++ {
		more = append(more, postedEvent(t, room, seq))
	}
	if err := h.dispatch(context.Background(), more); err != nil {
		t.Fatal(err)
	}
	want := []int64{3, 4, 5, 6, 7, -1, 8, 9, 10, 11, 12}
	got := readSeqs(t, tc, len(want))
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("frames %v, want %v (-1: the ack)", got, want)
		}
	}
}
