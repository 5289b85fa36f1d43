package e2e

// Payload encryption end to end: a dev server of its own, graphsim, and a
// worker running in this test process with the codec on its client (the
// worker binary wires the same codec from CLOUDSYNC_CODEC_KEYS; worker/'s
// unit tests check that). The raw history, read without the codec, holds only
// ciphertext; the codec server and the Temporal CLI decode it.
//
// Helpers here are prefixed codec… to stay clear of the shared harness.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enums "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.uber.org/zap"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/cloudsync/cloudsync/activities"
	"github.com/cloudsync/cloudsync/codec"
	"github.com/cloudsync/cloudsync/graph"
	"github.com/cloudsync/cloudsync/graphsim"
	"github.com/cloudsync/cloudsync/workflows"
)

const (
	codecClientID     = "5e1f0c1d-0000-4000-8000-00000000c0de"
	codecClientSecret = "e2e-codec-secret-Hw3~not-a-real-one"
)

// codecEnvOptions parametrise codecStartEnv.
type codecEnvOptions struct {
	codec    *codec.Codec // nil: payloads in clear
	enableUI bool         // the dev server's Web UI
	uiPort   int          // its port (0: a free one)
	sim      graphsim.Options
	// extraArgs for `temporal server start-dev` (e.g. --ui-codec-endpoint).
	extraArgs []string
}

// codecEnv is a dev server, a simulator and an in-process worker, all the
// test's own.
type codecEnv struct {
	sim    *graphsim.Server
	server *testsuite.DevServer
	raw    client.Client // the SDK's default converter: sees what Temporal stores
	client client.Client // with the codec when one is configured
	worker worker.Worker
	uiPort int
}

// codecLog collects the SDK's warnings and errors (the watchers' poll loop
// logs every retry as an activity error), shown only when the test fails.
type codecLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *codecLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() > 4<<20 {
		l.buf.Reset()
		l.buf.WriteString("[earlier lines dropped]\n")
	}
	return l.buf.Write(p)
}

