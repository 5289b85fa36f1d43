package main

import (
	"context"
	"errors"
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

const defaultUIURL = "http://localhost:8233"

// connFlags are the Temporal connection flags, shared by every command.
type connFlags struct {
	address        string
	namespace      string
	connectTimeout time.Duration
	uiURL          string
	// dialer connects (client.DialContext); command tests hand the SDK's
	// mock client instead.
	dialer func(ctx context.Context, opts client.Options) (client.Client, error)
}

func (c *connFlags) register(root *cobra.Command) {
	ui := os.Getenv("CLOUDSYNC_UI_URL")
	if ui == "" {
		ui = defaultUIURL
	}
	f := root.PersistentFlags()
	f.StringVar(&c.address, "address", "", "Temporal frontend host:port (overrides TEMPORAL_ADDRESS and the config profile; default localhost:7233)")
	f.StringVar(&c.namespace, "namespace", "", "Temporal namespace (overrides TEMPORAL_NAMESPACE and the config profile; default \"default\")")
	f.DurationVar(&c.connectTimeout, "connect-timeout", 5*time.Second, "how long to try reaching Temporal")
	f.StringVar(&c.uiURL, "ui-url", ui, "Temporal Web UI base URL for links ($CLOUDSYNC_UI_URL)")
}

// conn is a dialled client with what messages need to name.
type conn struct {
	client.Client
	address   string
	namespace string
	uiURL     string
	dc        converter.DataConverter // with the codec when keys are given
	encrypted bool                    // the starter has codec keys
}

// options resolves the client options: config profile and environment, then flags.
func (c *connFlags) options(stderr io.Writer) (client.Options, error) {
	opts, err := envconfig.LoadClientOptions(envconfig.LoadClientOptionsRequest{})
	if err != nil {
		return client.Options{}, exitf(exitUsage, "cannot load the Temporal client configuration (environment or TOML profile): %v", err)
	}
	if c.address != "" {
		opts.HostPort = c.address
	}
	if c.namespace != "" {
		opts.Namespace = c.namespace
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
		return client.Options{}, exitf(exitUsage, "payload encryption: %v", err)
	}
	if cdc != nil {
		opts.DataConverter = codec.DataConverter(cdc)
	}
	opts.Logger = quietLogger(stderr)
	return opts, nil
}

// quietLogger keeps the SDK to warnings and errors.
func quietLogger(w io.Writer) log.Logger {
	return log.NewStructuredLogger(slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

// dial connects to Temporal or explains why it cannot.
func (c *connFlags) dial(ctx context.Context, stderr io.Writer) (*conn, error) {
	opts, err := c.options(stderr)
	if err != nil {
		return nil, err
	}
	timeout := c.connectTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dial := c.dialer
	if dial == nil {
		dial = client.DialContext
	}
	cl, err := dial(dctx, opts)
	if err != nil {
		if ctx.Err() != nil {
			return nil, exitf(exitInterrupted, "interrupted")
		}
		return nil, exitf(exitUnreachable, "cannot reach Temporal at %s: %v. Start it with `make dev-server` or set TEMPORAL_ADDRESS", opts.HostPort, err)
	}
	dc := opts.DataConverter
	if dc == nil {
		dc = converter.GetDefaultDataConverter()
	}
	return &conn{Client: cl, address: opts.HostPort, namespace: opts.Namespace, uiURL: c.uiURL, dc: dc, encrypted: opts.DataConverter != nil}, nil
}

// link is the Web UI page of a workflow.
// describe is DescribeWorkflowExecution (not a billed action) through the
// SDK's DescribeWorkflow, which replaces the deprecated call of that name.
func (c *conn) describe(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	d, err := c.DescribeWorkflow(ctx, workflowID, runID)
	if err != nil {
		return nil, err
	}
	return d.RawResponse, nil
}

func (c *conn) link(workflowID string) string {
	return uiLink(c.uiURL, c.namespace, workflowID)
}

func uiLink(ui, namespace, workflowID string) string {
	return strings.TrimRight(ui, "/") + "/namespaces/" + url.PathEscape(namespace) + "/workflows/" + url.PathEscape(workflowID)
}

// errAlreadyStarted marks a start refused because that workflow id runs.
var errAlreadyStarted = errors.New("already started")

// start starts a workflow; a start refused because the id is running comes
// back as errAlreadyStarted, so each caller words (or ignores) it.
func (c *conn) start(ctx context.Context, opts client.StartWorkflowOptions, workflowType string, in any) (client.WorkflowRun, error) {
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	run, err := c.ExecuteWorkflow(sctx, opts, workflowType, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && (errors.As(err, &started) || temporal.IsWorkflowExecutionAlreadyStartedError(err)) {
		return nil, errAlreadyStarted
	}
	return run, err
}

// temporalError turns an error from a Temporal call into an exit code and a
// message that says what to do.
func (c *conn) temporalError(what string, err error) error {
	var (
		nsNotFound *serviceerror.NamespaceNotFound
		invalid    *serviceerror.InvalidArgument
		denied     *serviceerror.PermissionDenied
		unavail    *serviceerror.Unavailable
		deadline   *serviceerror.DeadlineExceeded
	)
	switch {
	case errors.As(err, &nsNotFound):
		return exitf(exitUnreachable, "%s: namespace %q does not exist on Temporal at %s: create it (temporal operator namespace create --namespace %s) or set TEMPORAL_NAMESPACE / --namespace",
			what, c.namespace, c.address, c.namespace)
	case errors.As(err, &invalid) && strings.Contains(strings.ToLower(invalid.Error()), "search attribute"):
		return exitf(exitUnreachable, "%s: %v\nThe cloudsync search attributes are not registered on namespace %q. Register them with:\n%s",
			what, err, c.namespace, registerSearchAttributesHint(c.address, c.namespace))
	case errors.As(err, &denied):
		return exitf(exitUnreachable, "%s: permission denied on namespace %q at %s: %v (check TEMPORAL_API_KEY or the TLS client certificate)", what, c.namespace, c.address, err)
	case errors.As(err, &unavail), errors.As(err, &deadline), errors.Is(err, context.DeadlineExceeded):
		return exitf(exitUnreachable, "%s: Temporal at %s did not answer: %v", what, c.address, err)
	}
	return exitf(exitFailed, "%s: %v", what, err)
}

func registerSearchAttributesHint(address, namespace string) string {
	var b strings.Builder
	// One command per attribute: the CLI registers only the first of several --name.
	for _, a := range workflows.SearchAttributes {
		b.WriteString("  temporal operator search-attribute create --address " + address + " --namespace " + namespace + " --name " + a.Name + " --type " + a.Type + "\n")
	}
	b.WriteString("or all at once: deploy/temporal/search-attributes.sh --namespace " + namespace + " (--tcld for Temporal Cloud)\n")
	b.WriteString("(the dev server of `make dev-server` and `make demo` registers them at start)")
	return b.String()
}

// isNotFound says whether err means the workflow does not exist.
func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}
