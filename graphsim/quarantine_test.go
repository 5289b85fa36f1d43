package graphsim

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// quarantineView is a job's status.quarantine as Graph answers it (nil when healthy).
type quarantineView struct {
	Reason                                 string
	SeriesBegan, CurrentBegan, NextAttempt time.Time
	SeriesCount                            int
}

func (c *caller) quarantine(sp, id string) *quarantineView {
	c.t.Helper()
	q, _ := c.job(sp, id)["status"].(map[string]any)["quarantine"].(map[string]any)
	if q == nil {
		return nil
	}
	at := func(k string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, q[k].(string))
		require.NoError(c.t, err, "%s", k)
		return v
	}
	return &quarantineView{Reason: q["reason"].(string), SeriesBegan: at("seriesBegan"), CurrentBegan: at("currentBegan"),
		NextAttempt: at("nextAttempt"), SeriesCount: int(q["seriesCount"].(float64))}
}

// deletesSetup makes a running provisioning job with a delete threshold of 5.
func deletesSetup(t *testing.T, opts Options) (*Server, *caller, string, string) {
	t.Helper()
	s := newSim(t, opts)
	c := newCaller(t, s, tenantA)
	sp := c.instantiate("quarantine")
	prov := c.createJob(sp, "AD2AADProvisioning")
	r := c.do("PUT", "/servicePrincipals/"+sp+"/synchronization/secrets", map[string]any{"value": []any{
		map[string]any{"key": "SyncNotificationSettings", "value": `{"Enabled":false,"DeleteThresholdEnabled":true,"DeleteThresholdValue":5}`},
	}})
	require.Equal(t, 204, r.Status, "%s", r.Body)
	require.Equal(t, 204, c.do("POST", "/servicePrincipals/"+sp+"/synchronization/jobs/"+prov+"/start", nil).Status)
	return s, c, sp, prov
}

func sameTime(t *testing.T, want, got time.Time) {
	t.Helper()
	require.True(t, want.Equal(got), "want %s, got %s", want, got)
}

func jobStateOf(t *testing.T, s *Server, id string) JobState {
	t.Helper()
	for _, j := range s.Snapshot(tenantA).Jobs {
		if j.ID == id {
			return j
		}
	}
	t.Fatalf("job %s not found", id)
	return JobState{}
}

