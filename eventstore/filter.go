package eventstore

import "strings"

// Filter selects the events a subscription delivers. The zero Filter
// selects every event. A non-empty field must match: the stream must
// start with one of StreamPrefixes and the type must be one of EventTypes.
type Filter struct {
	StreamPrefixes []string
	EventTypes     []string
}

// Match reports whether e passes the filter.
func (f Filter) Match(e *RecordedEvent) bool {
	if len(f.StreamPrefixes) > 0 {
		ok := false
		for _, p := range f.StreamPrefixes {
			if strings.HasPrefix(e.Stream, p) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(f.EventTypes) > 0 {
		ok := false
		for _, t := range f.EventTypes {
			if e.Type == t {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// IsZero reports whether the filter selects everything.
func (f Filter) IsZero() bool { return len(f.StreamPrefixes) == 0 && len(f.EventTypes) == 0 }
