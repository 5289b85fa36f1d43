// Package onboard is starter onboard: the OnboardTenant workflow started for
// one tenant (followed with --wait) or for a fleet (at a rate, followed to a
// table).
package onboard

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

	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
	"github.com/cloudsync/cloudsync/starter/pkg/spec"
	"github.com/cloudsync/cloudsync/starter/pkg/text"
	"github.com/cloudsync/cloudsync/starter/pkg/view"
	"github.com/cloudsync/cloudsync/starter/pkg/visibility"
	"github.com/cloudsync/cloudsync/workflows"
)

// OnboardOptions are onboard's parsed flags and what it runs with.
type OnboardOptions struct {
	IO   *cmdutil.IOStreams
	Dial func(context.Context) (*cmdutil.Conn, error)
	// Conn are the connection flags given, echoed in the status hints.
	Conn *cmdutil.ConnFlags
	// PollInterval is how often --wait reads where the onboarding is;
	// FleetEvery how often a fleet prints a progress line off a terminal.
	PollInterval, FleetEvery time.Duration

	Input  workflows.OnboardInput // checked; the spec when not a fleet
	Fleet  *spec.Fleet            // a fleet file's tenants (validated), or nil
	Wait   bool                   // --wait (one tenant)
	Output cmdutil.OutputFormat
	fleet  fleetOptions
}

// run hands the options to runF, or onboards.
func (ob *OnboardOptions) run(ctx context.Context, runF func(*OnboardOptions) error) error {
	if runF != nil {
		return runF(ob)
	}
	if ob.Fleet != nil {
		return ob.onboardFleet(ctx, ob.Fleet, ob.Input, ob.fleet)
	}
	return ob.onboard(ctx, ob.Input, ob.Wait, ob.Output)
}

