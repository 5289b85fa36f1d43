package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
	"github.com/cloudsync/cloudsync/starter/pkg/spec"
	"github.com/cloudsync/cloudsync/starter/pkg/text"
	"github.com/cloudsync/cloudsync/starter/pkg/view"
	"github.com/cloudsync/cloudsync/starter/pkg/visibility"
	"github.com/cloudsync/cloudsync/workflows"
)

func (a *app) statusCmd() *cobra.Command {
	var (
		tenant, domain, workflowID string
		out                        cmdutil.OutputFormat
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a tenant's onboardings, offboardings and sync job watchers, or one workflow",
		Long: `Show the status of the onboarding of one tenant and domain (or of a workflow
id): the workflow status, the current step, every step so far, the service
principal and the sync job ids; then every watcher of the tenant with its
state (published in its memo; no query): job id, phase, schedule and status code, quarantine
reason and error, advice, since when deletions await a decision, reminders sent
and the last decision; then the drift line: what the configuration's drift
check found when it last compared it with its spec (none, the drift kinds and
what an onboarding would change to repair them, or unknown when the check
failed), from its memo too.

Without --domain, every onboarding of the tenant is shown (found through
Temporal's visibility store, which trails new workflows by a moment), then its
watchers. An offboarding of the tenant (of the domain) is shown after them,
from the state it publishes in its memo: its phase, what it removes, the
decision and its steps. --workflow-id shows one onboarding, offboarding or
watcher.

Exit 0 when the onboardings shown are running or completed, 1 when one failed
(or was terminated, timed out or canceled), 4 when there is none (and, without
--domain, no watcher either). A watcher --workflow-id exits 1 when the watcher
failed or was terminated.`,
		Example: `  starter status --tenant-id 11111111-2222-3333-4444-555555555555 --domain contoso.com
  starter status --tenant-id 11111111-2222-3333-4444-555555555555
  starter status --workflow-id 'cloudsync-watch/11111111-2222-3333-4444-555555555555/AD2AADProvisioning.0123…'

  # A watcher's status with the plain Temporal CLI:
  temporal workflow query --workflow-id 'cloudsync-watch/<tenant>/<job>' --name ` + workflows.StatusQuery,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, err := a.statusView(cmd.Context(), tenant, domain, workflowID)
			if v == nil {
				return err
			}
			if out.JSON() {
				if jerr := cmdutil.Emit(a.IO.Out, v); jerr != nil {
					return jerr
				}
			} else {
				a.printStatus(v)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&tenant, "tenant-id", "", "directory (tenant) id")
	f.StringVar(&domain, "domain", "", "on-premises AD domain (without it: every onboarding of the tenant)")
	f.StringVar(&workflowID, "workflow-id", "", "workflow id of an onboarding or a watcher (instead of --tenant-id)")
	out.Register(f)
	f.SortFlags = false
	return cmd
}

// statusTarget resolves the workflow id to look at, and how to name it.
func statusTarget(tenant, domain, workflowID string) (id, label string, err error) {
	if strings.TrimSpace(workflowID) != "" {
		if tenant != "" || domain != "" {
			return "", "", cmdutil.Exitf(cmdutil.ExitUsage, "give either --workflow-id, or --tenant-id with or without --domain, not both")
		}
		id = strings.TrimSpace(workflowID)
		return id, "with workflow id " + id, nil
	}
	if tenant == "" && domain == "" {
		return "", "", cmdutil.Exitf(cmdutil.ExitUsage, "give --tenant-id and --domain (one onboarding), --tenant-id alone (all of the tenant's onboardings and watchers), or --workflow-id\nRun 'starter status --help' for usage.")
	}
	s := workflows.TenantSpec{TenantID: tenant, Domain: domain}
	if err := s.Validate(); err != nil {
		return "", "", cmdutil.Exitf(cmdutil.ExitUsage, "%s", spec.ValidationLines(err))
	}
	n := s.Normalized()
	id = workflows.OnboardWorkflowID(n.TenantID, n.Domain)
	return id, fmt.Sprintf("of tenant %s domain %s (workflow id %s)", n.TenantID, n.Domain, id), nil
}

// statusView is what status shows (--output json: this document).
type statusView struct {
	Onboardings []view.OnboardingView `json:"onboardings"`
	Watchers    []view.WatcherView    `json:"watchers"`
	// WatchersTruncated: there are more watchers than are listed.
	WatchersTruncated bool `json:"watchersTruncated,omitempty"`
	// Offboardings of the tenant (or domain), the latest of each.
	Offboardings []view.OffboardView `json:"offboardings,omitempty"`
	// Drift: what each configuration's drift check found.
	Drift []view.DriftView `json:"drift,omitempty"`
	// Plan: a plan shown by its workflow id.
	Plan *view.PlanReport `json:"plan,omitempty"`

	// How the text lays it out.
	tenantWide   bool   // every onboarding of a tenant, each under a heading
	watchersOf   string // heading of the watchers section; empty: no section
	noneWatchers bool   // say "watchers: none" when there are none
	conn         *conn  // for the offboardings' links
}

// offboardingsInto adds a tenant's offboardings (of one domain, if given:
// the latest, read with Describe).
func (a *app) offboardingsInto(ctx context.Context, c *conn, v *statusView, tenant, domain string) error {
	var list []visibility.Execution
	if domain != "" {
		e, err := c.DescribeWatcher(ctx, workflows.OffboardWorkflowID(tenant, domain))
		switch {
		case cmdutil.IsNotFound(err):
			return nil
		case err != nil:
			return c.TemporalError("cannot read the offboarding of tenant "+tenant+" domain "+domain, err)
		}
		list = []visibility.Execution{e}
	} else {
		all, _, err := c.ListExecutions(ctx, "WorkflowType = "+visibility.Quoted(workflows.OffboardTenantWorkflow)+" AND CloudSyncTenant = "+visibility.Quoted(tenant))
		if err != nil {
			return c.TemporalError("cannot list the offboardings of tenant "+tenant, err)
		}
		list = visibility.LatestRuns(all)
	}
	for _, e := range list {
		v.Offboardings = append(v.Offboardings, view.OffboardViewOf(c, e))
	}
	return nil
}

// statusView gathers what status shows; nil with an error when there is
// nothing to show. The error, when there is a view too, carries the exit
// code (and a message for stderr).
func (a *app) statusView(ctx context.Context, tenant, domain, workflowID string) (*statusView, error) {
	if strings.TrimSpace(workflowID) == "" && strings.TrimSpace(domain) == "" && tenant != "" {
		// The whole tenant: its onboardings and watchers.
		var p cmdutil.Problems
		t := cmdutil.CheckTenant(&p, tenant)
		if err := p.Err("invalid status"); err != nil {
			return nil, err
		}
		c, err := a.dial(ctx)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		return a.tenantStatus(ctx, c, t)
	}
	id, label, err := statusTarget(tenant, domain, workflowID)
	if err != nil {
		return nil, err
	}
	c, err := a.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	v := &statusView{Onboardings: []view.OnboardingView{}, Watchers: []view.WatcherView{}, conn: c}
	what := "onboarding"
	if workflowID != "" {
		what = "onboarding or watcher"
	}
	desc, err := describe(ctx, c, id, label, what)
	if err == nil && desc.WorkflowType.Name == workflows.WatchSyncJobWorkflow && workflowID != "" {
		w, werr := a.watcherOf(ctx, c, desc)
		if w == nil {
			return nil, werr
		}
		v.Watchers = append(v.Watchers, *w)
		return v, werr
	}
	if err == nil && desc.WorkflowType.Name == workflows.WatchDriftWorkflow && workflowID != "" {
		v.Drift = append(v.Drift, view.DriftViewOf(c, c.ExecutionOf(desc.RawResponse.GetWorkflowExecutionInfo())))
		return v, nil
	}
	if err == nil && desc.WorkflowType.Name == workflows.PlanTenantWorkflow && workflowID != "" {
		rep, perr := view.PlanReportOf(ctx, c, desc)
		if rep == nil {
			return nil, perr
		}
		v.Plan = rep
		return v, perr
	}
	if err == nil && desc.WorkflowType.Name == workflows.OffboardTenantWorkflow && workflowID != "" {
		e := c.ExecutionOf(desc.RawResponse.GetWorkflowExecutionInfo())
		if errors.Is(e.StateErr, visibility.ErrNeedKeys) {
			return nil, cmdutil.Exitf(cmdutil.ExitUsage, "cannot read the offboarding %s: %v", e.ID, e.StateErr)
		}
		v.Offboardings = append(v.Offboardings, view.OffboardViewOf(c, e))
		return v, view.OffboardExit(e)
	}
	if err == nil {
		var o *view.OnboardingView
		o, err = a.onboardingOf(ctx, c, desc, label)
		if o == nil {
			return nil, err
		}
		v.Onboardings = append(v.Onboardings, *o)
	}
	if workflowID != "" {
		if len(v.Onboardings) == 0 {
			return nil, err
		}
		return v, err
	}
	// The onboarding's exit code stands; the watchers of that domain (only)
	// come in addition.
	var ee *cmdutil.ExitError
	found := !errors.As(err, &ee) || ee.Code != cmdutil.ExitNotFound
	n := workflows.TenantSpec{TenantID: tenant, Domain: domain}.Normalized()
	v.watchersOf, v.noneWatchers = "tenant "+n.TenantID+" domain "+n.Domain, found
	werr := a.watchersInto(ctx, c, v, n.TenantID, n.Domain)
	if werr == nil {
		werr = a.offboardingsInto(ctx, c, v, n.TenantID, n.Domain)
	}
	if werr == nil {
		werr = a.driftInto(ctx, c, v, n.TenantID, n.Domain)
	}
	switch {
	case werr != nil && err == nil:
		return nil, werr
	case !found && len(v.Watchers)+len(v.Offboardings) > 0:
		// Watchers adopted for this domain without an onboarding.
		return v, &cmdutil.ExitError{Code: cmdutil.ExitOK, Msg: ee.Msg}
	case !found:
		return nil, err
	}
	return v, err
}

// tenantStatus gathers every onboarding and watcher of a tenant.
func (a *app) tenantStatus(ctx context.Context, c *conn, tenant string) (*statusView, error) {
	q := "WorkflowType = " + visibility.Quoted(workflows.OnboardTenantWorkflow) + " AND CloudSyncTenant = " + visibility.Quoted(tenant)
	all, _, err := c.ListExecutions(ctx, q)
	if err != nil {
		return nil, c.TemporalError("cannot list the onboardings of tenant "+tenant, err)
	}
	v := &statusView{Onboardings: []view.OnboardingView{}, Watchers: []view.WatcherView{}, tenantWide: true, conn: c}
	code := cmdutil.ExitOK
	for _, e := range visibility.LatestRuns(all) {
		label := "with workflow id " + e.ID
		desc, err := describe(ctx, c, e.ID, label, "onboarding")
		var o *view.OnboardingView
		if err == nil {
			o, err = a.onboardingOf(ctx, c, desc, label)
		}
		var ee *cmdutil.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			if ee.Msg != "" {
				fmt.Fprintln(a.IO.ErrOut, ee.Msg)
			}
			if ee.Code != cmdutil.ExitNotFound && code == cmdutil.ExitOK {
				code = ee.Code
			}
		default:
			return nil, err
		}
		if o != nil {
			o.Domain = e.Domain
			v.Onboardings = append(v.Onboardings, *o)
		}
	}
	v.watchersOf, v.noneWatchers = "tenant "+tenant, len(v.Onboardings) > 0
	if err := a.watchersInto(ctx, c, v, tenant, ""); err != nil {
		return nil, err
	}
	if err := a.offboardingsInto(ctx, c, v, tenant, ""); err != nil {
		return nil, err
	}
	if err := a.driftInto(ctx, c, v, tenant, ""); err != nil {
		return nil, err
	}
	if len(v.Onboardings) == 0 && len(v.Watchers) == 0 && len(v.Offboardings) == 0 {
		return nil, cmdutil.Exitf(cmdutil.ExitNotFound, "no onboarding or watcher of tenant %s found in namespace %s at %s (new workflows reach the listing a moment after they start)",
			tenant, c.Namespace, c.Address)
	}
	if code != cmdutil.ExitOK {
		return v, &cmdutil.ExitError{Code: code}
	}
	return v, nil
}

