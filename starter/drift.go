package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/cloudsync/cloudsync/starter/pkg/text"
	"github.com/cloudsync/cloudsync/starter/pkg/visibility"
	"github.com/cloudsync/cloudsync/workflows"
)

// driftView is one drift check: its CloudSyncDrift and what it publishes.
type driftView struct {
	WorkflowID string                `json:"workflowId"`
	TenantID   string                `json:"tenantId"`
	Domain     string                `json:"domain"`
	Status     string                `json:"status"` // of the drift check's workflow
	Drift      string                `json:"drift,omitempty"`
	State      *workflows.DriftState `json:"state,omitempty"`
	StateError string                `json:"stateError,omitempty"`
	WebUI      string                `json:"webUi"`

	e visibility.Execution
}

// driftInto adds the drift checks of a tenant's configurations (of one
// domain, if given), from their memos and search attributes.
func (a *app) driftInto(ctx context.Context, c *conn, v *statusView, tenant, domain string) error {
	all, _, err := c.ListExecutions(ctx, visibility.DriftQuery(tenant, domain))
	if err != nil {
		return c.TemporalError("cannot list the drift checks of tenant "+tenant, err)
	}
	for _, e := range visibility.LatestRuns(all) {
		v.Drift = append(v.Drift, c.driftViewOf(e))
	}
	return nil
}

func (c *conn) driftViewOf(e visibility.Execution) driftView {
	d := driftView{WorkflowID: e.ID, TenantID: e.Tenant, Domain: e.Domain, Status: visibility.StatusWord(e.Status), Drift: e.DriftSA, State: e.Drift,
		WebUI: c.Link(e.ID), e: e}
	if e.DriftErr != nil {
		d.StateError = text.OneLine(e.DriftErr.Error())
	}
	return d
}

// printDrift prints one drift check's finding.
func printDrift(w io.Writer, label string, e visibility.Execution) {
	const pad = "               "
	row := func(v string) { fmt.Fprintf(w, "%-14s %s\n", label+":", v) }
	st := e.Drift
	switch {
	case e.DriftErr != nil:
		row("cannot be read: " + text.OneLine(e.DriftErr.Error()))
		return
	case !e.Running():
		row("not checked any more (the drift check " + visibility.StatusWord(e.Status) + ")")
		return
	case st == nil:
		row(text.OrDash(e.DriftSA) + " (no check yet)")
		return
	}
	when := func(t time.Time) string { return t.Local().Format(time.RFC3339) }
	checked := "checked " + when(st.CheckedAt)
	if st.By == "onboarding" {
		checked = "as of the onboarding at " + when(st.CheckedAt)
	}
	if !st.NextCheck.IsZero() {
		checked += "; next check " + when(st.NextCheck)
	}
	switch {
	case st.Status == workflows.DriftUnknown:
		last := workflows.DriftStatus(st.Drift)
		row(fmt.Sprintf("unknown: the last check failed: %s (last known: %s, %s)", text.OneLine(st.LastError), last, checked))
	case st.Status == workflows.DriftNone:
		row("none (" + checked + ")")
	default:
		row(fmt.Sprintf("%s since %s (%s)", st.Status, when(st.Since), checked))
		for _, s := range st.Changes {
			fmt.Fprintf(w, "%s  %s %s: %s\n", pad, planSymbol(s.Action), s.Step, text.OneLine(s.Detail))
		}
		fmt.Fprintf(w, "%srepair: starter onboard with this tenant's spec (starter plan shows the same)\n", pad)
	}
}

// listDrifted lists the configurations whose drift check found drift (or
// could not check), across tenants.
func (a *app) listDrifted(ctx context.Context, c *conn, tenant string) (listView, error) {
	q := "WorkflowType = " + visibility.Quoted(workflows.WatchDriftWorkflow) + " AND ExecutionStatus = 'Running' AND CloudSyncDrift != " + visibility.Quoted(workflows.DriftNone) + tenantFilter(tenant)
	all, truncated, err := c.ListExecutions(ctx, q)
	if err != nil {
		return listView{}, c.TemporalError("cannot list the drifted configurations", err)
	}
	list := visibility.LatestRuns(all)
	v := c.listViewOf(list, truncated, false)
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
func (a *app) printDrifted(v listView) {
	if len(v.Items) == 0 {
		fmt.Fprintln(a.IO.Out, "no configuration differs from its spec")
		return
	}
	when := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.Local().Format(time.RFC3339)
	}
	tw := tabwriter.NewWriter(a.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tDOMAIN\tDRIFT\tSINCE\tCHECKED\tWEB UI")
	for _, it := range v.Items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", it.TenantID, text.OrDash(it.Domain), text.OrDash(it.Drift), when(it.DriftSince), when(it.DriftChecked), it.WebUI)
	}
	tw.Flush()
	a.listFooter(len(v.Items), v.Truncated, v.StateError)
	fmt.Fprintln(a.IO.Out, "details: starter status --tenant-id <tenant> --domain <domain>; repair: starter onboard with the tenant's spec")
}
