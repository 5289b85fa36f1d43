package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/cloudsync/cloudsync/graphsim"
	"github.com/cloudsync/cloudsync/workflows"
)

const watchTenant = "5eed0000-b000-4000-8000-000000000001"

// startWatcher starts a WatchSyncJob directly (as the starter's watch command
// does), with its search attributes set at start.
func startWatcher(ctx context.Context, c client.Client, job graphsim.SeededJob, opts workflows.WatchOptions) (client.WorkflowRun, error) {
	id := workflows.WatchWorkflowID(watchTenant, job.JobID)
	return c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: workflows.TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.SearchTenant.ValueSet(watchTenant),
			workflows.SearchDomain.ValueSet("example.com"), workflows.SearchAwaitingApproval.ValueSet("false")),
	}, workflows.WatchSyncJobWorkflow, workflows.WatchInput{TenantID: watchTenant, Domain: "example.com",
		ServicePrincipalID: job.ServicePrincipalID, JobID: job.JobID, Options: opts})
}

// watcherObservation is what one running watcher's history and pending
// activity show.
type watcherObservation struct {
	Events      int            `json:"events"`
	Actions     int            `json:"actions"`
	Kinds       map[string]int `json:"kinds"`
	Polls       int            `json:"polls"`       // PollJob attempts that ran
	GraphGets   int            `json:"graphGets"`   // graphsim's count of GETs of this job
	Completions int            `json:"completions"` // polls that returned a status
}

func observeWatcher(ctx context.Context, c client.Client, sim *graphsim.Server, wr client.WorkflowRun, jobID string) (watcherObservation, error) {
	var o watcherObservation
	pending, _, err := pendingAttempts(ctx, c, wr.GetID(), wr.GetRunID())
	if err != nil {
		return o, err
	}
	evs, err := history(ctx, c, wr.GetID(), wr.GetRunID())
	if err != nil {
		return o, err
	}
	p := resolvePending(evs, pending)
	a := countActions(evs, p)
	o.Events, o.Actions, o.Kinds = len(evs), a.Total, a.Kinds
	// Polls: every attempt of every PollJob activity.
	attempts := map[int64]int32{}
	for _, ev := range evs {
		switch ev.GetEventType() {
		case enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			if ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == workflows.PollJobActivity {
				attempts[ev.GetEventId()] = 0
			}
		case enums.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			at := ev.GetActivityTaskStartedEventAttributes()
			if _, ok := attempts[at.GetScheduledEventId()]; ok {
				attempts[at.GetScheduledEventId()] = at.GetAttempt()
			}
		case enums.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			if _, ok := attempts[ev.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()]; ok {
				o.Completions++
			}
		}
	}
	for id, n := range attempts {
		if pn, ok := p[id]; ok && pn > n {
			n = pn
		}
		o.Polls += int(n)
	}
	for _, r := range sim.RequestLog() {
		if r.Route == "GET /servicePrincipals/{id}/synchronization/jobs/{jobId}" && len(r.Path) >= len(jobID) && r.Path[len(r.Path)-len(jobID):] == jobID {
			o.GraphGets++
		}
	}
	return o, nil
}

// perPollResult is the watcher's cost per poll and its history growth.
type perPollResult struct {
	PollInterval     time.Duration      `json:"pollIntervalNs"`
	Window           time.Duration      `json:"windowNs"`
	Stable           watcherObservation `json:"stable"`     // refresh 6h: nothing to report
	Refreshing       watcherObservation `json:"refreshing"` // refresh every RefreshEvery
	RefreshEvery     time.Duration      `json:"refreshEveryNs"`
	ActionsPerPoll   float64            `json:"actionsPerPoll"`
	SteadyPerPoll    float64            `json:"steadyActionsPerPoll"`
	EventsPerRefresh float64            `json:"eventsPerRefresh"`
	ServerActions    map[string]float64 `json:"serverActions"`
}

