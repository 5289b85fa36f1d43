package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/cloudsync/cloudsync/workflows"
)

func (a *app) statusCmd() *cobra.Command {
	var tenant, domain, workflowID string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a tenant's onboardings and sync job watchers, or one workflow",
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
watchers. --workflow-id shows one onboarding or one watcher.

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
			ctx := cmd.Context()
			if strings.TrimSpace(workflowID) == "" && strings.TrimSpace(domain) == "" && tenant != "" {
				// The whole tenant: its onboardings and watchers.
				var p problems
				t := checkTenant(&p, tenant)
				if err := p.err("invalid status"); err != nil {
					return err
				}
				c, err := a.conn.dial(ctx, a.stderr)
				if err != nil {
					return err
				}
				defer c.Close()
				return a.tenantStatus(ctx, c, t)
			}
			id, label, err := statusTarget(tenant, domain, workflowID)
			if err != nil {
				return err
			}
			c, err := a.conn.dial(ctx, a.stderr)
			if err != nil {
				return err
			}
			defer c.Close()
			if workflowID != "" {
				return a.status(ctx, c, id, label, "onboarding or watcher")
			}
			err = a.status(ctx, c, id, label, "onboarding")
			var ee *exitError
			found := !errors.As(err, &ee) || ee.code != exitNotFound
			if found {
				fmt.Fprintln(a.stdout)
			}
			// The onboarding's exit code stands; the watchers of that domain
			// (only) come in addition.
			n := workflows.TenantSpec{TenantID: tenant, Domain: domain}.Normalized()
			shown, werr := a.tenantWatchers(ctx, c, n.TenantID, n.Domain, found)
			if werr == nil {
				_, werr = a.tenantDrift(ctx, c, n.TenantID, n.Domain)
			}
			switch {
			case werr != nil && err == nil:
				return werr
			case !found && shown > 0:
				// Watchers adopted for this domain without an onboarding.
				fmt.Fprintln(a.stderr, ee.msg)
				return nil
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&tenant, "tenant-id", "", "directory (tenant) id")
	f.StringVar(&domain, "domain", "", "on-premises AD domain (without it: every onboarding of the tenant)")
	f.StringVar(&workflowID, "workflow-id", "", "workflow id of an onboarding or a watcher (instead of --tenant-id)")
	f.SortFlags = false
	return cmd
}

// statusTarget resolves the workflow id to look at, and how to name it.
func statusTarget(tenant, domain, workflowID string) (id, label string, err error) {
	if strings.TrimSpace(workflowID) != "" {
		if tenant != "" || domain != "" {
			return "", "", exitf(exitUsage, "give either --workflow-id, or --tenant-id with or without --domain, not both")
		}
		id = strings.TrimSpace(workflowID)
		return id, "with workflow id " + id, nil
	}
	if tenant == "" && domain == "" {
		return "", "", exitf(exitUsage, "give --tenant-id and --domain (one onboarding), --tenant-id alone (all of the tenant's onboardings and watchers), or --workflow-id\nRun 'starter status --help' for usage.")
	}
	s := workflows.TenantSpec{TenantID: tenant, Domain: domain}
	if err := s.Validate(); err != nil {
		return "", "", exitf(exitUsage, "%s", validationLines(err))
	}
	n := s.Normalized()
	id = workflows.OnboardWorkflowID(n.TenantID, n.Domain)
	return id, fmt.Sprintf("of tenant %s domain %s (workflow id %s)", n.TenantID, n.Domain, id), nil
}

// tenantStatus shows every onboarding and watcher of a tenant.
func (a *app) tenantStatus(ctx context.Context, c *conn, tenant string) error {
	q := "WorkflowType = " + quoted(workflows.OnboardTenantWorkflow) + " AND CloudSyncTenant = " + quoted(tenant)
	all, _, err := listExecutions(ctx, c, q)
	if err != nil {
		return c.temporalError("cannot list the onboardings of tenant "+tenant, err)
	}
	onboardings := latestRuns(all)
	code := exitOK
	for i, e := range onboardings {
		if i > 0 {
			fmt.Fprintln(a.stdout)
		}
		fmt.Fprintf(a.stdout, "onboarding of %s:\n", orDash(e.domain))
		err := a.status(ctx, c, e.id, "with workflow id "+e.id, "onboarding")
		var ee *exitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			if ee.msg != "" {
				fmt.Fprintln(a.stderr, ee.msg)
			}
			if ee.code != exitNotFound && code == exitOK {
				code = ee.code
			}
		default:
			return err
		}
	}
	if len(onboardings) > 0 {
		fmt.Fprintln(a.stdout)
	}
	n, err := a.tenantWatchers(ctx, c, tenant, "", len(onboardings) > 0)
	if err != nil {
		return err
	}
	if _, err := a.tenantDrift(ctx, c, tenant, ""); err != nil {
		return err
	}
	if len(onboardings) == 0 && n == 0 {
		return exitf(exitNotFound, "no onboarding or watcher of tenant %s found in namespace %s at %s (new workflows reach the listing a moment after they start)",
			tenant, c.namespace, c.address)
	}
	if code != exitOK {
		return &exitError{code: code}
	}
	return nil
}

