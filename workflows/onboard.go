package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Retry policies per kind of step. Non-retryable Graph errors (bad request,
// auth, permission) stop at once whatever the policy; these bound the rest.
var (
	// Writes and reads that may meet throttling or 5xx: back off up to a minute,
	// for at most an hour per step. Graph's Retry-After overrides the interval.
	graphStep = workflow.ActivityOptions{
		StartToCloseTimeout:    60 * time.Second,
		ScheduleToCloseTimeout: time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
		},
	}
	// Replication lag: the activity polls every 5 s (the docs' advice) within
	// its attempt, for up to 25 s (activities.DefaultLagWindow), as each
	// retry is a billed action; a longer lag fails the attempt and the retry
	// policy goes on polling, for up to 30 minutes, adding no history.
	replicationPoll = workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 30 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 5 * time.Second, BackoffCoefficient: 1, MaximumInterval: 5 * time.Second,
		},
	}
	// Discover "has always thrown a 500" at first: a few tries, then a clear failure.
	discoverStep = workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 8,
		},
	}
)

// OnboardTenant turns the manual Graph procedure into a durable, idempotent
// sequence. Re-running it on an onboarded tenant changes nothing and says so.
func OnboardTenant(ctx workflow.Context, in OnboardInput) (OnboardResult, error) {
	o := &onboarding{in: in}
	if err := o.setup(ctx); err != nil {
		return OnboardResult{}, err
	}
	return o.run(ctx)
}

type onboarding struct {
	in       OnboardInput
	spec     TenantSpec
	progress Progress
	// spCreated: when this run created the service principal (zero when it
	// found one); its synchronization calls may meet 403/409 for a while.
	spCreated time.Time
	// lean: this run takes the cheaper path (changeLean, version 1 and up);
	// runs recorded before it replay the old one.
	lean        bool
	leanVersion workflow.Version
	seen        *JobsSeen // the latest job listing, for the next jobs step
	// found: every job of the service principal by template, from the
	// first jobs step (those of features the spec does not ask for too);
	// created: the templates whose job that step created.
	found   map[string]string
	created map[string]bool
	// converge: this run makes Graph match a spec that turned a feature off
	// (changeConverge); nil until a run first needs to know.
	converge *bool
	// driftInterval is the worker's, from the application step (0: the
	// drift check reads it itself).
	driftInterval time.Duration
}

// changeConverge gates the steps that undo a feature the spec turned off
// (the CredentialData removal, pausing the feature's job). Runs recorded
// before it never took them; it is asked only where they would run.
const changeConverge = "converge-features"

func (o *onboarding) converging(ctx workflow.Context) bool {
	if o.converge == nil {
		v := workflow.GetVersion(ctx, changeConverge, workflow.DefaultVersion, 1) >= 1
		o.converge = &v
	}
	return *o.converge
}

// changeLean gates the changes that cut Temporal actions and Graph requests
// (BENCHMARKS.md). Version 1: search attribute upserts that would change
// nothing are skipped, the service-principal wait shows as the application
// step and the writeback job's creation as the exchange step in
// CloudSyncStep, and the jobs steps hand their listing on (JobsSeen).
// Version 2 (the engine floor, BENCHMARKS.md): the watchers are started
// together, with their phase and first state set at start. Version 3: the
// drift check is started with its interval and first state set (no read of
// the interval, no memo upsert at its start), and without a version marker
// of its own (changeDrift).
const changeLean = "lean-onboarding"

// watcherAttributes are a watcher's search attributes at start.
func (o *onboarding) watcherAttributes(win WatchInput) temporal.SearchAttributes {
	if o.leanVersion >= 2 {
		return WatchSearchAttributes(win)
	}
	return temporal.NewSearchAttributes(SearchTenant.ValueSet(o.spec.TenantID), SearchDomain.ValueSet(o.spec.Domain), SearchAwaitingApproval.ValueSet(false))
}

func (o *onboarding) setup(ctx workflow.Context) error {
	o.progress = Progress{Status: OnboardingRunning, CurrentStep: StepValidate, StartedAt: workflow.Now(ctx)}
	return workflow.SetQueryHandler(ctx, ProgressQuery, func() (Progress, error) { return o.progress, nil })
}

