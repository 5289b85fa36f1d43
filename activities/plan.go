package activities

import (
	"context"
	"errors"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/cloudsync/cloudsync/graph"
	wf "github.com/cloudsync/cloudsync/workflows"
)

// PlanTenant makes onboarding's look-before-write reads and says per step what
// an onboarding of the spec would do now. Each step is decided by the
// function the onboarding's activity uses, so plan and apply cannot disagree.
// Nothing is written: the reads go through a read-only Graph client (a write
// would be refused before it leaves the process), and the Exchange check's
// discover, a POST, is not sent (the step says what an onboarding would do).
func (a *Activities) PlanTenant(ctx context.Context, in wf.PlanInput) (wf.PlanResult, error) {
	return a.plan(ctx, in)
}

// CheckDrift is one drift check: the plan's reads, and the worker's drift
// interval (a workflow cannot read the worker's configuration).
func (a *Activities) CheckDrift(ctx context.Context, in wf.PlanInput) (wf.DriftCheckResult, error) {
	p, err := a.plan(ctx, in)
	return wf.DriftCheckResult{Plan: p, Interval: a.driftInterval()}, err
}

// DriftInterval tells a drift check the worker's interval (a local activity;
// no Graph call).
func (a *Activities) DriftInterval(context.Context) (time.Duration, error) {
	return a.driftInterval(), nil
}

func (a *Activities) driftInterval() time.Duration {
	if a.DriftCheckInterval > 0 {
		return a.DriftCheckInterval
	}
	return wf.DefaultDriftInterval
}

// planPermissions is what a plan's reads need (a 403 names them).
const planPermissions = "Organization.Read.All, Application.Read.All and Synchronization.Read.All (or their ReadWrite forms)"

func (a *Activities) plan(ctx context.Context, in wf.PlanInput) (wf.PlanResult, error) {
	if err := in.Spec.Validate(); err != nil {
		return wf.PlanResult{}, temporal.NewNonRetryableApplicationError(err.Error(), wf.ValidationErrorType, nil)
	}
	s := in.Spec.Normalized()
	p := &planner{spec: s, exchange: in.Exchange, res: wf.PlanResult{TenantID: s.TenantID, Domain: s.Domain}}
	c, err := a.Graph.ReadOnlyForTenant(s.TenantID)
	if err != nil {
		return p.res, temporal.NewNonRetryableApplicationError("graph client for tenant "+s.TenantID+": "+err.Error(), string(graph.KindUnauthorized), nil)
	}
	p.c = c
	if err := p.run(ctx); err != nil {
		return p.res, planErr(err)
	}
	return p.res, nil
}

// planErr classifies a plan's Graph error; a 403 names the read permissions.
func planErr(err error) error {
	if ge, ok := graph.AsError(err); ok && ge.Kind == graph.KindForbidden {
		e := *ge
		e.Hint = "A plan or drift check needs the Microsoft Graph application permissions " + planPermissions + " with admin consent in this tenant"
		err = &e
	}
	return toTemporal(err, false)
}

// planner makes one plan.
type planner struct {
	c        *graph.Client
	spec     wf.TenantSpec
	exchange string
	res      wf.PlanResult

	jobs       []wf.SeenJob      // the service principal's jobs
	byTemplate map[string]string // template -> job id
	missing    []string          // templates whose job an onboarding would create
	addMapping bool              // the schema step would add the CredentialData mapping
	newWriter  bool              // the exchange step would create the writeback job
}

func (p *planner) add(step string, action wf.PlanAction, detail, drift string) {
	p.res.Add(wf.PlanStep{Step: step, Action: action, Detail: detail, Drift: drift})
}

// next heartbeats between steps, so a cancelled drift check stops reading.
func (p *planner) next(ctx context.Context) error {
	if activity.IsActivity(ctx) {
		activity.RecordHeartbeat(ctx)
	}
	return ctx.Err()
}

