// Package activities implements OnboardTenant's and WatchSyncJob's steps. Each
// method is idempotent (look before write) because Temporal runs an activity
// at least once, and turns Graph errors into Temporal application errors with
// stable types: retryable where waiting helps, non-retryable where a human
// must act (the message says what to do).
package activities

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/cloudsync/cloudsync/graph"
	wf "github.com/cloudsync/cloudsync/workflows"
)

// ClientFactory gives the Graph client of a tenant.
type ClientFactory interface {
	ForTenant(tenantID string) (*graph.Client, error)
}

// Activities holds the steps' dependencies.
type Activities struct {
	Graph  ClientFactory
	Logger *zap.Logger
	// Watching: the fleet's polling configuration, the running watchers
	// (Temporal), the converter that reads their memo (the worker's, codec
	// included), and the webhooks notifications may name (name -> URL).
	Watch     WatchConfig
	Registry  WatchRegistry
	Converter converter.DataConverter
	Webhooks  map[string]string
}

func (a *Activities) client(tenantID string) (*graph.Client, error) {
	c, err := a.Graph.ForTenant(tenantID)
	if err != nil {
		// Bad credential configuration: retrying cannot fix it.
		return nil, temporal.NewNonRetryableApplicationError("graph client for tenant "+tenantID+": "+err.Error(), string(graph.KindUnauthorized), nil)
	}
	return c, nil
}

// ListGrace is how long a retried EnsureApplication waits for Graph's list to
// show an app a lost attempt may have created, before instantiating again.
const ListGrace = 90 * time.Second

// ErrWaitingForList is the retryable error of that wait.
const ErrWaitingForList = "WaitingForServicePrincipalList"

// fresh marks operations on objects we may have just created, where Graph's
// replication lag shows as 404 for a while.
type fresh bool

// toTemporal classifies a Graph error for Temporal's retry policy, passing
// Graph's Retry-After on as the next retry delay.
func toTemporal(err error, f fresh) error {
	if err == nil {
		return nil
	}
	ge, ok := graph.AsError(err)
	if !ok {
		var ae *temporal.ApplicationError
		if errors.As(err, &ae) {
			return err
		}
		return temporal.NewApplicationError(err.Error(), "Internal")
	}
	retry := ge.Retryable() || (bool(f) && ge.Kind == graph.KindNotFound)
	opts := temporal.ApplicationErrorOptions{NonRetryable: !retry}
	if ge.RetryAfter > 0 {
		opts.NextRetryDelay = ge.RetryAfter
	}
	return temporal.NewApplicationErrorWithOptions(ge.Error(), string(ge.Kind), opts)
}

// EnableTenantSync turns on the tenant's onPremisesSyncEnabled flag.
func (a *Activities) EnableTenantSync(ctx context.Context, in wf.TenantInput) (wf.StepReport, error) {
	rep := wf.StepReport{Step: wf.StepTenantSyncFlag}
	c, err := a.client(in.TenantID)
	if err != nil {
		return rep, err
	}
	on, err := c.OnPremisesSyncEnabled(ctx, in.TenantID)
	if err != nil {
		return rep, toTemporal(err, false)
	}
	if on {
		rep.Outcome, rep.Detail = wf.OutcomeUnchanged, "onPremisesSyncEnabled already true"
		return rep, nil
	}
	if err := c.SetOnPremisesSyncEnabled(ctx, in.TenantID, true); err != nil {
		return rep, toTemporal(err, false)
	}
	rep.Outcome, rep.Detail = wf.OutcomeChanged, "onPremisesSyncEnabled set to true"
	return rep, nil
}

// EnsureApplication finds the AD2AAD service principal with this display name,
// or instantiates the template. Instantiate always creates a new app, so a
// retry must find the first one rather than make a second.
func (a *Activities) EnsureApplication(ctx context.Context, in wf.EnsureApplicationInput) (wf.ApplicationResult, error) {
	res := wf.ApplicationResult{Report: wf.StepReport{Step: wf.StepApplication}}
	c, err := a.client(in.TenantID)
	if err != nil {
		return res, err
	}
	sps, err := c.FindServicePrincipals(ctx, graph.AD2AADTemplateID, in.DisplayName)
	if err != nil {
		return res, toTemporal(err, false)
	}
	if len(sps) > 0 {
		sort.Slice(sps, func(i, j int) bool { return sps[i].ID < sps[j].ID })
		res.ServicePrincipalID, res.AppID = sps[0].ID, sps[0].AppID
		res.Report.Outcome = wf.OutcomeUnchanged
		res.Report.Detail = "found service principal " + sps[0].ID
		if len(sps) > 1 {
			res.Report.Detail += fmt.Sprintf(" (%d with this name exist: using the first; delete the others)", len(sps))
		}
		return res, nil
	}
	// A previous attempt that got as far as instantiating (its heartbeat says
	// when) may have created an app whose answer was lost (crash, timeout).
	// Graph's list catches up later than the create: give it time before
	// creating another.
	var sentAt time.Time
	if activity.HasHeartbeatDetails(ctx) && activity.GetHeartbeatDetails(ctx, &sentAt) == nil && time.Since(sentAt) < ListGrace {
		return res, temporal.NewApplicationError("no service principal named "+in.DisplayName+" is listed yet, but a previous attempt instantiated the template at "+
			sentAt.Format(time.RFC3339)+": waiting for Graph to list it before instantiating again", ErrWaitingForList)
	}
	// Synchronous for the first heartbeat: once it returns, a retry knows.
	activity.RecordHeartbeat(ctx, time.Now())
	inst, err := c.Instantiate(ctx, graph.AD2AADTemplateID, in.DisplayName)
	if err != nil {
		if ge, ok := graph.AsError(err); ok && ge.Status >= 400 && ge.Status < 500 {
			// Graph answered and refused (429, 403, ...): nothing was created, so
			// the retry need not wait. (The SDK flushes this batched heartbeat
			// when the attempt fails.)
			activity.RecordHeartbeat(ctx, time.Time{})
		}
		return res, toTemporal(err, false)
	}
	res.ApplicationObjectID, res.AppID, res.ServicePrincipalID = inst.ApplicationObjectID, inst.AppID, inst.ServicePrincipalID
	res.Report.Outcome, res.Report.Detail = wf.OutcomeCreated, "instantiated the AD2AAD template: service principal "+inst.ServicePrincipalID
	return res, nil
}

