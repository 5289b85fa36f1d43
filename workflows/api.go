// Package workflows holds cloudsync's Temporal workflows and their public
// contract (this file): task queue, workflow ids, query/signal/update names,
// search attributes, and the input, result and progress types. Deterministic
// code only; it never imports the Graph SDK, so the starter can link it.
package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/cloudsync/cloudsync/internal/jobtemplate"
)

// TaskQueue is where workers poll for cloudsync work.
const TaskQueue = "cloudsync"

// Workflow type names.
const (
	OnboardTenantWorkflow = "OnboardTenant"
	WatchSyncJobWorkflow  = "WatchSyncJob"
	WatchPollerWorkflow   = "WatchPoller"
	// PlanTenantWorkflow runs onboarding's reads only and says what a run would change.
	PlanTenantWorkflow = "PlanTenant"
	// WatchDriftWorkflow compares one onboarded tenant's configuration with its spec on a schedule.
	WatchDriftWorkflow = "WatchDrift"
	// OffboardTenantWorkflow removes what onboarding made, after a human approves.
	OffboardTenantWorkflow = "OffboardTenant"
)

// Query, signal and update names.
const (
	ProgressQuery = "progress"
	StatusQuery   = "status"
	ApproveSignal = "approve-deletes"
	RejectSignal  = "reject-deletes"
	// Updates answer synchronously. A validator refuses only malformed requests
	// (no approver or reason, an approver not allowed); a well-formed decision
	// that finds nothing to decide is recorded as "not acted upon".
	ApproveUpdate = "approve-deletes-update"
	RejectUpdate  = "reject-deletes-update"
	// UnwatchUpdate ends a watcher, recorded with who and why.
	UnwatchUpdate = "unwatch"
	// ResumeUpdate starts a quarantined (e.g. rejected) or paused job again,
	// on an operator's explicit request (Graph's start clears a quarantine;
	// deletions still over the threshold quarantine it again, as a new episode).
	ResumeUpdate = "resume-job"
	// ObservedSignal carries a JobStatus from the poller to a watcher, sent
	// only when something a watcher acts on changed.
	ObservedSignal = "job-observed"
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

// DriftWorkflowID is deterministic per tenant and domain: one drift check each.
func DriftWorkflowID(tenantID, domain string) string {
	return "cloudsync-drift/" + strings.TrimPrefix(OnboardWorkflowID(tenantID, domain), "cloudsync-onboard/")
}

// OffboardWorkflowID is deterministic per tenant and domain, so one offboarding
// of a configuration runs at a time.
func OffboardWorkflowID(tenantID, domain string) string {
	return "cloudsync-offboard/" + strings.TrimPrefix(OnboardWorkflowID(tenantID, domain), "cloudsync-onboard/")
}

// ParseWatchWorkflowID is WatchWorkflowID's inverse; ok is false for an id
// that is not a watcher's.
func ParseWatchWorkflowID(id string) (tenantID, jobID string, ok bool) {
	rest, ok := strings.CutPrefix(id, "cloudsync-watch/")
	if !ok {
		return "", "", false
	}
	tenantID, jobID, ok = strings.Cut(rest, "/")
	return tenantID, jobID, ok && tenantID != "" && jobID != ""
}

// Search attributes (register them on the namespace: see the README).
var (
	SearchTenant           = temporal.NewSearchAttributeKeyKeyword("CloudSyncTenant")
	SearchDomain           = temporal.NewSearchAttributeKeyKeyword("CloudSyncDomain")
	SearchStep             = temporal.NewSearchAttributeKeyKeyword("CloudSyncStep")
	SearchOutcome          = temporal.NewSearchAttributeKeyKeyword("CloudSyncOutcome")
	SearchJobState         = temporal.NewSearchAttributeKeyKeyword("CloudSyncJobState")
	SearchPhase            = temporal.NewSearchAttributeKeyKeyword("CloudSyncPhase")
	SearchAwaitingApproval = temporal.NewSearchAttributeKeyBool("CloudSyncAwaitingApproval")
	SearchAwaitingSince    = temporal.NewSearchAttributeKeyTime("CloudSyncAwaitingSince")
)

// SearchAttribute is one attribute to register, with its type as Temporal's
// CLI and Cloud name it.
type SearchAttribute struct{ Name, Type string }

// SearchAttributes lists every attribute with its type, for registration
// (make dev-server, deploy/temporal/search-attributes.sh, the tests).
var SearchAttributes = []SearchAttribute{
	{"CloudSyncTenant", "Keyword"}, {"CloudSyncDomain", "Keyword"}, {"CloudSyncStep", "Keyword"}, {"CloudSyncOutcome", "Keyword"},
	{"CloudSyncJobState", "Keyword"}, {"CloudSyncPhase", "Keyword"}, {"CloudSyncAwaitingApproval", "Bool"}, {"CloudSyncAwaitingSince", "Datetime"},
}

// TypedSearchAttributes are the same attributes as typed keys with unused
// values, for testsuite.StartDevServer's registration.
func TypedSearchAttributes() temporal.SearchAttributes {
	return temporal.NewSearchAttributes(SearchTenant.ValueSet(""), SearchDomain.ValueSet(""), SearchStep.ValueSet(""), SearchOutcome.ValueSet(""),
		SearchJobState.ValueSet(""), SearchPhase.ValueSet(""), SearchAwaitingApproval.ValueSet(false), SearchAwaitingSince.ValueSet(time.Time{}))
}

// SearchAttributeNames lists the attributes' names.
var SearchAttributeNames = func() []string {
	var out []string
	for _, a := range SearchAttributes {
		out = append(out, a.Name)
	}
	return out
}()

// Step names, in order. They appear in progress, search attributes and results.
const (
	StepValidate       = "validate"
	StepTenantSyncFlag = "tenant-sync-flag"
	StepApplication    = "application"
	StepSPVisible      = "service-principal-visible"
	StepJobs           = "jobs"
	StepPauseJobs      = "pause-jobs" // only when the spec turned a feature off whose job exists
	StepSecrets        = "secrets"
	StepSchema         = "schema"
	StepExchange       = "exchange"
	StepStartJobs      = "start-jobs"
	StepWatch          = "watch"
	StepDone           = "done"
)

// OnboardingSteps are the steps in the order an onboarding runs them (a step
// a spec does not need is left out of a run).
var OnboardingSteps = []string{StepValidate, StepTenantSyncFlag, StepApplication, StepSPVisible, StepJobs, StepPauseJobs, StepSecrets,
	StepSchema, StepExchange, StepStartJobs, StepWatch, StepDone}

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

// Job template ids (the same as graph's).
const (
	TemplateProvisioning      = jobtemplate.Provisioning
	TemplatePasswordHash      = jobtemplate.PasswordHash
	TemplateExchangeWriteback = jobtemplate.ExchangeWriteback
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

// OnboardFailure is what the error of a failed onboarding carries.
type OnboardFailure struct {
	Message string
	// Result: what exists so far (a re-run after the fix reuses it).
	Result *OnboardResult
	// Validation: the spec's problems, when it was refused before any step.
	Validation *ValidationError
}

// DecodeOnboardFailure reads an onboarding's failure from the error a
// client gets; ok is false when err is not one (e.g. a termination).
func DecodeOnboardFailure(err error) (f OnboardFailure, ok bool) {
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		return f, false
	}
	f.Message = ae.Message()
	switch ae.Type() {
	case FailureType:
		var res OnboardResult
		if ae.HasDetails() && ae.Details(&res) == nil {
			f.Result = &res
		}
	case ValidationErrorType:
		var ve *ValidationError
		if ae.HasDetails() && ae.Details(&ve) == nil && ve != nil && len(ve.Errors) > 0 {
			f.Validation = ve
		}
	}
	return f, true
}
