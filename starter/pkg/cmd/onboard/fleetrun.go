package onboard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/vbauerster/cupwriter"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
	"github.com/cloudsync/cloudsync/starter/pkg/spec"
	"github.com/cloudsync/cloudsync/starter/pkg/text"
	"github.com/cloudsync/cloudsync/starter/pkg/view"
	"github.com/cloudsync/cloudsync/starter/pkg/visibility"
	"github.com/cloudsync/cloudsync/workflows"
)

// fleetOptions bound how a fleet is started.
type fleetOptions struct {
	rate        float64 // starts per second
	concurrency int     // onboardings in flight (with wait)
	wait        bool
}

// Fleet defaults: 5 starts a second keeps a fleet's first Graph writes (each
// onboarding writes to its own tenant, so Graph's per-tenant budget is not
// shared) and the Temporal namespace's start rate modest; 50 in flight keeps
// one worker's activity slots (200 by default) from being swamped.
const (
	defaultFleetRate        = 5
	defaultFleetConcurrency = 50
)

// Fleet row states.
const (
	rowPending   = "pending"
	rowRunning   = "running"
	rowCompleted = "completed"
	rowNoChange  = "no change"
	rowFailed    = "failed"
	rowStarted   = "started" // without --wait
	rowLost      = "not followed"
)

type fleetRow struct {
	entry    spec.Entry
	tenant   string
	domain   string
	id       string
	state    string
	attached bool // it was already running: followed, not started again
	detail   string
	awaiting int // watchers of this tenant and domain awaiting a delete approval
}

// fleetRun is a fleet being onboarded.
type fleetRun struct {
	mu      sync.Mutex
	rows    []*fleetRow
	started time.Time
	hint    string // e.g. no worker polls the task queue (under mu)
	changed func() // called after a row changed state (under mu)
}

// onChange sets (nil: clears) what is called after a row changed state.
func (f *fleetRun) onChange(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changed = fn
}

func (f *fleetRun) setHint(h string) {
	f.mu.Lock()
	f.hint = h
	changed := f.changed
	f.mu.Unlock()
	if changed != nil {
		changed()
	}
}

func (f *fleetRun) getHint() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hint
}

func (f *fleetRun) state(r *fleetRow) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return r.state
}

func (f *fleetRun) set(r *fleetRow, state, detail string) {
	f.mu.Lock()
	r.state, r.detail = state, detail
	changed := f.changed
	f.mu.Unlock()
	if changed != nil {
		changed()
	}
}

// counts tallies the rows by state.
func (f *fleetRun) counts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := map[string]int{}
	for _, r := range f.rows {
		c[r.state]++
	}
	return c
}

// onboardFleet starts every tenant of a validated fleet at a bounded rate and
// concurrency and, with wait, follows each to its end: a progress bar (plain
// lines when stderr is not a terminal), then a table, exit 1 if any failed.
// It follows runs by waiting on their results (a long poll), never by
// querying them: a query is a billed Temporal action.
func (ob *OnboardOptions) onboardFleet(ctx context.Context, fleet *spec.Fleet, base workflows.OnboardInput, opts fleetOptions) error {
	c, err := visibility.Dial(ctx, ob.Dial)
	if err != nil {
		return err
	}
	defer c.Close()

	run := &fleetRun{started: time.Now()}
	for _, e := range fleet.Entries {
		n := e.Spec.Normalized()
		run.rows = append(run.rows, &fleetRow{entry: e, tenant: n.TenantID, domain: n.Domain, id: workflows.OnboardWorkflowID(n.TenantID, n.Domain), state: rowPending})
	}
	fmt.Fprintf(ob.IO.Out, "onboarding a fleet of %d tenants: at most %.4g starts/s", len(run.rows), opts.rate)
	if opts.wait {
		fmt.Fprintf(ob.IO.Out, ", %d in flight", opts.concurrency)
	}
	fmt.Fprintln(ob.IO.Out)

	stopProgress := ob.fleetProgress(run, opts)
	if opts.wait {
		stopHint := ob.fleetWorkerHint(ctx, c, run)
		defer stopHint()
	}
	abort := ob.startFleet(ctx, c, run, base, opts)
	stopProgress()
	if abort != nil {
		ob.printFleet(run, opts)
		return abort
	}
	if opts.wait && ctx.Err() == nil {
		ob.markAwaiting(ctx, c, run)
	}
	failed := ob.printFleet(run, opts)
	switch {
	case ctx.Err() != nil:
		return cmdutil.Exitf(cmdutil.ExitInterrupted, "interrupted: no further onboarding was started; those started go on (see starter list)")
	case failed > 0:
		return &cmdutil.ExitError{Code: cmdutil.ExitFailed}
	}
	return nil
}

