package e2e

// The Temporal Web UI in a real (headless) browser: the list of watchers
// awaiting a delete approval, filtered by the CloudSyncAwaitingApproval search
// attribute, shows the quarantined job's watcher and nobody else's.

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/cloudsync/cloudsync/codec"
	"github.com/cloudsync/cloudsync/workflows"
)

const codecChromiumPath = "/usr/bin/chromium"

// codecChromium is the browser, or a skip.
func codecChromium(t *testing.T) string {
	t.Helper()
	p := os.Getenv("CLOUDSYNC_CHROMIUM")
	if p == "" {
		p = codecChromiumPath
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("chromium not installed: apt-get install chromium (CI installs it); looked for %s", p)
	}
	return p
}

// codecArtifactsDir is where tests keep files for humans: $CLOUDSYNC_ARTIFACTS,
// else e2e/artifacts (gitignored).
func codecArtifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CLOUDSYNC_ARTIFACTS")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(file), "artifacts")
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// codecBrowse runs headless chromium on a page with the given extra flags
// and returns its stdout (the DOM with --dump-dom).
func codecBrowse(t *testing.T, chromium, page string, extra ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=15000",
	}, extra...)
	args = append(args, page)
	cmd := exec.CommandContext(ctx, chromium, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "chromium %v: %s", args, stderr.String())
	return string(out)
}

func (e *codecEnv) watchPhase(t *testing.T, tenant, job string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := e.client.QueryWorkflow(ctx, workflows.WatchWorkflowID(tenant, job), "", workflows.StatusQuery)
	if err != nil {
		return ""
	}
	var st workflows.WatchState
	if v.Get(&st) != nil {
		return ""
	}
	return st.Phase + "/" + st.Job.StatusCode
}

func TestWebUIListsWatchersAwaitingApproval(t *testing.T) {
	chromium := codecChromium(t)
	t.Parallel()
	// No read lag on new jobs: the watchers would meet Graph's 404 of a fresh
	// job and end (a known watcher bug, being fixed apart; see setup).
	e := codecStartEnv(t, codecEnvOptions{enableUI: true})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// Tenant A (provisioning + PHS jobs) and tenant B (provisioning only),
	// each job with a watcher polling every second.
	const tenantA, domainA = "0b7f4c3e-1d2a-4e5f-8a9b-0c1d2e3f4d01", "ui-awaiting.contoso.com"
	const tenantB, domainB = "0b7f4c3e-1d2a-4e5f-8a9b-0c1d2e3f4d02", "ui-quiet.fabrikam.com"
	threshold := 5
	watch := workflows.WatchOptions{ReminderInterval: time.Hour}
	results := map[string]workflows.OnboardResult{}
	for _, s := range []workflows.TenantSpec{
		{TenantID: tenantA, Domain: domainA, PasswordHashSync: true, DeleteThreshold: workflows.DeleteThreshold{Value: &threshold}},
		{TenantID: tenantB, Domain: domainB, DeleteThreshold: workflows.DeleteThreshold{Value: &threshold}},
	} {
		run, err := codecStartOnboarding(ctx, e.client, workflows.OnboardInput{Spec: s, WatchOptions: watch})
		require.NoError(t, err)
		var res workflows.OnboardResult
		require.NoError(t, run.Get(ctx, &res))
		results[s.TenantID] = res
	}
	provA := results[tenantA].Jobs[workflows.TemplateProvisioning]
	phsA := results[tenantA].Jobs[workflows.TemplatePasswordHash]
	provB := results[tenantB].Jobs[workflows.TemplateProvisioning]
	require.NotEmpty(t, provA)
	require.NotEmpty(t, phsA)
	require.NotEmpty(t, provB)
	require.Eventually(t, func() bool {
		return e.watchPhase(t, tenantA, provA) == workflows.PhaseWatching+"/Active"
	}, 30*time.Second, pollEvery, "tenant A's watcher to see its job running")

	// Quarantine A's provisioning job: deletions at the threshold.
	require.NoError(t, e.sim.StageDeletions(tenantA, provA, threshold))
	awaiting := workflows.WatchWorkflowID(tenantA, provA)
	query := workflows.SearchAwaitingApproval.GetName() + `=true`
	require.Eventually(t, func() bool {
		resp, err := e.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", Query: query})
		return err == nil && len(resp.Executions) == 1 && resp.Executions[0].Execution.WorkflowId == awaiting
	}, 45*time.Second, pollEvery, "the watcher listed as awaiting approval")
	others := []string{workflows.WatchWorkflowID(tenantA, phsA), workflows.WatchWorkflowID(tenantB, provB)}
	// Those watchers are running: they exist, they just do not await anything.
	for _, id := range others {
		desc, err := describe(ctx, e.client, id)
		require.NoError(t, err)
		require.Nil(t, desc.WorkflowExecutionInfo.CloseTime, "%s is not running", id)
	}

	// Control: unfiltered, the list shows every watcher, so their absence
	// below is the filter's doing.
	all := codecBrowse(t, chromium, fmt.Sprintf("http://127.0.0.1:%d/namespaces/default/workflows", e.uiPort), "--dump-dom")
	for _, id := range append(others, awaiting) {
		require.Contains(t, all, id, "the unfiltered list lacks %s", id)
	}

	page := fmt.Sprintf("http://127.0.0.1:%d/namespaces/default/workflows?%s", e.uiPort, url.Values{"query": {query}}.Encode())
	start := time.Now()
	dom := codecBrowse(t, chromium, page, "--dump-dom")
	t.Logf("chromium --dump-dom took %s (%d bytes of DOM)", time.Since(start).Round(time.Millisecond), len(dom))
	artifacts := codecArtifactsDir(t)
	domFile := filepath.Join(artifacts, "webui-awaiting-approval.html")
	require.NoError(t, os.WriteFile(domFile, []byte(dom), 0o644))
	require.Contains(t, dom, awaiting, "the Web UI does not list the watcher awaiting approval (DOM in %s)", domFile)
	for _, id := range others {
		require.NotContains(t, dom, id, "the Web UI lists a watcher that awaits nothing (DOM in %s)", domFile)
	}

	shot := filepath.Join(artifacts, "webui-awaiting-approval.png")
	_ = os.Remove(shot)
	codecBrowse(t, chromium, page, "--screenshot="+shot, "--window-size=1400,900", "--hide-scrollbars")
	st, err := os.Stat(shot)
	require.NoError(t, err, "no screenshot")
	require.Greater(t, st.Size(), int64(10_000), "the screenshot is suspiciously small")
	t.Logf("Web UI screenshot: %s (DOM: %s)", shot, domFile)
}

