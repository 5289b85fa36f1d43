// Package watch is starter watch, unwatch and resume: a sync job's watcher
// started on its own, ended, or asked to start the job again.
package watch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
	"github.com/cloudsync/cloudsync/starter/pkg/text"
	"github.com/cloudsync/cloudsync/starter/pkg/visibility"
	"github.com/cloudsync/cloudsync/workflows"
)

// WatchOptions are watch's parsed flags and what it runs with.
type WatchOptions struct {
	IO   *cmdutil.IOStreams
	Dial func(context.Context) (*cmdutil.Conn, error)

	Input        workflows.WatchInput // checked and normalized
	CheckTimeout time.Duration        // --check-timeout: wait for the first look (0: do not)
	KeepMissing  bool                 // --keep-if-missing
}

// NewCmdWatch is starter watch; runF (nil: the real run) gets the parsed
// options, which tests capture without a server.
func NewCmdWatch(f *cmdutil.Factory, runF func(*WatchOptions) error) *cobra.Command {
	opts := &WatchOptions{IO: f.IO, Dial: f.Dial}
	var (
		tenant, sp, job, domain string
		wf                      cmdutil.WatchFlags
	)
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Watch one sync job (adopt a job created elsewhere)",
		Long: `Start a WatchSyncJob workflow for one sync job on its own, e.g. a job created
outside cloudsync. (Onboarding starts one per job already, unless --no-watch.)

The worker's poller lists the job with its service principal's others once per
interval (worker --watch-interval); when the accidental-delete threshold quarantines it,
it notifies and waits for 'starter approve' or 'starter reject', reminding
every --reminder-interval; other quarantines are explained, never forced.
Its workflow id is cloudsync-watch/<tenant>/<job>: a job already watched is
refused (exit 3).

The watcher first looks at the job itself, and the starter waits for that
look (up to --check-timeout, default 30s; 0: do not wait):
  - the job is there: exit 0, with its status;
  - the job (or the service principal) is not there: exit 4, and the watcher
    is terminated, since a mistyped id would otherwise be watched for 15
    minutes before it counts as gone. A job created moments ago may not be
    listed yet: --keep-if-missing keeps the watcher (it shows "missing" until
    the job appears, and ends as gone after the worker's --watch-gone-after);
  - Graph refuses to show it (consent, credential) or does not answer: exit
    1; the watcher is kept (it recovers by itself once access is fixed;
    'starter unwatch' stops it).
Without a worker nothing can look: the starter says so and exits 0 (the
watcher waits for a worker).`,
		Example: `  starter watch --tenant-id 11111111-2222-3333-4444-555555555555 \
      --service-principal-id 66666666-7777-8888-9999-000000000000 \
      --job-id AD2AADProvisioning.0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef \
      --domain contoso.com --approver alice@contoso.com --approver bob@contoso.com \
      --reminder-interval 4h --webhook teams-ops`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			changed := cmd.Flags().Changed
			var p cmdutil.Problems
			in := workflows.WatchInput{TenantID: cmdutil.CheckTenant(&p, tenant)}
			in.ServicePrincipalID = strings.ToLower(strings.TrimSpace(sp))
			switch {
			case in.ServicePrincipalID == "":
				p.Add("--service-principal-id", "is required: the object id of the sync service principal, a GUID")
			case !cmdutil.GUIDRe.MatchString(in.ServicePrincipalID):
				p.Add("--service-principal-id", "%q is not a GUID: the object id of the service principal (not its app id or name)", text.Clip(in.ServicePrincipalID))
			}
			in.JobID = cmdutil.CheckJobID(&p, job)
			in.Domain = cmdutil.CheckDomain(&p, domain, changed("domain"))
			in.Options = wf.Options(&p, changed)
			if opts.CheckTimeout < 0 {
				p.Add("--check-timeout", "%s must not be negative (0: do not wait for the first look)", opts.CheckTimeout)
			}
			if err := p.Err("invalid watch"); err != nil {
				return err
			}
			in.LookFirst = opts.CheckTimeout > 0
			opts.Input = in
			return cmdutil.RunOr(cmd, opts, runF, watchRun)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&tenant, "tenant-id", "", "directory (tenant) id (required)")
	fs.StringVar(&sp, "service-principal-id", "", "object id of the sync service principal (required)")
	fs.StringVar(&job, "job-id", "", "sync job id (required)")
	fs.StringVar(&domain, "domain", "", "on-premises AD domain of the job (for listings and messages)")
	wf.Register(fs)
	fs.DurationVar(&opts.CheckTimeout, "check-timeout", 30*time.Second, "wait this long for the watcher's first look at the job (0: do not wait)")
	fs.BoolVar(&opts.KeepMissing, "keep-if-missing", false, "keep the watcher when the job is not (yet) listed (a job created moments ago)")
	fs.SortFlags = false
	return cmd
}