// NewCmdOnboard is starter onboard; runF (nil: the real run) gets the
// parsed options, which tests capture without a server.
func NewCmdOnboard(f *cmdutil.Factory, runF func(*OnboardOptions) error) *cobra.Command {
	ob := &OnboardOptions{IO: f.IO, Dial: f.Dial, Conn: &f.Conn, PollInterval: f.PollInterval, FleetEvery: f.FleetEvery}
	var (
		sf          spec.Flags
		wf          cmdutil.WatchFlags
		noWatch     bool
		wait        bool
		rate        float64
		concurrency int
		out         cmdutil.OutputFormat
	)
	cmd := &cobra.Command{
		Use:   "onboard",
		Short: "Start onboarding a tenant, or a fleet of tenants (from flags, a YAML or a CSV file)",
		Long: `Start the OnboardTenant workflow for one tenant and domain, or for a fleet.

The tenant is described by flags, or by a YAML file (--file) holding one
tenant spec (see examples/tenant.yaml); the two cannot be mixed. The spec is
validated before Temporal is contacted. Re-running a finished onboarding is
allowed and safe (it changes only what differs); while one runs for the same
tenant and domain, a second is refused (exit 3).

Fleets: --file may hold many tenant specs, as a YAML list (- tenantId: ...),
a YAML document "tenants: [...]" (see examples/fleet.yaml), or a CSV file
(*.csv, see examples/fleet.csv) with a header row naming its columns:
  tenantId,domain,displayName,passwordHashSync,exchangeHybridWriteback,notify,
  recipients,deleteThreshold,startJobs
(recipients separated by ";", deleteThreshold a number or "off", booleans
true/false). Every entry is validated first; any problem (each is printed
with its row and field) or a tenant and domain listed twice exits 2 before
anything starts. The fleet is started at --rate starts per second with at
most --concurrency onboardings in flight, and followed to the end by default
(--wait=false only starts them): a progress bar on a terminal (plain lines
otherwise), then a table of every tenant (completed, failed with the reason,
awaiting a delete approval) and exit 1 if any failed. Re-running the same
file is safe: onboardings still running are followed rather than started
again, finished ones run again and change nothing that is already right.
A fleet is never followed by queries (each is a billed Temporal action): it
waits on the workflows' results.

Once the jobs are started, the onboarding starts one watcher (WatchSyncJob)
per job, which outlives it: it asks for an approval when the accidental-delete
threshold quarantines a job (see 'starter approve'). --approver (an e-mail
address), --reminder-interval and --webhook (a name configured on the worker)
configure the watchers (they combine with --file); --no-watch starts none. A
watcher already running is kept as it is.

--wait follows the onboarding by waiting on its result and reading where it
is with DescribeWorkflowExecution every 2 s (never a query: each is a billed
Temporal action); each step's outcome is printed when it ends.`,
		Example: `  starter onboard --tenant-id 11111111-2222-3333-4444-555555555555 --domain contoso.com \
      --password-hash-sync --notify --recipient admin@contoso.com --wait
  starter onboard --file examples/tenant.yaml --wait
  starter onboard --file examples/fleet.yaml
  starter onboard --file examples/fleet.csv --rate 10 --concurrency 100 --approver alice@contoso.com
  starter onboard --file examples/tenant.yaml --approver alice@contoso.com --approver bob@contoso.com \
      --reminder-interval 2h --webhook teams-ops`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			changed := cmd.Flags().Changed
			ts, fleet, err := spec.Build(sf, changed, spec.ReadFile)
			// A file's problems are listed with the flags' (below); any
			// other error (an unreadable file) alone.
			var fileProblems *spec.Problems
			if err != nil && !errors.As(err, &fileProblems) {
				return cmdutil.Exitf(cmdutil.ExitUsage, "%v", err)
			}
			var p cmdutil.Problems
			in := workflows.OnboardInput{Spec: ts, WatchOptions: wf.Options(&p, changed)}
			if fileProblems != nil {
				msg := fileProblems.Error()
				if len(p) > 0 {
					msg += "\n" + p.Err("invalid watch options").Error()
				}
				return cmdutil.Exitf(cmdutil.ExitUsage, "%s", msg)
			}
			if fleet == nil {
				if given := cmdutil.AnyChanged(changed, "rate", "concurrency"); len(given) > 0 {
					p.Add(given[0], "applies to a fleet file (--file with several tenants)")
				}
			} else {
				if rate <= 0 || rate > 1000 {
					p.Add("--rate", "%g is out of range: starts per second, more than 0 and at most 1000", rate)
				}
				if concurrency < 1 || concurrency > 10000 {
					p.Add("--concurrency", "%d is out of range: between 1 and 10000", concurrency)
				}
			}
			if noWatch {
				if given := cmdutil.AnyChanged(changed, cmdutil.WatchFlagNames...); len(given) > 0 {
					p.Add("--no-watch", "cannot be combined with %s: they configure the watchers it turns off", strings.Join(given, ", "))
				}
				off := false
				in.Watch = &off
			}
			if fleet != nil {
				if err := fleet.Validate(); err != nil {
					msg := err.Error()
					if len(p) > 0 {
						msg += "\n" + p.Err("invalid options").Error()
					}
					return cmdutil.Exitf(cmdutil.ExitUsage, "%s", msg)
				}
				if err := p.Err("invalid options"); err != nil {
					return err
				}
				// A fleet is followed unless --wait=false: the table needs the outcomes.
				follow := wait || !changed("wait")
				if out.JSON() {
					return cmdutil.Exitf(cmdutil.ExitUsage, "--output json applies to one tenant; a fleet prints a table (follow each with starter status --output json)")
				}
				ob.Input, ob.Fleet, ob.fleet = in, fleet, fleetOptions{rate: rate, concurrency: concurrency, wait: follow}
				return ob.run(cmd.Context(), runF)
			}
			if err := ts.Validate(); err != nil {
				msg := spec.ValidationLines(err)
				if len(p) > 0 {
					msg += "\n" + p.Err("invalid watch options").Error()
				}
				return cmdutil.Exitf(cmdutil.ExitUsage, "%s", msg)
			}
			if err := p.Err("invalid watch options"); err != nil {
				return err
			}
			ob.Input, ob.Wait, ob.Output = in, wait, out
			return ob.run(cmd.Context(), runF)
		},
	}
	sf.Register(cmd.Flags())
	cmd.Flags().BoolVar(&wait, "wait", false, "follow the onboarding until it ends, printing each step (a fleet: on unless --wait=false)")
	cmd.Flags().Float64Var(&rate, "rate", defaultFleetRate, "fleet: onboardings started per second")
	cmd.Flags().IntVar(&concurrency, "concurrency", defaultFleetConcurrency, "fleet: onboardings in flight at once (with --wait)")
	wf.Register(cmd.Flags())
	cmd.Flags().BoolVar(&noWatch, "no-watch", false, "start no watcher for the jobs")
	out.Register(cmd.Flags())
	cmd.Flags().SortFlags = false
	return cmd
}

