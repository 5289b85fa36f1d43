package workflows

import (
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"strings"
	"time"

	"github.com/cloudsync/cloudsync/internal/clip"
)

// The watching contract. One WatchSyncJob entity per job holds the job's
// state, presents quarantine episodes to humans and acts on their decisions;
// it is idle between changes. Detection is batched: WatchPoller workflows
// (one per shard) run a long PollShard activity that lists each watched
// service principal's jobs once per interval and signals a watcher
// (ObservedSignal) only when something it acts on changed.

// Watch defaults.
const (
	DefaultReminderInterval = 4 * time.Hour
	// DefaultSilentAfter: a watcher that heard nothing from the poller for this
	// long says so (the poller refreshes every watcher at least every 12 h).
	DefaultSilentAfter      = 25 * time.Hour
	DefaultMaxHistoryEvents = 10000
	maxDecisionsKept        = 20
)

// Limits on what a decision or a watcher's options may carry, enforced by the
// CLI and again by the workflow (a plain `temporal workflow signal` bypasses the
// CLI).
const (
	MaxApproverLength   = 254 // an e-mail address
	MaxReasonLength     = 1000
	MaxApprovers        = 50
	MinReminderInterval = time.Minute
)

// WatchOptions configure a WatchSyncJob. How often jobs are polled is the
// worker's configuration (one poller for the fleet), not a watcher's.
type WatchOptions struct {
	ReminderInterval time.Duration `json:"reminderInterval,omitempty"` // default 4h
	SilentAfter      time.Duration `json:"silentAfter,omitempty"`      // default 25h
	Approvers        []string      `json:"approvers,omitempty"`        // empty: anyone may approve
	// Webhook names a notification target configured on the worker
	// (--webhook name=url); the URL, a secret, never enters a workflow.
	Webhook string `json:"webhook,omitempty"`
	// MaxHistoryEvents continues as new before the server suggests it
	// (default 10,000; tests set it low).
	MaxHistoryEvents int `json:"maxHistoryEvents,omitempty"`
}

var webhookNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// ValidWebhookName reports whether name can name a webhook (--webhook name=url).
func ValidWebhookName(name string) bool { return webhookNameRE.MatchString(name) }

// WebhookNameProblem says why name is not a webhook name, without repeating
// it when it looks like a URL: a webhook URL is a secret (its path is often
// the token), so it must not reach a terminal, a log or a history.
func WebhookNameProblem(name string) string {
	if strings.Contains(name, "://") || strings.Contains(name, "/") {
		return "a URL is not a webhook name: the URL is a secret and stays on the worker (worker --webhook name=url); give the name"
	}
	return fmt.Sprintf("%q is not a webhook name: lower-case letters, digits, . _ - (the name given to the worker's --webhook name=url)", clipText(name))
}

