package domain

import (
	"testing"
	"time"
)

func TestSessionPolicy(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name     string
		p        SessionPolicy
		started  time.Time
		lastUsed time.Time
		expires  time.Time
		touch    time.Duration
	}{
		{"defaults, idle first", SessionPolicy{}, now, now, now.Add(30 * day), time.Hour},
		{"defaults, age first", SessionPolicy{}, now, now.Add(80 * day), now.Add(90 * day), time.Hour},
		{"short idle", SessionPolicy{IdleTimeout: 5 * time.Second, MaxAge: time.Hour}, now, now.Add(time.Second), now.Add(6 * time.Second), 500 * time.Millisecond},
		{"short age", SessionPolicy{MaxAge: 3 * time.Second}, now, now, now.Add(3 * time.Second), time.Hour},
	}
	for _, tt := range tests {
		if got := tt.p.ExpiresAt(tt.started, tt.lastUsed); !got.Equal(tt.expires) {
			t.Errorf("%s: expires at %v, want %v", tt.name, got, tt.expires)
		}
		s := Session{StartedAt: tt.started, LastUsedAt: tt.lastUsed}
		if tt.p.Expired(s, tt.expires.Add(-time.Nanosecond)) || !tt.p.Expired(s, tt.expires) {
			t.Errorf("%s: Expired does not flip at %v", tt.name, tt.expires)
		}
		if got := tt.p.TouchInterval(); got != tt.touch {
			t.Errorf("%s: touch interval %v, want %v", tt.name, got, tt.touch)
		}
	}
	for _, p := range []SessionPolicy{{IdleTimeout: -1}, {MaxAge: -1}, {MaxPerUser: -1}} {
		if KindOf(p.Validate()) != KindInvalid {
			t.Errorf("Validate(%+v) = %v, want invalid", p, p.Validate())
		}
	}
	if err := (SessionPolicy{}).Validate(); err != nil {
		t.Errorf("Validate(zero) = %v", err)
	}
}
