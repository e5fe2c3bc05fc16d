package main

import (
	"encoding/json"
	"testing"
)

// frames the server sends (docs/protocol.md), and some it might.
var sampleFrames = []string{
	string(eventFrame),
	`{"type":"ready","conn_id":"84b7ede3-2c1a-4c57-9a47-1c6a0d7b1f2e","user":{"id":"948a1b32-a7ca-54e5-a6ea-854cc0e36223","username":"bob"}}`,
	`{"type":"ack","id":"s1","room_id":"6bcdae09-169f-4029-b8f9-3aebe552c86b","seq":1006,"too_many_missed":true}`,
	`{"type":"ack","id":"m2","room_id":"6bcdae09-169f-4029-b8f9-3aebe552c86b","seq":11,"client_msg_id":"c-2"}`,
	`{"type":"error","id":"us2","code":"not_subscribed","message":"not subscribed to this room"}`,
	`{"type":"error","code":"invalid","message":"sign up: username \"Alice\" is taken"}`,
	`{"type":"presence","user_id":"791a6f79-854f-5b97-ac59-70eb56d46234","status":"offline","last_seen":"2026-11-21T22:21:36.745743Z"}`,
	`{"type":"event","room_id":"6bcdae09","seq":1,"event":"room.created","data":{"room_id":"6bcdae09","kind":"group","name":"Gen\u00e9ral","owner_id":"791a","members":["791a","948a"],"at":"x"},"at":"y"}`,
	`{"type":"event","room_id":"r","seq":6,"event":"message.posted","data":{"sender_id":"s","client_msg_id":"m2","text":"👋 \"quoted\"","mentions":["a","b"],"reply_to":3,"at":"x"},"at":"y"}`,
	`{"type":"event","room_id":"r","seq":5,"event":"reaction.added","data":{"seq":3,"emoji":"👍","user_id":"u","nested":{"a":[1,2.5e3,-1,true,false,null,{}]}}}`,
	` { "type" : "pong" , "id" : "" } `,
	`{"TYPE":"ack","Seq":3,"data":{"Text":"x"}}`,
	"{\"type\":\"a\xffb\"}",
	`{"type":"event","data":null,"seq":2}`,
	`{"type":"ack","seq":-1}`,
	`{"type":"ack","seq":1.5}`,
	`{"type":"ack"} trailing`,
	`{"type":"ack",}`,
	`{"type":`,
	`[]`,
	``,
}

// TestDecodeFrameMatchesEncodingJSON checks the fast decoder against
// encoding/json: the same frame, or an error where it errs.
func TestDecodeFrameMatchesEncodingJSON(t *testing.T) {
	for _, s := range sampleFrames {
		var want, got frame
		wantErr := json.Unmarshal([]byte(s), &want)
		gotErr := decodeFrame([]byte(s), &got)
		if (wantErr != nil) != (gotErr != nil) || wantErr == nil && got != want {
			t.Errorf("%s:\n got %+v, %v\nwant %+v, %v", s, got, gotErr, want, wantErr)
		}
	}
	var f frame
	if !fastDecode(eventFrame, &f) || f.Seq != 123456 || f.Data.Text == "" {
		t.Errorf("the common event frame is not decoded on the fast path: %+v", f)
	}
}

func FuzzDecodeFrame(f *testing.F) {
	for _, s := range sampleFrames {
		f.Add([]byte(s))
	}
	// For valid JSON the two decoders agree; on invalid JSON in fields it
	// skips, the fast one may accept what encoding/json refuses (the
	// server sends valid JSON).
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		var want, got frame
		wantErr := json.Unmarshal(data, &want)
		gotErr := decodeFrame(data, &got)
		if (wantErr != nil) != (gotErr != nil) || wantErr == nil && got != want {
			t.Errorf("%q:\n got %+v, %v\nwant %+v, %v", data, got, gotErr, want, wantErr)
		}
	})
}
