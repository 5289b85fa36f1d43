// Command worker runs cloudsync's workflows and activities.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/cloudsync/cloudsync/activities"
	"github.com/cloudsync/cloudsync/graph"
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
		Graph:  &graph.Factory{Cloud: cfg.Cloud, Credentials: cfg.Credentials, Transport: transport, Observer: graphMetrics(reg)},
		Logger: logger,
	}
	w := worker.New(c, cfg.TaskQueue, worker.Options{
		MaxConcurrentActivityExecutionSize:     cfg.MaxActivities,
		MaxConcurrentWorkflowTaskExecutionSize: cfg.MaxWorkflowTasks,
		WorkerStopTimeout:                      cfg.StopTimeout,
	})
	register(w, acts)
	logger.Info("worker starting",
		zap.String("taskQueue", cfg.TaskQueue), zap.String("graph", cfg.Cloud.GraphBaseURL),
		zap.String("authority", cfg.Cloud.AuthorityHost), zap.String("credentials", cfg.Credentials.Redacted()))
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
			reg.Add("cloudsync_graph_throttle_wait_seconds_total", nil, o.RetryAfter.Seconds())
		}
	}
}

// register wires every workflow and activity under its contract name.
func register(w worker.Registry, acts *activities.Activities) {
	w.RegisterWorkflowWithOptions(workflows.OnboardTenant, workflow.RegisterOptions{Name: workflows.OnboardTenantWorkflow})
	w.RegisterWorkflowWithOptions(workflows.WatchSyncJob, workflow.RegisterOptions{Name: workflows.WatchSyncJobWorkflow})
	w.RegisterActivity(acts)
}

func dialTemporal(cfg config, logger *zap.Logger, reg *metrics.Registry) (client.Client, error) {
	opts, err := envconfig.LoadClientOptions(envconfig.LoadClientOptionsRequest{})
	if err != nil {
		return nil, fmt.Errorf("temporal configuration: %w", err)
	}
	if cfg.TemporalAddress != "" {
		opts.HostPort = cfg.TemporalAddress
	}
	if cfg.TemporalNamespace != "" {
		opts.Namespace = cfg.TemporalNamespace
	}
	opts.Logger = newTemporalLogger(logger)
	opts.MetricsHandler = reg.TemporalHandler()
	return client.DialContext(context.Background(), opts)
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