// measurePerPoll runs two watchers of stable jobs with a 1 s poll for the
// window: one with the default 6 h refresh (pure polling), one refreshing
// every 10 s (to measure the history a reported status adds).
func measurePerPoll(ctx context.Context, b *bench) (perPollResult, error) {
	res := perPollResult{PollInterval: time.Second, Window: b.cfg.perPollWindow, RefreshEvery: 10 * time.Second}
	sim, err := newSim(b.cfg.latency, 11)
	if err != nil {
		return res, err
	}
	defer sim.Close()
	jobs := sim.SeedRunningJobs(watchTenant, 1, 2)
	ds, err := startDevServer(b.cfg.temporalCLI, b.logDir, "perpoll")
	if err != nil {
		return res, err
	}
	defer ds.stop()
	w, err := startWorker(b.workerBin, ds, sim, b.logDir, "perpoll", b.workerEnv())
	if err != nil {
		return res, err
	}
	defer w.stop()
	before := ds.metrics("action")
	stable, err := startWatcher(ctx, ds.client, jobs[0], workflows.WatchOptions{PollInterval: time.Second})
	if err != nil {
		return res, err
	}
	refreshing, err := startWatcher(ctx, ds.client, jobs[1], workflows.WatchOptions{PollInterval: time.Second, RefreshInterval: res.RefreshEvery})
	if err != nil {
		return res, err
	}
	b.logf("watcher per poll: two watchers polling every 1s for %s", res.Window)
	select {
	case <-time.After(res.Window):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	if res.Stable, err = observeWatcher(ctx, ds.client, sim, stable, jobs[0].JobID); err != nil {
		return res, err
	}
	if res.Refreshing, err = observeWatcher(ctx, ds.client, sim, refreshing, jobs[1].JobID); err != nil {
		return res, err
	}
	res.ServerActions = serverActions(diffCounts(before, ds.metrics("action")))
	if res.Stable.Polls > 0 {
		res.ActionsPerPoll = float64(res.Stable.Actions) / float64(res.Stable.Polls)
	}
	// After the start, each poll is one activity attempt and nothing else.
	startup := res.Stable.Kinds["workflow started"] + res.Stable.Kinds["search attribute upsert"]
	if res.Stable.Polls > 0 {
		res.SteadyPerPoll = float64(res.Stable.Actions-startup) / float64(res.Stable.Polls)
	}
	if n := res.Refreshing.Completions - res.Stable.Completions; n > 0 {
		res.EventsPerRefresh = float64(res.Refreshing.Events-res.Stable.Events) / float64(n)
	}
	for _, wr := range []client.WorkflowRun{stable, refreshing} {
		_ = ds.client.TerminateWorkflow(ctx, wr.GetID(), wr.GetRunID(), "benchmark done")
	}
	return res, nil
}

// monthResult is WatchSyncJob run for 30 days of skipped time in Temporal's
// test environment against a job that never changes.
type monthResult struct {
	Days              int     `json:"days"`
	PollInterval      string  `json:"pollInterval"`
	RefreshInterval   string  `json:"refreshInterval"`
	PollAttempts      int64   `json:"pollAttempts"`
	Completions       int64   `json:"completions"`
	Upserts           int64   `json:"upserts"`
	ContinuedAsNew    bool    `json:"continuedAsNew"`
	ReportedHistory   int     `json:"reportedHistoryLength"` // what GetCurrentHistoryLength said in the test environment
	ModelEvents       float64 `json:"modelEvents"`           // startup events + completions beyond the first × events per refresh
	ModelActions      int64   `json:"modelActions"`
	RealSeconds       float64 `json:"realSeconds"`
	StateChanges      int     `json:"stateChanges"`
	StartupEvents     int     `json:"startupEvents"`
	EventsPerRefresh  float64 `json:"eventsPerRefresh"`
	ActionsPerPollAvg float64 `json:"actionsPerPoll"`
}

// simulateMonth runs WatchSyncJob for 30 days of skipped time (2-minute polls,
// the defaults) with a PollJob stand-in that behaves like the real one on a
// job that never changes: unchanged until the refresh interval has passed
// since the last reported status (by the test environment's clock).
func simulateMonth(pp perPollResult) (monthResult, error) {
	const days = 30
	res := monthResult{Days: days, PollInterval: workflows.DefaultPollInterval.String(), RefreshInterval: workflows.DefaultRefreshInterval.String()}
	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(quietLogger())
	env := ts.NewTestWorkflowEnvironment()
	// The test environment caps "unlimited" retries at 10 attempts; the
	// server does not. Lift the cap so the poll loop runs as in production.
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{&unlimitedRetries{}}})
	env.RegisterWorkflowWithOptions(workflows.WatchSyncJob, workflow.RegisterOptions{Name: workflows.WatchSyncJobWorkflow})
	var attempts, completions, upserts atomic.Int64
	env.RegisterActivityWithOptions(func(ctx context.Context, in workflows.PollJobInput) (workflows.JobStatus, error) {
		attempts.Add(1)
		now := env.Now()
		s := workflows.JobStatus{ScheduleState: "Active", StatusCode: "Active", LastExecutionState: "Succeeded", ObservedAt: now}
		if in.Last != nil && s.SameState(*in.Last) && now.Sub(in.Last.ObservedAt) < in.RefreshAfter {
			return s, temporal.NewApplicationError("unchanged", workflows.ErrJobUnchanged)
		}
		completions.Add(1)
		return s, nil
	}, activity.RegisterOptions{Name: workflows.PollJobActivity})
	env.RegisterActivityWithOptions(func(context.Context, workflows.Notification) error { return nil }, activity.RegisterOptions{Name: workflows.NotifyActivity})
	env.RegisterActivityWithOptions(func(context.Context, workflows.RestartInput) (workflows.RestartResult, error) {
		return workflows.RestartResult{}, errors.New("not expected")
	}, activity.RegisterOptions{Name: workflows.RestartJobActivity})
	env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(mock.Arguments) { upserts.Add(1) }).Return(nil)
	env.RegisterDelayedCallback(func() {
		// The status query answers at the end of the month.
		if v, err := env.QueryWorkflow(workflows.StatusQuery); err == nil {
			var st workflows.WatchState
			_ = v.Get(&st)
			res.StateChanges = int(st.Polls)
		}
	}, days*24*time.Hour-time.Minute)
	env.SetWorkflowRunTimeout(days * 24 * time.Hour)
	start := time.Now()
	env.ExecuteWorkflow(workflows.WatchSyncJobWorkflow, workflows.WatchInput{TenantID: watchTenant, ServicePrincipalID: "sp", JobID: "AD2AADProvisioning.job"})
	res.RealSeconds = time.Since(start).Seconds()
	var can *workflow.ContinueAsNewError
	res.ContinuedAsNew = errors.As(env.GetWorkflowError(), &can)
	res.PollAttempts, res.Completions, res.Upserts = attempts.Load(), completions.Load(), upserts.Load()
	res.ReportedHistory = testsuiteHistoryLength()
	res.StartupEvents, res.EventsPerRefresh = pp.Stable.Events, pp.EventsPerRefresh
	res.ModelEvents = float64(pp.Stable.Events) + float64(res.Completions-1)*pp.EventsPerRefresh
	// Actions: the start, the upserts, one per poll attempt, nothing else
	// (no timers, signals or notifications while the job stays healthy).
	res.ModelActions = 1 + res.Upserts + res.PollAttempts
	if res.PollAttempts > 0 {
		res.ActionsPerPollAvg = float64(res.ModelActions) / float64(res.PollAttempts)
	}
	return res, nil
}

