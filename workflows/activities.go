package workflows

import (
	"context"
	"reflect"
	"runtime"
	"strings"

	"go.temporal.io/sdk/workflow"
)

// The typed activity contract. The activities package implements these
// interfaces (asserted at compile time there), workflowstest.Activities fakes
// them for tests and the bench, and the workflows call them through method
// expressions (OnboardingActivities.EnsureJobs), so a step's input and result
// types are checked by the compiler and an activity's name has one source:
// its method name.

// OnboardingActivities are OnboardTenant's steps, each idempotent (look
// before write).
type OnboardingActivities interface {
	EnableTenantSync(ctx context.Context, in TenantInput) (StepReport, error)
	EnsureApplication(ctx context.Context, in EnsureApplicationInput) (ApplicationResult, error)
	WaitForServicePrincipal(ctx context.Context, in ServicePrincipalInput) error
	EnsureJobs(ctx context.Context, in EnsureJobsInput) (EnsureJobsResult, error)
	PauseJobs(ctx context.Context, in PauseJobsInput) (PauseJobsResult, error)
	ApplySecrets(ctx context.Context, in SecretsInput) (StepReport, error)
	PatchSchema(ctx context.Context, in JobInput) (SchemaResult, error)
	UnpatchSchema(ctx context.Context, in JobInput) (SchemaResult, error)
	CheckExchangeSchema(ctx context.Context, in ExchangeCheckInput) (ExchangeCheckResult, error)
	StartJobs(ctx context.Context, in StartJobsInput) (StartJobsResult, error)
}

// WatchingActivities are the watcher's and the poller's.
type WatchingActivities interface {
	PollShard(ctx context.Context, in PollShardInput) (PollShardResult, error)
	LookAtJob(ctx context.Context, in WatchTarget) (JobStatus, error)
	RestartForceDeletes(ctx context.Context, in RestartInput) (RestartResult, error)
	ResumeJob(ctx context.Context, in ResumeInput) (ResumeResult, error)
	Notify(ctx context.Context, n Notification) error
}

// OffboardingActivities are OffboardTenant's: every delete is idempotent
// and re-checks that the object still belongs to the domain's configuration.
type OffboardingActivities interface {
	InventoryConfiguration(ctx context.Context, in InventoryInput) (Inventory, error)
	StopWatching(ctx context.Context, in StopWatchingInput) (StepReport, error)
	DeleteSyncJob(ctx context.Context, in DeleteJobInput) (StepReport, error)
	DeleteServicePrincipal(ctx context.Context, in DeleteObjectInput) (StepReport, error)
	DeleteApplication(ctx context.Context, in DeleteObjectInput) (StepReport, error)
	ConfirmRemoved(ctx context.Context, in ConfirmRemovedInput) (StepReport, error)
}

// Activities is everything a cloudsync worker registers.
type Activities interface {
	OnboardingActivities
	WatchingActivities
	OffboardingActivities
}

// ActivityName is the name Temporal knows an activity method by (its method
// name, as worker.RegisterActivity registers a struct's methods), from a
// method expression such as OnboardingActivities.EnsureJobs.
func ActivityName(method any) string {
	name := runtime.FuncForPC(reflect.ValueOf(method).Pointer()).Name()
	return strings.TrimSuffix(name[strings.LastIndex(name, ".")+1:], "-fm")
}

// Future is an activity's result, typed.
type Future[O any] struct{ f workflow.Future }

// Get waits for the result.
func (f Future[O]) Get(ctx workflow.Context) (O, error) {
	var out O
	err := f.f.Get(ctx, &out)
	return out, err
}

// Execute schedules the activity a method expression names, with its typed
// input (ctx carries the activity options).
func Execute[A, I, O any](ctx workflow.Context, method func(A, context.Context, I) (O, error), in I) Future[O] {
	return Future[O]{workflow.ExecuteActivity(ctx, ActivityName(method), in)}
}

// ExecuteErr is Execute for an activity that returns only an error.
func ExecuteErr[A, I any](ctx workflow.Context, method func(A, context.Context, I) error, in I) workflow.Future {
	return workflow.ExecuteActivity(ctx, ActivityName(method), in)
}

// Activity names, for tests that mock one (env.OnActivity) and for logs.
var (
	EnableTenantSyncActivity        = ActivityName(OnboardingActivities.EnableTenantSync)
	EnsureApplicationActivity       = ActivityName(OnboardingActivities.EnsureApplication)
	WaitForServicePrincipalActivity = ActivityName(OnboardingActivities.WaitForServicePrincipal)
	EnsureJobsActivity              = ActivityName(OnboardingActivities.EnsureJobs)
	ApplySecretsActivity            = ActivityName(OnboardingActivities.ApplySecrets)
	PatchSchemaActivity             = ActivityName(OnboardingActivities.PatchSchema)
	UnpatchSchemaActivity           = ActivityName(OnboardingActivities.UnpatchSchema)
	PauseJobsActivity               = ActivityName(OnboardingActivities.PauseJobs)
	CheckExchangeSchemaActivity     = ActivityName(OnboardingActivities.CheckExchangeSchema)
	StartJobsActivity               = ActivityName(OnboardingActivities.StartJobs)

	PollShardActivity  = ActivityName(WatchingActivities.PollShard)
	LookAtJobActivity  = ActivityName(WatchingActivities.LookAtJob)
	RestartJobActivity = ActivityName(WatchingActivities.RestartForceDeletes)
	ResumeJobActivity  = ActivityName(WatchingActivities.ResumeJob)
	NotifyActivity     = ActivityName(WatchingActivities.Notify)

	InventoryConfigurationActivity = ActivityName(OffboardingActivities.InventoryConfiguration)
	StopWatchingActivity           = ActivityName(OffboardingActivities.StopWatching)
	DeleteSyncJobActivity          = ActivityName(OffboardingActivities.DeleteSyncJob)
	DeleteServicePrincipalActivity = ActivityName(OffboardingActivities.DeleteServicePrincipal)
	DeleteApplicationActivity      = ActivityName(OffboardingActivities.DeleteApplication)
	ConfirmRemovedActivity         = ActivityName(OffboardingActivities.ConfirmRemoved)
)
