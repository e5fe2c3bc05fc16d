package main

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// decodeFrame decodes a server frame into f like json.Unmarshal, but
// without reflection for the frames the generator sees by the hundred
// thousand per second (at 100k deliveries/s encoding/json alone would
// take most of a core from the server on a small machine). Anything
// unusual (escapes in the strings it keeps, unexpected types, malformed
// JSON) goes to encoding/json, which has the last word.
func decodeFrame(data []byte, f *frame) error {
	*f = frame{}
	if fastDecode(data, f) {
		return nil
	}
	*f = frame{}
	return json.Unmarshal(data, f)
}

// jscan walks JSON text.
type jscan struct {
	b []byte
	i int
}

func (s *jscan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (s *jscan) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// str reads a string; ok is false if there is none or it has escapes
// (the caller then gives up, unless it only skips it).
func (s *jscan) str() (v []byte, escaped, ok bool) {
	if s.peek() != '"' {
		return nil, false, false
	}
	s.i++
	start := s.i
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			v = s.b[start:s.i]
			s.i++
			return v, escaped, true
		case c == '\\':
			escaped = true
			s.i += 2
		case c < 0x20:
			return nil, false, false
		default:
			s.i++
		}
	}
	return nil, false, false
}

// skip skips one value of any kind.
func (s *jscan) skip() bool {
	switch c := s.peek(); {
	case c == '"':
		_, _, ok := s.str()
		return ok
	case c == '{':
		return s.object(func([]byte) bool { return s.skip() })
	case c == '[':
		s.i++
		if s.peek() == ']' {
			s.i++
			return true
		}
		for {
			if !s.skip() {
				return false
			}
			switch s.peek() {
			case ',':
				s.i++
			case ']':
				s.i++
				return true
			default:
				return false
			}
		}
	case c == '-' || c >= '0' && c <= '9':
		start := s.i
		for s.i < len(s.b) && bytes.IndexByte([]byte("+-.eE0123456789"), s.b[s.i]) >= 0 {
			s.i++
		}
		return s.i > start
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
				s.i += len(lit)
				return true
			}
		}
		return false
	}
}

// object walks an object, calling member for each key with the scanner
// at its value, which member must consume.
func (s *jscan) object(member func(key []byte) bool) bool {
	if s.peek() != '{' {
		return false
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return true
	}
	for {
		k, esc, ok := s.str()
		if !ok || esc || s.peek() != ':' {
			return false
		}
		s.i++
		if !member(k) {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// plainStr reads a string without escapes into *dst.
func (s *jscan) plainStr(dst *string) bool {
	if s.peek() == 'n' {
		return s.skip() // null leaves the zero value, as encoding/json does
	}
	v, esc, ok := s.str()
	if !ok || esc || !utf8.Valid(v) {
		return false
	}
	*dst = intern(v)
	return true
}

// intern returns the common values of type and event without allocating.
func intern(v []byte) string {
	switch string(v) {
	case "event":
		return "event"
	case "ack":
		return "ack"
	case "error":
		return "error"
	case "presence":
		return "presence"
	case "message.posted":
		return "message.posted"
	}
	return string(v)
}

func foldsTo(k []byte, names ...string) bool {
	for _, n := range names {
		if bytes.EqualFold(k, []byte(n)) {
			return true
		}
	}
	return false
}

func fastDecode(data []byte, f *frame) bool {
	s := &jscan{b: data}
	ok := s.object(func(k []byte) bool {
		switch string(k) {
		case "type":
			return s.plainStr(&f.Type)
		case "id":
			return s.plainStr(&f.ID)
		case "room_id":
			return s.plainStr(&f.RoomID)
		case "event":
			return s.plainStr(&f.Event)
		case "code":
			return s.plainStr(&f.Code)
		case "message":
			return s.plainStr(&f.Message)
		case "seq":
			start := s.i
			if !s.skip() {
				return false
			}
			n, err := strconv.ParseUint(string(bytes.TrimSpace(s.b[start:s.i])), 10, 64)
			f.Seq = n
			return err == nil
		case "too_many_missed":
			switch s.peek() {
			case 't':
				f.TooManyMissed = true
			case 'f':
			default:
				return false
			}
			return s.skip()
		case "data":
			if s.peek() == 'n' {
				return s.skip()
			}
			return s.object(func(k []byte) bool {
				switch string(k) {
				case "client_msg_id":
					return s.plainStr(&f.Data.ClientMsgID)
				case "text":
					return s.plainStr(&f.Data.Text)
				}
				if foldsTo(k, "client_msg_id", "text") {
					return false
				}
				return s.skip()
			})
		}
		// encoding/json matches keys case-insensitively: leave such
		// frames to it.
		if foldsTo(k, "type", "id", "room_id", "event", "code", "message", "seq", "too_many_missed", "data") {
			return false
		}
		return s.skip()
	})
	return ok && s.peek() == 0
}
