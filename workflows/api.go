// Package workflows holds cloudsync's Temporal workflows and their public
// contract (this file): task queue, workflow ids, query/signal/update names,
// search attributes, and the input, result and progress types. Deterministic
// code only; it never imports the Graph SDK, so the starter can link it.
package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
)

// TaskQueue is where workers poll for cloudsync work.
const TaskQueue = "cloudsync"

// Workflow type names.
const (
	OnboardTenantWorkflow = "OnboardTenant"
	WatchSyncJobWorkflow  = "WatchSyncJob"
)

// Query, signal and update names.
const (
	ProgressQuery = "progress"
	StatusQuery   = "status"
	ApproveSignal = "approve-deletes"
	RejectSignal  = "reject-deletes"
	// Updates answer synchronously; a validator refuses a decision when nothing
	// awaits one, so a refused request never reaches the history.
	ApproveUpdate = "approve-deletes-update"
	RejectUpdate  = "reject-deletes-update"
)

// OnboardWorkflowID is deterministic per tenant and domain, so a second
// onboarding of the same pair is refused while one runs.
func OnboardWorkflowID(tenantID, domain string) string {
	domain = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(domain)), ".")
	return "cloudsync-onboard/" + strings.ToLower(strings.TrimSpace(tenantID)) + "/" + domain
}

// WatchWorkflowID is deterministic per tenant and job.
func WatchWorkflowID(tenantID, jobID string) string {
	return "cloudsync-watch/" + strings.ToLower(strings.TrimSpace(tenantID)) + "/" + strings.TrimSpace(jobID)
}

// Search attributes (register them on the namespace: see the README).
var (
	SearchTenant           = temporal.NewSearchAttributeKeyKeyword("CloudSyncTenant")
	SearchDomain           = temporal.NewSearchAttributeKeyKeyword("CloudSyncDomain")
	SearchStep             = temporal.NewSearchAttributeKeyKeyword("CloudSyncStep")
	SearchOutcome          = temporal.NewSearchAttributeKeyKeyword("CloudSyncOutcome")
	SearchJobState         = temporal.NewSearchAttributeKeyKeyword("CloudSyncJobState")
	SearchAwaitingApproval = temporal.NewSearchAttributeKeyKeyword("CloudSyncAwaitingApproval")
)

// SearchAttributeNames lists every attribute (all Keyword), for registration.
var SearchAttributeNames = []string{
	"CloudSyncTenant", "CloudSyncDomain", "CloudSyncStep", "CloudSyncOutcome", "CloudSyncJobState", "CloudSyncAwaitingApproval",
}

// Step names, in order. They appear in progress, search attributes and results.
const (
	StepValidate       = "validate"
	StepTenantSyncFlag = "tenant-sync-flag"
	StepApplication    = "application"
	StepSPVisible      = "service-principal-visible"
	StepJobs           = "jobs"
	StepSecrets        = "secrets"
	StepSchema         = "schema"
	StepExchange       = "exchange"
	StepStartJobs      = "start-jobs"
	StepWatch          = "watch"
	StepDone           = "done"
)

// Outcome of one step.
type Outcome string

const (
	OutcomeCreated   Outcome = "created"
	OutcomeChanged   Outcome = "changed"
	OutcomeUnchanged Outcome = "unchanged" // found already in place
	OutcomeSkipped   Outcome = "skipped"   // not asked for, or not possible (see detail)
	OutcomeFailed    Outcome = "failed"
)

// Overall onboarding outcomes (search attribute CloudSyncOutcome).
const (
	OnboardingRunning   = "running"
	OnboardingCompleted = "completed"
	OnboardingNoChange  = "completed-no-change"
	OnboardingFailed    = "failed"
)

// Exchange writeback outcomes.
const (
	ExchangeNotRequested  = "not-requested"
	ExchangeEnabled       = "enabled"
	ExchangeSchemaMissing = "ad-schema-missing-mailNickname"
)

// Job template ids.
const (
	TemplateProvisioning      = "AD2AADProvisioning"
	TemplatePasswordHash      = "AD2AADPasswordHash"
	TemplateExchangeWriteback = "AAD2ADExchangeHybridWriteback"
)

// StepReport says what one step found or did.
type StepReport struct {
	Step    string  `json:"step"`
	Outcome Outcome `json:"outcome"`
	Detail  string  `json:"detail,omitempty"`
}

