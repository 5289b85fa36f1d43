package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/cloudsync/cloudsync/activities"
	"github.com/cloudsync/cloudsync/codec"
	"github.com/cloudsync/cloudsync/graph"
	"github.com/cloudsync/cloudsync/internal/workerenv"
	"github.com/cloudsync/cloudsync/workflows"
)

// config is everything the worker reads at start; nothing else reads the
// environment. Every variable read is in workerenv.Vars (env_test.go checks
// it). Secrets stay in Credentials and are never logged.
type config struct {
	TemporalAddress   string
	TemporalNamespace string
	TaskQueue         string
	Cloud             graph.Cloud
	CAFile            string
	Credentials       graph.CredentialConfig
	LogLevel          string
	LogFormat         string
	MaxActivities     int
	MaxWorkflowTasks  int
	// Pollers per task queue kind: 0 lets the SDK scale them with the
	// backlog; N > 0 keeps at most N.
	WorkflowPollers int
	ActivityPollers int
	// CacheSize bounds the sticky workflow cache (0: the SDK's 10,000).
	CacheSize int
	// GraphWriteRate and GraphWriteBurst limit each tenant's Graph writes.
	GraphWriteRate  float64
	GraphWriteBurst int
	StopTimeout     time.Duration
	MetricsAddr     string
	// Codec encrypts payloads (nil: no CLOUDSYNC_CODEC_KEYS, payloads in clear).
	Codec *codec.Codec
	// Watch is the fleet's polling; PollerHeartbeat how soon a crashed
	// worker's shard moves on; Webhooks the notification targets by name
	// (secrets: never logged, never in a workflow).
	Watch           activities.WatchConfig
	PollerHeartbeat time.Duration
	// SyncSettleWindow: how long a new service principal's 403/409 are retried.
	SyncSettleWindow time.Duration
	// DriftInterval: how often each watched tenant's configuration is
	// compared with its spec (one read set per tenant per interval).
	DriftInterval time.Duration
	Webhooks      map[string]string
}

// errVersion is loadConfig's answer to --version: print it, read nothing else.
var errVersion = errors.New("--version")

