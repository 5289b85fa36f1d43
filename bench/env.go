package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"github.com/cloudsync/cloudsync/graphsim"
	"github.com/cloudsync/cloudsync/workflows"
)

const (
	benchClientID = "5e1f0c1d-0000-4000-8000-0000000be4c1"
	benchSecret   = "bench-secret-not-a-real-one"
)

func quietLogger() log.Logger {
	return log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// devServer is `temporal server start-dev` run as a child process, so its CPU
// and memory can be read from /proc.
type devServer struct {
	cmd        *exec.Cmd
	hostPort   string
	metricsURL string
	client     client.Client

	// A server on PostgreSQL (startCluster): not our child.
	serverPid int
	stopFn    func()
}

// startCluster starts the Temporal server on PostgreSQL that make
// test-cluster runs, on fresh databases of its own (scripts/cluster.sh up;
// make bench passes the environment it needs; CLUSTER_DB defaults to
// cloudsync_bench here, so a bench never drops the tests' databases), with its
// Prometheus endpoint on (PROMETHEUS_ENDPOINT), and dials it. Its CPU is the
// server process's; PostgreSQL's is sampled apart (sampleDatabase).
func startCluster(root, logDir, name string) (*devServer, error) {
	script := filepath.Join(root, "scripts", "cluster.sh")
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", freePort())
	up := exec.Command(script, "up")
	up.Dir = root
	up.Env = append(os.Environ(), "PROMETHEUS_ENDPOINT="+metricsAddr)
	if os.Getenv("CLUSTER_DB") == "" {
		up.Env = append(up.Env, "CLUSTER_DB=cloudsync_bench")
	}
	out, err := up.CombinedOutput()
	_ = os.WriteFile(filepath.Join(logDir, name+"-cluster-up.log"), out, 0o644)
	if err != nil {
		return nil, fmt.Errorf("scripts/cluster.sh up: %v\n%s", err, out)
	}
	down := func() {
		cmd := exec.Command(script, "down")
		cmd.Dir = root
		_ = cmd.Run()
	}
	raw, err := os.ReadFile(filepath.Join(root, ".cluster", "server.pid"))
	if err != nil {
		down()
		return nil, err
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	port := os.Getenv("CLUSTER_PORT")
	if port == "" {
		port = "17233"
	}
	d := &devServer{hostPort: "127.0.0.1:" + port, serverPid: pid, stopFn: down, metricsURL: "http://" + metricsAddr + "/metrics"}
	if d.client, err = client.Dial(client.Options{HostPort: d.hostPort, Logger: quietLogger()}); err != nil {
		down()
		return nil, err
	}
	return d, nil
}

// startDevServer starts a dev server, on other ports again when one does not
// come up (the dev server picks its internal services' ports itself, and
// another process may take one meanwhile).
func startDevServer(cli, logDir, name string) (*devServer, error) {
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		var d *devServer
		if d, err = startDevServerOnce(cli, logDir, fmt.Sprintf("%s-%d", name, attempt)); err == nil {
			return d, nil
		}
	}
	return nil, err
}

func startDevServerOnce(cli, logDir, name string) (*devServer, error) {
	port, httpPort, metricsPort := freePort(), freePort(), freePort()
	args := []string{"server", "start-dev", "--headless", "--ip", "127.0.0.1",
		"--port", strconv.Itoa(port), "--http-port", strconv.Itoa(httpPort), "--metrics-port", strconv.Itoa(metricsPort),
		"--log-level", "error"}
	for _, sa := range workflows.SearchAttributes {
		args = append(args, "--search-attribute", sa.Name+"="+sa.Type)
	}
	cmd := exec.Command(cli, args...)
	logf, err := startLogged(cmd, logDir, name+"-devserver")
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", cli, err)
	}
	d := &devServer{cmd: cmd, hostPort: fmt.Sprintf("127.0.0.1:%d", port), metricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)}
	deadline := time.Now().Add(90 * time.Second)
	for {
		if !sampleProc(cmd.Process.Pid).alive || strings.Contains(readTail(logf.Name()), "panic:") {
			d.stop()
			return nil, fmt.Errorf("the dev server exited at start (see %s)", logf.Name())
		}
		c, err := client.Dial(client.Options{HostPort: d.hostPort, Logger: quietLogger()})
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			resp, serr := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
			cancel()
			if serr == nil && resp.GetCustomAttributes()["CloudSyncStep"] != enums.INDEXED_VALUE_TYPE_UNSPECIFIED {
				d.client = c
				return d, nil
			}
			c.Close()
		}
		if time.Now().After(deadline) {
			d.stop()
			return nil, fmt.Errorf("the dev server did not come up at %s (see %s)", d.hostPort, logf.Name())
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func (d *devServer) pid() int {
	if d.cmd == nil {
		return d.serverPid
	}
	return d.cmd.Process.Pid
}

func (d *devServer) stop() {
	if d.client != nil {
		d.client.Close()
	}
	if d.stopFn != nil {
		d.stopFn()
		return
	}
	stopProcess(d.cmd, 15*time.Second)
}

// stopProcess interrupts a child (and its group), then kills it if it lingers.
func stopProcess(cmd *exec.Cmd, grace time.Duration) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// metrics scrapes the dev server's Prometheus endpoint into series -> value
// for the metrics named (a series is the metric name with its labels).
func (d *devServer) metrics(names ...string) map[string]float64 {
	out := map[string]float64{}
	if d.metricsURL == "" {
		return out
	}
	resp, err := http.Get(d.metricsURL)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		for _, n := range names {
			if strings.HasPrefix(line, n+"{") || strings.HasPrefix(line, n+" ") {
				i := strings.LastIndexByte(line, ' ')
				v, err := strconv.ParseFloat(line[i+1:], 64)
				if err == nil {
					out[line[:i]] = v
				}
			}
		}
	}
	return out
}

