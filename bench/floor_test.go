package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
)

// The clean full onboarding the e2e tests record (make record-histories):
// re-recorded whenever the onboarding changes, so the floor follows it.
const (
	recordedOnboarding = "../workflows/testdata/histories/onboard-full-1.json"
	recordedWatcher    = "../workflows/testdata/histories/watch-unwatched-1.json"
)

func loadHistory(t *testing.T, path string) []*historypb.HistoryEvent {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	require.NoError(t, err)
	return h.GetEvents()
}

func temporalCLIForTest(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("TEMPORAL_CLI"); p != "" {
		return p
	}
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	require.NoError(t, err)
	p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "temporal")
	_, err = os.Stat(p)
	require.NoError(t, err, "the Temporal CLI is not installed: run `make tools` or set TEMPORAL_CLI")
	return p
}

// TestFloorHasTheOnboardingsCommands runs the floor workflow, with the shape
// read from a recorded clean onboarding, on a dev server and compares the two
// histories command type by command type: the floor cannot drift from the
// onboarding's shape without this failing.
func TestFloorHasTheOnboardingsCommands(t *testing.T) {
	real := loadHistory(t, recordedOnboarding)
	shape, err := shapeOf(real)
	require.NoError(t, err)
	want := commandCounts(real)
	t.Logf("recorded onboarding: %s; commands %v", shape, want)

	ds, err := startDevServer(temporalCLIForTest(t), t.TempDir(), "floor-test")
	require.NoError(t, err)
	defer ds.stop()
	w := worker.New(ds.client, floorTaskQueue, floorWorkerOptions())
	registerFloor(w)
	require.NoError(t, w.Start())
	defer w.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts := floorStartOptions("floor-test", 0)
	run, err := ds.client.ExecuteWorkflow(ctx, opts, floorWorkflowName, floorInput{Shape: shape})
	require.NoError(t, err)
	require.NoError(t, run.Get(ctx, nil))
	floor, err := history(ctx, ds.client, opts.ID, run.GetRunID())
	require.NoError(t, err)
	require.Equal(t, want, commandCounts(floor), "the floor's commands by type differ from the recorded onboarding's")
	got, err := shapeOf(floor)
	require.NoError(t, err)
	require.Equal(t, shape, got)

	// The children stay open, as watchers do.
	for i := range shape.Children {
		d, err := ds.client.DescribeWorkflow(ctx, fmt.Sprintf("%s-child-%d", opts.ID, i), "")
		require.NoError(t, err)
		require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_RUNNING, d.Status)
	}

	// The floor plus: the same commands, and the onboarding's payload sizes,
	// heartbeat and watcher timer (within a few bytes of JSON framing).
	extras := extrasOf(real, loadHistory(t, recordedWatcher), 1)
	require.Positive(t, extras.ChildTimer)
	opts = floorStartOptions("floor-test-plus", 0)
	run, err = ds.client.ExecuteWorkflow(ctx, opts, floorWorkflowName, newFloorInput(shape, 0, &extras))
	require.NoError(t, err)
	require.NoError(t, run.Get(ctx, nil))
	plus, err := history(ctx, ds.client, opts.ID, run.GetRunID())
	require.NoError(t, err)
	require.Equal(t, want, commandCounts(plus))
	child, err := history(ctx, ds.client, opts.ID+"-child-0", "")
	require.NoError(t, err)
	got2 := extrasOf(plus, child, 1)
	require.Equal(t, extras.ChildTimer, got2.ChildTimer)
	near := func(what string, a, b int) {
		require.InDelta(t, a, b, 0.1*float64(a)+40, "%s: the floor plus carries %d bytes, the onboarding %d", what, b, a)
	}
	// The floor plus's input holds the extras: never smaller than the onboarding's.
	bare, err := json.Marshal(newFloorInput(shape, 0, &extras))
	require.NoError(t, err)
	near("workflow input", max(extras.WorkflowInput, len(bare)), got2.WorkflowInput)
	near("workflow result", extras.WorkflowResult, got2.WorkflowResult)
	for i := range extras.ActivityInput {
		near(fmt.Sprintf("activity %d input", i), extras.ActivityInput[i], got2.ActivityInput[i])
		near(fmt.Sprintf("activity %d result", i), extras.ActivityResult[i], got2.ActivityResult[i])
	}
	for i := range extras.ChildInput {
		near(fmt.Sprintf("child %d input", i), extras.ChildInput[i], got2.ChildInput[i])
		near(fmt.Sprintf("child %d memo", i), extras.ChildMemo[i], got2.ChildMemo[i])
	}
}

// TestShapeRefusesCommandsTheFloorDoesNotIssue: an onboarding that gains a
// command the floor cannot mirror stops the bench instead of making the floor
// silently cheaper.
func TestShapeRefusesCommandsTheFloorDoesNotIssue(t *testing.T) {
	events := loadHistory(t, recordedOnboarding)
	_, err := shapeOf(events)
	require.NoError(t, err)
	extra := append(append([]*historypb.HistoryEvent{}, events...),
		&historypb.HistoryEvent{EventType: enums.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED},
		&historypb.HistoryEvent{EventType: enums.EVENT_TYPE_MARKER_RECORDED, Attributes: &historypb.HistoryEvent_MarkerRecordedEventAttributes{
			MarkerRecordedEventAttributes: &historypb.MarkerRecordedEventAttributes{MarkerName: "SideEffect"}}})
	_, err = shapeOf(extra)
	require.ErrorContains(t, err, "SignalExternalWorkflowExecution")
	require.ErrorContains(t, err, "marker SideEffect")
}
