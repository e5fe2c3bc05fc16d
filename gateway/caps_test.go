package gateway

import (
	"testing"
)

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