// serverActions sums the dev server's own "action" counter for namespace
// default by action type (the server's account of billable actions).
func serverActions(m map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for series, v := range m {
		if !strings.HasPrefix(series, "action{") || !strings.Contains(series, `namespace="default"`) {
			continue
		}
		t := labelValue(series, "action_type")
		out[t] += v
	}
	return out
}

func labelValue(series, label string) string {
	i := strings.Index(series, label+`="`)
	if i < 0 {
		return ""
	}
	rest := series[i+len(label)+2:]
	j := strings.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return rest[:j]
}

func diffCounts(before, after map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// graphKnobs are the Graph behaviours a phase sets in graphsim (the rest are
// graphsim's defaults, Graph-like: a new service principal's settling 403/409,
// a new job's 2 s read lag).
type graphKnobs struct {
	Latency        time.Duration `json:"latencyNs"`                  // every Graph request
	ReplicationLag time.Duration `json:"replicationLagNs,omitempty"` // a new service principal answers 404
	JobReadLag     time.Duration `json:"jobReadLagNs,omitempty"`     // a new job answers GET by id with 404 (0: graphsim's default)
	NoSettle       bool          `json:"noSettle,omitempty"`         // no settling 403/409 of a new service principal (experiments)
}

// newSim starts graphsim in process with a phase's Graph knobs.
func newSim(k graphKnobs, seed int64) (*graphsim.Server, error) {
	return graphsim.New(graphsim.Options{
		Clients:        map[string]string{benchClientID: benchSecret},
		Seed:           seed,
		Latency:        k.Latency,
		ReplicationLag: k.ReplicationLag,
		JobReadLag:     k.JobReadLag,
		SyncSettle:     map[bool]time.Duration{true: -1}[k.NoSettle],
		SyncInterval:   5 * time.Second,
	})
}

// workerProc is the worker binary run against a dev server and graphsim.
type workerProc struct {
	cmd *exec.Cmd
	log *os.File
}

func startWorker(bin string, ds *devServer, sim *graphsim.Server, logDir, name string, extraEnv []string) (*workerProc, error) {
	// Stopped at the end of a phase: the poller's long activity need not finish.
	cmd := exec.Command(bin, "--stop-timeout=1s")
	cmd.Env = append(os.Environ(),
		"TEMPORAL_ADDRESS="+ds.hostPort,
		"TEMPORAL_NAMESPACE=default",
		"CLOUDSYNC_GRAPH_BASE_URL="+sim.GraphURL(),
		"AZURE_AUTHORITY_HOST="+sim.AuthorityHost(),
		"CLOUDSYNC_CA_FILE="+sim.CAFile(),
		"AZURE_CLIENT_ID="+benchClientID,
		"AZURE_CLIENT_SECRET="+benchSecret,
		"CLOUDSYNC_LOG_LEVEL=warn",
		"CLOUDSYNC_METRICS_ADDR=off", // the bench reads the server's counters, not the worker's
	)
	cmd.Env = append(cmd.Env, extraEnv...)
	return startWorkerProc(ds, cmd, logDir, name+"-worker", workflows.TaskQueue, "worker")
}

// startLogged starts cmd in a process group of its own (stopping the group
// stops its children too), its output going to logDir/name.log.
func startLogged(cmd *exec.Cmd, logDir, name string) (*os.File, error) {
	logf, err := os.Create(filepath.Join(logDir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return logf, cmd.Start()
}

// startWorkerProc starts a worker process (the worker binary, or the floor's)
// and waits until it polls taskQueue; what names it in errors.
func startWorkerProc(ds *devServer, cmd *exec.Cmd, logDir, name, taskQueue, what string) (*workerProc, error) {
	logf, err := startLogged(cmd, logDir, name)
	if err != nil {
		return nil, err
	}
	w := &workerProc{cmd: cmd, log: logf}
	if err := waitPolling(ds, taskQueue, cmd.Process.Pid); err != nil {
		w.stop()
		return nil, fmt.Errorf("the %s %w (see %s)", what, err, logf.Name())
	}
	return w, nil
}

// waitPolling waits until a worker process polls both kinds of a task queue.
func waitPolling(ds *devServer, taskQueue string, pid int) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		wq, err1 := ds.client.DescribeTaskQueue(ctx, taskQueue, enums.TASK_QUEUE_TYPE_WORKFLOW)
		aq, err2 := ds.client.DescribeTaskQueue(ctx, taskQueue, enums.TASK_QUEUE_TYPE_ACTIVITY)
		cancel()
		if err1 == nil && err2 == nil && len(wq.GetPollers()) > 0 && len(aq.GetPollers()) > 0 {
			return nil
		}
		if s := sampleProc(pid); !s.alive {
			return fmt.Errorf("exited before polling")
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("did not start polling %s", taskQueue)
}

func (w *workerProc) pid() int { return w.cmd.Process.Pid }

func (w *workerProc) stop() {
	stopProcess(w.cmd, 40*time.Second)
	_ = w.log.Close()
}

// buildBinary builds a package of this module into dir with the given GOCACHE
// ("" keeps the user's) and says how long it took.
func buildBinary(root, pkg, out, gocache string) (time.Duration, error) {
	cmd := exec.Command("go", "build", "-o", out, "./"+pkg)
	cmd.Dir = root
	cmd.Env = os.Environ()
	if gocache != "" {
		cmd.Env = append(cmd.Env, "GOCACHE="+gocache)
	}
	start := time.Now()
	b, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("go build ./%s: %v\n%s", pkg, err, b)
	}
	return time.Since(start), nil
}

// readTail is the last 4 KiB of a file.
func readTail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(st.Size()-4096, 0)
	b := make([]byte, st.Size()-off)
	_, _ = f.ReadAt(b, off)
	return string(b)
}