func (p *planner) run(ctx context.Context) error {
	s := p.spec
	// 1. Tenant sync flag.
	on, err := p.c.OnPremisesSyncEnabled(ctx, s.TenantID)
	if err != nil {
		return err
	}
	if syncFlagNeedsWrite(on) {
		p.add(wf.StepTenantSyncFlag, wf.PlanChange, "set onPremisesSyncEnabled to true (it is off)", wf.DriftSyncFlagOff)
	} else {
		p.add(wf.StepTenantSyncFlag, wf.PlanNone, "onPremisesSyncEnabled already true", "")
	}
	if err := p.next(ctx); err != nil {
		return err
	}

	// 2. The application: the configuration of the domain, whatever its name.
	found, err := lookupByDomain(ctx, p.c, s.Domain, s.DisplayName, true)
	if err != nil {
		return err
	}
	d := decideApplication(found, s.DisplayName)
	switch {
	case d.sp == nil:
		detail := "instantiate the AD2AAD template as " + s.DisplayName + ": no configuration of " + s.Domain + " in the tenant"
		if found.otherDomain != "" {
			detail += " (the one named " + s.DisplayName + " syncs " + found.otherDomain + ")"
		}
		p.add(wf.StepApplication, wf.PlanCreate, detail, wf.DriftConfigurationMissing)
		p.noConfiguration()
		return nil
	case d.rename:
		p.add(wf.StepApplication, wf.PlanChange, "rename "+d.sp.DisplayName+" → "+s.DisplayName+": service principal "+d.sp.ID, wf.DriftRenamed)
	default:
		p.add(wf.StepApplication, wf.PlanNone, "found service principal "+d.sp.ID+d.adoptNote(true), "")
	}
	sp := d.sp.ID
	p.res.ServicePrincipalID = sp
	if err := p.next(ctx); err != nil {
		return err
	}

	// 3. Jobs, and those of features turned off.
	list, err := p.c.ListJobs(ctx, sp)
	if err != nil {
		return err
	}
	for _, j := range list {
		p.jobs = append(p.jobs, seenJob(j))
	}
	p.byTemplate = jobsByTemplate(p.jobs)
	templates := []string{wf.TemplateProvisioning}
	if s.PasswordHashSync {
		templates = append(templates, wf.TemplatePasswordHash)
	}
	have, missing := missingTemplates(p.byTemplate, templates)
	p.missing = missing
	if len(missing) > 0 {
		p.add(wf.StepJobs, wf.PlanCreate, wf.JoinDetail(wf.JoinDetail("", "create", missing), "found", have), wf.DriftJobMissing)
	} else {
		p.add(wf.StepJobs, wf.PlanNone, wf.JoinDetail("", "found", have), "")
	}
	if off := wf.FeatureJobsOff(s, p.byTemplate); len(off) > 0 {
		pause, stopped := pauseDecision(p.jobs, off)
		var what []string
		for _, fj := range pause {
			what = append(what, fj.ID+" ("+fj.Feature+" off)")
		}
		if len(pause) > 0 {
			p.add(wf.StepPauseJobs, wf.PlanPause, wf.JoinDetail("", "pause", what)+joinNotes(stopped), wf.DriftFeatureJobRunning)
		} else {
			p.add(wf.StepPauseJobs, wf.PlanNone, strings.Join(stopped, "; "), "")
		}
	}
	if err := p.next(ctx); err != nil {
		return err
	}

	// 4. Secrets: what the full desired set would change (the AppKey is
	// masked by Graph: an onboarding re-asserts it, which is no change).
	current, err := p.c.GetSecrets(ctx, sp)
	if err != nil {
		return err
	}
	sd := diffSecrets(current, DesiredSecrets(wf.SecretsInput{Domain: s.Domain, PasswordHashSync: s.PasswordHashSync,
		Notifications: s.Notifications, DeleteThreshold: s.DeleteThreshold}))
	switch {
	case len(sd.erased) > 0:
		p.add(wf.StepSecrets, wf.PlanUnknown, "an onboarding would stop here: "+erasedMessage(sd.erased), "")
	case len(sd.missing) > 0:
		action := wf.PlanCreate
		if len(sd.diffs) > 0 {
			action = wf.PlanChange
		}
		p.add(wf.StepSecrets, action, wf.JoinDetail(wf.JoinDetail("", "add", sd.missing), "change", sd.diffs), wf.DriftSecretMissing)
	case len(sd.diffs) > 0:
		p.add(wf.StepSecrets, wf.PlanChange, "change "+strings.Join(sd.diffs, ", "), wf.DriftSecretChanged)
	default:
		p.add(wf.StepSecrets, wf.PlanNone, "Domain and SyncNotificationSettings as desired (AppKey: Graph masks it; an onboarding re-asserts it)", "")
	}
	if err := p.next(ctx); err != nil {
		return err
	}

	// 5. The CredentialData mapping (password hash sync).
	if err := p.schema(ctx); err != nil {
		return err
	}

	// 6. Exchange hybrid writeback: discover is a POST, so not sent.
	p.exchangeStep()

	// 7. Start-jobs.
	p.startStep()
	return nil
}