// watchersInto adds every watcher of a tenant (of one domain, if given; the
// latest run of each) with the state it publishes in its memo.
func (a *app) watchersInto(ctx context.Context, c *conn, v *statusView, tenant, domain string) error {
	all, truncated, err := c.ListExecutions(ctx, visibility.WatchersQuery(tenant, domain, false))
	if err != nil {
		return c.TemporalError("cannot list the watchers of tenant "+tenant, err)
	}
	for _, e := range visibility.LatestRuns(all) {
		v.Watchers = append(v.Watchers, view.WatcherViewOf(c, e, nil))
	}
	v.WatchersTruncated = truncated
	return nil
}

// describe reads one workflow (DescribeWorkflowExecution: no query).
func describe(ctx context.Context, c *conn, id, label, what string) (*client.WorkflowExecutionDescription, error) {
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	desc, err := c.DescribeWorkflow(dctx, id, "")
	if err != nil {
		if cmdutil.IsNotFound(err) {
			return nil, cmdutil.Exitf(cmdutil.ExitNotFound, "no %s %s found in namespace %s at %s", what, label, c.Namespace, c.Address)
		}
		return nil, c.TemporalError("cannot look up the "+what+" "+label, err)
	}
	return desc, nil
}

// onboardingOf is one onboarding run; with exit 1 when it failed (or was
// terminated, timed out or canceled).
func (a *app) onboardingOf(ctx context.Context, c *conn, desc *client.WorkflowExecutionDescription, label string) (*view.OnboardingView, error) {
	id, runID := desc.WorkflowExecution.ID, desc.WorkflowExecution.RunID
	v := &view.OnboardingView{WorkflowID: id, RunID: runID, Status: strings.ToLower(desc.Status.String()), Started: desc.WorkflowStartTime,
		WebUI: c.Link(id), Running: desc.Status == enums.WORKFLOW_EXECUTION_STATUS_RUNNING}
	v.Summary, _ = desc.GetStaticSummary()
	switch desc.Status {
	case enums.WORKFLOW_EXECUTION_STATUS_RUNNING, enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, enums.WORKFLOW_EXECUTION_STATUS_FAILED:
		// Terminated, timed-out or canceled runs never recorded their outcome.
		v.Outcome, _ = desc.TypedSearchAttributes.GetKeyword(workflows.SearchOutcome)
	}
	if desc.WorkflowCloseTime != nil {
		closed := *desc.WorkflowCloseTime
		v.Closed = &closed
	}
	if v.Running {
		// Describe and the search attributes, not the progress query (each
		// query is a billed action): the step, its attempt and last error.
		for _, pa := range desc.RawResponse.GetPendingActivities() {
			v.Attempt = pa.GetAttempt()
			if lf := pa.GetLastFailure(); lf != nil {
				v.LastError = lf.GetMessage()
			}
		}
		v.CurrentStep, _ = desc.TypedSearchAttributes.GetKeyword(workflows.SearchStep)
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		v.Hint, _ = c.NoWorkerHint(hctx)
		return v, nil
	}

	// Closed: the result (or the failure's details) says everything.
	gctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var res workflows.OnboardResult
	err := c.GetWorkflow(gctx, id, runID).Get(gctx, &res)
	if err == nil {
		v.CurrentStep, v.Steps, v.Result = workflows.StepDone, res.Steps, &res
		return v, nil
	}
	var wee *temporal.WorkflowExecutionError
	if !errors.As(err, &wee) {
		if perr := c.PayloadError(err); errors.Is(perr, visibility.ErrNeedKeys) {
			return nil, cmdutil.Exitf(cmdutil.ExitUsage, "cannot read the result of the onboarding %s: %v", label, perr)
		}
		return nil, c.TemporalError("cannot read the result of the onboarding "+label, err)
	}
	f := view.DescribeFailure(err)
	v.Error, v.Validation = text.OneLine(f.Message), f.Validation
	if f.HasResult {
		v.Steps, v.Result = f.Result.Steps, &f.Result
	}
	return v, &cmdutil.ExitError{Code: cmdutil.ExitFailed}
}