// Validate checks options as the CLI and the workflow both do.
func (o WatchOptions) Validate() error {
	var errs []error
	if o.ReminderInterval != 0 && o.ReminderInterval < MinReminderInterval {
		errs = append(errs, fmt.Errorf("reminder interval %s is too short: at least %s", o.ReminderInterval, MinReminderInterval))
	}
	if o.Webhook != "" && !ValidWebhookName(o.Webhook) {
		errs = append(errs, errors.New("webhook: "+WebhookNameProblem(o.Webhook)))
	}
	if len(o.Approvers) > MaxApprovers {
		errs = append(errs, fmt.Errorf("%d approvers: at most %d (use a group address)", len(o.Approvers), MaxApprovers))
	}
	for _, a := range o.Approvers {
		if err := CheckApprover(a); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// approverRE is an e-mail address, as far as a decision's approver needs one:
// the name the watcher compares with its approvers and records.
var approverRE = regexp.MustCompile(`^[^@\s,;<>"]+@[^@\s,;<>"]+\.[^@\s,;<>".]+$`)

// CheckApprover checks an approver (of watch options or of a decision): an
// e-mail address such as alice@contoso.com. The starter and the workflow both
// use it, so a name the watcher would refuse is refused before it is sent.
func CheckApprover(a string) error {
	if err := checkField("approver", a, MaxApproverLength); err != nil {
		return err
	}
	if !approverRE.MatchString(strings.TrimSpace(a)) {
		return fmt.Errorf("approver %q is not an e-mail address (e.g. alice@contoso.com)", clipText(strings.TrimSpace(a)))
	}
	return nil
}

// OrDefault is v, or d when v is unset (zero or negative): how options fill
// in their defaults.
func OrDefault[T ~int | ~int64](v, d T) T {
	if v <= 0 {
		return d
	}
	return v
}

// WithDefaults fills unset watch options.
func (o WatchOptions) WithDefaults() WatchOptions {
	o.ReminderInterval = OrDefault(o.ReminderInterval, DefaultReminderInterval)
	o.SilentAfter = OrDefault(o.SilentAfter, DefaultSilentAfter)
	o.MaxHistoryEvents = OrDefault(o.MaxHistoryEvents, DefaultMaxHistoryEvents)
	return o
}

// Watcher phases (search attribute CloudSyncJobState carries the job's status
// code, CloudSyncPhase the phase; CloudSyncAwaitingApproval is true only in PhaseAwaitingApproval).
const (
	PhaseWatching         = "watching"
	PhaseAwaitingApproval = "awaiting-delete-approval"
	PhaseRejected         = "deletes-rejected"
	PhaseRestarting       = "restarting-with-force-deletes"
	PhaseQuarantined      = "quarantined" // other reasons: the admin must act, no approval applies
	PhaseUnreachable      = "unreachable" // Graph refuses the poller (consent, credential) or answers nonsense
	PhaseEnded            = "ended"
)

// WatchInput starts (or continues) a WatchSyncJob.
type WatchInput struct {
	TenantID           string       `json:"tenantId"`
	Domain             string       `json:"domain,omitempty"`
	ServicePrincipalID string       `json:"servicePrincipalId"`
	JobID              string       `json:"jobId"`
	Options            WatchOptions `json:"options"`
	// LookFirst: the watcher looks at the job itself before waiting for the
	// poller (starter watch: so it can say at once whether the job exists).
	LookFirst bool `json:"lookFirst,omitempty"`
	// State is carried across continue-as-new; nil on the first run.
	State *WatchState `json:"state,omitempty"`
}

// WatchMemoKey is the memo entry of a watcher that tells the poller what to
// poll (registration is simply a running watcher).
const WatchMemoKey = "cloudsyncWatch"

// WatchTarget is that memo entry.
type WatchTarget struct {
	TenantID           string `json:"tenantId"`
	ServicePrincipalID string `json:"servicePrincipalId"`
	JobID              string `json:"jobId"`
}

// ServicePrincipalKey groups a tenant's watchers by service principal: the
// poller lists each service principal's jobs once, in one shard.
func (t WatchTarget) ServicePrincipalKey() string {
	return strings.ToLower(t.TenantID) + "/" + strings.ToLower(t.ServicePrincipalID)
}

// Target is what the poller needs of a watcher.
func (in WatchInput) Target() WatchTarget {
	return WatchTarget{TenantID: in.TenantID, ServicePrincipalID: in.ServicePrincipalID, JobID: in.JobID}
}

// WatchMemo is the memo to start a watcher with: what the poller polls and,
// for a new watcher, the state it would publish first (set at start it costs
// no action; the watcher publishes only what differs from it).
func WatchMemo(in WatchInput) map[string]any {
	m := map[string]any{WatchMemoKey: in.Target()}
	if in.State == nil {
		m[WatchStateMemoKey] = newWatchState().Published()
	}
	return m
}

// newWatchState is a new watcher's state, before anything happened.
func newWatchState() WatchState { return WatchState{Phase: PhaseWatching, Runs: 1} }

// Episode is one quarantine for too many deletes: Graph keeps seriesBegan
// while it re-evaluates the same quarantine (currentBegan moves) and resets it
// once the quarantine is lifted. A decision applies to one episode only.
type Episode struct {
	JobID       string    `json:"jobId"`
	SeriesBegan time.Time `json:"seriesBegan"`
}

// ID names the episode in decisions, update ids and the CLI.
func (e Episode) ID() string { return e.JobID + "@" + e.SeriesBegan.UTC().Format(time.RFC3339Nano) }

// DecisionUpdateID is the update id of a decision on an episode: the same
// decision sent twice is one update (Temporal answers the second with the
// first's result).
func DecisionUpdateID(episodeID string, approve bool) string {
	verb := "reject"
	if approve {
		verb = "approve"
	}
	return verb + "/" + episodeID
}

// JobStatus is what a watcher keeps of a job's status.
type JobStatus struct {
	// Missing: the job (or its service principal) is not in Graph's list;
	// MissingSince says since when. Gone: missing for longer than the poller's
	// gone-after (default 15 min): new jobs and replication lag look missing
	// for a while, so one 404 never ends a watcher.
	Missing      bool      `json:"missing,omitempty"`
	MissingSince time.Time `json:"missingSince,omitempty"`
	Gone         bool      `json:"gone,omitempty"`
	// Unreachable: Graph refused the poller repeatedly (401/403: consent
	// revoked, credential gone) or answered what cannot be parsed.
	Unreachable        string           `json:"unreachable,omitempty"`
	ScheduleState      string           `json:"scheduleState,omitempty"`
	StatusCode         string           `json:"statusCode,omitempty"`
	QuarantineReason   string           `json:"quarantineReason,omitempty"`
	QuarantineError    string           `json:"quarantineError,omitempty"` // error code
	QuarantineMessage  string           `json:"quarantineMessage,omitempty"`
	TenantActionable   bool             `json:"tenantActionable,omitempty"`
	QuarantineSince    time.Time        `json:"quarantineSince,omitempty"` // currentBegan: moves at each re-evaluation
	SeriesBegan        time.Time        `json:"seriesBegan,omitempty"`     // the episode's key
	LastExecutionState string           `json:"lastExecutionState,omitempty"`
	LastExecutionEnded time.Time        `json:"lastExecutionEnded,omitempty"`
	LastExecutionError string           `json:"lastExecutionError,omitempty"`
	CountExported      int64            `json:"countExported,omitempty"`
	EntryCounts        map[string]int64 `json:"entryCounts,omitempty"`
	ObservedAt         time.Time        `json:"observedAt"`
}

// Healthy is a running job without quarantine.
func (s JobStatus) Healthy() bool {
	return !s.Missing && !s.Gone && s.StatusCode == "Active" && s.QuarantineReason == ""
}

// Paused is a job an admin paused.
func (s JobStatus) Paused() bool { return s.ScheduleState == "Paused" }

// Episode is the job's TooManyDeletes episode, if it is in one.
func (s JobStatus) Episode(jobID string) (Episode, bool) {
	if s.QuarantineReason != "TooManyDeletes" || s.Missing || s.Gone || s.Unreachable != "" {
		return Episode{}, false
	}
	return Episode{JobID: jobID, SeriesBegan: s.SeriesBegan.UTC()}, true
}

// Fingerprint is what a watcher acts on: the poller signals only when it
// changes. Counts, times and re-evaluations of the same quarantine series
// (currentBegan) leave it alone.
func (s JobStatus) Fingerprint() string {
	return fmt.Sprintf("%t|%t|%t|%s|%s|%s|%s|%s|%s", s.Missing, s.Gone, s.Unreachable != "", s.ScheduleState, s.StatusCode,
		s.QuarantineReason, s.QuarantineError, s.SeriesBegan.UTC().Format(time.RFC3339Nano), s.LastExecutionState)
}

// ShardOf assigns a key (a service principal's, see WatchTarget) to a poller shard.
func ShardOf(key string, shards int) int {
	if shards <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(shards))
}

// Decision is an approval or rejection, as recorded in the history.
type Decision struct {
	Approve bool `json:"approve"`
	// Resume: an operator started the job again (ResumeUpdate), not a
	// decision on deletions.
	Resume   bool      `json:"resume,omitempty"`
	Approver string    `json:"approver"`
	Reason   string    `json:"reason"`
	Episode  string    `json:"episode,omitempty"` // the episode it applied to (or was sent for)
	At       time.Time `json:"at,omitempty"`
	// Outcome: "restart-issued", "rejected", "refused: <why>" (the restart
	// found another episode), "restart failed: <why>", "not acted upon: <why>".
	Outcome string `json:"outcome,omitempty"`
}

// Decision outcomes and prefixes.
const (
	OutcomeRestartIssued = "restart-issued"
	OutcomeRejected      = "rejected"
	OutcomeRefused       = "refused: "
	OutcomeNotActedUpon  = "not acted upon: "
)

// Acted reports a decision that settled its episode.
func (d Decision) Acted() bool {
	return d.Outcome == OutcomeRestartIssued || d.Outcome == OutcomeRejected
}

// DecisionRequest is the payload of the approve/reject signals and updates,
// e.g. temporal workflow signal --name approve-deletes --input
// '{"approver":"alice@contoso.com","reason":"HR cleanup","episode":"<job>@<seriesBegan>"}'.
// Without an episode, it binds to the episode presented when it is received.
type DecisionRequest struct {
	Approver string `json:"approver"`
	Reason   string `json:"reason"`
	Episode  string `json:"episode,omitempty"`
}

// Validate checks a request's shape (not whether anything awaits it).
func (r DecisionRequest) Validate() error {
	return errors.Join(CheckApprover(r.Approver), checkField("reason", r.Reason, MaxReasonLength),
		checkLength("episode", r.Episode, 600))
}

// UnwatchRequest ends a watcher.
type UnwatchRequest struct {
	By     string `json:"by"`
	Reason string `json:"reason"`
}

// Validate checks the request's shape.
func (r UnwatchRequest) Validate() error {
	return errors.Join(checkField("by", r.By, MaxApproverLength), checkField("reason", r.Reason, MaxReasonLength))
}

// ResumeRequest asks a watcher to start its job again (after the cause of a
// rejected quarantine was fixed on-premises, or to undo a pause). Same shape
// as UnwatchRequest: who and why, recorded.
type ResumeRequest = UnwatchRequest

// ResumeInput asks the ResumeJob activity to start a job.
type ResumeInput struct {
	TenantID           string `json:"tenantId"`
	ServicePrincipalID string `json:"servicePrincipalId"`
	JobID              string `json:"jobId"`
	By                 string `json:"by"`
	Reason             string `json:"reason"`
	// Rejected is the episode a human rejected: only a quarantine of that
	// very episode may be lifted by a start. Any other TooManyDeletes
	// quarantine (one nobody has seen yet) is refused.
	Rejected string `json:"rejected,omitempty"`
}

// ResumeResult says what the start did; Job is the job's status before it.
type ResumeResult struct {
	Started bool `json:"started"`
	// Refused: the job is in a TooManyDeletes episode nobody rejected.
	Refused bool      `json:"refused,omitempty"`
	Detail  string    `json:"detail"`
	Job     JobStatus `json:"job"`
}

func checkField(name, v string, max int) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("%s is required", name)
	}
	return checkLength(name, v, max)
}