func loadConfig(args []string, getenv func(string) string) (config, error) {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	def := func(k, d string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return d
	}
	c := config{}
	fs.StringVar(&c.TemporalAddress, "address", "", "Temporal address (overrides TEMPORAL_ADDRESS)")
	fs.StringVar(&c.TemporalNamespace, "namespace", "", "Temporal namespace (overrides TEMPORAL_NAMESPACE)")
	fs.StringVar(&c.TaskQueue, "task-queue", def("CLOUDSYNC_TASK_QUEUE", workflows.TaskQueue), "task queue")
	cloudName := fs.String("graph-cloud", def("CLOUDSYNC_GRAPH_CLOUD", "global"), "global | usgov | usgovdod | china")
	baseURL := fs.String("graph-base-url", getenv("CLOUDSYNC_GRAPH_BASE_URL"), "Graph base URL override")
	authority := fs.String("authority-host", getenv("AZURE_AUTHORITY_HOST"), "Entra authority host override")
	fs.StringVar(&c.CAFile, "ca-file", getenv("CLOUDSYNC_CA_FILE"), "extra PEM CA file to trust")
	mode := fs.String("auth-mode", getenv("CLOUDSYNC_AUTH_MODE"), "client-secret | certificate | workload-identity | managed-identity")
	overrides := fs.String("tenant-overrides", getenv("CLOUDSYNC_TENANT_OVERRIDES"), "YAML file of per-tenant credentials")
	fs.StringVar(&c.LogLevel, "log-level", def("CLOUDSYNC_LOG_LEVEL", "info"), "debug | info | warn | error")
	fs.StringVar(&c.LogFormat, "log-format", def("CLOUDSYNC_LOG_FORMAT", "json"), "json | console")
	fs.IntVar(&c.MaxActivities, "max-concurrent-activities", atoi(getenv("CLOUDSYNC_MAX_CONCURRENT_ACTIVITIES"), 200), "activities run at once (Graph calls are I/O bound)")
	fs.IntVar(&c.MaxWorkflowTasks, "max-concurrent-workflow-tasks", atoi(getenv("CLOUDSYNC_MAX_CONCURRENT_WORKFLOW_TASKS"), 100), "workflow tasks run at once")
	fs.IntVar(&c.WorkflowPollers, "workflow-task-pollers", atoi(getenv("CLOUDSYNC_WORKFLOW_TASK_POLLERS"), 0), "workflow task pollers (0: the SDK scales them with the backlog)")
	fs.IntVar(&c.ActivityPollers, "activity-task-pollers", atoi(getenv("CLOUDSYNC_ACTIVITY_TASK_POLLERS"), 0), "activity task pollers (0: the SDK scales them with the backlog)")
	fs.IntVar(&c.CacheSize, "workflow-cache-size", atoi(getenv("CLOUDSYNC_WORKFLOW_CACHE_SIZE"), 0), "sticky workflow cache size (0: the SDK's 10,000)")
	fs.Float64Var(&c.GraphWriteRate, "graph-write-rate", atof(getenv("CLOUDSYNC_GRAPH_WRITE_RATE"), graph.DefaultWriteRate), "Graph writes per second per tenant (0: no limit)")
	fs.IntVar(&c.GraphWriteBurst, "graph-write-burst", atoi(getenv("CLOUDSYNC_GRAPH_WRITE_BURST"), graph.DefaultWriteBurst), "Graph writes a tenant may make at once before the rate applies")
	fs.DurationVar(&c.StopTimeout, "stop-timeout", workerenv.StopTimeout, "on SIGTERM, how long running activities may finish")
	fs.DurationVar(&c.Watch.Interval, "watch-interval", atod(getenv("CLOUDSYNC_WATCH_INTERVAL"), activities.DefaultWatchInterval), "poll every watched service principal's jobs this often")
	fs.IntVar(&c.Watch.Shards, "watch-shards", atoi(getenv("CLOUDSYNC_WATCH_SHARDS"), activities.DefaultWatchShards), "poller shards (each a long-running activity)")
	fs.DurationVar(&c.Watch.GoneAfter, "watch-gone-after", atod(getenv("CLOUDSYNC_WATCH_GONE_AFTER"), activities.DefaultWatchGoneAfter), "a job missing from Graph's list this long is gone")
	fs.DurationVar(&c.Watch.Refresh, "watch-refresh", atod(getenv("CLOUDSYNC_WATCH_REFRESH"), activities.DefaultWatchRefresh), "report every watched job at least this often")
	fs.DurationVar(&c.SyncSettleWindow, "sync-settle-window", atod(getenv("CLOUDSYNC_SYNC_SETTLE_WINDOW"), workflows.DefaultSyncSettleWindow), "retry a new service principal's synchronization 403/409 this long after its creation")
	fs.DurationVar(&c.DriftInterval, "drift-interval", atod(getenv("CLOUDSYNC_DRIFT_INTERVAL"), workflows.DefaultDriftInterval), "compare each watched tenant's configuration with its spec this often")
	fs.DurationVar(&c.PollerHeartbeat, "watch-heartbeat-timeout", atod(getenv("CLOUDSYNC_WATCH_HEARTBEAT_TIMEOUT"), workflows.DefaultPollerHeartbeatTimeout), "heartbeat timeout of the poller activity")
	webhooks := webhookFlag{}
	if err := webhooks.parseList(getenv("CLOUDSYNC_WEBHOOKS")); err != nil {
		return c, fmt.Errorf("CLOUDSYNC_WEBHOOKS: %w", err)
	}
	fs.Var(webhooks, "webhook", "name=https://… a notification webhook watchers may name (repeatable)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", def("CLOUDSYNC_METRICS_ADDR", ":9090"), "serve /metrics, /healthz and /readyz here (off or empty: none)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "cloudsync worker: runs OnboardTenant, WatchSyncJob, the WatchPoller shards, PlanTenant and WatchDrift.\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nEnvironment:\n")
		for _, v := range workerenv.Vars {
			fmt.Fprintf(fs.Output(), "  %s\n      %s\n", v.Title(), v.Doc)
		}
	}
	version := fs.Bool("version", false, "print the version (module version, VCS revision) and exit")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if *version {
		return c, errVersion
	}
	c.Webhooks = webhooks
	if strings.EqualFold(c.MetricsAddr, "off") {
		c.MetricsAddr = "" // an empty variable is unset (the default), so "off" says none
	}
	if c.DriftInterval < time.Second {
		return c, fmt.Errorf("--drift-interval %s is too short: at least 1s (every check reads each watched tenant's configuration)", c.DriftInterval)
	}
	if c.Watch.Interval < time.Second {
		return c, fmt.Errorf("--watch-interval %s is too short: at least 1s (every poll is a Graph call per service principal)", c.Watch.Interval)
	}
	cloud, err := graph.CloudByName(*cloudName)
	if err != nil {
		return c, err
	}
	c.Cloud = cloud.WithOverrides(*baseURL, *authority)
	if err := c.Cloud.Validate(); err != nil {
		return c, err
	}
	c.Credentials = graph.CredentialConfig{
		Mode:            graph.AuthMode(*mode),
		ClientID:        getenv("AZURE_CLIENT_ID"),
		ClientSecret:    getenv("AZURE_CLIENT_SECRET"),
		CertificatePath: getenv("AZURE_CLIENT_CERTIFICATE_PATH"),
		CertificatePass: getenv("AZURE_CLIENT_CERTIFICATE_PASSWORD"),
		TokenFilePath:   getenv("AZURE_FEDERATED_TOKEN_FILE"),
	}
	if c.Credentials.Mode == "" {
		c.Credentials.Mode = inferMode(c.Credentials)
	}
	if err := checkCredentials(c.Credentials); err != nil {
		return c, err
	}
	if *overrides != "" {
		if c.Credentials.Overrides, err = loadOverrides(*overrides); err != nil {
			return c, err
		}
	}
	// The same variables as codec.ConfigFromEnv, read here by name so the
	// deployment checks see them.
	c.Codec, err = codec.Config{
		Keys:     getenv("CLOUDSYNC_CODEC_KEYS"),
		KeysFile: getenv("CLOUDSYNC_CODEC_KEYS_FILE"),
		KeyID:    getenv("CLOUDSYNC_CODEC_KEY_ID"),
	}.Load()
	if err != nil {
		return c, err
	}
	return c, nil
}

