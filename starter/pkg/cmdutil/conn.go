package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"

	"github.com/cloudsync/cloudsync/codec"
	"github.com/cloudsync/cloudsync/workflows"
)

const DefaultUIURL = "http://localhost:8233"

// ConnFlags are the Temporal connection flags, shared by every command.
type ConnFlags struct {
	Address        string
	Namespace      string
	ConnectTimeout time.Duration
	UIURL          string
}

// Register adds the flags to root, for every command.
func (c *ConnFlags) Register(root *cobra.Command) {
	ui := os.Getenv("CLOUDSYNC_UI_URL")
	if ui == "" {
		ui = DefaultUIURL
	}
	f := root.PersistentFlags()
	f.StringVar(&c.Address, "address", "", "Temporal frontend host:port (overrides TEMPORAL_ADDRESS and the config profile; default localhost:7233)")
	f.StringVar(&c.Namespace, "namespace", "", "Temporal namespace (overrides TEMPORAL_NAMESPACE and the config profile; default \"default\")")
	f.DurationVar(&c.ConnectTimeout, "connect-timeout", 5*time.Second, "how long to try reaching Temporal")
	f.StringVar(&c.UIURL, "ui-url", ui, "Temporal Web UI base URL for links ($CLOUDSYNC_UI_URL)")
}

// Conn is a dialled client with what messages need to name.
type Conn struct {
	client.Client
	Address   string
	Namespace string
	UIURL     string
	DC        converter.DataConverter // with the codec when keys are given
	Encrypted bool                    // the starter has codec keys
}

// Options resolves the client options: config profile and environment, then flags.
func (c *ConnFlags) Options(stderr io.Writer) (client.Options, error) {
	opts, err := envconfig.LoadClientOptions(envconfig.LoadClientOptionsRequest{})
	if err != nil {
		return client.Options{}, Exitf(ExitUsage, "cannot load the Temporal client configuration (environment or TOML profile): %v", err)
	}
	if c.Address != "" {
		opts.HostPort = c.Address
	}
	if c.Namespace != "" {
		opts.Namespace = c.Namespace
	}
	if opts.HostPort == "" {
		opts.HostPort = client.DefaultHostPort
	}
	if opts.Namespace == "" {
		opts.Namespace = client.DefaultNamespace
	}
	// Payload encryption: the worker's keys, so inputs are encrypted and
	// results, queries and update answers read.
	cdc, err := codec.FromEnv(os.Getenv)
	if err != nil {
		return client.Options{}, Exitf(ExitUsage, "payload encryption: %v", err)
	}
	if cdc != nil {
		opts.DataConverter = codec.DataConverter(cdc)
	}
	opts.Logger = QuietLogger(stderr)
	return opts, nil
}