// Graph re-evaluates a quarantine periodically: the same series goes on
// (seriesBegan stays, seriesCount grows, currentBegan and nextAttempt move)
// while the cause lasts, and the quarantine is lifted once it is gone.
func TestQuarantineReevaluation(t *testing.T) {
	const every = 300 * time.Millisecond
	s, c, sp, prov := deletesSetup(t, Options{SyncInterval: 20 * time.Millisecond, JobReadLag: -1, QuarantineReevaluation: every})
	require.NoError(t, s.StageDeletions(tenantA, prov, 5))
	require.Eventually(t, func() bool { return jobStateOf(t, s, prov).StatusCode == "Quarantine" }, 3*time.Second, 10*time.Millisecond)
	q1 := c.quarantine(sp, prov)
	require.Equal(t, "TooManyDeletes", q1.Reason)
	require.Equal(t, 1, q1.SeriesCount)
	sameTime(t, q1.SeriesBegan, q1.CurrentBegan)
	sameTime(t, q1.CurrentBegan.Add(every), q1.NextAttempt)
	js := jobStateOf(t, s, prov)
	sameTime(t, q1.SeriesBegan, js.QuarantineSeriesBegan)
	sameTime(t, q1.CurrentBegan, js.QuarantineCurrentBegan)
	require.Equal(t, 1, js.QuarantineSeriesCount)
	cycles := js.Cycles

	// Not before nextAttempt: the ticks in between leave it alone.
	waitTicks(t, s, 3)
	js = jobStateOf(t, s, prov)
	require.True(t, time.Now().Before(q1.NextAttempt), "the ticks came before the next attempt (machine too slow?)")
	require.Equal(t, cycles, js.Cycles)

	var q2 *quarantineView
	require.Eventually(t, func() bool { q2 = c.quarantine(sp, prov); return q2.SeriesCount >= 2 }, 3*time.Second, 20*time.Millisecond)
	require.Equal(t, "TooManyDeletes", q2.Reason)
	sameTime(t, q1.SeriesBegan, q2.SeriesBegan)
	require.False(t, q2.CurrentBegan.Before(q1.NextAttempt), "re-evaluated when due: %s < %s", q2.CurrentBegan, q1.NextAttempt)
	sameTime(t, q2.CurrentBegan.Add(every), q2.NextAttempt)
	require.Equal(t, 5, jobStateOf(t, s, prov).PendingDeletions, "still held")
	require.Equal(t, "Quarantine", jobStateOf(t, s, prov).StatusCode)

	// The cause gone (threshold raised): the next re-evaluation lifts it and
	// the deletions flow.
	r := c.do("PUT", "/servicePrincipals/"+sp+"/synchronization/secrets", map[string]any{"value": []any{
		map[string]any{"key": "SyncNotificationSettings", "value": `{"Enabled":false,"DeleteThresholdEnabled":true,"DeleteThresholdValue":50}`},
	}})
	require.Equal(t, 204, r.Status)
	require.Eventually(t, func() bool { return jobStateOf(t, s, prov).StatusCode == "Active" }, 3*time.Second, 20*time.Millisecond)
	require.Nil(t, c.quarantine(sp, prov))
	require.Equal(t, 5, jobStateOf(t, s, prov).AppliedDeletions)

	// Causes outside the simulator (credentials) persist: imposed again.
	require.NoError(t, s.Quarantine(tenantA, prov, "EncounteredQuarantineException", "AzureActiveDirectoryInvalidCredential"))
	q3 := c.quarantine(sp, prov)
	require.Eventually(t, func() bool { return c.quarantine(sp, prov).SeriesCount >= 2 }, 3*time.Second, 20*time.Millisecond)
	q4 := c.quarantine(sp, prov)
	require.Equal(t, "EncounteredQuarantineException", q4.Reason)
	sameTime(t, q3.SeriesBegan, q4.SeriesBegan)
	require.True(t, q4.CurrentBegan.After(q3.CurrentBegan))
	require.Empty(t, s.Violations())
}

// The default re-evaluation is about daily; the knob is also a runtime fault.
func TestQuarantineReevaluationDefaultAndKnob(t *testing.T) {
	s := newSim(t, Options{})
	require.Equal(t, DefaultQuarantineReevaluation, s.CurrentFaults().QuarantineReevaluation)
	b, err := json.Marshal(s.CurrentFaults())
	require.NoError(t, err)
	require.Contains(t, string(b), `"quarantineReevaluation":"24h0m0s"`)
	require.Contains(t, string(b), `"jobReadLag":"2s"`)

	c := newCaller(t, s, tenantA)
	sp := c.instantiate("knob")
	prov := c.createJob(sp, "AD2AADProvisioning")
	before := time.Now()
	require.NoError(t, s.Quarantine(tenantA, prov, "TooManyDeletes", "DeleteThresholdExceeded"))
	js := jobStateOf(t, s, prov)
	require.WithinDuration(t, before.Add(DefaultQuarantineReevaluation), js.QuarantineNextAttempt, time.Minute)

	ctl := &caller{t: t, s: s, c: httpClient(s)}
	r := ctl.do("POST", s.ControlURL()+"/faults", map[string]any{"quarantineReevaluation": "250ms", "jobReadLag": "0s"})
	require.Equal(t, 200, r.Status, "%s", r.Body)
	require.Equal(t, Faults{QuarantineReevaluation: 250 * time.Millisecond}, s.CurrentFaults())
	before = time.Now()
	require.NoError(t, s.Quarantine(tenantA, prov, "TooManyDeletes", "DeleteThresholdExceeded"))
	require.WithinDuration(t, before.Add(250*time.Millisecond), jobStateOf(t, s, prov).QuarantineNextAttempt, 100*time.Millisecond)
}

