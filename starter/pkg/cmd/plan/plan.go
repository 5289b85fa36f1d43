// Package plan is starter plan: what an onboarding of a tenant or a fleet
// would change, read by the PlanTenant workflow (nothing is written).
package plan

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/sync/errgroup"

	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
	"github.com/cloudsync/cloudsync/starter/pkg/spec"
	"github.com/cloudsync/cloudsync/starter/pkg/text"
	"github.com/cloudsync/cloudsync/starter/pkg/view"
	"github.com/cloudsync/cloudsync/starter/pkg/visibility"
	"github.com/cloudsync/cloudsync/workflows"
)

// PlanOptions are plan's parsed flags and what it runs with.
type PlanOptions struct {
	IO   *cmdutil.IOStreams
	Dial func(context.Context) (*cmdutil.Conn, error)

	Spec        spec.Flags
	Changed     func(flag string) bool // which flags were given (a spec's flags or --file)
	Output      cmdutil.OutputFormat
	Concurrency int           // --concurrency: plans in flight at once
	Timeout     time.Duration // --timeout: how long a plan may take
}

// Exit codes of plan, as terraform plan -detailed-exitcode: scripts read
// them, so every error is 1 (bad input and an unreachable Temporal too).
const (
	ExitNoChanges = 0
	ExitError     = 1
	ExitChanges   = 2
)

// NewCmdPlan is starter plan; runF (nil: the real run) gets the parsed
// options, which tests capture without a server.
func NewCmdPlan(f *cmdutil.Factory, runF func(*PlanOptions) error) *cobra.Command {
	opts := &PlanOptions{IO: f.IO, Dial: f.Dial}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what an onboarding of a tenant (or a fleet) would change, without changing anything",
		Long: `Run onboarding's look-before-write reads for one tenant or a fleet, through
the worker (the Graph credentials stay there), and print per step what an
onboarding of the spec would do now, Terraform-style. Nothing is written: the
worker reads through a Graph client that refuses every request but GET, and
the Exchange check's discover (a POST) is not sent: the step says what an
onboarding would do.

The inputs are onboard's: the spec flags, or --file with one spec or a fleet
(YAML list, "tenants: [...]", or CSV). Each tenant is planned by a PlanTenant
workflow of its own (workflow id cloudsync-plan/<tenant>/<domain>/<random>).

  + create     an object would be created (application, jobs, secrets)
  ~ change     something would be rewritten (the sync flag, a secret, the schema, a name)
  - pause      a job of a feature the spec turns off would be paused
  > start      a job would be started
  ? unknown    known only once an onboarding writes or discovers

--output json prints one JSON document (see the README).

Exit codes (as terraform plan -detailed-exitcode):
  0  nothing to change
  1  an error: bad input, Temporal unreachable, or a plan failed
  2  at least one tenant would change (and none failed)`,
		Example: `  starter plan --file examples/tenant.yaml
  starter plan --tenant-id 11111111-2222-3333-4444-555555555555 --domain contoso.com --password-hash-sync
  starter plan --file examples/fleet.csv --output json`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return cmdutil.Exitf(ExitError, "plan takes no arguments (got %q): give the spec with flags or --file", args)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Changed = cmd.Flags().Changed
			if runF != nil {
				return runF(opts)
			}
			changes, err := planRun(cmd.Context(), opts)
			if err != nil {
				var ee *cmdutil.ExitError
				if errors.As(err, &ee) && ee.Code == cmdutil.ExitInterrupted {
					return err
				}
				msg := err.Error()
				if errors.As(err, &ee) {
					msg = ee.Msg
				}
				return &cmdutil.ExitError{Code: ExitError, Msg: msg}
			}
			if changes {
				return &cmdutil.ExitError{Code: ExitChanges}
			}
			return nil
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return cmdutil.Exitf(ExitError, "%v\nRun 'starter plan --help' for usage.", err)
	})
	opts.Spec.Register(cmd.Flags())
	fs := cmd.Flags()
	opts.Output.Register(fs)
	fs.IntVar(&opts.Concurrency, "concurrency", 20, "plans in flight at once (a fleet)")
	fs.DurationVar(&opts.Timeout, "timeout", workflows.DefaultPlanTimeout, "how long a plan may take (a worker must be running)")
	fs.SortFlags = false
	return cmd
}

