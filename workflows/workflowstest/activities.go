// Package workflowstest fakes cloudsync's activities without Graph, for the
// workflow tests, the starter's tests against a dev server and the bench. It
// implements workflows.Activities, so a new activity is a compile error here
// until the fake has it too.
package workflowstest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/cloudsync/cloudsync/workflows"
)

var _ workflows.Activities = (*Activities)(nil)

// Series is when every quarantine the fake shows began.
var Series = time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)

// Fake is the fake Graph behind Activities: every onboarding step succeeds
// (created the first time a tenant is seen, unchanged after) and every job
// shows Active, except those Quarantine put in a TooManyDeletes quarantine,
// until a ForceDeletes restart or a resume of it. Before gates or fails any
// activity. A test inspects it; a worker registers its Activities.
type Fake struct {
	// Before, when set, runs first in every activity with the activity's name
	// and input; an error fails the activity with it.
	Before func(ctx context.Context, activity string, in any) error
	// Plan, when set, answers PlanTenant and CheckDrift in place of the
	// fake's configurations (SetDrift, FailPlans); DriftEvery is the drift
	// interval (default the worker's).
	Plan       func(ctx context.Context, in workflows.PlanInput) (workflows.PlanResult, error)
	DriftEvery time.Duration

	mu          sync.Mutex
	apps        map[string]bool
	quarantined map[string]bool // tenant/job
	restarts    map[string][]workflows.RestartInput
	resumes     map[string][]workflows.ResumeInput
	notes       []workflows.Notification
	driftChecks map[string]int
	configs     map[string]*configuration // tenant/domain
	planErrs    map[string]error          // tenant
}

// Activities are the activities a worker registers (w.RegisterActivity):
// only the contract's methods, as registration requires.
type Activities struct{ f *Fake }

// Activities of this fake, to register.
func (f *Fake) Activities() *Activities { return &Activities{f} }

// New returns a fake with no tenant onboarded and no job quarantined.
func New() *Fake {
	return &Fake{apps: map[string]bool{}, quarantined: map[string]bool{}, restarts: map[string][]workflows.RestartInput{},
		resumes: map[string][]workflows.ResumeInput{}, driftChecks: map[string]int{},
		configs: map[string]*configuration{}, planErrs: map[string]error{}}
}

func (f *Fake) before(ctx context.Context, activity string, in any) error {
	if f.Before == nil {
		return nil
	}
	return f.Before(ctx, activity, in)
}

func changed(step, detail string) workflows.StepReport {
	return workflows.StepReport{Step: step, Outcome: workflows.OutcomeChanged, Detail: detail}
}

// EnableTenantSync implements workflows.OnboardingActivities.
func (a *Activities) EnableTenantSync(ctx context.Context, in workflows.TenantInput) (workflows.StepReport, error) {
	if err := a.f.before(ctx, workflows.EnableTenantSyncActivity, in); err != nil {
		return workflows.StepReport{}, err
	}
	return changed(workflows.StepTenantSyncFlag, "on-premises sync enabled"), nil
}

// EnsureApplication implements workflows.OnboardingActivities: one
// configuration per tenant.
func (a *Activities) EnsureApplication(ctx context.Context, in workflows.EnsureApplicationInput) (workflows.ApplicationResult, error) {
	if err := a.f.before(ctx, workflows.EnsureApplicationActivity, in); err != nil {
		return workflows.ApplicationResult{}, err
	}
	a.f.mu.Lock()
	existed := a.f.apps[in.TenantID]
	a.f.apps[in.TenantID] = true
	a.f.mu.Unlock()
	out := workflows.OutcomeCreated
	if existed {
		out = workflows.OutcomeUnchanged
	}
	return workflows.ApplicationResult{ApplicationObjectID: "app-obj-1", AppID: "app-1", ServicePrincipalID: "sp-1",
		Report:        workflows.StepReport{Step: workflows.StepApplication, Outcome: out, Detail: in.DisplayName},
		DriftInterval: a.f.driftEvery()}, nil
}

// WaitForServicePrincipal implements workflows.OnboardingActivities.
func (a *Activities) WaitForServicePrincipal(ctx context.Context, in workflows.ServicePrincipalInput) error {
	return a.f.before(ctx, workflows.WaitForServicePrincipalActivity, in)
}

