// Package offboard is starter offboard: a tenant domain's configuration
// removed by the OffboardTenant workflow once a human approves.
package offboard

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
	"github.com/cloudsync/cloudsync/starter/pkg/text"
	"github.com/cloudsync/cloudsync/starter/pkg/view"
	"github.com/cloudsync/cloudsync/starter/pkg/visibility"
	"github.com/cloudsync/cloudsync/workflows"
)

// OffboardOptions are offboard's parsed flags and what it runs with.
type OffboardOptions struct {
	IO           *cmdutil.IOStreams
	Dial         func(context.Context) (*cmdutil.Conn, error)
	PollInterval time.Duration // how often --wait and the first list are read

	Input workflows.OffboardInput // checked and normalized
	// Decision is the decision to send (--approve or --reject); nil: start
	// the offboarding or show the running one.
	Decision *workflows.OffboardDecisionRequest

	flags offboardFlags
}

// Approve says whether the decision approves (else rejects).
func (o *OffboardOptions) Approve() bool { return o.flags.approve }

// offboardFlags are what 'starter offboard' takes.
type offboardFlags struct {
	tenant, domain, displayName string
	allowed                     []string
	approve, reject, wait       bool
	approver, reason            string
	timeout                     time.Duration
}

// NewCmdOffboard is starter offboard; runF (nil: the real run) gets the
// parsed options, which tests capture without a server.
func NewCmdOffboard(fac *cmdutil.Factory, runF func(*OffboardOptions) error) *cobra.Command {
	opts := &OffboardOptions{IO: fac.IO, Dial: fac.Dial, PollInterval: fac.PollInterval}
	f := &opts.flags
	cmd := &cobra.Command{
		Use:   "offboard",
		Short: "Remove a tenant domain's cloud sync configuration, after a human approves",
		Long: `Start the OffboardTenant workflow for one tenant and domain (or show the one
running). It finds the domain's configuration as onboarding does (the service
principal whose Domain secret names the domain; with --display-name also one the
Entra portal made under that name), publishes what it would remove (the sync
jobs, the service principal, the application) and waits for a human. This
command waits until that list is published, prints it and how to decide.
Nothing found: it completes at once, saying there is nothing to remove.

--approve or --reject, with --approver (an e-mail address) and --reason, sends
the decision (the update ` + workflows.ApproveOffboardUpdate + ` or ` + workflows.RejectOffboardUpdate + `), recorded in the
workflow. Approved, the workflow stops watching (it ends each job's watcher,
recorded with who and why, and cancels the domain's drift check), then
deletes the jobs, the service principal and the application, one step each
("deleted", or "already gone"). Before each delete it checks that the object
still belongs to this domain's configuration; it never deletes anything
else. Rejected or cancelled, it removes nothing. It never turns the tenant's
onPremisesSyncEnabled off: the flag is tenant-wide.

Safe to re-run: every step is idempotent, a crash is retried where it
stopped, and a new run removes what is left. A second offboarding of the same
tenant and domain is refused while one runs (this command shows it instead);
an offboarding is refused while an onboarding of the same pair runs.
--allowed-approver (repeatable) limits who may decide. --wait follows the
offboarding to its end, printing each step (with a decision: after it; on a
start: through the approval). No query is ever sent: the state is read from
the workflow's memo with Describe.

Exit codes: 0 published and awaiting a decision, nothing to remove, decided,
or (--wait) offboarded or rejected; 1 the offboarding failed or was cancelled,
the decision was refused (approver not allowed, already decided) or no answer
in time; 2 bad input (nothing sent); 3 an onboarding of the same tenant and
domain is running; 4 no offboarding to decide on, or nothing awaits a
decision; 5 Temporal unreachable or no worker to answer; 130 interrupted.`,
		Example: `  starter offboard --tenant-id 11111111-2222-3333-4444-555555555555 --domain contoso.com
  starter offboard --tenant-id 11111111-2222-3333-4444-555555555555 --domain contoso.com \
      --approve --approver alice@contoso.com --reason "domain retired" --wait
  starter offboard --tenant-id 11111111-2222-3333-4444-555555555555 --domain contoso.com \
      --reject --approver alice@contoso.com --reason "still in use"

  # The same decision with the plain Temporal CLI:
  temporal workflow update execute --workflow-id 'cloudsync-offboard/<tenant>/<domain>' \
      --name ` + workflows.ApproveOffboardUpdate + ` --input '{"approver":"alice@contoso.com","reason":"domain retired"}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			changed := cmd.Flags().Changed
			var p cmdutil.Problems
			in := workflows.OffboardInput{TenantID: cmdutil.CheckTenant(&p, f.tenant), Domain: cmdutil.CheckDomain(&p, f.domain, true), DisplayName: strings.TrimSpace(f.displayName)}
			if f.timeout <= 0 {
				p.Add("--timeout", "%s must be greater than 0", f.timeout)
			}
			decide := f.approve || f.reject
			var req workflows.OffboardDecisionRequest
			switch {
			case f.approve && f.reject:
				p.Add("--approve", "cannot be combined with --reject: decide one way")
			case decide:
				req.Approver = cmdutil.CheckApprover(&p, "--approver", f.approver, "who decides, e.g. alice@contoso.com")
				req.Reason = cmdutil.CheckText(&p, "--reason", f.reason, cmdutil.MaxReasonLength, "why the configuration is (or is not) removed")
				if given := cmdutil.AnyChanged(changed, "display-name", "allowed-approver"); len(given) > 0 {
					p.Add(given[0], "configures a new offboarding: not with --approve or --reject")
				}
			default:
				if given := cmdutil.AnyChanged(changed, "approver", "reason"); len(given) > 0 {
					p.Add(given[0], "goes with --approve or --reject")
				}
				if len(f.allowed) > cmdutil.MaxApprovers {
					p.Add("--allowed-approver", "%d given: at most %d (use a group address)", len(f.allowed), cmdutil.MaxApprovers)
				}
				for _, ap := range f.allowed {
					in.Approvers = append(in.Approvers, cmdutil.CheckApprover(&p, "--allowed-approver", ap, "who may decide"))
				}
				if changed("display-name") {
					if err := (workflows.TenantSpec{TenantID: cmdutil.GoodGUID, Domain: "example.com", DisplayName: " " + f.displayName}).Validate(); err != nil {
						p.Add("--display-name", "%s", strings.TrimPrefix(err.Error(), "invalid tenant spec: displayName: "))
					}
				}
			}
			if err := p.Err("invalid offboard"); err != nil {
				return err
			}
			opts.Input = in
			if decide {
				opts.Decision = &req
			}
			return cmdutil.RunOr(cmd, opts, runF, offboardRun)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.tenant, "tenant-id", "", "directory (tenant) id (required)")
	fl.StringVar(&f.tenant, "tenant", "", "same as --tenant-id")
	_ = fl.MarkHidden("tenant")
	fl.StringVar(&f.domain, "domain", "", "on-premises AD domain whose configuration goes (required)")
	fl.StringVar(&f.displayName, "display-name", "", "also find a configuration the Entra portal made under this name (applicationTemplateId null)")
	fl.StringArrayVar(&f.allowed, "allowed-approver", nil, "who may approve or reject (repeatable; default: anyone)")
	fl.BoolVar(&f.approve, "approve", false, "approve the running offboarding: remove what it published")
	fl.BoolVar(&f.reject, "reject", false, "reject it: nothing is removed")
	fl.StringVar(&f.approver, "approver", "", "who decides, an e-mail address (with --approve or --reject; recorded)")
	fl.StringVar(&f.reason, "reason", "", "why (with --approve or --reject; recorded)")
	fl.BoolVar(&f.wait, "wait", false, "follow the offboarding to its end, printing each step")
	fl.DurationVar(&f.timeout, "timeout", 2*time.Minute, "how long to wait for the list of what goes, or for the answer to a decision")
	fl.SortFlags = false
	return cmd
}

// offboardRun starts (or shows) the offboarding, or sends the decision.
func offboardRun(ctx context.Context, o *OffboardOptions) error {
	c, err := visibility.Dial(ctx, o.Dial)
	if err != nil {
		return err
	}
	defer c.Close()
	if o.Decision != nil {
		return o.offboardDecide(ctx, c, o.Input, o.flags.approve, *o.Decision, o.flags)
	}
	return o.offboardStart(ctx, c, o.Input, o.flags)
}

func (o *OffboardOptions) offboardStart(ctx context.Context, c *visibility.Conn, in workflows.OffboardInput, f offboardFlags) error {
	id := workflows.OffboardWorkflowID(in.TenantID, in.Domain)
	// An onboarding of the pair would make what this removes.
	onb := workflows.OnboardWorkflowID(in.TenantID, in.Domain)
	if e, err := c.DescribeWatcher(ctx, onb); err == nil && e.Running() {
		return cmdutil.Exitf(cmdutil.ExitRunning, "an onboarding of tenant %s domain %s is running (workflow id %s): let it end, then offboard\n%s",
			in.TenantID, in.Domain, onb, c.Link(onb))
	} else if err != nil && !cmdutil.IsNotFound(err) {
		return c.TemporalError("cannot look up the onboarding "+onb, err)
	}
	run, err := c.Start(ctx, workflows.OffboardStartOptions(in), workflows.OffboardTenantWorkflow, in)
	runID := ""
	switch {
	case errors.Is(err, cmdutil.ErrAlreadyStarted):
		fmt.Fprintf(o.IO.Out, "an offboarding of tenant %s domain %s is already running: showing it\n", in.TenantID, in.Domain)
	case err != nil:
		return c.TemporalError("cannot start the offboarding", err)
	default:
		runID = run.GetRunID()
		fmt.Fprintf(o.IO.Out, "started offboarding of tenant %s domain %s\n", in.TenantID, in.Domain)
	}
	e, err := o.awaitOffboard(ctx, c, id, runID, f.timeout, func(st workflows.OffboardState) bool { return st.Phase != workflows.PhaseInventory })
	if err != nil {
		return err
	}
	view.PrintOffboard(o.IO.Out, c, e)
	if f.wait && e.Running() {
		return o.followOffboard(ctx, c, in, e)
	}
	return view.OffboardExit(e)
}

// awaitOffboard reads the offboarding with Describe every pollInterval until
// done says so (or it closed); runID "" is the latest run.
func (o *OffboardOptions) awaitOffboard(ctx context.Context, c *visibility.Conn, id, runID string, timeout time.Duration, done func(workflows.OffboardState) bool) (visibility.Execution, error) {
	deadline := time.Now().Add(timeout)
	for {
		dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		d, err := c.Describe(dctx, id, runID)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return visibility.Execution{}, cmdutil.Exitf(cmdutil.ExitInterrupted, "interrupted; the offboarding goes on: starter status --workflow-id %s", id)
			}
			return visibility.Execution{}, c.TemporalError("cannot read the offboarding "+id, err)
		}
		e := c.ExecutionOf(d.GetWorkflowExecutionInfo())
		if errors.Is(e.StateErr, visibility.ErrNeedKeys) {
			return e, cmdutil.Exitf(cmdutil.ExitUsage, "cannot read the offboarding %s: %v", id, e.StateErr)
		}
		if !e.Running() || (e.Offboard != nil && done(*e.Offboard)) {
			return e, nil
		}
		if time.Now().After(deadline) {
			hctx, hcancel := context.WithTimeout(ctx, 5*time.Second)
			hint, _ := c.NoWorkerHint(hctx)
			hcancel()
			if hint != "" {
				return e, cmdutil.Exitf(cmdutil.ExitUnreachable, "%s; the offboarding waits for it: %s", strings.TrimSuffix(hint, "; the onboarding waits for it"), c.Link(id))
			}
			phase := "starting"
			if e.Offboard != nil {
				phase = e.Offboard.Phase
			}
			return e, cmdutil.Exitf(cmdutil.ExitFailed, "the offboarding is still %s after %s; it goes on (starter status --workflow-id %s)%s", phase, timeout, id, pendingError(d))
		}
		select {
		case <-ctx.Done():
			return e, cmdutil.Exitf(cmdutil.ExitInterrupted, "interrupted; the offboarding goes on: starter status --workflow-id %s", id)
		case <-time.After(o.PollInterval):
		}
	}
}

// pendingError is the last failure of the pending activity, if any.
func pendingError(d *workflowservice.DescribeWorkflowExecutionResponse) string {
	for _, pa := range d.GetPendingActivities() {
		if lf := pa.GetLastFailure(); lf != nil {
			return fmt.Sprintf("; step %s, attempt %d, last error: %s", pa.GetActivityType().GetName(), pa.GetAttempt(), text.OneLine(lf.GetMessage()))
		}
	}
	return ""
}

func (o *OffboardOptions) offboardDecide(ctx context.Context, c *visibility.Conn, in workflows.OffboardInput, approve bool, req workflows.OffboardDecisionRequest, f offboardFlags) error {
	id := workflows.OffboardWorkflowID(in.TenantID, in.Domain)
	verb, update := "reject", workflows.RejectOffboardUpdate
	if approve {
		verb, update = "approve", workflows.ApproveOffboardUpdate
	}
	e, err := c.DescribeWatcher(ctx, id)
	switch {
	case cmdutil.IsNotFound(err):
		return cmdutil.Exitf(cmdutil.ExitNotFound, "no offboarding of tenant %s domain %s in namespace %s: start one with: starter offboard --tenant-id %s --domain %s",
			in.TenantID, in.Domain, c.Namespace, in.TenantID, in.Domain)
	case err != nil:
		return c.TemporalError("cannot read the offboarding "+id, err)
	case errors.Is(e.StateErr, visibility.ErrNeedKeys):
		return cmdutil.Exitf(cmdutil.ExitUsage, "cannot read the offboarding %s: %v", id, e.StateErr)
	case !e.Running():
		view.PrintOffboard(o.IO.Out, c, e)
		return cmdutil.Exitf(cmdutil.ExitNotFound, "the offboarding of tenant %s domain %s is %s: nothing awaits a decision", in.TenantID, in.Domain, visibility.StatusWord(e.Status))
	case e.Offboard == nil || e.Offboard.Phase != workflows.PhaseAwaitingOffboardApproval:
		phase := "starting"
		if e.Offboard != nil {
			phase = e.Offboard.Phase
		}
		return cmdutil.Exitf(cmdutil.ExitNotFound, "nothing awaits a decision: the offboarding of tenant %s domain %s is %s (starter status --workflow-id %s)", in.TenantID, in.Domain, phase, id)
	}
	hctx, hcancel := context.WithTimeout(ctx, 5*time.Second)
	hint, herr := c.NoWorkerHint(hctx)
	hcancel()
	if herr != nil {
		return c.TemporalError("cannot reach the offboarding "+id, herr)
	}
	if hint != "" {
		return cmdutil.Exitf(cmdutil.ExitUnreachable, "%s.\nNothing was decided: start the worker, then decide again.", strings.TrimSuffix(hint, "; the onboarding waits for it"))
	}
	uctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	h, err := c.UpdateWorkflow(uctx, client.UpdateWorkflowOptions{
		WorkflowID: id, RunID: e.RunID, UpdateID: workflows.OffboardUpdateID(e.RunID, approve), UpdateName: update,
		Args: []any{req}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var d workflows.OffboardDecision
	if err == nil {
		err = h.Get(uctx, &d)
	}
	var ae *temporal.ApplicationError
	switch {
	case err == nil:
	case cmdutil.IsNotFound(err):
		return cmdutil.Exitf(cmdutil.ExitNotFound, "the offboarding %s is no longer running: nothing was decided (starter status --workflow-id %s)", id, id)
	case errors.As(err, &ae):
		return cmdutil.Exitf(cmdutil.ExitFailed, "%s refused: %s", verb, ae.Message())
	case ctx.Err() != nil:
		return cmdutil.Exitf(cmdutil.ExitInterrupted, "interrupted; if the offboarding accepted the decision it goes on: starter status --workflow-id %s", id)
	case uctx.Err() != nil:
		return cmdutil.Exitf(cmdutil.ExitFailed, "no answer from the offboarding %s within %s; if it accepted the decision it goes on: starter status --workflow-id %s", id, f.timeout, id)
	default:
		return c.TemporalError("cannot send the "+update+" update", err)
	}
	done := "rejected"
	if d.Approve {
		done = "approved"
	}
	if d.Approve != approve {
		return cmdutil.Exitf(cmdutil.ExitFailed, "%s refused: already %s by %s (%s)", verb, done, d.Approver, d.Reason)
	}
	fmt.Fprintf(o.IO.Out, "%s by %s: %s\n", done, d.Approver, d.Reason)
	fmt.Fprintf(o.IO.Out, "workflow id: %s\n", id)
	fmt.Fprintf(o.IO.Out, "web ui:      %s\n", c.Link(id))
	if !f.wait {
		if d.Approve {
			fmt.Fprintf(o.IO.Out, "the offboarding removes what it listed now; follow it with: starter status --tenant-id %s --domain %s\n", in.TenantID, in.Domain)
		}
		return nil
	}
	return o.followOffboard(ctx, c, in, e)
}

// followOffboard prints each step as the offboarding publishes it, until it
// ends: from the memo (Describe), then from the result.
func (o *OffboardOptions) followOffboard(ctx context.Context, c *visibility.Conn, in workflows.OffboardInput, e visibility.Execution) error {
	id := workflows.OffboardWorkflowID(in.TenantID, in.Domain)
	p := &view.StepPrinter{W: o.IO.Out}
	if e.Offboard != nil {
		p.Printed = len(e.Offboard.Steps) // printed already
	}
	said := ""
	for {
		if st := e.Offboard; st != nil {
			p.Steps(st.Steps)
			if st.Phase == workflows.PhaseAwaitingOffboardApproval && said != st.Phase {
				fmt.Fprintln(o.IO.ErrOut, "… awaiting a decision (starter offboard … --approve|--reject)")
			}
			said = st.Phase
		}
		if !e.Running() {
			break
		}
		var err error
		e, err = o.awaitOffboard(ctx, c, id, e.RunID, 24*365*time.Hour, func(st workflows.OffboardState) bool {
			return e.Offboard == nil || len(st.Steps) != len(e.Offboard.Steps) || st.Phase != e.Offboard.Phase
		})
		if err != nil {
			return err
		}
	}
	// Closed: the result or the failure says how it ended.
	gctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var st workflows.OffboardState
	err := c.GetWorkflow(gctx, id, e.RunID).Get(gctx, &st)
	if err != nil {
		var ae *temporal.ApplicationError
		if errors.As(err, &ae) && ae.HasDetails() && ae.Details(&st) == nil {
			p.Steps(st.Steps)
			return cmdutil.Exitf(cmdutil.ExitFailed, "offboarding failed: %s", ae.Message())
		}
		return cmdutil.Exitf(cmdutil.ExitFailed, "offboarding %s: %s", visibility.StatusWord(e.Status), view.DescribeFailure(err).Message)
	}
	p.Steps(st.Steps)
	fmt.Fprintln(o.IO.Out, "done: "+st.Summary())
	return nil
}
