package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/cloudsync/cloudsync/starter/pkg/cmd/cmdtest"
	"github.com/cloudsync/cloudsync/starter/pkg/cmd/root"
	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
)

// isolateEnv: see cmdtest.IsolateEnv.
func isolateEnv(t *testing.T) { t.Helper(); cmdtest.IsolateEnv(t) }

// runCLI runs the CLI and returns its exit code, stdout and stderr.
// STARTER_DEBUG=1 logs every transcript (see them with go test -v).
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	if os.Getenv("STARTER_DEBUG") != "" {
		t.Logf("$ starter %s\n-> exit %d\n--- stdout\n%s--- stderr\n%s", strings.Join(args, " "), code, out.String(), errOut.String())
	}
	return code, out.String(), errOut.String()
}

// writeFile writes a file in the test's temp dir and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	goodTenant = "11111111-2222-3333-4444-555555555555"
	goodDomain = "contoso.com"
	goodSP     = "66666666-7777-8888-9999-000000000000"
)

// app is the CLI over buffers, as main builds it over the process's streams.
type app struct {
	*cmdutil.Factory
}

func newApp(stdout, stderr io.Writer) *app {
	return &app{cmdutil.New(strings.NewReader(""), stdout, stderr)}
}

func (a *app) rootCmd() *cobra.Command { return root.NewCmdRoot(a.Factory) }

// execute runs one command line; the exit code is the CLI's.
func (a *app) execute(ctx context.Context, args []string) int {
	return root.Execute(ctx, a.rootCmd(), a.Factory, args)
}

// run is the whole CLI over the given streams.
func run(args []string, stdout, stderr io.Writer) int {
	return newApp(stdout, stderr).execute(context.Background(), args)
}
