package main

import (
	"reflect"
	"slices"
	"testing"
)

// deliver feeds seqs to a new tracker that starts after base.
func deliver(base uint64, seqs ...uint64) *seqTracker {
	t := newSeqTracker(base)
	for _, s := range seqs {
		t.observe(s)
	}
	return t
}

func TestSeqTracker(t *testing.T) {
	tests := []struct {
		name       string
		base, head uint64
		seqs       []uint64
		lost       []uint64
		dups, ooo  uint64
	}{
		{"all in order", 10, 14, []uint64{11, 12, 13, 14}, nil, 0, 0},
		{"nothing expected", 10, 10, nil, nil, 0, 0},
		{"dropped in the middle", 10, 14, []uint64{11, 12, 14}, []uint64{13}, 0, 0},
		{"dropped at the end", 10, 14, []uint64{11, 12, 13}, []uint64{14}, 0, 0},
		{"dropped at the start", 10, 12, []uint64{12}, []uint64{11}, 0, 0},
		{"nothing delivered", 0, 3, nil, []uint64{1, 2, 3}, 0, 0},
		{"duplicated", 10, 13, []uint64{11, 12, 12, 13}, nil, 1, 0},
		{"duplicated after a gap filled late", 10, 13, []uint64{11, 13, 12, 12}, nil, 1, 1},
		{"redelivered from before the subscription", 10, 12, []uint64{10, 11, 12}, nil, 1, 0},
		{"out of order", 10, 13, []uint64{11, 13, 12}, nil, 0, 1},
		{"dropped and duplicated", 10, 15, []uint64{11, 12, 14, 14, 15}, []uint64{13}, 1, 0},
		{"past the head does not count as lost", 10, 12, []uint64{11, 12, 13}, nil, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := deliver(tt.base, tt.seqs...)
			if got := tr.lostUpTo(tt.head); !slices.Equal(got, tt.lost) {
				t.Errorf("lost %v, want %v", got, tt.lost)
			}
			if tr.dups != tt.dups || tr.outOfOrder != tt.ooo {
				t.Errorf("dups %d out of order %d, want %d and %d", tr.dups, tr.outOfOrder, tt.dups, tt.ooo)
			}
			if got, want := tr.complete(tt.head), len(tt.lost) == 0; got != want {
				t.Errorf("complete = %v, want %v", got, want)
			}
			if tr.deliveries != uint64(len(tt.seqs)) {
				t.Errorf("deliveries %d, want %d", tr.deliveries, len(tt.seqs))
			}
		})
	}
}

func TestSeqTrackerResumesAfterLast(t *testing.T) {
	tr := deliver(5, 6, 7, 9)
	if tr.last() != 9 {
		t.Fatalf("last %d, want 9 (a resume continues after the highest seq seen)", tr.last())
	}
	tr.rebase(12) // the step's head was 12: 8, 10-12 were reported lost
	if tr.last() != 12 || tr.deliveries != 0 || len(tr.missing) != 0 {
		t.Fatalf("after rebase: last %d deliveries %d missing %v", tr.last(), tr.deliveries, tr.missing)
	}
	tr.observe(8) // a late delivery of the previous window
	tr.observe(13)
	if tr.dups != 1 || len(tr.lostUpTo(13)) != 0 {
		t.Fatalf("dups %d lost %v, want 1 and none", tr.dups, tr.lostUpTo(13))
	}
}

