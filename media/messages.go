package media

import "github.com/pion/webrtc/v4"

// The two peer connections of a participant. On "pub" the client is the
// offerer and sends its tracks; on "sub" the SFU is the offerer and sends
// the other participants' tracks. Each connection thus has one offerer,
// so renegotiation never meets glare.
const (
	PCPublish   = "pub"
	PCSubscribe = "sub"
)

// Kinds of tracks a participant publishes.
const (
	KindAudio  = "audio"
	KindVideo  = "video"  // camera
	KindScreen = "screen" // screen share
)

// Reasons a participant is removed, sent to their client in Removed.
const (
	ReasonLeft     = "left"              // they left
	ReasonMoved    = "moved"             // they joined from another connection
	ReasonFailed   = "connection_failed" // their connection failed and did not recover
	ReasonShutdown = "shutdown"          // the server is shutting down
)

// Message is what the SFU sends a participant's client. The gateway
// frames it.
type Message interface{ message() }

// Offer is the SFU's offer on the subscribe connection; the client
// answers it.
type Offer struct{ SDP string }

// Candidate is one of the SFU's ICE candidates on connection PC.
type Candidate struct {
	PC        string
	Candidate webrtc.ICECandidateInit
}

// State lists the participants of the call and what they publish. Each
// forwarded track has the stream ID of its publisher's user ID and the
// track ID "<user ID>:<kind>".
type State struct{ Participants []ParticipantState }

// ParticipantState is one participant as State lists it.
type ParticipantState struct {
	UserID string
	MediaState
}

// MediaState says what a participant sends: mic unmuted, camera on,
// screen shared.
type MediaState struct {
	Audio, Video, Screen bool
}

// Speaker names the active speaker; "" when nobody speaks.
type Speaker struct{ UserID string }

// Removed tells a client that the SFU removed them from the call.
type Removed struct{ Reason string }

func (Offer) message()     {}
func (Candidate) message() {}
func (State) message()     {}
func (Speaker) message()   {}
func (Removed) message()   {}

// TrackID returns the ID of the track of kind that user publishes, as
// subscribers see it.
func TrackID(user, kind string) string { return user + ":" + kind }
