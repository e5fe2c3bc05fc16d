package domain

import (
	"fmt"
	"testing"
)

func TestPin(t *testing.T) {
	pin := func(actor UserID, seq uint64, on bool) func(r *Room) ([]Event, error) {
		return func(r *Room) ([]Event, error) { return r.Pin(actor, seq, on, now) }
	}
	pinned := with(group(), MessagePinned{Seq: msgMember, By: owner})
	open := with(group(), RoomSettingsChanged{MembersCanPin: true, By: owner})
	full := group()
	for i := range MaxPins {
		full = append(full, MessagePosted{SenderID: member, ClientMsgID: fmt.Sprint("p", i), Text: "x"})
	}
	for i := range MaxPins {
		full = append(full, MessagePinned{Seq: uint64(len(group()) + 1 + i), By: owner})
	}
	full = append(full, MessagePosted{SenderID: member, ClientMsgID: "last", Text: "x"})
	last := uint64(len(group()) + 2*MaxPins + 1) // the seq of the last post
	lastPinned := uint64(len(group()) + MaxPins)
	runRoomTests(t, []roomTest{
		{"owner pins", group(), pin(owner, msgMember, true), []Event{MessagePinned{Seq: msgMember, By: owner, At: now}}, noError},
		{"admin pins", group(), pin(admin, msgOwner, true), []Event{MessagePinned{Seq: msgOwner, By: admin, At: now}}, noError},
		{"member pins", group(), pin(member, msgMember, true), nil, KindForbidden},
		{"member unpins", pinned, pin(member, msgMember, false), nil, KindForbidden},
		{"member pins when allowed", open, pin(member, msgOwner, true), []Event{MessagePinned{Seq: msgOwner, By: member, At: now}}, noError},
		{"stranger pins", open, pin(stranger, msgOwner, true), nil, KindNotFound},
		{"pin twice", pinned, pin(admin, msgMember, true), nil, noError},
		{"unpin", pinned, pin(admin, msgMember, false), []Event{MessageUnpinned{Seq: msgMember, By: admin, At: now}}, noError},
		{"unpin what is not pinned", group(), pin(owner, msgMember, false), nil, noError},
		{"pin a deleted message", group(), pin(owner, msgDeleted, true), nil, KindNotFound},
		{"pin no message", group(), pin(owner, 99, true), nil, KindNotFound},
		{"pin a membership event", group(), pin(owner, 2, true), nil, KindNotFound},
		{"pin past the limit", full, pin(owner, last, true), nil, KindConflict},
		{"unpin at the limit", full, pin(owner, lastPinned, false), []Event{MessageUnpinned{Seq: lastPinned, By: owner, At: now}}, noError},
		{"pin in a DM", dm(), pin(dave, 2, true), []Event{MessagePinned{Seq: 2, By: dave, At: now}}, noError},
	})
	// A deleted message is no longer pinned.
	r := roomOf(with(pinned, MessageDeleted{Seq: msgMember, By: member})...)
	if r.Pins[msgMember] {
		t.Error("a deleted message stays pinned")
	}
}

func TestSetSettings(t *testing.T) {
	set := func(actor UserID, on bool) func(r *Room) ([]Event, error) {
		return func(r *Room) ([]Event, error) { return r.SetSettings(actor, on, now) }
	}
	open := with(group(), RoomSettingsChanged{MembersCanPin: true, By: owner})
	runRoomTests(t, []roomTest{
		{"owner opens pins", group(), set(owner, true), []Event{RoomSettingsChanged{MembersCanPin: true, By: owner, At: now}}, noError},
		{"admin closes pins", open, set(admin, false), []Event{RoomSettingsChanged{MembersCanPin: false, By: admin, At: now}}, noError},
		{"member opens pins", group(), set(member, true), nil, KindForbidden},
		{"stranger opens pins", group(), set(stranger, true), nil, KindNotFound},
		{"as they are", open, set(owner, true), nil, noError},
		{"in a DM", dm(), set(dana, true), nil, KindInvalid},
	})
}

func TestSetNotify(t *testing.T) {
	alice := UserIDFor("alice")
	signedUp := UserSignedUp{UserID: alice, Username: "Alice", PasswordHash: "$argon2id$x", At: now}
	muted := RoomNotifySet{RoomID: "r1", Level: NotifyNone, At: now}
	tests := []struct {
		name  string
		given []Event
		room  RoomID
		level string
		want  []Event
		kind  Kind
	}{
		{"mute", []Event{signedUp}, "r1", NotifyNone, []Event{muted}, noError},
		{"mentions only", []Event{signedUp, muted}, "r1", NotifyMentions, []Event{RoomNotifySet{RoomID: "r1", Level: NotifyMentions, At: now}}, noError},
		{"back to all", []Event{signedUp, muted}, "r1", NotifyAll, []Event{RoomNotifySet{RoomID: "r1", Level: NotifyAll, At: now}}, noError},
		{"all is the default", []Event{signedUp}, "r1", NotifyAll, nil, noError},
		{"mute twice", []Event{signedUp, muted}, "r1", NotifyNone, nil, noError},
		{"another room", []Event{signedUp, muted}, "r2", NotifyNone, []Event{RoomNotifySet{RoomID: "r2", Level: NotifyNone, At: now}}, noError},
		{"unknown level", []Event{signedUp}, "r1", "loud", nil, KindInvalid},
		{"empty level", []Event{signedUp}, "r1", "", nil, KindInvalid},
		{"no user", nil, "r1", NotifyNone, nil, KindNotFound},
	}
	for _, tt := range tests {
		u := userOf(tt.given...)
		got, err := u.SetNotify(tt.room, tt.level, now)
		checkDecision(t, tt.name, got, err, tt.want, tt.kind)
	}
	u := userOf(signedUp, muted, RoomNotifySet{RoomID: "r2", Level: NotifyMentions}, RoomNotifySet{RoomID: "r2", Level: NotifyAll})
	if u.NotifyLevel("r1") != NotifyNone || u.NotifyLevel("r2") != NotifyAll || u.NotifyLevel("r3") != NotifyAll {
		t.Errorf("levels: r1 %s, r2 %s, r3 %s", u.NotifyLevel("r1"), u.NotifyLevel("r2"), u.NotifyLevel("r3"))
	}
}