// "If the job is in quarantine, the quarantine status is cleared" by start.
// For TooManyDeletes that sidesteps the accidental-delete protection: recorded.
// The deletions still pending quarantine the job again, in a new series.
func TestStartLiftsAnyQuarantine(t *testing.T) {
	s, c, sp, prov := deletesSetup(t, Options{SyncInterval: 20 * time.Millisecond, JobReadLag: -1})
	base := "/servicePrincipals/" + sp + "/synchronization/jobs/" + prov
	require.NoError(t, s.StageDeletions(tenantA, prov, 5))
	require.Eventually(t, func() bool { return jobStateOf(t, s, prov).StatusCode == "Quarantine" }, 3*time.Second, 10*time.Millisecond)
	q1 := c.quarantine(sp, prov)

	require.Equal(t, 204, c.do("POST", base+"/start", nil).Status)
	v := violationsOf(s, ViolationStartLiftedQuarantine)
	require.Len(t, v, 1)
	require.Equal(t, "start on quarantined job "+prov+" (reason TooManyDeletes): the quarantine was lifted", v[0].Detail)
	require.Equal(t, tenantA, v[0].Tenant)
	require.Empty(t, violationsOf(s, ViolationStartOnRunningJob))

	require.Eventually(t, func() bool {
		q := c.quarantine(sp, prov)
		return q != nil && q.SeriesBegan.After(q1.SeriesBegan)
	}, 3*time.Second, 10*time.Millisecond)
	q2 := c.quarantine(sp, prov)
	require.Equal(t, "TooManyDeletes", q2.Reason)
	require.Equal(t, 1, q2.SeriesCount, "a new series")
	require.Equal(t, 5, jobStateOf(t, s, prov).PendingDeletions)

	// Other reasons are lifted too, without a violation.
	require.NoError(t, s.Quarantine(tenantA, prov, "EncounteredQuarantineException", "HybridIdentityServiceNoActiveAgents"))
	r := c.do("PUT", "/servicePrincipals/"+sp+"/synchronization/secrets", map[string]any{"value": []any{
		map[string]any{"key": "SyncNotificationSettings", "value": `{"Enabled":false,"DeleteThresholdEnabled":false}`},
	}})
	require.Equal(t, 204, r.Status)
	require.Equal(t, 204, c.do("POST", base+"/start", nil).Status)
	require.Len(t, violationsOf(s, ViolationStartLiftedQuarantine), 1)
	js := jobStateOf(t, s, prov)
	require.Equal(t, "Active", js.StatusCode)
	require.Empty(t, js.QuarantineReason)
	require.True(t, js.QuarantineSeriesBegan.IsZero())
}

// A quarantine lifted by a restart (ForceDeletes, QuarantineState) ends its
// series: the next TooManyDeletes quarantine begins a new one.
func TestQuarantineSeriesEndsWithRestart(t *testing.T) {
	s, c, sp, prov := deletesSetup(t, Options{SyncInterval: 20 * time.Millisecond, JobReadLag: -1})
	base := "/servicePrincipals/" + sp + "/synchronization/jobs/" + prov
	restart := func(scope string) {
		t.Helper()
		r := c.do("POST", base+"/restart", map[string]any{"criteria": map[string]any{"resetScope": scope}})
		require.Equal(t, 204, r.Status, "%s", r.Body)
	}
	quarantinedAfter := func(t0 time.Time) *quarantineView {
		t.Helper()
		var q *quarantineView
		require.Eventually(t, func() bool {
			q = c.quarantine(sp, prov)
			return q != nil && q.SeriesBegan.After(t0)
		}, 3*time.Second, 10*time.Millisecond)
		return q
	}

	require.NoError(t, s.StageDeletions(tenantA, prov, 5))
	q1 := quarantinedAfter(time.Time{})
	require.Equal(t, 1, q1.SeriesCount)

	// ForceDeletes: the deletions go through; new ones at the threshold
	// start a new series.
	restart("ForceDeletes")
	require.Nil(t, c.quarantine(sp, prov))
	require.NoError(t, s.StageDeletions(tenantA, prov, 6))
	q2 := quarantinedAfter(q1.SeriesBegan)
	require.Equal(t, 1, q2.SeriesCount)
	require.Equal(t, 5, jobStateOf(t, s, prov).AppliedDeletions)

	// QuarantineState: lifted, and the pending deletions quarantine it again
	// at the next cycle, in a new series.
	restart("QuarantineState")
	q3 := quarantinedAfter(q2.SeriesBegan)
	require.Equal(t, "TooManyDeletes", q3.Reason)
	require.Equal(t, 1, q3.SeriesCount)
	require.Equal(t, 6, jobStateOf(t, s, prov).PendingDeletions)
	require.Empty(t, s.Violations())
}

