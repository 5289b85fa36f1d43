package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	commonpb "go.temporal.io/api/common/v1"

	"github.com/cloudsync/cloudsync/starter/pkg/text"
	"github.com/cloudsync/cloudsync/workflows"
)

// driftState reads what a drift check publishes in its memo
// (workflows.DriftMemoKey): no query, so no billed action.
func (c *conn) driftState(memo *commonpb.Memo) (*workflows.DriftState, error) {
	p := memo.GetFields()[workflows.DriftMemoKey]
	if p == nil {
		return nil, nil
	}
	var st workflows.DriftState
	if err := c.DC.FromPayload(p, &st); err != nil {
		return nil, c.payloadError(err)
	}
	return &st, nil
}

func driftQuery(tenant, domain string) string {
	q := "WorkflowType = " + quoted(workflows.WatchDriftWorkflow)
	if tenant != "" {
		q += " AND CloudSyncTenant = " + quoted(tenant)
	}
	if domain != "" {
		q += " AND CloudSyncDomain = " + quoted(domain)
	}
	return q
}

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

	e execution
}

// driftInto adds the drift checks of a tenant's configurations (of one
// domain, if given), from their memos and search attributes.
func (a *app) driftInto(ctx context.Context, c *conn, v *statusView, tenant, domain string) error {
	all, _, err := listExecutions(ctx, c, driftQuery(tenant, domain))
	if err != nil {
		return c.TemporalError("cannot list the drift checks of tenant "+tenant, err)
	}
	for _, e := range latestRuns(all) {
		v.Drift = append(v.Drift, c.driftViewOf(e))
	}
	return nil
}

func (c *conn) driftViewOf(e execution) driftView {
	d := driftView{WorkflowID: e.id, TenantID: e.tenant, Domain: e.domain, Status: statusWord(e.status), Drift: e.driftSA, State: e.drift,
		WebUI: c.Link(e.id), e: e}
	if e.driftErr != nil {
		d.StateError = text.OneLine(e.driftErr.Error())
	}
	return d
}

// printDrift prints one drift check's finding.
func printDrift(w io.Writer, label string, e execution) {
	const pad = "               "
	row := func(v string) { fmt.Fprintf(w, "%-14s %s\n", label+":", v) }
	st := e.drift
	switch {
	case e.driftErr != nil:
		row("cannot be read: " + text.OneLine(e.driftErr.Error()))
		return
	case !e.running():
		row("not checked any more (the drift check " + statusWord(e.status) + ")")
		return
	case st == nil:
		row(orDash(e.driftSA) + " (no check yet)")
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
	q := "WorkflowType = " + quoted(workflows.WatchDriftWorkflow) + " AND ExecutionStatus = 'Running' AND CloudSyncDrift != " + quoted(workflows.DriftNone) + tenantFilter(tenant)
	all, truncated, err := listExecutions(ctx, c, q)
	if err != nil {
		return listView{}, c.TemporalError("cannot list the drifted configurations", err)
	}
	list := latestRuns(all)
	v := c.listViewOf(list, truncated, false)
	v.Drifted = true
	for _, e := range list {
		if e.driftErr != nil {
			v.StateError = "some drift checks' state cannot be read: " + e.driftErr.Error()
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", it.TenantID, orDash(it.Domain), orDash(it.Drift), when(it.DriftSince), when(it.DriftChecked), it.WebUI)
	}
	tw.Flush()
	a.listFooter(len(v.Items), v.Truncated, v.StateError)
	fmt.Fprintln(a.IO.Out, "details: starter status --tenant-id <tenant> --domain <domain>; repair: starter onboard with the tenant's spec")
}
