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
