package workflows

import (
	"sort"
	"strings"
	"time"
)

// The plan contract: PlanTenant runs onboarding's look-before-write reads
// through a Graph client that cannot write, and says per step what an
// onboarding of the spec would do now. WatchDrift runs the same reads on a
// schedule: drift is what a plan would change.

// PlanAction is what an onboarding would do in one step, in Terraform's words.
type PlanAction string

const (
	PlanNone    PlanAction = "none"    // already as the spec asks
	PlanCreate  PlanAction = "create"  // an object would be created (application, jobs, secrets)
	PlanChange  PlanAction = "change"  // something would be rewritten (the flag, a secret, the schema, a name)
	PlanPause   PlanAction = "pause"   // a job of a feature the spec turns off would be paused
	PlanStart   PlanAction = "start"   // a job would be started (never started, or resumed)
	PlanUnknown PlanAction = "unknown" // cannot be known without a write or a POST (e.g. discover)
)

// Changes reports whether an onboarding would change the tenant in this step.
func (a PlanAction) Changes() bool {
	switch a {
	case PlanCreate, PlanChange, PlanPause, PlanStart:
		return true
	}
	return false
}

// PlanStep is one step of a plan.
type PlanStep struct {
	Step   string     `json:"step"`
	Action PlanAction `json:"action"`
	Detail string     `json:"detail,omitempty"`
	// Drift names the kind of difference when Action changes something
	// (DriftKind*): what the drift attribute and notifications list.
	Drift string `json:"drift,omitempty"`
}

// Drift kinds, as a plan step names them.
const (
	DriftSyncFlagOff          = "sync-flag-off"
	DriftConfigurationMissing = "configuration-missing"
	DriftRenamed              = "renamed"
	DriftJobMissing           = "job-missing"
	DriftFeatureJobRunning    = "feature-job-running"
	DriftSecretMissing        = "secret-missing"
	DriftSecretChanged        = "secret-changed"
	DriftCredentialData       = "credentialdata-missing"
	DriftCredentialDataBack   = "credentialdata-present"
	DriftJobNotStarted        = "job-not-started"
)

// PlanInput asks for a plan of one tenant spec.
type PlanInput struct {
	Spec TenantSpec `json:"spec"`
	// Exchange is what the last onboarding found of Exchange hybrid
	// writeback (ExchangeEnabled: its AD schema has mailNickname). A plan
	// cannot discover it (discover is a POST): with ExchangeEnabled a missing
	// writeback job is a job to create; otherwise it is unknown.
	Exchange string `json:"exchange,omitempty"`
}

// PlanResult is a plan: per step what an onboarding would do now.
type PlanResult struct {
	TenantID           string     `json:"tenantId"`
	Domain             string     `json:"domain"`
	ServicePrincipalID string     `json:"servicePrincipalId,omitempty"`
	Steps              []PlanStep `json:"steps"`
	// Changes counts the steps that would change something.
	Changes int `json:"changes"`
}

// Add appends a step and counts it.
func (r *PlanResult) Add(s PlanStep) {
	if !s.Action.Changes() {
		s.Drift = ""
	}
	r.Steps = append(r.Steps, s)
	if s.Action.Changes() {
		r.Changes++
	}
}

// Drift lists the kinds of difference the plan found, sorted, once each.
func (r PlanResult) Drift() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range r.Steps {
		if s.Action.Changes() && s.Drift != "" && !seen[s.Drift] {
			seen[s.Drift] = true
			out = append(out, s.Drift)
		}
	}
	sort.Strings(out)
	return out
}

// PlanWorkflowID names one plan run: a plan changes nothing, so plans of one
// tenant may run at once; nonce (from the starter) tells them apart.
func PlanWorkflowID(tenantID, domain, nonce string) string {
	return "cloudsync-plan/" + strings.TrimPrefix(OnboardWorkflowID(tenantID, domain), "cloudsync-onboard/") + "/" + nonce
}

// PlanFailureType is the error type of a plan that could not be made; its
// details hold the steps planned so far.
const PlanFailureType = "PlanFailed"

// DefaultPlanTimeout bounds a plan's retries of Graph's transient errors.
const DefaultPlanTimeout = 10 * time.Minute
