package list

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/cloudsync/cloudsync/starter/pkg/text"
	"github.com/cloudsync/cloudsync/starter/pkg/visibility"
	"github.com/cloudsync/cloudsync/workflows"
)

func tenantFilter(tenant string) string {
	if tenant == "" {
		return ""
	}
	return " AND CloudSyncTenant = " + visibility.Quoted(tenant)
}

// listView is what list shows (--output json: this document).
type listView struct {
	// AwaitingApproval: the listing is of what awaits a decision only;
	// Drifted: of the configurations that differ from their spec only.
	AwaitingApproval bool       `json:"awaitingApproval"`
	Drifted          bool       `json:"drifted,omitempty"`
	Items            []listItem `json:"items"`
	// Truncated: more matched than are listed (narrow with --tenant-id).
	Truncated bool `json:"truncated"`
	// StateError: why some watchers' published state could not be read.
	StateError string `json:"stateError,omitempty"`
}

// listItem is one running onboarding or watcher.
type listItem struct {
	Kind     string `json:"kind"` // onboarding | watcher | offboarding | drift
	TenantID string `json:"tenantId"`
	Domain   string `json:"domain,omitempty"`
	JobID    string `json:"jobId,omitempty"` // watcher
	Step     string `json:"step,omitempty"`  // onboarding: its current step
	// Phase is a watcher's (watching, awaiting-approval, …), from its memo
	// or, without one, its search attribute.
	Phase            string `json:"phase,omitempty"`
	JobState         string `json:"jobState,omitempty"`
	AwaitingApproval bool   `json:"awaitingApproval"`
	// Drift: a drift check's CloudSyncDrift; since when, and when checked.
	Drift        string     `json:"drift,omitempty"`
	DriftSince   *time.Time `json:"driftSince,omitempty"`
	DriftChecked *time.Time `json:"driftChecked,omitempty"`
	Started      time.Time  `json:"started"`
	// AwaitingSince: when the episode shown began awaiting a decision.
	AwaitingSince *time.Time `json:"awaitingSince,omitempty"`
	WorkflowID    string     `json:"workflowId"`
	RunID         string     `json:"runId"`
	WebUI         string     `json:"webUi"`
}

func listItemOf(c *visibility.Conn, e visibility.Execution) listItem {
	it := listItem{Kind: "watcher", TenantID: e.Tenant, Domain: e.Domain, Started: e.Start, WorkflowID: e.ID, RunID: e.RunID, WebUI: c.Link(e.ID),
		JobState: e.JobState, AwaitingApproval: e.AwaitingNow()}
	switch e.Type {
	case workflows.WatchDriftWorkflow:
		it.Kind, it.JobState, it.Drift = "drift", "", e.DriftSA
		if st := e.Drift; st != nil {
			since, checked := st.Since, st.CheckedAt
			it.DriftSince, it.DriftChecked = &since, &checked
		}
		return it
	case workflows.OnboardTenantWorkflow:
		it.Kind, it.Step, it.JobState = "onboarding", e.Step, ""
		return it
	case workflows.OffboardTenantWorkflow:
		it.Kind, it.Phase, it.JobState = "offboarding", "starting", ""
		if e.Offboard != nil {
			it.Phase = e.Offboard.Phase
			if !e.Offboard.AwaitingSince.IsZero() {
				since := e.Offboard.AwaitingSince
				it.AwaitingSince = &since
			}
		}
		return it
	}
	it.JobID, it.Phase = e.JobID(), "watching"
	if e.Awaiting {
		it.Phase = workflows.PhaseAwaitingApproval
	}
	if st := e.State; st != nil {
		it.Phase = st.Phase
		if st.Phase == workflows.PhaseAwaitingApproval && !st.AwaitingSince.IsZero() {
			since := st.AwaitingSince
			it.AwaitingSince = &since
		}
	}
	return it
}

func listViewOf(c *visibility.Conn, list []visibility.Execution, truncated, awaiting bool) listView {
	v := listView{AwaitingApproval: awaiting, Items: []listItem{}, Truncated: truncated, StateError: stateHint(list)}
	for _, e := range list {
		v.Items = append(v.Items, listItemOf(c, e))
	}
	return v
}

func listAwaiting(ctx context.Context, c *visibility.Conn, tenant string) (listView, error) {
	q := "CloudSyncAwaitingApproval = true AND ExecutionStatus = 'Running'" + tenantFilter(tenant)
	all, truncated, err := c.ListExecutions(ctx, q)
	if err != nil {
		return listView{}, c.TemporalError("cannot list the watchers awaiting approval", err)
	}
	return listViewOf(c, visibility.LatestRuns(all), truncated, true), nil
}

func listRunning(ctx context.Context, c *visibility.Conn, tenant string) (listView, error) {
	// The tenant attribute is in the query even without --tenant-id, so a
	// namespace without the cloudsync search attributes is refused (exit 5)
	// here as with --awaiting-approval, rather than listed as empty.
	tf := tenantFilter(tenant)
	if tf == "" {
		tf = " AND CloudSyncTenant != ''"
	}
	q := "(WorkflowType = " + visibility.Quoted(workflows.OnboardTenantWorkflow) + " OR WorkflowType = " + visibility.Quoted(workflows.WatchSyncJobWorkflow) +
		" OR WorkflowType = " + visibility.Quoted(workflows.OffboardTenantWorkflow) + ") AND ExecutionStatus = 'Running'" + tf
	all, truncated, err := c.ListExecutions(ctx, q)
	if err != nil {
		return listView{}, c.TemporalError("cannot list the running workflows", err)
	}
	return listViewOf(c, visibility.LatestRuns(all), truncated, false), nil
}

