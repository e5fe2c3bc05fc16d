package domain

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on user input.
const (
	MinUsernameLen    = 3
	MaxUsernameLen    = 32
	MinPasswordLen    = 8
	MaxPasswordLen    = 256
	MaxRoomNameLen    = 100  // runes
	MaxMessageLen     = 4000 // runes
	MaxClientMsgIDLen = 64
	MaxEmojiLen       = 64 // bytes: the longest emoji of the set is 35
)

func invalid(op, format string, args ...any) error { return Errorf(KindInvalid, op, format, args...) }

// ValidateUsername checks the username rules: 3-32 characters of ASCII
// letters, digits, '_', '-' and '.'.
func ValidateUsername(name string) error {
	if n := len(name); n < MinUsernameLen || n > MaxUsernameLen {
		return invalid("sign up", "username must be %d-%d characters", MinUsernameLen, MaxUsernameLen)
	}
	for _, r := range name {
		if !isUsernameRune(r) {
			return invalid("sign up", "username may contain only letters, digits, '_', '-' and '.'")
		}
	}
	return nil
}

func isUsernameRune(r rune) bool {
	return r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.')
}

// ValidatePassword checks the password rules: 8-256 characters, not all
// of them blank (spaces, zero-width or other invisible characters). The
// commands also refuse common passwords.
func ValidatePassword(password string) error {
	if n := utf8.RuneCountInString(password); n < MinPasswordLen || !utf8.ValidString(password) {
		return invalid("sign up", "password must be at least %d characters", MinPasswordLen)
	}
	if len(password) > MaxPasswordLen {
		return invalid("sign up", "password must be at most %d bytes", MaxPasswordLen)
	}
	if !HasVisible(password) {
		return invalid("sign up", "password must not be only spaces or invisible characters")
	}
	return nil
}

// CleanRoomName trims a room name and checks it: 1-100 characters, at
// least one of them visible, no control characters and no bidirectional
// formatting characters (which could make a name read as another one,
// or reorder the text shown after it).
func CleanRoomName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > MaxRoomNameLen || !utf8.ValidString(name) {
		return "", invalid("name room", "room name must be 1-%d characters", MaxRoomNameLen)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return "", invalid("name room", "room name must not contain control characters")
		}
		if IsBidiControl(r) {
			return "", invalid("name room", "room name must not contain bidirectional control characters (U+%04X)", r)
		}
	}
	if !HasVisible(name) {
		return "", invalid("name room", "room name must contain a visible character")
	}
	return name, nil
}

// IsBidiControl reports whether r is a bidirectional formatting character:
// the embeddings and overrides U+202A-U+202E, the isolates U+2066-U+2069,
// and the marks U+200E, U+200F and U+061C.
func IsBidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 || r == 0x200E || r == 0x200F || r == 0x061C
}

// IsInvisible reports whether r shows nothing by itself: white space,
// control and format characters (zero-width spaces and joiners, bidi
// controls, tags), variation selectors and the other default-ignorable
// code points (such as the Hangul fillers).
func IsInvisible(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) ||
		unicode.Is(unicode.Variation_Selector, r) || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r)
}

// HasVisible reports whether s has a character that is not invisible.
func HasVisible(s string) bool {
	for _, r := range s {
		if !IsInvisible(r) {
			return true
		}
	}
	return false
}

// ValidateText checks a message's text: at most 4000 characters of valid
// UTF-8 without NUL, at least one of them visible (not only spaces,
// zero-width or other invisible characters: see IsInvisible).
func ValidateText(text string) error {
	switch {
	case !utf8.ValidString(text):
		return invalid("post message", "text is not valid UTF-8")
	case strings.TrimSpace(text) == "":
		return invalid("post message", "text is empty")
	case !HasVisible(text):
		return invalid("post message", "text has no visible character")
	case utf8.RuneCountInString(text) > MaxMessageLen:
		return invalid("post message", "text is longer than %d characters", MaxMessageLen)
	case strings.ContainsRune(text, 0):
		return invalid("post message", "text contains a NUL character")
	}
	return nil
}

// ValidateClientMsgID checks a client message ID: 1-64 printable ASCII
// characters.
func ValidateClientMsgID(id string) error {
	if id == "" || len(id) > MaxClientMsgIDLen {
		return invalid("post message", "client_msg_id must be 1-%d characters", MaxClientMsgIDLen)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return invalid("post message", "client_msg_id must be printable ASCII without spaces")
		}
	}
	return nil
}

// ValidateEmoji checks a reaction: one emoji of the bundled set (IsEmoji),
// at most MaxEmojiLen bytes of UTF-8 without spaces or control characters.
func ValidateEmoji(emoji string) error {
	if emoji == "" || len(emoji) > MaxEmojiLen || !utf8.ValidString(emoji) {
		return invalid("react", "emoji must be 1-%d bytes", MaxEmojiLen)
	}
	for _, r := range emoji {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return invalid("react", "emoji must not contain spaces or control characters")
		}
	}
	if !IsEmoji(emoji) {
		return invalid("react", "a reaction must be one emoji")
	}
	return nil
}

