package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/cloudsync/cloudsync/starter/pkg/cmd/root"
	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
	"github.com/cloudsync/cloudsync/starter/pkg/visibility"
)

// app holds what the commands still in package main share: the Factory.
type app struct {
	*cmdutil.Factory
}

// conn is a dialled client.
type conn = visibility.Conn

// dial connects with the connection flags, or explains why not.
func (a *app) dial(ctx context.Context) (*conn, error) {
	c, err := a.Dial(ctx)
	if err != nil {
		return nil, err
	}
	return &conn{Conn: c}, nil
}

// run is the whole CLI: main and the tests call it.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return newApp(stdout, stderr).execute(ctx, args)
}

func newApp(stdout, stderr io.Writer) *app {
	return &app{cmdutil.New(os.Stdin, stdout, stderr)}
}

// execute runs one command line; the exit code is the CLI's.
func (a *app) execute(ctx context.Context, args []string) int {
	return root.Execute(ctx, a.rootCmd(), a.Factory, args)
}

func (a *app) rootCmd() *cobra.Command {
	return root.NewCmdRoot(a.Factory, a.onboardCmd())
}
