package gateway

import (
	"fmt"
	"unicode/utf8"
)

// Strict text: encoding/json replaces invalid UTF-8 and lone surrogate
// escapes with U+FFFD without a word, so a message would be stored other
// than it was sent. Bodies and frames are checked before they are
// decoded, and such text is refused instead.

// textError is text that is not valid Unicode.
type textError struct {
	offset      int
	what        string
	invalidUTF8 bool // rather than a lone surrogate escape
}

func (e *textError) Error() string { return fmt.Sprintf("%s at byte %d", e.what, e.offset) }

// checkText reports whether data, a JSON document, is valid UTF-8 whose
// \u escapes are all Unicode scalar values: a high surrogate escape
// (\ud800-\udbff) must be followed at once by a low one (\udc00-\udfff),
// and a low one must follow a high one. Malformed escapes are left to the
// JSON decoder.
func checkText(data []byte) error {
	if !utf8.Valid(data) {
		for i := 0; i < len(data); {
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n == 1 {
				return &textError{i, "invalid UTF-8", true}
			}
			i += n
		}
	}
	if i, ok := loneSurrogate(data); ok {
		return &textError{i, "lone UTF-16 surrogate escape", false}
	}
	return nil
}

// loneSurrogate returns the offset of the first \u escape in data that is
// a surrogate not in a high-low pair. In valid JSON a backslash occurs only
// in strings and starts an escape, so escapes are found without tracking
// the strings.
func loneSurrogate(data []byte) (offset int, found bool) {
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' {
			continue
		}
		if i+1 >= len(data) || data[i+1] != 'u' {
			i++ // a one-character escape: skip the character
			continue
		}
		u, ok := hex4(data[i+2:])
		if !ok {
			i++
			continue
		}
		switch {
		case u >= 0xdc00 && u <= 0xdfff:
			return i, true
		case u >= 0xd800 && u <= 0xdbff:
			next := data[i+6:]
			if len(next) < 6 || next[0] != '\\' || next[1] != 'u' {
				return i, true
			}
			if lo, ok := hex4(next[2:]); !ok || lo < 0xdc00 || lo > 0xdfff {
				return i, true
			}
			i += 11 // the pair
		default:
			i += 5
		}
	}
	return 0, false
}

// hex4 parses the four hex digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}
