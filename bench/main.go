// Command bench measures cloudsync on this machine: Graph requests and
// Temporal actions per onboarding, the watcher's cost, onboarding throughput
// against a serial script, many watchers on one worker, and build times. It
// runs the Temporal CLI's dev server and the worker binary as child processes
// (so their CPU and memory can be read from /proc) and graphsim in process
// with a per-request latency, then writes BENCHMARKS.md and bench/results.json.
//
//	go run ./bench              # make bench: the full run (about 30 minutes on 2 cores)
//	go run ./bench -quick       # make bench-quick: small N, for development
//	go run ./bench -render      # the report again from bench/results.json
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cloudsync/cloudsync/graph"
	"github.com/cloudsync/cloudsync/workflows"
)

type config struct {
	ns             []int
	latency        time.Duration
	watchTenants   int
	watchInterval  time.Duration
	watchIntervals int
	scaleSettleMax time.Duration
	serialBudget   time.Duration
	startParallel  int
	builds         bool
	temporalCLI    string
	outMD, outJSON string
	workerEnv      multiFlag
	quick          bool
	only           string
	cluster        bool
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// graphTuning is the Graph client tuning the serial script shares with the worker.
type graphTuning struct {
	writeRate  float64
	writeBurst int
}

type bench struct {
	cfg       config
	root      string
	workDir   string
	logDir    string
	workerBin string
	res       *Results
	started   time.Time
}

func (b *bench) logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "[%6s] %s\n", time.Since(b.started).Round(time.Second), fmt.Sprintf(format, a...))
}

func (b *bench) workerEnv() []string { return b.cfg.workerEnv }

func main() { os.Exit(run()) }

func run() int {
	var cfg config
	ns := flag.String("n", "1,10,100,1000", "tenants onboarded at once, per throughput phase")
	flag.DurationVar(&cfg.latency, "latency", 50*time.Millisecond, "graphsim's latency per Graph request")
	flag.IntVar(&cfg.watchTenants, "watch-tenants", 1000, "tenants (3 jobs each) watched in the watch phase (0 skips it)")
	flag.DurationVar(&cfg.watchInterval, "watch-interval", 10*time.Second, "the watch phase's poll interval (the worker's --watch-interval)")
	flag.IntVar(&cfg.watchIntervals, "watch-intervals", 36, "poll intervals the watch phase measures")
	flag.DurationVar(&cfg.scaleSettleMax, "watch-settle-max", 15*time.Minute, "how long the watch phase waits for every watcher's first report")
	flag.DurationVar(&cfg.serialBudget, "serial-budget", 20*time.Minute, "the serial script stops after this long and the rest is extrapolated")
	flag.IntVar(&cfg.startParallel, "start-parallel", 32, "start requests in flight")
	flag.BoolVar(&cfg.builds, "builds", true, "measure cold and warm build times")
	flag.StringVar(&cfg.temporalCLI, "temporal", "", "Temporal CLI (default $TEMPORAL_CLI, then $(go env GOPATH)/bin/temporal)")
	flag.StringVar(&cfg.outMD, "md", "BENCHMARKS.md", "the report")
	flag.StringVar(&cfg.outJSON, "json", "bench/results.json", "the results")
	flag.Var(&cfg.workerEnv, "worker-env", "KEY=VALUE for the worker (tuning experiments; repeatable)")
	flag.BoolVar(&cfg.quick, "quick", false, "small N for development: -n 1,10 -watch-tenants 100 -builds=false")
	flag.StringVar(&cfg.only, "only", "", "comma-separated phases to run: builds,watch,throughput,serial,cluster (default all; cluster only with -cluster)")
	flag.BoolVar(&cfg.cluster, "cluster", false, "also run the throughput phases on a Temporal server on PostgreSQL (scripts/cluster.sh: make bench-cluster)")
	render := flag.Bool("render", false, "measure nothing: write the report again from the -json results")
	flag.Parse()
	if *render {
		return renderOnly(cfg)
	}
	if cfg.quick {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["n"] {
			*ns = "1,10"
		}
		if !set["watch-tenants"] {
			cfg.watchTenants = 100
		}
		if !set["builds"] {
			cfg.builds = false
		}
	}
	for _, s := range strings.Split(*ns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bench: -n: %q is not a positive number\n", s)
			return 2
		}
		cfg.ns = append(cfg.ns, n)
	}
	sort.Ints(cfg.ns)
	if cfg.temporalCLI == "" {
		cfg.temporalCLI = os.Getenv("TEMPORAL_CLI")
	}
	if cfg.temporalCLI == "" {
		gopath, _ := exec.Command("go", "env", "GOPATH").Output()
		cfg.temporalCLI = filepath.Join(strings.TrimSpace(string(gopath)), "bin", "temporal")
	}
	if _, err := os.Stat(cfg.temporalCLI); err != nil {
		fmt.Fprintf(os.Stderr, "bench: the Temporal CLI is not at %s: run `make tools` or set TEMPORAL_CLI\n", cfg.temporalCLI)
		return 2
	}
	rootOut, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: find the module root:", err)
		return 2
	}
	b := &bench{cfg: cfg, root: strings.TrimSpace(string(rootOut)), started: time.Now()}
	b.workDir, err = os.MkdirTemp("", "cloudsync-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer os.RemoveAll(b.workDir)
	b.logDir = filepath.Join(b.workDir, "logs")
	_ = os.MkdirAll(b.logDir, 0o755)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b.res = newResults(cfg)
	if err := b.runAll(ctx); err != nil {
		b.logf("FAILED: %v (logs kept in %s)", err, b.logDir)
		keep := filepath.Join(os.TempDir(), "cloudsync-bench-logs")
		_ = os.RemoveAll(keep)
		_ = os.Rename(b.logDir, keep)
		b.res.Errors = append(b.res.Errors, err.Error())
	}
	b.res.Finished = time.Now()
	b.res.evaluate()
	if err := b.write(); err != nil {
		fmt.Fprintln(os.Stderr, "bench: write the report:", err)
		return 1
	}
	b.logf("wrote %s and %s", cfg.outMD, cfg.outJSON)
	if len(b.res.Errors) > 0 {
		return 1
	}
	return 0
}

