package workflowstest

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cloudsync/cloudsync/workflows"
)

// The fake's configurations drift as a test sets them: plans and drift
// checks report the drift until it is repaired; a failing tenant fails its
// plans only; the schema change of password hash sync is a plan's alone.
func TestFakeConfigurationsDrift(t *testing.T) {
	f := New()
	a := f.Activities()
	ctx := context.Background()
	const tenant = "11111111-2222-3333-4444-555555555555"
	in := workflows.PlanInput{Spec: workflows.TenantSpec{TenantID: tenant, Domain: "contoso.com"}}

	p, err := a.PlanTenant(ctx, in)
	require.NoError(t, err)
	assert.Zero(t, p.Changes, "nothing to change by default")

	missing := workflows.PlanStep{Step: workflows.StepSecrets, Action: workflows.PlanCreate, Detail: "add SyncNotificationSettings", Drift: workflows.DriftSecretMissing}
	f.SetDrift(tenant, "Contoso.COM.", missing)
	d, err := a.CheckDrift(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, 1, d.Plan.Changes)
	assert.Contains(t, d.Plan.Steps, missing)
	assert.Equal(t, 1, f.DriftChecks(tenant))
	other, err := a.CheckDrift(ctx, workflows.PlanInput{Spec: workflows.TenantSpec{TenantID: tenant, Domain: "fabrikam.com"}})
	require.NoError(t, err)
	assert.Zero(t, other.Plan.Changes, "another domain of the tenant does not drift")

	f.SetDrift(tenant, "contoso.com")
	d, err = a.CheckDrift(ctx, in)
	require.NoError(t, err)
	assert.Zero(t, d.Plan.Changes, "repaired")

	phs := in
	phs.Spec.PasswordHashSync = true
	p, err = a.PlanTenant(ctx, phs)
	require.NoError(t, err)
	assert.Equal(t, 1, p.Changes, "the schema change")
	d, err = a.CheckDrift(ctx, phs)
	require.NoError(t, err)
	assert.Zero(t, d.Plan.Changes, "not a drift")

	refused := errors.New("refused")
	f.FailPlans(tenant, refused)
	_, err = a.PlanTenant(ctx, in)
	assert.ErrorIs(t, err, refused)
	_, err = a.CheckDrift(ctx, in)
	assert.NoError(t, err)
	f.FailPlans(tenant, nil)
	_, err = a.PlanTenant(ctx, in)
	assert.NoError(t, err)
}