// EnsureJobs implements workflows.OnboardingActivities: job ids are the
// template ids with a fixed suffix.
func (a *Activities) EnsureJobs(ctx context.Context, in workflows.EnsureJobsInput) (workflows.EnsureJobsResult, error) {
	if err := a.f.before(ctx, workflows.EnsureJobsActivity, in); err != nil {
		return workflows.EnsureJobsResult{}, err
	}
	jobs := map[string]string{}
	for _, t := range in.Templates {
		jobs[t] = t + ".job-1"
	}
	return workflows.EnsureJobsResult{Jobs: jobs, Report: workflows.StepReport{Step: workflows.StepJobs, Outcome: workflows.OutcomeCreated,
		Detail: strings.Join(in.Templates, ", ")}}, nil
}

// PauseJobs implements workflows.OnboardingActivities.
func (a *Activities) PauseJobs(ctx context.Context, in workflows.PauseJobsInput) (workflows.PauseJobsResult, error) {
	if err := a.f.before(ctx, workflows.PauseJobsActivity, in); err != nil {
		return workflows.PauseJobsResult{}, err
	}
	return workflows.PauseJobsResult{Report: workflows.StepReport{Step: workflows.StepPauseJobs, Outcome: workflows.OutcomeUnchanged}}, nil
}

// ApplySecrets implements workflows.OnboardingActivities.
func (a *Activities) ApplySecrets(ctx context.Context, in workflows.SecretsInput) (workflows.StepReport, error) {
	if err := a.f.before(ctx, workflows.ApplySecretsActivity, in); err != nil {
		return workflows.StepReport{}, err
	}
	return changed(workflows.StepSecrets, ""), nil
}

// PatchSchema implements workflows.OnboardingActivities.
func (a *Activities) PatchSchema(ctx context.Context, in workflows.JobInput) (workflows.SchemaResult, error) {
	if err := a.f.before(ctx, workflows.PatchSchemaActivity, in); err != nil {
		return workflows.SchemaResult{}, err
	}
	return workflows.SchemaResult{ADDirectoryID: "ad-1", Report: changed(workflows.StepSchema, "")}, nil
}

// UnpatchSchema implements workflows.OnboardingActivities.
func (a *Activities) UnpatchSchema(ctx context.Context, in workflows.JobInput) (workflows.SchemaResult, error) {
	if err := a.f.before(ctx, workflows.UnpatchSchemaActivity, in); err != nil {
		return workflows.SchemaResult{}, err
	}
	return workflows.SchemaResult{ADDirectoryID: "ad-1", Report: workflows.StepReport{Step: workflows.StepSchema, Outcome: workflows.OutcomeUnchanged}}, nil
}

// CheckExchangeSchema implements workflows.OnboardingActivities: the AD
// schema has mailNickname.
func (a *Activities) CheckExchangeSchema(ctx context.Context, in workflows.ExchangeCheckInput) (workflows.ExchangeCheckResult, error) {
	if err := a.f.before(ctx, workflows.CheckExchangeSchemaActivity, in); err != nil {
		return workflows.ExchangeCheckResult{}, err
	}
	return workflows.ExchangeCheckResult{MailNicknamePresent: true, ADDirectoryID: "ad-1"}, nil
}

// StartJobs implements workflows.OnboardingActivities.
func (a *Activities) StartJobs(ctx context.Context, in workflows.StartJobsInput) (workflows.StartJobsResult, error) {
	if err := a.f.before(ctx, workflows.StartJobsActivity, in); err != nil {
		return workflows.StartJobsResult{}, err
	}
	return workflows.StartJobsResult{Started: in.JobIDs, Report: changed(workflows.StepStartJobs, fmt.Sprint(len(in.JobIDs), " started"))}, nil
}

// PollShard implements workflows.WatchingActivities: the fake has no poller
// (Poll stands in for it), so a shard retires at once.
func (a *Activities) PollShard(ctx context.Context, in workflows.PollShardInput) (workflows.PollShardResult, error) {
	if err := a.f.before(ctx, workflows.PollShardActivity, in); err != nil {
		return workflows.PollShardResult{}, err
	}
	return workflows.PollShardResult{Retired: true}, nil
}

