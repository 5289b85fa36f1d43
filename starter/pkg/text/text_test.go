package text

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// A clipped value stays valid UTF-8: a pasted name in another script is cut
// between characters, not inside one.
func TestClipNeverSplitsACharacter(t *testing.T) {
	for _, s := range []string{strings.Repeat("é", 50), "a" + strings.Repeat("日", 30), strings.Repeat("x", 100)} {
		c := Clip(s)
		if !utf8.ValidString(c) || !strings.HasSuffix(c, "...") || len(c) > 64 {
			t.Errorf("Clip(%q) = %q", s, c)
		}
	}
	if Clip("short") != "short" {
		t.Error("a short value is kept")
	}
}
