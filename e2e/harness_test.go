// Package e2e runs cloudsync on real parts: the Temporal CLI's dev server, the
// Graph simulator over HTTPS, and the worker and starter binaries as a user
// runs them.
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
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/cloudsync/cloudsync/graphsim"
	"github.com/cloudsync/cloudsync/workflows"
)

const (
	clientID     = "5e1f0c1d-0000-4000-8000-00000000e2e0"
	clientSecret = "e2e-secret-Q7v~not-a-real-one"
)

// env is shared by the tests of this package: one dev server, one simulator,
// one worker process.
type env struct {
	sim         *graphsim.Server
	temporal    *testsuite.DevServer
	client      client.Client
	bin         string // directory with the worker and starter binaries
	worker      *exec.Cmd
	workerLog   *bytes.Buffer
	metricsAddr string // the worker's /metrics, /healthz, /readyz
}

var (
	shared    *env
	sharedErr error
	once      sync.Once
)

// TestMain tears the shared environment down after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.close()
	}
	os.Exit(code)
}

func setup(t *testing.T) *env {
	t.Helper()
	once.Do(func() { shared, sharedErr = start() })
	if sharedErr != nil {
		t.Fatalf("e2e environment: %v", sharedErr)
	}
	return shared
}

func start() (*env, error) {
	e := &env{}
	temporalBin, err := findTemporalCLI()
	if err != nil {
		return nil, err
	}
	e.bin, err = os.MkdirTemp("", "cloudsync-e2e-")
	if err != nil {
		return nil, err
	}
	if err := buildBinaries(e.bin); err != nil {
		return nil, err
	}
	e.sim, err = graphsim.New(graphsim.Options{
		Clients:          map[string]string{clientID: clientSecret},
		Seed:             7,
		ReplicationLag:   2 * time.Second,
		DiscoverFailures: 2,
		SyncInterval:     200 * time.Millisecond,
	})
	if err != nil {
		return nil, fmt.Errorf("graphsim: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	// The dev server registers each key with its type; the values are unused.
	var keys []temporal.SearchAttributeUpdate
	for _, k := range []temporal.SearchAttributeKeyKeyword{workflows.SearchTenant, workflows.SearchDomain, workflows.SearchStep, workflows.SearchOutcome, workflows.SearchJobState, workflows.SearchAwaitingApproval} {
		keys = append(keys, k.ValueSet(""))
	}
	sa := temporal.NewSearchAttributes(keys...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e.temporal, err = testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath:     temporalBin,
		ClientOptions:    &client.Options{HostPort: fmt.Sprintf("127.0.0.1:%d", port), Namespace: "default"},
		SearchAttributes: sa,
		LogLevel:         "error",
		Stdout:           os.Stderr,
		Stderr:           os.Stderr,
	})
	if err != nil {
		return nil, fmt.Errorf("temporal dev server (%s): %w", temporalBin, err)
	}
	e.client = e.temporal.Client()
	if err := e.startWorker(); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *env) workerEnv() []string {
	if e.metricsAddr == "" {
		// Each env's worker gets its own port: several envs run at once.
		port, _ := freePort()
		e.metricsAddr = fmt.Sprintf("127.0.0.1:%d", port)
	}
	return append(os.Environ(),
		"CLOUDSYNC_METRICS_ADDR="+e.metricsAddr,
		"TEMPORAL_ADDRESS="+e.temporal.FrontendHostPort(),
		"TEMPORAL_NAMESPACE=default",
		"CLOUDSYNC_GRAPH_BASE_URL="+e.sim.GraphURL(),
		"AZURE_AUTHORITY_HOST="+e.sim.AuthorityHost(),
		"CLOUDSYNC_CA_FILE="+e.sim.CAFile(),
		"AZURE_CLIENT_ID="+clientID,
		"AZURE_CLIENT_SECRET="+clientSecret,
		"CLOUDSYNC_LOG_FORMAT=json",
		"CLOUDSYNC_LOG_LEVEL=info",
	)
}

func (e *env) startWorker() error {
	e.workerLog = &bytes.Buffer{}
	cmd := exec.Command(filepath.Join(e.bin, "worker"))
	cmd.Env = e.workerEnv()
	cmd.Stdout = &lockedWriter{w: e.workerLog}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	e.worker = cmd
	return nil
}

func (e *env) close() {
	if e.worker != nil && e.worker.Process != nil {
		_ = e.worker.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = e.worker.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = e.worker.Process.Kill()
		}
	}
	if e.temporal != nil {
		_ = e.temporal.Stop()
	}
	if e.sim != nil {
		e.sim.Close()
	}
	if e.bin != "" {
		_ = os.RemoveAll(e.bin)
	}
}

// starter runs the starter binary against the shared environment.
func (e *env) starter(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(e.bin, "starter"), args...)
	cmd.Env = append(os.Environ(), "TEMPORAL_ADDRESS="+e.temporal.FrontendHostPort(), "TEMPORAL_NAMESPACE=default")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("starter %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func findTemporalCLI() (string, error) {
	if p := os.Getenv("TEMPORAL_CLI"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("temporal"); err == nil {
		return p, nil
	}
	gopath, _ := exec.Command("go", "env", "GOPATH").Output()
	p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "temporal")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("the Temporal CLI is not installed: run `make tools` (go install github.com/temporalio/cli/cmd/temporal@v1.5.1) or set TEMPORAL_CLI")
}

func buildBinaries(dir string) error {
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return fmt.Errorf("find module root: %w", err)
	}
	for _, pkg := range []string{"worker", "starter"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, pkg), "./"+pkg)
		cmd.Dir = strings.TrimSpace(string(root))
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./%s: %v\n%s", pkg, err, out)
		}
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (e *env) workerOutput() string {
	lw := e.worker.Stdout.(*lockedWriter)
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.w.String()
}