// startFleet starts the rows in order, one at a time, at opts.rate
// (rate.Limiter) and, with wait, with at most opts.concurrency in flight
// (errgroup.SetLimit: a row holds its slot from its start to its end); it
// returns when every started row is followed to its end, with the setup
// error that stopped it if one did (every further start would meet it too).
func (ob *OnboardOptions) startFleet(ctx context.Context, c *visibility.Conn, run *fleetRun, base workflows.OnboardInput, opts fleetOptions) error {
	pace := rate.NewLimiter(rate.Limit(opts.rate), 1)
	var g errgroup.Group
	if opts.wait {
		g.SetLimit(max(opts.concurrency, 1))
	}
	defer func() { _ = g.Wait() }() // each row reports its own end
	for _, r := range run.rows {
		started := make(chan error, 1)
		// Go waits for a free slot; followers free theirs when ctx ends, so
		// an interrupt gets through.
		g.Go(func() error {
			// Paced within the slot: starts are spaced by 1/rate however
			// long a slot took to free.
			if err := pace.Wait(ctx); err != nil {
				started <- err
				return nil
			}
			wr, err := ob.startFleetRow(ctx, c, run, r, base)
			started <- err
			if err == nil && opts.wait {
				ob.followFleetRow(ctx, run, r, wr)
			}
			return nil
		})
		err := <-started
		switch {
		case ctx.Err() != nil && run.state(r) == rowPending:
			return nil // interrupted: this row and the rest stay pending
		case err != nil && cmdutil.SetupError(err):
			return c.TemporalError("cannot start the onboardings", err)
		case err != nil:
			run.set(r, rowFailed, "could not start: "+text.OneLine(visibility.RootCause(err).Error()))
		}
	}
	return nil
}

// startFleetRow starts one onboarding, or attaches to the one already running
// for this tenant and domain (a re-run of the same fleet file).
func (ob *OnboardOptions) startFleetRow(ctx context.Context, c *visibility.Conn, run *fleetRun, r *fleetRow, base workflows.OnboardInput) (client.WorkflowRun, error) {
	in := base
	in.Spec = r.entry.Spec
	wr, err := c.Start(ctx, workflows.OnboardStartOptions(in.Spec), workflows.OnboardTenantWorkflow, in)
	if err != nil {
		if !errors.Is(err, cmdutil.ErrAlreadyStarted) {
			return nil, err
		}
		wr = c.GetWorkflow(ctx, r.id, "")
		run.mu.Lock()
		r.attached = true
		run.mu.Unlock()
	}
	run.set(r, rowRunning, "")
	return wr, nil
}

// followFleetRow waits for one onboarding's result.
func (ob *OnboardOptions) followFleetRow(ctx context.Context, run *fleetRun, r *fleetRow, wr client.WorkflowRun) {
	var res workflows.OnboardResult
	err := wr.Get(ctx, &res)
	var wee *temporal.WorkflowExecutionError
	switch {
	case err == nil && res.Changed:
		run.set(r, rowCompleted, fleetDetail(res))
	case err == nil:
		run.set(r, rowNoChange, fleetDetail(res))
	case ctx.Err() != nil:
		run.set(r, rowLost, "still running: "+ob.statusCommand(workflows.TenantSpec{TenantID: r.tenant, Domain: r.domain}))
	case errors.As(err, &wee):
		f := view.DescribeFailure(err)
		msg := f.Message
		if f.Validation != "" {
			msg += ": " + f.Validation
		}
		run.set(r, rowFailed, text.OneLine(msg))
	default:
		run.set(r, rowLost, "lost track of it ("+text.OneLine(visibility.RootCause(err).Error())+"): "+ob.statusCommand(workflows.TenantSpec{TenantID: r.tenant, Domain: r.domain}))
	}
}

func fleetDetail(res workflows.OnboardResult) string {
	d := fmt.Sprintf("service principal %s, %d job(s)", res.ServicePrincipalID, len(res.Jobs))
	if res.Exchange == workflows.ExchangeSchemaMissing {
		d += ", Exchange writeback skipped: the AD schema has no mailNickname"
	}
	return d
}

