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
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/cloudsync/cloudsync/graph"
	wf "github.com/cloudsync/cloudsync/workflows"
)

// ClientFactory gives the Graph client of a tenant, and its read-only client
// (plans and drift checks: only GET requests leave the process).
type ClientFactory interface {
	ForTenant(tenantID string) (*graph.Client, error)
	ReadOnlyForTenant(tenantID string) (*graph.Client, error)
}

// Activities implements every activity of the contract; a method missing or
// with the wrong signature is a compile error here.
var _ wf.Activities = (*Activities)(nil)

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
	// Control ends watchers and cancels drift checks when a configuration is
	// offboarded (the worker's Temporal client).
	Control WorkflowControl
	// SyncSettleWindow: how long after creating a service principal its
	// synchronization calls' 403/409 are retried (0: the default, 5 min).
	SyncSettleWindow time.Duration
	// DriftCheckInterval: how often a drift check reads each watched
	// tenant's configuration (0: the default, a day).
	DriftCheckInterval time.Duration
	// LagPoll and LagWindow: how often, and at most how long, one attempt
	// reads again while it waits out Graph's lag (see waitOut; 0: the
	// defaults, 5 s and 25 s).
	LagPoll, LagWindow time.Duration
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
	lag := bool(f) && ge.Kind == graph.KindNotFound
	retry := ge.Retryable() || lag
	opts := temporal.ApplicationErrorOptions{NonRetryable: !retry}
	if lag || ge.Kind == graph.KindThrottled {
		// Expected: Graph's replication lag, and a 429 it asks us to wait
		// out. The SDK logs a benign error at debug, not as a failed activity.
		opts.Category = temporal.ApplicationErrorCategoryBenign
	}
	if ge.RetryAfter > 0 {
		opts.NextRetryDelay = ge.RetryAfter
	}
	return temporal.NewApplicationErrorWithOptions(ge.Error(), string(ge.Kind), opts)
}

// syncErr classifies the error of a synchronization call on a service
// principal: Graph answers 403 and 409 for a few minutes after one is created,
// so within the settle window of spCreated those are retried (benign: an
// expected condition); after it (or on one we found), a 403 is the missing
// permission it says.
func (a *Activities) syncErr(err error, spCreated time.Time) error {
	window := wf.OrDefault(a.SyncSettleWindow, wf.DefaultSyncSettleWindow)
	ge, ok := graph.AsError(err)
	if ok && (ge.Kind == graph.KindForbidden || ge.Kind == graph.KindConflict) && !spCreated.IsZero() && time.Since(spCreated) < window {
		return temporal.NewApplicationErrorWithOptions(ge.Error()+": the service principal was created at "+spCreated.Format(time.RFC3339)+
			" and Graph refuses its synchronization calls for a few minutes; retrying until "+spCreated.Add(window).Format(time.RFC3339),
			string(ge.Kind), temporal.ApplicationErrorOptions{NextRetryDelay: ge.RetryAfter, Category: temporal.ApplicationErrorCategoryBenign})
	}
	return toTemporal(err, true)
}

// benign is a retryable error for an expected condition (Graph's replication
// lag): the SDK logs it at debug and does not count it as a failure, so real
// failures are not buried (a retry is still visible in the pending activity).
func benign(msg, errType string) error {
	return temporal.NewApplicationErrorWithOptions(msg, errType, temporal.ApplicationErrorOptions{Category: temporal.ApplicationErrorCategoryBenign})
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
	if !syncFlagNeedsWrite(on) {
		rep.Outcome, rep.Detail = wf.OutcomeUnchanged, "onPremisesSyncEnabled already true"
		return rep, nil
	}
	if err := c.SetOnPremisesSyncEnabled(ctx, in.TenantID, true); err != nil {
		return rep, toTemporal(err, false)
	}
	rep.Outcome, rep.Detail = wf.OutcomeChanged, "onPremisesSyncEnabled set to true"
	return rep, nil
}

