package domain

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// checkValid reports an error unless err is nil for valid input and of
// kind KindInvalid for invalid input.
func checkValid(t *testing.T, fn string, in string, valid bool, err error) {
	t.Helper()
	switch {
	case valid && err != nil:
		t.Errorf("%s(%q) = %v, want valid", fn, in, err)
	case !valid && err == nil:
		t.Errorf("%s(%q) = nil, want an error", fn, in)
	case !valid && KindOf(err) != KindInvalid:
		t.Errorf("%s(%q) = %v of kind %v, want kind %v", fn, in, err, KindOf(err), KindInvalid)
	}
}

func TestValidateUsername(t *testing.T) {
	tests := []struct {
		name  string
		valid bool
	}{
		{"", false},
		{"ab", false}, // Too short.
		{"abc", true},
		{strings.Repeat("a", 32), true},
		{strings.Repeat("a", 33), false}, // Too long.
		{"Alice", true},
		{"bob.smith", true},
		{"a_b-c.9", true},
		{"123", true},
		{"a b", false},
		{" abc", false},
		{"abc ", false},
		{"ab\x00", false},
		{"ab\n", false},
		{"ab\t", false},
		{"abc@", false},
		{"a+b", false},
		{"äbc", false},      // ASCII only.
		{"ab\xff", false},   // Invalid UTF-8.
		{"\u212aab", false}, // KELVIN SIGN lower-cases to 'k'; must not alias "kab".
	}
	for _, tt := range tests {
		checkValid(t, "ValidateUsername", tt.name, tt.valid, ValidateUsername(tt.name))
	}
}

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		password string
		valid    bool
	}{
		{"", false},
		{"1234567", false},             // Too short.
		{"12345678", true},             // Common, but that is the commands' check.
		{"        ", false},            // Not only spaces,
		{"\t\u3000\u00a0     ", false}, // of any kind,
		{"\u200b\u200b\u200b\u200b\u200b\u200b\u200b\u200b", false}, // nor zero-width characters.
		{"       x", true},
		{strings.Repeat("é", 7), false},     // 7 characters, 14 bytes.
		{strings.Repeat("é", 8), true},      // 8 characters, 16 bytes.
		{strings.Repeat("a", 256), true},    // At most 256 bytes,
		{strings.Repeat("a", 257), false},   // whatever the characters:
		{strings.Repeat("é", 128), true},    // 256 bytes.
		{strings.Repeat("é", 129), false},   // 258 bytes.
		{strings.Repeat("\xff", 10), false}, // Invalid UTF-8.
		{"1234567\xff", false},
		{"correct horse battery staple", true},
	}
	for _, tt := range tests {
		checkValid(t, "ValidatePassword", tt.password, tt.valid, ValidatePassword(tt.password))
	}
}