// WaitForServicePrincipal succeeds once the service principal is readable. Its
// retry policy is the poll loop (one request per attempt, no history growth).
func (a *Activities) WaitForServicePrincipal(ctx context.Context, in wf.ServicePrincipalInput) error {
	c, err := a.client(in.TenantID)
	if err != nil {
		return err
	}
	if _, err := c.GetServicePrincipal(ctx, in.ServicePrincipalID); err != nil {
		if graph.IsNotFound(err) {
			return temporal.NewApplicationError("service principal "+in.ServicePrincipalID+" is not visible yet (Graph replication)", wf.ErrServicePrincipalNotVisible)
		}
		return toTemporal(err, false)
	}
	return nil
}

// EnsureJobs creates the jobs whose template has none yet. Graph accepts a
// second job of the same template, so it looks first: it lists the jobs, or,
// on its first attempt only, takes the listing the previous step of this run
// made (in.Seen; see JobsSeen).
func (a *Activities) EnsureJobs(ctx context.Context, in wf.EnsureJobsInput) (wf.EnsureJobsResult, error) {
	res := wf.EnsureJobsResult{Jobs: map[string]string{}, Report: wf.StepReport{Step: wf.StepJobs}}
	c, err := a.client(in.TenantID)
	if err != nil {
		return res, err
	}
	jobs, err := a.jobs(ctx, c, in.ServicePrincipalID, in.Seen)
	if err != nil {
		return res, toTemporal(err, true)
	}
	sort.Slice(jobs, func(i, j int) bool { return jobs[i].ID < jobs[j].ID })
	for _, j := range jobs {
		if _, ok := res.Jobs[j.TemplateID]; !ok {
			res.Jobs[j.TemplateID] = j.ID
		}
	}
	var created, found []string
	for _, t := range in.Templates {
		if _, ok := res.Jobs[t]; ok {
			found = append(found, t)
			continue
		}
		j, err := c.CreateJob(ctx, in.ServicePrincipalID, t)
		if err != nil {
			return res, toTemporal(err, true)
		}
		res.Jobs[t] = j.ID
		created = append(created, t)
		jobs = append(jobs, seenJob(j))
	}
	res.Seen = newSeen(ctx, jobs)
	res.Report.Outcome = wf.OutcomeUnchanged
	if len(created) > 0 {
		res.Report.Outcome = wf.OutcomeCreated
	}
	res.Report.Detail = wf.JoinDetail(wf.JoinDetail("", "created", created), "found", found)
	return res, nil
}

// jobs lists a service principal's jobs, or takes a listing handed on by the
// previous step when it may stand in for one.
func (a *Activities) jobs(ctx context.Context, c *graph.Client, spID string, seen *wf.JobsSeen) ([]wf.SeenJob, error) {
	if seenUsable(ctx, seen) {
		return append([]wf.SeenJob(nil), seen.Jobs...), nil
	}
	list, err := c.ListJobs(ctx, spID)
	if err != nil {
		return nil, err
	}
	out := make([]wf.SeenJob, 0, len(list))
	for _, j := range list {
		out = append(out, seenJob(j))
	}
	return out, nil
}

// seenJob keeps what the next steps decide on.
func seenJob(j graph.Job) wf.SeenJob {
	s := wf.SeenJob{ID: j.ID, TemplateID: j.TemplateID, Running: j.Running(), ScheduleState: j.ScheduleState,
		StatusCode: j.StatusCode, NeverRun: j.LastExecution == nil}
	switch {
	case j.Quarantine != nil:
		s.QuarantineReason = j.Quarantine.Reason
	case j.StatusCode == "Quarantine":
		s.QuarantineReason = "Unknown"
	}
	return s
}

// seenUsable says whether a listing handed on by the previous step may stand
// in for this activity's own: only on its first attempt (a retry may follow a
// write of the failed attempt, so it looks again), in the run that made it (a
// reset replays old results: look again) and while it is fresh.
func seenUsable(ctx context.Context, s *wf.JobsSeen) bool {
	if s == nil {
		return false
	}
	for _, j := range s.Jobs {
		if j.ScheduleState == "" {
			return false // made by an older worker: it lacks the jobs' status
		}
	}
	runID, attempt := runAndAttempt(ctx)
	age := time.Since(s.At)
	return attempt == 1 && s.RunID == runID && age > -time.Minute && age < wf.MaxJobsSeenAge
}

// newSeen stamps a listing with this run and the time.
func newSeen(ctx context.Context, jobs []wf.SeenJob) *wf.JobsSeen {
	runID, _ := runAndAttempt(ctx)
	return &wf.JobsSeen{RunID: runID, At: time.Now().UTC(), Jobs: jobs}
}

// runAndAttempt names the workflow run and the attempt of the running
// activity; outside an activity (a script calling the methods in order) there
// is one run and one attempt.
func runAndAttempt(ctx context.Context) (string, int32) {
	if !activity.IsActivity(ctx) {
		return "", 1
	}
	info := activity.GetInfo(ctx)
	return info.WorkflowExecution.RunID, info.Attempt
}
