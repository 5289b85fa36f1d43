package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// The offboarding contract. OffboardTenant (id OffboardWorkflowID) finds the
// configuration of one tenant and domain, publishes what it would remove,
// waits for a human's approval (update ApproveOffboardUpdate, or
// RejectOffboardUpdate), then stops watching and deletes the jobs, the service
// principal and the application, a step each. It never turns the tenant's
// sync flag off: onPremisesSyncEnabled is tenant-wide.

// Offboarding updates: a decision with an approver and a reason, validated as
// deletion decisions are (DecisionRequest's limits, the approvers allow-list).
const (
	ApproveOffboardUpdate = "approve-offboard"
	RejectOffboardUpdate  = "reject-offboard"
)

// Offboarding steps, in order.
const (
	StepInventory         = "inventory"
	StepApproval          = "approval"
	StepStopWatching      = "stop-watching"
	StepDeleteJobs        = "delete-jobs"
	StepDeleteSP          = "delete-service-principal"
	StepDeleteApp         = "delete-application"
	StepConfirmRemoved    = "confirm-removed"
	StepSyncFlagUntouched = "tenant-sync-flag"
)

// Step outcomes of the deletes.
const (
	OutcomeDeleted     Outcome = "deleted"
	OutcomeAlreadyGone Outcome = "already-gone"
)

// Offboarding phases (search attribute CloudSyncPhase; CloudSyncAwaitingApproval
// is true only in PhaseAwaitingOffboardApproval).
const (
	PhaseInventory                = "inventory"
	PhaseAwaitingOffboardApproval = "awaiting-offboard-approval"
	PhaseOffboarding              = "offboarding"
	PhaseOffboarded               = "offboarded"
	PhaseNothingToRemove          = "nothing-to-remove"
	PhaseOffboardRejected         = "offboard-rejected"
	PhaseOffboardCancelled        = "offboard-cancelled"
	PhaseOffboardFailed           = "offboard-failed"
)

// ErrNotThisConfiguration is the error type of a delete refused because the
// object no longer belongs to the domain's configuration (it was re-configured
// for another domain since the inventory): nothing is deleted.
const ErrNotThisConfiguration = "NotThisConfiguration"

// ErrStillVisible is ConfirmRemoved's retryable error while Graph's reads
// still show a deleted object.
const ErrStillVisible = "StillVisible"

// OffboardFailureType is the application error type of a failed offboarding;
// its details hold the OffboardState so far.
const OffboardFailureType = "OffboardingFailed"

// SyncFlagNote is what every offboarding result says of the tenant's flag.
const SyncFlagNote = "onPremisesSyncEnabled left as it is: the flag is tenant-wide (every domain's sync); turn it off in the tenant yourself if no sync remains"

// OffboardInput starts OffboardTenant.
type OffboardInput struct {
	TenantID string `json:"tenantId"`
	Domain   string `json:"domain"`
	// DisplayName, when set, also finds a configuration made by the Entra
	// portal under that name (applicationTemplateId null), as onboarding does.
	DisplayName string `json:"displayName,omitempty"`
	// Approvers: who may approve or reject (empty: anyone), e-mail addresses.
	Approvers []string `json:"approvers,omitempty"`
}

// Normalized lower-cases the tenant and domain as OffboardWorkflowID does.
func (in OffboardInput) Normalized() OffboardInput {
	n := TenantSpec{TenantID: in.TenantID, Domain: in.Domain}.Normalized()
	in.TenantID, in.Domain, in.DisplayName = n.TenantID, n.Domain, strings.TrimSpace(in.DisplayName)
	return in
}