func (o *onboarding) run(ctx workflow.Context) (OnboardResult, error) {
	res := &o.progress.Result
	o.leanVersion = workflow.GetVersion(ctx, changeLean, workflow.DefaultVersion, 3)
	o.lean = o.leanVersion >= 1
	if err := o.in.Spec.Validate(); err != nil {
		var ve *ValidationError
		errors.As(err, &ve)
		o.finish(ctx, OnboardingFailed, err)
		return *res, temporal.NewNonRetryableApplicationError(err.Error(), ValidationErrorType, nil, ve)
	}
	o.spec = o.in.Spec.Normalized()
	s := o.spec
	res.TenantID, res.Domain = s.TenantID, s.Domain
	res.Jobs = map[string]string{}
	res.Exchange = ExchangeNotRequested
	o.upsert(ctx, keyword{SearchTenant, s.TenantID}, keyword{SearchDomain, s.Domain}, keyword{SearchOutcome, OnboardingRunning})

	// 1. Tenant sync flag.
	var flag StepReport
	if err := runStep(ctx, o, StepTenantSyncFlag, graphStep, OnboardingActivities.EnableTenantSync, TenantInput{s.TenantID}, &flag); err != nil {
		return o.fail(ctx, err)
	}
	o.report(flag)

	// 2. Find or instantiate the app, then wait until its service principal is readable.
	var app ApplicationResult
	if err := runStep(ctx, o, StepApplication, graphStep, OnboardingActivities.EnsureApplication, EnsureApplicationInput{TenantID: s.TenantID, DisplayName: s.DisplayName, Domain: s.Domain}, &app); err != nil {
		return o.fail(ctx, err)
	}
	res.ApplicationObjectID, res.AppID, res.ServicePrincipalID = app.ApplicationObjectID, app.AppID, app.ServicePrincipalID
	o.spCreated = app.CreatedAt
	o.driftInterval = app.DriftInterval
	o.report(app.Report)
	sp := ServicePrincipalInput{s.TenantID, app.ServicePrincipalID}
	if err := runStepErr(ctx, o, StepSPVisible, replicationPoll, OnboardingActivities.WaitForServicePrincipal, sp); err != nil {
		return o.fail(ctx, err)
	}

	// 3. Jobs: provisioning always, password hash when asked.
	templates := []string{TemplateProvisioning}
	if s.PasswordHashSync {
		templates = append(templates, TemplatePasswordHash)
	}
	if err := o.ensureJobs(ctx, StepJobs, templates); err != nil {
		return o.fail(ctx, err)
	}
	prov := res.Jobs[TemplateProvisioning]

	// 3b. Jobs of features the spec turned off are paused (never deleted),
	// before their configuration is undone.
	off := FeatureJobsOff(s, o.found)
	if len(off) > 0 && o.converging(ctx) {
		if err := o.pauseJobs(ctx, off); err != nil {
			return o.fail(ctx, err)
		}
	}

	// 4. Secrets: the full desired set (PUT replaces).
	var secrets StepReport
	if err := runStep(ctx, o, StepSecrets, graphStep, OnboardingActivities.ApplySecrets, SecretsInput{
		TenantID: s.TenantID, ServicePrincipalID: sp.ServicePrincipalID, SPCreated: o.spCreated, Domain: s.Domain,
		PasswordHashSync: s.PasswordHashSync, Notifications: s.Notifications, DeleteThreshold: s.DeleteThreshold,
		ProvisioningJobID: prov,
	}, &secrets); err != nil {
		return o.fail(ctx, err)
	}
	o.report(secrets)

	// 5. Password hash: the CredentialData mapping in the provisioning schema.
	var schema SchemaResult
	if s.PasswordHashSync {
		if err := runStep(ctx, o, StepSchema, graphStep, OnboardingActivities.PatchSchema, JobInput{TenantID: s.TenantID, ServicePrincipalID: sp.ServicePrincipalID, JobID: prov, SPCreated: o.spCreated}, &schema); err != nil {
			return o.fail(ctx, err)
		}
		o.report(schema.Report)
	} else if o.found[TemplatePasswordHash] != "" && o.converging(ctx) {
		// Password hash sync was on (its job exists) and is off now: the
		// mapping goes (byte-preserving), the job was paused above.
		if err := runStep(ctx, o, StepSchema, graphStep, OnboardingActivities.UnpatchSchema, JobInput{TenantID: s.TenantID, ServicePrincipalID: sp.ServicePrincipalID, JobID: prov, SPCreated: o.spCreated}, &schema); err != nil {
			return o.fail(ctx, err)
		}
		o.report(schema.Report)
	} else {
		o.report(StepReport{Step: StepSchema, Outcome: OutcomeSkipped, Detail: "password hash sync not requested"})
	}

	// 6. Exchange hybrid writeback, only where the AD schema has mailNickname.
	if s.ExchangeHybridWriteback {
		if err := o.exchange(ctx, prov, schema.ADDirectoryID); err != nil {
			return o.fail(ctx, err)
		}
	} else {
		o.report(StepReport{Step: StepExchange, Outcome: OutcomeSkipped, Detail: "Exchange hybrid writeback not requested"})
	}

	// 7. Start the jobs that were never started. Quarantined and paused jobs
	// are left alone (start would lift a quarantine or undo an admin's pause);
	// every job is watched.
	if *s.StartJobs {
		var started StartJobsResult
		// A password hash job found paused, on a schema this run had to give
		// the CredentialData mapping back (PHS had been turned off, and its
		// job paused with it), is resumed: the spec asks for PHS again. A job
		// paused with PHS configured is an admin's pause, left alone.
		var resume []FeatureJob
		if id := res.Jobs[TemplatePasswordHash]; s.PasswordHashSync && id != "" && !o.created[TemplatePasswordHash] && schema.Report.Outcome == OutcomeChanged {
			resume = append(resume, FeatureJob{ID: id, Feature: FeaturePasswordHash})
		}
		if err := runStep(ctx, o, StepStartJobs, graphStep, OnboardingActivities.StartJobs, StartJobsInput{TenantID: s.TenantID, ServicePrincipalID: sp.ServicePrincipalID, JobIDs: o.jobIDs(), Seen: o.seen, SPCreated: o.spCreated, Resume: resume}, &started); err != nil {
			return o.fail(ctx, err)
		}
		if len(started.LeftAlone) > 0 {
			res.JobsLeftAlone = started.LeftAlone
		}
		o.report(started.Report)
		if o.in.Watch == nil || *o.in.Watch {
			o.startWatchers(ctx, o.jobIDs())
		}
	} else {
		o.report(StepReport{Step: StepStartJobs, Outcome: OutcomeSkipped, Detail: "start jobs disabled: the jobs stay disabled"})
	}

	// 8. The drift check of this configuration: started, or handed the spec
	// this run made Graph match.
	if (o.in.Watch == nil || *o.in.Watch) && (o.leanVersion >= 3 || workflow.GetVersion(ctx, changeDrift, workflow.DefaultVersion, 1) >= 1) {
		o.watchDrift(ctx)
	}

	outcome := OnboardingCompleted
	if !res.Changed {
		outcome = OnboardingNoChange
	}
	o.finish(ctx, outcome, nil)
	return *res, nil
}