// scaleResult is many watchers on one worker.
type scaleResult struct {
	Watchers        int                `json:"watchers"`
	PollInterval    time.Duration      `json:"pollIntervalNs"`
	StartWall       time.Duration      `json:"startWallNs"`  // all started
	SettleWall      time.Duration      `json:"settleWallNs"` // all made their first two polls
	Settled         bool               `json:"settled"`
	Window          time.Duration      `json:"windowNs"`
	Worker          usage              `json:"worker"`
	Server          usage              `json:"server"`
	ServerPeakRSS   int64              `json:"serverPeakRssBytes"`
	PollsPerSecond  float64            `json:"pollsPerSecond"`
	ExpectedPerSec  float64            `json:"expectedPollsPerSecond"`
	ActionsInWindow float64            `json:"serverActionsInWindow"`
	ActionKinds     map[string]float64 `json:"serverActionKindsInWindow"`
	StartErrors     int                `json:"startErrors"`
}

// measureScale starts cfg.watchers watchers of seeded jobs on one worker and
// measures the worker's memory and the dev server's load over a window once
// every watcher is in its steady poll loop.
func measureScale(ctx context.Context, b *bench) (scaleResult, error) {
	n := b.cfg.watchers
	res := scaleResult{Watchers: n, PollInterval: b.cfg.watcherPoll, Window: b.cfg.scaleWindow}
	sim, err := newSim(b.cfg.latency, 13)
	if err != nil {
		return res, err
	}
	defer sim.Close()
	perSP := 100
	jobs := sim.SeedRunningJobs(watchTenant, (n+perSP-1)/perSP, perSP)[:n]
	ds, err := startDevServer(b.cfg.temporalCLI, b.logDir, "scale")
	if err != nil {
		return res, err
	}
	defer ds.stop()
	w, err := startWorker(b.workerBin, ds, sim, b.logDir, "scale", b.workerEnv())
	if err != nil {
		return res, err
	}
	defer w.stop()

	gets := func() int {
		return sim.Stats().Requests["GET /servicePrincipals/{id}/synchronization/jobs/{jobId} 200"]
	}
	b.logf("watcher scale: starting %d watchers (poll %s)", n, res.PollInterval)
	start := time.Now()
	var wg sync.WaitGroup
	next := make(chan graphsim.SeededJob)
	var startErrs atomic.Int64
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				if _, err := startWatcher(ctx, ds.client, j, workflows.WatchOptions{PollInterval: res.PollInterval}); err != nil {
					startErrs.Add(1)
				}
			}
		}()
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
	res.StartWall = time.Since(start)
	res.StartErrors = int(startErrs.Load())
	b.logf("watcher scale: %d started in %s; waiting for their first polls", n, res.StartWall.Round(time.Second))
	// Settled: every watcher made its first poll (a status) and its second (the
	// first "unchanged"), so from now on each polls once per interval.
	deadline := time.Now().Add(b.cfg.scaleSettleMax)
	for gets() < 2*n && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(2 * time.Second)
	}
	res.SettleWall = time.Since(start)
	res.Settled = gets() >= 2*n
	// The dev server reports its metrics with a delay: let the start-up's
	// actions land before the window opens.
	time.Sleep(15 * time.Second)
	b.logf("watcher scale: settled=%t after %s (%d polls); measuring %s", res.Settled, res.SettleWall.Round(time.Second), gets(), res.Window)
	w0, s0, g0, a0 := sampleProc(w.pid()), sampleProc(ds.pid()), gets(), ds.metrics("action")
	select {
	case <-time.After(res.Window):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	w1, s1, g1, a1 := sampleProc(w.pid()), sampleProc(ds.pid()), gets(), ds.metrics("action")
	res.Worker, res.Server = between(w0, w1), between(s0, s1)
	res.ServerPeakRSS = s1.hwm
	res.PollsPerSecond = float64(g1-g0) / res.Window.Seconds()
	res.ExpectedPerSec = float64(n) / res.PollInterval.Seconds()
	res.ActionKinds = serverActions(diffCounts(a0, a1))
	for _, v := range res.ActionKinds {
		res.ActionsInWindow += v
	}
	return res, nil
}