// A new job is in the list at once but answers GET by id with 404 (the back
// end's SynchronizationJobNotFound) for JobReadLag; its other routes work.
func TestJobReadLag(t *testing.T) {
	const lag = 400 * time.Millisecond
	s := newSim(t, Options{JobReadLag: lag})
	require.Equal(t, lag, s.CurrentFaults().JobReadLag)
	c := newCaller(t, s, tenantA)
	sp := c.instantiate("read-lag")
	created := time.Now()
	prov := c.createJob(sp, "AD2AADProvisioning")
	base := "/servicePrincipals/" + sp + "/synchronization/jobs"

	r := c.do("GET", base+"/"+prov, nil)
	require.Equal(t, 404, r.Status, "%s", r.Body)
	require.Equal(t, "UnknownError", r.errCode(t))
	require.Contains(t, r.errMessage(t), `"code":"SynchronizationJobNotFound"`)
	require.Contains(t, r.errMessage(t), prov)
	require.Len(t, c.do("GET", base, nil).json(t)["value"], 1, "listed at once")
	require.Equal(t, 200, c.do("GET", base+"/"+prov+"/schema", nil).Status)
	require.Equal(t, 204, c.do("POST", base+"/"+prov+"/start", nil).Status)

	require.Eventually(t, func() bool { return c.do("GET", base+"/"+prov, nil).Status == 200 }, 3*time.Second, 20*time.Millisecond)
	require.GreaterOrEqual(t, time.Since(created), lag)
	// Readable from then on.
	for i := 0; i < 5; i++ {
		require.Equal(t, 200, c.do("GET", base+"/"+prov, nil).Status)
	}

	// The default, none, and the runtime knob.
	require.Equal(t, DefaultJobReadLag, newSim(t, Options{}).CurrentFaults().JobReadLag)
	require.Zero(t, newSim(t, Options{JobReadLag: -1}).CurrentFaults().JobReadLag)
	s.SetFaults(Faults{JobReadLag: time.Hour})
	require.Equal(t, 404, c.do("GET", base+"/"+prov, nil).Status, "an hour after creation")
	s.SetFaults(Faults{})
	require.Equal(t, 200, c.do("GET", base+"/"+prov, nil).Status)
}

// An admin pauses a job (the portal's pause): through the control API or Go.
func TestControlPauseJob(t *testing.T) {
	s := newSim(t, Options{JobReadLag: -1, SyncInterval: time.Hour})
	c := newCaller(t, s, tenantA)
	sp := c.instantiate("pause")
	prov := c.createJob(sp, "AD2AADProvisioning")
	phs := c.createJob(sp, "AD2AADPasswordHash")
	base := "/servicePrincipals/" + sp + "/synchronization/jobs/"
	require.Equal(t, 204, c.do("POST", base+prov+"/start", nil).Status)
	require.Equal(t, 204, c.do("POST", base+phs+"/start", nil).Status)

	ctl := &caller{t: t, s: s, c: httpClient(s)}
	r := ctl.do("POST", s.ControlURL()+"/tenants/"+tenantA+"/jobs/"+prov+"/pause", nil)
	require.Equal(t, 204, r.Status, "%s", r.Body)
	j := c.job(sp, prov)
	require.Equal(t, "Paused", j["schedule"].(map[string]any)["state"])
	require.Equal(t, "Paused", jobCode(j))
	require.Equal(t, 404, ctl.do("POST", s.ControlURL()+"/tenants/"+tenantA+"/jobs/nope/pause", nil).Status)

	// A quarantine stays on record under the pause.
	require.NoError(t, s.Quarantine(tenantA, phs, "TooManyDeletes", "DeleteThresholdExceeded"))
	require.NoError(t, s.PauseJob(tenantA, phs))
	js := jobStateOf(t, s, phs)
	require.Equal(t, "Paused", js.ScheduleState)
	require.Equal(t, "Paused", js.StatusCode)
	require.Equal(t, "TooManyDeletes", js.QuarantineReason)
	require.Error(t, s.PauseJob(tenantA, "nope"))
	require.Error(t, s.PauseJob(tenantB, phs))
	// No Graph request was made for the pauses.
	for _, l := range s.RequestLog() {
		require.NotContains(t, l.Route, "/pause")
	}
}
