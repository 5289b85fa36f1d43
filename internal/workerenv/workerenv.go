// Package workerenv is the table of the environment variables the worker
// reads: its --help prints it, the deployment checks (deploy/) hold the
// compose file and Kubernetes manifests to it, and the worker's tests record
// every variable its configuration (and Temporal's envconfig under it)
// actually reads and require each to be here, and each here to be read. A
// new variable cannot be missed by either.
package workerenv

import (
	"slices"
	"strings"
	"time"
)

// Var is one entry of the worker's --help: variables read together, and
// what they set.
type Var struct {
	Names []string
	Label string // how --help names them, when not all of Names
	Doc   string
}

// Title is how --help names the entry.
func (v Var) Title() string {
	if v.Label != "" {
		return v.Label
	}
	return strings.Join(v.Names, ", ")
}

// TemporalGRPCMetaPrefix starts the TEMPORAL_GRPC_META_<header> variables,
// each sent as gRPC metadata (Temporal's envconfig).
const TemporalGRPCMetaPrefix = "TEMPORAL_GRPC_META_"

// Temporal are the variables of Temporal's envconfig (LoadClientOptions),
// which the worker's Temporal client is configured with.
var Temporal = []string{
	"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY", "TEMPORAL_CLIENT_AUTHORITY",
	"TEMPORAL_TLS", "TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_CERT_DATA",
	"TEMPORAL_TLS_CLIENT_KEY_PATH", "TEMPORAL_TLS_CLIENT_KEY_DATA",
	"TEMPORAL_TLS_SERVER_CA_CERT_PATH", "TEMPORAL_TLS_SERVER_CA_CERT_DATA",
	"TEMPORAL_TLS_SERVER_NAME", "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION",
	"TEMPORAL_CODEC_ENDPOINT", "TEMPORAL_CODEC_AUTH",
	"TEMPORAL_CONFIG_FILE", "TEMPORAL_PROFILE",
}

// Vars is every variable the worker reads, in --help's order.
var Vars = []Var{
	{Names: Temporal, Label: "TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*, TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE, " + TemporalGRPCMetaPrefix + "*",
		Doc: "Temporal connection (Temporal's envconfig)"},
	{Names: []string{"CLOUDSYNC_TASK_QUEUE"}, Doc: "task queue (default cloudsync)"},
	{Names: []string{"CLOUDSYNC_GRAPH_CLOUD"}, Doc: "global | usgov | usgovdod | china (default global)"},
	{Names: []string{"CLOUDSYNC_GRAPH_BASE_URL"}, Doc: "override the Graph base URL, e.g. a simulator's https://127.0.0.1:8443/beta"},
	{Names: []string{"AZURE_AUTHORITY_HOST"}, Doc: "override the Entra authority host (azidentity's variable)"},
	{Names: []string{"CLOUDSYNC_CA_FILE"}, Doc: "extra PEM CA to trust (simulator, TLS-inspecting proxy)"},
	{Names: []string{"CLOUDSYNC_AUTH_MODE"}, Doc: "client-secret | certificate | workload-identity | managed-identity (default: from what is set)"},
	{Names: []string{"AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"}, Doc: "the multi-tenant app's id and secret"},
	{Names: []string{"AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_CLIENT_CERTIFICATE_PASSWORD"}, Doc: "certificate credential"},
	{Names: []string{"AZURE_FEDERATED_TOKEN_FILE"}, Doc: "workload identity token file (set by AKS workload identity)"},
	{Names: []string{"CLOUDSYNC_TENANT_OVERRIDES"}, Doc: "YAML file: per-tenant credentials {tenantId: {mode, clientId, clientSecretFile, certificatePath}}"},
	{Names: []string{"CLOUDSYNC_LOG_LEVEL", "CLOUDSYNC_LOG_FORMAT"}, Doc: "debug|info|warn|error; json|console"},
	{Names: []string{"CLOUDSYNC_MAX_CONCURRENT_ACTIVITIES", "CLOUDSYNC_MAX_CONCURRENT_WORKFLOW_TASKS"}, Doc: "worker concurrency (defaults 200, 100)"},
	{Names: []string{"CLOUDSYNC_WORKFLOW_TASK_POLLERS", "CLOUDSYNC_ACTIVITY_TASK_POLLERS"}, Doc: "pollers per task queue kind (default 0: the SDK scales them)"},
	{Names: []string{"CLOUDSYNC_WORKFLOW_CACHE_SIZE"}, Doc: "sticky workflow cache size (default 0: the SDK's 10,000); bounds the memory of many idle watchers"},
	{Names: []string{"CLOUDSYNC_GRAPH_WRITE_RATE", "CLOUDSYNC_GRAPH_WRITE_BURST"}, Doc: "Graph writes per second and burst, per tenant (defaults 15, 20; Graph allows about 20/s; rate 0: no limit)"},
	{Names: []string{"CLOUDSYNC_CODEC_KEYS"}, Doc: "payload encryption keys \"kid1=<base64 32 bytes>,kid2=...\" (AES-256-GCM); unset: payloads in clear"},
	{Names: []string{"CLOUDSYNC_CODEC_KEYS_FILE"}, Doc: "a file with the keys in the same format (one per line allowed), instead of CLOUDSYNC_CODEC_KEYS"},
	{Names: []string{"CLOUDSYNC_CODEC_KEY_ID"}, Doc: "the key id that encrypts new payloads (required with several keys); the others only decrypt"},
	{Names: []string{"CLOUDSYNC_WATCH_INTERVAL", "CLOUDSYNC_WATCH_SHARDS"}, Doc: "poll every watched service principal's jobs this often (default 2m), in this many poller shards (default 4)"},
	{Names: []string{"CLOUDSYNC_WATCH_GONE_AFTER", "CLOUDSYNC_WATCH_REFRESH"}, Doc: "a job missing this long is gone (default 15m); report every job at least this often (default 12h)"},
	{Names: []string{"CLOUDSYNC_SYNC_SETTLE_WINDOW"}, Doc: "retry a new service principal's synchronization 403/409 this long after its creation (default 5m), then report the missing permission"},
	{Names: []string{"CLOUDSYNC_DRIFT_INTERVAL"}, Doc: "compare each watched tenant's configuration with its spec this often (default 24h; one read set per tenant)"},
	{Names: []string{"CLOUDSYNC_WATCH_HEARTBEAT_TIMEOUT"}, Doc: "how soon a crashed worker's poller shard moves to another worker (default 5m)"},
	{Names: []string{"CLOUDSYNC_WEBHOOKS"}, Doc: "notification webhooks \"name=https://…,other=https://…\" that watchers name with --webhook (URLs are secrets: never logged)"},
	{Names: []string{"CLOUDSYNC_METRICS_ADDR"}, Doc: "Prometheus /metrics and /healthz, /readyz address (default :9090; off: none — an empty variable means the default)"},
}

// StopTimeout is the worker's --stop-timeout default (a flag, no variable):
// on SIGTERM running activities get this long, so a deployment's grace
// period must be longer.
const StopTimeout = 30 * time.Second

// Names is every variable name in Vars, sorted.
func Names() []string {
	var out []string
	for _, v := range Vars {
		out = append(out, v.Names...)
	}
	slices.Sort(out)
	return out
}

// Reads reports whether the worker reads the variable: a name in Vars, or a
// TemporalGRPCMetaPrefix variable.
func Reads(name string) bool {
	if strings.HasPrefix(name, TemporalGRPCMetaPrefix) && len(name) > len(TemporalGRPCMetaPrefix) {
		return true
	}
	_, found := slices.BinarySearch(Names(), name)
	return found
}
