package gateway

import (
	"slices"
	"testing"

	"github.com/confabhq/confab/domain"
)

// TestEveryEventTypeHasAWireName fails when the domain gains an event type
// that the gateway neither names for clients nor knows to be a user
// stream's.
func TestEveryEventTypeHasAWireName(t *testing.T) {
	for _, typ := range domain.EventTypes() {
		_, public := wireNames[typ]
		private := slices.Contains(userStreamEvents, typ)
		if public == private {
			t.Errorf("event type %s: in wireNames %v, in userStreamEvents %v; want it in exactly one", typ, public, private)
		}
	}
	for typ := range wireNames {
		if !domain.KnownType(typ) {
			t.Errorf("wireNames names %s, which the domain does not register", typ)
		}
	}
}