// LookAtJob implements workflows.WatchingActivities.
func (a *Activities) LookAtJob(ctx context.Context, in workflows.WatchTarget) (workflows.JobStatus, error) {
	if err := a.f.before(ctx, workflows.LookAtJobActivity, in); err != nil {
		return workflows.JobStatus{}, err
	}
	return a.f.Status(in.TenantID, in.JobID), nil
}

// RestartForceDeletes implements workflows.WatchingActivities: it refuses an
// episode the job no longer shows, like the real one.
func (a *Activities) RestartForceDeletes(ctx context.Context, in workflows.RestartInput) (workflows.RestartResult, error) {
	if err := a.f.before(ctx, workflows.RestartJobActivity, in); err != nil {
		return workflows.RestartResult{}, err
	}
	s := a.f.Status(in.TenantID, in.JobID)
	if ep, ok := s.Episode(in.JobID); !ok || ep.ID() != in.Episode.ID() {
		return workflows.RestartResult{Detail: "not in that episode", Job: s}, nil
	}
	a.f.mu.Lock()
	defer a.f.mu.Unlock()
	key := in.TenantID + "/" + in.JobID
	a.f.restarts[key] = append(a.f.restarts[key], in)
	delete(a.f.quarantined, key)
	return workflows.RestartResult{Restarted: true, Detail: "restarted with ForceDeletes", Job: s}, nil
}

// ResumeJob implements workflows.WatchingActivities.
func (a *Activities) ResumeJob(ctx context.Context, in workflows.ResumeInput) (workflows.ResumeResult, error) {
	if err := a.f.before(ctx, workflows.ResumeJobActivity, in); err != nil {
		return workflows.ResumeResult{}, err
	}
	a.f.mu.Lock()
	defer a.f.mu.Unlock()
	key := in.TenantID + "/" + in.JobID
	a.f.resumes[key] = append(a.f.resumes[key], in)
	delete(a.f.quarantined, key)
	return workflows.ResumeResult{Started: true}, nil
}

// Notify implements workflows.WatchingActivities: it keeps the notification.
func (a *Activities) Notify(ctx context.Context, n workflows.Notification) error {
	if err := a.f.before(ctx, workflows.NotifyActivity, n); err != nil {
		return err
	}
	a.f.mu.Lock()
	defer a.f.mu.Unlock()
	a.f.notes = append(a.f.notes, n)
	return nil
}

// Quarantine puts a job in a TooManyDeletes quarantine of series Series.
func (f *Fake) Quarantine(tenant, job string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.quarantined[tenant+"/"+job] = true
}

// Status is what the job shows now. A job id containing "missing" is missing.
func (f *Fake) Status(tenant, job string) workflows.JobStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if strings.Contains(job, "missing") {
		return workflows.JobStatus{Missing: true, MissingSince: now, ObservedAt: now}
	}
	if f.quarantined[tenant+"/"+job] {
		return workflows.JobStatus{ScheduleState: "Active", StatusCode: "Quarantine", QuarantineReason: "TooManyDeletes",
			QuarantineError: "TooManyDeletes", QuarantineMessage: "1200 deletions exceed the threshold of 500", TenantActionable: true,
			QuarantineSince: Series, SeriesBegan: Series, ObservedAt: now}
	}
	return workflows.JobStatus{ScheduleState: "Active", StatusCode: "Active", ObservedAt: now}
}

// Restarts are the ForceDeletes restarts sent for a job.
func (f *Fake) Restarts(tenant, job string) []workflows.RestartInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]workflows.RestartInput(nil), f.restarts[tenant+"/"+job]...)
}

// Notified are the notifications of one kind sent for a job.
func (f *Fake) Notified(tenant, job, kind string) []workflows.Notification {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []workflows.Notification
	for _, n := range f.notes {
		if n.TenantID == tenant && n.JobID == job && n.Kind == kind {
			out = append(out, n)
		}
	}
	return out
}

// Refuse is an error a Before hook can return: non-retryable, of the given
// Temporal error type, as the real activities fail for good.
func Refuse(errType, msg string) error {
	return temporal.NewNonRetryableApplicationError(msg, errType, nil)
}
