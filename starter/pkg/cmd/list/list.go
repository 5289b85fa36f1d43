// Package list is starter list: running onboardings, offboardings and
// watchers, what awaits a decision, or the drifted configurations.
package list

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
	"github.com/cloudsync/cloudsync/starter/pkg/visibility"
)

// ListOptions are list's parsed flags and what it runs with.
type ListOptions struct {
	IO   *cmdutil.IOStreams
	Dial func(context.Context) (*cmdutil.Conn, error)

	Awaiting bool   // --awaiting-approval
	Drifted  bool   // --drifted
	Tenant   string // --tenant-id, normalized; "" for every tenant
	Output   cmdutil.OutputFormat
}

// NewCmdList is starter list; runF (nil: the real run) gets the parsed
// options, which tests capture without a server.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IO, Dial: f.Dial}
	var tenant string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List running onboardings, offboardings and watchers, or what awaits an approval",
		Long: `List, across tenants, the running onboardings, offboardings and sync job
watchers, or with --awaiting-approval only the jobs whose held-back deletions
await a decision (approve or reject them with 'starter approve' / 'starter
reject') and the offboardings awaiting theirs ('starter offboard --approve'),
or with --drifted the configurations whose drift check found them changed from
their spec (CloudSyncDrift is not "none").

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
			var p cmdutil.Problems
			if cmd.Flags().Changed("tenant-id") {
				opts.Tenant = cmdutil.CheckTenant(&p, tenant)
			}
			if err := p.Err("invalid list"); err != nil {
				return err
			}
			return cmdutil.RunOr(cmd, opts, runF, listRun)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&opts.Awaiting, "awaiting-approval", false, "only the jobs whose deletions await an approval")
	fs.BoolVar(&opts.Drifted, "drifted", false, "only the configurations whose drift check found them changed from their spec (or could not check)")
	fs.StringVar(&tenant, "tenant-id", "", "only this tenant")
	opts.Output.Register(fs)
	fs.SortFlags = false
	return cmd
}

// listRun lists from Temporal's visibility store and prints the listing.
func listRun(ctx context.Context, opts *ListOptions) error {
	c, err := visibility.Dial(ctx, opts.Dial)
	if err != nil {
		return err
	}
	defer c.Close()
	if opts.Awaiting && opts.Drifted {
		return cmdutil.Exitf(cmdutil.ExitUsage, "give --awaiting-approval or --drifted, not both")
	}
	var v listView
	switch {
	case opts.Awaiting:
		v, err = listAwaiting(ctx, c, opts.Tenant)
	case opts.Drifted:
		v, err = listDrifted(ctx, c, opts.Tenant)
	default:
		v, err = listRunning(ctx, c, opts.Tenant)
	}
	if err != nil {
		return err
	}
	if opts.Output.JSON() {
		return cmdutil.Emit(opts.IO.Out, v)
	}
	opts.printList(v)
	return nil
}