// renderOnly rewrites the report from saved results (after a change to the
// report's text, without measuring again).
func renderOnly(cfg config) int {
	data, err := os.ReadFile(cfg.outJSON)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	var r Results
	if err := json.Unmarshal(data, &r); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", cfg.outJSON+":", err)
		return 1
	}
	end := r.Machine.LoadAtEnd
	r.evaluate()
	r.Machine.LoadAtEnd = end
	if err := os.WriteFile(cfg.outMD, []byte(r.markdown()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return 0
}

func (b *bench) want(phase string) bool {
	if b.cfg.only == "" {
		return true
	}
	for _, p := range strings.Split(b.cfg.only, ",") {
		if strings.TrimSpace(p) == phase {
			return true
		}
	}
	return false
}

func (b *bench) runAll(ctx context.Context) error {
	r := b.res
	if b.want("builds") && b.cfg.builds {
		b.logf("build times: cold (empty GOCACHE) and warm, worker and starter")
		for _, pkg := range []string{"worker", "starter"} {
			cache := filepath.Join(b.workDir, "gocache-"+pkg)
			out := filepath.Join(b.workDir, "cold-"+pkg)
			cold, err := buildBinary(b.root, pkg, out, cache)
			if err != nil {
				return err
			}
			warm, err := buildBinary(b.root, pkg, out, cache)
			if err != nil {
				return err
			}
			_ = os.RemoveAll(cache)
			r.Builds = append(r.Builds, buildResult{Package: pkg, Cold: cold, Warm: warm})
			b.logf("  %s: cold %s, warm %s", pkg, cold.Round(100*time.Millisecond), warm.Round(100*time.Millisecond))
		}
	}
	b.workerBin = filepath.Join(b.workDir, "worker")
	if _, err := buildBinary(b.root, "worker", b.workerBin, ""); err != nil {
		return err
	}
	if b.want("watch") && b.cfg.watchTenants > 0 {
		fw, err := measureFleetWatch(ctx, b)
		r.Watch = &fw // what was measured before a failure is kept
		if err != nil {
			return fmt.Errorf("fleet watch: %w", err)
		}
		b.logf("  %s", fw)
	}
	if b.want("throughput") {
		for _, n := range b.cfg.ns {
			tp, err := b.throughput(ctx, n)
			if err != nil {
				return fmt.Errorf("throughput N=%d: %w", n, err)
			}
			r.Throughput = append(r.Throughput, tp)
		}
	}
	if b.cfg.cluster && b.want("cluster") {
		for _, n := range b.cfg.ns {
			tp, err := b.throughputOn(ctx, n, true)
			if err != nil {
				return fmt.Errorf("cluster throughput N=%d: %w", n, err)
			}
			r.Cluster = append(r.Cluster, tp)
		}
	}
	if b.want("serial") {
		if err := b.serial(ctx); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// throughput onboards n tenants at once on a fresh dev server, worker and
// graphsim. The N=1 phase also measures the single-tenant critical path and
// the per-onboarding Graph requests and Temporal actions.
func (b *bench) throughput(ctx context.Context, n int) (throughputResult, error) {
	return b.throughputOn(ctx, n, false)
}

// throughputOn is a throughput phase on a fresh dev server, or with cluster on
// a Temporal server on PostgreSQL with fresh databases.
func (b *bench) throughputOn(ctx context.Context, n int, cluster bool) (throughputResult, error) {
	tp := throughputResult{N: n}
	phase := fmt.Sprintf("n%d", n)
	if cluster {
		phase = "cluster-" + phase
		b.logf("throughput N=%d on a Temporal server on PostgreSQL", n)
	}
	sim, err := newSim(b.cfg.latency, int64(n))
	if err != nil {
		return tp, err
	}
	defer sim.Close()
	var ds *devServer
	if cluster {
		ds, err = startCluster(b.root, b.logDir, phase)
	} else {
		ds, err = startDevServer(b.cfg.temporalCLI, b.logDir, phase)
	}
	if err != nil {
		return tp, err
	}
	defer ds.stop()
	w, err := startWorker(b.workerBin, ds, sim, b.logDir, phase, b.workerEnv())
	if err != nil {
		return tp, err
	}
	defer w.stop()

	specs := make([]workflows.TenantSpec, n)
	tenants := map[string]bool{}
	for i := range specs {
		specs[i] = fullSpec(benchTenant(phase, i), i)
		tenants[specs[i].TenantID] = true
	}
	b.logf("throughput N=%d: onboarding %d tenants at once", n, n)
	w0, s0, m0, db0 := sampleProc(w.pid()), sampleProc(ds.pid()), ds.metrics("action", "service_requests"), sampleDatabase()
	g0 := len(sim.RequestLog())
	st0 := sim.Stats()
	start := time.Now()
	runs := runOnboardings(ctx, ds.client, specs, b.cfg.startParallel)
	end := time.Now()
	w1, s1, db1 := sampleProc(w.pid()), sampleProc(ds.pid()), sampleDatabase()
	if cluster {
		u := between(db0, db1)
		tp.Database = &u
	}
	time.Sleep(3 * time.Second) // the server reports its metrics every second or so
	m1 := ds.metrics("action", "service_requests")
	st1 := sim.Stats()
	for _, r := range runs {
		if r.err != nil {
			tp.Failed++
			if tp.FirstError == "" {
				tp.FirstError = r.err.Error()
			}
		}
	}
	tp.Wall = end.Sub(start)
	tp.PerMinute = float64(n-tp.Failed) / tp.Wall.Minutes()
	tp.Worker, tp.Server = between(w0, w1), between(s0, s1)
	tp.Graph = onboardingRequests(sim.RequestLog()[g0:], tenants)
	tp.GraphPerOnboarding = float64(tp.Graph.Total) / float64(n)
	tp.TokenRequests = st1.TokensIssued - st0.TokensIssued
	tp.Connections = st1.Connections - st0.Connections
	tp.Throttled = st1.Throttled - st0.Throttled
	tp.Histories = sampleHistories(ctx, ds.client, runs, 200)
	d := diffCounts(m0, m1)
	tp.ServerActions = serverActions(d)
	tp.Heartbeats = sumOps(d, "RecordActivityTaskHeartbeat")
	tp.Queries = sumOps(d, "QueryWorkflow")
	b.logf("  N=%d: %s wall, %.0f onboardings/min, worker CPU %s (%.0f%%), peak RSS %s; %d failed; %.1f Graph requests, %.1f events, %.1f actions per onboarding",
		n, tp.Wall.Round(10*time.Millisecond), tp.PerMinute, tp.Worker.CPU.Round(10*time.Millisecond), tp.Worker.CPUPct, mib(tp.Worker.PeakRSS), tp.Failed,
		tp.GraphPerOnboarding, tp.Histories.Events, tp.Histories.Actions)
	if tp.Failed > 0 {
		b.logf("  first error: %s", tp.FirstError)
	}

	if n == 1 && !cluster {
		// The critical path: one onboarding alone on the warm worker, 3 times.
		var walls []time.Duration
		for i := 1; i <= 3; i++ {
			s := fullSpec(benchTenant("critical", i), i)
			rs := runOnboardings(ctx, ds.client, []workflows.TenantSpec{s}, 1)
			if rs[0].err != nil {
				return tp, rs[0].err
			}
			walls = append(walls, rs[0].end.Sub(rs[0].start))
			if i == 1 {
				// A re-run of a finished onboarding: what it reads and writes.
				g := len(sim.RequestLog())
				rs = runOnboardings(ctx, ds.client, []workflows.TenantSpec{s}, 1)
				if rs[0].err != nil {
					return tp, rs[0].err
				}
				rr := onboardingRequests(sim.RequestLog()[g:], map[string]bool{s.TenantID: true})
				b.res.Rerun = &rr
				if rs[0].changed {
					b.res.Errors = append(b.res.Errors, "the re-run of a finished onboarding reported a change")
				}
			}
		}
		// The critical path is what one onboarding cannot go below: the
		// fastest of the single runs (noise only adds).
		b.res.CriticalPath = tp.Wall
		for _, w := range walls {
			b.res.CriticalPath = min(b.res.CriticalPath, w)
		}
		b.res.CriticalPathRuns = walls
		b.res.FirstOnboarding = tp.Wall
		b.res.Graph = tp.Graph
		b.res.Actions = actionsResult{Events: tp.Histories.EventsMax, Actions: tp.Histories.ActionsMax, Kinds: tp.Histories.Kinds,
			EventTypes: tp.Histories.EventTypes, Heartbeats: tp.Heartbeats, ServerActions: tp.ServerActions}
		b.logf("  critical path (fastest of 4 single onboardings): %s", b.res.CriticalPath.Round(10*time.Millisecond))
	}
	return tp, nil
}

func sumOps(m map[string]float64, op string) float64 {
	t := 0.0
	for series, v := range m {
		if strings.HasPrefix(series, "service_requests{") && labelValue(series, "operation") == op && labelValue(series, "service_name") == "frontend" {
			t += v
		}
	}
	return t
}

// serial runs the serial script once over max(N) tenants and reads the time
// of the first N off it: one tenant after another, the first N tenants take
// the time N tenants take.
func (b *bench) serial(ctx context.Context) error {
	maxN := b.cfg.ns[len(b.cfg.ns)-1]
	sim, err := newSim(b.cfg.latency, 99)
	if err != nil {
		return err
	}
	defer sim.Close()
	specs := make([]workflows.TenantSpec, maxN)
	for i := range specs {
		specs[i] = fullSpec(benchTenant("serial", i), i)
	}
	b.logf("serial script: up to %d tenants one after another (budget %s)", maxN, b.cfg.serialBudget)
	elapsed, err := serialScript(ctx, sim, specs, b.cfg.serialBudget, graphTuning{writeRate: graph.DefaultWriteRate, writeBurst: graph.DefaultWriteBurst})
	if err != nil {
		return err
	}
	if len(elapsed) == 0 {
		return fmt.Errorf("serial script: no tenant onboarded")
	}
	perTenant := elapsed[len(elapsed)-1] / time.Duration(len(elapsed))
	for _, n := range b.cfg.ns {
		sr := serialResult{N: n, Measured: min(n, len(elapsed))}
		if n <= len(elapsed) {
			sr.Wall = elapsed[n-1]
		} else {
			sr.Wall = elapsed[len(elapsed)-1] + time.Duration(n-len(elapsed))*perTenant
			sr.Extrapolated = true
		}
		b.res.Serial = append(b.res.Serial, sr)
		b.logf("  serial N=%d: %s%s", n, sr.Wall.Round(10*time.Millisecond), map[bool]string{true: " (extrapolated)", false: ""}[sr.Extrapolated])
	}
	b.res.SerialPerTenant = perTenant
	st := sim.Stats()
	b.res.SerialGraphPerTenant = float64(st.TotalGraphRequests) / float64(len(elapsed))
	return nil
}

func (b *bench) write() error {
	js, err := json.MarshalIndent(b.res, "", "  ")
	if err != nil {
		return err
	}
	jsonPath := b.cfg.outJSON
	if !filepath.IsAbs(jsonPath) {
		jsonPath = filepath.Join(b.root, jsonPath)
	}
	if err := os.WriteFile(jsonPath, append(js, '\n'), 0o644); err != nil {
		return err
	}
	mdPath := b.cfg.outMD
	if !filepath.IsAbs(mdPath) {
		mdPath = filepath.Join(b.root, mdPath)
	}
	return os.WriteFile(mdPath, []byte(b.res.markdown()), 0o644)
}

func machine() machineInfo {
	m := machineInfo{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH, LoadAtStart: loadAvg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "MemTotal:") {
				m.Memory = strings.TrimSpace(strings.TrimPrefix(line, "MemTotal:"))
			}
		}
	}
	return m
}
