package workflows

import "time"

// The onboarding activities' input and result types (the interfaces are in
// activities.go). Nothing here carries a secret: the activity builds secret
// payloads (e.g. the AppKey scenario) from these flags.

// Activity error types (stable; Temporal's ApplicationError.Type).
const (
	ErrServicePrincipalNotVisible = "ServicePrincipalNotVisible"
	ErrSchemaMappingMissing       = "SchemaMappingMissing"
	ErrSecretWouldBeErased        = "SecretWouldBeErased"
	ErrDirectoryNotInSchema       = "DirectoryNotInSchema"
)

// TenantInput names a tenant.
type TenantInput struct {
	TenantID string `json:"tenantId"`
}

// EnsureApplicationInput finds or instantiates the AD2AAD app. The domain
// identifies the configuration (its Domain secret); the display name is what
// it is called (an existing one named otherwise is renamed). Without a domain
// (inputs of workflows started by older versions) it is found by name.
type EnsureApplicationInput struct {
	TenantID    string `json:"tenantId"`
	DisplayName string `json:"displayName"`
	Domain      string `json:"domain,omitempty"`
}

// ApplicationResult names the app and its service principal.
type ApplicationResult struct {
	// CreatedAt is set when this step instantiated the application: Graph
	// refuses synchronization calls on a new service principal with 403/409
	// for a few minutes, which the next steps retry (SyncSettleWindow).
	CreatedAt           time.Time  `json:"createdAt,omitempty"`
	ApplicationObjectID string     `json:"applicationObjectId,omitempty"`
	AppID               string     `json:"appId"`
	ServicePrincipalID  string     `json:"servicePrincipalId"`
	Report              StepReport `json:"report"`
	// DriftInterval is the worker's drift interval, handed to the drift
	// check the onboarding starts, which then needs no read of its own.
	DriftInterval time.Duration `json:"driftInterval,omitempty"`
}

// ServicePrincipalInput names a tenant's service principal.
type ServicePrincipalInput struct {
	TenantID           string `json:"tenantId"`
	ServicePrincipalID string `json:"servicePrincipalId"`
}

// EnsureJobsInput lists the job templates that must exist.
type EnsureJobsInput struct {
	// SPCreated: when the onboarding created the service principal (zero
	// when it found one): 403/409 within the settle window are retried.
	SPCreated          time.Time `json:"spCreated,omitempty"`
	TenantID           string    `json:"tenantId"`
	ServicePrincipalID string    `json:"servicePrincipalId"`
	Templates          []string  `json:"templates"`
	// Seen, when usable, replaces the activity's own listing (see JobsSeen).
	Seen *JobsSeen `json:"seen,omitempty"`
}

// EnsureJobsResult maps template ids to job ids.
type EnsureJobsResult struct {
	Jobs   map[string]string `json:"jobs"`
	Report StepReport        `json:"report"`
	// Seen is every job of the service principal after this step (the ones
	// it created included), for the next steps.
	Seen *JobsSeen `json:"seen,omitempty"`
	// Created lists the templates whose job this step created.
	Created []string `json:"created,omitempty"`
}

// SecretsInput is the desired secret state, as flags (no secret values).
type SecretsInput struct {
	// SPCreated: when the onboarding created the service principal (zero
	// when it found one): 403/409 within the settle window are retried.
	SPCreated          time.Time       `json:"spCreated,omitempty"`
	TenantID           string          `json:"tenantId"`
	ServicePrincipalID string          `json:"servicePrincipalId"`
	Domain             string          `json:"domain"`
	PasswordHashSync   bool            `json:"passwordHashSync"`
	Notifications      Notifications   `json:"notifications"`
	DeleteThreshold    DeleteThreshold `json:"deleteThreshold"`
	// ProvisioningJobID, when set, is read back after the write to confirm
	// the delete threshold Graph derived from the secrets.
	ProvisioningJobID string `json:"provisioningJobId,omitempty"`
}

// JobInput names one job.
type JobInput struct {
	// SPCreated: when the onboarding created the service principal (zero
	// when it found one): 403/409 within the settle window are retried.
	SPCreated          time.Time `json:"spCreated,omitempty"`
	TenantID           string    `json:"tenantId"`
	ServicePrincipalID string    `json:"servicePrincipalId"`
	JobID              string    `json:"jobId"`
}

// SchemaResult reports the CredentialData patch (or its removal).
type SchemaResult struct {
	ADDirectoryID string     `json:"adDirectoryId,omitempty"`
	Report        StepReport `json:"report"`
}

// ExchangeCheckInput asks whether the AD schema supports Exchange writeback.
type ExchangeCheckInput struct {
	// SPCreated: when the onboarding created the service principal (zero
	// when it found one): 403/409 within the settle window are retried.
	SPCreated          time.Time `json:"spCreated,omitempty"`
	TenantID           string    `json:"tenantId"`
	ServicePrincipalID string    `json:"servicePrincipalId"`
	JobID              string    `json:"jobId"`         // the provisioning job
	ADDirectoryID      string    `json:"adDirectoryId"` // empty: read it from the schema
}

// ExchangeCheckResult says whether mailNickname exists on AD users.
type ExchangeCheckResult struct {
	MailNicknamePresent bool   `json:"mailNicknamePresent"`
	ADDirectoryID       string `json:"adDirectoryId"`
}