// OnboardInput starts OnboardTenant. One struct so fields can be added.
type OnboardInput struct {
	Spec TenantSpec `json:"spec"`
	// Watch starts a WatchSyncJob child per started job (default on).
	Watch *bool `json:"watch,omitempty"`
	// WatchOptions configure those watchers.
	WatchOptions WatchOptions `json:"watchOptions,omitempty"`
}

// OnboardResult is the outcome of an onboarding; also the failure details of a
// failed one, so an operator sees what already exists.
type OnboardResult struct {
	TenantID            string            `json:"tenantId"`
	Domain              string            `json:"domain"`
	ApplicationObjectID string            `json:"applicationObjectId,omitempty"`
	AppID               string            `json:"appId,omitempty"`
	ServicePrincipalID  string            `json:"servicePrincipalId,omitempty"`
	Jobs                map[string]string `json:"jobs,omitempty"` // template id -> job id
	Exchange            string            `json:"exchange,omitempty"`
	Steps               []StepReport      `json:"steps"`
	Watchers            []string          `json:"watchers,omitempty"` // workflow ids
	Changed             bool              `json:"changed"`
	// JobsLeftAlone: jobs start-jobs did not start (quarantined, paused by an
	// admin, started before), job id -> why.
	JobsLeftAlone map[string]string `json:"jobsLeftAlone,omitempty"`
}

// Summary is one line for humans.
func (r OnboardResult) Summary() string {
	if !r.Changed {
		return fmt.Sprintf("tenant %s (%s): already onboarded, nothing changed", r.TenantID, r.Domain)
	}
	return fmt.Sprintf("tenant %s (%s): onboarded, service principal %s, %d job(s)", r.TenantID, r.Domain, r.ServicePrincipalID, len(r.Jobs))
}

// Progress is what the progress query answers.
type Progress struct {
	Status      string `json:"status"` // running | completed | failed
	CurrentStep string `json:"currentStep"`
	// Attempt is not set by the workflow (it cannot see activity retries);
	// clients fill it from DescribeWorkflowExecution's pending activities.
	Attempt   int32         `json:"attempt,omitempty"`
	LastError string        `json:"lastError,omitempty"`
	StartedAt time.Time     `json:"startedAt"`
	Result    OnboardResult `json:"result"`
}

// FailureType is the application error type of a failed onboarding; its
// details hold the OnboardResult so far.
const FailureType = "OnboardingFailed"

// WatchOptions configure a WatchSyncJob.
type WatchOptions struct {
	PollInterval     time.Duration `json:"pollInterval,omitempty"`     // default 2m (the job's own interval)
	RefreshInterval  time.Duration `json:"refreshInterval,omitempty"`  // report unchanged status at least this often; default 6h
	ReminderInterval time.Duration `json:"reminderInterval,omitempty"` // default 4h
	Approvers        []string      `json:"approvers,omitempty"`        // empty: anyone may approve
	WebhookURL       string        `json:"webhookUrl,omitempty"`       // optional notification target
	// MaxHistoryEvents continues as new before the server suggests it
	// (default 10,000; tests set it low).
	MaxHistoryEvents int `json:"maxHistoryEvents,omitempty"`
}

// Watcher phases (search attribute CloudSyncJobState carries the job's status
// code; CloudSyncAwaitingApproval is "true" only in PhaseAwaitingApproval).
const (
	PhaseWatching         = "watching"
	PhaseAwaitingApproval = "awaiting-delete-approval"
	PhaseRejected         = "deletes-rejected"
	PhaseRestarting       = "restarting-with-force-deletes"
	PhaseQuarantined      = "quarantined" // other reasons: the admin must act, no approval applies
	PhaseEnded            = "ended"
)

// WatchInput starts (or continues) a WatchSyncJob.
type WatchInput struct {
	TenantID           string       `json:"tenantId"`
	Domain             string       `json:"domain,omitempty"`
	ServicePrincipalID string       `json:"servicePrincipalId"`
	JobID              string       `json:"jobId"`
	Options            WatchOptions `json:"options"`
	// State is carried across continue-as-new; nil on the first run.
	State *WatchState `json:"state,omitempty"`
}