// printList prints a listing as a table.
func (opts *ListOptions) printList(v listView) {
	if v.Drifted {
		opts.printDrifted(v)
		return
	}
	if len(v.Items) == 0 {
		if v.AwaitingApproval {
			fmt.Fprintln(opts.IO.Out, "nothing awaits approval")
		} else {
			fmt.Fprintln(opts.IO.Out, "no onboarding or watcher is running")
		}
		return
	}
	tw := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	if v.AwaitingApproval {
		fmt.Fprintln(tw, "TENANT\tDOMAIN\tJOB ID\tAWAITING SINCE\tWEB UI")
	} else {
		fmt.Fprintln(tw, "KIND\tTENANT\tDOMAIN\tJOB ID\tSTATE\tSINCE\tWEB UI")
	}
	for _, it := range v.Items {
		since := it.Started.Local().Format(time.RFC3339)
		if it.AwaitingSince != nil {
			since = it.AwaitingSince.Local().Format(time.RFC3339)
		}
		switch {
		case v.AwaitingApproval:
			if it.AwaitingSince == nil {
				since += " (started)" // no published state: when the watcher started
			}
			job := it.JobID
			if it.Kind == "offboarding" {
				job = "(offboarding)" // awaits the approval to remove a configuration
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", it.TenantID, text.OrDash(it.Domain), job, since, it.WebUI)
		case it.Kind == "onboarding":
			fmt.Fprintf(tw, "onboarding\t%s\t%s\t-\t%s\t%s\t%s\n", it.TenantID, text.OrDash(it.Domain), "step "+text.OrDash(it.Step), since, it.WebUI)
		case it.Kind == "offboarding":
			fmt.Fprintf(tw, "offboarding\t%s\t%s\t-\t%s\t%s\t%s\n", it.TenantID, text.OrDash(it.Domain), it.Phase, since, it.WebUI)
		default:
			state := it.Phase
			if it.JobState != "" {
				state += " (" + it.JobState + ")"
			}
			fmt.Fprintf(tw, "watcher\t%s\t%s\t%s\t%s\t%s\t%s\n", it.TenantID, text.OrDash(it.Domain), it.JobID, state, since, it.WebUI)
		}
	}
	tw.Flush()
	opts.listFooter(len(v.Items), v.Truncated, v.StateError)
	if !v.AwaitingApproval {
		return
	}
	offboardings := 0
	for _, it := range v.Items {
		if it.Kind == "offboarding" {
			offboardings++
		}
	}
	if offboardings < len(v.Items) {
		fmt.Fprintln(opts.IO.Out, "decide with: starter approve|reject --tenant-id <tenant> --job-id <job> --approver <who> --reason <why>")
	}
	if offboardings > 0 {
		fmt.Fprintln(opts.IO.Out, "offboardings: starter offboard --tenant-id <tenant> --domain <domain> --approve|--reject --approver <who> --reason <why>")
	}
}

// stateHint says why some watchers' state could not be read (encrypted
// memos without the keys).
func stateHint(list []visibility.Execution) string {
	for _, e := range list {
		if e.StateErr != nil {
			return "some watchers' state cannot be read: " + e.StateErr.Error()
		}
	}
	return ""
}

func (opts *ListOptions) listFooter(n int, truncated bool, hint string) {
	if truncated {
		fmt.Fprintf(opts.IO.Out, "(only the first %d; narrow with --tenant-id)\n", n)
	}
	if hint != "" {
		fmt.Fprintln(opts.IO.ErrOut, "… "+hint)
	}
}

// listDrifted lists the configurations whose drift check found drift (or
// could not check), across tenants.
func listDrifted(ctx context.Context, c *visibility.Conn, tenant string) (listView, error) {
	q := "WorkflowType = " + visibility.Quoted(workflows.WatchDriftWorkflow) + " AND ExecutionStatus = 'Running' AND CloudSyncDrift != " + visibility.Quoted(workflows.DriftNone) + tenantFilter(tenant)
	all, truncated, err := c.ListExecutions(ctx, q)
	if err != nil {
		return listView{}, c.TemporalError("cannot list the drifted configurations", err)
	}
	list := visibility.LatestRuns(all)
	v := listViewOf(c, list, truncated, false)
	v.Drifted = true
	for _, e := range list {
		if e.DriftErr != nil {
			v.StateError = "some drift checks' state cannot be read: " + e.DriftErr.Error()
			break
		}
	}
	return v, nil
}

// printDrifted prints list --drifted as a table.
func (opts *ListOptions) printDrifted(v listView) {
	if len(v.Items) == 0 {
		fmt.Fprintln(opts.IO.Out, "no configuration differs from its spec")
		return
	}
	when := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.Local().Format(time.RFC3339)
	}
	tw := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tDOMAIN\tDRIFT\tSINCE\tCHECKED\tWEB UI")
	for _, it := range v.Items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", it.TenantID, text.OrDash(it.Domain), text.OrDash(it.Drift), when(it.DriftSince), when(it.DriftChecked), it.WebUI)
	}
	tw.Flush()
	opts.listFooter(len(v.Items), v.Truncated, v.StateError)
	fmt.Fprintln(opts.IO.Out, "details: starter status --tenant-id <tenant> --domain <domain>; repair: starter onboard with the tenant's spec")
}