// tenantWatchers prints every watcher of a tenant (of one domain, if given;
// the latest run of each), with the state it publishes in its memo; "none"
// only when always is set.
func (a *app) tenantWatchers(ctx context.Context, c *conn, tenant, domain string, always bool) (int, error) {
	all, truncated, err := listExecutions(ctx, c, watchersQuery(tenant, domain, false))
	if err != nil {
		return 0, c.temporalError("cannot list the watchers of tenant "+tenant, err)
	}
	list := latestRuns(all)
	w := a.stdout
	if len(list) == 0 {
		if always {
			fmt.Fprintf(w, "%-14s none\n", "watchers:")
		}
		return 0, nil
	}
	of := "tenant " + tenant
	if domain != "" {
		of += " domain " + domain
	}
	fmt.Fprintf(w, "watchers of %s (%d):\n", of, len(list))
	for i, e := range list {
		if i > 0 {
			fmt.Fprintln(w)
		}
		printWatcher(w, c, "  ", e, nil)
	}
	if truncated {
		fmt.Fprintf(w, "(only the first %d watchers)\n", len(list))
	}
	return len(list), nil
}

func (a *app) status(ctx context.Context, c *conn, id, label, what string) error {
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	desc, err := c.DescribeWorkflow(dctx, id, "")
	if err != nil {
		if isNotFound(err) {
			return exitf(exitNotFound, "no %s %s found in namespace %s at %s", what, label, c.namespace, c.address)
		}
		return c.temporalError("cannot look up the "+what+" "+label, err)
	}
	switch desc.WorkflowType.Name {
	case workflows.WatchSyncJobWorkflow:
		return a.watcherStatus(ctx, c, desc)
	case workflows.PlanTenantWorkflow:
		return a.planStatus(ctx, c, desc)
	case workflows.WatchDriftWorkflow:
		e := c.executionOf(desc.RawResponse.GetWorkflowExecutionInfo())
		fmt.Fprintf(a.stdout, "%-14s %s\n%-14s %s\n%-14s %s\n", "workflow id:", e.id, "tenant:", e.tenant, "domain:", e.domain)
		printDrift(a.stdout, "drift", e)
		fmt.Fprintf(a.stdout, "%-14s %s\n", "web ui:", c.link(e.id))
		return nil
	}
	w := a.stdout
	runID := desc.WorkflowExecution.RunID
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "%-14s %s\n", k+":", v)
		}
	}
	row("workflow id", id)
	row("run id", runID)
	if summary, _ := desc.GetStaticSummary(); summary != "" {
		row("summary", summary)
	}
	row("status", strings.ToLower(desc.Status.String()))
	switch desc.Status {
	case enums.WORKFLOW_EXECUTION_STATUS_RUNNING, enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, enums.WORKFLOW_EXECUTION_STATUS_FAILED:
		// Terminated, timed-out or canceled runs never recorded their outcome.
		outcome, _ := desc.TypedSearchAttributes.GetKeyword(workflows.SearchOutcome)
		row("outcome", outcome)
	}
	row("started", desc.WorkflowStartTime.Local().Format(time.RFC3339))
	if desc.WorkflowCloseTime != nil {
		row("closed", fmt.Sprintf("%s (took %s)", desc.WorkflowCloseTime.Local().Format(time.RFC3339), desc.WorkflowCloseTime.Sub(desc.WorkflowStartTime).Round(time.Second)))
	}
	row("web ui", c.link(id))

	if desc.Status == enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		// Describe and the search attributes, not the progress query (each
		// query is a billed action): the step, its attempt and last error.
		var attempt int32
		var lastErr string
		for _, pa := range desc.RawResponse.GetPendingActivities() {
			attempt = pa.GetAttempt()
			if lf := pa.GetLastFailure(); lf != nil {
				lastErr = lf.GetMessage()
			}
		}
		step, _ := desc.TypedSearchAttributes.GetKeyword(workflows.SearchStep)
		row("current step", withAttempt(step, attempt))
		row("last error", oneLine(lastErr))
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if hint, _ := noWorkerHint(hctx, c); hint != "" {
			row("progress", hint)
		} else {
			row("steps", "listed when it ends (each step's outcome is on the Web UI page meanwhile)")
		}
		return nil
	}

	// Closed: the result (or the failure's details) says everything.
	gctx, cancel2 := context.WithTimeout(ctx, 15*time.Second)
	defer cancel2()
	var res workflows.OnboardResult
	err = c.GetWorkflow(gctx, id, runID).Get(gctx, &res)
	if err == nil {
		row("current step", workflows.StepDone)
		printSteps(w, res.Steps)
		fmt.Fprintln(w, "result:        "+res.Summary())
		printResult(w, res)
		return nil
	}
	var wee *temporal.WorkflowExecutionError
	if !errors.As(err, &wee) {
		if perr := c.payloadError(err); errors.Is(perr, errNeedKeys) {
			return exitf(exitUsage, "cannot read the result of the onboarding %s: %v", label, perr)
		}
		return c.temporalError("cannot read the result of the onboarding "+label, err)
	}
	f := describeFailure(err)
	row("error", oneLine(f.message))
	if f.hasResult {
		printSteps(w, f.result.Steps)
		fmt.Fprintln(w, "what exists now (a re-run after the fix reuses it):")
		printResult(w, f.result)
	}
	if f.validation != "" {
		fmt.Fprintln(w, f.validation)
	}
	return &exitError{code: exitFailed}
}

