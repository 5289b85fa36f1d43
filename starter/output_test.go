package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"

	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
)

// runMocked runs one command line against the SDK's mock client.
func runMocked(t *testing.T, mc *mocks.Client, args ...string) (int, string, string) {
	t.Helper()
	isolateEnv(t)
	var out, errOut bytes.Buffer
	a := newApp(&out, &errOut)
	a.Dialer = func(context.Context, client.Options) (client.Client, error) { return mc, nil }
	mc.On("Close").Return().Maybe()
	code := a.execute(context.Background(), args)
	return code, out.String(), errOut.String()
}

// A bad --output value is a usage error before Temporal is contacted.
func TestOutputFormatIsChecked(t *testing.T) {
	mc := mocks.NewClient(t)
	code, _, stderr := runMocked(t, mc, "list", "--output", "yaml")
	require.Equal(t, cmdutil.ExitUsage, code)
	require.Contains(t, stderr, "must be text or json")
}
