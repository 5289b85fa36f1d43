package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/cloudsync/cloudsync/starter/pkg/text"
	"github.com/cloudsync/cloudsync/starter/pkg/view"
	"github.com/cloudsync/cloudsync/starter/pkg/visibility"
	"github.com/cloudsync/cloudsync/workflows"
)

// driftInto adds the drift checks of a tenant's configurations (of one
// domain, if given), from their memos and search attributes.
func (a *app) driftInto(ctx context.Context, c *conn, v *statusView, tenant, domain string) error {
	all, _, err := c.ListExecutions(ctx, visibility.DriftQuery(tenant, domain))
	if err != nil {
		return c.TemporalError("cannot list the drift checks of tenant "+tenant, err)
	}
	for _, e := range visibility.LatestRuns(all) {
		v.Drift = append(v.Drift, view.DriftViewOf(c, e))
	}
	return nil
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
