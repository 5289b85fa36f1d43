package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"

	"github.com/cloudsync/cloudsync/graphsim"
	"github.com/cloudsync/cloudsync/workflows"
)

// watchTenant names the i-th tenant of the watch phase.
func watchTenant(i int) string { return fmt.Sprintf("5eed0000-b000-4000-8000-%012d", i) }

// startWatcher starts a WatchSyncJob directly, as `starter watch` does (its
// memo registers the job with the poller).
func startWatcher(ctx context.Context, c client.Client, tenant string, job graphsim.SeededJob) error {
	in := workflows.WatchInput{TenantID: tenant, Domain: "example.com", ServicePrincipalID: job.ServicePrincipalID, JobID: job.JobID}
	_, err := c.ExecuteWorkflow(ctx, workflows.WatchStartOptions(in), workflows.WatchSyncJobWorkflow, in)
	return err
}

// fleetWatchResult is watching a fleet: T tenants with J jobs each, polled by
// the worker's sharded poller, measured from the dev server's own counter.
type fleetWatchResult struct {
	Tenants          int                `json:"tenants"`
	JobsPerTenant    int                `json:"jobsPerTenant"`
	Interval         time.Duration      `json:"intervalNs"`
	Shards           int                `json:"shards"`
	HeartbeatTimeout time.Duration      `json:"heartbeatTimeoutNs"`
	StartWall        time.Duration      `json:"startWallNs"`
	SettleWall       time.Duration      `json:"settleWallNs"` // every watcher heard from the poller
	Settled          bool               `json:"settled"`
	StartErrors      int                `json:"startErrors"`
	Window           time.Duration      `json:"windowNs"`
	Intervals        float64            `json:"intervals"`
	Actions          float64            `json:"actions"`
	ActionKinds      map[string]float64 `json:"actionKinds"`
	ActionsPerJob    float64            `json:"actionsPerJobPerInterval"`
	Lists            int                `json:"graphLists"`
	ByIDGets         int                `json:"graphGetsById"`
	ListsPerTenant   float64            `json:"graphGetsPerTenantPerInterval"`
	Worker           usage              `json:"worker"`
	Server           usage              `json:"server"`
	ServerPeakRSS    int64              `json:"serverPeakRssBytes"`
	ToAwaiting       []time.Duration    `json:"quarantineToAwaitingNs"` // graphsim quarantine -> visible in list --awaiting-approval
	ToRestart        []time.Duration    `json:"approvalToRestartNs"`    // update sent -> ForceDeletes restart reaches graphsim
	// Starting to watch, per watcher: from the first start until every
	// watcher had the poller's first report (and 15 s for the metrics).
	FirstReportCPU     time.Duration      `json:"firstReportServerCpuNsPerWatcher"`
	FirstReportActions map[string]float64 `json:"firstReportActionsPerWatcher"`
}

const (
	listRoute    = "GET /servicePrincipals/{id}/synchronization/jobs 200"
	getByIDRoute = "GET /servicePrincipals/{id}/synchronization/jobs/{jobId} 200"
)

