package workflows

import (
	"strings"
	"time"
)

// The drift contract. One WatchDrift entity per onboarded and watched tenant
// and domain (DriftWorkflowID) compares the configuration with its spec on a
// schedule (the worker's drift interval, default daily): the plan's reads,
// one read set per check. Drift is what a plan would change. It is published
// in the search attribute CloudSyncDrift ("none", "unknown", or the drift
// kinds, comma-separated) and in the memo (DriftMemoKey), and notified when
// the drift set changes. An onboarding that completes hands the drift check
// its spec (DriftSpecSignal), so a re-run that repaired the drift clears it
// at once. Cancelling the workflow ends it cleanly (offboarding does).

// DriftSpecSignal hands a drift check a new spec (a DriftInput without State).
const DriftSpecSignal = "drift-spec"

// DefaultDriftInterval is the worker's default (CLOUDSYNC_DRIFT_INTERVAL).
const DefaultDriftInterval = 24 * time.Hour

// Values of CloudSyncDrift besides the drift kinds.
const (
	DriftNone    = "none"
	DriftUnknown = "unknown" // the last check failed (the memo says why)
)

// DriftInput starts (or continues) WatchDrift; it is also the payload of
// DriftSpecSignal.
type DriftInput struct {
	Spec TenantSpec `json:"spec"`
	// Exchange is the onboarding's finding (see PlanInput.Exchange).
	Exchange string `json:"exchange,omitempty"`
	// Webhook names the notification target (the watchers' WatchOptions.Webhook);
	// a spec signal without one keeps the current one, as a re-run keeps a
	// running watcher's options.
	Webhook string `json:"webhook,omitempty"`
	// Converged: sent by an onboarding that just completed with this spec, so
	// Graph matches it: drift is none without a read set (the next check is
	// one interval later). Without it the spec is checked at once.
	Converged bool `json:"converged,omitempty"`
	// State is carried across continue-as-new; nil on the first run.
	State *DriftState `json:"state,omitempty"`
}

// DriftState is what the drift check publishes in its memo and carries
// across continue-as-new.
type DriftState struct {
	// Status is DriftNone, DriftUnknown, or the drift kinds comma-separated
	// (the search attribute's value).
	Status string `json:"status"`
	// Drift lists the kinds found by the last check that succeeded.
	Drift []string `json:"drift,omitempty"`
	// Changes are that check's steps that would change something.
	Changes []PlanStep `json:"changes,omitempty"`
	// CheckedAt is when Graph was last read (or the onboarding converged,
	// By "onboarding"); By is "check" or "onboarding".
	CheckedAt time.Time `json:"checkedAt"`
	By        string    `json:"by,omitempty"`
	// Since is when the current drift set was first seen.
	Since time.Time `json:"since,omitempty"`
	// LastError is why the last check failed (Status DriftUnknown).
	LastError string `json:"lastError,omitempty"`
	// Notified is the drift set last notified ("none" when repaired).
	Notified string `json:"notified,omitempty"`
	// Interval is the worker's drift interval, as last read; NextCheck is
	// when the next check is due.
	Interval  time.Duration `json:"interval,omitempty"`
	NextCheck time.Time     `json:"nextCheck,omitempty"`
	Checks    int64         `json:"checks"`
	Runs      int           `json:"runs"`
}

// DriftMemoKey is the memo entry where a drift check publishes its state, so
// the starter reads it from listings and Describe, never by query.
const DriftMemoKey = "cloudsyncDrift"

// DriftStatus is the attribute's value for a set of drift kinds.
func DriftStatus(kinds []string) string {
	if len(kinds) == 0 {
		return DriftNone
	}
	return strings.Join(kinds, ",")
}

// DriftCheckResult is one check: the plan and the worker's interval.
type DriftCheckResult struct {
	Plan     PlanResult    `json:"plan"`
	Interval time.Duration `json:"interval"`
}

// Drift notification kinds (Notification.Kind).
const (
	NotifyDrift         = "drift"
	NotifyDriftRepaired = "drift-repaired"
)
