package gateway

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestCheckText(t *testing.T) {
	ok := []string{
		``, `{}`, `{"text":"plain"}`, `{"text":"é 😀"}`, `"\u00e9"`, `"\uD83D\uDE00"`, `"\ud83d\ude00"`,
		`"\\ud800"`,          // an escaped backslash, then text
		`"\\\ud83d\ude00"`,   // a backslash, then a pair
		`"\ud7ff\ue000"`,     // just outside the surrogates
		`"\ufffd"`,           // U+FFFD itself is fine
		`"\u12"`, `"\uzzzz"`, // malformed escapes: the decoder's business
		`"\`,
	}
	for _, s := range ok {
		if err := checkText([]byte(s)); err != nil {
			t.Errorf("checkText(%s) = %v, want nil", s, err)
		}
	}
	bad := []struct {
		in     string
		offset int
		utf8   bool
	}{
		{"a\xffb", 1, true},
		{"\xed\xa0\x80", 0, true}, // a surrogate encoded in UTF-8
		{"\xc0\xaf", 0, true},     // overlong
		{`"a` + "\xfe", 2, true},
		{`"\ud800"`, 1, false},
		{`"\uDBFF"`, 1, false},
		{`"\udc00"`, 1, false},
		{`"\ud800\u0041"`, 1, false},
		{`"\ud800\ud800"`, 1, false},
		{`"\ud800\`, 1, false},
		{`"\ud83d\ude00\ude00"`, 13, false},
		{`"\\\udc00"`, 3, false},
		{`"x\u0041\ud800"`, 8, false},
	}
	for _, tt := range bad {
		err := checkText([]byte(tt.in))
		te, isText := err.(*textError)
		if !isText || te.offset != tt.offset || te.invalidUTF8 != tt.utf8 {
			t.Errorf("checkText(%q) = %v, want a text error at %d (invalid UTF-8 %v)", tt.in, err, tt.offset, tt.utf8)
		}
	}
}

// mayHoldFFFD reports whether JSON data holds U+FFFD itself: as UTF-8 or
// as an escape (in either case).
func mayHoldFFFD(data []byte) bool {
	return bytes.Contains(data, []byte("\ufffd")) || strings.Contains(strings.ToLower(string(data)), `\ufffd`)
}

// decodedFFFD reports whether the strings and keys of valid JSON data
// hold U+FFFD once decoded (tokens, so that a duplicate key hides none).
func decodedFFFD(data []byte) (found, valid bool) {
	if !json.Valid(data) {
		return false, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil {
			return found, true
		}
		if s, ok := tok.(string); ok && strings.Contains(s, "\ufffd") {
			found = true
		}
	}
}

// FuzzCheckText checks checkText against encoding/json itself: for valid
// JSON without U+FFFD of its own, the decoder replaces something exactly
// when checkText refuses the document.
func FuzzCheckText(f *testing.F) {
	for _, s := range []string{`{"text":"a\ud800b"}`, `["\ud83d\ude00"]`, `{"\udc00":1}`, "\"a\xff\xfeb\"", `"\\ud800"`, `"\\\ud800"`, `"ok"`} {
		f.Add([]byte(s))
	}
	for _, s := range frameFuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := checkText(data)
		replaced, valid := decodedFFFD(data)
		if !valid || mayHoldFFFD(data) {
			return
		}
		if replaced != (err != nil) {
			t.Fatalf("checkText(%q) = %v, but the decoder replaced text: %v", data, err, replaced)
		}
	})
}
