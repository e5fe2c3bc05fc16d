package domain

import (
	"strconv"
	"strings"
	"sync"
)

var (
	emojiSetOnce sync.Once
	emojiSet     map[string]bool // emoji without U+FE0F -> true
)

// IsEmoji reports whether s is one emoji of the bundled set (emoji_set.go,
// made by scripts/gen-emoji: every emoji the client can draw, with skin
// tones, ZWJ sequences, flags and keycaps). U+FE0F (emoji presentation) is
// ignored, so "❤" and "❤️" are both the red heart.
func IsEmoji(s string) bool {
	emojiSetOnce.Do(func() {
		emojiSet = make(map[string]bool, 4096)
		for _, seq := range strings.Fields(emojiSetHex) {
			var b strings.Builder
			for _, h := range strings.Split(seq, "-") {
				r, err := strconv.ParseUint(h, 16, 32)
				if err != nil {
					panic("domain: bad emoji set entry " + seq) // generated; checked by the tests
				}
				b.WriteRune(rune(r))
			}
			emojiSet[b.String()] = true
		}
	})
	return emojiSet[strings.ReplaceAll(s, "\uFE0F", "")]
}
