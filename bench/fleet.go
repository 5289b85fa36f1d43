package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/cloudsync/cloudsync/workflows"
)

// The server works on after the last result (visibility records, transfer
// tasks): its CPU is followed second by second until it settles (below
// settledRate of a core for two seconds in a row) or for settleMax.
const (
	settledRate = 0.15
	settleMax   = 30 * time.Second
)

// settle follows a server's CPU after a phase until it settles: its tail
// (the CPU from the phase's end until it settled), the rate of each second,
// and its rate over the last two seconds (what it burns idle).
func settle(pid int, end procSample) (tail usage, rates []float64, idle float64) {
	prev := end
	calm := 0
	for time.Since(end.at) < settleMax && calm < 2 {
		time.Sleep(time.Second)
		s := sampleProc(pid)
		r := (s.cpu - prev.cpu).Seconds() / s.at.Sub(prev.at).Seconds()
		rates = append(rates, r)
		if r < settledRate {
			calm++
		} else {
			calm = 0
		}
		prev = s
	}
	tail = between(end, prev)
	if n := len(rates); n >= 2 {
		idle = 100 * (rates[n-1] + rates[n-2]) / 2
	}
	return tail, rates, idle
}

// fleetOpts is one fleet run: N onboardings at once on a fresh server (the
// dev server, or the cluster on PostgreSQL), worker and graphsim.
type fleetOpts struct {
	phase    string
	cluster  bool
	graph    graphKnobs
	critical bool // also the single-tenant critical path, a re-run and the per-onboarding figures
	single   bool // one onboarding alone before the fleet (tp.Single)
	// watchInterval: the worker's poll interval (0: the default, 2 min).
	watchInterval time.Duration
}

// throughputWatchInterval is the poll interval of the throughput phases'
// worker: longer than any phase, so the watchers' first report from the
// poller (a signal, a search attribute upsert and a memo upsert each) falls
// after every phase instead of in some and not others, by the phase's length
// (its cost is section 3's, measured in the watch phase).
const throughputWatchInterval = 15 * time.Minute

// startServer starts a fresh Temporal server of the phase's kind.
func (b *bench) startServer(cluster bool, phase string) (*devServer, error) {
	if cluster {
		return startCluster(b.root, b.logDir, phase)
	}
	return startDevServer(b.cfg.temporalCLI, b.logDir, phase)
}

// clusterReachable says whether PostgreSQL answers where scripts/cluster.sh
// will look for it, before a phase tries to set databases up there.
func clusterReachable() error {
	host, port := os.Getenv("CLUSTER_PG_HOST"), os.Getenv("CLUSTER_PG_PORT")
	if host == "" {
		host = "127.0.0.1"
	}
	if port == "" {
		port = "5432"
	}
	c, err := net.DialTimeout("tcp", net.JoinHostPort(host, port), 3*time.Second)
	if err != nil {
		return fmt.Errorf("the cluster phases need PostgreSQL on %s:%s (README, \"Running against a Temporal cluster\"), or run without -cluster: %w", host, port, err)
	}
	_ = c.Close()
	return nil
}

// window is what a phase samples at its start and end: the worker's, the
// server's, PostgreSQL's and this process's (graphsim's and the starts') CPU,
// and the server's own counters.
type window struct {
	worker, server, db, self procSample
	metrics                  map[string]float64
}

func sampleWindow(ds *devServer, workerPid int, withMetrics bool) window {
	w := window{worker: sampleProc(workerPid), server: sampleProc(ds.pid()), db: sampleDatabase(), self: sampleProc(os.Getpid())}
	if withMetrics {
		w.metrics = ds.metrics("action", "service_requests")
	}
	return w
}

