// Package e2e runs cloudsync on real parts: the Temporal CLI's dev server, the
// Graph simulator over HTTPS, and the worker and starter binaries as a user
// runs them.
//
// With CLOUDSYNC_E2E_TEMPORAL_ADDRESS=host:port the tests use that Temporal
// server instead of dev servers (make test-cluster: a server on PostgreSQL
// with SQL visibility, deploy/temporal/cluster/): its "default" namespace must
// exist with cloudsync's search attributes registered and no workflow running
// (a fresh database). Tests that need a dev server of their own skip.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"github.com/cloudsync/cloudsync/graphsim"
	"github.com/cloudsync/cloudsync/workflows"
)

const (
	clientID     = "5e1f0c1d-0000-4000-8000-00000000e2e0"
	clientSecret = "e2e-secret-Q7v~not-a-real-one"
)

// externalEnv names the variable that points the tests at a running Temporal
// server (host:port) instead of dev servers.
const externalEnv = "CLOUDSYNC_E2E_TEMPORAL_ADDRESS"

// externalAddress is that server's frontend, empty in the default mode.
var externalAddress = os.Getenv(externalEnv)

// envConfig describes an environment. Tests that must not disturb the others
// (fault knobs are global to a simulator; a killed worker or a restarted dev
// server stops everyone's work) build their own with newEnv.
type envConfig struct {
	name string
	sim  graphsim.Options // Clients defaults to the e2e app
	// ownServer starts a dev server for this environment alone; otherwise it
	// uses the shared one (then give the worker its own taskQueue). With an
	// external server (CLOUDSYNC_E2E_TEMPORAL_ADDRESS) the test skips, unless
	// externalOK.
	ownServer bool
	// externalOK: the own dev server is only for isolation, so on an external
	// server the environment uses that one, with its own taskQueue.
	externalOK bool
	dbFile     string // own dev server persisted in this SQLite file, so it can restart
	taskQueue  string // the worker's task queue (default workflows.TaskQueue)
	workerEnv  []string
	noWorker   bool
	server     *testsuite.DevServer // set by newEnv: the shared dev server (nil on an external server)
	shared     *env                 // set by newEnv: the shared environment
	// chaos puts a chaosProxy between the worker and graphsim's Graph API.
	chaos bool
}

// env is one set of parts: a dev server (own or shared), a simulator, and a
// worker process that can be killed and restarted.
type env struct {
	cfg       envConfig
	sim       *graphsim.Server
	temporal  *testsuite.DevServer // the dev server (nil on an external server)
	external  bool                 // e.client dials CLOUDSYNC_E2E_TEMPORAL_ADDRESS (closed with e)
	client    client.Client
	bin       string // directory with the worker and starter binaries
	hostPort  string // the dev server's frontend, stable across restarts
	taskQueue string
	// metricsAddr is the main worker's /metrics, /healthz, /readyz (each env's
	// worker has its own port: several envs run at once).
	metricsAddr string

	proxy *chaosProxy // with envConfig.chaos
	hook  *webhook    // receives the watchers' notifications (webhook "e2e-hook")

	mu      sync.Mutex
	worker  *workerProc   // the current main worker
	workers []*workerProc // every worker process ever started here
	log     *lockedWriter // all worker output of this env, in order
	closed  bool
}

// workerProc is one worker process.
type workerProc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

var (
	shared    *env
	sharedErr error
	once      sync.Once

	serverStarts sync.Mutex // dev servers start one at a time

	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// TestMain tears the shared environment down after the tests, once every
// history on its dev server has been scanned for secrets (afterSuites).
func TestMain(m *testing.M) {
	flag.Parse()
	// The tests mostly wait (replication lag, retry timers, activity
	// timeouts), so run more of them at once than there are cores unless
	// -parallel was given.
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		_ = flag.Set("test.parallel", "16")
	}
	code := m.Run()
	code = afterSuites(code, shared)
	if shared != nil {
		shared.close()
	}
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// skipIfShort skips an end-to-end test under -short: each needs a dev server,
// graphsim and built binaries (go test -short ./... is the quick loop).
func skipIfShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: skipped under -short")
	}
}

func setup(t *testing.T) *env {
	t.Helper()
	skipIfShort(t)
	once.Do(func() {
		shared, sharedErr = start(envConfig{name: "shared", ownServer: true, sim: graphsim.Options{
			Seed:             7,
			ReplicationLag:   2 * time.Second,
			DiscoverFailures: 2,
			SyncInterval:     200 * time.Millisecond,
			// New jobs answer 404 by id for a while (graphsim's default lag, on
			// here too): watchers read them from their service principal's list.
			// Quarantines are re-evaluated every 2 s instead of daily.
			QuarantineReevaluation: 2 * time.Second,
		}})
	})
	if sharedErr != nil {
		t.Fatalf("e2e environment: %v", sharedErr)
	}
	return shared
}