func (ob *OnboardOptions) onboard(ctx context.Context, in workflows.OnboardInput, wait bool, out cmdutil.OutputFormat) error {
	n := in.Spec.Normalized()
	opts := workflows.OnboardStartOptions(in.Spec)
	c, err := visibility.Dial(ctx, ob.Dial)
	if err != nil {
		return err
	}
	defer c.Close()

	// The spec goes as given (validated); the workflow applies Normalized itself.
	run, err := c.Start(ctx, opts, workflows.OnboardTenantWorkflow, in)
	if err != nil {
		if errors.Is(err, cmdutil.ErrAlreadyStarted) {
			return cmdutil.Exitf(cmdutil.ExitRunning, "an onboarding of tenant %s domain %s is already running (workflow id %s); follow it with: %s\n%s",
				n.TenantID, n.Domain, opts.ID, ob.statusCommand(n), c.Link(opts.ID))
		}
		return c.TemporalError("cannot start the onboarding", err)
	}
	started := view.OnboardingView{WorkflowID: run.GetID(), RunID: run.GetRunID(), Domain: n.Domain, Status: "running", WebUI: c.Link(run.GetID()), Running: true}
	if out.JSON() {
		if !wait {
			return cmdutil.Emit(ob.IO.Out, started)
		}
		// Progress goes to stderr; stdout holds the one document.
		return ob.Follow(ctx, c, run, n, ob.IO.ErrOut, func(v view.OnboardingView) error { return cmdutil.Emit(ob.IO.Out, v) }, started)
	}
	fmt.Fprintf(ob.IO.Out, "started onboarding of tenant %s domain %s\n", n.TenantID, n.Domain)
	fmt.Fprintf(ob.IO.Out, "workflow id: %s\n", run.GetID())
	fmt.Fprintf(ob.IO.Out, "run id:      %s\n", run.GetRunID())
	fmt.Fprintf(ob.IO.Out, "web ui:      %s\n", started.WebUI)
	if !wait {
		fmt.Fprintf(ob.IO.Out, "follow it with: %s\n", ob.statusCommand(n))
		return nil
	}
	return ob.Follow(ctx, c, run, n, ob.IO.Out, nil, started)
}

// statusCommand is the command that shows this onboarding, with the
// connection flags given on this command line.
func (ob *OnboardOptions) statusCommand(n workflows.TenantSpec) string {
	cmd := fmt.Sprintf("starter status --tenant-id %s --domain %s", n.TenantID, n.Domain)
	if ob.Conn.Address != "" {
		cmd += " --address " + ob.Conn.Address
	}
	if ob.Conn.Namespace != "" {
		cmd += " --namespace " + ob.Conn.Namespace
	}
	return cmd
}

