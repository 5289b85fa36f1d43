// Command bench measures cloudsync on this machine: Graph requests and
// Temporal actions per onboarding, the watcher's cost, onboarding throughput
// against a serial script, the fleet's cost against the engine floor (the
// onboarding's shape with no-op activities, bench/floor.go), the fleet
// against the serial script at realistic Graph latency, many watchers on one
// worker, and build times. It runs the Temporal CLI's dev server (or, with
// -cluster, the Temporal server on PostgreSQL of scripts/cluster.sh) and the
// worker binary as child processes (so their CPU and memory can be read from
// /proc) and graphsim in process with a per-request latency, then writes
// BENCHMARKS.md and bench/results.json.
//
//	go run ./bench              # make bench: the full run (about 75 minutes on 2 cores)
//	go run ./bench -quick       # make bench-quick: small sizes, for development
//	go run ./bench -only throughput -n 1000 -merge   # one phase, merged into bench/results.json
//	go run ./bench -render      # the report again from bench/results.json
package main

import (
	"context"
	"encoding/json"
	"errors"
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
	noSettle       bool
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
	workerSrc      string
	quick          bool
	only           string
	cluster        bool
	floor          bool
	floorPlus      bool
	floorPairs     int
	merge          bool
	realistic      realisticConfig
}

