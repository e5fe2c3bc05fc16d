package gateway

import "time"

// Metrics receives the gateway's measurements. Its methods run on hot
// paths (every frame read and written, every event fanned out): they must
// be cheap and safe for concurrent use. Config.Metrics nil records
// nothing.
type Metrics interface {
	// FrameIn counts a frame read from a client, by type: one of the
	// frame types, "invalid" for a frame that did not decode, or
	// "rate_limited" for one refused by the rate limit.
	FrameIn(typ string)
	// FrameOut counts a frame written to a client.
	FrameOut()
	// Fanout observes the time from an event's commit (its RecordedAt) to
	// its frame being queued on this node's subscriptions to its room.
	Fanout(d time.Duration)
}

// noMetrics records nothing.
type noMetrics struct{}

func (noMetrics) FrameIn(string)       {}
func (noMetrics) FrameOut()            {}
func (noMetrics) Fanout(time.Duration) {}

// Labels of frames that were not handled.
const (
	frameInvalid     = "invalid"
	frameRateLimited = "rate_limited"
)
