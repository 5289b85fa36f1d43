package cmdutil

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Exit codes, part of the CLI's contract (scripts rely on them).
const (
	ExitOK          = 0
	ExitFailed      = 1 // the onboarding failed (or another error)
	ExitUsage       = 2 // bad input or usage: nothing was sent to Temporal
	ExitRunning     = 3 // an onboarding of the same tenant and domain is already running
	ExitNotFound    = 4 // no such onboarding
	ExitUnreachable = 5 // Temporal unreachable or not set up
	ExitInterrupted = 130
)

// ExitError carries an exit code and the message to print on stderr (none
// when Msg is empty: the command printed it already).
type ExitError struct {
	Code int
	Msg  string
}

func (e *ExitError) Error() string { return e.Msg }

// Exitf is an ExitError with a formatted message.
func Exitf(code int, format string, a ...any) error {
	return &ExitError{Code: code, Msg: fmt.Sprintf(format, a...)}
}

// ExitCode prints err on stderr as the CLI does and returns its exit code:
// an ExitError's own, 2 for cobra's usage errors (unknown command, bad flag,
// wrong arguments), 0 for no error.
func ExitCode(stderr io.Writer, err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Msg != "" {
			fmt.Fprintln(stderr, strings.TrimRight(ee.Msg, "\n"))
		}
		return ee.Code
	}
	fmt.Fprintf(stderr, "%v\nRun 'starter --help' for usage.\n", err)
	return ExitUsage
}