// TestCheckerFlagsDroppedAndDuplicated runs the step check over synthetic
// deliveries to three members of a room: one gets everything, one misses
// an acknowledged message, one gets a message twice.
func TestCheckerFlagsDroppedAndDuplicated(t *testing.T) {
	l := newRoomLedger()
	for s := uint64(3); s <= 6; s++ {
		l.ack(s, "m"+string(rune('0'+s)))
	}
	head := l.head()
	if head != 6 {
		t.Fatalf("head %d, want 6", head)
	}
	c := newChecker()
	c.add("ok", deliver(2, 3, 4, 5, 6), l, head)
	c.add("dropped", deliver(2, 3, 5, 6), l, head)
	c.add("duplicated", deliver(2, 3, 4, 4, 5, 6), l, head)
	c.addLedger(l)
	v := c.verdict()
	want := verdict{Receivers: 3, Deliveries: 4 + 3 + 5, Lost: 1, LostAcked: 1, LostMessages: 1, Duplicates: 1}
	if len(v.Examples) != 2 {
		t.Errorf("examples %q, want one for the loss and one for the duplicate", v.Examples)
	}
	v.Examples = nil
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("verdict %+v\nwant    %+v", v, want)
	}
	if v.clean() {
		t.Fatal("a verdict with a loss and a duplicate is clean")
	}

	// Nothing wrong: clean.
	c = newChecker()
	c.add("a", deliver(2, 3, 4, 5, 6), l, head)
	c.add("b", deliver(2, 3, 4, 5, 6), l, head)
	if v := c.verdict(); !v.clean() || v.Lost != 0 {
		t.Fatalf("clean deliveries judged %+v", v)
	}

	// A seq nobody acked (the server stored a send whose ack was lost)
	// that one member misses is lost, but not lost-acked.
	c = newChecker()
	c.add("a", deliver(2, 3, 4, 5, 6, 7), l, 7)
	c.add("b", deliver(2, 3, 4, 5, 6), l, 7)
	if v := c.verdict(); v.Lost != 1 || v.LostAcked != 0 || v.LostMessages != 1 {
		t.Fatalf("unacked loss judged %+v", v)
	}
}

func TestLedgerFlagsMessagePostedTwice(t *testing.T) {
	l := newRoomLedger()
	l.ack(3, "a")
	l.post(3, "a")
	l.post(4, "b")
	l.post(3, "a") // the same delivery again: not a second message
	if l.dupMessages != 0 || l.conflicts != 0 {
		t.Fatalf("dupMessages %d conflicts %d, want 0", l.dupMessages, l.conflicts)
	}
	l.post(5, "b") // b posted at 4 and at 5: a retry posted twice
	if l.dupMessages != 1 {
		t.Fatalf("dupMessages %d, want 1", l.dupMessages)
	}
	l.ack(4, "c") // seq 4 was b's
	l.ack(3, "d") // seq 3 was a's
	if l.conflicts != 1 {
		t.Fatalf("conflicts %d, want 1 (seq 3 acked for a and d)", l.conflicts)
	}
	c := newChecker()
	c.addLedger(l)
	if v := c.verdict(); v.clean() || v.DupMessages != 1 {
		t.Fatalf("verdict %+v", v)
	}
}

func TestSeqList(t *testing.T) {
	for _, tt := range []struct {
		in   []uint64
		want string
	}{
		{nil, ""},
		{[]uint64{3}, "3"},
		{[]uint64{3, 7, 8, 9, 12}, "3, 7-9, 12"},
	} {
		if got := seqList(tt.in); got != tt.want {
			t.Errorf("seqList(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRoomSetReusesMatchingRooms(t *testing.T) {
	big := layout{Users: 10, Rooms: 5, MembersPerRoom: 2}
	st := &state{}
	var rooms []stateRoom
	for r := range big.Rooms {
		rooms = append(rooms, stateRoom{ID: string(rune('a' + r)), Members: big.members(r)})
	}
	st.Sets = append(st.Sets, roomSet{Layout: big, Rooms: rooms})
	if got := st.roomSet(big); len(got) != 5 {
		t.Fatalf("exact layout: %d rooms", len(got))
	}
	// The first 3 rooms over the first 6 users have the same members.
	if got := st.roomSet(layout{Users: 6, Rooms: 3, MembersPerRoom: 2}); len(got) != 3 || got[2].ID != "c" {
		t.Fatalf("prefix layout: %+v", got)
	}
	// 4 rooms over 7 users: room 3 would be users 6 and 0, not 6 and 7.
	if got := st.roomSet(layout{Users: 7, Rooms: 4, MembersPerRoom: 2}); got != nil {
		t.Fatalf("different members reused: %+v", got)
	}
	if got := st.roomSet(layout{Users: 10, Rooms: 6, MembersPerRoom: 2}); got != nil {
		t.Fatalf("more rooms than there are: %+v", got)
	}
}
