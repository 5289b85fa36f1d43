package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudsync/cloudsync/graph"
	"github.com/cloudsync/cloudsync/workflows"
)

func mapEnv(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

// secretEnv is the smallest valid environment: client-secret credentials.
func secretEnv(extra map[string]string) map[string]string {
	kv := map[string]string{"AZURE_CLIENT_ID": "11111111-0000-0000-0000-000000000001", "AZURE_CLIENT_SECRET": "s3cr3t"}
	for k, v := range extra {
		kv[k] = v
	}
	return kv
}

func TestLoadConfigDefaults(t *testing.T) {
	c, err := loadConfig(nil, mapEnv(secretEnv(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if c.TaskQueue != workflows.TaskQueue || c.Cloud.Name != "global" || c.Cloud.GraphBaseURL != graph.CloudGlobal.GraphBaseURL {
		t.Fatalf("defaults: %+v", c)
	}
	if c.LogLevel != "info" || c.LogFormat != "json" || c.MaxActivities != 200 || c.MaxWorkflowTasks != 100 ||
		c.StopTimeout != 30*time.Second || c.MetricsAddr != ":9090" || c.Codec != nil {
		t.Fatalf("defaults: %+v", c)
	}
	if c.Credentials.Mode != graph.AuthClientSecret || c.Credentials.ClientSecret != "s3cr3t" {
		t.Fatalf("credentials: %s", c.Credentials.Redacted())
	}
	if strings.Contains(c.Credentials.Redacted(), "s3cr3t") {
		t.Fatal("Redacted shows the secret")
	}
}

func TestLoadConfigFlagsOverrideEnvironment(t *testing.T) {
	env := secretEnv(map[string]string{
		"CLOUDSYNC_TASK_QUEUE":                    "q-env",
		"CLOUDSYNC_GRAPH_CLOUD":                   "usgov",
		"CLOUDSYNC_LOG_LEVEL":                     "warn",
		"CLOUDSYNC_LOG_FORMAT":                    "console",
		"CLOUDSYNC_MAX_CONCURRENT_ACTIVITIES":     "7",
		"CLOUDSYNC_MAX_CONCURRENT_WORKFLOW_TASKS": "not-a-number",
		"CLOUDSYNC_METRICS_ADDR":                  "127.0.0.1:9999",
	})
	c, err := loadConfig(nil, mapEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	if c.TaskQueue != "q-env" || c.Cloud.Name != "usgov" || c.Cloud.GraphBaseURL != graph.CloudUSGov.GraphBaseURL ||
		c.LogLevel != "warn" || c.LogFormat != "console" || c.MaxActivities != 7 || c.MetricsAddr != "127.0.0.1:9999" {
		t.Fatalf("from the environment: %+v", c)
	}
	if c.MaxWorkflowTasks != 100 {
		t.Fatalf("a bad number falls back to the default, got %d", c.MaxWorkflowTasks)
	}
	c, err = loadConfig([]string{
		"--task-queue", "q-flag", "--graph-cloud", "china", "--log-level", "debug", "--max-concurrent-activities", "3",
		"--address", "temporal.example:7233", "--namespace", "ns-flag", "--stop-timeout", "5s", "--metrics-addr", "",
	}, mapEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	if c.TaskQueue != "q-flag" || c.Cloud.Name != "china" || c.LogLevel != "debug" || c.MaxActivities != 3 ||
		c.TemporalAddress != "temporal.example:7233" || c.TemporalNamespace != "ns-flag" || c.StopTimeout != 5*time.Second || c.MetricsAddr != "" {
		t.Fatalf("flags: %+v", c)
	}
	// The flags win in the client options too.
	opts, err := clientOptions(c, envOf(t, map[string]string{"TEMPORAL_ADDRESS": "env:7233", "TEMPORAL_NAMESPACE": "env-ns"}))
	if err != nil || opts.HostPort != "temporal.example:7233" || opts.Namespace != "ns-flag" {
		t.Fatalf("client options: %q %q %v", opts.HostPort, opts.Namespace, err)
	}
}

func TestLoadConfigEndpoints(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		env  map[string]string
		want string // error substring; "" = valid
	}{
		"bad cloud name":            {env: map[string]string{"CLOUDSYNC_GRAPH_CLOUD": "mars"}, want: `unknown cloud "mars"`},
		"bad cloud flag":            {args: []string{"--graph-cloud", "azure-germany"}, want: "unknown cloud"},
		"http graph, not loopback":  {env: map[string]string{"CLOUDSYNC_GRAPH_BASE_URL": "http://graph.example.com/beta"}, want: "must use https"},
		"http authority, not local": {env: map[string]string{"AZURE_AUTHORITY_HOST": "http://login.example.com/"}, want: "must use https"},
		"relative URL":              {env: map[string]string{"CLOUDSYNC_GRAPH_BASE_URL": "graph/beta"}, want: "not an absolute URL"},
		"http loopback is fine":     {env: map[string]string{"CLOUDSYNC_GRAPH_BASE_URL": "http://127.0.0.1:8443/beta", "AZURE_AUTHORITY_HOST": "http://localhost:8443"}},
		"https simulator":           {args: []string{"--graph-base-url", "https://graphsim:8443/beta/", "--authority-host", "https://graphsim:8443"}},
		"unknown flag":              {args: []string{"--nope"}, want: "flag provided but not defined"},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := loadConfig(tc.args, mapEnv(secretEnv(tc.env)))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Cloud.Name != "custom" || c.Cloud.Scope != graph.CloudGlobal.Scope || strings.HasSuffix(c.Cloud.GraphBaseURL, "/") ||
					!strings.HasSuffix(c.Cloud.AuthorityHost, "/") {
					t.Fatalf("overridden cloud: %+v", c.Cloud)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
}

func TestLoadConfigAuthModes(t *testing.T) {
	for name, tc := range map[string]struct {
		env  map[string]string
		want graph.AuthMode
		err  string
	}{
		"secret":              {env: map[string]string{"AZURE_CLIENT_ID": "a", "AZURE_CLIENT_SECRET": "s"}, want: graph.AuthClientSecret},
		"certificate":         {env: map[string]string{"AZURE_CLIENT_ID": "a", "AZURE_CLIENT_CERTIFICATE_PATH": "/c.pem"}, want: graph.AuthCertificate},
		"workload identity":   {env: map[string]string{"AZURE_CLIENT_ID": "a", "AZURE_FEDERATED_TOKEN_FILE": "/t", "AZURE_CLIENT_SECRET": "s"}, want: graph.AuthWorkloadIdentity},
		"cert before secret":  {env: map[string]string{"AZURE_CLIENT_ID": "a", "AZURE_CLIENT_CERTIFICATE_PATH": "/c.pem", "AZURE_CLIENT_SECRET": "s"}, want: graph.AuthCertificate},
		"nothing: managed":    {env: map[string]string{}, want: graph.AuthManagedIdentity},
		"explicit mode":       {env: map[string]string{"CLOUDSYNC_AUTH_MODE": "managed-identity", "AZURE_CLIENT_ID": "a", "AZURE_CLIENT_SECRET": "s"}, want: graph.AuthManagedIdentity},
		"secret no id":        {env: map[string]string{"AZURE_CLIENT_SECRET": "s"}, err: "needs AZURE_CLIENT_ID and AZURE_CLIENT_SECRET"},
		"explicit cert, none": {env: map[string]string{"CLOUDSYNC_AUTH_MODE": "certificate", "AZURE_CLIENT_ID": "a"}, err: "AZURE_CLIENT_CERTIFICATE_PATH"},
		"explicit wi, none":   {env: map[string]string{"CLOUDSYNC_AUTH_MODE": "workload-identity", "AZURE_CLIENT_ID": "a"}, err: "AZURE_FEDERATED_TOKEN_FILE"},
		"unknown mode":        {env: map[string]string{"CLOUDSYNC_AUTH_MODE": "password"}, err: `unknown auth mode "password"`},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := loadConfig(nil, mapEnv(tc.env))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("want %q, got %v", tc.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Credentials.Mode != tc.want {
				t.Fatalf("mode %q, want %q", c.Credentials.Mode, tc.want)
			}
		})
	}
}

func TestLoadConfigTenantOverrides(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "fabrikam-secret")
	if err := os.WriteFile(secretFile, []byte("other-app-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("overrides.yaml", `
AAAAAAAA-0000-0000-0000-000000000001:
  clientId: other-app
  clientSecretFile: `+secretFile+`
bbbbbbbb-0000-0000-0000-000000000002:
  mode: workload-identity
  clientId: wi-app
  tokenFilePath: /var/run/secrets/azure/tokens/azure-identity-token
`)
	c, err := loadConfig([]string{"--tenant-overrides", good}, mapEnv(secretEnv(nil)))
	if err != nil {
		t.Fatal(err)
	}
	a := c.Credentials.Overrides["aaaaaaaa-0000-0000-0000-000000000001"]
	if a.ClientID != "other-app" || a.ClientSecret != "other-app-secret" || a.Mode != graph.AuthClientSecret {
		t.Fatalf("override from a secret file (tenant id lowercased, secret trimmed): %+v", a)
	}
	b := c.Credentials.Overrides["bbbbbbbb-0000-0000-0000-000000000002"]
	if b.Mode != graph.AuthWorkloadIdentity || b.ClientID != "wi-app" {
		t.Fatalf("workload identity override: %+v", b)
	}
	if strings.Contains(c.Credentials.Redacted(), "other-app-secret") {
		t.Fatal("Redacted shows an override's secret")
	}
	// The environment variable works like the flag.
	if c, err = loadConfig(nil, mapEnv(secretEnv(map[string]string{"CLOUDSYNC_TENANT_OVERRIDES": good}))); err != nil || len(c.Credentials.Overrides) != 2 {
		t.Fatalf("from CLOUDSYNC_TENANT_OVERRIDES: %v", err)
	}

	for name, tc := range map[string]struct{ body, want string }{
		"secret inline is refused": {"t1:\n  clientId: a\n  clientSecret: oops\n", "field clientSecret not found"},
		"missing secret file":      {"t1:\n  clientId: a\n  clientSecretFile: " + secretFile + ".nope\n", "tenant t1"},
		"incomplete certificate":   {"t1:\n  mode: certificate\n  clientId: a\n", "tenant t1: certificate auth needs"},
		"not YAML":                 {"t1: [", "tenant overrides"},
	} {
		t.Run(name, func(t *testing.T) {
			p := write(strings.ReplaceAll(name, " ", "-")+".yaml", tc.body)
			_, err := loadConfig([]string{"--tenant-overrides", p}, mapEnv(secretEnv(nil)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
	if _, err := loadConfig([]string{"--tenant-overrides", filepath.Join(dir, "absent.yaml")}, mapEnv(secretEnv(nil))); err == nil {
		t.Fatal("a missing overrides file is accepted")
	}
}

func TestLoadConfigCodecKeys(t *testing.T) {
	const k1 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" // 32 bytes
	c, err := loadConfig(nil, mapEnv(secretEnv(map[string]string{"CLOUDSYNC_CODEC_KEYS": "kid1=" + k1})))
	if err != nil || c.Codec == nil || c.Codec.ActiveKeyID() != "kid1" {
		t.Fatalf("one key is the active one: %v %v", c.Codec, err)
	}
	file := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(file, []byte("kid1="+k1+"\nkid2="+k1+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = loadConfig(nil, mapEnv(secretEnv(map[string]string{"CLOUDSYNC_CODEC_KEYS_FILE": file, "CLOUDSYNC_CODEC_KEY_ID": "kid2"})))
	if err != nil || c.Codec.ActiveKeyID() != "kid2" {
		t.Fatalf("keys file: %v %v", c.Codec, err)
	}
	for name, env := range map[string]map[string]string{
		"several keys, no id": {"CLOUDSYNC_CODEC_KEYS_FILE": file},
		"id, no keys":         {"CLOUDSYNC_CODEC_KEY_ID": "kid1"},
		"short key":           {"CLOUDSYNC_CODEC_KEYS": "kid1=AAEC"},
	} {
		if _, err := loadConfig(nil, mapEnv(secretEnv(env))); err == nil || !strings.Contains(err.Error(), "codec") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestRunExitsOnBadConfiguration(t *testing.T) {
	// Silence the usage output of the flag package.
	stderr := os.Stderr
	devnull, _ := os.Open(os.DevNull)
	os.Stderr = devnull
	defer func() { os.Stderr = stderr; devnull.Close() }()
	if code := run([]string{"--graph-cloud", "mars"}); code != 2 {
		t.Fatalf("exit %d", code)
	}
}

// The drift interval: a day by default, from CLOUDSYNC_DRIFT_INTERVAL or
// --drift-interval; under a second is refused.
func TestLoadConfigDriftInterval(t *testing.T) {
	c, err := loadConfig(nil, mapEnv(secretEnv(nil)))
	if err != nil || c.DriftInterval != workflows.DefaultDriftInterval {
		t.Fatalf("default: %v %v", c.DriftInterval, err)
	}
	c, err = loadConfig(nil, mapEnv(secretEnv(map[string]string{"CLOUDSYNC_DRIFT_INTERVAL": "6h"})))
	if err != nil || c.DriftInterval != 6*time.Hour {
		t.Fatalf("env: %v %v", c.DriftInterval, err)
	}
	c, err = loadConfig([]string{"--drift-interval", "2s"}, mapEnv(secretEnv(map[string]string{"CLOUDSYNC_DRIFT_INTERVAL": "6h"})))
	if err != nil || c.DriftInterval != 2*time.Second {
		t.Fatalf("flag: %v %v", c.DriftInterval, err)
	}
	if _, err = loadConfig([]string{"--drift-interval", "10ms"}, mapEnv(secretEnv(nil))); err == nil || !strings.Contains(err.Error(), "--drift-interval 10ms is too short") {
		t.Fatalf("too short: %v", err)
	}
}

func TestMetricsAddrOff(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, nil, ":9090"},
		{nil, map[string]string{"CLOUDSYNC_METRICS_ADDR": ""}, ":9090"},
		{nil, map[string]string{"CLOUDSYNC_METRICS_ADDR": "off"}, ""},
		{nil, map[string]string{"CLOUDSYNC_METRICS_ADDR": "OFF"}, ""},
		{[]string{"--metrics-addr="}, nil, ""},
		{[]string{"--metrics-addr=off"}, map[string]string{"CLOUDSYNC_METRICS_ADDR": "127.0.0.1:1"}, ""},
	} {
		c, err := loadConfig(tc.args, mapEnv(secretEnv(tc.env)))
		if err != nil {
			t.Fatal(err)
		}
		if c.MetricsAddr != tc.want {
			t.Errorf("%v %v: metrics address %q, want %q", tc.args, tc.env, c.MetricsAddr, tc.want)
		}
	}
}