// changeDrift gates the drift check's start at the end of an onboarding;
// runs recorded before it never started one.
const changeDrift = "watch-drift"

// watchDrift starts the tenant's WatchDrift as a child that outlives this
// workflow (ParentClosePolicy ABANDON), or, when one runs (a re-run), hands
// it the spec: Graph matches it now, so drift is none at once.
func (o *onboarding) watchDrift(ctx workflow.Context) {
	res := &o.progress.Result
	wid := DriftWorkflowID(o.spec.TenantID, o.spec.Domain)
	in := DriftInput{Spec: o.spec, Exchange: res.Exchange, Webhook: o.in.WatchOptions.Webhook, Converged: true}
	opts := driftChildOptions(o.spec.TenantID, o.spec.Domain)
	if o.leanVersion >= 3 && o.driftInterval > 0 {
		// Its first state, as it would publish it: set at start, it costs no upsert.
		opts.Memo = map[string]any{DriftMemoKey: convergedDriftState(workflow.Now(ctx), o.driftInterval)}
	}
	cctx := workflow.WithChildOptions(ctx, opts)
	var exec workflow.Execution
	err := workflow.ExecuteChildWorkflow(cctx, WatchDriftWorkflow, in).GetChildWorkflowExecution().Get(ctx, &exec)
	if temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		err = workflow.SignalExternalWorkflow(ctx, wid, "", DriftSpecSignal, in).Get(ctx, nil)
	}
	if err != nil {
		// Drift is an addition: the onboarding itself succeeded.
		workflow.GetLogger(ctx).Error("could not start or update the drift check", "workflowId", wid, "error", err)
		return
	}
	res.DriftCheck = wid
}

