// Package decide is starter approve and reject: a human's decision on the
// deletions a quarantined sync job holds back, sent to its watcher.
package decide

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
	"github.com/cloudsync/cloudsync/starter/pkg/text"
	"github.com/cloudsync/cloudsync/starter/pkg/visibility"
	"github.com/cloudsync/cloudsync/workflows"
)

// DecideOptions are approve's or reject's parsed flags and what they run with.
type DecideOptions struct {
	IO   *cmdutil.IOStreams
	Dial func(context.Context) (*cmdutil.Conn, error)

	decision decision
	TenantID string // --tenant-id, normalized
	Domain   string // --domain, normalized; "" for every domain
	JobID    string // --job-id; "" to find the one awaiting
	Request  workflows.DecisionRequest
	Async    bool          // --async: the signal, not the update
	Timeout  time.Duration // --timeout (update only)
	Output   cmdutil.OutputFormat
}

// Approve says whether this is approve (else reject).
func (o *DecideOptions) Approve() bool { return o.decision.approve }

// decision is what approve and reject share.
type decision struct {
	approve bool
	verb    string // approve | reject
	signal  string
	update  string
}

var (
	approveDecision = decision{approve: true, verb: "approve", signal: workflows.ApproveSignal, update: workflows.ApproveUpdate}
	rejectDecision  = decision{approve: false, verb: "reject", signal: workflows.RejectSignal, update: workflows.RejectUpdate}
)

// NewCmdApprove is starter approve; runF (nil: the real run) gets the parsed
// options.
func NewCmdApprove(f *cmdutil.Factory, runF func(*DecideOptions) error) *cobra.Command {
	return newCmdDecide(f, runF, approveDecision,
		"Approve the deletions a quarantined sync job holds back (restarts it with ForceDeletes)",
		`Approve the deletions that the accidental-delete threshold held back on a sync
job: its watcher (WatchSyncJob) restarts the job with ForceDeletes, and the
workflow history records who approved and why.

Target a tenant's watchers with --tenant-id (and optionally --domain): the one
that awaits a decision is picked; if several do, they are listed and --job-id
is asked for (exit 2); if none does, exit 4. Or name the job with --tenant-id
and --job-id.

By default the decision is sent as the Temporal update `+workflows.ApproveUpdate+`,
which answers synchronously: the outcome is printed (e.g. restart-issued); an
approver the watcher does not allow is refused (exit 1) without touching the
history. --async sends the signal `+workflows.ApproveSignal+` instead: fire and
forget. Either way a decision with nothing to decide is recorded as "not
acted upon" and makes the watcher look at the job; the starter exits 4 (for
--async, when the watcher's published state showed nothing awaiting).
The episode the watcher presents is read with Describe (its memo), not a
query. The approver is an e-mail address (exit 2 otherwise).

Exit codes: 0 decided (or signal sent), 1 refused or failed, 2 bad input or
several jobs await (give --job-id), 4 no such watcher or nothing awaits,
5 Temporal unreachable or no worker to answer.`,
		`  starter approve --tenant-id 11111111-2222-3333-4444-555555555555 --domain contoso.com \
      --approver alice@contoso.com --reason "HR offboarding batch"
  starter approve --tenant-id 11111111-2222-3333-4444-555555555555 \
      --job-id AD2AADProvisioning.0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef \
      --approver alice@contoso.com --reason "HR offboarding batch" --async

  # The same with the plain Temporal CLI (the update answers, the signal does not):
  temporal workflow update execute --workflow-id 'cloudsync-watch/<tenant>/<job>' \
      --name `+workflows.ApproveUpdate+` --input '{"approver":"alice@contoso.com","reason":"HR offboarding batch"}'
  temporal workflow signal --workflow-id 'cloudsync-watch/<tenant>/<job>' \
      --name `+workflows.ApproveSignal+` --input '{"approver":"alice@contoso.com","reason":"HR offboarding batch"}'`)
}

// NewCmdReject is starter reject; runF (nil: the real run) gets the parsed
// options.
func NewCmdReject(f *cmdutil.Factory, runF func(*DecideOptions) error) *cobra.Command {
	return newCmdDecide(f, runF, rejectDecision,
		"Reject the deletions a quarantined sync job holds back (it stays quarantined)",
		`Reject the deletions that the accidental-delete threshold held back on a sync
job: the job stays quarantined (fix the cause on-premises, then restart it),
reminders stop, and the workflow history records who rejected and why.

Targeting, --async and exit codes are as for 'starter approve'.`,
		`  starter reject --tenant-id 11111111-2222-3333-4444-555555555555 --domain contoso.com \
      --approver alice@contoso.com --reason "an OU was moved by mistake; fixing it on-premises"

  # The same with the plain Temporal CLI:
  temporal workflow update execute --workflow-id 'cloudsync-watch/<tenant>/<job>' \
      --name `+workflows.RejectUpdate+` --input '{"approver":"alice@contoso.com","reason":"OU moved by mistake"}'
  temporal workflow signal --workflow-id 'cloudsync-watch/<tenant>/<job>' \
      --name `+workflows.RejectSignal+` --input '{"approver":"alice@contoso.com","reason":"OU moved by mistake"}'`)
}