// newEnv builds an environment of the test's own, torn down (after a scan of
// its histories and worker logs for secrets) when the test ends.
func newEnv(t *testing.T, cfg envConfig) *env {
	t.Helper()
	skipIfShort(t)
	if cfg.ownServer && externalAddress != "" {
		if !cfg.externalOK {
			t.Skipf("env %s needs a Temporal dev server of its own (%s is set: the tests use the server at %s)", cfg.name, externalEnv, externalAddress)
		}
		// Isolation only: the external server, with the env's own task queue.
		cfg.ownServer = false
	}
	if !cfg.ownServer {
		cfg.shared = setup(t)
		cfg.server = cfg.shared.temporal
		if cfg.taskQueue == "" || cfg.taskQueue == workflows.TaskQueue {
			t.Fatalf("env %s shares the dev server: give it its own task queue", cfg.name)
		}
	}
	e, err := start(cfg)
	if err != nil {
		t.Fatalf("e2e environment %s: %v", cfg.name, err)
	}
	t.Cleanup(func() {
		// Histories on the shared or an external server are scanned after the
		// tests (afterSuites).
		if e.cfg.ownServer {
			e.scanOwnServer(t)
		}
		e.scanWorkerLog(t)
		e.close()
		registerSimSecrets(e.sim)
	})
	return e
}

// binaries builds the worker, starter, graphsim and codec-server once per
// test binary.
func binaries() (string, error) {
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "cloudsync-e2e-")
		if buildErr == nil {
			buildErr = buildBinaries(binDir)
		}
	})
	return binDir, buildErr
}

func start(cfg envConfig) (*env, error) {
	e := &env{cfg: cfg, taskQueue: cfg.taskQueue, log: &lockedWriter{w: &bytes.Buffer{}}}
	if e.taskQueue == "" {
		e.taskQueue = workflows.TaskQueue
	}
	var err error
	if e.bin, err = binaries(); err != nil {
		return nil, err
	}
	opts := cfg.sim
	if opts.Clients == nil {
		opts.Clients = map[string]string{clientID: clientSecret}
	}
	e.sim, err = graphsim.New(opts)
	if err != nil {
		return nil, fmt.Errorf("graphsim: %w", err)
	}
	e.hook = newWebhook()
	if cfg.chaos {
		dir, err := os.MkdirTemp("", "cloudsync-e2e-proxy-")
		if err == nil {
			e.proxy, err = newChaosProxy(dir, e.sim.GraphURL(), e.sim.CAFile())
		}
		if err != nil {
			e.sim.Close()
			return nil, fmt.Errorf("chaos proxy: %w", err)
		}
	}
	if cfg.ownServer && externalAddress != "" {
		// The shared environment on an external server.
		if err := e.dialExternal(); err != nil {
			e.sim.Close()
			return nil, err
		}
	} else if cfg.ownServer {
		// A dev server picks free ports of its own for its internal services
		// while it starts; several starting at once can collide. Start them
		// one at a time, and try another port if one does not come up.
		serverStarts.Lock()
		for attempt := 1; ; attempt++ {
			port, err := freePort()
			if err == nil {
				e.hostPort = fmt.Sprintf("127.0.0.1:%d", port)
				err = e.startServer()
			}
			if err == nil {
				break
			}
			if attempt == 3 {
				serverStarts.Unlock()
				e.sim.Close()
				return nil, err
			}
			fmt.Fprintf(os.Stderr, "env %s: dev server did not start (%v): trying another port\n", cfg.name, err)
		}
		serverStarts.Unlock()
	} else {
		e.temporal, e.hostPort, e.client = cfg.shared.temporal, cfg.shared.hostPort, cfg.shared.client
	}
	if !cfg.noWorker {
		if err := e.startWorker(); err != nil {
			e.close()
			return nil, err
		}
	}
	return e, nil
}

// dialExternal connects to the server at CLOUDSYNC_E2E_TEMPORAL_ADDRESS and
// checks that it is ready for the tests: the default namespace answers, every
// search attribute of workflows.SearchAttributeNames is registered, and
// nothing runs there yet (the tests reuse tenant ids, so watchers or pollers
// left by an earlier run would meet this run's).
func (e *env) dialExternal() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{HostPort: externalAddress, Namespace: "default"})
	if err != nil {
		return fmt.Errorf("%s=%s: %w", externalEnv, externalAddress, err)
	}
	if err := checkExternal(ctx, c); err != nil {
		c.Close()
		return fmt.Errorf("%s=%s: %w", externalEnv, externalAddress, err)
	}
	e.client, e.hostPort, e.external = c, externalAddress, true
	return nil
}

