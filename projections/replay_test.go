package projections_test

import (
	"slices"
	"testing"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
	"github.com/confabhq/confab/projections"
)

// TestTimelineAtHeadEqualsReadModel folds each room's stream of a
// generated log (every kind of event, messages edited, reacted to and
// deleted) into a Timeline and checks that it shows what the read
// models, rebuilt from the same log, show: the room, its members, every
// message with its reactions, and its calls.
func TestTimelineAtHeadEqualsReadModel(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		store, p, g := storedFoldLog(t, b)
		if err := p.Rebuild(ctx, store); err != nil {
			t.Fatal(err)
		}
		var msgs, edited, deleted, reacted, pinned int
		for _, room := range g.roomIDs {
			tl := timelineOf(t, store, room)
			got, want := tl.Messages(), readMessages(t, p, room)
			if len(got) > 0 || len(want) > 0 { // a room without messages: nil and empty alike
				equal(t, string(room)+" messages", got, want)
			}
			for _, m := range got {
				msgs++
				edited += min(1, countIf(m.EditedAt != nil))
				deleted += countIf(m.Deleted)
				reacted += min(1, len(m.Reactions))
			}
			info, ok := tl.Room()
			if !ok {
				t.Fatalf("%s: the timeline has no room", room)
			}
			equal(t, string(room)+" room", info, must[projections.RoomInfo](t)(p.Room(ctx, room)))
			equal(t, string(room)+" roles", tl.Roles(), readRoles(t, p, room))
			calls := must[[]projections.CallInfo](t)(p.Calls(ctx, room, 0, 1<<20))
			slices.Reverse(calls)
			equal(t, string(room)+" calls", tl.Calls(), calls)
			readPins := must[[]projections.Pin](t)(p.Pins(ctx, room))
			for i := range readPins {
				readPins[i].Message.SenderName = ""
			}
			pinned += len(readPins)
			equal(t, string(room)+" pins", tl.Pins(), readPins)
			equal(t, string(room)+" members can pin", tl.MembersCanPin(), must[bool](t)(p.MembersCanPin(ctx, room)))
		}
		if msgs < 1000 || edited == 0 || deleted == 0 || reacted == 0 || pinned == 0 {
			t.Fatalf("the log has %d messages, %d edited, %d deleted, %d with reactions, %d pinned: too few to compare", msgs, edited, deleted, reacted, pinned)
		}
		if _, ok := timelineOf(t, store, g.roomIDs[0]).Message(1 << 40); ok {
			t.Error("the timeline has a message that was never posted")
		}
	})
}

func countIf(b bool) int {
	if b {
		return 1
	}
	return 0
}

// timelineOf folds room's whole stream.
func timelineOf(t *testing.T, store eventstore.Store, room domain.RoomID) *projections.Timeline {
	t.Helper()
	tl := projections.NewTimeline(room)
	events, err := store.ReadStream(ctx, domain.RoomStream(room), 1, eventstore.Forwards, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		ev, err := domain.Decode(e.Type, e.Data)
		if err != nil {
			t.Fatal(err)
		}
		if err := tl.Apply(e.Revision, ev, e.RecordedAt); err != nil {
			t.Fatal(err)
		}
	}
	return tl
}

// readMessages returns every message of room in the read model, oldest
// first, without the senders' names (the timeline has no users).
func readMessages(t *testing.T, p *projections.Projections, room domain.RoomID) []projections.Message {
	t.Helper()
	var all []projections.Message
	for before := uint64(0); ; {
		page := must[[]projections.Message](t)(p.Messages(ctx, room, before, projections.MaxMessagesLimit))
		all = append(all, page...)
		if len(page) < projections.MaxMessagesLimit {
			break
		}
		before = page[len(page)-1].Seq
	}
	slices.Reverse(all)
	for i := range all {
		all[i].SenderName = ""
	}
	return all
}

func readRoles(t *testing.T, p *projections.Projections, room domain.RoomID) map[domain.UserID]domain.Role {
	t.Helper()
	roles := map[domain.UserID]domain.Role{}
	for _, m := range must[[]projections.Member](t)(p.Members(ctx, room)) {
		roles[m.User.ID] = m.Role
	}
	return roles
}