// startWatchers starts one WatchSyncJob per job, as children that outlive this
// workflow (ParentClosePolicy ABANDON). A watcher already running (a re-run)
// is kept.
func (o *onboarding) startWatchers(ctx workflow.Context, jobIDs []string) {
	o.progress.CurrentStep = StepWatch
	res := &o.progress.Result
	var started, kept []string
	start := func(id string) workflow.Future {
		win := WatchInput{
			TenantID: o.spec.TenantID, Domain: o.spec.Domain, ServicePrincipalID: res.ServicePrincipalID, JobID: id, Options: o.in.WatchOptions,
		}
		opts := watchChildOptions(win)
		// Runs recorded before set no phase: the watcher upserted it.
		opts.TypedSearchAttributes = o.watcherAttributes(win)
		cctx := workflow.WithChildOptions(ctx, opts)
		return workflow.ExecuteChildWorkflow(cctx, WatchSyncJobWorkflow, win).GetChildWorkflowExecution()
	}
	// The watchers are independent: started together, one workflow task
	// waits for all (runs recorded before started one per workflow task).
	starts := map[string]workflow.Future{}
	if o.leanVersion >= 2 {
		for _, id := range jobIDs {
			starts[id] = start(id)
		}
	}
	for _, id := range jobIDs {
		wid := WatchWorkflowID(o.spec.TenantID, id)
		f, ok := starts[id]
		if !ok {
			f = start(id)
		}
		var exec workflow.Execution
		if err := f.Get(ctx, &exec); err != nil {
			if temporal.IsWorkflowExecutionAlreadyStartedError(err) {
				kept = append(kept, id)
				res.Watchers = append(res.Watchers, wid)
				continue
			}
			workflow.GetLogger(ctx).Error("could not start watcher", "job", id, "error", err)
			continue
		}
		started = append(started, id)
		res.Watchers = append(res.Watchers, wid)
	}
	rep := StepReport{Step: StepWatch, Outcome: OutcomeUnchanged}
	if len(started) > 0 {
		rep.Outcome = OutcomeCreated
	}
	rep.Detail = JoinDetail(JoinDetail("", "started watchers for", started), "already watching", kept)
	o.report(rep)
}

// JoinDetail appends "verb a, b" to a "; "-separated step detail.
func JoinDetail(detail, verb string, items []string) string {
	if len(items) == 0 {
		return detail
	}
	if detail != "" {
		detail += "; "
	}
	return detail + verb + " " + strings.Join(items, ", ")
}

func (o *onboarding) ensureJobs(ctx workflow.Context, step string, templates []string) error {
	var jobs EnsureJobsResult
	if !o.lean {
		step = StepJobs
	}
	if err := runStep(ctx, o, step, graphStep, OnboardingActivities.EnsureJobs, EnsureJobsInput{TenantID: o.spec.TenantID, ServicePrincipalID: o.progress.Result.ServicePrincipalID, Templates: templates, Seen: o.seen, SPCreated: o.spCreated}, &jobs); err != nil {
		return err
	}
	if o.lean {
		o.seen = jobs.Seen
	}
	if o.found == nil {
		o.found, o.created = jobs.Jobs, map[string]bool{}
		for _, t := range jobs.Created {
			o.created[t] = true
		}
	}
	for _, t := range templates {
		o.progress.Result.Jobs[t] = jobs.Jobs[t]
	}
	o.report(jobs.Report)
	return nil
}