func checkLength(name, v string, max int) error {
	if len(v) > max {
		return fmt.Errorf("%s is %d characters long: at most %d", name, len(v), max)
	}
	return nil
}

func clipText(s string) string { return clip.To(s, 40, 40, "…") }

// WatchState is the watcher's state: what the status query answers, and what
// continue-as-new carries.
type WatchState struct {
	Phase string    `json:"phase"`
	Job   JobStatus `json:"job"`
	// Presented is the episode awaiting a decision (nil when none).
	Presented     *Episode   `json:"presented,omitempty"`
	AwaitingSince time.Time  `json:"awaitingSince,omitempty"`
	Reminders     int        `json:"reminders,omitempty"`
	Advice        string     `json:"advice,omitempty"`
	Decisions     []Decision `json:"decisions,omitempty"` // the most recent ones (history holds all)
	Observations  int64      `json:"observations"`        // changes the poller reported
	LastHeard     time.Time  `json:"lastHeard,omitempty"` // last observation from the poller
	Silent        bool       `json:"silent,omitempty"`    // the poller has been silent for SilentAfter
	Runs          int        `json:"runs"`                // continue-as-new count + 1
	Outcome       string     `json:"outcome,omitempty"`   // when ended
	// FirstLook is why the first look (LookFirst) failed, if it did.
	FirstLook string `json:"firstLook,omitempty"`
}

