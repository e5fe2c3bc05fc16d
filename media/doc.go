// Package media is confab's call server: a WebRTC selective forwarding
// unit on pion/webrtc. (The embedded TURN server is in media/turn.)
// Signaling rides the gateway's WebSocket; this package knows nothing of
// frames, only of Participants and the Messages it sends them.
//
// Every room has one call. A participant has two peer connections: on
// "pub" the client offers and sends its microphone, camera and screen
// share; on "sub" the SFU offers and sends the other participants'
// tracks. With one offerer per connection renegotiation never meets glare,
// and the SFU serializes its own offers: one at a time per participant,
// the next once the answer came, covering everything that changed
// meanwhile.
//
// Trickle ICE, in order: the SFU's candidates of a connection reach the
// client (as Candidate messages) only after the description they belong
// to, so a client can add each as it comes. Setting a local description
// starts gathering on pion's goroutines; each connection's trickle holds
// the candidates from then until the description is out: Publish hands
// the pub answer to its deliver callback first (the gateway queues the
// ack there), and an Offer on sub is sent before its candidates. The
// trickle's lock is held while it sends, so candidates keep their order.
//
// Forwarding: each published track has one reading goroutine. It hands
// every packet to each subscriber's bounded queue without blocking; each
// subscriber has one writing goroutine. A slow or stalled subscriber
// loses packets from its own queue and never delays the others. The
// header extensions negotiated with the publisher are dropped on the way
// out; the interceptors add the subscriber's own.
//
// Keyframes: a new down track (a newcomer's, or one a renegotiation adds)
// needs a keyframe to start decoding, and the one its publisher sent
// before is lost to it. Its first keyframe is asked for (a PLI to the
// publisher) once it can be delivered: pion bound it to the sender, when
// the answer that negotiated it was applied, and the subscribe
// connection is connected (SRTP is up); whichever comes last asks, once.
// The exact rule, per source:
//
//   - a first-keyframe request is sent at once, unless a PLI went to the
//     source less than 100 ms ago (firstKeyframeGap, or KeyframeInterval
//     if shorter); then one PLI goes out when the 100 ms have passed, for
//     every request meanwhile. Newcomers joining at once share requests;
//     a keyframe the source sends after a down track is bound reaches it.
//   - any other request (a subscriber's PLI or FIR, an ICE restart of a
//     subscribe connection, a subscribe connection that comes back) is
//     sent at most once per KeyframeInterval (default 1 s): within the
//     interval it waits, once for all, until the interval since the last
//     PLI of either kind has passed.
//   - every PLI serves all the requests made before it: a request waiting
//     is dropped when a PLI goes out, and moved earlier when a first-
//     keyframe request is due before it.
//
// So a source gets at most one PLI per 100 ms, and more than one per
// KeyframeInterval only for down tracks that start; a plain renegotiation
// asks for nothing else.
//
// The default interceptors provide NACKs to publishers, NACK responses
// with RTX to subscribers, RTCP sender and receiver reports, and
// transport-wide congestion control feedback to publishers, whose
// bandwidth estimators adapt to it. The audio level header extension of
// every audio packet feeds an active speaker detector per call.
//
// A participant whose connection fails (or whose client closed it) is
// removed after FailedGrace unless an ICE restart brings it back; the
// SFU calls Config.OnFailed so that the gateway records the leave.
// Leaving closes both peer connections, which ends every goroutine of the
// participant.
//
// # Goroutines
//
// Per published track: one reader (source.readLoop) that fans packets out.
// Per participant: one writer (writeLoop) draining its bounded forward
// queue, and one RTCP reader per downTrack (keyframe requests to the
// publisher); a second track of a kind, which is not forwarded, is read
// and dropped by a drain goroutine. pion runs the connections' own goroutines and calls back on them
// (OnTrack, OnICECandidate, OnConnectionStateChange). A PLI delayed by the
// keyframe throttle or the first-keyframe gap waits on a timer (one per
// source at most, under source.pliMu). SFU.goFunc starts them all so that
// Close can wait for every one.
//
// # Locks
//
// Where locks nest they are taken in this order, never the other way:
//
//	SFU.mu → room.mu → Participant.negMu → Participant.mu → source.pliMu
//
// trickle.mu (one per connection) is taken with negMu held (an offer
// holds its candidates) and is held while a candidate is sent; sending a
// Message (Participant.send → Config's out callback, the gateway's queue)
// never blocks and takes none of these locks. A source's downs list is
// read without a lock on every packet (an atomic pointer) and replaced
// with the room's lock held.
package media
