package view

import (
	"fmt"
	"io"
	"time"

	"github.com/cloudsync/cloudsync/starter/pkg/text"
	"github.com/cloudsync/cloudsync/starter/pkg/visibility"
	"github.com/cloudsync/cloudsync/workflows"
)

// RunView is what a listing or Describe says of one run of a tenant's
// workflow; the views embed it (its fields appear inline in JSON).
type RunView struct {
	WorkflowID string     `json:"workflowId"`
	RunID      string     `json:"runId"`
	TenantID   string     `json:"tenantId"`
	Domain     string     `json:"domain,omitempty"`
	Status     string     `json:"status"`
	Started    time.Time  `json:"started"`
	Closed     *time.Time `json:"closed,omitempty"`
	WebUI      string     `json:"webUi"`
}

func RunOf(c *visibility.Conn, e visibility.Execution) RunView {
	v := RunView{WorkflowID: e.ID, RunID: e.RunID, TenantID: e.Tenant, Domain: e.Domain, Status: visibility.StatusWord(e.Status), Started: e.Start, WebUI: c.Link(e.ID)}
	if !e.Running() && !e.Close.IsZero() {
		closed := e.Close
		v.Closed = &closed
	}
	return v
}

// OffboardView is one offboarding, with the state it publishes in its memo.
type OffboardView struct {
	RunView
	State      *workflows.OffboardState `json:"state,omitempty"`
	StateError string                   `json:"stateError,omitempty"`

	// Exec is the run it shows (for the printer, not in JSON).
	Exec visibility.Execution `json:"-"`
}

func OffboardViewOf(c *visibility.Conn, e visibility.Execution) OffboardView {
	v := OffboardView{RunView: RunOf(c, e), State: e.Offboard, Exec: e}
	if e.StateErr != nil {
		v.StateError = text.OneLine(e.StateErr.Error())
	}
	return v
}

// OnboardingView is one onboarding run: what Describe, its search
// attributes and (once closed) its result or failure say. No query.
type OnboardingView struct {
	WorkflowID string     `json:"workflowId"`
	RunID      string     `json:"runId"`
	Domain     string     `json:"domain,omitempty"`
	Summary    string     `json:"summary,omitempty"`
	Status     string     `json:"status"` // running, completed, failed, terminated, canceled, timedout, continuedasnew
	Outcome    string     `json:"outcome,omitempty"`
	Started    time.Time  `json:"started"`
	Closed     *time.Time `json:"closed,omitempty"`
	WebUI      string     `json:"webUi"`
	// While running: the step, its attempt and last error; Hint when no
	// worker polls the task queue.
	CurrentStep string `json:"currentStep,omitempty"`
	Attempt     int32  `json:"attempt,omitempty"`
	LastError   string `json:"lastError,omitempty"`
	Hint        string `json:"hint,omitempty"`
	// Once closed: every step, and what exists (also after a failure).
	Steps      []workflows.StepReport   `json:"steps,omitempty"`
	Result     *workflows.OnboardResult `json:"result,omitempty"`
	Error      string                   `json:"error,omitempty"`
	Validation string                   `json:"validation,omitempty"`

	// Running says the run is running (for the printer, not in JSON).
	Running bool `json:"-"`
}

// WatcherView is one watcher: visibility or Describe, with the state it
// publishes in its memo (or its result, once completed).
type WatcherView struct {
	RunView
	JobID            string `json:"jobId"`
	Summary          string `json:"summary,omitempty"`
	AwaitingApproval bool   `json:"awaitingApproval"` // its search attribute
	JobState         string `json:"jobState,omitempty"`
	// State is nil when the watcher publishes none; StateError says why it
	// cannot be read (encrypted, no keys).
	State      *workflows.WatchState `json:"state,omitempty"`
	StateError string                `json:"stateError,omitempty"`
	// Error: how a failed, terminated, timed-out or canceled watcher ended.
	Error string `json:"error,omitempty"`

	// Running says the run is running (for the printer, not in JSON).
	Running bool `json:"-"`
}

// WatcherViewOf is a watcher as a listing or Describe shows it; result, when
// given, is its final state.
func WatcherViewOf(c *visibility.Conn, e visibility.Execution, result *workflows.WatchState) WatcherView {
	v := WatcherView{RunView: RunOf(c, e), JobID: e.JobID(), AwaitingApproval: e.Awaiting, JobState: e.JobState, State: e.State, Running: e.Running()}
	switch {
	case result != nil:
		v.State = result
	case e.StateErr != nil:
		v.StateError = text.OneLine(e.StateErr.Error())
	}
	return v
}

// PrintOnboarding prints one onboarding run.
func PrintOnboarding(w io.Writer, v OnboardingView) {
	row := func(k, val string) {
		if val != "" {
			fmt.Fprintf(w, "%-14s %s\n", k+":", val)
		}
	}
	row("workflow id", v.WorkflowID)
	row("run id", v.RunID)
	row("summary", v.Summary)
	row("status", v.Status)
	row("outcome", v.Outcome)
	row("started", v.Started.Local().Format(time.RFC3339))
	if v.Closed != nil {
		row("closed", fmt.Sprintf("%s (took %s)", v.Closed.Local().Format(time.RFC3339), v.Closed.Sub(v.Started).Round(time.Second)))
	}
	row("web ui", v.WebUI)
	switch {
	case v.Running:
		row("current step", WithAttempt(v.CurrentStep, v.Attempt))
		row("last error", text.OneLine(v.LastError))
		if v.Hint != "" {
			row("progress", v.Hint)
		} else {
			row("steps", "listed when it ends (each step's outcome is on the Web UI page meanwhile)")
		}
	case v.Error == "":
		row("current step", v.CurrentStep)
		PrintSteps(w, v.Steps)
		if v.Result != nil {
			fmt.Fprintln(w, "result:        "+v.Result.Summary())
			PrintResult(w, *v.Result)
		}
	default:
		row("error", v.Error)
		if v.Result != nil {
			PrintSteps(w, v.Steps)
			fmt.Fprintln(w, "what exists now (a re-run after the fix reuses it):")
			PrintResult(w, *v.Result)
		}
		if v.Validation != "" {
			fmt.Fprintln(w, v.Validation)
		}
	}
}

func WithAttempt(step string, attempt int32) string {
	if step == "" || attempt <= 1 {
		return step
	}
	return fmt.Sprintf("%s (attempt %d)", step, attempt)
}

func PrintSteps(w io.Writer, steps []workflows.StepReport) {
	if len(steps) == 0 {
		fmt.Fprintln(w, "steps:         none yet")
		return
	}
	fmt.Fprintln(w, "steps:")
	for _, s := range steps {
		fmt.Fprintln(w, StepLine(s))
	}
}