func (r scaleResult) String() string {
	return fmt.Sprintf("%d watchers: worker peak RSS %s, worker CPU %.1f%%, server CPU %.1f%%, %.1f polls/s", r.Watchers, mib(r.Worker.PeakRSS), r.Worker.CPUPct, r.Server.CPUPct, r.PollsPerSecond)
}

// testsuiteHistoryLength is what GetCurrentHistoryLength answers in Temporal's
// test environment after a few activities: the test environment keeps no
// event history, so WatchSyncJob's own history-length check cannot fire there.
func testsuiteHistoryLength() int {
	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(quietLogger())
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterActivityWithOptions(func(context.Context) error { return nil }, activity.RegisterOptions{Name: "probe"})
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context) (int, error) {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
		for range 3 {
			if err := workflow.ExecuteActivity(ctx, "probe").Get(ctx, nil); err != nil {
				return 0, err
			}
		}
		return workflow.GetInfo(ctx).GetCurrentHistoryLength(), nil
	}, workflow.RegisterOptions{Name: "historyLengthProbe"})
	env.ExecuteWorkflow("historyLengthProbe")
	var n int
	if env.GetWorkflowError() == nil {
		_ = env.GetWorkflowResult(&n)
	}
	return n
}

// unlimitedRetries gives activities without MaximumAttempts an effectively
// unlimited one, as the server treats them (the test environment caps them at 10).
type unlimitedRetries struct {
	interceptor.WorkerInterceptorBase
}

func (*unlimitedRetries) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &unlimitedInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}}
}

type unlimitedInbound struct {
	interceptor.WorkflowInboundInterceptorBase
}

func (i *unlimitedInbound) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	return i.Next.Init(&unlimitedOutbound{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: outbound}})
}

type unlimitedOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
}

func (o *unlimitedOutbound) ExecuteActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	opts := workflow.GetActivityOptions(ctx)
	if opts.RetryPolicy != nil && opts.RetryPolicy.MaximumAttempts == 0 {
		rp := *opts.RetryPolicy
		rp.MaximumAttempts = 1 << 30
		opts.RetryPolicy = &rp
		ctx = workflow.WithActivityOptions(ctx, opts)
	}
	return o.Next.ExecuteActivity(ctx, activityType, args...)
}