// Follow waits on the run's result and, meanwhile, reads where it is with
// DescribeWorkflowExecution at a modest rate (ob.PollInterval): the step
// search attribute, the pending activity's attempt and last failure. No
// query: each is a billed Temporal action. Each step's outcome is printed
// from the result when the run ends.
// Progress lines go to w; when emit is set, the end is handed to it as a
// view (--output json) rather than printed.
func (ob *OnboardOptions) Follow(ctx context.Context, c *visibility.Conn, run client.WorkflowRun, n workflows.TenantSpec, w io.Writer, emit func(view.OnboardingView) error, v view.OnboardingView) error {
	type outcome struct {
		res workflows.OnboardResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		o.err = run.Get(ctx, &o.res)
		done <- o
	}()
	p := &view.StepPrinter{W: w}
	warned := ""
	warn := func(msg string) {
		if msg != warned && ctx.Err() == nil {
			warned = msg
			fmt.Fprintln(ob.IO.ErrOut, "… "+msg)
		}
	}
	poll := func() {
		qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		d, err := c.Describe(qctx, run.GetID(), run.GetRunID())
		if err != nil {
			warn(fmt.Sprintf("Temporal at %s does not answer (%v); still trying (Ctrl-C stops following, not the onboarding)", c.Address, visibility.RootCause(err)))
			return
		}
		if d.GetWorkflowExecutionInfo().GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return // the result is on its way
		}
		prog := workflows.Progress{Status: workflows.OnboardingRunning, CurrentStep: c.ExecutionOf(d.GetWorkflowExecutionInfo()).Step}
		for _, pa := range d.GetPendingActivities() {
			prog.Attempt = pa.GetAttempt()
			if lf := pa.GetLastFailure(); lf != nil {
				prog.LastError = lf.GetMessage()
			}
		}
		// Without a worker nothing moves: say so (DescribeTaskQueue is free).
		if len(d.GetPendingActivities()) == 0 || prog.Attempt <= 1 {
			if hint, err := c.NoWorkerHint(qctx); err == nil && hint != "" {
				warn(hint)
				return
			}
		}
		if warned != "" {
			warned = ""
			fmt.Fprintln(ob.IO.ErrOut, "… a worker picked it up")
		}
		p.Progress(prog)
	}
	poll()
	tick := time.NewTicker(ob.PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return cmdutil.Exitf(cmdutil.ExitInterrupted, "stopped following; the onboarding goes on: %s", ob.statusCommand(n))
		case o := <-done:
			if ctx.Err() != nil {
				return cmdutil.Exitf(cmdutil.ExitInterrupted, "stopped following; the onboarding goes on: %s", ob.statusCommand(n))
			}
			var wee *temporal.WorkflowExecutionError
			if o.err != nil && !errors.As(o.err, &wee) {
				if perr := c.PayloadError(o.err); errors.Is(perr, visibility.ErrNeedKeys) {
					return cmdutil.Exitf(cmdutil.ExitUsage, "cannot read the result of the onboarding (it goes on: %s): %v", ob.statusCommand(n), perr)
				}
				return c.TemporalError("lost track of the onboarding (it goes on: "+ob.statusCommand(n)+")", o.err)
			}
			if emit != nil {
				return ob.finishView(v, o.res, o.err, emit)
			}
			return ob.finish(p, o.res, o.err)
		case <-tick.C:
			poll()
		}
	}
}

// finish prints the end of a run: the remaining steps and the result, or the
// failure and what exists so far.
func (ob *OnboardOptions) finish(p *view.StepPrinter, res workflows.OnboardResult, err error) error {
	if err == nil {
		p.Steps(res.Steps)
		fmt.Fprintln(ob.IO.Out, "done: "+res.Summary())
		view.PrintResult(ob.IO.Out, res)
		return nil
	}
	f := view.DescribeFailure(err)
	if f.HasResult {
		p.Steps(f.Result.Steps)
	}
	fmt.Fprintln(ob.IO.ErrOut, "onboarding failed: "+f.Message)
	if f.HasResult {
		fmt.Fprintln(ob.IO.Out, "what exists now (a re-run after the fix reuses it):")
		view.PrintResult(ob.IO.Out, f.Result)
	}
	if f.Validation != "" {
		fmt.Fprintln(ob.IO.ErrOut, f.Validation)
	}
	return &cmdutil.ExitError{Code: cmdutil.ExitFailed}
}

// finishView hands the end of a run to emit as a view; exit 1 when it failed.
func (ob *OnboardOptions) finishView(v view.OnboardingView, res workflows.OnboardResult, err error, emit func(view.OnboardingView) error) error {
	v.Running = false
	if err == nil {
		v.Status, v.CurrentStep, v.Steps, v.Result = "completed", workflows.StepDone, res.Steps, &res
		return emit(v)
	}
	f := view.DescribeFailure(err)
	v.Status, v.Error, v.Validation = "failed", text.OneLine(f.Message), f.Validation
	if f.HasResult {
		v.Steps, v.Result = f.Result.Steps, &f.Result
	}
	if eerr := emit(v); eerr != nil {
		return eerr
	}
	return &cmdutil.ExitError{Code: cmdutil.ExitFailed, Msg: "onboarding failed: " + f.Message}
}