// measureFleetWatch seeds cfg.watchTenants tenants with 3 running jobs each
// in graphsim, starts a watcher per job, waits until every watcher has heard
// from the poller, then counts over cfg.watchIntervals poll intervals what
// steady watching costs; last, it times a few quarantines to "awaiting
// approval" in visibility and approvals to the ForceDeletes restart.
func measureFleetWatch(ctx context.Context, b *bench) (fleetWatchResult, error) {
	const jobsPerTenant, shards = 3, 4
	res := fleetWatchResult{Tenants: b.cfg.watchTenants, JobsPerTenant: jobsPerTenant, Interval: b.cfg.watchInterval, Shards: shards,
		// The same ratio as production's defaults (5 min for a 2 min interval).
		HeartbeatTimeout: b.cfg.watchInterval * 5 / 2}
	sim, err := newSim(graphKnobs{Latency: b.cfg.latency}, 13)
	if err != nil {
		return res, err
	}
	defer sim.Close()
	type seeded struct {
		tenant string
		job    graphsim.SeededJob
	}
	var jobs []seeded
	for i := range res.Tenants {
		t := watchTenant(i)
		for _, j := range sim.SeedRunningJobs(t, 1, jobsPerTenant) {
			jobs = append(jobs, seeded{t, j})
		}
	}
	ds, err := startDevServer(b.cfg.temporalCLI, b.logDir, "watch")
	if err != nil {
		return res, err
	}
	defer ds.stop()
	env := append(b.workerEnv(), fmt.Sprintf("CLOUDSYNC_WATCH_INTERVAL=%s", res.Interval), fmt.Sprintf("CLOUDSYNC_WATCH_SHARDS=%d", shards),
		fmt.Sprintf("CLOUDSYNC_WATCH_HEARTBEAT_TIMEOUT=%s", res.HeartbeatTimeout))
	w, err := startWorker(b.workerBin, ds, sim, b.logDir, "watch", env)
	if err != nil {
		return res, err
	}
	defer w.stop()

	n := len(jobs)
	b.logf("fleet watch: %d tenants × %d jobs, poll interval %s, %d shards", res.Tenants, jobsPerTenant, res.Interval, shards)
	time.Sleep(3 * time.Second) // the worker's own start (its poller shards) reaches the metrics
	f0, fa0 := sampleProc(ds.pid()), ds.metrics("action")
	start := time.Now()
	var startErrs atomic.Int64
	var starts errgroup.Group
	starts.SetLimit(32)
	for _, s := range jobs {
		starts.Go(func() error {
			if err := startWatcher(ctx, ds.client, s.tenant, s.job); err != nil {
				startErrs.Add(1)
			}
			return nil
		})
	}
	_ = starts.Wait() // counted in startErrs
	res.StartWall, res.StartErrors = time.Since(start), int(startErrs.Load())
	// Settled: every watcher has its job's state (the poller's first report).
	observed := func() int64 {
		c, err := ds.client.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
			Query: "WorkflowType = 'WatchSyncJob' AND ExecutionStatus = 'Running' AND CloudSyncJobState = 'Active'"})
		if err != nil {
			return 0
		}
		return c.GetCount()
	}
	deadline := time.Now().Add(b.cfg.scaleSettleMax)
	for observed() < int64(n) && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(2 * time.Second)
	}
	res.SettleWall, res.Settled = time.Since(start), observed() >= int64(n)
	// The dev server reports its metrics with a delay: let the start-up's
	// actions land before the window opens.
	time.Sleep(15 * time.Second)
	// What starting to watch cost, per watcher: its start and the poller's
	// first report (a signal, its job state upserted, its state memo).
	res.FirstReportCPU = between(f0, sampleProc(ds.pid())).CPU / time.Duration(n)
	res.FirstReportActions = map[string]float64{}
	for k, v := range serverActions(diffCounts(fa0, ds.metrics("action"))) {
		res.FirstReportActions[k] = v / float64(n)
	}
	res.Window = time.Duration(b.cfg.watchIntervals) * res.Interval
	b.logf("fleet watch: %d started in %s, settled=%t after %s; measuring %s (%d intervals)", n, secs(res.StartWall), res.Settled,
		secs(res.SettleWall), res.Window, b.cfg.watchIntervals)
	stats := func() (int, int) { s := sim.Stats().Requests; return s[listRoute], s[getByIDRoute] }
	w0, s0, a0 := sampleProc(w.pid()), sampleProc(ds.pid()), ds.metrics("action")
	l0, g0 := stats()
	select {
	case <-time.After(res.Window):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	// Let the window's actions reach the metrics before reading them.
	l1, g1 := stats()
	w1, s1 := sampleProc(w.pid()), sampleProc(ds.pid())
	time.Sleep(15 * time.Second)
	a1 := ds.metrics("action")
	res.Worker, res.Server, res.ServerPeakRSS = between(w0, w1), between(s0, s1), s1.hwm
	res.Intervals = res.Window.Seconds() / res.Interval.Seconds()
	res.ActionKinds = serverActions(diffCounts(a0, a1))
	for _, v := range res.ActionKinds {
		res.Actions += v
	}
	res.ActionsPerJob = res.Actions / (float64(n) * res.Intervals)
	res.Lists, res.ByIDGets = l1-l0, g1-g0
	res.ListsPerTenant = float64(res.Lists) / (float64(res.Tenants) * res.Intervals)

	// Latencies: a quarantine to "awaiting approval" in visibility (what
	// `starter list --awaiting-approval` reads), and an approval to the restart.
	for i := 0; i < min(5, len(jobs)); i++ {
		s := jobs[i*len(jobs)/5]
		d, err := quarantineToAwaiting(ctx, ds.client, sim, s.tenant, s.job.JobID, res.Interval)
		if err != nil {
			return res, err
		}
		res.ToAwaiting = append(res.ToAwaiting, d)
		d, err = approvalToRestart(ctx, ds.client, sim, s.tenant, s.job.JobID)
		if err != nil {
			return res, err
		}
		res.ToRestart = append(res.ToRestart, d)
	}
	return res, nil
}

func quarantineToAwaiting(ctx context.Context, c client.Client, sim *graphsim.Server, tenant, jobID string, interval time.Duration) (time.Duration, error) {
	id := workflows.WatchWorkflowID(tenant, jobID)
	t0 := time.Now()
	if err := sim.Quarantine(tenant, jobID, "TooManyDeletes", "DeleteThresholdExceeded"); err != nil {
		return 0, err
	}
	for time.Since(t0) < interval+time.Minute {
		r, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
			Query: "WorkflowId = '" + id + "' AND CloudSyncAwaitingApproval = true"})
		if err == nil && r.GetCount() == 1 {
			return time.Since(t0), nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return 0, fmt.Errorf("%s never showed as awaiting approval", id)
}

func approvalToRestart(ctx context.Context, c client.Client, sim *graphsim.Server, tenant, jobID string) (time.Duration, error) {
	id := workflows.WatchWorkflowID(tenant, jobID)
	restarts := func() int {
		n := 0
		for _, r := range sim.RequestLog() {
			if r.Tenant == tenant && r.Route == "POST /servicePrincipals/{id}/synchronization/jobs/{jobId}/restart" {
				n++
			}
		}
		return n
	}
	before := restarts()
	t0 := time.Now()
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: workflows.ApproveUpdate,
		Args: []any{workflows.DecisionRequest{Approver: "bench@example.com", Reason: "benchmark"}}, WaitForStage: client.WorkflowUpdateStageAccepted})
	if err != nil {
		return 0, err
	}
	_ = h
	for time.Since(t0) < time.Minute {
		if restarts() > before {
			return time.Since(t0), nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, fmt.Errorf("no ForceDeletes restart for %s within a minute", id)
}

func (r fleetWatchResult) String() string {
	return fmt.Sprintf("%d jobs: %.4f actions per job per interval, %.2f Graph lists per tenant per interval, worker CPU %.1f%%, server CPU %.1f%%",
		r.Tenants*r.JobsPerTenant, r.ActionsPerJob, r.ListsPerTenant, r.Worker.CPUPct, r.Server.CPUPct)
}

func maxDuration(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}
