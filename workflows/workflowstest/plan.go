package workflowstest

import (
	"context"
	"time"

	"github.com/cloudsync/cloudsync/workflows"
)

// PlanTenant implements workflows.PlanningActivities: Fake.Plan, or the
// plan of the fake's configuration (SetDrift, FailPlans).
func (a *Activities) PlanTenant(ctx context.Context, in workflows.PlanInput) (workflows.PlanResult, error) {
	if err := a.f.before(ctx, workflows.PlanTenantActivity, in); err != nil {
		return workflows.PlanResult{}, err
	}
	return a.f.plan(ctx, in, false)
}

// CheckDrift implements workflows.PlanningActivities: the plan's reads, as
// the real one (the drift SetDrift gave); each call is counted (DriftChecks).
func (a *Activities) CheckDrift(ctx context.Context, in workflows.PlanInput) (workflows.DriftCheckResult, error) {
	if err := a.f.before(ctx, workflows.CheckDriftActivity, in); err != nil {
		return workflows.DriftCheckResult{}, err
	}
	a.f.mu.Lock()
	a.f.driftChecks[in.Spec.Normalized().TenantID]++
	a.f.mu.Unlock()
	p, err := a.f.plan(ctx, in, true)
	return workflows.DriftCheckResult{Plan: p, Interval: a.f.driftEvery()}, err
}

// DriftInterval implements workflows.PlanningActivities: Fake.DriftEvery,
// or the worker's default.
func (a *Activities) DriftInterval(context.Context) (time.Duration, error) {
	return a.f.driftEvery(), nil
}

// configuration is what the fake knows of one tenant and domain's sync
// configuration beyond "onboarded as its spec says".
type configuration struct {
	// drift: how it differs from its spec (each step with its Drift kind).
	drift []workflows.PlanStep
}

func configKey(tenant, domain string) string {
	n := workflows.TenantSpec{TenantID: tenant, Domain: domain}.Normalized()
	return n.TenantID + "/" + n.Domain
}

// SetDrift makes the configuration of tenant and domain differ from its spec
// by steps (each naming its Drift kind): drift checks and plans report them
// from now on. SetDrift(tenant, domain) with no step repairs it.
func (f *Fake) SetDrift(tenant, domain string, steps ...workflows.PlanStep) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := configKey(tenant, domain)
	if f.configs[k] == nil {
		f.configs[k] = &configuration{}
	}
	f.configs[k].drift = append([]workflows.PlanStep(nil), steps...)
}

// FailPlans makes every plan of tenant fail with err, as Graph refusing the
// reads would (e.g. Refuse("GraphForbidden", ...)); nil: plans succeed again.
// Drift checks are not affected.
func (f *Fake) FailPlans(tenant string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.planErrs[workflows.TenantSpec{TenantID: tenant}.Normalized().TenantID] = err
}

// plan answers a plan (check: a drift check) from the fake's configurations:
// the tenant sync flag is already on; the drift SetDrift gave; and, to a
// plan only, the schema change password hash sync needs (the fake's
// directories lack CredentialData; a drift check compares with what the
// onboarding applied, which patched it).
func (f *Fake) plan(ctx context.Context, in workflows.PlanInput, check bool) (workflows.PlanResult, error) {
	if f.Plan != nil {
		return f.Plan(ctx, in)
	}
	s := in.Spec.Normalized()
	f.mu.Lock()
	planErr := f.planErrs[s.TenantID]
	var drift []workflows.PlanStep
	if c := f.configs[configKey(s.TenantID, s.Domain)]; c != nil {
		drift = c.drift
	}
	f.mu.Unlock()
	if planErr != nil && !check {
		return workflows.PlanResult{}, planErr
	}
	r := workflows.PlanResult{TenantID: s.TenantID, Domain: s.Domain, ServicePrincipalID: "sp-1"}
	r.Add(workflows.PlanStep{Step: workflows.StepTenantSyncFlag, Action: workflows.PlanNone, Detail: "onPremisesSyncEnabled already true"})
	for _, st := range drift {
		r.Add(st)
	}
	if s.PasswordHashSync && !check {
		r.Add(workflows.PlanStep{Step: workflows.StepSchema, Action: workflows.PlanChange, Detail: "add CredentialData to Provision Active Directory users", Drift: workflows.DriftCredentialData})
	}
	return r, nil
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
