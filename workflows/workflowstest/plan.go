package workflowstest

import (
	"context"
	"time"

	"github.com/cloudsync/cloudsync/workflows"
)

// PlanTenant implements workflows.PlanningActivities: Fake.Plan, or a plan
// that changes nothing.
func (a *Activities) PlanTenant(ctx context.Context, in workflows.PlanInput) (workflows.PlanResult, error) {
	if err := a.f.before(ctx, workflows.PlanTenantActivity, in); err != nil {
		return workflows.PlanResult{}, err
	}
	return a.f.plan(ctx, in)
}

// CheckDrift implements workflows.PlanningActivities: the plan's reads, as
// the real one; each call is counted (DriftChecks).
func (a *Activities) CheckDrift(ctx context.Context, in workflows.PlanInput) (workflows.DriftCheckResult, error) {
	if err := a.f.before(ctx, workflows.CheckDriftActivity, in); err != nil {
		return workflows.DriftCheckResult{}, err
	}
	a.f.mu.Lock()
	a.f.driftChecks[in.Spec.Normalized().TenantID]++
	a.f.mu.Unlock()
	p, err := a.f.plan(ctx, in)
	return workflows.DriftCheckResult{Plan: p, Interval: a.f.driftEvery()}, err
}

// DriftInterval implements workflows.PlanningActivities: Fake.DriftEvery,
// or the worker's default.
func (a *Activities) DriftInterval(context.Context) (time.Duration, error) {
	return a.f.driftEvery(), nil
}

func (f *Fake) plan(ctx context.Context, in workflows.PlanInput) (workflows.PlanResult, error) {
	if f.Plan != nil {
		return f.Plan(ctx, in)
	}
	s := in.Spec.Normalized()
	return workflows.PlanResult{TenantID: s.TenantID, Domain: s.Domain, ServicePrincipalID: "sp-1"}, nil
}

func (f *Fake) driftEvery() time.Duration {
	if f.DriftEvery > 0 {
		return f.DriftEvery
	}
	return workflows.DefaultDriftInterval
}

// DriftChecks counts the drift checks of a tenant.
func (f *Fake) DriftChecks(tenant string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.driftChecks[tenant]
}