// pauseJobs pauses the jobs of features the spec turned off. When the
// listing the jobs step just made shows none of them running, there is
// nothing to do and no activity runs: a re-run that changes nothing costs
// neither a request nor a Temporal action for it.
func (o *onboarding) pauseJobs(ctx workflow.Context, off []FeatureJob) error {
	if o.seen != nil {
		state := map[string]string{}
		for _, j := range o.seen.Jobs {
			state[j.ID] = j.ScheduleState
		}
		var running, stopped []string
		for _, j := range off {
			if st, ok := state[j.ID]; !ok || st == "" || st == "Active" {
				running = append(running, j.ID)
			} else {
				stopped = append(stopped, j.ID+" already stopped (schedule "+st+", "+j.Feature+" off)")
			}
		}
		if len(running) == 0 {
			o.report(StepReport{Step: StepPauseJobs, Outcome: OutcomeUnchanged, Detail: strings.Join(stopped, "; ")})
			return nil
		}
	}
	var paused PauseJobsResult
	if err := runStep(ctx, o, StepPauseJobs, graphStep, OnboardingActivities.PauseJobs, PauseJobsInput{TenantID: o.spec.TenantID, ServicePrincipalID: o.progress.Result.ServicePrincipalID,
		Jobs: off, Seen: o.seen, SPCreated: o.spCreated}, &paused); err != nil {
		return err
	}
	if o.seen != nil {
		o.seen = paused.Seen
	}
	o.report(paused.Report)
	return nil
}

func (o *onboarding) exchange(ctx workflow.Context, prov, adDirectoryID string) error {
	res := &o.progress.Result
	var check ExchangeCheckResult
	err := runStep(ctx, o, StepExchange, discoverStep, OnboardingActivities.CheckExchangeSchema,
		ExchangeCheckInput{TenantID: o.spec.TenantID, ServicePrincipalID: res.ServicePrincipalID, JobID: prov, ADDirectoryID: adDirectoryID, SPCreated: o.spCreated}, &check)
	if err != nil {
		return err
	}
	if !check.MailNicknamePresent {
		res.Exchange = ExchangeSchemaMissing
		o.report(StepReport{Step: StepExchange, Outcome: OutcomeSkipped,
			Detail: "the AD schema has no mailNickname on users: extend it for Exchange (Exchange setup /PrepareSchema), then re-run to add the writeback job"})
		return nil
	}
	if err := o.ensureJobs(ctx, StepExchange, []string{TemplateExchangeWriteback}); err != nil {
		return err
	}
	res.Exchange = ExchangeEnabled
	return nil
}

// runStep runs one activity with its options, keeping progress, details and the
// step search attribute current.
func runStep[I, O any](ctx workflow.Context, o *onboarding, name string, opts workflow.ActivityOptions, m func(OnboardingActivities, context.Context, I) (O, error), in I, out *O) error {
	res, err := Execute(o.prepare(ctx, name, opts), m, in).Get(ctx)
	if err != nil {
		return fmt.Errorf("step %s: %w", name, err)
	}
	*out = res
	return nil
}

// runStepErr is runStep for an activity with no result.
func runStepErr[I any](ctx workflow.Context, o *onboarding, name string, opts workflow.ActivityOptions, m func(OnboardingActivities, context.Context, I) error, in I) error {
	if err := ExecuteErr(o.prepare(ctx, name, opts), m, in).Get(ctx, nil); err != nil {
		return fmt.Errorf("step %s: %w", name, err)
	}
	return nil
}

// prepare marks step as the current one and returns the context to run its
// activity in.
func (o *onboarding) prepare(ctx workflow.Context, step string, opts workflow.ActivityOptions) workflow.Context {
	o.progress.CurrentStep = step
	saStep := step
	if o.lean && step == StepSPVisible {
		// Waiting for replication is the end of the application step; the
		// progress query still names it.
		saStep = StepApplication
	}
	o.upsert(ctx, keyword{SearchStep, saStep})
	workflow.SetCurrentDetails(ctx, o.details())
	opts.Summary = step + " for " + o.spec.TenantID
	return workflow.WithActivityOptions(ctx, opts)
}