// Validate checks the input as the starter and the workflow both do.
func (in OffboardInput) Validate() error {
	var errs []error
	if err := (TenantSpec{TenantID: in.TenantID, Domain: in.Domain, DisplayName: in.DisplayName}).Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := (WatchOptions{Approvers: in.Approvers}).Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// InventoryInput asks what makes up the configuration of a tenant's domain.
type InventoryInput struct {
	TenantID    string `json:"tenantId"`
	Domain      string `json:"domain"`
	DisplayName string `json:"displayName,omitempty"`
}

// Inventory is the configuration of one domain: what an offboarding removes.
type Inventory struct {
	// Found: a service principal whose Domain secret names the domain.
	Found               bool           `json:"found"`
	ServicePrincipalID  string         `json:"servicePrincipalId,omitempty"`
	AppID               string         `json:"appId,omitempty"`
	ApplicationObjectID string         `json:"applicationObjectId,omitempty"` // "" when the application is not readable
	DisplayName         string         `json:"displayName,omitempty"`
	Jobs                []InventoryJob `json:"jobs,omitempty"`
}

// InventoryJob is one job of the configuration.
type InventoryJob struct {
	ID               string `json:"id"`
	TemplateID       string `json:"templateId"`
	ScheduleState    string `json:"scheduleState,omitempty"`
	StatusCode       string `json:"statusCode,omitempty"`
	QuarantineReason string `json:"quarantineReason,omitempty"`
}

// Lines says what an offboarding would remove, one object a line.
func (inv Inventory) Lines() []string {
	if !inv.Found {
		return nil
	}
	var out []string
	for _, j := range inv.Jobs {
		state := j.ScheduleState + "/" + j.StatusCode
		if j.QuarantineReason != "" {
			state += ", quarantined " + j.QuarantineReason
		}
		out = append(out, fmt.Sprintf("sync job %s (%s, %s)", j.ID, j.TemplateID, state))
	}
	out = append(out, fmt.Sprintf("service principal %s (%q)", inv.ServicePrincipalID, inv.DisplayName))
	if inv.ApplicationObjectID != "" {
		out = append(out, fmt.Sprintf("application %s (appId %s)", inv.ApplicationObjectID, inv.AppID))
	} else {
		out = append(out, fmt.Sprintf("application of appId %s: not readable (deleted already?)", inv.AppID))
	}
	return out
}

// StopWatchingInput ends the watchers of a configuration's jobs (recorded with
// who and why) and cancels the domain's drift check.
type StopWatchingInput struct {
	TenantID string   `json:"tenantId"`
	Domain   string   `json:"domain"`
	JobIDs   []string `json:"jobIds"`
	By       string   `json:"by"`
	Reason   string   `json:"reason"`
}

// DeleteJobInput names a job to delete, with the configuration it must
// still belong to.
type DeleteJobInput struct {
	TenantID           string `json:"tenantId"`
	Domain             string `json:"domain"`
	ServicePrincipalID string `json:"servicePrincipalId"`
	JobID              string `json:"jobId"`
}

// DeleteObjectInput names the service principal or application to delete,
// with the configuration it must still belong to.
type DeleteObjectInput struct {
	TenantID            string `json:"tenantId"`
	Domain              string `json:"domain"`
	ServicePrincipalID  string `json:"servicePrincipalId"`
	AppID               string `json:"appId"`
	ApplicationObjectID string `json:"applicationObjectId,omitempty"`
}

// ConfirmRemovedInput names what was deleted, to wait until Graph's reads
// (by id, and the lookup by domain a re-run makes) no longer show it.
type ConfirmRemovedInput struct {
	TenantID           string `json:"tenantId"`
	Domain             string `json:"domain"`
	DisplayName        string `json:"displayName,omitempty"`
	ServicePrincipalID string `json:"servicePrincipalId"`
	AppID              string `json:"appId"`
}

// OffboardDecisionRequest is the payload of the offboarding updates, e.g.
// temporal workflow update execute --workflow-id 'cloudsync-offboard/<tenant>/<domain>' \
// --name approve-offboard --input '{"approver":"alice@contoso.com","reason":"domain retired"}'.
type OffboardDecisionRequest struct {
	Approver string `json:"approver"`
	Reason   string `json:"reason"`
}

// Validate checks the request's shape, with DecisionRequest's limits.
func (r OffboardDecisionRequest) Validate() error {
	return errors.Join(CheckApprover(r.Approver), checkField("reason", r.Reason, MaxReasonLength))
}

// OffboardDecision is a recorded decision.
type OffboardDecision struct {
	Approve  bool      `json:"approve"`
	Approver string    `json:"approver"`
	Reason   string    `json:"reason"`
	At       time.Time `json:"at"`
}

// OffboardState is what an offboarding publishes in its memo
// (OffboardMemoKey) and returns: the starter reads it with Describe, never a
// query.
type OffboardState struct {
	TenantID      string            `json:"tenantId"`
	Domain        string            `json:"domain"`
	Phase         string            `json:"phase"`
	Inventory     *Inventory        `json:"inventory,omitempty"`
	AwaitingSince time.Time         `json:"awaitingSince,omitempty"`
	Decision      *OffboardDecision `json:"decision,omitempty"`
	Steps         []StepReport      `json:"steps,omitempty"`
	Error         string            `json:"error,omitempty"`
}

// OffboardMemoKey is the memo entry holding the OffboardState.
const OffboardMemoKey = "cloudsyncOffboard"

// Summary is one line for humans.
func (s OffboardState) Summary() string {
	who := ""
	if d := s.Decision; d != nil {
		who = " by " + d.Approver
	}
	switch s.Phase {
	case PhaseNothingToRemove:
		return fmt.Sprintf("tenant %s (%s): nothing to remove (no configuration syncs this domain)", s.TenantID, s.Domain)
	case PhaseOffboarded:
		return fmt.Sprintf("tenant %s (%s): offboarded (approved%s)", s.TenantID, s.Domain, who)
	case PhaseOffboardRejected:
		return fmt.Sprintf("tenant %s (%s): offboarding rejected%s: nothing removed", s.TenantID, s.Domain, who)
	case PhaseOffboardCancelled:
		return fmt.Sprintf("tenant %s (%s): offboarding cancelled", s.TenantID, s.Domain)
	case PhaseAwaitingOffboardApproval:
		return fmt.Sprintf("tenant %s (%s): awaiting approval to remove %d object(s)", s.TenantID, s.Domain, len(s.Inventory.Lines()))
	case PhaseOffboardFailed:
		return fmt.Sprintf("tenant %s (%s): offboarding failed: %s", s.TenantID, s.Domain, s.Error)
	}
	return fmt.Sprintf("tenant %s (%s): %s", s.TenantID, s.Domain, s.Phase)
}

// Settled reports a phase the offboarding ends in.
func (s OffboardState) Settled() bool {
	switch s.Phase {
	case PhaseOffboarded, PhaseNothingToRemove, PhaseOffboardRejected, PhaseOffboardCancelled, PhaseOffboardFailed:
		return true
	}
	return false
}

// OffboardUpdateID is the update id of a decision: the same decision sent
// twice to one run is one update.
func OffboardUpdateID(runID string, approve bool) string {
	if approve {
		return "approve-offboard/" + runID
	}
	return "reject-offboard/" + runID
}