// throughputOn is a throughput phase at graphsim's bench latency, and its
// floors.
func (b *bench) throughputOn(ctx context.Context, tp *throughputResult, cluster bool) error {
	if err := b.throughputRun(ctx, tp, cluster, fmt.Sprintf("n%d", tp.N)); err != nil {
		return err
	}
	if err := b.floorAfter(ctx, tp, cluster); err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	for i := 2; b.cfg.floor && i <= b.cfg.floorPairs && tp.N >= 10 && ctx.Err() == nil; i++ {
		again := throughputResult{N: tp.N}
		if err := b.throughputRun(ctx, &again, cluster, fmt.Sprintf("n%d-%d", tp.N, i)); err != nil {
			return fmt.Errorf("fleet, pair %d: %w", i, err)
		}
		fl, err := b.runFloor(ctx, &again, cluster, nil, i)
		if err != nil {
			return fmt.Errorf("floor, pair %d: %w", i, err)
		}
		tp.Again = append(tp.Again, pairRun{Fleet: again.cost(), Floor: fl.cost(), Load: loadAvg(), Failed: again.Failed, FirstError: again.FirstError})
		if again.Failed > 0 {
			b.res.Errors = append(b.res.Errors, fmt.Sprintf("N=%d, pair %d: %d onboardings failed: %s", tp.N, i, again.Failed, again.FirstError))
		}
		q := pairedRatios(tp)
		b.logf("  N=%d after %d pairs: fleet/floor wall %.2f, server CPU %.2f, actions %.2f", tp.N, i, q.Wall, q.CPU, q.Actions)
	}
	return nil
}

func (b *bench) throughputRun(ctx context.Context, tp *throughputResult, cluster bool, phase string) error {
	if cluster {
		phase = "cluster-" + phase
		b.logf("throughput N=%d on a Temporal server on PostgreSQL", tp.N)
	}
	return b.fleet(ctx, tp, fleetOpts{phase: phase, cluster: cluster, graph: graphKnobs{Latency: b.cfg.latency, NoSettle: b.cfg.noSettle},
		critical: tp.N == 1 && !cluster && phase == "n1", watchInterval: throughputWatchInterval})
}

