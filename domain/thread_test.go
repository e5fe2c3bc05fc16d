package domain

import "testing"

func TestPostInThread(t *testing.T) {
	reply := func(sender UserID, root uint64) func(r *Room) ([]Event, error) {
		return func(r *Room) ([]Event, error) {
			return r.PostInThread(sender, "t1", "in thread", 0, root, nil, nil, now)
		}
	}
	replied := func(sender UserID, root uint64) []Event {
		return []Event{MessagePosted{SenderID: sender, ClientMsgID: "t1", Text: "in thread", ThreadRoot: root, At: now}}
	}
	// A thread on msgMember (8): a reply at 13.
	threaded := with(group(), MessagePosted{SenderID: member2, ClientMsgID: "r1", Text: "first", ThreadRoot: msgMember})
	runRoomTests(t, []roomTest{
		{"start a thread", group(), reply(member2, msgMember), replied(member2, msgMember), noError},
		{"reply in own message's thread", group(), reply(member, msgMember), replied(member, msgMember), noError},
		{"reply again", threaded, reply(owner, msgMember), replied(owner, msgMember), noError},
		{"reply to a reply", threaded, reply(owner, 13), nil, KindInvalid},
		{"thread on a deleted message", group(), reply(member, msgDeleted), nil, KindInvalid},
		{"thread on the room's creation", group(), reply(member, 1), nil, KindNotFound},
		{"thread on unknown", group(), reply(member, 999), nil, KindNotFound},
		{"thread as stranger", group(), reply(stranger, msgMember), nil, KindNotFound},
		{"thread in DM", dm(), reply(dave, 2), replied(dave, 2), noError},
	})
}

func TestDeleteThreadReply(t *testing.T) {
	threaded := with(group(), MessagePosted{SenderID: member2, ClientMsgID: "r1", Text: "first", ThreadRoot: msgMember})
	runRoomTests(t, []roomTest{
		{"delete reply names its thread", threaded, func(r *Room) ([]Event, error) { return r.Delete(member2, 13, now) },
			[]Event{MessageDeleted{Seq: 13, ThreadRoot: msgMember, By: member2, At: now}}, noError},
		{"delete root", threaded, func(r *Room) ([]Event, error) { return r.Delete(member, msgMember, now) },
			[]Event{MessageDeleted{Seq: msgMember, By: member, At: now}}, noError},
	})
	r := roomOf(threaded...)
	if err := r.ThreadRoot("t", msgMember); err != nil {
		t.Errorf("ThreadRoot(root) = %v", err)
	}
	for _, seq := range []uint64{13, 1, 999} {
		if err := r.ThreadRoot("t", seq); KindOf(err) != KindNotFound {
			t.Errorf("ThreadRoot(%d) = %v, want not found", seq, err)
		}
	}
}

func TestMarkThreadRead(t *testing.T) {
	signedUp := UserSignedUp{UserID: "u1", Username: "u1"}
	var u User
	u.Apply(signedUp)
	got, err := u.MarkThreadRead("r1", 3, 5, now)
	checkDecision(t, "mark", got, err, []Event{ThreadRead{RoomID: "r1", Root: 3, Seq: 5, At: now}}, noError)
	u.Apply(got[0])
	got, err = u.MarkThreadRead("r1", 3, 4, now)
	checkDecision(t, "mark back", got, err, nil, noError)
	got, err = u.MarkThreadRead("r1", 3, 5, now)
	checkDecision(t, "mark same", got, err, nil, noError)
	got, err = u.MarkThreadRead("r1", 7, 4, now)
	checkDecision(t, "other thread", got, err, []Event{ThreadRead{RoomID: "r1", Root: 7, Seq: 4, At: now}}, noError)
	var nobody User
	_, err = nobody.MarkThreadRead("r1", 3, 5, now)
	checkDecision(t, "no user", nil, err, nil, KindNotFound)
}