// watchRun starts the watcher and waits for its first look at the job.
func watchRun(ctx context.Context, o *WatchOptions) error {
	in, check, keepMissing := o.Input, o.CheckTimeout, o.KeepMissing
	opts := workflows.WatchStartOptions(in)
	c, err := visibility.Dial(ctx, o.Dial)
	if err != nil {
		return err
	}
	defer c.Close()
	run, err := c.Start(ctx, opts, workflows.WatchSyncJobWorkflow, in)
	if err != nil {
		if errors.Is(err, cmdutil.ErrAlreadyStarted) {
			return cmdutil.Exitf(cmdutil.ExitRunning, "job %s of tenant %s is already watched (workflow id %s); see it with: starter status --workflow-id %s\n%s",
				in.JobID, in.TenantID, opts.ID, opts.ID, c.Link(opts.ID))
		}
		return c.TemporalError("cannot start the watcher", err)
	}
	fmt.Fprintf(o.IO.Out, "watching job %s of tenant %s\n", in.JobID, in.TenantID)
	fmt.Fprintf(o.IO.Out, "workflow id: %s\n", run.GetID())
	fmt.Fprintf(o.IO.Out, "run id:      %s\n", run.GetRunID())
	fmt.Fprintf(o.IO.Out, "web ui:      %s\n", c.Link(run.GetID()))
	if len(in.Options.Approvers) > 0 {
		fmt.Fprintf(o.IO.Out, "approvers:   %s\n", strings.Join(in.Options.Approvers, ", "))
	}
	fmt.Fprintf(o.IO.Out, "see it with: starter status --workflow-id %s\n", run.GetID())
	if check <= 0 {
		return nil
	}
	return o.checkWatched(ctx, c, in, run.GetID(), run.GetRunID(), check, keepMissing)
}

// checkWatched waits for the watcher's first look at the job (published in
// its memo, read with Describe: no query) and says whether the job is there.
func (o *WatchOptions) checkWatched(ctx context.Context, c *visibility.Conn, in workflows.WatchInput, id, runID string, timeout time.Duration, keepMissing bool) error {
	deadline := time.Now().Add(timeout)
	hinted := false
	for {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		d, err := c.Describe(dctx, id, runID)
		cancel()
		if err == nil {
			e := c.ExecutionOf(d.GetWorkflowExecutionInfo())
			st := e.State
			switch {
			case errors.Is(e.StateErr, visibility.ErrNeedKeys):
				return cmdutil.Exitf(cmdutil.ExitUsage, "the watcher runs, but its state cannot be read: %v", e.StateErr)
			case !e.Running():
				return cmdutil.Exitf(cmdutil.ExitFailed, "the watcher ended at once (%s): starter status --workflow-id %s", visibility.StatusWord(e.Status), id)
			case st != nil && st.FirstLook != "":
				return cmdutil.Exitf(cmdutil.ExitFailed, "job %s of tenant %s could not be looked at: %s\nThe watcher is kept: it keeps trying and recovers by itself once Graph answers (check the app's consent and the worker's credential for this tenant); stop it with: starter unwatch --tenant-id %s --job-id %s --by <you> --reason <why>",
					in.JobID, in.TenantID, text.OneLine(st.FirstLook), in.TenantID, in.JobID)
			case st != nil && st.Observations > 0:
				return o.firstLook(ctx, c, in, id, runID, st, keepMissing)
			}
		}
		if !hinted {
			hctx, hcancel := context.WithTimeout(ctx, 5*time.Second)
			hint, herr := c.NoWorkerHint(hctx)
			hcancel()
			if herr == nil && hint != "" {
				fmt.Fprintf(o.IO.ErrOut, "… %s; the job is looked at once a worker runs (starter status --workflow-id %s)\n", strings.TrimSuffix(hint, "; the onboarding waits for it"), id)
				return nil
			}
			hinted = true
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(o.IO.ErrOut, "… the watcher has not looked at the job within %s; see it with: starter status --workflow-id %s\n", timeout, id)
			return nil
		}
		select {
		case <-ctx.Done():
			return cmdutil.Exitf(cmdutil.ExitInterrupted, "stopped waiting; the watcher goes on: starter status --workflow-id %s", id)
		case <-time.After(time.Second):
		}
	}
}

