// Command worker runs cloudsync's workflows and activities.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/worker"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/cloudsync/cloudsync/activities"
	"github.com/cloudsync/cloudsync/codec"
	"github.com/cloudsync/cloudsync/graph"
	"github.com/cloudsync/cloudsync/internal/buildinfo"
	"github.com/cloudsync/cloudsync/internal/workerenv"
	"github.com/cloudsync/cloudsync/metrics"
	"github.com/cloudsync/cloudsync/workflows"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	cfg, err := loadConfig(args, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if errors.Is(err, errVersion) {
		fmt.Println(buildinfo.Read("worker"))
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker: configuration:", err)
		return 2
	}
	logger, err := newLogger(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 2
	}
	defer func() { _ = logger.Sync() }()

	reg := metrics.NewRegistry()
	c, err := dialTemporal(cfg, logger, reg)
	if err != nil {
		logger.Error("cannot reach Temporal", zap.Error(err))
		return 1
	}
	defer c.Close()

	transport, err := graph.TransportWithCA(cfg.CAFile)
	if err != nil {
		logger.Error("graph transport", zap.Error(err))
		return 2
	}
	acts := &activities.Activities{
		Graph: &graph.Factory{Cloud: cfg.Cloud, Credentials: cfg.Credentials, Transport: transport, Observer: graphMetrics(reg),
			WriteRate: cfg.GraphWriteRate, WriteBurst: cfg.GraphWriteBurst},
		Logger:   logger,
		Watch:    cfg.Watch,
		Registry: c,
		Control:  c,
		Webhooks: cfg.Webhooks,

		SyncSettleWindow: cfg.SyncSettleWindow,
	}
	if cfg.Codec != nil {
		acts.Converter = codec.DataConverter(cfg.Codec)
	}
	if cfg.CacheSize > 0 {
		worker.SetStickyWorkflowCacheSize(cfg.CacheSize)
	}
	w := worker.New(c, cfg.TaskQueue, workerOptions(cfg))
	register(w, acts)
	build := buildinfo.Read("worker")
	logger.Info("worker starting",
		zap.String("version", build.Version), zap.String("revision", build.Revision), zap.String("revisionTime", build.Time),
		zap.Bool("modified", build.Modified), zap.String("go", build.GoVersion),
		zap.String("taskQueue", cfg.TaskQueue), zap.String("graph", cfg.Cloud.GraphBaseURL),
		zap.String("authority", cfg.Cloud.AuthorityHost), zap.String("credentials", cfg.Credentials.Redacted()),
		zap.String("payloadCodec", codecSummary(cfg)))
	var health *metrics.Server
	if cfg.MetricsAddr != "" {
		health, err = metrics.Serve(cfg.MetricsAddr, reg, func(ctx context.Context) error {
			_, err := c.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		})
		if err != nil {
			logger.Error("metrics endpoint", zap.Error(err))
			return 2
		}
		defer health.Close()
		logger.Info("serving /metrics, /healthz, /readyz", zap.String("addr", health.Addr()))
	}
	if err := w.Start(); err != nil {
		logger.Error("worker did not start", zap.Error(err))
		return 1
	}
	if health != nil {
		health.SetReady(true)
	}
	if err := workflows.EnsurePollers(context.Background(), c, cfg.TaskQueue, cfg.Watch.WithDefaults().Shards, cfg.PollerHeartbeat); err != nil {
		logger.Error("could not start the watch pollers; watchers will say they hear nothing", zap.Error(err))
	}
	stopGauges := make(chan struct{})
	defer close(stopGauges)
	go watchGauges(c, cfg.TaskQueue, reg, 15*time.Second, stopGauges)
	<-worker.InterruptCh()
	if health != nil {
		health.SetReady(false)
	}
	logger.Info("stopping: letting running activities finish", zap.Duration("timeout", cfg.StopTimeout))
	w.Stop()
	return 0
}

// graphMetrics counts Graph requests by route, status and code, and the time
// Graph asked us to wait.
func graphMetrics(reg *metrics.Registry) func(graph.Observation) {
	return func(o graph.Observation) {
		reg.Add("cloudsync_graph_requests_total", map[string]string{"method": o.Method, "route": o.Route, "status": strconv.Itoa(o.Status), "code": o.Code}, 1)
		reg.Observe("cloudsync_graph_request_duration_seconds", map[string]string{"method": o.Method, "route": o.Route}, o.Elapsed)
		if o.RetryAfter > 0 {
			reg.Add(metrics.GraphThrottleWaitSeconds, nil, o.RetryAfter.Seconds())
		}
	}
}

