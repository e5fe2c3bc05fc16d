package main

import "testing"

var eventFrame = []byte(`{"type":"event","room_id":"6bcdae09-169f-4029-b8f9-3aebe552c86b","seq":123456,"event":"message.posted","data":{"sender_id":"791a6f79-854f-5b97-ac59-70eb56d46234","client_msg_id":"k3x9az2b-1a2b3","text":"cb k3x9az2b 0 1795312345678901234","at":"2026-11-21T22:20:48.754769971Z"},"at":"2026-11-21T22:20:48.754917Z"}`)

// BenchmarkDecodeEvent measures the generator's cost per delivery to
// decode a message event (its receivers' hot path).
func BenchmarkDecodeEvent(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		var f frame
		if err := decodeFrame(eventFrame, &f); err != nil {
			b.Fatal(err)
		}
	}
}