// fleet onboards tp.N tenants at once and fills tp with what it cost.
func (b *bench) fleet(ctx context.Context, tp *throughputResult, o fleetOpts) error {
	n := tp.N
	sim, err := newSim(o.graph, int64(n))
	if err != nil {
		return err
	}
	defer sim.Close()
	ds, err := b.startServer(o.cluster, o.phase)
	if err != nil {
		return err
	}
	defer ds.stop()
	env := b.workerEnv()
	if o.watchInterval > 0 {
		env = append(env, fmt.Sprintf("CLOUDSYNC_WATCH_INTERVAL=%s", o.watchInterval),
			fmt.Sprintf("CLOUDSYNC_WATCH_HEARTBEAT_TIMEOUT=%s", o.watchInterval*5/2))
	}
	w, err := startWorker(b.workerBin, ds, sim, b.logDir, o.phase, env)
	if err != nil {
		return err
	}
	defer w.stop()

	specs := make([]workflows.TenantSpec, n)
	tenants := map[string]bool{}
	for i := range specs {
		specs[i] = fullSpec(benchTenant(o.phase, i), i)
		tenants[specs[i].TenantID] = true
	}
	if o.single {
		rs := runOnboardings(ctx, ds.client, []workflows.TenantSpec{fullSpec(benchTenant(o.phase+"-single", 0), 0)}, 1)
		if rs[0].err != nil {
			return fmt.Errorf("a single onboarding: %w", rs[0].err)
		}
		tp.Single = rs[0].end.Sub(rs[0].start)
		b.logf("%s: one onboarding alone: %s", o.phase, secs(tp.Single))
	}
	b.logf("%s: onboarding %d tenants at once", o.phase, n)
	w0 := sampleWindow(ds, w.pid(), true)
	g0 := len(sim.RequestLog())
	st0 := sim.Stats()
	start := time.Now()
	runs := runOnboardings(ctx, ds.client, specs, b.cfg.startParallel)
	end := time.Now()
	w1 := sampleWindow(ds, w.pid(), false)
	tp.ServerTail, tp.TailRates, tp.ServerIdlePct = settle(ds.pid(), w1.server) // also lets the server report its metrics
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
	tp.Worker, tp.Server, tp.Bench = between(w0.worker, w1.worker), between(w0.server, w1.server), between(w0.self, w1.self)
	if o.cluster {
		u := between(w0.db, w1.db)
		tp.Database = &u
	}
	tp.Graph = onboardingRequests(sim.RequestLog()[g0:], tenants)
	tp.GraphPerOnboarding = float64(tp.Graph.Total) / float64(n)
	tp.TokenRequests = st1.TokensIssued - st0.TokensIssued
	tp.Connections = st1.Connections - st0.Connections
	tp.Throttled = st1.Throttled - st0.Throttled
	d := diffCounts(w0.metrics, m1)
	tp.ServerActions = serverActions(d)
	tp.Heartbeats = sumOps(d, "RecordActivityTaskHeartbeat")
	tp.Queries = sumOps(d, "QueryWorkflow")
	// Histories after the counters: reading them is not the fleet's work.
	tp.Histories = sampleHistories(ctx, ds.client, runs, 200)
	tp.Watchers = sampleWatchers(ctx, ds.client, runs, 100)
	tp.Extras = fleetExtras(ctx, ds.client, runs, tp.Heartbeats/float64(n))
	b.logf("  %s N=%d: %s wall, %.0f onboardings/min, worker CPU %s (%.0f%%), server CPU %s, peak RSS %s; %d failed; %.1f Graph requests, %.1f events, %.1f actions (history) and %.1f (server counter) per onboarding",
		o.phase, n, tp.Wall.Round(10*time.Millisecond), tp.PerMinute, tp.Worker.CPU.Round(10*time.Millisecond), tp.Worker.CPUPct, tp.Server.CPU.Round(10*time.Millisecond),
		mib(tp.Worker.PeakRSS), tp.Failed, tp.GraphPerOnboarding, tp.Histories.Events, tp.Histories.Actions, sumValues(tp.ServerActions)/float64(n))
	if tp.Failed > 0 {
		b.logf("  first error: %s", tp.FirstError)
	}
	if !o.critical {
		return nil
	}

	// The critical path: one onboarding alone on the warm worker, 3 times.
	var walls []time.Duration
	for i := 1; i <= 3; i++ {
		s := fullSpec(benchTenant("critical", i), i)
		rs := runOnboardings(ctx, ds.client, []workflows.TenantSpec{s}, 1)
		if rs[0].err != nil {
			return rs[0].err
		}
		walls = append(walls, rs[0].end.Sub(rs[0].start))
		if i == 1 {
			// A re-run of a finished onboarding: what it reads and writes.
			g := len(sim.RequestLog())
			rs = runOnboardings(ctx, ds.client, []workflows.TenantSpec{s}, 1)
			if rs[0].err != nil {
				return rs[0].err
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
	return nil
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

func sumValues(m map[string]float64) float64 {
	t := 0.0
	for _, v := range m {
		t += v
	}
	return t
}

// floorAfter runs the engine floor at the fleet's N on a fresh server of the
// same kind, with the shape of an onboarding of that fleet (its first sampled
// history), and checks that the floor's history has the same commands; then
// the floor plus (the same with the fleet's payload sizes, heartbeats and
// watcher timers), which says how much of the difference those account for.
func (b *bench) floorAfter(ctx context.Context, tp *throughputResult, cluster bool) error {
	if !b.cfg.floor {
		return nil
	}
	if tp.Histories.Shape == nil {
		return fmt.Errorf("no onboarding history to take the floor's shape from: %s", tp.Histories.ShapeError)
	}
	fl, err := b.runFloor(ctx, tp, cluster, nil, 1)
	tp.Floor = fl
	if err != nil || !b.cfg.floorPlus || tp.Extras == nil {
		return err
	}
	tp.FloorPlus, err = b.runFloor(ctx, tp, cluster, tp.Extras, 1)
	return err
}

// runFloor is one floor run (extras nil) or one floor plus run.
func (b *bench) runFloor(ctx context.Context, tp *throughputResult, cluster bool, extras *floorExtras, pair int) (*floorResult, error) {
	fl := &floorResult{Shape: *tp.Histories.Shape, Extras: extras}
	phase := fmt.Sprintf("floor-n%d", tp.N)
	if pair > 1 {
		phase += fmt.Sprintf("-%d", pair)
	}
	if extras != nil {
		phase = fmt.Sprintf("floorplus-n%d", tp.N)
	}
	if cluster {
		phase = "cluster-" + phase
	}
	ds, err := b.startServer(cluster, phase)
	if err != nil {
		return fl, err
	}
	defer ds.stop()
	w, err := startFloorWorker(ds, b.logDir, phase)
	if err != nil {
		return fl, err
	}
	defer w.stop()
	what := fl.Shape.String()
	if extras != nil {
		what += "; " + extras.String()
	}
	b.logf("%s: %d floor onboardings at once (%s)", phase, tp.N, what)
	w0 := sampleWindow(ds, w.pid(), true)
	start := time.Now()
	runs := runFloors(ctx, ds.client, phase, tp.N, fl.Shape, extras, b.cfg.startParallel)
	end := time.Now()
	w1 := sampleWindow(ds, w.pid(), false)
	fl.ServerTail, fl.TailRates, fl.ServerIdlePct = settle(ds.pid(), w1.server)
	m1 := ds.metrics("action", "service_requests")
	var refs []runRef
	for _, r := range runs {
		if r.err != nil {
			fl.Failed++
			if fl.FirstError == "" {
				fl.FirstError = r.err.Error()
			}
			continue
		}
		refs = append(refs, runRef{r.id, r.runID})
	}
	fl.Wall = end.Sub(start)
	fl.Worker, fl.Server, fl.Bench = between(w0.worker, w1.worker), between(w0.server, w1.server), between(w0.self, w1.self)
	if cluster {
		u := between(w0.db, w1.db)
		fl.Database = &u
	}
	d := diffCounts(w0.metrics, m1)
	fl.ServerActions = serverActions(d)
	fl.Heartbeats = sumOps(d, "RecordActivityTaskHeartbeat")
	fl.Histories = sampleRuns(ctx, ds.client, refs, 200)
	if !equalCounts(fl.Histories.Commands, tp.Histories.Commands) {
		b.res.Errors = append(b.res.Errors, fmt.Sprintf("%s: the floor's commands %v differ from the onboarding's %v", phase, fl.Histories.Commands, tp.Histories.Commands))
	}
	fleetActions, floorActions := sumValues(tp.ServerActions), sumValues(fl.ServerActions)
	b.logf("  %s N=%d: %s wall, server CPU %s, worker CPU %s, %.1f actions per onboarding (server counter), %d failed; fleet/floor: wall %.2f, server CPU %.2f, actions %.2f",
		phase, tp.N, fl.Wall.Round(10*time.Millisecond), fl.Server.CPU.Round(10*time.Millisecond), fl.Worker.CPU.Round(10*time.Millisecond),
		floorActions/float64(tp.N), fl.Failed, ratio(tp.Wall, fl.Wall), ratio(tp.Server.CPU, fl.Server.CPU), fleetActions/floorActions)
	if fl.Failed > 0 {
		return fl, fmt.Errorf("%d floor onboardings failed: %s", fl.Failed, fl.FirstError)
	}
	return fl, nil
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return a.Seconds() / b.Seconds()
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// floorRun is one floor onboarding.
type floorRun struct {
	id, runID string
	err       error
}

// runFloors starts n floor onboardings at once (startParallel start calls in
// flight, as runOnboardings does) and waits for all to end.
func runFloors(ctx context.Context, c client.Client, phase string, n int, shape floorShape, extras *floorExtras, startParallel int) []*floorRun {
	runs := make([]*floorRun, n)
	done := make(chan struct{}, n)
	next := make(chan int)
	for range startParallel {
		go func() {
			for i := range next {
				r := runs[i]
				opts := floorStartOptions(phase, i)
				r.id = opts.ID
				wr, err := c.ExecuteWorkflow(ctx, opts, floorWorkflowName, newFloorInput(shape, i, extras))
				if err != nil {
					r.err = err
					done <- struct{}{}
					continue
				}
				r.runID = wr.GetRunID()
				go func() {
					r.err = wr.Get(ctx, nil)
					done <- struct{}{}
				}()
			}
		}()
	}
	for i := range runs {
		runs[i] = &floorRun{}
		next <- i
	}
	close(next)
	for range n {
		<-done
	}
	return runs
}

// fleetExtras are the floor plus's extras from the first onboarding of a
// fleet that completed and started watchers.
func fleetExtras(ctx context.Context, c client.Client, runs []*onboardingRun, heartbeats float64) *floorExtras {
	for _, r := range runs {
		if r.err != nil || len(r.watchers) == 0 {
			continue
		}
		evs, err := history(ctx, c, r.id, r.runID)
		if err != nil {
			continue
		}
		wevs, err := history(ctx, c, r.watchers[0], "")
		if err != nil {
			continue
		}
		e := extrasOf(evs, wevs, heartbeats)
		return &e
	}
	return nil
}