func checkExternal(ctx context.Context, c client.Client) error {
	// SQL visibility keeps custom search attributes per namespace.
	sa, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
	if err != nil {
		return fmt.Errorf("search attributes of namespace default: %w", err)
	}
	var missing []string
	for _, name := range workflows.SearchAttributeNames {
		if _, ok := sa.GetCustomAttributes()[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("search attributes %v are not registered: run deploy/temporal/search-attributes.sh", missing)
	}
	running, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: "ExecutionStatus = 'Running'"})
	if err != nil {
		return fmt.Errorf("count running workflows: %w", err)
	}
	if n := running.GetCount(); n > 0 {
		return fmt.Errorf("%d workflows are running there (left by an earlier test run?): the tests need a fresh database (make test-cluster recreates it; make cluster-up too)", n)
	}
	return nil
}

// startServer starts (or, with a database file, restarts) the env's own dev server.
func (e *env) startServer() error {
	temporalBin, err := findTemporalCLI()
	if err != nil {
		return err
	}
	// The dev server registers each attribute with its type.
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath:     temporalBin,
		ClientOptions:    &client.Options{HostPort: e.hostPort, Namespace: "default"},
		DBFilename:       e.cfg.dbFile,
		SearchAttributes: workflows.TypedSearchAttributes(),
		LogLevel:         "error",
		Stdout:           os.Stderr,
		Stderr:           os.Stderr,
	})
	if err != nil {
		return fmt.Errorf("temporal dev server (%s): %w", temporalBin, err)
	}
	e.temporal, e.client = srv, srv.Client()
	return nil
}

// restartServer stops the env's own dev server, waits, and starts it again on
// the same address and database file. Workers reconnect by themselves.
func (e *env) restartServer(down time.Duration) error {
	if !e.cfg.ownServer || e.cfg.dbFile == "" {
		return fmt.Errorf("env %s: only an own dev server with a database file can restart", e.cfg.name)
	}
	e.client.Close()
	if err := e.temporal.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "dev server stop: %v\n", err)
	}
	time.Sleep(down)
	serverStarts.Lock()
	defer serverStarts.Unlock()
	return e.startServer()
}

func (e *env) workerEnv() []string {
	if e.metricsAddr == "" {
		port, _ := freePort()
		e.metricsAddr = fmt.Sprintf("127.0.0.1:%d", port)
	}
	graphURL, caFile := e.sim.GraphURL(), e.sim.CAFile()
	if e.proxy != nil {
		graphURL, caFile = e.proxy.GraphURL(), e.proxy.caFile
	}
	return append(append(os.Environ(),
		"CLOUDSYNC_METRICS_ADDR="+e.metricsAddr,
		"TEMPORAL_ADDRESS="+e.hostPort,
		"TEMPORAL_NAMESPACE=default",
		"CLOUDSYNC_TASK_QUEUE="+e.taskQueue,
		"CLOUDSYNC_GRAPH_BASE_URL="+graphURL,
		"AZURE_AUTHORITY_HOST="+e.sim.AuthorityHost(),
		"CLOUDSYNC_CA_FILE="+caFile,
		"AZURE_CLIENT_ID="+clientID,
		"AZURE_CLIENT_SECRET="+clientSecret,
		"CLOUDSYNC_LOG_FORMAT=json",
		"CLOUDSYNC_LOG_LEVEL=info",
		// Watching at test speed: a crashed worker's poller shard moves on in
		// seconds, a missing job is gone after 20 s.
		"CLOUDSYNC_WATCH_INTERVAL=1s",
		"CLOUDSYNC_WATCH_SHARDS=2",
		"CLOUDSYNC_WATCH_GONE_AFTER=20s",
		"CLOUDSYNC_WATCH_HEARTBEAT_TIMEOUT=10s",
		// graphsim's settling 403/409 last 3 s: a missing permission is
		// reported after 15 s, not the production 5 min.
		"CLOUDSYNC_SYNC_SETTLE_WINDOW=15s",
		"CLOUDSYNC_WEBHOOKS=e2e-hook="+e.webhookURL(),
	), e.cfg.workerEnv...)
}

// spawnWorker starts a worker process with the env's environment plus extra
// (later entries win). Workers other than the main one serve metrics on a
// port of their own.
func (e *env) spawnWorker(extra ...string) (*workerProc, error) {
	return e.spawn(append([]string{"CLOUDSYNC_METRICS_ADDR=127.0.0.1:0"}, extra...)...)
}