// realisticConfig is the realistic-latency phase: Graph as slow as it is.
type realisticConfig struct {
	n            int
	graph        graphKnobs
	serialPoll   time.Duration
	serialBudget time.Duration
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
	settle := flag.Bool("graph-settle", true, "graphsim answers a new service principal's first synchronization calls with 403/409, as Graph does (false: for experiments)")
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
	flag.StringVar(&cfg.workerSrc, "worker-src", "", "build the worker from this checkout instead (a before/after comparison of a workflow change)")
	flag.Var(&cfg.workerEnv, "worker-env", "KEY=VALUE for the worker (tuning experiments; repeatable)")
	flag.BoolVar(&cfg.quick, "quick", false, "small sizes for development and smoke: -n 1,10 -watch-tenants 100 -watch-intervals 6 -realistic-n 10 -realistic-serial-budget 1m -builds=false")
	flag.StringVar(&cfg.only, "only", "", "comma-separated phases to run: builds,watch,throughput,cluster,serial,realistic (default all; cluster only with -cluster)")
	flag.BoolVar(&cfg.cluster, "cluster", false, "also run the throughput phases (and their floors) on a Temporal server on PostgreSQL (scripts/cluster.sh; make bench passes it)")
	flag.BoolVar(&cfg.floor, "floor", true, "after each throughput phase, run the engine floor (the onboarding's shape, no-op activities) on a fresh server of the same kind")
	flag.BoolVar(&cfg.floorPlus, "floor-plus", true, "after each floor, the floor plus: the floor with the fleet's payload sizes, heartbeats and watcher timers")
	flag.IntVar(&cfg.floorPairs, "floor-pairs", 2, "fleet and floor pairs measured back to back at each N ≥ 10 (the ratios sum them: this machine is shared)")
	flag.BoolVar(&cfg.merge, "merge", false, "keep the -json file's other phases: replace only what this run measured (one phase at a time, e.g. under a lock)")
	flag.IntVar(&cfg.realistic.n, "realistic-n", 1000, "tenants onboarded at once in the realistic-latency phase")
	flag.DurationVar(&cfg.realistic.graph.Latency, "realistic-latency", 150*time.Millisecond, "the realistic phase's latency per Graph request")
	flag.DurationVar(&cfg.realistic.graph.ReplicationLag, "realistic-lag", 10*time.Second, "the realistic phase's replication lag: a new service principal and a new job are not readable for this long")
	flag.DurationVar(&cfg.realistic.serialPoll, "realistic-poll", 5*time.Second, "how often the serial script polls what Graph asks it to wait out, in the realistic phase")
	flag.DurationVar(&cfg.realistic.serialBudget, "realistic-serial-budget", 5*time.Minute, "the realistic phase's serial script stops after this long and the rest is extrapolated")
	floorWorker := flag.String("floor-worker", "", "internal: run the engine floor's worker against this Temporal address")
	render := flag.Bool("render", false, "measure nothing: write the report again from the -json results")
	flag.Parse()
	cfg.noSettle = !*settle
	if *floorWorker != "" {
		return runFloorWorker(*floorWorker)
	}
	if *render {
		return renderOnly(cfg)
	}
	cfg.realistic.graph.JobReadLag = cfg.realistic.graph.ReplicationLag
	if cfg.quick {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["n"] {
			*ns = "1,10"
		}
		if !set["watch-tenants"] {
			cfg.watchTenants = 100
		}
		if !set["watch-intervals"] {
			cfg.watchIntervals = 6
		}
		if !set["builds"] {
			cfg.builds = false
		}
		if !set["realistic-n"] {
			cfg.realistic.n = 10
		}
		if !set["realistic-serial-budget"] {
			cfg.realistic.serialBudget = time.Minute
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
		keep := filepath.Join(os.TempDir(), "cloudsync-bench-logs")
		_ = os.RemoveAll(keep)
		_ = os.Rename(b.logDir, keep)
		b.logf("FAILED (logs kept in %s): %v", keep, err)
		b.res.Errors = append(b.res.Errors, strings.Split(err.Error(), "\n")...)
	}
	b.res.Finished = time.Now()
	b.res.Machine.LoadAtEnd = loadAvg()
	b.res.Runs = []runInfo{b.res.thisRun(strings.Join(os.Args[1:], " "))}
	if cfg.merge {
		old, err := readResults(b.jsonPath())
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: -merge:", err)
			return 1
		}
		b.res = b.res.mergeInto(old)
	}
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
	r, err := readResults(cfg.outJSON)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	r.evaluate()
	if err := os.WriteFile(cfg.outMD, []byte(r.markdown()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return 0
}

func readResults(path string) (*Results, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Results
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

func (b *bench) jsonPath() string {
	if filepath.IsAbs(b.cfg.outJSON) {
		return b.cfg.outJSON
	}
	return filepath.Join(b.root, b.cfg.outJSON)
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

// throughputPhases runs the throughput phase at each N asked for, on the dev
// server or (cluster) on a server on PostgreSQL, appending to out; a failed
// phase goes to phase and the next N runs.
func (b *bench) throughputPhases(ctx context.Context, out *[]throughputResult, cluster bool, phase func(error)) {
	what := "throughput"
	if cluster {
		what = "cluster throughput"
	}
	for _, n := range b.cfg.ns {
		if ctx.Err() != nil {
			return
		}
		*out = append(*out, throughputResult{N: n})
		if err := b.throughputOn(ctx, &(*out)[len(*out)-1], cluster); err != nil {
			phase(fmt.Errorf("%s N=%d: %w", what, n, err))
		}
	}
}

// runAll runs the phases asked for. A phase that fails is reported and the
// next one runs: one missing PostgreSQL or one flaky phase does not cost the
// other figures of an hour-long run.
func (b *bench) runAll(ctx context.Context) error {
	r := b.res
	var errs []error
	phase := func(err error) {
		if err != nil {
			b.logf("FAILED: %v", err)
			errs = append(errs, err)
		}
	}
	if b.want("builds") && b.cfg.builds {
		phase(b.builds())
	}
	b.workerBin = filepath.Join(b.workDir, "worker")
	src := b.root
	if b.cfg.workerSrc != "" {
		src = b.cfg.workerSrc
	}
	if _, err := buildBinary(src, "worker", b.workerBin, ""); err != nil {
		return err
	}
	if b.want("watch") && b.cfg.watchTenants > 0 && ctx.Err() == nil {
		fw, err := measureFleetWatch(ctx, b)
		r.Watch = &fw // what was measured before a failure is kept
		if err != nil {
			phase(fmt.Errorf("fleet watch: %w", err))
		} else {
			b.logf("  %s", fw)
		}
	}
	if b.want("throughput") {
		b.throughputPhases(ctx, &r.Throughput, false, phase)
	}
	if b.want("serial") && ctx.Err() == nil {
		phase(b.serial(ctx))
	}
	if b.want("realistic") && b.cfg.realistic.n > 0 && ctx.Err() == nil {
		if err := b.realistic(ctx); err != nil {
			phase(fmt.Errorf("realistic latency: %w", err))
		}
	}
	if b.cfg.cluster && b.want("cluster") && ctx.Err() == nil {
		if err := clusterReachable(); err != nil {
			phase(err)
		} else {
			b.throughputPhases(ctx, &r.Cluster, true, phase)
		}
	}
	if ctx.Err() != nil {
		errs = append(errs, ctx.Err())
	}
	return errors.Join(errs...)
}

// builds measures cold and warm build times of the worker and the starter.
func (b *bench) builds() error {
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
		b.res.Builds = append(b.res.Builds, buildResult{Package: pkg, Cold: cold, Warm: warm})
		b.logf("  %s: cold %s, warm %s", pkg, cold.Round(100*time.Millisecond), warm.Round(100*time.Millisecond))
	}
	return nil
}

// serial runs the serial script once over max(N) tenants and reads the time
// of the first N off it: one tenant after another, the first N tenants take
// the time N tenants take.
func (b *bench) serial(ctx context.Context) error {
	maxN := b.cfg.ns[len(b.cfg.ns)-1]
	sim, err := newSim(graphKnobs{Latency: b.cfg.latency}, 99)
	if err != nil {
		return err
	}
	defer sim.Close()
	specs := make([]workflows.TenantSpec, maxN)
	for i := range specs {
		specs[i] = fullSpec(benchTenant("serial", i), i)
	}
	b.logf("serial script: up to %d tenants one after another (budget %s)", maxN, b.cfg.serialBudget)
	elapsed, err := serialScript(ctx, sim, specs, b.cfg.serialBudget, time.Second, graphTuning{writeRate: graph.DefaultWriteRate, writeBurst: graph.DefaultWriteBurst})
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
	if err := os.WriteFile(b.jsonPath(), append(js, '\n'), 0o644); err != nil {
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
