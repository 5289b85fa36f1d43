package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cloudsync/cloudsync/workflows"
)

func (a *app) listCmd() *cobra.Command {
	var (
		awaiting bool
		drifted  bool
		tenant   string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List running onboardings and watchers, or the jobs awaiting an approval",
		Long: `List, across tenants, the running onboardings and sync job watchers, or with
--awaiting-approval only the jobs whose held-back deletions await a decision
(approve or reject them with 'starter approve' / 'starter reject'), or with
--drifted the configurations whose drift check found them changed from their
spec (CloudSyncDrift is not "none").

Listings come from Temporal's visibility store, which trails the workflows by a
moment (a watcher that just started waiting may show a second later). Exit 0
even when nothing is listed.`,
		Example: `  starter list --awaiting-approval
  starter list --tenant-id 11111111-2222-3333-4444-555555555555
  starter list --drifted

  # The same with the plain Temporal CLI:
  temporal workflow list --query "CloudSyncAwaitingApproval = true AND ExecutionStatus = 'Running'"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var p problems
			t := ""
			if cmd.Flags().Changed("tenant-id") {
				t = checkTenant(&p, tenant)
			}
			if err := p.err("invalid list"); err != nil {
				return err
			}
			c, err := a.conn.dial(cmd.Context(), a.stderr)
			if err != nil {
				return err
			}
			defer c.Close()
			if awaiting && drifted {
				return exitf(exitUsage, "give --awaiting-approval or --drifted, not both")
			}
			if awaiting {
				return a.listAwaiting(cmd.Context(), c, t)
			}
			if drifted {
				return a.listDrifted(cmd.Context(), c, t)
			}
			return a.listRunning(cmd.Context(), c, t)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&awaiting, "awaiting-approval", false, "only the jobs whose deletions await an approval")
	f.BoolVar(&drifted, "drifted", false, "only the configurations whose drift check found them changed from their spec (or could not check)")
	f.StringVar(&tenant, "tenant-id", "", "only this tenant")
	f.SortFlags = false
	return cmd
}

func tenantFilter(tenant string) string {
	if tenant == "" {
		return ""
	}
	return " AND CloudSyncTenant = " + quoted(tenant)
}

func (a *app) listAwaiting(ctx context.Context, c *conn, tenant string) error {
	q := "CloudSyncAwaitingApproval = true AND ExecutionStatus = 'Running'" + tenantFilter(tenant)
	all, truncated, err := listExecutions(ctx, c, q)
	if err != nil {
		return c.temporalError("cannot list the watchers awaiting approval", err)
	}
	list := latestRuns(all)
	if len(list) == 0 {
		fmt.Fprintln(a.stdout, "nothing awaits approval")
		return nil
	}
	hint := stateHint(list)
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tDOMAIN\tJOB ID\tAWAITING SINCE\tWEB UI")
	for _, e := range list {
		since := e.start.Local().Format(time.RFC3339) + " (started)"
		if e.state != nil && !e.state.AwaitingSince.IsZero() {
			since = e.state.AwaitingSince.Local().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.tenant, orDash(e.domain), e.jobID(), since, c.link(e.id))
	}
	tw.Flush()
	a.listFooter(len(list), truncated, hint)
	fmt.Fprintln(a.stdout, "decide with: starter approve|reject --tenant-id <tenant> --job-id <job> --approver <who> --reason <why>")
	return nil
}

func (a *app) listRunning(ctx context.Context, c *conn, tenant string) error {
	// The tenant attribute is in the query even without --tenant-id, so a
	// namespace without the cloudsync search attributes is refused (exit 5)
	// here as with --awaiting-approval, rather than listed as empty.
	tf := tenantFilter(tenant)
	if tf == "" {
		tf = " AND CloudSyncTenant != ''"
	}
	q := "(WorkflowType = " + quoted(workflows.OnboardTenantWorkflow) + " OR WorkflowType = " + quoted(workflows.WatchSyncJobWorkflow) +
		") AND ExecutionStatus = 'Running'" + tf
	all, truncated, err := listExecutions(ctx, c, q)
	if err != nil {
		return c.temporalError("cannot list the running workflows", err)
	}
	list := latestRuns(all)
	if len(list) == 0 {
		fmt.Fprintln(a.stdout, "no onboarding or watcher is running")
		return nil
	}
	hint := stateHint(list)
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tTENANT\tDOMAIN\tJOB ID\tSTATE\tSINCE\tWEB UI")
	for _, e := range list {
		since := e.start.Local().Format(time.RFC3339)
		switch e.typ {
		case workflows.OnboardTenantWorkflow:
			fmt.Fprintf(tw, "onboarding\t%s\t%s\t-\t%s\t%s\t%s\n", e.tenant, orDash(e.domain), "step "+orDash(e.step), since, c.link(e.id))
		default:
			state := "watching"
			if e.awaiting {
				state = workflows.PhaseAwaitingApproval
			}
			if st := e.state; st != nil {
				state = st.Phase
				if state == workflows.PhaseAwaitingApproval && !st.AwaitingSince.IsZero() {
					since = st.AwaitingSince.Local().Format(time.RFC3339)
				}
			}
			if e.jobState != "" {
				state += " (" + e.jobState + ")"
			}
			fmt.Fprintf(tw, "watcher\t%s\t%s\t%s\t%s\t%s\t%s\n", e.tenant, orDash(e.domain), e.jobID(), state, since, c.link(e.id))
		}
	}
	tw.Flush()
	a.listFooter(len(list), truncated, hint)
	return nil
}

// stateHint says why some watchers' state could not be read (encrypted
// memos without the keys).
func stateHint(list []execution) string {
	for _, e := range list {
		if e.stateErr != nil {
			return "some watchers' state cannot be read: " + e.stateErr.Error()
		}
	}
	return ""
}

func (a *app) listFooter(n int, truncated bool, hint string) {
	if truncated {
		fmt.Fprintf(a.stdout, "(only the first %d; narrow with --tenant-id)\n", n)
	}
	if hint != "" {
		fmt.Fprintln(a.stderr, "… "+hint)
	}
}