func newCmdDecide(f *cmdutil.Factory, runF func(*DecideOptions) error, d decision, short, long, example string) *cobra.Command {
	opts := &DecideOptions{IO: f.IO, Dial: f.Dial, decision: d}
	var tenant, domain, job, approver, reason, episode string
	cmd := &cobra.Command{
		Use:     d.verb,
		Short:   short,
		Long:    long,
		Example: example,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			changed := cmd.Flags().Changed
			var p cmdutil.Problems
			t := cmdutil.CheckTenant(&p, tenant)
			dom := cmdutil.CheckDomain(&p, domain, changed("domain"))
			j := ""
			if changed("job-id") {
				j = cmdutil.CheckJobID(&p, job)
			}
			req := workflows.DecisionRequest{
				Approver: cmdutil.CheckApprover(&p, "--approver", approver, "who is deciding, e.g. alice@contoso.com"),
				Reason:   cmdutil.CheckText(&p, "--reason", reason, cmdutil.MaxReasonLength, "why the deletions are (or are not) intended"),
				Episode:  strings.TrimSpace(episode),
			}
			if changed("episode") && (req.Episode == "" || len(req.Episode) > 600 || !strings.Contains(req.Episode, "@")) {
				p.Add("--episode", "%q is not an episode id: <job id>@<seriesBegan>, as starter status shows it", text.Clip(req.Episode))
			}
			if opts.Timeout <= 0 {
				p.Add("--timeout", "%s must be greater than 0", opts.Timeout)
			}
			if err := p.Err("invalid " + d.verb); err != nil {
				return err
			}
			opts.TenantID, opts.Domain, opts.JobID, opts.Request = t, dom, j, req
			return cmdutil.RunOr(cmd, opts, runF, decideRun)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&tenant, "tenant-id", "", "directory (tenant) id")
	fs.StringVar(&domain, "domain", "", "on-premises AD domain: only that domain's watchers (not needed with --job-id)")
	fs.StringVar(&job, "job-id", "", "the sync job (its watcher is cloudsync-watch/<tenant>/<job>)")
	fs.StringVar(&approver, "approver", "", "who decides, e.g. alice@contoso.com (required; the watcher may allow only some)")
	fs.StringVar(&reason, "reason", "", "why (required; recorded in the workflow history)")
	fs.StringVar(&episode, "episode", "", "the quarantine episode decided on, <job id>@<seriesBegan> (default: the one the watcher presents now)")
	fs.BoolVar(&opts.Async, "async", false, "send the signal instead of the update: fire and forget, no answer")
	fs.DurationVar(&opts.Timeout, "timeout", 2*time.Minute, "how long to wait for the watcher's answer (update only)")
	opts.Output.Register(fs)
	fs.SortFlags = false
	return cmd
}

// decideRun finds the watcher, binds the decision to the episode it
// presents, and sends it (update, or signal with --async).
func decideRun(ctx context.Context, opts *DecideOptions) error {
	c, err := visibility.Dial(ctx, opts.Dial)
	if err != nil {
		return err
	}
	defer c.Close()
	d, t, req := opts.decision, opts.TenantID, opts.Request
	id, err := decisionTarget(ctx, c, d, t, opts.Domain, opts.JobID)
	if err != nil {
		return err
	}
	nothingAwaits := false
	if req.Episode == "" {
		// Bind the decision to the episode this command saw, so it can
		// never apply to a later batch nobody looked at.
		ep, known, err := presentedEpisode(ctx, c, id, t)
		if err != nil {
			return err
		}
		req.Episode, nothingAwaits = ep, known && ep == ""
	}
	if opts.Async {
		return opts.signalDecision(ctx, c, d, id, t, req, nothingAwaits)
	}
	return opts.updateDecision(ctx, c, d, id, t, req)
}

