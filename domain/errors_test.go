package domain

import (
	"errors"
	"fmt"
	"testing"
)

func TestKindOf(t *testing.T) {
	tests := []struct {
		err  error
		want Kind
	}{
		{Errorf(KindInvalid, "sign up", "username too short"), KindInvalid},
		{fmt.Errorf("handle: %w", Errorf(KindForbidden, "post", "not a member")), KindForbidden},
		{errors.New("disk on fire"), KindInternal},
		{nil, KindInternal},
	}
	for _, tt := range tests {
		if got := KindOf(tt.err); got != tt.want {
			t.Errorf("KindOf(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	err := &Error{Kind: KindConflict, Op: "join room", Message: "already a member", Err: errors.New("cause")}
	if got, want := err.Error(), "join room: already a member: cause"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if KindRateLimited.String() != "rate_limited" || Kind(99).String() != "kind(99)" {
		t.Errorf("kind names: %s %s", KindRateLimited, Kind(99))
	}
}