func TestCleanRoomName(t *testing.T) {
	tests := []struct {
		name  string
		want  string // if valid
		valid bool
	}{
		{"general", "general", true},
		{"  general  ", "general", true},
		{"\tgeneral\n", "general", true},
		{" a b ", "a b", true},
		{"café ☕", "café ☕", true},
		{"x", "x", true},
		{strings.Repeat("é", 100), strings.Repeat("é", 100), true}, // 100 characters, 200 bytes.
		{" " + strings.Repeat("a", 100) + " ", strings.Repeat("a", 100), true},
		{strings.Repeat("é", 101), "", false},
		{"", "", false},
		{"   ", "", false},
		{"gen\teral", "", false},
		{"gen\neral", "", false},
		{"gen\x00eral", "", false},
		{"gen\x1beral", "", false},
		{"gen\x7feral", "", false},
		{"gen\u0085eral", "", false}, // C1 control.
		{"gen\xffral", "", false},
		// Bidirectional formatting characters could make a name read as
		// another one ("exe.txt" shown for "txt.exe").
		{"gen\u202eeral", "", false}, // RIGHT-TO-LEFT OVERRIDE
		{"\u202agen", "", false}, {"\u202bgen", "", false}, {"\u202cgen", "", false}, {"\u202dgen", "", false},
		{"gen\u2066", "", false}, {"gen\u2067", "", false}, {"gen\u2068", "", false}, {"gen\u2069", "", false},
		{"gen\u200e", "", false}, {"gen\u200f", "", false}, {"gen\u061c", "", false},
		{"שלום", "שלום", true}, // Right-to-left letters are fine.
		{"مرحبا general", "مرحبا general", true},
		// At least one visible character.
		{"\u200b\u200d", "", false},
		{"\u3164", "", false}, // HANGUL FILLER
		{"\ufe0f", "", false}, // a variation selector alone
		{"❤️", "❤️", true},
		{"👩‍💻 devs", "👩‍💻 devs", true}, // a ZWJ sequence
	}
	for _, tt := range tests {
		got, err := CleanRoomName(tt.name)
		checkValid(t, "CleanRoomName", tt.name, tt.valid, err)
		if got != tt.want {
			t.Errorf("CleanRoomName(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestValidateText(t *testing.T) {
	tests := []struct {
		text  string
		valid bool
	}{
		{"hi", true},
		{"line one\nline two\twith a tab", true},
		{" x ", true},
		{"", false},
		{" \n\t ", false},
		{strings.Repeat("a", 4000), true},
		{strings.Repeat("a", 4001), false},
		{strings.Repeat("é", 4000), true}, // 4000 characters, 8000 bytes.
		{strings.Repeat("é", 4001), false},
		{"\x00", false},
		{"a\x00b", false},
		{"\xff", false},
		{"ok \xe2\x82", false}, // Truncated UTF-8.
		// Nothing visible: zero-width and other invisible characters.
		{"\u200b", false},                         // ZERO WIDTH SPACE
		{"\u200b\u200c\u200d\u2060\ufeff", false}, // ZWSP, ZWNJ, ZWJ, WORD JOINER, BOM
		{" \u200b \n\u00a0\u3000", false},         // mixed with spaces
		{"\u3164\u115f\u1160\uffa0", false},       // Hangul fillers (default-ignorable)
		{"\ufe0f\ufe0e\U000E0100", false},         // variation selectors
		{"\U000E0041\U000E007F", false},           // tag characters
		{"\u202e\u2066\u200f", false},             // bidi controls alone
		{"\u00ad\u034f\u180e", false},             // soft hyphen, CGJ, Mongolian vowel separator
		// Some visible character: fine, invisible ones around it too.
		{"\u200bx\u200b", true},
		{"👍", true},
		{"👍🏽", true},
		{"❤️", true},
		{"👨‍👩‍👧", true},
		{"مرحبا \u200f", true},
	}
	for _, tt := range tests {
		in := tt.text
		if len(in) > 40 {
			in = in[:40] + "..."
		}
		checkValid(t, "ValidateText", in, tt.valid, ValidateText(tt.text))
	}
}

func TestValidateClientMsgID(t *testing.T) {
	tests := []struct {
		id    string
		valid bool
	}{
		{"", false},
		{"a", true},
		{"550e8400-e29b-41d4-a716-446655440000", true},
		{"!~|{}", true},
		{strings.Repeat("x", 64), true},
		{strings.Repeat("x", 65), false},
		{"a b", false},
		{" a", false},
		{"a\tb", false},
		{"a\x00", false},
		{"a\x7f", false},
		{"é", false},
		{"a\xff", false},
	}
	for _, tt := range tests {
		checkValid(t, "ValidateClientMsgID", tt.id, tt.valid, ValidateClientMsgID(tt.id))
	}
}

func TestValidateEmoji(t *testing.T) {
	tests := []struct {
		emoji string
		valid bool
	}{
		{"", false},
		{"👍", true},
		{"❤️", true},    // With variation selector 16.
		{"❤", true},     // Without: the same heart.
		{"👨‍👩‍👧", true}, // Joined with ZERO WIDTH JOINER.
		{"👍🏽", true},    // Skin tone.
		{"🧑🏻‍❤️‍💋‍🧑🏼", true}, // Two skin tones in a ZWJ sequence: 35 bytes.
		{"🏳️‍🌈", true},       // ZWJ with VS16 inside.
		{"🇫🇷", true},         // Flag: two regional indicators.
		{"🏴\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F", true}, // England: tag sequence.
		{"1️⃣", true},   // Keycap.
		{"#⃣", true},    // Keycap without VS16.
		{"🫨", true},     // Unicode 15.0.
		{":+1:", false}, // A shortcode is not an emoji.
		{"x", false},
		{"1", false},
		{"ok", false},
		{"👍👍", false}, // Two emoji.
		{"👍x", false},
		{"🇦", false},                     // A lone regional indicator.
		{"🇦🇦", false},                    // Not a country.
		{"\u200d", false},                // ZWJ alone.
		{"👍\u200d", false},               // Dangling ZWJ.
		{strings.Repeat("x", 33), false}, // Too long.
		{strings.Repeat("👍", 17), false}, // 68 bytes.
		{"a b", false},
		{" 👍", false},
		{"👍\n", false},
		{"\u00a0", false}, // NO-BREAK SPACE.
		{"\u3000", false}, // IDEOGRAPHIC SPACE.
		{"\x00", false},
		{"👍\x7f", false},
		{"\xff", false},
		{"\xf0\x9f\x91", false}, // Truncated 👍.
	}
	for _, tt := range tests {
		checkValid(t, "ValidateEmoji", tt.emoji, tt.valid, ValidateEmoji(tt.emoji))
	}
}

// TestEveryEmojiOfTheSetIsValid checks that a reaction may be any emoji
// of the bundled set, with U+FE0F where a browser would put it or not.
func TestEveryEmojiOfTheSetIsValid(t *testing.T) {
	seqs := strings.Fields(emojiSetHex)
	if len(seqs) < 3500 {
		t.Fatalf("the emoji set has %d emoji, want the whole of Twemoji 15 (3,600+)", len(seqs))
	}
	longest := ""
	for _, seq := range seqs {
		var b strings.Builder
		for i, h := range strings.Split(seq, "-") {
			r, err := strconv.ParseUint(h, 16, 32)
			if err != nil {
				t.Fatalf("bad entry %q", seq)
			}
			b.WriteRune(rune(r))
			if i == 0 && len(seq) <= 5 {
				b.WriteRune(0xFE0F) // "☺️": the fully-qualified form
			}
		}
		e := b.String()
		if err := ValidateEmoji(e); err != nil {
			t.Errorf("ValidateEmoji(%q = %s): %v", e, seq, err)
		}
		if len(e) > len(longest) {
			longest = e
		}
	}
	if len(longest) > MaxEmojiLen {
		t.Errorf("the longest emoji, %q, has %d bytes, more than MaxEmojiLen", longest, len(longest))
	}
}

func TestParseMentions(t *testing.T) {
	long := strings.Repeat("a", 32)
	tests := []struct {
		text string
		want []string
	}{
		{"", nil},
		{"no mentions here", nil},
		{"@bob hi", []string{"bob"}},
		{"hi @bob", []string{"bob"}},
		{"hi\n@bob", []string{"bob"}},
		{"hi,@bob", []string{"bob"}},
		{"(@bob)", []string{"bob"}},
		{"привет @bob", []string{"bob"}},
		{"thanks @bob.", []string{"bob"}},
		{"thanks @bob...", []string{"bob"}},
		{"@bob-", []string{"bob"}},
		{"@bob's idea", []string{"bob"}},
		{"@bob.smith said", []string{"bob.smith"}},
		{"@bob, @carol!", []string{"bob", "carol"}},
		{"@carol @bob @carol", []string{"carol", "bob"}},
		{"@Bob @BOB @bob", []string{"bob"}},
		{"@Bob_2", []string{"bob_2"}},

		// E-mail addresses and other @s inside words.
		{"mail bob@example.com", nil},
		{"mail bob.smith@example.com", nil},
		{"mail b-o_b@example.com", nil},
		{"x@bob", nil},
		{"1@bob", nil},
		{"_@bob", nil},

		// Too short, too long.
		{"@", nil},
		{"@ bob", nil},
		{"@ab", nil},
		{"@ab.", nil},
		{"@abc", []string{"abc"}},
		{"@" + long, []string{long}},
		{"@" + long + ".", []string{long}},
		{"@" + long + "a", nil},
		{"@" + long + long, nil},

		{"@@x", nil},
		{"@@bob", nil},
		{"@@ @bob", []string{"bob"}},

		// What the client's markdown shows literally mentions nobody.
		{"`@bob` @carol", []string{"carol"}},
		{"``a ` @bob`` @carol", []string{"carol"}},
		{"`@bob", []string{"bob"}},                    // an unclosed code span is text
		{"`a\n@bob`", []string{"bob"}},                // code spans end with their line
		{"\\`@bob` @carol", []string{"bob", "carol"}}, // an escaped backtick opens nothing
		{"\\@bob", nil},
		{"\\\\@bob", []string{"bob"}}, // an escaped backslash, then a mention
		{"**@bob** _x_ ~~@carol~~ ||@dave||", []string{"bob", "carol", "dave"}},
		{"[@bob](https://example.com/@carol)", []string{"bob"}},
		{"see https://social.example/@bob now @carol", []string{"carol"}},
		{"xhttps://a/@bob", []string{"bob"}},
		{"```\n@bob\n```\n@carol", []string{"carol"}},
		{"```go\n@bob\n````\n@carol", []string{"carol"}},
		{"````\n@bob\n```\n@carol", nil}, // a shorter run does not close
		{"   ```\n@bob\n```", nil},
		{"    ```\n@bob", []string{"bob"}},           // four spaces: no fence
		{"```\n@bob", nil},                           // unclosed: to the end
		{"> ```\n> @bob\n@carol", []string{"carol"}}, // the quote's end closes it
		{"> ```\n>> @bob\n> ```\n> @carol", []string{"carol"}},
		{"- ```\n@bob", []string{"bob"}},
		{"a\r\n```\r\n@bob\r\n```\r\n@carol", []string{"carol"}},
	}
	for _, tt := range tests {
		if got := ParseMentions(tt.text); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseMentions(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

func TestParseMentionsTooLongName(t *testing.T) {
	long := strings.Repeat("a", 32)
	for _, text := range []string{
		"@" + long + ".b",
		"@" + long + "-bbbb",
		"@" + long + "..more",
	} {
		if got := ParseMentions(text); got != nil {
			t.Errorf("ParseMentions(%q) = %q, want none: the name is longer than %d characters", text, got, MaxUsernameLen)
		}
	}
}
