// Package media is confab's call server: a WebRTC selective forwarding
// unit on pion/webrtc and an embedded TURN server on pion/turn. Signaling
// rides the gateway's WebSocket.
package media