// schema plans the schema step.
func (p *planner) schema(ctx context.Context) error {
	s := p.spec
	prov := p.byTemplate[wf.TemplateProvisioning]
	unpatch := !s.PasswordHashSync && p.byTemplate[wf.TemplatePasswordHash] != ""
	switch {
	case s.PasswordHashSync && prov == "":
		p.addMapping = true
		p.add(wf.StepSchema, wf.PlanChange, "add CredentialData to the new provisioning job's schema", wf.DriftCredentialData)
		return nil
	case !s.PasswordHashSync && !unpatch:
		p.add(wf.StepSchema, wf.PlanNone, "password hash sync not requested", "")
		return nil
	case prov == "":
		p.add(wf.StepSchema, wf.PlanNone, "the new provisioning job's schema has no CredentialData mapping", "")
		return nil
	}
	schema, err := p.c.GetSchema(ctx, p.res.ServicePrincipalID, prov)
	if err != nil {
		return err
	}
	_, rep, err := credentialDataEdit(schema, s.PasswordHashSync)
	switch {
	case err != nil:
		p.add(wf.StepSchema, wf.PlanUnknown, "an onboarding would stop here: "+rootMessage(err), "")
	case s.PasswordHashSync && rep.Changed():
		p.addMapping = true
		d := "add CredentialData to " + strings.Join(rep.Added, ", ")
		if len(rep.AlreadyPresent) > 0 {
			d += "; already in " + strings.Join(rep.AlreadyPresent, ", ")
		}
		p.add(wf.StepSchema, wf.PlanChange, d, wf.DriftCredentialData)
	case s.PasswordHashSync:
		p.add(wf.StepSchema, wf.PlanNone, "CredentialData already mapped in "+strings.Join(rep.AlreadyPresent, ", "), "")
	case rep.Changed():
		p.add(wf.StepSchema, wf.PlanChange, "remove CredentialData from "+strings.Join(rep.Removed, ", ")+" ("+wf.FeaturePasswordHash+" off)", wf.DriftCredentialDataBack)
	default:
		p.add(wf.StepSchema, wf.PlanNone, "no CredentialData mapping: "+wf.FeaturePasswordHash+" off", "")
	}
	return p.next(ctx)
}

// exchangeStep plans the exchange step without discover (a POST).
func (p *planner) exchangeStep() {
	switch {
	case !p.spec.ExchangeHybridWriteback:
		p.add(wf.StepExchange, wf.PlanNone, "Exchange hybrid writeback not requested", "")
	case p.byTemplate[wf.TemplateExchangeWriteback] != "":
		p.add(wf.StepExchange, wf.PlanNone, "writeback job "+p.byTemplate[wf.TemplateExchangeWriteback]+" found", "")
	case p.exchange == wf.ExchangeEnabled:
		p.newWriter = true
		p.add(wf.StepExchange, wf.PlanCreate, "create the "+wf.TemplateExchangeWriteback+" job (the AD schema had mailNickname when onboarded)", wf.DriftJobMissing)
	default:
		p.add(wf.StepExchange, wf.PlanUnknown, "would check the AD schema for mailNickname (discover: a POST, not sent by a plan), then create the "+
			wf.TemplateExchangeWriteback+" job if it is there", "")
	}
}