// watcherOf is one watcher found by its workflow id; with exit 1 when it
// failed or was terminated.
func (a *app) watcherOf(ctx context.Context, c *conn, desc *client.WorkflowExecutionDescription) (*view.WatcherView, error) {
	e := c.ExecutionOf(desc.RawResponse.GetWorkflowExecutionInfo())
	if errors.Is(e.StateErr, visibility.ErrNeedKeys) {
		return nil, cmdutil.Exitf(cmdutil.ExitUsage, "cannot read the watcher %s: %v", e.ID, e.StateErr)
	}
	gctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	switch desc.Status {
	case enums.WORKFLOW_EXECUTION_STATUS_RUNNING:
	case enums.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		var st workflows.WatchState
		if err := c.GetWorkflow(gctx, e.ID, e.RunID).Get(gctx, &st); err == nil {
			v := view.WatcherViewOf(c, e, &st)
			v.Summary, _ = desc.GetStaticSummary()
			return &v, nil
		}
	default:
		// Failed, terminated, timed out or canceled: its last published
		// state (memo) and how it ended.
		v := view.WatcherViewOf(c, e, nil)
		v.Summary, _ = desc.GetStaticSummary()
		if err := c.GetWorkflow(gctx, e.ID, e.RunID).Get(gctx, nil); err != nil {
			msg := view.DescribeFailure(err).Message
			if how := view.EndedHow(err, "watcher"); how != "" {
				msg = how
			}
			v.Error = text.OneLine(msg)
		}
		return &v, &cmdutil.ExitError{Code: cmdutil.ExitFailed}
	}
	v := view.WatcherViewOf(c, e, nil)
	v.Summary, _ = desc.GetStaticSummary()
	return &v, nil
}