func withAttempt(step string, attempt int32) string {
	if step == "" || attempt <= 1 {
		return step
	}
	return fmt.Sprintf("%s (attempt %d)", step, attempt)
}

func printSteps(w io.Writer, steps []workflows.StepReport) {
	if len(steps) == 0 {
		fmt.Fprintln(w, "steps:         none yet")
		return
	}
	fmt.Fprintln(w, "steps:")
	for _, s := range steps {
		fmt.Fprintln(w, stepLine(s))
	}
}

// watcherStatus shows one watcher found by its workflow id.
func (a *app) watcherStatus(ctx context.Context, c *conn, desc *client.WorkflowExecutionDescription) error {
	e := c.executionOf(desc.RawResponse.GetWorkflowExecutionInfo())
	if errors.Is(e.stateErr, errNeedKeys) {
		return exitf(exitUsage, "cannot read the watcher %s: %v", e.id, e.stateErr)
	}
	w := a.stdout
	if summary, _ := desc.GetStaticSummary(); summary != "" {
		fmt.Fprintf(w, "%-16s %s\n", "summary:", summary)
	}
	switch desc.Status {
	case enums.WORKFLOW_EXECUTION_STATUS_RUNNING:
		printWatcher(w, c, "", e, nil)
		return nil
	case enums.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		gctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		var st workflows.WatchState
		if err := c.GetWorkflow(gctx, e.id, e.runID).Get(gctx, &st); err == nil {
			printWatcher(w, c, "", e, &st)
			return nil
		}
		printWatcher(w, c, "", e, nil)
		return nil
	}
	// Failed, terminated, timed out or canceled: its last published state
	// (memo) and how it ended.
	printWatcher(w, c, "", e, nil)
	gctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := c.GetWorkflow(gctx, e.id, e.runID).Get(gctx, nil); err != nil {
		msg := describeFailure(err).message
		var (
			term     *temporal.TerminatedError
			timeout  *temporal.TimeoutError
			canceled *temporal.CanceledError
		)
		switch {
		case errors.As(err, &term):
			msg = "the watcher was terminated (the Web UI shows by whom and why)"
		case errors.As(err, &timeout):
			msg = "the watcher timed out (" + timeout.TimeoutType().String() + ")"
		case errors.As(err, &canceled):
			msg = "the watcher was canceled"
		}
		fmt.Fprintf(w, "%-16s %s\n", "error:", oneLine(msg))
	}
	fmt.Fprintf(w, "%-16s %s\n", "watch again:", "starter watch --tenant-id "+orDash(e.tenant)+" --service-principal-id <sp> --job-id "+e.jobID())
	return &exitError{code: exitFailed}
}