// JobStatus is what the watcher keeps of a job's status.
type JobStatus struct {
	Gone               bool             `json:"gone,omitempty"` // job or service principal deleted
	ScheduleState      string           `json:"scheduleState"`
	StatusCode         string           `json:"statusCode"`
	QuarantineReason   string           `json:"quarantineReason,omitempty"`
	QuarantineError    string           `json:"quarantineError,omitempty"` // error code
	QuarantineMessage  string           `json:"quarantineMessage,omitempty"`
	TenantActionable   bool             `json:"tenantActionable,omitempty"`
	QuarantineSince    time.Time        `json:"quarantineSince,omitempty"`
	LastExecutionState string           `json:"lastExecutionState,omitempty"`
	LastExecutionEnded time.Time        `json:"lastExecutionEnded,omitempty"`
	LastExecutionError string           `json:"lastExecutionError,omitempty"`
	CountExported      int64            `json:"countExported,omitempty"`
	EntryCounts        map[string]int64 `json:"entryCounts,omitempty"`
	ObservedAt         time.Time        `json:"observedAt"`
}

// Healthy is a running job without quarantine.
func (s JobStatus) Healthy() bool {
	return !s.Gone && s.StatusCode == "Active" && s.QuarantineReason == ""
}

// SameState reports whether nothing a watcher acts on changed (counts and
// times alone do not wake it).
func (s JobStatus) SameState(o JobStatus) bool {
	return s.Gone == o.Gone && s.ScheduleState == o.ScheduleState && s.StatusCode == o.StatusCode &&
		s.QuarantineReason == o.QuarantineReason && s.QuarantineError == o.QuarantineError &&
		s.QuarantineSince.Equal(o.QuarantineSince) && s.LastExecutionState == o.LastExecutionState
}

// Decision is an approval or rejection, as recorded in the history.
type Decision struct {
	Approve  bool      `json:"approve"`
	Approver string    `json:"approver"`
	Reason   string    `json:"reason"`
	At       time.Time `json:"at,omitempty"`
	// Outcome: "restart-issued", "rejected", "ignored: <why>".
	Outcome string `json:"outcome,omitempty"`
}

// DecisionRequest is the payload of the approve/reject signals and updates,
// e.g. temporal workflow signal --name approve-deletes --input '{"approver":"alice","reason":"HR cleanup"}'.
type DecisionRequest struct {
	Approver string `json:"approver"`
	Reason   string `json:"reason"`
}

// WatchState is the watcher's state: what the status query answers, and what
// continue-as-new carries.
type WatchState struct {
	Phase         string     `json:"phase"`
	Job           JobStatus  `json:"job"`
	AwaitingSince time.Time  `json:"awaitingSince,omitempty"`
	Reminders     int        `json:"reminders,omitempty"`
	Advice        string     `json:"advice,omitempty"`
	Decisions     []Decision `json:"decisions,omitempty"` // the most recent ones (history holds all)
	Polls         int64      `json:"polls"`               // status changes observed
	Runs          int        `json:"runs"`                // continue-as-new count + 1
	Outcome       string     `json:"outcome,omitempty"`   // when ended
}

// Activities of the watcher.
const (
	PollJobActivity    = "PollJob"
	RestartJobActivity = "RestartForceDeletes"
	NotifyActivity     = "Notify"
)

// PollJobInput asks for the job's status once it differs from Last (or
// RefreshAfter has passed since Last.ObservedAt). Until then the activity
// fails with ErrJobUnchanged and its retry policy is the poll loop.
type PollJobInput struct {
	TenantID           string        `json:"tenantId"`
	ServicePrincipalID string        `json:"servicePrincipalId"`
	JobID              string        `json:"jobId"`
	Last               *JobStatus    `json:"last,omitempty"`
	RefreshAfter       time.Duration `json:"refreshAfter,omitempty"`
}

// ErrJobUnchanged is the poll activity's "not yet" (retryable) error type.
const ErrJobUnchanged = "JobUnchanged"

// RestartInput asks for a ForceDeletes restart on behalf of an approval.
type RestartInput struct {
	TenantID           string   `json:"tenantId"`
	ServicePrincipalID string   `json:"servicePrincipalId"`
	JobID              string   `json:"jobId"`
	Decision           Decision `json:"decision"`
}

// RestartResult says whether the restart was sent.
type RestartResult struct {
	Restarted bool   `json:"restarted"`
	Detail    string `json:"detail"`
}

// Notification is one message to the humans in charge.
type Notification struct {
	TenantID   string    `json:"tenantId"`
	Domain     string    `json:"domain,omitempty"`
	JobID      string    `json:"jobId"`
	WorkflowID string    `json:"workflowId"`
	Kind       string    `json:"kind"` // awaiting-approval | reminder | quarantined | recovered | decision
	Message    string    `json:"message"`
	Job        JobStatus `json:"job"`
	WebhookURL string    `json:"webhookUrl,omitempty"`
}
