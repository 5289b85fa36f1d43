package cmdutil

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"
)

// Output formats (--output), as the Temporal CLI, kubectl and gh offer them:
// text for people, json for scripts (one document on stdout; messages and
// the exit code stay as in text).
const (
	OutputText = "text"
	OutputJSON = "json"
)

// OutputFormat is the --output flag's value; pflag refuses anything else
// (exit 2, usage).
type OutputFormat string

func (o *OutputFormat) String() string { return string(*o) }
func (o *OutputFormat) Type() string   { return "text|json" }
func (o *OutputFormat) Set(v string) error {
	switch v = strings.ToLower(strings.TrimSpace(v)); v {
	case OutputText, OutputJSON:
		*o = OutputFormat(v)
		return nil
	}
	return fmt.Errorf("must be %s or %s", OutputText, OutputJSON)
}

// Register adds --output (-o) to fs, text by default.
func (o *OutputFormat) Register(fs *pflag.FlagSet) {
	*o = OutputText
	fs.VarP(o, "output", "o", "output format: text, or json (one document on stdout, described in the README)")
}

// JSON says whether --output json was asked for.
func (o OutputFormat) JSON() bool { return o == OutputJSON }

// Emit writes one view as an indented JSON document.
func Emit(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