// printStatus prints a status view as text.
func (a *app) printStatus(v *statusView) {
	w := a.IO.Out
	for i, o := range v.Onboardings {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if v.tenantWide {
			fmt.Fprintf(w, "onboarding of %s:\n", text.OrDash(o.Domain))
		}
		view.PrintOnboarding(w, o)
	}
	if v.watchersOf == "" {
		if v.Plan != nil {
			view.PrintPlans(w, *v.Plan)
		}
		for _, d := range v.Drift {
			fmt.Fprintf(w, "%-14s %s\n%-14s %s\n%-14s %s\n", "workflow id:", d.WorkflowID, "tenant:", d.TenantID, "domain:", d.Domain)
			view.PrintDrift(w, "drift", d.Exec)
			fmt.Fprintf(w, "%-14s %s\n", "web ui:", d.WebUI)
		}
		a.printOffboardings(v)
		// One watcher or offboarding, by its workflow id.
		for _, wv := range v.Watchers {
			if wv.Summary != "" {
				fmt.Fprintf(w, "%-16s %s\n", "summary:", wv.Summary)
			}
			view.PrintWatcher(w, "", wv)
			if wv.Error != "" || (!wv.Running && wv.Status != visibility.StatusWord(enums.WORKFLOW_EXECUTION_STATUS_COMPLETED)) {
				if wv.Error != "" {
					fmt.Fprintf(w, "%-16s %s\n", "error:", wv.Error)
				}
				fmt.Fprintf(w, "%-16s %s\n", "watch again:", "starter watch --tenant-id "+text.OrDash(wv.TenantID)+" --service-principal-id <sp> --job-id "+wv.JobID)
			}
		}
		return
	}
	if len(v.Onboardings) > 0 {
		fmt.Fprintln(w)
	}
	a.printWatchers(v)
	if len(v.Drift) > 0 {
		fmt.Fprintln(w)
	}
	for _, d := range v.Drift {
		label := "drift"
		if v.tenantWide {
			label = "drift of " + text.OrDash(d.Domain)
		}
		view.PrintDrift(w, label, d.Exec)
	}
	a.printOffboardings(v)
}