// planRun validates the input, runs the plans and prints them; changes says
// whether a tenant would change. A failed plan is an error (exit 1).
func planRun(ctx context.Context, opts *PlanOptions) (bool, error) {
	sf, output, concurrency, timeout := opts.Spec, opts.Output, opts.Concurrency, opts.Timeout
	var p cmdutil.Problems
	if concurrency < 1 || concurrency > 1000 {
		p.Add("--concurrency", "%d is out of range: between 1 and 1000", concurrency)
	}
	if timeout < 10*time.Second {
		p.Add("--timeout", "%s is too short: at least 10s", timeout)
	}
	ts, fleet, err := spec.Build(sf, opts.Changed, spec.ReadFile)
	var fileProblems *spec.Problems
	if errors.As(err, &fileProblems) {
		return false, fmt.Errorf("%v%s", err, problemsSuffix(p)) // with the flags' problems
	}
	if err != nil {
		return false, err
	}
	var specs []workflows.TenantSpec
	if fleet != nil {
		if err := fleet.Validate(); err != nil {
			return false, fmt.Errorf("%v%s", err, problemsSuffix(p))
		}
		for _, e := range fleet.Entries {
			specs = append(specs, e.Spec)
		}
	} else {
		if err := ts.Validate(); err != nil {
			return false, fmt.Errorf("%s%s", spec.ValidationLines(err), problemsSuffix(p))
		}
		specs = []workflows.TenantSpec{ts}
	}
	if err := p.Err("invalid options"); err != nil {
		return false, err
	}
	c, err := visibility.Dial(ctx, opts.Dial)
	if err != nil {
		return false, err
	}
	defer c.Close()
	if hint, err := c.NoWorkerHint(ctx); err == nil && hint != "" {
		fmt.Fprintln(opts.IO.ErrOut, "… "+strings.Replace(hint, "the onboarding waits for it", fmt.Sprintf("plans wait for it (--timeout %s)", timeout), 1))
	}
	rep, err := opts.runPlans(ctx, c, specs, concurrency, timeout)
	if err != nil {
		return false, err
	}
	if output.JSON() {
		if err := cmdutil.Emit(opts.IO.Out, rep); err != nil {
			return false, err
		}
	} else {
		view.PrintPlans(opts.IO.Out, rep)
	}
	if rep.Summary.Failed > 0 {
		return false, cmdutil.Exitf(ExitError, "%d of %d plans failed", rep.Summary.Failed, rep.Summary.Tenants)
	}
	return rep.Summary.ToChange > 0, nil
}

func problemsSuffix(p cmdutil.Problems) string {
	if len(p) == 0 {
		return ""
	}
	return "\n" + p.Err("invalid options").Error()
}

// runPlans starts one PlanTenant workflow per spec (at most concurrency at once) and
// waits for their results, in the specs' order. A Temporal error every start
// would meet stops it.
func (o *PlanOptions) runPlans(ctx context.Context, c *visibility.Conn, specs []workflows.TenantSpec, concurrency int, timeout time.Duration) (view.PlanReport, error) {
	rep := view.PlanReport{Tenants: make([]view.PlanTenant, len(specs))}
	var g errgroup.Group
	g.SetLimit(concurrency)
	var failed atomic.Bool // the plans started go on; no more start
	for i, s := range specs {
		n := s.Normalized()
		rep.Tenants[i] = view.PlanTenant{TenantID: n.TenantID, Domain: n.Domain}
		if ctx.Err() != nil || failed.Load() {
			break
		}
		g.Go(func() error {
			t, err := o.planOne(ctx, c, s, timeout)
			rep.Tenants[i] = t
			if err != nil {
				failed.Store(true)
			}
			return err
		})
	}
	abort := g.Wait()
	if ctx.Err() != nil {
		return rep, cmdutil.Exitf(cmdutil.ExitInterrupted, "interrupted: the plans started go on until they end (they change nothing)")
	}
	if abort != nil {
		return rep, abort
	}
	for _, t := range rep.Tenants {
		rep.Summary.Tenants++
		switch t.Status {
		case view.PlanStatusChanges:
			rep.Summary.ToChange++
		case view.PlanStatusNoChanges:
			rep.Summary.Unchanged++
		default:
			rep.Summary.Failed++
		}
	}
	return rep, nil
}

// planOne runs one tenant's plan; the error is for a Temporal problem every
// plan would meet (the tenant's own failure is in its planTenant).
func (o *PlanOptions) planOne(ctx context.Context, c *visibility.Conn, s workflows.TenantSpec, timeout time.Duration) (view.PlanTenant, error) {
	n := s.Normalized()
	t := view.PlanTenant{TenantID: n.TenantID, Domain: n.Domain, Status: view.PlanStatusFailed}
	opts := workflows.PlanStartOptions(n, nonce(), timeout)
	t.WorkflowID = opts.ID
	run, err := c.Start(ctx, opts, workflows.PlanTenantWorkflow, workflows.PlanInput{Spec: s})
	if err != nil {
		if cmdutil.SetupError(err) {
			return t, c.TemporalError("cannot start the plans", err)
		}
		t.Error = "could not start: " + text.OneLine(visibility.RootCause(err).Error())
		return t, nil
	}
	var res workflows.PlanResult
	err = run.Get(ctx, &res)
	var wee *temporal.WorkflowExecutionError
	switch {
	case err == nil:
		t.Steps, t.Changes, t.ServicePrincipalID = res.Steps, res.Changes, res.ServicePrincipalID
		t.Status = view.PlanStatusNoChanges
		if res.Changes > 0 {
			t.Status = view.PlanStatusChanges
		}
	case ctx.Err() != nil:
		t.Error = "interrupted"
	case errors.As(err, &wee):
		f := view.DescribeFailure(err)
		var timeoutErr *temporal.TimeoutError
		if errors.As(err, &timeoutErr) {
			f.Message = fmt.Sprintf("no answer within --timeout %s: is a worker running?", timeout)
		}
		t.Error = text.OneLine(f.Message)
		if f.Validation != "" {
			t.Error += ": " + f.Validation
		}
	default:
		if perr := c.PayloadError(err); errors.Is(perr, visibility.ErrNeedKeys) {
			return t, cmdutil.Exitf(ExitError, "cannot read the plan's result: %v", perr)
		}
		t.Error = "lost track of it: " + text.OneLine(visibility.RootCause(err).Error())
	}
	return t, nil
}

// nonce tells plans of one tenant apart.
func nonce() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
