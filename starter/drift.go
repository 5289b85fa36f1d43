package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	commonpb "go.temporal.io/api/common/v1"

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
	if err := c.dc.FromPayload(p, &st); err != nil {
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

// tenantDrift prints the drift of a tenant's configurations (of one domain,
// if given), from the drift checks' memos and search attributes.
func (a *app) tenantDrift(ctx context.Context, c *conn, tenant, domain string) (int, error) {
	all, _, err := listExecutions(ctx, c, driftQuery(tenant, domain))
	if err != nil {
		return 0, c.temporalError("cannot list the drift checks of tenant "+tenant, err)
	}
	list := latestRuns(all)
	if len(list) > 0 {
		fmt.Fprintln(a.stdout)
	}
	for _, e := range list {
		label := "drift"
		if domain == "" {
			label = "drift of " + orDash(e.domain)
		}
		printDrift(a.stdout, label, e)
	}
	return len(list), nil
}

// printDrift prints one drift check's finding.
func printDrift(w io.Writer, label string, e execution) {
	const pad = "               "
	row := func(v string) { fmt.Fprintf(w, "%-14s %s\n", label+":", v) }
	st := e.drift
	switch {
	case e.driftErr != nil:
		row("cannot be read: " + oneLine(e.driftErr.Error()))
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
		row(fmt.Sprintf("unknown: the last check failed: %s (last known: %s, %s)", oneLine(st.LastError), last, checked))
	case st.Status == workflows.DriftNone:
		row("none (" + checked + ")")
	default:
		row(fmt.Sprintf("%s since %s (%s)", st.Status, when(st.Since), checked))
		for _, s := range st.Changes {
			fmt.Fprintf(w, "%s  %s %s: %s\n", pad, planSymbol(s.Action), s.Step, oneLine(s.Detail))
		}
		fmt.Fprintf(w, "%srepair: starter onboard with this tenant's spec (starter plan shows the same)\n", pad)
	}
}

// listDrifted lists the configurations whose drift check found drift (or
// could not check), across tenants.
func (a *app) listDrifted(ctx context.Context, c *conn, tenant string) error {
	q := "WorkflowType = " + quoted(workflows.WatchDriftWorkflow) + " AND ExecutionStatus = 'Running' AND CloudSyncDrift != " + quoted(workflows.DriftNone) + tenantFilter(tenant)
	all, truncated, err := listExecutions(ctx, c, q)
	if err != nil {
		return c.temporalError("cannot list the drifted configurations", err)
	}
	list := latestRuns(all)
	if len(list) == 0 {
		fmt.Fprintln(a.stdout, "no configuration differs from its spec")
		return nil
	}
	hint := ""
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tDOMAIN\tDRIFT\tSINCE\tCHECKED\tWEB UI")
	for _, e := range list {
		since, checked := "-", "-"
		if st := e.drift; st != nil {
			since, checked = st.Since.Local().Format(time.RFC3339), st.CheckedAt.Local().Format(time.RFC3339)
		}
		if e.driftErr != nil && hint == "" {
			hint = "some drift checks' state cannot be read: " + e.driftErr.Error()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.tenant, orDash(e.domain), orDash(e.driftSA), since, checked, c.link(e.id))
	}
	tw.Flush()
	a.listFooter(len(list), truncated, hint)
	fmt.Fprintln(a.stdout, "details: starter status --tenant-id <tenant> --domain <domain>; repair: starter onboard with the tenant's spec")
	return nil
}
