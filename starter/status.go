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
	"go.temporal.io/sdk/temporal"

	"github.com/cloudsync/cloudsync/workflows"
)

func (a *app) statusCmd() *cobra.Command {
	var tenant, domain, workflowID string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show an onboarding's status, steps and what it made",
		Long: `Show the status of the onboarding of one tenant and domain (or of a workflow
id): the workflow status, the current step, every step so far, the service
principal and the sync job ids. Exit 0 when it is running or completed, 1 when
it failed (or was terminated, timed out or canceled), 4 when there is none.`,
		Example: `  starter status --tenant-id 11111111-2222-3333-4444-555555555555 --domain contoso.com`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, label, err := statusTarget(tenant, domain, workflowID)
			if err != nil {
				return err
			}
			c, err := a.conn.dial(cmd.Context(), a.stderr)
			if err != nil {
				return err
			}
			defer c.Close()
			return a.status(cmd.Context(), c, id, label)
		},
	}
	f := cmd.Flags()
	f.StringVar(&tenant, "tenant-id", "", "directory (tenant) id")
	f.StringVar(&domain, "domain", "", "on-premises AD domain")
	f.StringVar(&workflowID, "workflow-id", "", "workflow id (instead of --tenant-id and --domain)")
	f.SortFlags = false
	return cmd
}

// statusTarget resolves the workflow id to look at, and how to name it.
func statusTarget(tenant, domain, workflowID string) (id, label string, err error) {
	if strings.TrimSpace(workflowID) != "" {
		if tenant != "" || domain != "" {
			return "", "", exitf(exitUsage, "give either --workflow-id, or --tenant-id with --domain, not both")
		}
		id = strings.TrimSpace(workflowID)
		return id, "with workflow id " + id, nil
	}
	if tenant == "" && domain == "" {
		return "", "", exitf(exitUsage, "give --tenant-id and --domain (or --workflow-id)\nRun 'starter status --help' for usage.")
	}
	s := workflows.TenantSpec{TenantID: tenant, Domain: domain}
	if err := s.Validate(); err != nil {
		return "", "", exitf(exitUsage, "%s", validationLines(err))
	}
	n := s.Normalized()
	id = workflows.OnboardWorkflowID(n.TenantID, n.Domain)
	return id, fmt.Sprintf("of tenant %s domain %s (workflow id %s)", n.TenantID, n.Domain, id), nil
}

func (a *app) status(ctx context.Context, c *conn, id, label string) error {
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	desc, err := c.DescribeWorkflow(dctx, id, "")
	if err != nil {
		if isNotFound(err) {
			return exitf(exitNotFound, "no onboarding %s found in namespace %s at %s", label, c.namespace, c.address)
		}
		return c.temporalError("cannot look up the onboarding "+label, err)
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
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		var attempt int32
		var lastErr string
		for _, pa := range desc.RawResponse.GetPendingActivities() {
			attempt = pa.GetAttempt()
			if lf := pa.GetLastFailure(); lf != nil {
				lastErr = lf.GetMessage()
			}
		}
		hint, _ := noWorkerHint(qctx, c)
		var prog workflows.Progress
		if hint == "" {
			prog, err = queryProgress(qctx, c, id, runID)
			if err != nil {
				hint = fmt.Sprintf("unavailable (%v): is a worker polling task queue %q?", rootCause(err), workflows.TaskQueue)
			}
		}
		if hint != "" {
			step, _ := desc.TypedSearchAttributes.GetKeyword(workflows.SearchStep)
			row("current step", withAttempt(step, attempt))
			row("last error", oneLine(lastErr))
			row("progress", hint)
			return nil
		}
		if prog.Attempt > 0 {
			attempt = prog.Attempt
		}
		if prog.LastError != "" {
			lastErr = prog.LastError
		}
		row("current step", withAttempt(prog.CurrentStep, attempt))
		row("last error", oneLine(lastErr))
		printSteps(w, prog.Result.Steps)
		printResult(w, prog.Result)
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