func (l *codecLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func codecLogger(t *testing.T) sdklog.Logger {
	t.Helper()
	l := &codecLog{}
	t.Cleanup(func() {
		if t.Failed() {
			out := l.String()
			if len(out) > 20000 {
				out = "…" + out[len(out)-20000:]
			}
			t.Logf("SDK log (worker and clients):\n%s", out)
		}
	})
	return sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

// codecFreePort asks the kernel for a free TCP port.
func codecFreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func codecStartEnv(t *testing.T, o codecEnvOptions) *codecEnv {
	t.Helper()
	skipIfShort(t)
	e := &codecEnv{}
	logger := codecLogger(t)
	temporalBin, err := findTemporalCLI()
	require.NoError(t, err)

	simOpts := o.sim
	simOpts.Clients = map[string]string{codecClientID: codecClientSecret}
	if simOpts.SyncInterval == 0 {
		simOpts.SyncInterval = 200 * time.Millisecond
	}
	e.sim, err = graphsim.New(simOpts)
	require.NoError(t, err)
	t.Cleanup(e.sim.Close)

	devOpts := testsuite.DevServerOptions{
		ExistingPath:     temporalBin,
		ClientOptions:    &client.Options{HostPort: fmt.Sprintf("127.0.0.1:%d", codecFreePort(t)), Namespace: "default", Logger: logger},
		SearchAttributes: workflows.TypedSearchAttributes(),
		LogLevel:         "error",
		Stdout:           io.Discard,
		Stderr:           os.Stderr,
		ExtraArgs:        o.extraArgs,
	}
	if o.enableUI {
		e.uiPort = o.uiPort
		if e.uiPort == 0 {
			e.uiPort = codecFreePort(t)
		}
		devOpts.EnableUI = true
		devOpts.UIPort = strconv.Itoa(e.uiPort)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// A dev server picks free ports of its own for its internal services while
	// it starts; several starting at once can collide (the harness retries
	// the same way). Try other ports if one does not come up.
	for attempt := 1; ; attempt++ {
		sctx, scancel := context.WithTimeout(ctx, time.Minute)
		e.server, err = testsuite.StartDevServer(sctx, devOpts)
		scancel()
		if err == nil || attempt == 3 {
			break
		}
		t.Logf("dev server did not start (%v): trying other ports", err)
		devOpts.ClientOptions.HostPort = fmt.Sprintf("127.0.0.1:%d", codecFreePort(t))
		if o.enableUI && o.uiPort == 0 {
			e.uiPort = codecFreePort(t)
			devOpts.UIPort = strconv.Itoa(e.uiPort)
		}
	}
	require.NoError(t, err, "temporal dev server (%s)", temporalBin)
	t.Cleanup(func() { _ = e.server.Stop() })

	e.raw = e.server.Client()
	e.client = e.raw
	if o.codec != nil {
		e.client, err = client.NewClientFromExisting(e.raw, client.Options{
			Namespace: "default", DataConverter: codec.DataConverter(o.codec), Logger: logger,
		})
		require.NoError(t, err)
		t.Cleanup(e.client.Close)
	}

	// The worker as worker/main.go builds it, against graphsim.
	transport, err := graph.TransportWithCA(e.sim.CAFile())
	require.NoError(t, err)
	acts := &activities.Activities{
		Graph: &graph.Factory{
			Cloud:       graph.CloudGlobal.WithOverrides(e.sim.GraphURL(), e.sim.AuthorityHost()),
			Credentials: graph.CredentialConfig{Mode: graph.AuthClientSecret, ClientID: codecClientID, ClientSecret: codecClientSecret},
			Transport:   transport,
		},
		Logger: zap.NewNop(),
		// Watchers hear from the poller (one shard, every second), as in the
		// worker binary; without it they never see their jobs.
		Watch:    activities.WatchConfig{Shards: 1, Interval: time.Second, GoneAfter: 20 * time.Second},
		Registry: e.client,
	}
	if o.codec != nil {
		acts.Converter = codec.DataConverter(o.codec)
	}
	e.worker = worker.New(e.client, workflows.TaskQueue, worker.Options{WorkerStopTimeout: 2 * time.Second})
	workflows.RegisterWorkflows(e.worker)
	e.worker.RegisterActivity(acts)
	require.NoError(t, e.worker.Start())
	t.Cleanup(e.worker.Stop) // runs before the server stops (cleanups are LIFO)
	require.NoError(t, workflows.EnsurePollers(context.Background(), e.client, workflows.TaskQueue, 1, 10*time.Second))
	return e
}

// codecStartOnboarding starts OnboardTenant as the starter does.
func codecStartOnboarding(ctx context.Context, c client.Client, in workflows.OnboardInput) (client.WorkflowRun, error) {
	n := in.Spec.Normalized()
	return c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        workflows.OnboardWorkflowID(n.TenantID, n.Domain),
		TaskQueue: workflows.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.SearchTenant.ValueSet(n.TenantID), workflows.SearchDomain.ValueSet(n.Domain),
			workflows.SearchOutcome.ValueSet(workflows.OnboardingRunning)),
	}, workflows.OnboardTenantWorkflow, in)
}

func codecBool(b bool) *bool { return &b }

// codecPayload is one payload found in a history event.
type codecPayload struct {
	event int64
	path  string // e.g. WorkflowExecutionStarted.input.payloads
	p     *commonpb.Payload
}

// codecHistoryPayloads returns every Payload in a run's history, wherever it
// sits in the events, except search attributes: the server indexes those,
// so they are never encoded by a data converter (tenant and domain are
// visible there by design).
func codecHistoryPayloads(t *testing.T, c client.Client, id, runID string) (events []*historypb.HistoryEvent, out []codecPayload) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	it := c.GetWorkflowHistory(ctx, id, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		events = append(events, ev)
		codecWalk(ev.ProtoReflect(), ev.EventType.String(), func(path string, p *commonpb.Payload) {
			out = append(out, codecPayload{event: ev.EventId, path: path, p: p})
		})
	}
	return events, out
}

