// Command starter is the cloudsync operator CLI: it starts tenant onboardings
// on Temporal and reports their progress. It links only the workflows
// package (the public contract), never the Graph SDK. The commands are in
// pkg/cmd/<command>, built by pkg/cmd/root from a cmdutil.Factory.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/cloudsync/cloudsync/starter/pkg/cmd/root"
	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	f := cmdutil.New(os.Stdin, os.Stdout, os.Stderr)
	code := root.Execute(ctx, root.NewCmdRoot(f), f, os.Args[1:])
	stop()
	os.Exit(code)
}