// markAwaiting notes the tenants whose new watchers already hold deletions
// back for an approval (one visibility query, not a billed action).
func (ob *OnboardOptions) markAwaiting(ctx context.Context, c *visibility.Conn, run *fleetRun) {
	list, _, err := c.ListExecutions(ctx, "WorkflowType = "+visibility.Quoted(workflows.WatchSyncJobWorkflow)+" AND CloudSyncAwaitingApproval = true AND ExecutionStatus = 'Running'")
	if err != nil {
		fmt.Fprintf(ob.IO.ErrOut, "… could not list the watchers awaiting approval: %v\n", visibility.RootCause(err))
		return
	}
	awaiting := map[string]int{}
	for _, e := range visibility.LatestRuns(list) {
		awaiting[workflows.OnboardWorkflowID(e.Tenant, e.Domain)]++
	}
	run.mu.Lock()
	defer run.mu.Unlock()
	for _, r := range run.rows {
		r.awaiting = awaiting[r.id]
	}
}

// printFleet prints the table and the tally; it returns how many failed.
func (ob *OnboardOptions) printFleet(run *fleetRun, opts fleetOptions) int {
	run.mu.Lock()
	defer run.mu.Unlock()
	tw := tabwriter.NewWriter(ob.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tDOMAIN\tRESULT\tDETAIL")
	tally := map[string]int{}
	awaiting, attached := 0, 0
	for _, r := range run.rows {
		result, detail := r.state, r.detail
		if r.attached && (r.state == rowCompleted || r.state == rowNoChange || r.state == rowFailed) {
			result += " (was running)"
			attached++
		}
		if r.state == rowRunning && !opts.wait {
			result = rowStarted
			detail = "follow it with: " + ob.statusCommand(workflows.TenantSpec{TenantID: r.tenant, Domain: r.domain})
		}
		if r.awaiting > 0 {
			awaiting++
			result += ", awaiting approval"
			detail = fmt.Sprintf("%d job(s) hold deletions back: starter list --awaiting-approval --tenant-id %s", r.awaiting, r.tenant)
		}
		tally[r.state]++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.tenant, r.domain, result, text.OrDash(detail))
	}
	tw.Flush()
	parts := []string{}
	for _, s := range []string{rowCompleted, rowNoChange, rowFailed, rowRunning, rowLost, rowPending} {
		if n := tally[s]; n > 0 {
			label := s
			switch {
			case s == rowRunning && !opts.wait:
				label = rowStarted
			case s == rowPending:
				label = "not started"
			}
			parts = append(parts, fmt.Sprintf("%d %s", n, label))
		}
	}
	if awaiting > 0 {
		parts = append(parts, fmt.Sprintf("%d awaiting approval", awaiting))
	}
	if attached > 0 {
		parts = append(parts, fmt.Sprintf("%d already running (followed, not started again)", attached))
	}
	fmt.Fprintf(ob.IO.Out, "fleet of %d tenants in %s: %s\n", len(run.rows), time.Since(run.started).Round(time.Second), strings.Join(parts, ", "))
	return tally[rowFailed]
}