func codecWalk(m protoreflect.Message, path string, visit func(string, *commonpb.Payload)) {
	switch m.Descriptor().FullName() {
	case "temporal.api.common.v1.Payload":
		visit(path, m.Interface().(*commonpb.Payload))
		return
	case "temporal.api.common.v1.SearchAttributes":
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := path + "." + string(fd.Name())
		switch {
		case fd.IsList() && fd.Kind() == protoreflect.MessageKind:
			for i := 0; i < v.List().Len(); i++ {
				codecWalk(v.List().Get(i).Message(), p, visit)
			}
		case fd.IsMap() && fd.MapValue().Kind() == protoreflect.MessageKind:
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				codecWalk(mv.Message(), p+"["+k.String()+"]", visit)
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Kind() == protoreflect.MessageKind:
			codecWalk(v.Message(), p, visit)
		}
		return true
	})
}

// codecServerProc runs the codec-server command, built from this module, and
// returns its base URL and its log (JSON lines, one per request).
func codecServerProc(t *testing.T, env []string, args ...string) (string, *codecLog) {
	t.Helper()
	skipIfShort(t)
	dir, err := binaries()
	require.NoError(t, err)
	bin := filepath.Join(dir, "codec-server")

	addr := fmt.Sprintf("127.0.0.1:%d", codecFreePort(t))
	cmd := exec.Command(bin, append([]string{"-addr", addr}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	logs := &codecLog{}
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	base := "http://" + addr
	healthy := func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	if !assert.Eventually(t, healthy, 20*time.Second, 100*time.Millisecond) {
		t.Fatalf("codec server did not start:\n%s", logs.String())
	}
	return base, logs
}

// codecDecodeHTTP posts payloads to the codec server's decode endpoint.
func codecDecodeHTTP(t *testing.T, url, authorization string, ps []*commonpb.Payload) (int, []*commonpb.Payload, string) {
	t.Helper()
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: ps})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if resp.StatusCode != 200 {
		return resp.StatusCode, nil, string(raw)
	}
	var out commonpb.Payloads
	require.NoError(t, protojson.Unmarshal(raw, &out))
	return resp.StatusCode, out.Payloads, string(raw)
}

func codecNewKey(t *testing.T) string {
	t.Helper()
	k := make([]byte, codec.KeySize)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(k)
}

