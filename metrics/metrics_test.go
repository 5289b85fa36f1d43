package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeMetricsAndHealth(t *testing.T) {
	reg := NewRegistry()
	var temporalErr error
	s, err := Serve("127.0.0.1:0", reg, func(context.Context) error { return temporalErr })
	require.NoError(t, err)
	defer s.Close()
	base := "http://" + s.Addr()

	// Same family with different tag sets (as the SDK does) must still scrape.
	h := reg.TemporalHandler()
	h.WithTags(map[string]string{"namespace": "default"}).Counter("temporal_request").Inc(2)
	h.WithTags(map[string]string{"namespace": "default", "operation": "Poll"}).Counter("temporal_request").Inc(1)
	h.Timer("temporal_latency").Record(20 * time.Millisecond)
	h.WithTags(map[string]string{"tenant": "t1", "job": "j1"}).Gauge("cloudsync_watch_awaiting_approval").Update(1)

	code, body := get(t, base+"/metrics")
	require.Equal(t, 200, code, body)
	require.Contains(t, body, `temporal_request{namespace="default",operation=""} 2`)
	require.Contains(t, body, `temporal_request{namespace="default",operation="Poll"} 1`)
	require.Contains(t, body, `temporal_latency_bucket{le="0.025"} 1`)
	require.Contains(t, body, `cloudsync_watch_awaiting_approval{job="j1",tenant="t1"} 1`)
	require.True(t, strings.Contains(body, "go_goroutines"))
	// Exported at 0 before the first throttle, so rate() alerts work from the start.
	require.Contains(t, body, "\ncloudsync_graph_throttle_wait_seconds_total 0\n")

	code, _ = get(t, base+"/healthz")
	require.Equal(t, 200, code)
	code, _ = get(t, base+"/readyz")
	require.Equal(t, 503, code, "not ready before the worker starts")
	s.SetReady(true)
	code, _ = get(t, base+"/readyz")
	require.Equal(t, 200, code)
	temporalErr = errors.New("unreachable")
	code, body = get(t, base+"/readyz")
	require.Equal(t, 503, code)
	require.Contains(t, body, "unreachable")
}