// WatchStateMemoKey is the memo entry where a watcher publishes its state
// (Published), so the starter reads it from Describe and visibility listings
// instead of the status query (each query is a billed action).
const WatchStateMemoKey = "cloudsyncWatchState"

// publishedDecisions is how many recent decisions the memo carries.
const publishedDecisions = 3

// Published is the state as the memo carries it: the most recent decisions only.
func (s WatchState) Published() WatchState {
	if n := len(s.Decisions); n > publishedDecisions {
		s.Decisions = append([]Decision(nil), s.Decisions[n-publishedDecisions:]...)
	}
	return s
}

// LastDecision is the most recent decision, if any.
func (s WatchState) LastDecision() (Decision, bool) {
	if len(s.Decisions) == 0 {
		return Decision{}, false
	}
	return s.Decisions[len(s.Decisions)-1], true
}

// decided finds the decision that settled an episode.
func (s WatchState) decided(episodeID string) (Decision, bool) {
	for i := len(s.Decisions) - 1; i >= 0; i-- {
		if d := s.Decisions[i]; d.Episode == episodeID && d.Acted() {
			return d, true
		}
	}
	return Decision{}, false
}

// PollerWorkflowID names a poller shard's workflow; deployments that share a
// namespace on different task queues each have their own pollers.
func PollerWorkflowID(taskQueue string, shard int) string {
	return fmt.Sprintf("cloudsync-poller/%s/%d", taskQueue, shard)
}