// codecCLIData joins every base64 "data" field of the CLI's JSON output, decoded.
func codecCLIData(t *testing.T, out string) string {
	t.Helper()
	var doc any
	require.NoError(t, json.Unmarshal([]byte(out), &doc), "temporal workflow show output is not JSON")
	var b strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "data" {
					if raw, err := base64.StdEncoding.DecodeString(s); err == nil {
						b.Write(raw)
						b.WriteByte('\n')
					}
					continue
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	return b.String()
}

func TestPayloadsAreEncryptedInTemporal(t *testing.T) {
	t.Parallel()
	keys := "kid1=" + codecNewKey(t)
	const token = "e2e-codec-operator-token"
	cdc, err := codec.FromEnv(func(k string) string {
		return map[string]string{codec.EnvKeys: keys, codec.EnvKeyID: "kid1"}[k]
	})
	require.NoError(t, err)
	e := codecStartEnv(t, codecEnvOptions{codec: cdc})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	const tenant, domain = "0b7f4c3e-1d2a-4e5f-8a9b-0c1d2e3f4c0d", "encrypted.contoso.com"
	spec := workflows.TenantSpec{TenantID: tenant, Domain: domain, PasswordHashSync: true,
		Notifications: workflows.Notifications{Enabled: true, Recipients: []string{"admin@" + domain}}}
	start := time.Now()
	run, err := codecStartOnboarding(ctx, e.client, workflows.OnboardInput{Spec: spec, Watch: codecBool(false)})
	require.NoError(t, err)
	var res workflows.OnboardResult
	require.NoError(t, run.Get(ctx, &res), "the codec client reads the result")
	t.Logf("encrypted onboarding took %s", time.Since(start).Round(time.Millisecond))
	require.Equal(t, domain, res.Domain)
	require.True(t, res.Changed)
	require.Len(t, res.Jobs, 2)

	// The raw history: every payload is ciphertext under kid1, and the domain
	// (in the input, the result, activity inputs and results, summaries)
	// appears in none of them.
	id := workflows.OnboardWorkflowID(tenant, domain)
	events, payloads := codecHistoryPayloads(t, e.raw, id, run.GetRunID())
	var input, result []*commonpb.Payload
	paths := map[string]int{}
	for _, pl := range payloads {
		paths[pl.path]++
		require.Equal(t, codec.MetadataEncoding, string(pl.p.Metadata["encoding"]), "event %d %s is not encrypted: %v", pl.event, pl.path, pl.p.Metadata)
		require.Equal(t, "kid1", string(pl.p.Metadata[codec.MetadataKeyID]), "event %d %s", pl.event, pl.path)
		require.NotContains(t, string(pl.p.Data), domain, "event %d %s carries the domain in clear", pl.event, pl.path)
		require.NotContains(t, string(pl.p.Data), "encrypted.contoso", "event %d %s", pl.event, pl.path)
		for k, v := range pl.p.Metadata {
			require.NotContains(t, string(v), "contoso", "event %d %s metadata %s", pl.event, pl.path, k)
		}
	}
	for _, ev := range events {
		if a := ev.GetWorkflowExecutionStartedEventAttributes(); a != nil {
			input = a.GetInput().GetPayloads()
		}
		if a := ev.GetWorkflowExecutionCompletedEventAttributes(); a != nil {
			result = a.GetResult().GetPayloads()
		}
	}
	require.Len(t, input, 1, "the started event's input")
	require.Len(t, result, 1, "the completed event's result")
	t.Logf("%d events, %d encrypted payloads: %v", len(events), len(payloads), paths)
	require.Greater(t, paths["ActivityTaskScheduled.activity_task_scheduled_event_attributes.input.payloads"], 3, "activity inputs are encrypted too")
	require.Equal(t, 7, paths["ActivityTaskScheduled.user_metadata.summary"], "activity summaries (\"secrets for <tenant>\") are encrypted too")
	require.Greater(t, paths["ActivityTaskCompleted.activity_task_completed_event_attributes.result.payloads"], 3, "activity results are encrypted too")

	// Without the codec the result cannot be read.
	var unreadable workflows.OnboardResult
	err = e.raw.GetWorkflow(ctx, id, run.GetRunID()).Get(ctx, &unreadable)
	require.Error(t, err, "the default converter decoded an encrypted result")

	// The starter without the keys says to set them (exit 2), instead of
	// "completed" and a decoding error; with them it shows the result.
	bin, err := binaries()
	require.NoError(t, err)
	starter := func(withKeys bool) (string, string, int) {
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "starter"), "status", "--tenant-id", tenant, "--domain", domain)
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "CLOUDSYNC_CODEC_") && !strings.HasPrefix(kv, "TEMPORAL_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, "TEMPORAL_ADDRESS="+e.server.FrontendHostPort())
		if withKeys {
			cmd.Env = append(cmd.Env, codec.EnvKeys+"="+keys, codec.EnvKeyID+"=kid1")
		}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		return out.String(), errb.String(), code
	}
	stdout, stderr, code := starter(false)
	require.Equal(t, 2, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.Contains(t, stderr, "set CLOUDSYNC_CODEC_KEYS")
	require.NotContains(t, stderr, "payload encoding is not supported")
	stdout, stderr, code = starter(true)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.Contains(t, stdout, "result:")

	// The codec server (the real command) decodes them for an authorised operator.
	srv, _ := codecServerProc(t, []string{codec.EnvKeys + "=" + keys, codec.EnvKeyID + "=kid1", codec.EnvAuthToken + "=" + token},
		"-allowed-origin", "http://localhost:8233")
	code, _, body := codecDecodeHTTP(t, srv+"/default/decode", "", []*commonpb.Payload{input[0], result[0]})
	require.Equal(t, http.StatusUnauthorized, code, "decoded without a token: %s", body)
	require.NotContains(t, body, domain)
	code, _, body = codecDecodeHTTP(t, srv+"/default/decode", "Bearer wrong", []*commonpb.Payload{input[0]})
	require.Equal(t, http.StatusUnauthorized, code, body)
	code, decoded, body := codecDecodeHTTP(t, srv+"/default/decode", "Bearer "+token, []*commonpb.Payload{input[0], result[0]})
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, decoded, 2)
	require.Equal(t, "json/plain", string(decoded[0].Metadata["encoding"]))
	require.Contains(t, string(decoded[0].Data), domain)
	var in workflows.OnboardInput
	require.NoError(t, json.Unmarshal(decoded[0].Data, &in))
	require.Equal(t, spec.Domain, in.Spec.Domain)
	require.True(t, in.Spec.PasswordHashSync)
	var out workflows.OnboardResult
	require.NoError(t, json.Unmarshal(decoded[1].Data, &out))
	require.Equal(t, res.ServicePrincipalID, out.ServicePrincipalID)

	// The Temporal CLI reads the history through the codec server; without it,
	// the spec's fields are not in its output.
	cli, err := findTemporalCLI()
	require.NoError(t, err)
	show := func(extra ...string) string {
		args := append([]string{"workflow", "show", "--address", e.server.FrontendHostPort(), "--namespace", "default",
			"--workflow-id", id, "--run-id", run.GetRunID(), "--output", "json"}, extra...)
		out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
		require.NoError(t, err, "temporal %v: %s", args, out)
		return string(out)
	}
	// `workflow show -o json` prints payloads as protobuf JSON (data in base64).
	plain, decodedByCLI := codecCLIData(t, show()), codecCLIData(t, show("--codec-endpoint", srv+"/default", "--codec-auth", "Bearer "+token))
	require.NotContains(t, plain, `"passwordHashSync":true`, "the CLI without the codec shows the spec")
	require.Contains(t, decodedByCLI, `"passwordHashSync":true`, "the CLI with the codec server does not show the spec")
	require.Contains(t, decodedByCLI, `"domain":"`+domain+`"`)

	// A workflow started in clear (before encryption was turned on, or by a
	// client without keys) still runs: the worker passes clear input through.
	const tenant2, domain2 = "0b7f4c3e-1d2a-4e5f-8a9b-0c1d2e3f4c0e", "clear-input.contoso.com"
	run2, err := codecStartOnboarding(ctx, e.raw, workflows.OnboardInput{Spec: workflows.TenantSpec{TenantID: tenant2, Domain: domain2}, Watch: codecBool(false)})
	require.NoError(t, err)
	var res2 workflows.OnboardResult
	require.NoError(t, e.client.GetWorkflow(ctx, run2.GetID(), run2.GetRunID()).Get(ctx, &res2))
	require.Equal(t, domain2, res2.Domain)
	_, payloads2 := codecHistoryPayloads(t, e.raw, run2.GetID(), run2.GetRunID())
	clear := 0
	for _, pl := range payloads2 {
		if string(pl.p.Metadata["encoding"]) != codec.MetadataEncoding {
			clear++
			require.Contains(t, pl.path, "WorkflowExecutionStarted.workflow_execution_started_event_attributes.input", "only the clear start input: %s", pl.path)
		}
	}
	require.Equal(t, 1, clear, "the started input is the one clear payload")
}
