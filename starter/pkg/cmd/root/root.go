// Package root is the starter's root command: the commands, the connection
// flags they share, --version, completion, and the mapping of errors to the
// CLI's exit codes.
package root

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/cloudsync/cloudsync/internal/buildinfo"
	"github.com/cloudsync/cloudsync/starter/pkg/cmd/decide"
	"github.com/cloudsync/cloudsync/starter/pkg/cmd/list"
	"github.com/cloudsync/cloudsync/starter/pkg/cmd/offboard"
	"github.com/cloudsync/cloudsync/starter/pkg/cmd/onboard"
	"github.com/cloudsync/cloudsync/starter/pkg/cmd/plan"
	"github.com/cloudsync/cloudsync/starter/pkg/cmd/status"
	"github.com/cloudsync/cloudsync/starter/pkg/cmd/watch"
	"github.com/cloudsync/cloudsync/starter/pkg/cmdutil"
	"github.com/cloudsync/cloudsync/workflows"
)

const longHelp = `starter onboards Microsoft Entra tenants to Cloud Sync by starting the
cloudsync OnboardTenant workflow on Temporal, reports its progress, and drives
the sync job watchers (WatchSyncJob, one per job) that hold back a job
quarantined for too many deletes until a human approves or rejects them.

Commands:
  onboard   start onboarding a tenant (and its watchers and drift check)
  plan      what an onboarding of a tenant or a fleet would change (reads
            only; exit 0 nothing to change, 2 changes, 1 error)
  status    a tenant's onboardings, watchers and drift, or one workflow
  list      running onboardings and watchers; --awaiting-approval: what
            awaits a decision, across tenants; --drifted: configurations
            that differ from their spec
  approve   approve the held-back deletions (restart with ForceDeletes)
  reject    reject them (the job stays quarantined)
  watch     watch one job on its own (adopt a job created elsewhere)
  offboard  remove a domain's configuration (jobs, service principal,
            application) after a human approves; never the tenant's sync flag
  completion  a shell completion script (bash, zsh, fish, powershell)

status, list, onboard, approve and reject take --output json: one JSON
document on stdout (described in the README), with the same exit codes.

Typical approval:
  starter list --awaiting-approval
  starter status --tenant-id <tenant>
  starter approve --tenant-id <tenant> --domain contoso.com \
      --approver alice@contoso.com --reason "HR offboarding batch"
The same with the plain Temporal CLI (update: answers; signal: fire and forget):
  temporal workflow update execute --workflow-id 'cloudsync-watch/<tenant>/<job>' \
      --name ` + workflows.ApproveUpdate + ` --input '{"approver":"alice@contoso.com","reason":"HR offboarding batch"}'
  temporal workflow signal --workflow-id 'cloudsync-watch/<tenant>/<job>' \
      --name ` + workflows.ApproveSignal + ` --input '{"approver":"alice@contoso.com","reason":"HR offboarding batch"}'

Temporal connection: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
the TEMPORAL_TLS_* variables and the Temporal CLI's TOML profile
(TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE) are read; --address and --namespace
override them. Web UI links use --ui-url (default $CLOUDSYNC_UI_URL or
http://localhost:8233).

Payload encryption: when the worker encrypts payloads, give the starter the
same keys: CLOUDSYNC_CODEC_KEYS ("kid1=<base64 32 bytes>,kid2=...") or
CLOUDSYNC_CODEC_KEYS_FILE, and CLOUDSYNC_CODEC_KEY_ID (the active key). Without
them, inputs go in clear (the worker still reads them) but results and the
watchers' state cannot be read: status says so and exits 2.

No command asks a workflow a query (each is a billed Temporal action): status,
list, approve and onboard --wait read visibility listings, Describe and the
state each watcher publishes in its memo.

Exit codes:
  0  ok
  1  the onboarding failed (status: the onboarding is failed, terminated,
     timed out or canceled); approve/reject: the watcher refused the decision
     (approver not allowed, the job left the episode) or the restart failed;
     watch: Graph refuses to show the job (the watcher is kept); offboard:
     the offboarding failed or was cancelled, or the decision was refused;
     or another error
  2  bad input or usage: nothing was sent to Temporal (approve/reject: also
     when several jobs await a decision and --job-id is needed; an approver
     is an e-mail address); payloads encrypted and no CLOUDSYNC_CODEC_KEYS
  3  an onboarding of the same tenant and domain is already running (onboard,
     offboard), or the job is already watched (watch)
  4  no such onboarding (status), no such watcher, nothing awaits approval
     (approve/reject, with --domain, --job-id or --async alike; offboard
     --approve/--reject), or the job to watch is not there (watch)
  5  Temporal unreachable or not set up (namespace, search attributes; for
     approve/reject without --async: no worker to answer)
  130 interrupted while waiting (the onboarding itself goes on)
plan's are terraform plan -detailed-exitcode's: 0 nothing to change, 1 an
error (bad input, Temporal unreachable, a plan failed), 2 changes.`

// NewCmdRoot is the starter command with every subcommand built from f.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	root := &cobra.Command{
		Use:           "starter",
		Short:         "Onboard Microsoft Entra tenants to Cloud Sync through Temporal",
		Long:          longHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(f.IO.ErrOut)
			_ = cmd.Help()
			return &cmdutil.ExitError{Code: cmdutil.ExitUsage}
		},
	}
	// starter completion bash|zsh|fish|powershell (cobra's), see the README.
	// --version (cobra's flag): module version and VCS revision.
	root.Version = buildinfo.Read("starter").String()
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return cmdutil.Exitf(cmdutil.ExitUsage, "%v\nRun 'starter --help' for usage.", err)
	})
	f.Conn.Register(root)
	root.AddCommand(
		onboard.NewCmdOnboard(f, nil),
		plan.NewCmdPlan(f, nil),
		status.NewCmdStatus(f, nil),
		list.NewCmdList(f, nil),
		decide.NewCmdApprove(f, nil),
		decide.NewCmdReject(f, nil),
		watch.NewCmdWatch(f, nil),
		watch.NewCmdUnwatch(f, nil),
		watch.NewCmdResume(f, nil),
		offboard.NewCmdOffboard(f, nil),
	)
	return root
}

// Execute runs one command line; the exit code is the CLI's.
func Execute(ctx context.Context, root *cobra.Command, f *cmdutil.Factory, args []string) int {
	root.SetArgs(args)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	return cmdutil.ExitCode(f.IO.ErrOut, root.ExecuteContext(ctx))
}