// workerOptions are the SDK worker's options (BENCHMARKS.md, "Knobs").
func workerOptions(cfg config) worker.Options {
	pollers := func(n int) worker.PollerBehavior {
		if n > 0 {
			return worker.NewPollerBehaviorSimpleMaximum(worker.PollerBehaviorSimpleMaximumOptions{MaximumNumberOfPollers: max(n, 2)})
		}
		return worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{})
	}
	return worker.Options{
		MaxConcurrentActivityExecutionSize:     cfg.MaxActivities,
		MaxConcurrentWorkflowTaskExecutionSize: cfg.MaxWorkflowTasks,
		WorkflowTaskPollerBehavior:             pollers(cfg.WorkflowPollers),
		ActivityTaskPollerBehavior:             pollers(cfg.ActivityPollers),
		WorkerStopTimeout:                      cfg.StopTimeout,
	}
}

// register wires every workflow and activity under its contract name.
func register(w worker.Registry, acts *activities.Activities) {
	workflows.RegisterWorkflows(w)
	w.RegisterActivity(acts)
}

// watchGauges publishes, from visibility, how many watchers await a human
// and how many cannot reach Graph: every worker reports the same namespace-
// wide figure, which survives worker restarts and does not depend on which
// worker runs which watcher (alert on max()).
func watchGauges(c client.Client, taskQueue string, reg *metrics.Registry, every time.Duration, stop <-chan struct{}) {
	base := fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running' AND TaskQueue = '%s'", workflows.WatchSyncJobWorkflow, taskQueue)
	gauges := map[string]string{
		"cloudsync_watch_awaiting_approval": base + " AND " + workflows.SearchAwaitingApproval.GetName() + " = true",
		"cloudsync_watch_unreachable":       base + " AND " + workflows.SearchJobState.GetName() + " = 'Unreachable'",
	}
	for {
		for name, q := range gauges {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			resp, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: q})
			cancel()
			if err == nil {
				reg.Set(name, nil, float64(resp.GetCount()))
			}
		}
		select {
		case <-stop:
			return
		case <-time.After(every):
		}
	}
}

// clientOptions resolves the Temporal client options the worker dials with:
// Temporal's envconfig (TOML profile from TEMPORAL_CONFIG_FILE/TEMPORAL_PROFILE,
// then the TEMPORAL_* variables), then the --address/--namespace flags, and
// the payload codec when keys are configured. Pure: all input comes from cfg
// and getenv, so tests can build the options of any deployment.
func clientOptions(cfg config, getenv func(string) string) (client.Options, error) {
	opts, err := envconfig.LoadClientOptions(envconfig.LoadClientOptionsRequest{EnvLookup: getenvLookup(getenv)})
	if err != nil {
		return client.Options{}, fmt.Errorf("temporal configuration: %w", err)
	}
	if cfg.TemporalAddress != "" {
		opts.HostPort = cfg.TemporalAddress
	}
	if cfg.TemporalNamespace != "" {
		opts.Namespace = cfg.TemporalNamespace
	}
	if cfg.Codec != nil {
		opts.DataConverter = codec.DataConverter(cfg.Codec)
	}
	return opts, nil
}

// getenvLookup adapts getenv to envconfig. An empty variable counts as unset,
// so a deployment that passes TEMPORAL_TLS_CLIENT_CERT_PATH="" (compose
// "${X:-}") does not turn TLS on. Environ, used for TEMPORAL_GRPC_META_*,
// lists the process environment's names with their values through getenv.
type getenvLookup func(string) string

func (g getenvLookup) LookupEnv(k string) (string, bool) {
	v := g(k)
	return v, v != ""
}

func (g getenvLookup) Environ() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, workerenv.TemporalGRPCMetaPrefix) {
			if v := g(k); v != "" {
				out = append(out, k+"="+v)
			}
		}
	}
	return out
}

func dialTemporal(cfg config, logger *zap.Logger, reg *metrics.Registry) (client.Client, error) {
	opts, err := clientOptions(cfg, os.Getenv)
	if err != nil {
		return nil, err
	}
	opts.Logger = newTemporalLogger(logger)
	opts.MetricsHandler = reg.TemporalHandler()
	return client.DialContext(context.Background(), opts)
}

// codecSummary is safe to log: key ids, never keys.
func codecSummary(cfg config) string {
	if cfg.Codec == nil {
		return "off (payloads in clear)"
	}
	return cfg.Codec.String()
}

func newLogger(cfg config) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(cfg.LogLevel)
	if err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	zc := zap.NewProductionConfig()
	if cfg.LogFormat == "console" {
		zc = zap.NewDevelopmentConfig()
	}
	zc.Level = zap.NewAtomicLevelAt(level)
	return zc.Build()
}
