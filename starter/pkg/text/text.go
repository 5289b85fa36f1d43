// Package text holds the small string helpers the starter's messages share.
package text

import (
	"strings"

	"github.com/cloudsync/cloudsync/internal/clip"
)

// Clip keeps oversized values (a pasted file, a runaway argument) out of
// messages.
func Clip(s string) string { return clip.To(s, 64, 61, "...") }

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