// firstLook reports the watcher's first observation of the job.
func (o *WatchOptions) firstLook(ctx context.Context, c *visibility.Conn, in workflows.WatchInput, id, runID string, st *workflows.WatchState, keepMissing bool) error {
	j := st.Job
	switch {
	case j.Unreachable != "":
		return cmdutil.Exitf(cmdutil.ExitFailed, "job %s of tenant %s: Graph refuses to show it: %s\nThe watcher is kept and recovers by itself once access is fixed; stop it with: starter unwatch --tenant-id %s --job-id %s --by <you> --reason <why>",
			in.JobID, in.TenantID, text.OneLine(j.Unreachable), in.TenantID, in.JobID)
	case j.Missing || j.Gone:
		what := fmt.Sprintf("job %s is not among the sync jobs of service principal %s in tenant %s (or that service principal does not exist)", in.JobID, in.ServicePrincipalID, in.TenantID)
		if keepMissing {
			return cmdutil.Exitf(cmdutil.ExitNotFound, "%s.\nThe watcher is kept (--keep-if-missing): it shows the job as missing until it appears, and ends as gone after the worker's --watch-gone-after", what)
		}
		tctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		err := c.TerminateWorkflow(tctx, id, runID, "starter watch: "+what)
		stopped := "The watcher was stopped (terminated)"
		if err != nil && !cmdutil.IsNotFound(err) {
			stopped = fmt.Sprintf("The watcher could not be stopped (%v): stop it with starter unwatch", visibility.RootCause(err))
		}
		return cmdutil.Exitf(cmdutil.ExitNotFound, "%s.\n%s. Check the ids (the onboarding's result and 'starter status --tenant-id %s' list them); a job created moments ago may not be listed yet: retry in a few minutes, or pass --keep-if-missing",
			what, stopped, in.TenantID)
	}
	fmt.Fprintf(o.IO.Out, "job status:  schedule %s, status %s (phase %s)\n", text.OrDash(j.ScheduleState), text.OrDash(j.StatusCode), st.Phase)
	if st.Advice != "" {
		fmt.Fprintf(o.IO.Out, "advice:      %s\n", text.OneLine(st.Advice))
	}
	return nil
}

// NewCmdUnwatch is starter unwatch; runF (nil: the real run) gets the
// parsed options.
func NewCmdUnwatch(f *cmdutil.Factory, runF func(*OperatorOptions) error) *cobra.Command {
	o := &OperatorOptions{IO: f.IO, Dial: f.Dial, verb: "unwatch", update: workflows.UnwatchUpdate,
		byHint: "who stops watching, e.g. alice@contoso.com", reasonHint: "why the job is no longer watched"}
	cmd := &cobra.Command{
		Use:   "unwatch",
		Short: "Stop watching a sync job (recorded with who and why)",
		Long: `End the watcher of one sync job: it sends its last notification, records who
stopped it and why in its history, and the poller stops listing the job within
one interval. The job itself is left as it is. Restart watching with
'starter watch' or by re-running the onboarding.

Exit codes: 0 stopped, 2 bad input, 4 no such running watcher, 5 Temporal
unreachable or no worker to answer.`,
		Example: `  starter unwatch --tenant-id 11111111-2222-3333-4444-555555555555 \
      --job-id AD2AADProvisioning.0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef \
      --by alice@contoso.com --reason "tenant handed over to another MSP"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return err
			}
			return cmdutil.RunOr(cmd, o, runF, unwatchRun)
		},
	}
	o.register(cmd, "who stops watching", time.Minute)
	return cmd
}

// NewCmdResume is starter resume; runF (nil: the real run) gets the parsed
// options.
func NewCmdResume(f *cmdutil.Factory, runF func(*OperatorOptions) error) *cobra.Command {
	o := &OperatorOptions{IO: f.IO, Dial: f.Dial, verb: "resume", update: workflows.ResumeUpdate,
		byHint: "who asks, e.g. alice@contoso.com", reasonHint: "why the job may run again"}
	cmd := &cobra.Command{
		Use:   "resume",
		Short: "Start a rejected, quarantined or paused sync job again (recorded with who and why)",
		Long: `Start a sync job again through its watcher, e.g. after a rejection once the cause was fixed
on-premises, or to undo a pause. Onboarding never does this by itself: Graph's start clears any
quarantine. It never forces deletions: deletions still at or above the threshold quarantine the job
again at its next run, as a new episode that awaits its own decision. Refused while an episode awaits
a decision (approve or reject it first).

Exit codes: 0 started (or already running), 1 refused or failed, 2 bad input, 4 no such running
watcher, 5 Temporal unreachable.`,
		Example: `  starter resume --tenant-id 11111111-2222-3333-4444-555555555555 \
      --job-id AD2AADProvisioning.0123456789abcdef0123456789abcdef.0123456789abcdef0123456789abcdef \
      --by alice@contoso.com --reason "the OU move was reverted on-premises"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return err
			}
			return cmdutil.RunOr(cmd, o, runF, resumeRun)
		},
	}
	o.register(cmd, "who asks", 2*time.Minute)
	return cmd
}

