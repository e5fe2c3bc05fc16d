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
package rtctest