// decisionTarget finds the watcher's workflow id: the job's, or the one
// watcher of the tenant (and domain) that awaits a decision.
func decisionTarget(ctx context.Context, c *visibility.Conn, d decision, tenant, domain, job string) (string, error) {
	if job != "" {
		return workflows.WatchWorkflowID(tenant, job), nil
	}
	where := "tenant " + tenant
	if domain != "" {
		where += " domain " + domain
	}
	all, _, err := c.ListExecutions(ctx, visibility.WatchersQuery(tenant, domain, true))
	if err != nil {
		return "", c.TemporalError("cannot list the watchers of "+where, err)
	}
	running := visibility.LatestRuns(all)
	// Visibility lists the watchers; Describe reads the state each publishes
	// in its memo (no query: each is a billed action); the search attribute
	// stands in for a watcher that publishes none.
	var awaiting []visibility.Execution
	for _, e := range running {
		// Describe (not a billed action) reads the memo without visibility's lag.
		if fresh, err := c.DescribeWatcher(ctx, e.ID); err == nil && fresh.Running() {
			e = fresh
		}
		if e.AwaitingNow() {
			awaiting = append(awaiting, e)
		}
	}
	switch len(awaiting) {
	case 0:
		return "", cmdutil.Exitf(cmdutil.ExitNotFound, "nothing awaits approval for %s (%d running %s in namespace %s; see: starter status --tenant-id %s)",
			where, len(running), text.Plural(len(running), "watcher", "watchers"), c.Namespace, tenant)
	case 1:
		return awaiting[0].ID, nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d jobs of %s await a decision: give --job-id\n", len(awaiting), where)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  JOB ID\tDOMAIN\tWORKFLOW ID")
	for _, e := range awaiting {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", e.JobID(), text.OrDash(e.Domain), e.ID)
	}
	tw.Flush()
	fmt.Fprintf(&b, "e.g. starter %s --tenant-id %s --job-id %s --approver … --reason …", d.verb, tenant, awaiting[0].JobID())
	return "", cmdutil.Exitf(cmdutil.ExitUsage, "%s", b.String())
}

// presentedEpisode reads, with Describe (no query), the episode a watcher
// presents now: known says whether the watcher publishes its state (a watcher
// of an older worker does not; the decision then binds at receipt).
func presentedEpisode(ctx context.Context, c *visibility.Conn, id, tenant string) (episode string, known bool, err error) {
	e, err := c.DescribeWatcher(ctx, id)
	if err != nil {
		if cmdutil.IsNotFound(err) {
			return "", false, cmdutil.Exitf(cmdutil.ExitNotFound, "no running watcher %s in namespace %s (is the job watched? starter status --tenant-id %s)", id, c.Namespace, tenant)
		}
		return "", false, c.TemporalError("cannot read the watcher "+id, err)
	}
	if !e.Running() {
		return "", false, cmdutil.Exitf(cmdutil.ExitNotFound, "no running watcher %s in namespace %s (it is %s): nothing awaits a decision (starter status --workflow-id %s)", id, c.Namespace, visibility.StatusWord(e.Status), id)
	}
	if e.StateErr != nil {
		if errors.Is(e.StateErr, visibility.ErrNeedKeys) {
			return "", false, cmdutil.Exitf(cmdutil.ExitUsage, "cannot read the watcher %s: %v", id, e.StateErr)
		}
		return "", false, nil
	}
	p, known := e.Presented()
	if p == nil {
		return "", known, nil
	}
	return p.ID(), true, nil
}

// decisionView is what approve and reject show (--output json: this
// document): the watcher's answer to the update, or what the signal carried.
type decisionView struct {
	WorkflowID string `json:"workflowId"`
	JobID      string `json:"jobId"`
	WebUI      string `json:"webUi"`
	// Signal names the signal sent with --async (no answer); Request is
	// what it carried.
	Signal  string                     `json:"signal,omitempty"`
	Request *workflows.DecisionRequest `json:"request,omitempty"`
	// Decision is the watcher's answer to the update: its outcome says
	// whether it was acted upon.
	Decision *workflows.Decision `json:"decision,omitempty"`
}