// QuietLogger keeps the SDK to warnings and errors.
func QuietLogger(w io.Writer) log.Logger {
	return log.NewStructuredLogger(slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

// Dial connects to Temporal with dial (client.DialContext when nil) or
// explains why it cannot.
func (c *ConnFlags) Dial(ctx context.Context, stderr io.Writer, dial Dialer) (*Conn, error) {
	opts, err := c.Options(stderr)
	if err != nil {
		return nil, err
	}
	timeout := c.ConnectTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if dial == nil {
		dial = client.DialContext
	}
	cl, err := dial(dctx, opts)
	if err != nil {
		if ctx.Err() != nil {
			return nil, Exitf(ExitInterrupted, "interrupted")
		}
		msg := fmt.Sprintf("cannot reach Temporal at %s: %v. Start it with `make dev-server` or set TEMPORAL_ADDRESS", opts.HostPort, err)
		if at := strings.LastIndex(opts.HostPort, "@"); at >= 0 {
			// An address pasted with credentials in it: never print them.
			msg = strings.ReplaceAll(msg, opts.HostPort[:at], "<credentials>")
		}
		return nil, Exitf(ExitUnreachable, "%s", msg)
	}
	dc := opts.DataConverter
	if dc == nil {
		dc = converter.GetDefaultDataConverter()
	}
	return &Conn{Client: cl, Address: opts.HostPort, Namespace: opts.Namespace, UIURL: c.UIURL, DC: dc, Encrypted: opts.DataConverter != nil}, nil
}

// Describe is DescribeWorkflowExecution (not a billed action) through the
// SDK's DescribeWorkflow, which replaces the deprecated call of that name.
func (c *Conn) Describe(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	d, err := c.DescribeWorkflow(ctx, workflowID, runID)
	if err != nil {
		return nil, err
	}
	return d.RawResponse, nil
}

// Link is the Web UI page of a workflow.
func (c *Conn) Link(workflowID string) string {
	return UILink(c.UIURL, c.Namespace, workflowID)
}

// UILink is the Web UI page of a workflow in a namespace.
func UILink(ui, namespace, workflowID string) string {
	return strings.TrimRight(ui, "/") + "/namespaces/" + url.PathEscape(namespace) + "/workflows/" + url.PathEscape(workflowID)
}

// ErrAlreadyStarted marks a start refused because that workflow id runs.
var ErrAlreadyStarted = errors.New("already started")

// Start starts a workflow; a start refused because the id is running comes
// back as ErrAlreadyStarted, so each caller words (or ignores) it.
func (c *Conn) Start(ctx context.Context, opts client.StartWorkflowOptions, workflowType string, in any) (client.WorkflowRun, error) {
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	run, err := c.ExecuteWorkflow(sctx, opts, workflowType, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && (errors.As(err, &started) || temporal.IsWorkflowExecutionAlreadyStartedError(err)) {
		return nil, ErrAlreadyStarted
	}
	return run, err
}

// TemporalError turns an error from a Temporal call into an exit code and a
// message that says what to do.
func (c *Conn) TemporalError(what string, err error) error {
	var (
		nsNotFound *serviceerror.NamespaceNotFound
		invalid    *serviceerror.InvalidArgument
		denied     *serviceerror.PermissionDenied
		unavail    *serviceerror.Unavailable
		deadline   *serviceerror.DeadlineExceeded
	)
	switch {
	case errors.As(err, &nsNotFound):
		return Exitf(ExitUnreachable, "%s: namespace %q does not exist on Temporal at %s: create it (temporal operator namespace create --namespace %s) or set TEMPORAL_NAMESPACE / --namespace",
			what, c.Namespace, c.Address, c.Namespace)
	case errors.As(err, &invalid) && strings.Contains(strings.ToLower(invalid.Error()), "search attribute"):
		return Exitf(ExitUnreachable, "%s: %v\nThe cloudsync search attributes are not registered on namespace %q. Register them with:\n%s",
			what, err, c.Namespace, RegisterSearchAttributesHint(c.Address, c.Namespace))
	case errors.As(err, &denied):
		return Exitf(ExitUnreachable, "%s: permission denied on namespace %q at %s: %v (check TEMPORAL_API_KEY or the TLS client certificate)", what, c.Namespace, c.Address, err)
	case errors.As(err, &unavail), errors.As(err, &deadline), errors.Is(err, context.DeadlineExceeded):
		return Exitf(ExitUnreachable, "%s: Temporal at %s did not answer: %v", what, c.Address, err)
	}
	return Exitf(ExitFailed, "%s: %v", what, err)
}

// RegisterSearchAttributesHint is how to register the search attributes.
func RegisterSearchAttributesHint(address, namespace string) string {
	var b strings.Builder
	// One command per attribute: the CLI registers only the first of several --name.
	for _, a := range workflows.SearchAttributes {
		b.WriteString("  temporal operator search-attribute create --address " + address + " --namespace " + namespace + " --name " + a.Name + " --type " + a.Type + "\n")
	}
	b.WriteString("or all at once: deploy/temporal/search-attributes.sh --namespace " + namespace + " (--tcld for Temporal Cloud)\n")
	b.WriteString("(the dev server of `make dev-server` and `make demo` registers them at start)")
	return b.String()
}

// IsNotFound says whether err means the workflow does not exist.
func IsNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}

// SetupError says whether err is a start error every other start would meet too.
func SetupError(err error) bool {
	var (
		nsNotFound *serviceerror.NamespaceNotFound
		invalid    *serviceerror.InvalidArgument
		denied     *serviceerror.PermissionDenied
		unavail    *serviceerror.Unavailable
	)
	return errors.As(err, &nsNotFound) || errors.As(err, &denied) || errors.As(err, &unavail) ||
		(errors.As(err, &invalid) && strings.Contains(strings.ToLower(invalid.Error()), "search attribute"))
}