// StartJobsInput lists jobs to start when they were never started.
type StartJobsInput struct {
	// SPCreated: when the onboarding created the service principal (zero
	// when it found one): 403/409 within the settle window are retried.
	SPCreated          time.Time `json:"spCreated,omitempty"`
	TenantID           string    `json:"tenantId"`
	ServicePrincipalID string    `json:"servicePrincipalId"`
	JobIDs             []string  `json:"jobIds"`
	// Seen, when usable, replaces the activity's own listing (see JobsSeen).
	Seen *JobsSeen `json:"seen,omitempty"`
	// Resume lists jobs of features this run turned back on (their
	// configuration was found removed, as cloudsync leaves a feature turned
	// off): such a job that is paused and not quarantined is started again.
	// Any other paused job is left alone.
	Resume []FeatureJob `json:"resume,omitempty"`
}

// FeatureJob is the job of an optional feature (password hash sync, Exchange
// hybrid writeback), named for the step's detail.
type FeatureJob struct {
	ID      string `json:"id"`
	Feature string `json:"feature"`
}

// Feature names, as step details say them.
const (
	FeaturePasswordHash = "password hash sync"
	FeatureExchange     = "Exchange hybrid writeback"
)

// FeatureJobsOff lists the jobs (found: template -> job id) of features the
// spec turns off: the pause-jobs step pauses those the service runs. Shared
// by the onboarding and the plan.
func FeatureJobsOff(s TenantSpec, found map[string]string) []FeatureJob {
	var off []FeatureJob
	if id := found[TemplatePasswordHash]; !s.PasswordHashSync && id != "" {
		off = append(off, FeatureJob{ID: id, Feature: FeaturePasswordHash})
	}
	if id := found[TemplateExchangeWriteback]; !s.ExchangeHybridWriteback && id != "" {
		off = append(off, FeatureJob{ID: id, Feature: FeatureExchange})
	}
	return off
}

// PauseJobsInput lists the jobs of features the spec turned off. Each one
// the service runs (schedule Active) is paused; none is ever deleted.
type PauseJobsInput struct {
	// SPCreated: when the onboarding created the service principal (zero
	// when it found one): 403/409 within SyncSettleWindow of it are retried.
	SPCreated          time.Time    `json:"spCreated,omitempty"`
	TenantID           string       `json:"tenantId"`
	ServicePrincipalID string       `json:"servicePrincipalId"`
	Jobs               []FeatureJob `json:"jobs"`
	// Seen, when usable, replaces the activity's own listing (see JobsSeen).
	Seen *JobsSeen `json:"seen,omitempty"`
}

// PauseJobsResult says what was paused and what was already stopped.
type PauseJobsResult struct {
	Paused []string `json:"paused,omitempty"`
	// Seen is the listing handed in (or made), with the paused jobs updated.
	Seen   *JobsSeen  `json:"seen,omitempty"`
	Report StepReport `json:"report"`
}

// StartJobsResult says what was started, and what was left alone and why.
type StartJobsResult struct {
	Started        []string `json:"started"`
	AlreadyRunning []string `json:"alreadyRunning"`
	// Resumed: paused jobs of features this run turned back on, started again.
	Resumed []string `json:"resumed,omitempty"`
	// LeftAlone maps the jobs not started (quarantined, paused by an admin,
	// started before) to the reason. Starting them would lift a quarantine
	// (Graph's start clears it) or undo an admin's pause.
	LeftAlone map[string]string `json:"leftAlone,omitempty"`
	Report    StepReport        `json:"report"`
}

// JobsSeen is a job listing made by an activity of this workflow run, handed
// to the next activity so it need not list again. The next activity trusts it
// only on its first attempt, in the same run (not after a reset) and while it
// is fresh (MaxJobsSeenAge): any retry lists again, so look-before-write still
// happens whenever an earlier attempt may have written.
type JobsSeen struct {
	RunID string    `json:"runId"`
	At    time.Time `json:"at"`
	Jobs  []SeenJob `json:"jobs"`
}

// SeenJob is one job of a JobsSeen listing, with what start-jobs decides on.
type SeenJob struct {
	ID         string `json:"id"`
	TemplateID string `json:"templateId"`
	Running    bool   `json:"running,omitempty"`
	// ScheduleState is Active, Disabled or Paused. A listing made by a worker
	// from before these fields has none: it is not trusted (listed again).
	ScheduleState string `json:"scheduleState,omitempty"`
	StatusCode    string `json:"statusCode,omitempty"`
	// QuarantineReason is set while the job is quarantined.
	QuarantineReason string `json:"quarantineReason,omitempty"`
	// NeverRun: the job has no execution on record.
	NeverRun bool `json:"neverRun,omitempty"`
}

// NeverStarted reports a job as Graph creates it: disabled, never run, not
// quarantined. Only such a job may be started by an onboarding.
func (j SeenJob) NeverStarted() bool {
	return j.ScheduleState == "Disabled" && j.NeverRun && j.QuarantineReason == ""
}

// DefaultSyncSettleWindow is how long after creating a service principal its
// synchronization calls' 403 and 409 are retried (Graph answers them for a
// few minutes; Terraform's azuread provider retries exactly these). After it,
// a 403 is the missing permission it says. The worker's
// --sync-settle-window changes it.
const DefaultSyncSettleWindow = 5 * time.Minute

// MaxJobsSeenAge bounds how old a JobsSeen listing may be to be trusted.
const MaxJobsSeenAge = 10 * time.Minute
