// Package cmdutil is what every starter command shares: the Factory (IO
// streams, the Temporal dialer, the connection flags), the output format,
// the exit-code error, and the flag sets and checks several commands use.
package cmdutil

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	"golang.org/x/term"
)

// Dialer connects to Temporal; client.DialContext in the CLI, the SDK's
// mocks.Client in command tests.
type Dialer func(ctx context.Context, opts client.Options) (client.Client, error)

// IOStreams are the command's standard streams.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// IsTerminal says whether w is a terminal (a progress bar then, plain lines
// otherwise).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Factory builds what commands need; the root command owns one and hands
// it to every subcommand, and tests build their own.
type Factory struct {
	IO *IOStreams
	// Conn holds the connection flags (persistent on the root command).
	Conn ConnFlags
	// Dialer connects; nil: client.DialContext.
	Dialer Dialer
	// PollInterval is how often --wait reads where a workflow is
	// (DescribeWorkflowExecution: not a billed action, still modest).
	PollInterval time.Duration
	// FleetEvery is how often a fleet prints a progress line when stderr is
	// not a terminal (default 5 s).
	FleetEvery time.Duration
}

// New is the CLI's factory over the given streams.
func New(in io.Reader, out, errOut io.Writer) *Factory {
	return &Factory{IO: &IOStreams{In: in, Out: out, ErrOut: errOut}, PollInterval: 2 * time.Second}
}

// Dial connects to Temporal with the connection flags, or explains why not.
func (f *Factory) Dial(ctx context.Context) (*Conn, error) {
	return f.Conn.Dial(ctx, f.IO.ErrOut, f.Dialer)
}

// RunOr is every command's last step: the options go to runF when a test
// set one (to capture them without a server), else to the real run.
func RunOr[O any](cmd *cobra.Command, opts *O, runF func(*O) error, run func(context.Context, *O) error) error {
	if runF != nil {
		return runF(opts)
	}
	return run(cmd.Context(), opts)
}