// PollerInput starts a WatchPoller.
type PollerInput struct {
	Shard int `json:"shard"`
	// HeartbeatTimeout of the long poll activity (default 5 min): how soon a
	// crashed worker's shard moves to another worker.
	HeartbeatTimeout time.Duration `json:"heartbeatTimeout,omitempty"`
	Runs             int           `json:"runs,omitempty"`
}

// DefaultPollerHeartbeatTimeout is PollerInput's default.
const DefaultPollerHeartbeatTimeout = 5 * time.Minute

// PollShardInput asks for one shard's polling until the worker's refresh
// interval ends it.
type PollShardInput struct {
	Shard int `json:"shard"`
}

// PollShardResult ends one PollShard run.
type PollShardResult struct {
	// Retired: the worker is configured with fewer shards than this one.
	Retired bool  `json:"retired,omitempty"`
	Polls   int64 `json:"polls"`
	Signals int64 `json:"signals"`
}

// RestartInput asks for a ForceDeletes restart on behalf of an approval of
// one episode.
type RestartInput struct {
	TenantID           string   `json:"tenantId"`
	ServicePrincipalID string   `json:"servicePrincipalId"`
	JobID              string   `json:"jobId"`
	Episode            Episode  `json:"episode"`
	Decision           Decision `json:"decision"`
}

// RestartResult says whether the restart was sent; when it was refused, Job is
// what the job showed instead.
type RestartResult struct {
	Restarted bool      `json:"restarted"`
	Detail    string    `json:"detail"`
	Job       JobStatus `json:"job"`
}

// Notification is one message to the humans in charge.
type Notification struct {
	TenantID   string    `json:"tenantId"`
	Domain     string    `json:"domain,omitempty"`
	JobID      string    `json:"jobId"`
	WorkflowID string    `json:"workflowId"`
	Kind       string    `json:"kind"` // awaiting-approval | reminder | quarantined | recovered | decision | unreachable | silent | ended | drift | drift-repaired
	Message    string    `json:"message"`
	Job        JobStatus `json:"job"`
	Webhook    string    `json:"webhook,omitempty"` // a name configured on the worker
	// Drift lists the drift kinds of a drift notification ("none" when repaired).
	Drift []string `json:"drift,omitempty"`
}

// ErrUnknownWebhook is Notify's error type for a webhook name the worker does
// not know.
const ErrUnknownWebhook = "UnknownWebhook"