// The Web UI decrypts payloads in the browser through the codec server
// (dev server started with --ui-codec-endpoint; CORS for the UI's origin).
func TestWebUIDecodesPayloadsThroughTheCodecServer(t *testing.T) {
	chromium := codecChromium(t)
	t.Parallel()
	keys := "kid1=" + codecNewKey(t)
	cdc, err := codec.FromEnv(func(k string) string { return map[string]string{codec.EnvKeys: keys}[k] })
	require.NoError(t, err)
	uiPort := codecFreePort(t)
	origin := fmt.Sprintf("http://127.0.0.1:%d", uiPort)
	srv, srvLog := codecServerProc(t, []string{codec.EnvKeys + "=" + keys}, "-allowed-origin", origin)
	e := codecStartEnv(t, codecEnvOptions{codec: cdc, enableUI: true, uiPort: uiPort, extraArgs: []string{"--ui-codec-endpoint", srv}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	const tenant, domain = "0b7f4c3e-1d2a-4e5f-8a9b-0c1d2e3f4d03", "ui-decoded.contoso.com"
	run, err := codecStartOnboarding(ctx, e.client, workflows.OnboardInput{
		Spec: workflows.TenantSpec{TenantID: tenant, Domain: domain, PasswordHashSync: true}, Watch: codecBool(false)})
	require.NoError(t, err)
	require.NoError(t, run.Get(ctx, nil))

	page := fmt.Sprintf("%s/namespaces/default/workflows/%s/%s/history", origin, url.PathEscape(run.GetID()), run.GetRunID())
	dom := codecBrowse(t, chromium, page, "--dump-dom")
	domFile := filepath.Join(codecArtifactsDir(t), "webui-decoded-history.html")
	require.NoError(t, os.WriteFile(domFile, []byte(dom), 0o644))
	// "passwordHashSync" is only in the (encrypted) input: the browser decoded it.
	require.Contains(t, dom, "passwordHashSync", "the decoded input is not on the page (DOM in %s; codec server log:\n%s)", domFile, srvLog.String())
	require.Contains(t, srvLog.String(), `"path":"/decode","origin":"`+origin+`","status":200`, "the browser did not call the codec server")
	shot := filepath.Join(codecArtifactsDir(t), "webui-decoded-history.png")
	codecBrowse(t, chromium, page, "--screenshot="+shot, "--window-size=1400,900", "--hide-scrollbars")
	t.Logf("decoded history: %s (DOM: %s)", shot, domFile)
}
