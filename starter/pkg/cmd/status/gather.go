package status

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
	"github.com/cloudsync/cloudsync/starter/pkg/text"
	"github.com/cloudsync/cloudsync/starter/pkg/view"
	"github.com/cloudsync/cloudsync/starter/pkg/visibility"
	"github.com/cloudsync/cloudsync/workflows"
)

// offboardingsInto adds a tenant's offboardings (of one domain, if given:
// the latest, read with Describe).
func (opts *StatusOptions) offboardingsInto(ctx context.Context, c *visibility.Conn, v *View, tenant, domain string) error {
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

// gather collects what status shows; nil with an error when there is
// nothing to show. The error, when there is a view too, carries the exit
// code (and a message for stderr).
func (opts *StatusOptions) gather(ctx context.Context, tenant, domain, workflowID string) (*View, error) {
	if strings.TrimSpace(workflowID) == "" && strings.TrimSpace(domain) == "" && tenant != "" {
		// The whole tenant: its onboardings and watchers.
		var p cmdutil.Problems
		t := cmdutil.CheckTenant(&p, tenant)
		if err := p.Err("invalid status"); err != nil {
			return nil, err
		}
		c, err := opts.dial(ctx)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		return opts.tenantStatus(ctx, c, t)
	}
	id, label, err := statusTarget(tenant, domain, workflowID)
	if err != nil {
		return nil, err
	}
	c, err := opts.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	v := &View{Onboardings: []view.OnboardingView{}, Watchers: []view.WatcherView{}, conn: c}
	what := "onboarding"
	if workflowID != "" {
		what = "onboarding or watcher"
	}
	desc, err := describe(ctx, c, id, label, what)
	if err == nil && desc.WorkflowType.Name == workflows.WatchSyncJobWorkflow && workflowID != "" {
		w, werr := opts.watcherOf(ctx, c, desc)
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
		o, err = opts.onboardingOf(ctx, c, desc, label)
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
	werr := opts.watchersInto(ctx, c, v, n.TenantID, n.Domain)
	if werr == nil {
		werr = opts.offboardingsInto(ctx, c, v, n.TenantID, n.Domain)
	}
	if werr == nil {
		werr = opts.driftInto(ctx, c, v, n.TenantID, n.Domain)
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
func (opts *StatusOptions) tenantStatus(ctx context.Context, c *visibility.Conn, tenant string) (*View, error) {
	q := "WorkflowType = " + visibility.Quoted(workflows.OnboardTenantWorkflow) + " AND CloudSyncTenant = " + visibility.Quoted(tenant)
	all, _, err := c.ListExecutions(ctx, q)
	if err != nil {
		return nil, c.TemporalError("cannot list the onboardings of tenant "+tenant, err)
	}
	v := &View{Onboardings: []view.OnboardingView{}, Watchers: []view.WatcherView{}, tenantWide: true, conn: c}
	code := cmdutil.ExitOK
	for _, e := range visibility.LatestRuns(all) {
		label := "with workflow id " + e.ID
		desc, err := describe(ctx, c, e.ID, label, "onboarding")
		var o *view.OnboardingView
		if err == nil {
			o, err = opts.onboardingOf(ctx, c, desc, label)
		}
		var ee *cmdutil.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			if ee.Msg != "" {
				fmt.Fprintln(opts.IO.ErrOut, ee.Msg)
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
	if err := opts.watchersInto(ctx, c, v, tenant, ""); err != nil {
		return nil, err
	}
	if err := opts.offboardingsInto(ctx, c, v, tenant, ""); err != nil {
		return nil, err
	}
	if err := opts.driftInto(ctx, c, v, tenant, ""); err != nil {
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
func (opts *StatusOptions) watchersInto(ctx context.Context, c *visibility.Conn, v *View, tenant, domain string) error {
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
func describe(ctx context.Context, c *visibility.Conn, id, label, what string) (*client.WorkflowExecutionDescription, error) {
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
func (opts *StatusOptions) onboardingOf(ctx context.Context, c *visibility.Conn, desc *client.WorkflowExecutionDescription, label string) (*view.OnboardingView, error) {
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
func (opts *StatusOptions) watcherOf(ctx context.Context, c *visibility.Conn, desc *client.WorkflowExecutionDescription) (*view.WatcherView, error) {
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

// driftInto adds the drift checks of a tenant's configurations (of one
// domain, if given), from their memos and search attributes.
func (opts *StatusOptions) driftInto(ctx context.Context, c *visibility.Conn, v *View, tenant, domain string) error {
	all, _, err := c.ListExecutions(ctx, visibility.DriftQuery(tenant, domain))
	if err != nil {
		return c.TemporalError("cannot list the drift checks of tenant "+tenant, err)
	}
	for _, e := range visibility.LatestRuns(all) {
		v.Drift = append(v.Drift, view.DriftViewOf(c, e))
	}
	return nil
}
