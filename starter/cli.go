package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cloudsync/cloudsync/internal/buildinfo"
	"github.com/cloudsync/cloudsync/workflows"
)

// Exit codes, part of the CLI's contract (scripts rely on them).
const (
	exitOK          = 0
	exitFailed      = 1 // the onboarding failed (or another error)
	exitUsage       = 2 // bad input or usage: nothing was sent to Temporal
	exitRunning     = 3 // an onboarding of the same tenant and domain is already running
	exitNotFound    = 4 // no such onboarding
	exitUnreachable = 5 // Temporal unreachable or not set up
	exitInterrupted = 130
)

const longHelp = `starter onboards Microsoft Entra tenants to Cloud Sync by starting the
cloudsync OnboardTenant workflow on Temporal, reports its progress, and drives
the sync job watchers (WatchSyncJob, one per job) that hold back a job
quarantined for too many deletes until a human approves or rejects them.

Commands:
  onboard   start onboarding a tenant (and its watchers)
  status    a tenant's onboardings and watchers, or one workflow
  list      running onboardings and watchers; --awaiting-approval: what
            awaits a decision, across tenants
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
  130 interrupted while waiting (the onboarding itself goes on)`

// exitError carries an exit code and the message to print on stderr.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func exitf(code int, format string, a ...any) error {
	return &exitError{code: code, msg: fmt.Sprintf(format, a...)}
}

// app holds what every command shares.
type app struct {
	stdout, stderr io.Writer
	conn           connFlags
	// pollInterval is how often --wait reads where the onboarding is
	// (DescribeWorkflowExecution: not a billed action, still modest).
	pollInterval time.Duration
	// fleetEvery is how often a fleet prints a progress line when stderr is
	// not a terminal (default 5 s).
	fleetEvery time.Duration
}

// run is the whole CLI: main and the tests call it.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return newApp(stdout, stderr).execute(ctx, args)
}

func newApp(stdout, stderr io.Writer) *app {
	return &app{stdout: stdout, stderr: stderr, pollInterval: 2 * time.Second}
}

// execute runs one command line; the exit code is the CLI's.
func (a *app) execute(ctx context.Context, args []string) int {
	stdout, stderr := a.stdout, a.stderr
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(stderr, strings.TrimRight(ee.msg, "\n"))
		}
		return ee.code
	}
	// Cobra's own errors: unknown command, bad flag, wrong arguments.
	fmt.Fprintf(stderr, "%v\nRun 'starter --help' for usage.\n", err)
	return exitUsage
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "starter",
		Short:         "Onboard Microsoft Entra tenants to Cloud Sync through Temporal",
		Long:          longHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(a.stderr)
			_ = cmd.Help()
			return &exitError{code: exitUsage}
		},
	}
	// starter completion bash|zsh|fish|powershell (cobra's), see the README.
	// --version (cobra's flag): module version and VCS revision.
	root.Version = buildinfo.Read("starter").String()
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return exitf(exitUsage, "%v\nRun 'starter --help' for usage.", err)
	})
	a.conn.register(root)
	root.AddCommand(a.onboardCmd(), a.statusCmd(), a.listCmd(), a.approveCmd(), a.rejectCmd(), a.watchCmd(), a.unwatchCmd(), a.resumeCmd(), a.offboardCmd())
	return root
}
