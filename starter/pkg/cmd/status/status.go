// Package status is starter status: a tenant's onboardings, offboardings,
// watchers and drift, or one workflow, from visibility, Describe and memos
// (never a query).
package status

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
	"github.com/cloudsync/cloudsync/starter/pkg/spec"
	"github.com/cloudsync/cloudsync/starter/pkg/view"
	"github.com/cloudsync/cloudsync/starter/pkg/visibility"
	"github.com/cloudsync/cloudsync/workflows"
)

// StatusOptions are status's parsed flags and what it runs with.
type StatusOptions struct {
	IO   *cmdutil.IOStreams
	Dial func(context.Context) (*cmdutil.Conn, error)

	TenantID   string // --tenant-id
	Domain     string // --domain
	WorkflowID string // --workflow-id
	Output     cmdutil.OutputFormat
}

// NewCmdStatus is starter status; runF (nil: the real run) gets the parsed
// options, which tests capture without a server.
func NewCmdStatus(f *cmdutil.Factory, runF func(*StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{IO: f.IO, Dial: f.Dial}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a tenant's onboardings, offboardings and sync job watchers, or one workflow",
		Long: `Show the status of the onboarding of one tenant and domain (or of a workflow
id): the workflow status, the current step, every step so far, the service
principal and the sync job ids; then every watcher of the tenant with its
state (published in its memo; no query): job id, phase, schedule and status code, quarantine
reason and error, advice, since when deletions await a decision, reminders sent
and the last decision; then the drift line: what the configuration's drift
check found when it last compared it with its spec (none, the drift kinds and
what an onboarding would change to repair them, or unknown when the check
failed), from its memo too.

Without --domain, every onboarding of the tenant is shown (found through
Temporal's visibility store, which trails new workflows by a moment), then its
watchers. An offboarding of the tenant (of the domain) is shown after them,
from the state it publishes in its memo: its phase, what it removes, the
decision and its steps. --workflow-id shows one onboarding, offboarding or
watcher.

Exit 0 when the onboardings shown are running or completed, 1 when one failed
(or was terminated, timed out or canceled), 4 when there is none (and, without
--domain, no watcher either). A watcher --workflow-id exits 1 when the watcher
failed or was terminated.`,
		Example: `  starter status --tenant-id 11111111-2222-3333-4444-555555555555 --domain contoso.com
  starter status --tenant-id 11111111-2222-3333-4444-555555555555
  starter status --workflow-id 'cloudsync-watch/11111111-2222-3333-4444-555555555555/AD2AADProvisioning.0123…'

  # A watcher's status with the plain Temporal CLI:
  temporal workflow query --workflow-id 'cloudsync-watch/<tenant>/<job>' --name ` + workflows.StatusQuery,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmdutil.RunOr(cmd, opts, runF, statusRun)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&opts.TenantID, "tenant-id", "", "directory (tenant) id")
	fs.StringVar(&opts.Domain, "domain", "", "on-premises AD domain (without it: every onboarding of the tenant)")
	fs.StringVar(&opts.WorkflowID, "workflow-id", "", "workflow id of an onboarding or a watcher (instead of --tenant-id)")
	opts.Output.Register(fs)
	fs.SortFlags = false
	return cmd
}

// statusRun gathers the view and prints it; the exit code says how the
// workflows shown are.
func statusRun(ctx context.Context, opts *StatusOptions) error {
	v, err := opts.gather(ctx, opts.TenantID, opts.Domain, opts.WorkflowID)
	if v == nil {
		return err
	}
	if opts.Output.JSON() {
		if jerr := cmdutil.Emit(opts.IO.Out, v); jerr != nil {
			return jerr
		}
	} else {
		opts.printStatus(v)
	}
	return err
}

func (opts *StatusOptions) dial(ctx context.Context) (*visibility.Conn, error) {
	return visibility.Dial(ctx, opts.Dial)
}

// statusTarget resolves the workflow id to look at, and how to name it.
func statusTarget(tenant, domain, workflowID string) (id, label string, err error) {
	if strings.TrimSpace(workflowID) != "" {
		if tenant != "" || domain != "" {
			return "", "", cmdutil.Exitf(cmdutil.ExitUsage, "give either --workflow-id, or --tenant-id with or without --domain, not both")
		}
		id = strings.TrimSpace(workflowID)
		return id, "with workflow id " + id, nil
	}
	if tenant == "" && domain == "" {
		return "", "", cmdutil.Exitf(cmdutil.ExitUsage, "give --tenant-id and --domain (one onboarding), --tenant-id alone (all of the tenant's onboardings and watchers), or --workflow-id\nRun 'starter status --help' for usage.")
	}
	s := workflows.TenantSpec{TenantID: tenant, Domain: domain}
	if err := s.Validate(); err != nil {
		return "", "", cmdutil.Exitf(cmdutil.ExitUsage, "%s", spec.ValidationLines(err))
	}
	n := s.Normalized()
	id = workflows.OnboardWorkflowID(n.TenantID, n.Domain)
	return id, fmt.Sprintf("of tenant %s domain %s (workflow id %s)", n.TenantID, n.Domain, id), nil
}

// View is what status shows (--output json: this document).
type View struct {
	Onboardings []view.OnboardingView `json:"onboardings"`
	Watchers    []view.WatcherView    `json:"watchers"`
	// WatchersTruncated: there are more watchers than are listed.
	WatchersTruncated bool `json:"watchersTruncated,omitempty"`
	// Offboardings of the tenant (or domain), the latest of each.
	Offboardings []view.OffboardView `json:"offboardings,omitempty"`
	// Drift: what each configuration's drift check found.
	Drift []view.DriftView `json:"drift,omitempty"`
	// Plan: a plan shown by its workflow id.
	Plan *view.PlanReport `json:"plan,omitempty"`

	// How the text lays it out.
	tenantWide   bool             // every onboarding of a tenant, each under a heading
	watchersOf   string           // heading of the watchers section; empty: no section
	noneWatchers bool             // say "watchers: none" when there are none
	conn         *visibility.Conn // for the offboardings' links
}
