// Package clip shortens values quoted in messages (a pasted file, a runaway
// argument) without splitting a character.
package clip

import "unicode/utf8"

// To returns s when it is at most max bytes long, else its first keep bytes
// (fewer at a character boundary) followed by ellipsis.
func To(s string, max, keep int, ellipsis string) string {
	if len(s) <= max {
		return s
	}
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return s[:keep] + ellipsis
}
