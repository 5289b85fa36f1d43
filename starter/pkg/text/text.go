// Package text holds the small string helpers the starter's messages share.
package text

import (
	"strings"
	"unicode/utf8"
)

// Clip keeps oversized values (a pasted file, a runaway argument) out of
// messages.
func Clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	cut := 61
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut-- // never half a character
	}
	return s[:cut] + "..."
}

// Plural picks the word for n.
func Plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// OneLine folds whitespace and newlines into single spaces.
func OneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func OrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
