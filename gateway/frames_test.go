package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// frameTestCodes are the error codes DecodeFrame may return.
var frameTestCodes = map[string]bool{CodeInvalidJSON: true, CodeUnknownType: true, "invalid": true}

const frameTestRoom = "0b8f2c1e-6a7d-4c1e-9a55-2f0e4d3c2b1a"

func TestDecodeFrame(t *testing.T) {
	valid := []struct {
		in   string
		want Frame
	}{
		{`{"type":"hello","token":"tok"}`, Frame{Type: FrameHello, Token: "tok"}},
		{`{"type":"hello","id":"h1","token":"tok"}`, Frame{Type: FrameHello, ID: "h1", Token: "tok"}},
		{`{"type":"subscribe","room_id":"` + frameTestRoom + `"}`, Frame{Type: FrameSubscribe, RoomID: frameTestRoom}},
		{`{"type":"subscribe","id":"s","room_id":"` + frameTestRoom + `","after_seq":42}`, Frame{Type: FrameSubscribe, ID: "s", RoomID: frameTestRoom, AfterSeq: 42}},
		{`{"type":"unsubscribe","room_id":"r"}`, Frame{Type: FrameUnsubscribe, RoomID: "r"}},
		{`{"type":"send","room_id":"r","client_msg_id":"c1","text":"hi"}`, Frame{Type: FrameSend, RoomID: "r", ClientMsgID: "c1", Text: "hi"}},
		{`{"type":"send","room_id":"r","client_msg_id":"c1","text":"re","reply_to":3}`, Frame{Type: FrameSend, RoomID: "r", ClientMsgID: "c1", Text: "re", ReplyTo: 3}},
		// Text is checked by the room, not the decoder.
		{`{"type":"send","room_id":"r","client_msg_id":"c1"}`, Frame{Type: FrameSend, RoomID: "r", ClientMsgID: "c1"}},
		{`{"type":"edit","room_id":"r","seq":7,"text":"fixed"}`, Frame{Type: FrameEdit, RoomID: "r", Seq: 7, Text: "fixed"}},
		{`{"type":"delete","room_id":"r","seq":7}`, Frame{Type: FrameDelete, RoomID: "r", Seq: 7}},
		{`{"type":"react","room_id":"r","seq":7,"emoji":"👍"}`, Frame{Type: FrameReact, RoomID: "r", Seq: 7, Emoji: "👍"}},
		{`{"type":"react","room_id":"r","seq":7,"emoji":"👍","remove":true}`, Frame{Type: FrameReact, RoomID: "r", Seq: 7, Emoji: "👍", Remove: true}},
		{`{"type":"typing","room_id":"r"}`, Frame{Type: FrameTyping, RoomID: "r"}},
		{`{"type":"read","room_id":"r","seq":1}`, Frame{Type: FrameRead, RoomID: "r", Seq: 1}},
		{`{"type":"ping"}`, Frame{Type: FramePing}},
		{`{"type":"ping","id":"p"}`, Frame{Type: FramePing, ID: "p"}},
		{` {"type":"ping"}` + "\n", Frame{Type: FramePing}},
		{`{"type":"ping","id":"` + strings.Repeat("x", maxFrameID) + `"}`, Frame{Type: FramePing, ID: strings.Repeat("x", maxFrameID)}},
		// JSON escapes decode; null leaves a field empty.
		{`{"type":"send","room_id":"r","client_msg_id":"c","text":"a\u00e9\n"}`, Frame{Type: FrameSend, RoomID: "r", ClientMsgID: "c", Text: "aé\n"}},
		{`{"type":"ping","id":null}`, Frame{Type: FramePing}},
		// A surrogate pair is one character; an escaped backslash is no
		// escape.
		{`{"type":"send","room_id":"r","client_msg_id":"c","text":"\ud83d\ude00 \\ud800"}`, Frame{Type: FrameSend, RoomID: "r", ClientMsgID: "c", Text: "😀 \\ud800"}},
		{`{"type":"call.join","room_id":"r"}`, Frame{Type: FrameCallJoin, RoomID: "r"}},
		{`{"type":"call.offer","room_id":"r","sdp":"v=0","tracks":{"0":"audio","1":"screen"}}`,
			Frame{Type: FrameCallOffer, RoomID: "r", SDP: "v=0", Tracks: map[string]string{"0": "audio", "1": "screen"}}},
		{`{"type":"call.candidate","room_id":"r","pc":"sub","candidate":{"candidate":"candidate:1 1 udp 1 198.18.0.1 5000 typ host","sdpMid":"0"}}`,
			Frame{Type: FrameCallCandidate, RoomID: "r", PC: "sub", Candidate: &candidateJSON{Candidate: "candidate:1 1 udp 1 198.18.0.1 5000 typ host", SDPMid: new("0")}}},
		{`{"type":"call.media","room_id":"r","audio":true,"screen":true}`, Frame{Type: FrameCallMedia, RoomID: "r", Audio: true, Screen: true}},
	}
	for _, tt := range valid {
		got, err := DecodeFrame([]byte(tt.in))
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("DecodeFrame(%s) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}

	bad := []struct {
		in, code, msg string // msg: a part of the message
		bug           string // non-empty: a known bug; the case is skipped
	}{
		{``, CodeInvalidJSON, "not valid JSON", ""},
		{`   `, CodeInvalidJSON, "not valid JSON", ""},
		{`{"type":`, CodeInvalidJSON, "not valid JSON", ""},
		{`{"type":"ping"`, CodeInvalidJSON, "not valid JSON", ""},
		{`{type:"ping"}`, CodeInvalidJSON, "not valid JSON", ""},
		{`{"type":"ping",}`, CodeInvalidJSON, "not valid JSON", ""},
		{"\xff\xfe", "invalid", "invalid UTF-8 at byte 0", ""},
		{`{"type":"send","room_id":"r","client_msg_id":"c","text":"a` + "\xff" + `"}`, "invalid", "invalid UTF-8", ""},
		{`{"type":"send","room_id":"r","client_msg_id":"c","text":"a\ud800"}`, "invalid", "lone UTF-16 surrogate escape", ""},
		{`{"type":"send","room_id":"r","client_msg_id":"c","text":"\udc00b"}`, "invalid", "lone UTF-16 surrogate escape", ""},
		{`[]`, CodeInvalidJSON, "wrong type", ""},
		{`"ping"`, CodeInvalidJSON, "wrong type", ""},
		{`42`, CodeInvalidJSON, "wrong type", ""},
		{`{"type":1}`, CodeInvalidJSON, `"type" has the wrong type`, ""},
		{`{"type":"read","room_id":"r","seq":-1}`, CodeInvalidJSON, `"seq" has the wrong type`, ""},
		{`{"type":"read","room_id":"r","seq":1.5}`, CodeInvalidJSON, `"seq" has the wrong type`, ""},
		{`{"type":"read","room_id":"r","seq":"1"}`, CodeInvalidJSON, `"seq" has the wrong type`, ""},
		{`{"type":"subscribe","room_id":"r","after_seq":18446744073709551616}`, CodeInvalidJSON, `"after_seq" has the wrong type`, ""},
		{`{"type":"react","room_id":"r","seq":1,"emoji":"x","remove":"yes"}`, CodeInvalidJSON, `"remove" has the wrong type`, ""},
		{`{"type":"ping","sender_id":"someone"}`, CodeInvalidJSON, "unknown field", ""},
		{`{"type":"ping"}{"type":"ping"}`, CodeInvalidJSON, "one JSON object", ""},
		{`{"type":"ping"} x`, CodeInvalidJSON, "one JSON object", ""},
		{`{"type":"ping"}}`, CodeInvalidJSON, "one JSON object", ""},
		{`{"type":"ping"}]`, CodeInvalidJSON, "one JSON object", ""},
		{`{}`, CodeUnknownType, "no type", ""},
		{`null`, CodeUnknownType, "no type", ""},
		{`{"type":""}`, CodeUnknownType, "no type", ""},
		{`{"type":"bogus"}`, CodeUnknownType, `"bogus"`, ""},
		{`{"type":"PING"}`, CodeUnknownType, `"PING"`, ""},
		{`{"type":"` + strings.Repeat("z", 100) + `"}`, CodeUnknownType, strings.Repeat("z", 32) + "…", ""},
		{`{"type":"ping","id":"` + strings.Repeat("x", maxFrameID+1) + `"}`, "invalid", "id must be at most 64", ""},
		{`{"type":"hello"}`, "invalid", "hello frame needs a token", ""},
		{`{"type":"subscribe"}`, "invalid", "subscribe frame needs a room_id", ""},
		{`{"type":"subscribe","after_seq":3}`, "invalid", "needs a room_id", ""},
		{`{"type":"unsubscribe"}`, "invalid", "unsubscribe frame needs a room_id", ""},
		{`{"type":"typing"}`, "invalid", "typing frame needs a room_id", ""},
		{`{"type":"send","client_msg_id":"c","text":"t"}`, "invalid", "send frame needs a room_id", ""},
		{`{"type":"send","room_id":"r","text":"t"}`, "invalid", "send frame needs a client_msg_id", ""},
		{`{"type":"edit","room_id":"r","text":"t"}`, "invalid", "edit frame needs a seq", ""},
		{`{"type":"edit","seq":1,"text":"t"}`, "invalid", "edit frame needs a room_id", ""},
		{`{"type":"delete","room_id":"r"}`, "invalid", "delete frame needs a seq", ""},
		{`{"type":"delete","room_id":"r","seq":0}`, "invalid", "delete frame needs a seq", ""},
		{`{"type":"read","room_id":"r"}`, "invalid", "read frame needs a seq", ""},
		{`{"type":"react","room_id":"r","emoji":"x"}`, "invalid", "needs a room_id and a seq", ""},
		{`{"type":"react","seq":1,"emoji":"x"}`, "invalid", "needs a room_id and a seq", ""},
		{`{"type":"react","room_id":"r","seq":1}`, "invalid", "react frame needs an emoji", ""},
		{`{"type":"call.join"}`, "invalid", "call.join frame needs a room_id", ""},
		{`{"type":"call.offer","room_id":"r"}`, "invalid", "needs a room_id and an sdp", ""},
		{`{"type":"call.offer","room_id":"r","sdp":"` + strings.Repeat("a", maxSDPBytes+1) + `"}`, "invalid", "sdp must be at most", ""},
		{`{"type":"call.answer","room_id":"r","sdp":"v=0","tracks":{"1":1}}`, CodeInvalidJSON, "wrong type", ""},
		{`{"type":"call.candidate","room_id":"r","pc":"sub"}`, "invalid", "needs a room_id and a candidate", ""},
		{`{"type":"call.candidate","room_id":"r","pc":"side","candidate":{"candidate":"c"}}`, "invalid", `pc "pub" or "sub"`, ""},
		{`{"type":"call.candidate","room_id":"r","pc":"pub","candidate":{"candidate":"` + strings.Repeat("c", maxCandidateBytes+1) + `"}}`, "invalid", "at most 1024 bytes", ""},
	}
	for _, tt := range bad {
		t.Run(strings.ToValidUTF8(truncate(tt.in, 40), "?"), func(t *testing.T) {
			if tt.bug != "" {
				t.Skip("bug: " + tt.bug)
			}
			_, err := DecodeFrame([]byte(tt.in))
			var fe *frameError
			if !errors.As(err, &fe) {
				t.Fatalf("DecodeFrame(%q) error %v (%T), want a *frameError", tt.in, err, err)
			}
			if fe.code != tt.code || !strings.Contains(fe.msg, tt.msg) {
				t.Fatalf("DecodeFrame(%q) = %q %q, want code %q with a message containing %q", tt.in, fe.code, fe.msg, tt.code, tt.msg)
			}
		})
	}
}

// frameFuzzSeeds are valid and invalid frames the fuzzer starts from, beside
// the corpus in testdata/fuzz/FuzzDecodeFrame.
var frameFuzzSeeds = []string{
	`{"type":"hello","token":"abc"}`,
	`{"type":"subscribe","id":"1","room_id":"` + frameTestRoom + `","after_seq":3}`,
	`{"type":"unsubscribe","room_id":"` + frameTestRoom + `"}`,
	`{"type":"send","id":"2","room_id":"` + frameTestRoom + `","client_msg_id":"c1","text":"hi @bob","reply_to":1}`,
	`{"type":"edit","room_id":"r","seq":1,"text":"x"}`,
	`{"type":"delete","room_id":"r","seq":1}`,
	`{"type":"react","room_id":"r","seq":1,"emoji":"🎉","remove":true}`,
	`{"type":"typing","room_id":"r"}`,
	`{"type":"read","room_id":"r","seq":9}`,
	`{"type":"ping","id":"p"}`,
	`{"type":"bogus"}`,
	`{"type":"send","room_id":"r"}`,
	`{"type":"ping","extra":1}`,
	`{"type":"read","room_id":"r","seq":-1}`,
	`{"type":"ping"}{}`,
	`{"type":`,
	`null`,
	`[1,2]`,
	"",
	"\x00\xff",
}

// FuzzDecodeFrame checks that DecodeFrame never panics, fails only with a
// *frameError carrying a documented code and a message, and that a frame
// it accepts survives a round trip through JSON.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range frameFuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := DecodeFrame(data)
		if err != nil {
			var fe *frameError
			if !errors.As(err, &fe) {
				t.Fatalf("DecodeFrame(%q) error %v (%T), want a *frameError", data, err, err)
			}
			if !frameTestCodes[fe.code] || fe.msg == "" {
				t.Fatalf("DecodeFrame(%q) = code %q message %q: want a documented code and a message", data, fe.code, fe.msg)
			}
			if (fe.close == websocket.CloseInvalidFramePayloadData) != !utf8.Valid(data) {
				t.Fatalf("DecodeFrame(%q): close %d; want 1007 exactly for invalid UTF-8", data, fe.close)
			}
			return
		}
		if !utf8.Valid(data) {
			t.Fatalf("DecodeFrame(%q) accepted invalid UTF-8", data)
		}
		if got.Type == "" || len(got.ID) > maxFrameID {
			t.Fatalf("DecodeFrame(%q) accepted %+v", data, got)
		}
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatalf("marshal %+v: %v", got, err)
		}
		again, err := DecodeFrame(b)
		if err != nil {
			t.Fatalf("DecodeFrame(%q) = %+v, but its re-encoding %s fails: %v", data, got, b, err)
		}
		if !reflect.DeepEqual(again, got) {
			t.Fatalf("DecodeFrame(%q) = %+v, but its re-encoding %s decodes to %+v", data, got, b, again)
		}
		// Nothing was replaced: U+FFFD comes out only if it went in.
		if bytes.Contains(b, []byte("\ufffd")) && !mayHoldFFFD(data) {
			t.Fatalf("DecodeFrame(%q) = %+v: text was replaced by U+FFFD", data, got)
		}
	})
}
