package spec

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/cloudsync/cloudsync/starter/pkg/text"
)

// Problem is one thing wrong in a spec or fleet file, located so that an
// editor can jump to it (file:line).
type Problem struct {
	File    string // the file's path as given ("" when parsed from bytes without a name)
	Line    int    // 1-based; 0 when unknown
	Entry   string // the fleet entry: "tenants[1]", "[0]", "row 3"; "" for a single spec
	Field   string // the spec field ("deleteThreshold.value"), a CSV column or "header"
	Message string
}

func (p Problem) Error() string {
	var b strings.Builder
	switch {
	case p.File != "" && p.Line > 0:
		b.WriteString(p.File + ":" + strconv.Itoa(p.Line) + ": ")
	case p.File != "":
		b.WriteString(p.File + ": ")
	case p.Line > 0:
		b.WriteString("line " + strconv.Itoa(p.Line) + ": ")
	}
	if p.Entry != "" {
		b.WriteString(p.Entry + ": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is every problem of one file (or fleet), reported at once so they
// can all be fixed in one go.
type Problems struct {
	What string // "invalid spec file", "invalid fleet of 5 tenants", ...
	List []Problem
}

// maxShown bounds what a broken fleet prints.
const maxShown = 200

func (e *Problems) Error() string {
	p := e.List
	more := ""
	if len(p) > maxShown {
		more = fmt.Sprintf("\n  … and %d more", len(p)-maxShown)
		p = p[:maxShown]
	}
	lines := make([]string, len(p))
	for i, x := range p {
		lines[i] = x.Error()
	}
	return fmt.Sprintf("%s (%d %s):\n  %s%s", e.What, len(e.List), text.Plural(len(e.List), "problem", "problems"), strings.Join(lines, "\n  "), more)
}

// Unwrap lets errors.As find each Problem and errors.Join combine lists.
func (e *Problems) Unwrap() []error {
	out := make([]error, len(e.List))
	for i, p := range e.List {
		out[i] = p
	}
	return out
}

// inFile names the file of every problem that does not name one yet.
func (e *Problems) inFile(name string) *Problems {
	for i := range e.List {
		if e.List[i].File == "" {
			e.List[i].File = name
		}
	}
	return e
}

// problemsOf is nil for no problem, so callers can return it as an error.
// The list is in line order (a problem without a line last), as an editor
// jumps through file:line; decoding and validation find them in another.
func problemsOf(what, file string, list []Problem) error {
	if len(list) == 0 {
		return nil
	}
	slices.SortStableFunc(list, func(a, b Problem) int {
		return cmp.Compare(lineOrder(a.Line), lineOrder(b.Line))
	})
	return (&Problems{What: what, List: list}).inFile(file)
}

func lineOrder(line int) int {
	if line <= 0 {
		return math.MaxInt
	}
	return line
}
