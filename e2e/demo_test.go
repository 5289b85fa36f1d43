package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// demoBin is a directory with the demo's binaries: the e2e worker and starter
// (or stand-ins) and graphsim.
func demoBin(t *testing.T, worker string) string {
	t.Helper()
	skipIfShort(t)
	bin, err := binaries()
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.Symlink(filepath.Join(bin, "graphsim"), filepath.Join(dir, "graphsim")))
	require.NoError(t, os.Symlink(filepath.Join(bin, "starter"), filepath.Join(dir, "starter")))
	if worker == "" {
		require.NoError(t, os.Symlink(filepath.Join(bin, "worker"), filepath.Join(dir, "worker")))
	} else {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "worker"), []byte(worker), 0o755))
	}
	return dir
}

// runDemo runs scripts/demo.sh on free ports with its own state directory,
// then stops what it left running. A port found free may be taken by another
// process before the dev server or graphsim binds it (tests run in parallel
// here): that run is not the demo's failure, and it runs again on other ports.
func runDemo(t *testing.T, bin string, extraEnv ...string) (string, int) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		out, code := runDemoOnce(t, bin, extraEnv...)
		raced := (strings.Contains(out, "demo: temporal did not start") || strings.Contains(out, "demo: graphsim did not start")) &&
			strings.Contains(out, "bind: address already in use")
		if !raced || attempt == 3 {
			return out, code
		}
		t.Logf("attempt %d: a port was taken meanwhile; again on other ports:\n%s", attempt, out)
	}
}

func runDemoOnce(t *testing.T, bin string, extraEnv ...string) (string, int) {
	t.Helper()
	cli, err := findTemporalCLI()
	require.NoError(t, err)
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	require.NoError(t, err)
	script := filepath.Join(strings.TrimSpace(string(root)), "scripts", "demo.sh")
	state := t.TempDir()
	env := append(os.Environ(), "TEMPORAL_CLI="+cli, "DEMO_STATE="+state, "DEMO_BIN="+bin)
	for _, name := range []string{"DEMO_TEMPORAL_PORT", "DEMO_UI_PORT", "DEMO_GRAPHSIM_PORT"} {
		p, err := freePort()
		require.NoError(t, err)
		env = append(env, fmt.Sprintf("%s=%d", name, p))
	}
	env = append(env, extraEnv...)
	t.Cleanup(func() {
		stop := exec.Command(script, "stop")
		stop.Env = env
		_ = stop.Run()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, script)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	require.NoError(t, ctx.Err(), "the demo hung:\n%s", out.String())
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return out.String(), code
}

// `make demo` with port 9090 taken: the worker gets another metrics port, is
// ready before the onboarding starts (no "no worker is polling"), and the
// onboarding completes. A worker that exits is reported, not waited for.
func TestDemoScript(t *testing.T) {
	// 9090 taken (by this listener, or already by someone else).
	if ln, err := net.Listen("tcp", "127.0.0.1:9090"); err == nil {
		defer ln.Close()
	}
	out, code := runDemo(t, demoBin(t, ""))
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "port 9090 is taken: the worker's metrics go to 127.0.0.1:")
	ready, started := strings.Index(out, "worker ready"), strings.Index(out, "started onboarding")
	require.True(t, ready >= 0 && started > ready, "the worker is ready before the onboarding starts:\n%s", out)
	require.NotContains(t, out, "no worker is polling")
	require.Contains(t, out, "done: ")

	t.Run("a worker that exits is reported", func(t *testing.T) {
		fake := "#!/bin/sh\necho 'metrics endpoint: listen tcp :9090: bind: address already in use' >&2\nexit 2\n"
		out, code := runDemo(t, demoBin(t, fake))
		require.Equal(t, 1, code, out)
		require.Contains(t, out, "demo: worker did not start: it exited")
		require.Contains(t, out, "address already in use", "the end of the worker's log")
		require.NotContains(t, out, "started onboarding")
	})

	t.Run("a metrics port given and taken is an error", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		port := ln.Addr().(*net.TCPAddr).Port
		out, code := runDemo(t, t.TempDir(), fmt.Sprintf("DEMO_METRICS_PORT=%d", port))
		require.Equal(t, 1, code, out)
		require.Contains(t, out, fmt.Sprintf("port %d for the worker's metrics (DEMO_METRICS_PORT) is taken", port))
	})
}