// fleetProgress shows progress on stderr until the returned stop is called: a
// bar redrawn in place on a terminal (fleetBar), otherwise a plain line when
// something changed, at most every ob.FleetEvery.
func (ob *OnboardOptions) fleetProgress(run *fleetRun, opts fleetOptions) (stop func()) {
	if f, ok := ob.IO.ErrOut.(*os.File); ok && cmdutil.IsTerminal(f) && len(run.rows) > 0 {
		// Each redraw starts with a carriage return: what the terminal
		// echoes meanwhile (^C) must not shift it.
		cw := cupwriter.New(carriageReturn{f}, false)
		cw.SetTermFd(int(f.Fd()))
		return fleetBar(run, opts, mpb.WithConsoleWriter(cw))
	}
	every := ob.FleetEvery
	if every <= 0 {
		every = 5 * time.Second
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(every)
		defer tick.Stop()
		last := ""
		for {
			select {
			case <-done:
				if line := progressLine(run, opts); line != last {
					fmt.Fprintln(ob.IO.ErrOut, line)
				}
				return
			case <-tick.C:
				if line := progressLine(run, opts); line != last {
					fmt.Fprintln(ob.IO.ErrOut, line)
					last = line
				}
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// fleetBar is the terminal's progress, redrawn in place by mpb: "[#####.....]"
// and the progress line, cut to the terminal's width so the bar stays, and
// under it, once there is one, the hint (no worker polls the task queue).
// stop leaves the last state on screen.
func fleetBar(run *fleetRun, opts fleetOptions, popts ...mpb.ContainerOption) (stop func()) {
	p := mpb.New(append([]mpb.ContainerOption{mpb.WithRefreshRate(200 * time.Millisecond)}, popts...)...)
	bar := p.New(int64(len(run.rows)),
		mpb.BarStyle().Lbound("[").Filler("#").Tip("#").Padding(".").Rbound("]"),
		mpb.BarWidth(fleetBarWidth+2),
		mpb.AppendDecorators(decor.Any(func(s decor.Statistics) string {
			line, _ := progressParts(run, opts)
			return fit(line, s.AvailableWidth-fleetBarWidth-4) // the brackets and a space each side
		})),
	)
	var (
		mu      sync.Mutex
		hintRow *mpb.Bar
		stopped bool
	)
	addHintRow := func() {
		mu.Lock()
		defer mu.Unlock()
		if _, h := progressParts(run, opts); hintRow != nil || stopped || h == "" {
			return
		}
		hintRow = p.New(0, mpb.NopStyle(), mpb.BarFillerTrim(),
			mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { _, h := progressParts(run, opts); return h })))
	}
	run.onChange(func() {
		bar.SetCurrent(int64(run.done(opts)))
		addHintRow()
	})
	return func() {
		run.onChange(nil)
		mu.Lock()
		stopped = true
		hr := hintRow
		mu.Unlock()
		bar.SetCurrent(int64(run.done(opts)))
		bar.Abort(false) // not all done (interrupted): keep the bar as it is
		if hr != nil {
			hr.Abort(false)
		}
		p.Wait()
	}
}

// fit cuts s to width columns (runes: the line is ASCII but for "…").
func fit(s string, width int) string {
	r := []rune(s)
	switch {
	case width <= 0:
		return ""
	case len(r) <= width:
		return s
	}
	return string(r[:width-1]) + "…"
}

const fleetBarWidth = 30

// fleetWorkerHint checks, while onboardings run, that a worker polls the
// task queue (DescribeTaskQueue: not a billed action) and puts the hint a
// single onboard gives in the progress line when none does.
func (ob *OnboardOptions) fleetWorkerHint(ctx context.Context, c *visibility.Conn, run *fleetRun) (stop func()) {
	every := ob.FleetEvery
	if every <= 0 || every > 5*time.Second {
		every = 5 * time.Second
	}
	hctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if run.counts()[rowRunning] > 0 {
				qctx, qcancel := context.WithTimeout(hctx, 3*time.Second)
				h, err := c.NoWorkerHint(qctx)
				qcancel()
				if err == nil {
					run.setHint(strings.TrimSuffix(h, "; the onboarding waits for it"))
				}
			}
			select {
			case <-hctx.Done():
				return
			case <-time.After(every):
			}
		}
	}()
	return func() { cancel(); <-done }
}

// progressLine is e.g. "35/100 done: 33 completed, 2 failed; 50 running,
// 15 to start; 4.2/min, 1m10s", and "; " and the hint when there is one.
func progressLine(run *fleetRun, opts fleetOptions) string {
	line, hint := progressParts(run, opts)
	if hint != "" {
		line += "; " + hint
	}
	return line
}

// progressParts is the progress line without the hint, and the hint (while
// onboardings run and wait).
func progressParts(run *fleetRun, opts fleetOptions) (line, hint string) {
	c := run.counts()
	total := len(run.rows)
	done := doneOf(c, total, opts)
	elapsed := time.Since(run.started)
	var b strings.Builder
	if opts.wait {
		fmt.Fprintf(&b, "%d/%d done: %d completed, %d failed; %d running, %d to start", done, total, c[rowCompleted]+c[rowNoChange], c[rowFailed], c[rowRunning], c[rowPending])
		if n := c[rowLost]; n > 0 {
			fmt.Fprintf(&b, ", %d not followed (they go on: starter list)", n)
		}
	} else {
		fmt.Fprintf(&b, "%d/%d started, %d could not start", total-c[rowPending]-c[rowFailed], total, c[rowFailed])
	}
	if m := elapsed.Minutes(); m > 0 && done > 0 {
		fmt.Fprintf(&b, "; %.1f/min", float64(done)/m)
	}
	fmt.Fprintf(&b, ", %s", elapsed.Round(time.Second))
	if opts.wait && c[rowRunning] > 0 {
		hint = run.getHint()
	}
	return b.String(), hint
}

// doneOf is how many rows are done: ended when followed (not followed,
// interrupted, is not done: those onboardings go on), else started or failed.
func doneOf(c map[string]int, total int, opts fleetOptions) int {
	if !opts.wait {
		return total - c[rowPending]
	}
	return c[rowCompleted] + c[rowNoChange] + c[rowFailed]
}

func (f *fleetRun) done(opts fleetOptions) int { return doneOf(f.counts(), len(f.rows), opts) }

// carriageReturn writes a carriage return before each write (mpb writes a
// redraw at once: cursor up, clear, the rows).
type carriageReturn struct{ w io.Writer }

func (c carriageReturn) Write(p []byte) (int, error) {
	if _, err := io.WriteString(c.w, "\r"); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