// printWatchers prints the watchers section of a tenant's (or domain's) status.
func (a *app) printWatchers(v *statusView) {
	w := a.IO.Out
	if len(v.Watchers) == 0 {
		if v.noneWatchers {
			fmt.Fprintf(w, "%-14s none\n", "watchers:")
		}
		return
	}
	fmt.Fprintf(w, "watchers of %s (%d):\n", v.watchersOf, len(v.Watchers))
	for i, wv := range v.Watchers {
		if i > 0 {
			fmt.Fprintln(w)
		}
		view.PrintWatcher(w, "  ", wv)
	}
	if v.WatchersTruncated {
		fmt.Fprintf(w, "(only the first %d watchers)\n", len(v.Watchers))
	}
}

// printOffboardings prints the offboardings after the rest; one shown by its
// workflow id stands alone.
func (a *app) printOffboardings(v *statusView) {
	for _, o := range v.Offboardings {
		if v.watchersOf == "" && len(v.Onboardings)+len(v.Watchers) == 0 {
			view.PrintOffboard(a.IO.Out, v.conn, o.Exec)
			continue
		}
		fmt.Fprintln(a.IO.Out)
		fmt.Fprintf(a.IO.Out, "offboarding of %s:\n", text.OrDash(o.Domain))
		view.PrintOffboardState(a.IO.Out, v.conn, o.Exec, "  ")
	}
}

// driftInto adds the drift checks of a tenant's configurations (of one
// domain, if given), from their memos and search attributes.
func (a *app) driftInto(ctx context.Context, c *conn, v *statusView, tenant, domain string) error {
	all, _, err := c.ListExecutions(ctx, visibility.DriftQuery(tenant, domain))
	if err != nil {
		return c.TemporalError("cannot list the drift checks of tenant "+tenant, err)
	}
	for _, e := range visibility.LatestRuns(all) {
		v.Drift = append(v.Drift, view.DriftViewOf(c, e))
	}
	return nil
}