func inferMode(c graph.CredentialConfig) graph.AuthMode {
	switch {
	case c.TokenFilePath != "":
		return graph.AuthWorkloadIdentity
	case c.CertificatePath != "":
		return graph.AuthCertificate
	case c.ClientSecret != "":
		return graph.AuthClientSecret
	}
	return graph.AuthManagedIdentity
}

func checkCredentials(c graph.CredentialConfig) error {
	switch c.Mode {
	case graph.AuthClientSecret:
		if c.ClientID == "" || c.ClientSecret == "" {
			return fmt.Errorf("client-secret auth needs AZURE_CLIENT_ID and AZURE_CLIENT_SECRET")
		}
	case graph.AuthCertificate:
		if c.ClientID == "" || c.CertificatePath == "" {
			return fmt.Errorf("certificate auth needs AZURE_CLIENT_ID and AZURE_CLIENT_CERTIFICATE_PATH")
		}
	case graph.AuthWorkloadIdentity:
		if c.ClientID == "" || c.TokenFilePath == "" {
			return fmt.Errorf("workload-identity auth needs AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE")
		}
	case graph.AuthManagedIdentity:
	default:
		return fmt.Errorf("unknown auth mode %q: use client-secret, certificate, workload-identity or managed-identity", c.Mode)
	}
	return nil
}

// loadOverrides reads per-tenant credentials. Secrets come from files named
// there, never from the YAML itself, so the file can live in a ConfigMap.
func loadOverrides(path string) (map[string]graph.CredentialConfig, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tenant overrides: %w", err)
	}
	var entries map[string]struct {
		Mode             string `yaml:"mode"`
		ClientID         string `yaml:"clientId"`
		ClientSecretFile string `yaml:"clientSecretFile"`
		CertificatePath  string `yaml:"certificatePath"`
		TokenFilePath    string `yaml:"tokenFilePath"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&entries); err != nil {
		return nil, fmt.Errorf("tenant overrides %s: %w", path, err)
	}
	out := map[string]graph.CredentialConfig{}
	for tenant, e := range entries {
		cc := graph.CredentialConfig{Mode: graph.AuthMode(e.Mode), ClientID: e.ClientID, CertificatePath: e.CertificatePath, TokenFilePath: e.TokenFilePath}
		if e.ClientSecretFile != "" {
			s, err := os.ReadFile(e.ClientSecretFile)
			if err != nil {
				return nil, fmt.Errorf("tenant overrides: tenant %s: %w", tenant, err)
			}
			cc.ClientSecret = strings.TrimSpace(string(s))
		}
		if cc.Mode == "" {
			cc.Mode = inferMode(cc)
		}
		if err := checkCredentials(cc); err != nil {
			return nil, fmt.Errorf("tenant overrides: tenant %s: %w", tenant, err)
		}
		out[strings.ToLower(tenant)] = cc
	}
	return out, nil
}

// atof reads a non-negative number (0 allowed: "no limit").
func atof(s string, d float64) float64 {
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 {
		return f
	}
	return d
}

func atod(s string, d time.Duration) time.Duration {
	if v, err := time.ParseDuration(s); err == nil && v > 0 {
		return v
	}
	return d
}

// webhookFlag collects name=url pairs.
type webhookFlag map[string]string

func (w webhookFlag) String() string { return fmt.Sprintf("%d webhook(s)", len(w)) } // never the URLs

func (w webhookFlag) Set(v string) error {
	name, raw, ok := strings.Cut(strings.TrimSpace(v), "=")
	name = strings.TrimSpace(name)
	if !ok || !workflows.ValidWebhookName(name) {
		return fmt.Errorf("want name=https://…, with a name of lower-case letters, digits, . _ -")
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("webhook %s: not an absolute http(s) URL", name)
	}
	w[name] = u.String()
	return nil
}

func (w webhookFlag) parseList(s string) error {
	for _, p := range strings.Split(s, ",") {
		if strings.TrimSpace(p) == "" {
			continue
		}
		if err := w.Set(p); err != nil {
			return err
		}
	}
	return nil
}

func atoi(s string, d int) int {
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return n
	}
	return d
}
