package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/gorilla/websocket"
)

// Frame is a client's WebSocket frame. Which fields matter depends on Type;
// DecodeFrame checks them.
type Frame struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`

	Token       string `json:"token,omitempty"`
	RoomID      string `json:"room_id,omitempty"`
	AfterSeq    uint64 `json:"after_seq,omitempty"`
	Seq         uint64 `json:"seq,omitempty"`
	ClientMsgID string `json:"client_msg_id,omitempty"`
	Text        string `json:"text,omitempty"`
	ReplyTo     uint64 `json:"reply_to,omitempty"`
	ThreadRoot  uint64 `json:"thread_root,omitempty"` // send: a reply in this thread
	Emoji       string `json:"emoji,omitempty"`
	Remove      bool   `json:"remove,omitempty"`
	// Attachments are the upload IDs a send carries, or those an edit
	// keeps (absent: all).
	Attachments *[]string `json:"attachments,omitempty"`

	// Call signaling.
	SDP       string            `json:"sdp,omitempty"`
	Tracks    map[string]string `json:"tracks,omitempty"` // kind by mid, with call.offer
	PC        string            `json:"pc,omitempty"`
	Candidate *candidateJSON    `json:"candidate,omitempty"`
	Audio     bool              `json:"audio,omitempty"`
	Video     bool              `json:"video,omitempty"`
	Screen    bool              `json:"screen,omitempty"`
}

// Frame types a client sends.
const (
	FrameHello       = "hello"
	FrameSubscribe   = "subscribe"
	FrameUnsubscribe = "unsubscribe"
	FrameSend        = "send"
	FrameEdit        = "edit"
	FrameDelete      = "delete"
	FrameReact       = "react"
	FrameTyping      = "typing"
	FrameRead        = "read"
	FramePing        = "ping"
)

// maxFrameID bounds a frame's id.
const maxFrameID = 64

// frameError is a bad frame: its code and message go back to the client,
// or, if close is set, the connection is closed with that code.
type frameError struct {
	code, msg string
	close     int
}

func (e *frameError) Error() string { return e.code + ": " + e.msg }

// DecodeFrame parses and checks a client frame. Its errors are
// *frameError with an API error code.
func DecodeFrame(data []byte) (Frame, error) {
	if err := checkText(data); err != nil {
		fe := &frameError{code: "invalid", msg: "frame is not valid text: " + err.Error()}
		if err.(*textError).invalidUTF8 {
			// RFC 6455 section 8.1: a text frame that is not UTF-8 fails
			// the connection with 1007.
			fe.close = websocket.CloseInvalidFramePayloadData
		}
		return Frame{}, fe
	}
	var f Frame
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			return Frame{}, &frameError{code: CodeInvalidJSON, msg: "frame is not valid JSON"}
		case errors.As(err, &typ):
			return Frame{}, &frameError{code: CodeInvalidJSON, msg: fmt.Sprintf("field %q has the wrong type", typ.Field)}
		default:
			return Frame{}, &frameError{code: CodeInvalidJSON, msg: "frame is not a valid JSON object: " + err.Error()}
		}
	}
	if !onlySpace(data[dec.InputOffset():]) {
		return Frame{}, &frameError{code: CodeInvalidJSON, msg: "one JSON object per frame"}
	}
	if len(f.ID) > maxFrameID {
		return Frame{}, &frameError{code: "invalid", msg: fmt.Sprintf("id must be at most %d characters", maxFrameID)}
	}
	need := func(cond bool, what string) error {
		if !cond {
			return &frameError{code: "invalid", msg: fmt.Sprintf("%s frame needs %s", f.Type, what)}
		}
		return nil
	}
	switch f.Type {
	case FrameHello:
		return f, need(f.Token != "", "a token")
	case FrameSubscribe, FrameUnsubscribe, FrameTyping:
		return f, need(f.RoomID != "", "a room_id")
	case FrameSend:
		if err := need(f.RoomID != "", "a room_id"); err != nil {
			return f, err
		}
		return f, need(f.ClientMsgID != "", "a client_msg_id")
	case FrameEdit, FrameDelete, FrameRead:
		if err := need(f.RoomID != "", "a room_id"); err != nil {
			return f, err
		}
		return f, need(f.Seq > 0, "a seq")
	case FrameReact:
		if err := need(f.RoomID != "" && f.Seq > 0, "a room_id and a seq"); err != nil {
			return f, err
		}
		return f, need(f.Emoji != "", "an emoji")
	case FramePing:
		return f, nil
	case FrameCallJoin, FrameCallLeave, FrameCallMedia, FrameCallRestartICE:
		return f, need(f.RoomID != "", "a room_id")
	case FrameCallOffer, FrameCallAnswer:
		if err := need(f.RoomID != "" && f.SDP != "", "a room_id and an sdp"); err != nil {
			return f, err
		}
		if len(f.SDP) > maxSDPBytes {
			return f, &frameError{code: "invalid", msg: fmt.Sprintf("sdp must be at most %d bytes", maxSDPBytes)}
		}
		return f, need(len(f.Tracks) <= maxTracks, fmt.Sprintf("at most %d tracks", maxTracks))
	case FrameCallCandidate:
		if err := need(f.RoomID != "" && f.Candidate != nil, "a room_id and a candidate"); err != nil {
			return f, err
		}
		if err := need(f.PC == "pub" || f.PC == "sub", `pc "pub" or "sub"`); err != nil {
			return f, err
		}
		return f, need(len(f.Candidate.Candidate) <= maxCandidateBytes, fmt.Sprintf("a candidate of at most %d bytes", maxCandidateBytes))
	case "":
		return f, &frameError{code: CodeUnknownType, msg: "frame has no type"}
	}
	return f, &frameError{code: CodeUnknownType, msg: fmt.Sprintf("unknown frame type %q", truncate(f.Type, 32))}
}

// onlySpace reports whether b holds nothing but JSON whitespace.
func onlySpace(b []byte) bool {
	return len(bytes.TrimLeft(b, " \t\r\n")) == 0
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
