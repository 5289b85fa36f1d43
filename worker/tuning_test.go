package main

import (
	"testing"

	"github.com/cloudsync/cloudsync/graph"
)

// The tuning knobs (BENCHMARKS.md, "Knobs"): defaults, environment, flags.
func TestTuningKnobs(t *testing.T) {
	c, err := loadConfig(nil, mapEnv(secretEnv(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if c.WorkflowPollers != 0 || c.ActivityPollers != 0 || c.CacheSize != 0 ||
		c.GraphWriteRate != graph.DefaultWriteRate || c.GraphWriteBurst != graph.DefaultWriteBurst {
		t.Fatalf("defaults: %+v", c)
	}
	o := workerOptions(c)
	if o.WorkflowTaskPollerBehavior == nil || o.ActivityTaskPollerBehavior == nil || o.MaxConcurrentWorkflowTaskPollers != 0 {
		t.Fatalf("pollers: %+v", o)
	}

	c, err = loadConfig([]string{"--activity-task-pollers", "8"}, mapEnv(secretEnv(map[string]string{
		"CLOUDSYNC_WORKFLOW_TASK_POLLERS": "4", "CLOUDSYNC_WORKFLOW_CACHE_SIZE": "2000",
		"CLOUDSYNC_GRAPH_WRITE_RATE": "0", "CLOUDSYNC_GRAPH_WRITE_BURST": "5",
	})))
	if err != nil {
		t.Fatal(err)
	}
	if c.WorkflowPollers != 4 || c.ActivityPollers != 8 || c.CacheSize != 2000 || c.GraphWriteRate != 0 || c.GraphWriteBurst != 5 {
		t.Fatalf("from the environment and flags: %+v", c)
	}
}
