// Package rtctest is a WebRTC call participant for tests and load
// generation: a Pion client with confab's two peer connections (publish,
// where it offers, and subscribe, where the SFU offers) that sends
// synthetic audio and VP8 video and counts what it receives.
//
// The media is not decodable audio or video, but it is shaped like it:
// Opus-sized audio packets every 20 ms carrying the audio level header
// extension, and VP8 frames whose payload header marks keyframes, so that
// a receiver can tell when it got one. The video sender sends a keyframe
// first and then only when asked (PLI or FIR), so that a test can check
// the SFU's keyframe requests.
//
// WSCall signals over the WebSocket API and follows call.rejoin as the
// browser does (when the node hosting a call dies and another takes it):
// its frame pump sends call.join again on the same WebSocket, and the
// client's Reconnect, run on the client's event goroutine so that it is
// ordered with the SFU's offers and candidates, closes both peer
// connections and makes new ones with the ICE servers of the new ack;
// publishing again waits for the pump, so it runs on a goroutine of its
// own that Close waits for. Counts of what was received go on across a
// rejoin. Client.mu guards the peer connections, which Reconnect
// replaces, the tracks received and the tracks sent.
package rtctest