// ParseMentions returns the usernames mentioned in text as @name, lower
// case, each once, in order of first appearance. An @ counts only at the
// start or after a character that cannot be part of a username or an
// e-mail address's local part, and only outside what the client's
// markdown shows literally (web/static/js/util/markdown.js, the same
// rule): not in a fenced code block (a line of three or more backticks,
// also inside "> " quotes, up to the next such line of at least as many,
// or the end of its quote), not in a code span (a run of backticks up to
// the next run of as many on the same line), not escaped as \@, and not
// in a bare http(s) URL.
func ParseMentions(text string) []string {
	var names []string
	seen := map[string]bool{}
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	fence, fenceDepth := 0, 0 // the open fence's backticks (0: none) and quote depth
	for line := range strings.SplitSeq(text, "\n") {
		depth, rest := stripQuotes(line, maxQuoteDepth)
		if fence > 0 {
			if depth >= fenceDepth {
				if _, inner := stripQuotes(line, fenceDepth); fenceRun(inner, true) < fence {
					continue
				}
				fence = 0
				continue
			}
			fence = 0 // its quote ended
		}
		if n := fenceRun(rest, false); n > 0 {
			fence, fenceDepth = n, depth
			continue
		}
		names = lineMentions(line, names, seen)
	}
	return names
}

// maxQuoteDepth is how deep the client nests quotes (its MAX_DEPTH).
const maxQuoteDepth = 8

// stripQuotes removes up to max quote markers (up to three spaces, ">"
// and one optional space) from the start of line.
func stripQuotes(line string, max int) (depth int, rest string) {
	for depth < max {
		i := 0
		for i < 3 && i < len(line) && line[i] == ' ' {
			i++
		}
		if i >= len(line) || line[i] != '>' {
			break
		}
		line = line[i+1:]
		if len(line) > 0 && line[0] == ' ' {
			line = line[1:]
		}
		depth++
	}
	return depth, line
}

// fenceRun returns the number of backticks of a code fence line (up to
// three spaces, three or more backticks, then for an opening fence
// anything without a backtick, for a closing one spaces only), or 0.
func fenceRun(line string, closing bool) int {
	i := 0
	for i < 3 && i < len(line) && line[i] == ' ' {
		i++
	}
	j := i
	for j < len(line) && line[j] == '`' {
		j++
	}
	if j-i < 3 {
		return 0
	}
	for _, c := range []byte(line[j:]) {
		if c == '`' || closing && c != ' ' {
			return 0
		}
	}
	return j - i
}

// lineMentions appends the new mentions of one line outside a fence.
func lineMentions(line string, names []string, seen map[string]bool) []string {
	spans := codeSpans(line)
	for i := 0; i < len(line); i++ {
		if end, ok := spans[i]; ok {
			i = end - 1
			continue
		}
		c := line[i]
		if c == '\\' && i+1 < len(line) && isASCIIPunct(line[i+1]) {
			i++ // an escaped character, "\@" too
			continue
		}
		if (c == 'h' || c == 'H') && (i == 0 || !isWordByte(line[i-1])) && hasURLScheme(line[i:]) {
			for i+1 < len(line) {
				r, n := utf8.DecodeRuneInString(line[i+1:])
				if unicode.IsSpace(r) || r == '\ufeff' || strings.ContainsRune("<>\"'`", r) {
					break
				}
				i += n
			}
			continue
		}
		if c != '@' {
			continue
		}
		if i > 0 {
			prev, _ := utf8.DecodeLastRuneInString(line[:i])
			if isUsernameRune(prev) || prev == '@' {
				continue
			}
		}
		j := i + 1
		for j < len(line) && isUsernameRune(rune(line[j])) {
			j++
		}
		name := strings.TrimRight(line[i+1:j], ".-") // "@bob." ends a sentence
		if len(name) < MinUsernameLen || len(name) > MaxUsernameLen {
			continue
		}
		lower := strings.ToLower(name)
		if !seen[lower] {
			seen[lower] = true
			names = append(names, lower)
		}
		i = j - 1
	}
	return names
}

// codeSpans maps the start of each code span of line to its end: a run of
// backticks pairs with the next run of as many; a backslash escapes the
// character after it outside code spans only.
func codeSpans(line string) map[int]int {
	var spans map[int]int
	for i := 0; i < len(line); {
		if line[i] == '\\' {
			i += 2
			continue
		}
		if line[i] != '`' {
			i++
			continue
		}
		n := tickRun(line, i)
		found := -1
		for j := i + n; j < len(line); {
			if line[j] != '`' {
				j++
				continue
			}
			k := tickRun(line, j)
			if k == n {
				found = j
				break
			}
			j += k
		}
		if found < 0 {
			i += n
			continue
		}
		if spans == nil {
			spans = map[int]int{}
		}
		spans[i] = found + n
		i = found + n
	}
	return spans
}

func tickRun(s string, i int) int {
	j := i
	for j < len(s) && s[j] == '`' {
		j++
	}
	return j - i
}

func isASCIIPunct(c byte) bool {
	return c >= '!' && c <= '/' || c >= ':' && c <= '@' || c >= '[' && c <= '`' || c >= '{' && c <= '~'
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func hasURLScheme(s string) bool {
	for _, p := range []string{"http://", "https://"} {
		if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
			return true
		}
	}
	return false
}
