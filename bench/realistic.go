package main

import (
	"context"
	"fmt"
	"time"

	"github.com/cloudsync/cloudsync/graph"
	"github.com/cloudsync/cloudsync/workflows"
)

// realisticResult is the fleet against the serial script with Graph as slow
// as it is: a latency per request and a replication lag (a new service
// principal and a new job are not readable for a while).
type realisticResult struct {
	N                    int              `json:"n"`
	Graph                graphKnobs       `json:"graph"`
	SerialPoll           time.Duration    `json:"serialPollNs"`
	Fleet                throughputResult `json:"fleet"`
	SerialPerTenant      time.Duration    `json:"serialPerTenantNs"`
	SerialMeasured       int              `json:"serialMeasuredTenants"`
	SerialWall           time.Duration    `json:"serialWallNs"` // N tenants: measured, or measured per tenant × N
	SerialExtrapolated   bool             `json:"serialExtrapolated"`
	SerialGraphPerTenant float64          `json:"serialGraphRequestsPerTenant"`
	Speedup              float64          `json:"speedup"`
}

// realistic onboards cfg.realistic.n tenants at once on the dev server at
// realistic Graph latency, then runs the serial script against graphsim with
// the same knobs for its budget; the script's time for N tenants is its
// measured time per tenant × N when it did not get that far (a script's
// tenants are independent: its time is linear in N).
func (b *bench) realistic(ctx context.Context) error {
	rc := b.cfg.realistic
	res := &realisticResult{N: rc.n, Graph: rc.graph, SerialPoll: rc.serialPoll, Fleet: throughputResult{N: rc.n}}
	b.res.Realistic = res
	b.logf("realistic latency: %s per Graph request, %s replication lag; fleet of %d, then the serial script (polls every %s, budget %s)",
		rc.graph.Latency, rc.graph.ReplicationLag, rc.n, rc.serialPoll, rc.serialBudget)
	if err := b.fleet(ctx, &res.Fleet, fleetOpts{phase: fmt.Sprintf("realistic-n%d", rc.n), graph: rc.graph, single: true}); err != nil {
		return err
	}
	if res.Fleet.Failed > 0 {
		return fmt.Errorf("%d onboardings failed: %s", res.Fleet.Failed, res.Fleet.FirstError)
	}
	sim, err := newSim(rc.graph, 98)
	if err != nil {
		return err
	}
	defer sim.Close()
	specs := make([]workflows.TenantSpec, rc.n)
	for i := range specs {
		specs[i] = fullSpec(benchTenant("realistic-serial", i), i)
	}
	elapsed, err := serialScript(ctx, sim, specs, rc.serialBudget, rc.serialPoll, graphTuning{writeRate: graph.DefaultWriteRate, writeBurst: graph.DefaultWriteBurst})
	if err != nil {
		return err
	}
	if len(elapsed) == 0 {
		return fmt.Errorf("serial script: no tenant onboarded")
	}
	res.SerialMeasured = len(elapsed)
	res.SerialPerTenant = elapsed[len(elapsed)-1] / time.Duration(len(elapsed))
	res.SerialWall = elapsed[len(elapsed)-1]
	if len(elapsed) < rc.n {
		res.SerialWall += time.Duration(rc.n-len(elapsed)) * res.SerialPerTenant
		res.SerialExtrapolated = true
	}
	res.SerialGraphPerTenant = float64(sim.Stats().TotalGraphRequests) / float64(len(elapsed))
	res.Speedup = ratio(res.SerialWall, res.Fleet.Wall)
	b.logf("  realistic: fleet %s for %d; serial script %s per tenant (%d measured) → %s for %d: speed-up %.1f ×",
		secs(res.Fleet.Wall), rc.n, secs(res.SerialPerTenant), res.SerialMeasured, secs(res.SerialWall), rc.n, res.Speedup)
	return nil
}
