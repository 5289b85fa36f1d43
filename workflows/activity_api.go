package workflows

// Activity names and their input/result types. The activities package
// implements them; workflows call them by name so this package never links
// the Graph SDK. Nothing here carries a secret: the activity builds secret
// payloads (e.g. the AppKey scenario) from these flags.
const (
	EnableTenantSyncActivity        = "EnableTenantSync"
	EnsureApplicationActivity       = "EnsureApplication"
	WaitForServicePrincipalActivity = "WaitForServicePrincipal"
	EnsureJobsActivity              = "EnsureJobs"
	ApplySecretsActivity            = "ApplySecrets"
	PatchSchemaActivity             = "PatchSchema"
	CheckExchangeSchemaActivity     = "CheckExchangeSchema"
	StartJobsActivity               = "StartJobs"
)

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

// EnsureApplicationInput finds or instantiates the AD2AAD app.
type EnsureApplicationInput struct {
	TenantID    string `json:"tenantId"`
	DisplayName string `json:"displayName"`
}

// ApplicationResult names the app and its service principal.
type ApplicationResult struct {
	ApplicationObjectID string     `json:"applicationObjectId,omitempty"`
	AppID               string     `json:"appId"`
	ServicePrincipalID  string     `json:"servicePrincipalId"`
	Report              StepReport `json:"report"`
}

// ServicePrincipalInput names a tenant's service principal.
type ServicePrincipalInput struct {
	TenantID           string `json:"tenantId"`
	ServicePrincipalID string `json:"servicePrincipalId"`
}

// EnsureJobsInput lists the job templates that must exist.
type EnsureJobsInput struct {
	TenantID           string   `json:"tenantId"`
	ServicePrincipalID string   `json:"servicePrincipalId"`
	Templates          []string `json:"templates"`
}

// EnsureJobsResult maps template ids to job ids.
type EnsureJobsResult struct {
	Jobs   map[string]string `json:"jobs"`
	Report StepReport        `json:"report"`
}

// SecretsInput is the desired secret state, as flags (no secret values).
type SecretsInput struct {
	TenantID           string          `json:"tenantId"`
	ServicePrincipalID string          `json:"servicePrincipalId"`
	Domain             string          `json:"domain"`
	PasswordHashSync   bool            `json:"passwordHashSync"`
	Notifications      Notifications   `json:"notifications"`
	DeleteThreshold    DeleteThreshold `json:"deleteThreshold"`
}

// JobInput names one job.
type JobInput struct {
	TenantID           string `json:"tenantId"`
	ServicePrincipalID string `json:"servicePrincipalId"`
	JobID              string `json:"jobId"`
}

// SchemaResult reports the CredentialData patch.
type SchemaResult struct {
	ADDirectoryID string     `json:"adDirectoryId,omitempty"`
	Report        StepReport `json:"report"`
}

// ExchangeCheckInput asks whether the AD schema supports Exchange writeback.
type ExchangeCheckInput struct {
	TenantID           string `json:"tenantId"`
	ServicePrincipalID string `json:"servicePrincipalId"`
	JobID              string `json:"jobId"`         // the provisioning job
	ADDirectoryID      string `json:"adDirectoryId"` // empty: read it from the schema
}

// ExchangeCheckResult says whether mailNickname exists on AD users.
type ExchangeCheckResult struct {
	MailNicknamePresent bool   `json:"mailNicknamePresent"`
	ADDirectoryID       string `json:"adDirectoryId"`
}

// StartJobsInput lists jobs to start when they are not running.
type StartJobsInput struct {
	TenantID           string   `json:"tenantId"`
	ServicePrincipalID string   `json:"servicePrincipalId"`
	JobIDs             []string `json:"jobIds"`
}

// StartJobsResult says what was started.
type StartJobsResult struct {
	Started        []string   `json:"started"`
	AlreadyRunning []string   `json:"alreadyRunning"`
	Report         StepReport `json:"report"`
}
