package main

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
	outputText = "text"
	outputJSON = "json"
)

// outputFormat is the --output flag's value; pflag refuses anything else
// (exit 2, usage).
type outputFormat string

func (o *outputFormat) String() string { return string(*o) }
func (o *outputFormat) Type() string   { return "text|json" }
func (o *outputFormat) Set(v string) error {
	switch v = strings.ToLower(strings.TrimSpace(v)); v {
	case outputText, outputJSON:
		*o = outputFormat(v)
		return nil
	}
	return fmt.Errorf("must be %s or %s", outputText, outputJSON)
}

func (o *outputFormat) register(fs *pflag.FlagSet) {
	*o = outputText
	fs.VarP(o, "output", "o", "output format: text, or json (one document on stdout, described in the README)")
}

func (o outputFormat) json() bool { return o == outputJSON }

// emit writes one view as an indented JSON document.
func emit(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
