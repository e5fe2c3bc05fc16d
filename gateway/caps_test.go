package gateway

import (
	"testing"
	"time"
)

func TestKeyedRate(t *testing.T) {
	k := newKeyedRate(2, time.Hour)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, wait := k.reserve("a", t0); wait != 0 {
		t.Fatalf("1st: wait %v", wait)
	}
	giveBack, wait := k.reserve("a", t0.Add(time.Minute))
	if wait != 0 {
		t.Fatalf("2nd: wait %v", wait)
	}
	if _, wait := k.reserve("a", t0.Add(2*time.Minute)); wait != 58*time.Minute {
		t.Errorf("3rd within the hour: wait %v, want 58m (until the 1st is an hour old)", wait)
	}
	if _, wait := k.reserve("b", t0.Add(2*time.Minute)); wait != 0 {
		t.Errorf("another key: wait %v", wait)
	}
	giveBack() // the 2nd changed nothing
	if _, wait := k.reserve("a", t0.Add(3*time.Minute)); wait != 0 {
		t.Errorf("after a give-back: wait %v", wait)
	}
	if _, wait := k.reserve("a", t0.Add(61*time.Minute)); wait != 0 {
		t.Errorf("after the 1st aged out: wait %v", wait)
	}
	if _, wait := newKeyedRate(-1, time.Hour).reserve("a", t0); wait != 0 {
		t.Errorf("no limit: wait %v", wait)
	}
}

func TestConnCaps(t *testing.T) {
	cc := newConnCaps(2, 3)
	var slots []*connSlot
	for i := range 3 {
		s, ok := cc.takeIP("1.2.3.4")
		if !ok {
			t.Fatalf("slot %d of 3 refused", i)
		}
		slots = append(slots, s)
	}
	if _, ok := cc.takeIP("1.2.3.4"); ok {
		t.Error("a 4th connection from one address with a cap of 3")
	}
	if _, ok := cc.takeIP("5.6.7.8"); !ok {
		t.Error("another address refused")
	}
	if !slots[0].takeUser("u") || !slots[1].takeUser("u") {
		t.Fatal("user's slots within the cap refused")
	}
	if slots[2].takeUser("u") {
		t.Error("a 3rd connection of a user with a cap of 2")
	}
	slots[0].release()
	slots[0].release() // once only
	if !slots[2].takeUser("u") {
		t.Error("a freed place was not given again")
	}
	if _, ok := cc.takeIP("1.2.3.4"); !ok {
		t.Error("a freed address place was not given again")
	}
	if cc.users["u"] != 2 || cc.ips["1.2.3.4"] != 3 {
		t.Errorf("counts %v %v after a double release", cc.users, cc.ips)
	}
	var none *connSlot
	none.release() // a connection without a slot
}
