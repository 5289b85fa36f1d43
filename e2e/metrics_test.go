package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func scrape(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// The worker's Prometheus endpoint shows the SDK's metrics and ours during a
// real run, and its probes answer.
func TestWorkerMetricsAndHealthDuringARun(t *testing.T) {
	e := setup(t)
	t.Parallel()
	const tenant, domain = "0b7f4c3e-1d2a-4e5f-8a9b-0c1d2e3f4a20", "metrics.contoso.com"
	out, errOut, code := e.starter(t, "onboard", "--tenant-id", tenant, "--domain", domain, "--no-watch", "--wait")
	require.Equal(t, 0, code, "%s\n%s", out, errOut)

	base := "http://" + e.metricsAddr
	code, _ = scrape(t, base+"/healthz")
	require.Equal(t, 200, code)
	code, body := scrape(t, base+"/readyz")
	require.Equal(t, 200, code, body)

	require.Eventually(t, func() bool {
		_, body = scrape(t, base+"/metrics")
		return hasSeries(body, "cloudsync_onboardings_total", `outcome="completed"`, `workflow_type="OnboardTenant"`)
	}, 10*time.Second, pollEvery, "onboarding and Graph metrics")
	require.True(t, hasSeries(body, "cloudsync_graph_requests_total", `method="POST"`, `route="/beta/applicationTemplates/{id}/instantiate"`, `status="201"`), body)
	require.True(t, hasSeries(body, "cloudsync_graph_requests_total", `code="Request_ResourceNotFound"`, `route="/beta/servicePrincipals/{id}"`, `status="404"`), "replication lag is visible")
	require.Contains(t, body, "cloudsync_graph_request_duration_seconds_bucket")
	require.Contains(t, body, "temporal_workflow_completed", "the SDK's own metrics")
	require.NotContains(t, body, clientSecret)
}

// hasSeries finds a sample line of metric with all the given label pairs.
func hasSeries(body, metric string, labels ...string) bool {
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, metric+"{") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if ok {
			return true
		}
	}
	return false
}