func (opts *DecideOptions) signalDecision(ctx context.Context, c *visibility.Conn, d decision, id, tenant string, req workflows.DecisionRequest, nothingAwaits bool) error {
	out := opts.Output
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := c.SignalWorkflow(sctx, id, "", d.signal, req); err != nil {
		if cmdutil.IsNotFound(err) {
			return cmdutil.Exitf(cmdutil.ExitNotFound, "no running watcher %s in namespace %s (is the job watched? starter status --tenant-id %s)", id, c.Namespace, tenant)
		}
		return c.TemporalError("cannot send the "+d.signal+" signal", err)
	}
	if out.JSON() {
		if err := cmdutil.Emit(opts.IO.Out, decisionView{WorkflowID: id, JobID: visibility.WatcherJobID(id), WebUI: c.Link(id), Signal: d.signal, Request: &req}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(opts.IO.Out, "sent signal %s to watcher %s (job %s) as %s\n", d.signal, id, visibility.WatcherJobID(id), req.Approver)
		if req.Episode != "" {
			fmt.Fprintf(opts.IO.Out, "for episode %s only\n", req.Episode)
		}
		fmt.Fprintln(opts.IO.Out, "fire and forget: the watcher acts on it if that episode still awaits a decision; otherwise it records it as not acted upon")
		fmt.Fprintf(opts.IO.Out, "check the outcome with: starter status --workflow-id %s\n", id)
		fmt.Fprintf(opts.IO.Out, "web ui: %s\n", c.Link(id))
	}
	if nothingAwaits {
		// The same answer as the update's: the signal is recorded as not
		// acted upon (and makes the watcher look at the job).
		return cmdutil.Exitf(cmdutil.ExitNotFound, "nothing awaited a decision on job %s when the signal was sent: it is recorded as not acted upon, and the watcher looks at the job now", visibility.WatcherJobID(id))
	}
	return nil
}

func (opts *DecideOptions) updateDecision(ctx context.Context, c *visibility.Conn, d decision, id, tenant string, req workflows.DecisionRequest) error {
	timeout, out := opts.Timeout, opts.Output
	// Without a worker nothing can validate the update: it would only time out.
	hctx, hcancel := context.WithTimeout(ctx, 5*time.Second)
	hint, herr := c.NoWorkerHint(hctx)
	hcancel()
	if herr != nil {
		return c.TemporalError("cannot reach the watcher "+id, herr)
	}
	if hint != "" {
		return cmdutil.Exitf(cmdutil.ExitUnreachable, "%s.\nNothing was decided. Start the worker, or send the decision with --async (the signal waits in the history for a worker).", strings.TrimSuffix(hint, "; the onboarding waits for it"))
	}
	uctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	updateID := ""
	if req.Episode != "" {
		updateID = workflows.DecisionUpdateID(req.Episode, d.approve)
	}
	handle, err := c.UpdateWorkflow(uctx, client.UpdateWorkflowOptions{
		WorkflowID:   id,
		UpdateID:     updateID, // the same decision twice is one update
		UpdateName:   d.update,
		Args:         []any{req},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var res workflows.Decision
	if err == nil {
		err = handle.Get(uctx, &res)
	}
	if err != nil {
		var ae *temporal.ApplicationError
		switch {
		case cmdutil.IsNotFound(err):
			return cmdutil.Exitf(cmdutil.ExitNotFound, "no running watcher %s in namespace %s (is the job watched? starter status --tenant-id %s)", id, c.Namespace, tenant)
		case errors.As(err, &ae):
			// The validator refused: nothing reached the history.
			return cmdutil.Exitf(cmdutil.ExitFailed, "%s refused: %s", d.verb, ae.Message())
		case ctx.Err() != nil:
			return cmdutil.Exitf(cmdutil.ExitInterrupted, "interrupted; if the watcher had accepted the decision it goes on: starter status --workflow-id %s", id)
		case uctx.Err() != nil:
			return cmdutil.Exitf(cmdutil.ExitFailed, "no answer from watcher %s within %s; if it accepted the decision it goes on (the restart may still be retrying): starter status --workflow-id %s",
				id, timeout, id)
		}
		return c.TemporalError("cannot send the "+d.update+" update", err)
	}
	if out.JSON() {
		if err := cmdutil.Emit(opts.IO.Out, decisionView{WorkflowID: id, JobID: visibility.WatcherJobID(id), WebUI: c.Link(id), Decision: &res}); err != nil {
			return err
		}
	} else {
		verb := "rejected"
		if res.Approve {
			verb = "approved"
		}
		fmt.Fprintf(opts.IO.Out, "%s by %s: %s\n", verb, res.Approver, res.Outcome)
		fmt.Fprintf(opts.IO.Out, "job:         %s\n", visibility.WatcherJobID(id))
		fmt.Fprintf(opts.IO.Out, "episode:     %s\n", text.OrDash(res.Episode))
		fmt.Fprintf(opts.IO.Out, "workflow id: %s\n", id)
		fmt.Fprintf(opts.IO.Out, "web ui:      %s\n", c.Link(id))
	}
	switch {
	case strings.HasPrefix(res.Outcome, workflows.OutcomeNotActedUpon):
		return cmdutil.Exitf(cmdutil.ExitNotFound, "nothing was decided: %s", strings.TrimPrefix(res.Outcome, workflows.OutcomeNotActedUpon))
	case strings.HasPrefix(res.Outcome, workflows.OutcomeRefused):
		return cmdutil.Exitf(cmdutil.ExitFailed, "nothing was forced: %s; the watcher presents what the job shows now (starter status --workflow-id %s)",
			strings.TrimPrefix(res.Outcome, workflows.OutcomeRefused), id)
	case !res.Acted():
		// e.g. "restart failed: …": the watcher presents the episode again.
		return cmdutil.Exitf(cmdutil.ExitFailed, "the approval was recorded but the restart did not happen: %s", res.Outcome)
	}
	return nil
}