// startStep plans start-jobs with the onboarding's per-job decision.
func (p *planner) startStep() {
	s := p.spec
	if s.StartJobs != nil && !*s.StartJobs {
		p.add(wf.StepStartJobs, wf.PlanNone, "start jobs disabled: the jobs stay disabled", "")
		return
	}
	ids := []string{p.byTemplate[wf.TemplateProvisioning]}
	if s.PasswordHashSync {
		ids = append(ids, p.byTemplate[wf.TemplatePasswordHash])
	}
	if s.ExchangeHybridWriteback {
		ids = append(ids, p.byTemplate[wf.TemplateExchangeWriteback])
	}
	byID := map[string]wf.SeenJob{}
	for _, j := range p.jobs {
		byID[j.ID] = j
	}
	var start, running, notes []string
	drift := ""
	for _, id := range ids {
		j, ok := byID[id]
		if id == "" || !ok {
			continue
		}
		resumable := j.TemplateID == wf.TemplatePasswordHash && p.addMapping
		switch v, why := startDecision(j, resumable); v {
		case startRunning:
			running = append(running, id)
		case startResume:
			start, drift = append(start, id+" (resume: the spec asks for "+wf.FeaturePasswordHash+")"), wf.DriftJobNotStarted
		case startLeave:
			notes = append(notes, id+" "+why)
		default:
			start, drift = append(start, id), wf.DriftJobNotStarted
		}
	}
	for _, t := range p.missing {
		start = append(start, "the new "+t+" job")
	}
	if p.newWriter {
		start = append(start, "the new "+wf.TemplateExchangeWriteback+" job")
	}
	d := wf.JoinDetail(wf.JoinDetail("", "start", start), "already running", running) + joinNotes(notes)
	if len(start) > 0 {
		// Jobs the plan would create are named by the jobs step's drift.
		p.add(wf.StepStartJobs, wf.PlanStart, d, drift)
		return
	}
	p.add(wf.StepStartJobs, wf.PlanNone, strings.TrimPrefix(d, "; "), "")
}

// noConfiguration plans the steps after an application an onboarding would
// create: each depends on what that write makes, so the plan says what the
// onboarding would do with it.
func (p *planner) noConfiguration() {
	s := p.spec
	const after = " (no configuration yet: decided once the application exists)"
	templates := []string{wf.TemplateProvisioning}
	if s.PasswordHashSync {
		templates = append(templates, wf.TemplatePasswordHash)
	}
	p.add(wf.StepJobs, wf.PlanCreate, "create "+strings.Join(templates, ", ")+after, "")
	p.add(wf.StepSecrets, wf.PlanCreate, "write Domain, AppKey and SyncNotificationSettings"+after, "")
	if s.PasswordHashSync {
		p.add(wf.StepSchema, wf.PlanChange, "add CredentialData to the new provisioning job's schema"+after, "")
	} else {
		p.add(wf.StepSchema, wf.PlanNone, "password hash sync not requested", "")
	}
	if s.ExchangeHybridWriteback {
		p.add(wf.StepExchange, wf.PlanUnknown, "would check the AD schema for mailNickname (discover), then create the "+wf.TemplateExchangeWriteback+" job if it is there"+after, "")
	} else {
		p.add(wf.StepExchange, wf.PlanNone, "Exchange hybrid writeback not requested", "")
	}
	if s.StartJobs != nil && !*s.StartJobs {
		p.add(wf.StepStartJobs, wf.PlanNone, "start jobs disabled: the jobs stay disabled", "")
	} else {
		p.add(wf.StepStartJobs, wf.PlanStart, "start the new jobs"+after, "")
	}
}

func joinNotes(notes []string) string {
	if len(notes) == 0 {
		return ""
	}
	return "; " + strings.Join(notes, "; ")
}

// rootMessage is an activity error's message without Temporal's wrapping.
func rootMessage(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Message()
	}
	return err.Error()
}