// EnsureApplication finds the tenant's cloud sync configuration of the domain
// (the AD2AAD service principal whose Domain secret names it), whatever it is
// called and whoever made it, and renames it when the spec names it otherwise;
// or it instantiates the template. The domain is the identity, as in the
// workflow id: instantiate always creates a new app, so a re-run under
// another name, and a retry, must find the first one rather than make a second.
func (a *Activities) EnsureApplication(ctx context.Context, in wf.EnsureApplicationInput) (wf.ApplicationResult, error) {
	res := wf.ApplicationResult{Report: wf.StepReport{Step: wf.StepApplication}, DriftInterval: a.driftInterval()}
	c, err := a.client(in.TenantID)
	if err != nil {
		return res, err
	}
	// A previous attempt that got as far as instantiating (its heartbeat says
	// when) may have created an app whose answer was lost (crash, timeout).
	var sentAt time.Time
	instantiated := activity.HasHeartbeatDetails(ctx) && activity.GetHeartbeatDetails(ctx, &sentAt) == nil && !sentAt.IsZero()
	var found lookup
	if in.Domain == "" {
		// An input scheduled before the domain was passed (a workflow started
		// by an older version): the display name is all there is to go by.
		found, err = lookupByName(ctx, c, in.DisplayName)
	} else {
		// After an attempt that instantiated, that attempt's lookup by name
		// found nothing, and what it made is listed by template: one list.
		found, err = lookupByDomain(ctx, c, graph.NormalizeDomain(in.Domain), in.DisplayName, !instantiated)
	}
	if err != nil {
		return res, toTemporal(err, false)
	}
	d := decideApplication(found, in.DisplayName)
	if sp := d.sp; sp != nil && d.adopted == 0 {
		res.ServicePrincipalID, res.AppID = sp.ID, sp.AppID
		res.Report.Outcome = wf.OutcomeUnchanged
		res.Report.Detail = "found service principal " + sp.ID
		if d.rename {
			// The application first, the service principal last: a retry after a
			// failure in between still sees the old name and renames both.
			note := ""
			if err := c.RenameApplication(ctx, sp.AppID, in.DisplayName); graph.IsNotFound(err) {
				note = " (its application was not found: not renamed)"
			} else if err != nil {
				return res, toTemporal(err, true)
			}
			if err := c.RenameServicePrincipal(ctx, sp.ID, in.DisplayName); err != nil {
				return res, toTemporal(err, true)
			}
			res.Report.Outcome = wf.OutcomeChanged
			res.Report.Detail = fmt.Sprintf("renamed %s → %s: service principal %s%s", sp.DisplayName, in.DisplayName, sp.ID, note)
		}
		return res, nil
	}
	if sp := d.sp; sp != nil {
		res.ServicePrincipalID, res.AppID = sp.ID, sp.AppID
		res.Report.Outcome = wf.OutcomeUnchanged
		res.Report.Detail = "found service principal " + sp.ID + d.adoptNote(in.Domain != "")
		return res, nil
	}
	// Graph's list catches up later than the create: give a lost instantiate
	// time to be listed before creating another.
	if instantiated && time.Since(sentAt) < ListGrace {
		return res, benign("no service principal named "+in.DisplayName+" is listed yet, but a previous attempt instantiated the template at "+
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
	res.CreatedAt = time.Now().UTC()
	res.Report.Outcome, res.Report.Detail = wf.OutcomeCreated, "instantiated the AD2AAD template: service principal "+inst.ServicePrincipalID
	if found.otherDomain != "" {
		res.Report.Detail += " (the one named " + in.DisplayName + " syncs " + found.otherDomain + ")"
	}
	return res, nil
}

// syncFlagNeedsWrite is the tenant-sync-flag step's decision, shared by the
// onboarding and the plan.
func syncFlagNeedsWrite(on bool) bool { return !on }

// appDecision is the application step's decision on what the lookup found,
// shared by the onboarding and the plan: the configuration to use (nil:
// instantiate), whether it must be renamed, or which one of ours to adopt.
type appDecision struct {
	sp      *graph.ServicePrincipal
	rename  bool // sp is named otherwise than the spec
	adopted int  // sp is named as asked and syncs no domain yet, one of this many
}

func decideApplication(found lookup, displayName string) appDecision {
	if sp := found.match; sp != nil {
		return appDecision{sp: sp, rename: !strings.EqualFold(sp.DisplayName, displayName)}
	}
	if len(found.adopt) > 0 {
		sp := found.adopt[0]
		return appDecision{sp: &sp, adopted: len(found.adopt)}
	}
	return appDecision{}
}

// adoptNote says how an adopted configuration was found.
func (d appDecision) adoptNote(byDomain bool) string {
	if d.adopted == 0 {
		return ""
	}
	note := ""
	if byDomain {
		note = " (no domain configured yet)"
	}
	if d.adopted > 1 {
		note += fmt.Sprintf(" (%d with this name exist: using the first; delete the others)", d.adopted)
	}
	return note
}

// lookup is what EnsureApplication found of the tenant's configurations.
type lookup struct {
	match       *graph.ServicePrincipal  // the configuration of the domain
	adopt       []graph.ServicePrincipal // named as asked, no domain yet: a lost attempt of ours
	otherDomain string                   // a domain configured under the asked name
}

// lookupByDomain looks for the configuration of domain among the tenant's
// AD2AAD service principals: first those made from the template (one list,
// then one secrets read per candidate, the ones named as asked first, until
// the domain is found), then, if it is not among them, those named as asked
// whose applicationTemplateId is null (the Entra portal may make them so),
// each confirmed by its jobs before its secrets are read (unless byName is
// false).
func lookupByDomain(ctx context.Context, c *graph.Client, domain, name string, byName bool) (lookup, error) {
	var l lookup
	seen := map[string]bool{}
	check := func(sps []graph.ServicePrincipal, confirm bool) error {
		sort.SliceStable(sps, func(i, j int) bool {
			ni, nj := strings.EqualFold(sps[i].DisplayName, name), strings.EqualFold(sps[j].DisplayName, name)
			if ni != nj {
				return ni
			}
			return sps[i].ID < sps[j].ID
		})
		for _, sp := range sps {
			if seen[sp.ID] {
				continue
			}
			seen[sp.ID] = true
			if confirm && !strings.EqualFold(sp.ApplicationTemplateID, graph.AD2AADTemplateID) {
				ok, err := isCloudSync(ctx, c, sp.ID)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
			}
			d, err := configuredDomain(ctx, c, sp.ID)
			if err != nil {
				return err
			}
			switch {
			case d == domain:
				sp := sp
				l.match = &sp
				return nil // one secrets read per candidate, and none once found
			case d == "" && strings.EqualFold(sp.DisplayName, name):
				l.adopt = append(l.adopt, sp)
			case d != "" && strings.EqualFold(sp.DisplayName, name) && l.otherDomain == "":
				l.otherDomain = d
			}
		}
		return nil
	}
	sps, err := c.ServicePrincipalsOfTemplate(ctx, graph.AD2AADTemplateID)
	if err != nil {
		return l, err
	}
	if err := check(sps, false); err != nil || l.match != nil || !byName {
		return l, err
	}
	named, err := c.ServicePrincipalsNamed(ctx, name)
	if err != nil {
		return l, err
	}
	return l, check(named, true)
}

// lookupByName is the lookup by display name alone (inputs without a domain).
func lookupByName(ctx context.Context, c *graph.Client, name string) (lookup, error) {
	sps, err := c.FindServicePrincipals(ctx, graph.AD2AADTemplateID, name)
	if err != nil {
		return lookup{}, err
	}
	sort.Slice(sps, func(i, j int) bool { return sps[i].ID < sps[j].ID })
	return lookup{adopt: sps}, nil
}

// configuredDomain reads the domain a service principal's Domain secret names
// ("" when it has none). A service principal not readable yet (replication)
// is a fresh one: nothing configured yet.
func configuredDomain(ctx context.Context, c *graph.Client, spID string) (string, error) {
	secrets, err := c.GetSecrets(ctx, spID)
	if graph.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	d, _ := graph.SecretDomain(secrets)
	return d, nil
}

// isCloudSync confirms that a service principal not made from the AD2AAD
// template (as far as Graph says) is a cloud sync configuration: it has a
// provisioning job, recognised by its template or by its id (the seed's own
// answers show another templateId for an AD2AADProvisioning.… job).
func isCloudSync(ctx context.Context, c *graph.Client, spID string) (bool, error) {
	jobs, err := c.ListJobs(ctx, spID)
	if graph.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, j := range jobs {
		if isProvisioningJob(j.TemplateID, j.ID) {
			return true, nil
		}
	}
	return false, nil
}

func isProvisioningJob(templateID, id string) bool {
	p := graph.TemplateProvisioning + "."
	return strings.EqualFold(templateID, graph.TemplateProvisioning) || (len(id) > len(p) && strings.EqualFold(id[:len(p)], p))
}

// WaitForServicePrincipal succeeds once the service principal is readable.
// It waits out the replication lag within the attempt (one GET per poll, one
// in all when there is no lag); a lag longer than the window ends the attempt
// with a retryable error, and the retry policy carries on.
func (a *Activities) WaitForServicePrincipal(ctx context.Context, in wf.ServicePrincipalInput) error {
	c, err := a.client(in.TenantID)
	if err != nil {
		return err
	}
	return a.waitOut(ctx, func(int) error {
		if _, err := c.GetServicePrincipal(ctx, in.ServicePrincipalID); err != nil {
			if graph.IsNotFound(err) {
				return benign("service principal "+in.ServicePrincipalID+" is not visible yet (Graph replication)", wf.ErrServicePrincipalNotVisible)
			}
			return toTemporal(err, false)
		}
		return nil
	}, isLag)
}

// EnsureJobs creates the jobs whose template has none yet. Graph accepts a
// second job of the same template, so it looks first: it lists the jobs, or,
// on its first attempt only, takes the listing the previous step of this run
// made (in.Seen; see JobsSeen).
func (a *Activities) EnsureJobs(ctx context.Context, in wf.EnsureJobsInput) (wf.EnsureJobsResult, error) {
	return settling(ctx, a, in.SPCreated, func(again bool) (wf.EnsureJobsResult, error) {
		if again {
			in.Seen = nil
		}
		return a.ensureJobs(ctx, in)
	})
}

func (a *Activities) ensureJobs(ctx context.Context, in wf.EnsureJobsInput) (wf.EnsureJobsResult, error) {
	res := wf.EnsureJobsResult{Jobs: map[string]string{}, Report: wf.StepReport{Step: wf.StepJobs}}
	c, jobs, err := a.tenantJobs(ctx, in.TenantID, in.ServicePrincipalID, in.Seen, in.SPCreated)
	if err != nil {
		return res, err
	}
	sort.Slice(jobs, func(i, j int) bool { return jobs[i].ID < jobs[j].ID })
	res.Jobs = jobsByTemplate(jobs)
	found, missing := missingTemplates(res.Jobs, in.Templates)
	var created []string
	for _, t := range missing {
		j, err := c.CreateJob(ctx, in.ServicePrincipalID, t)
		if err != nil {
			return res, a.syncErr(err, in.SPCreated)
		}
		res.Jobs[t] = j.ID
		created = append(created, t)
		jobs = append(jobs, seenJob(j))
	}
	res.Seen = newSeen(ctx, jobs)
	res.Created = created
	res.Report.Outcome = wf.OutcomeUnchanged
	if len(created) > 0 {
		res.Report.Outcome = wf.OutcomeCreated
	}
	res.Report.Detail = wf.JoinDetail(wf.JoinDetail("", "created", created), "found", found)
	return res, nil
}

// jobsByTemplate maps each template to its job (the lowest id when Graph
// holds two). The jobs step's view, shared by the onboarding and the plan.
func jobsByTemplate(jobs []wf.SeenJob) map[string]string {
	jobs = append([]wf.SeenJob(nil), jobs...)
	sort.Slice(jobs, func(i, j int) bool { return jobs[i].ID < jobs[j].ID })
	out := map[string]string{}
	for _, j := range jobs {
		if _, ok := out[j.TemplateID]; !ok {
			out[j.TemplateID] = j.ID
		}
	}
	return out
}

// missingTemplates is the jobs step's decision: which of the templates have a
// job, and which need one created (Graph accepts a second job of a template).
func missingTemplates(byTemplate map[string]string, templates []string) (found, missing []string) {
	for _, t := range templates {
		if _, ok := byTemplate[t]; ok {
			found = append(found, t)
		} else {
			missing = append(missing, t)
		}
	}
	return found, missing
}

// tenantJobs gives the tenant's client and a service principal's jobs: a
// listing handed on by the previous step when it may stand in for one, or a
// fresh one. Its errors are classified for Temporal (see syncErr).
func (a *Activities) tenantJobs(ctx context.Context, tenantID, spID string, seen *wf.JobsSeen, spCreated time.Time) (*graph.Client, []wf.SeenJob, error) {
	c, err := a.client(tenantID)
	if err != nil {
		return nil, nil, err
	}
	if seenUsable(ctx, seen) {
		return c, append([]wf.SeenJob(nil), seen.Jobs...), nil
	}
	list, err := c.ListJobs(ctx, spID)
	if err != nil {
		return nil, nil, a.syncErr(err, spCreated)
	}
	out := make([]wf.SeenJob, 0, len(list))
	for _, j := range list {
		out = append(out, seenJob(j))
	}
	return c, out, nil
}

// appendNotes appends notes to a "; "-separated step detail.
func appendNotes(detail string, notes []string) string {
	for _, n := range notes {
		if detail != "" {
			detail += "; "
		}
		detail += n
	}
	return detail
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
