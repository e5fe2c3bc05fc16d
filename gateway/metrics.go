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
	// SlowConsumer counts a connection closed as a slow consumer (4008),
	// by reason: "queue_full" (its outbound queue overflowed) or
	// "write_stalled" (its socket took nothing for a write timeout).
	SlowConsumer(reason string)
	// Fanout observes the time from an event's commit (its RecordedAt) to
	// its frame being queued on this node's subscriptions to its room.
	Fanout(d time.Duration)
	// CallRelayed counts a call relay message this node sent to another
	// node, by kind: "req", "reply" or "push".
	CallRelayed(kind string)
	// CallRelayError counts a call relay failure, by reason: "timeout"
	// (no reply in time), "not_host" (the host had given the call up),
	// "refused" (the host refused the frame), "malformed" (an envelope
	// ignored) or "publish" (the bus refused to send).
	CallRelayError(reason string)
	// PresenceChange counts a user's presence change this node pushed to
	// the connections of their peers.
	PresenceChange()
	// PresenceFrames counts the end of a presence window and the n
	// presence and presence_batch frames it queued (at most one per
	// connection).
	PresenceFrames(n int)
}

// noMetrics records nothing.
type noMetrics struct{}

func (noMetrics) FrameIn(string)        {}
func (noMetrics) FrameOut()             {}
func (noMetrics) Fanout(time.Duration)  {}
func (noMetrics) SlowConsumer(string)   {}
func (noMetrics) CallRelayed(string)    {}
func (noMetrics) CallRelayError(string) {}
func (noMetrics) PresenceChange()       {}
func (noMetrics) PresenceFrames(int)    {}

// Labels of frames that were not handled.
const (
	frameInvalid     = "invalid"
	frameRateLimited = "rate_limited"
)