// keyword is one search attribute value.
type keyword struct {
	key   temporal.SearchAttributeKeyKeyword
	value string
}

// upsert sets search attributes in one command. On the lean path it leaves out
// values already in place (set at start by the starter, or by an earlier
// upsert): each upsert is a billed action.
func (o *onboarding) upsert(ctx workflow.Context, kws ...keyword) {
	current := workflow.GetTypedSearchAttributes(ctx)
	var set []temporal.SearchAttributeUpdate
	for _, k := range kws {
		if o.lean {
			if v, ok := current.GetKeyword(k.key); ok && v == k.value {
				continue
			}
		}
		set = append(set, k.key.ValueSet(k.value))
	}
	if len(set) > 0 {
		_ = workflow.UpsertTypedSearchAttributes(ctx, set...)
	}
}

func (o *onboarding) report(r StepReport) {
	res := &o.progress.Result
	res.Steps = append(res.Steps, r)
	// Watchers are ours, not the tenant's: starting one changes nothing there.
	if r.Step != StepWatch && (r.Outcome == OutcomeCreated || r.Outcome == OutcomeChanged) {
		res.Changed = true
	}
}

func (o *onboarding) jobIDs() []string {
	var ids []string
	for _, t := range []string{TemplateProvisioning, TemplatePasswordHash, TemplateExchangeWriteback} {
		if id, ok := o.progress.Result.Jobs[t]; ok && id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

// fail ends the onboarding with one actionable message; the details carry what
// already exists so a re-run after the fix can be trusted not to duplicate.
func (o *onboarding) fail(ctx workflow.Context, err error) (OnboardResult, error) {
	o.report(StepReport{Step: o.progress.CurrentStep, Outcome: OutcomeFailed, Detail: rootMessage(err)})
	o.finish(ctx, OnboardingFailed, err)
	msg := fmt.Sprintf("onboarding %s (%s) failed at step %s: %s", o.spec.TenantID, o.spec.Domain, o.progress.CurrentStep, rootMessage(err))
	return o.progress.Result, temporal.NewNonRetryableApplicationError(msg, FailureType, err, o.progress.Result)
}

func (o *onboarding) finish(ctx workflow.Context, outcome string, err error) {
	o.progress.Status = outcome
	if err != nil {
		o.progress.LastError = rootMessage(err)
	} else {
		o.progress.CurrentStep = StepDone
	}
	o.upsert(ctx, keyword{SearchStep, o.progress.CurrentStep}, keyword{SearchOutcome, outcome})
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"outcome": outcome}).Counter("cloudsync_onboardings_total").Inc(1)
	workflow.SetCurrentDetails(ctx, o.details())
}

// details is the Markdown the Web UI shows on the workflow page.
func (o *onboarding) details() string {
	r := o.progress.Result
	d := fmt.Sprintf("**Tenant** %s · **domain** %s · **status** %s · **step** %s\n\n", r.TenantID, r.Domain, o.progress.Status, o.progress.CurrentStep)
	if r.ServicePrincipalID != "" {
		d += fmt.Sprintf("Service principal `%s`\n\n", r.ServicePrincipalID)
	}
	for _, s := range r.Steps {
		d += fmt.Sprintf("- %s: **%s** %s\n", s.Step, s.Outcome, s.Detail)
	}
	if o.progress.LastError != "" {
		d += "\n**Error:** " + o.progress.LastError + "\n"
	}
	return d
}

// rootMessage strips Temporal's wrapping ("activity error (...)") down to the
// message our activity wrote.
func rootMessage(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Message()
	}
	var te *temporal.TimeoutError
	if errors.As(err, &te) {
		return "timed out (" + te.TimeoutType().String() + ")" + causeSuffix(te.Unwrap())
	}
	return err.Error()
}

func causeSuffix(err error) string {
	if err == nil {
		return ""
	}
	return ": last attempt: " + rootMessage(err)
}