// OperatorOptions are what unwatch and resume ask: the job, who and why.
type OperatorOptions struct {
	IO   *cmdutil.IOStreams
	Dial func(context.Context) (*cmdutil.Conn, error)

	TenantID string // --tenant-id, normalized once checked
	JobID    string // --job-id
	Request  workflows.UnwatchRequest
	Timeout  time.Duration // --timeout: how long to wait for the answer

	verb, update, byHint, reasonHint string
}

func (o *OperatorOptions) register(cmd *cobra.Command, byUsage string, timeout time.Duration) {
	fs := cmd.Flags()
	fs.StringVar(&o.TenantID, "tenant-id", "", "directory (tenant) id (required)")
	fs.StringVar(&o.JobID, "job-id", "", "sync job id (required)")
	fs.StringVar(&o.Request.By, "by", "", byUsage+" (required; recorded)")
	fs.StringVar(&o.Request.Reason, "reason", "", "why (required; recorded)")
	fs.DurationVar(&o.Timeout, "timeout", timeout, "how long to wait for the watcher's answer")
	fs.SortFlags = false
}

// check checks an operator's request (who and why) and normalizes it.
func (o *OperatorOptions) check() error {
	var p cmdutil.Problems
	o.TenantID = cmdutil.CheckTenant(&p, o.TenantID)
	o.JobID = cmdutil.CheckJobID(&p, o.JobID)
	o.Request = workflows.UnwatchRequest{
		By:     cmdutil.CheckText(&p, "--by", o.Request.By, cmdutil.MaxApproverLength, o.byHint),
		Reason: cmdutil.CheckText(&p, "--reason", o.Request.Reason, cmdutil.MaxReasonLength, o.reasonHint),
	}
	return p.Err("invalid " + o.verb)
}

// unwatchRun ends the watcher through its update.
func unwatchRun(ctx context.Context, o *OperatorOptions) error {
	id, err := o.watcherUpdate(ctx, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.IO.Out, "stopped watching job %s of tenant %s (by %s: %s)\n", visibility.WatcherJobID(id), o.TenantID, o.Request.By, o.Request.Reason)
	fmt.Fprintf(o.IO.Out, "workflow id: %s\n", id)
	return nil
}

// resumeRun starts the job again through its watcher's update.
func resumeRun(ctx context.Context, o *OperatorOptions) error {
	var d workflows.Decision
	id, err := o.watcherUpdate(ctx, &d)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.IO.Out, "job %s: %s (asked by %s: %s)\n", visibility.WatcherJobID(id), d.Outcome, d.Approver, d.Reason)
	fmt.Fprintf(o.IO.Out, "workflow id: %s\n", id)
	if d.Outcome != "started" && !strings.HasPrefix(d.Outcome, "not needed") {
		return cmdutil.Exitf(cmdutil.ExitFailed, "the job was not started: %s", d.Outcome)
	}
	return nil
}

// watcherUpdate sends the checked request as an update to the job's
// watcher and waits for the answer (into out).
func (o *OperatorOptions) watcherUpdate(ctx context.Context, out any) (string, error) {
	verb, update, t, req := o.verb, o.update, o.TenantID, o.Request
	c, err := visibility.Dial(ctx, o.Dial)
	if err != nil {
		return "", err
	}
	defer c.Close()
	id := workflows.WatchWorkflowID(t, o.JobID)
	uctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	h, err := c.UpdateWorkflow(uctx, client.UpdateWorkflowOptions{
		WorkflowID: id, UpdateName: update, Args: []any{req}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(uctx, out)
	}
	var ae *temporal.ApplicationError
	switch {
	case err == nil:
		return id, nil
	case cmdutil.IsNotFound(err):
		return id, cmdutil.Exitf(cmdutil.ExitNotFound, "no running watcher %s in namespace %s (starter status --tenant-id %s)", id, c.Namespace, t)
	case errors.As(err, &ae):
		return id, cmdutil.Exitf(cmdutil.ExitFailed, "%s refused: %s", verb, ae.Message())
	}
	return id, c.TemporalError("cannot send "+verb+" to watcher "+id, err)
}