func (e *env) spawn(extra ...string) (*workerProc, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, fmt.Errorf("env %s is closed", e.cfg.name)
	}
	cmd := exec.Command(filepath.Join(e.bin, "worker"))
	cmd.Env = append(e.workerEnv(), extra...)
	cmd.Stdout = e.log
	cmd.Stderr = e.log
	fmt.Fprintf(e.log, "=== worker %d starting ===\n", len(e.workers)+1)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}
	p := &workerProc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	e.workers = append(e.workers, p)
	return p, nil
}

func (e *env) startWorker() error {
	// The metrics port was free when picked; another process may take it
	// before the worker binds it, and the worker then exits at once. Wait for
	// its /readyz, and start it again on another port if it is gone.
	for attempt := 1; ; attempt++ {
		e.mu.Lock()
		if e.metricsAddr == "" {
			port, _ := freePort()
			e.metricsAddr = fmt.Sprintf("127.0.0.1:%d", port)
		}
		addr := e.metricsAddr
		e.mu.Unlock()
		// The process that took the port may answer /readyz too (another
		// test's worker): ready counts only once this worker logged that it
		// serves there.
		serving := `"msg":"serving /metrics, /healthz, /readyz","addr":"` + addr + `"`
		before := strings.Count(e.workerOutput(), serving)
		p, err := e.spawn()
		if err != nil {
			return err
		}
		e.mu.Lock()
		e.worker = p
		e.mu.Unlock()
		deadline := time.Now().Add(90 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case <-p.done:
				deadline = time.Time{}
				continue
			default:
			}
			if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK && strings.Count(e.workerOutput(), serving) > before {
					return nil
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		select {
		case <-p.done:
		default:
			return nil // alive but slow to be ready: the tests' own waits take over
		}
		if attempt == 3 {
			return fmt.Errorf("the worker exited at start three times (see the worker log)")
		}
		e.mu.Lock()
		e.metricsAddr = "" // another port next time
		e.mu.Unlock()
	}
}

// killWorker kills the main worker with SIGKILL (no chance to finish
// anything) and waits until it is gone.
func (e *env) killWorker() error {
	e.mu.Lock()
	p := e.worker
	e.mu.Unlock()
	if p == nil {
		return fmt.Errorf("no worker")
	}
	fmt.Fprintf(e.log, "=== SIGKILL ===\n")
	if err := p.cmd.Process.Kill(); err != nil {
		return err
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("worker did not die")
	}
}

// stop ends a worker: interrupt, then kill after a grace period.
func (p *workerProc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (e *env) close() {
	e.mu.Lock()
	e.closed = true
	workers := e.workers
	e.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range workers {
		wg.Add(1)
		go func() { defer wg.Done(); p.stop() }()
	}
	wg.Wait()
	if e.cfg.ownServer && e.temporal != nil {
		_ = e.temporal.Stop()
	}
	if e.external {
		e.client.Close()
	}
	if e.proxy != nil {
		e.proxy.close()
		_ = os.RemoveAll(filepath.Dir(e.proxy.caFile))
	}
	if e.sim != nil {
		e.sim.Close()
	}
	if e.hook != nil {
		e.hook.srv.Close()
	}
}

// starter runs the starter binary against the env's dev server.
func (e *env) starter(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(e.bin, "starter"), args...)
	cmd.Env = append(os.Environ(), "TEMPORAL_ADDRESS="+e.hostPort, "TEMPORAL_NAMESPACE=default")
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
	// One go build for all: it builds them in parallel. Each binary is named
	// after its package's directory.
	pkgs := []string{"./worker", "./starter", "./graphsim/cmd/graphsim", "./codec/cmd/codec-server"}
	cmd := exec.Command("go", append([]string{"build", "-o", dir + string(filepath.Separator)}, pkgs...)...)
	cmd.Dir = strings.TrimSpace(string(root))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", strings.Join(pkgs, " "), err, out)
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

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

// workerOutput is everything the env's worker processes printed.
func (e *env) workerOutput() string { return e.log.String() }

// webhook records the notifications the worker posts to the webhook named
// "e2e-hook".
type webhook struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []workflows.Notification
}

func newWebhook() *webhook {
	h := &webhook{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n workflows.Notification
		if json.NewDecoder(r.Body).Decode(&n) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.got = append(h.got, n)
		h.mu.Unlock()
	}))
	return h
}

func (e *env) webhookURL() string { return e.hook.srv.URL + "/notify" }

// notified lists the notifications of one kind a tenant's watchers sent.
func (h *webhook) notified(tenant, kind string) []workflows.Notification {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []workflows.Notification
	for _, n := range h.got {
		if n.TenantID == tenant && n.Kind == kind {
			out = append(out, n)
		}
	}
	return out
}
