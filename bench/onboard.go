package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"golang.org/x/sync/errgroup"

	"github.com/cloudsync/cloudsync/activities"
	"github.com/cloudsync/cloudsync/graph"
	"github.com/cloudsync/cloudsync/graphsim"
	"github.com/cloudsync/cloudsync/internal/graphcount"
	"github.com/cloudsync/cloudsync/workflows"
)

// benchTenant is the i-th tenant of a phase: a GUID unique per phase.
func benchTenant(phase string, i int) string {
	h := uint32(2166136261)
	for _, c := range phase {
		h = (h ^ uint32(c)) * 16777619
	}
	return fmt.Sprintf("%08x-b000-4000-8000-%012x", h, i)
}

// fullSpec is a full onboarding: password hash sync and Exchange writeback.
func fullSpec(tenant string, i int) workflows.TenantSpec {
	return workflows.TenantSpec{TenantID: tenant, Domain: fmt.Sprintf("t%d.contoso.com", i), PasswordHashSync: true, ExchangeHybridWriteback: true,
		Notifications: workflows.Notifications{Enabled: true, Recipients: []string{"admin@contoso.com"}}}
}

// onboardingRun is one onboarding of a phase.
type onboardingRun struct {
	spec     workflows.TenantSpec
	id       string
	runID    string
	start    time.Time
	end      time.Time // close time (server clock, same machine)
	err      error
	changed  bool
	watchers []string // the watcher workflow ids it started
}

// runOnboardings starts every spec at once (startParallel start calls in
// flight) and waits for all to end.
func runOnboardings(ctx context.Context, c client.Client, specs []workflows.TenantSpec, startParallel int) []*onboardingRun {
	runs := make([]*onboardingRun, len(specs))
	for i, s := range specs {
		runs[i] = &onboardingRun{spec: s, id: workflows.OnboardStartOptions(s).ID}
	}
	// Starts bounded by startParallel; each started run is followed (Get
	// is a long poll) without bound.
	var starts, follows errgroup.Group
	starts.SetLimit(max(startParallel, 1))
	for _, r := range runs {
		starts.Go(func() error {
			r.start = time.Now()
			wr, err := c.ExecuteWorkflow(ctx, workflows.OnboardStartOptions(r.spec), workflows.OnboardTenantWorkflow, workflows.OnboardInput{Spec: r.spec})
			if err != nil {
				r.err = err
				return nil
			}
			r.runID = wr.GetRunID()
			follows.Go(func() error {
				var res workflows.OnboardResult
				r.err = wr.Get(ctx, &res)
				r.changed, r.watchers = res.Changed, res.Watchers
				r.end = time.Now()
				return nil
			})
			return nil
		})
	}
	_ = starts.Wait() // each run keeps its own error
	_ = follows.Wait()
	return runs
}

// historyStats are a sample of onboardings' histories.
type historyStats struct {
	Sampled    int            `json:"sampled"`
	Commands   map[string]int `json:"commandsOfFirst,omitempty"`
	Shape      *floorShape    `json:"shapeOfFirst,omitempty"` // what the floor mirrors
	ShapeError string         `json:"shapeError,omitempty"`
	Events     float64        `json:"eventsAvg"`
	EventsMin  int            `json:"eventsMin"`
	EventsMax  int            `json:"eventsMax"`
	Actions    float64        `json:"actionsAvg"`
	ActionsMin int            `json:"actionsMin"`
	ActionsMax int            `json:"actionsMax"`
	Kinds      map[string]int `json:"kindsOfFirst"`
	EventTypes map[string]int `json:"eventTypesOfFirst"`
}

// sampleHistories reads up to max histories of closed onboardings.
func sampleHistories(ctx context.Context, c client.Client, runs []*onboardingRun, max int) historyStats {
	var ids []runRef
	for _, r := range runs {
		if r.err == nil {
			ids = append(ids, runRef{r.id, r.runID})
		}
	}
	return sampleRuns(ctx, c, ids, max)
}

// runRef names a workflow run (runID "": the latest).
type runRef struct{ id, runID string }

// sampleWatchers reads up to max histories of the watchers the runs started
// (as they are now: running, their first poll done or not).
func sampleWatchers(ctx context.Context, c client.Client, runs []*onboardingRun, max int) historyStats {
	var ids []runRef
	for _, r := range runs {
		for _, w := range r.watchers {
			ids = append(ids, runRef{id: w})
		}
	}
	return sampleRuns(ctx, c, ids, max)
}

// sampleRuns reads up to max of the runs' histories, spread over the list.
func sampleRuns(ctx context.Context, c client.Client, runs []runRef, max int) historyStats {
	var st historyStats
	step := 1
	if len(runs) > max {
		step = len(runs) / max
	}
	sumE, sumA := 0, 0
	for i := 0; i < len(runs) && st.Sampled < max; i += step {
		r := runs[i]
		evs, err := history(ctx, c, r.id, r.runID)
		if err != nil {
			continue
		}
		a := countActions(evs, nil)
		if st.Sampled == 0 {
			st.Kinds = a.Kinds
			st.EventTypes = map[string]int{}
			for _, ev := range evs {
				st.EventTypes[strings.TrimPrefix(ev.GetEventType().String(), "EVENT_TYPE_")]++
			}
			st.Commands = commandCounts(evs)
			if sh, err := shapeOf(evs); err != nil {
				st.ShapeError = err.Error()
			} else {
				st.Shape = &sh
			}
			st.EventsMin, st.ActionsMin = len(evs), a.Total
		}
		st.Sampled++
		sumE += len(evs)
		sumA += a.Total
		st.EventsMin, st.EventsMax = min(st.EventsMin, len(evs)), max2(st.EventsMax, len(evs))
		st.ActionsMin, st.ActionsMax = min(st.ActionsMin, a.Total), max2(st.ActionsMax, a.Total)
	}
	if st.Sampled > 0 {
		st.Events = float64(sumE) / float64(st.Sampled)
		st.Actions = float64(sumA) / float64(st.Sampled)
	}
	return st
}

func max2(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// graphCount counts the Graph requests of onboardings in a request log: the
// tenants' requests minus the watchers' polls (GET of one job, which an
// onboarding never makes). Token requests are not Graph requests.
type graphCount = graphcount.Count

func onboardingRequests(log []graphsim.Request, tenants map[string]bool) graphCount {
	return graphcount.Of(log, func(r graphsim.Request) bool {
		return tenants[r.Tenant] && r.Route != "GET /servicePrincipals/{id}/synchronization/jobs/{jobId}"
	})
}

func sortedRoutes(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// serialScript onboards tenants one after another with the same Graph calls
// as OnboardTenant's activities (the activities package's methods, in the
// workflow's order, in-process through the SDK's test activity environment:
// no server, no history, no retries) and records the elapsed time after each
// tenant. What Graph asks it to wait out (a new service principal's
// replication, its settling 403/409) it retries every poll.
func serialScript(ctx context.Context, sim *graphsim.Server, specs []workflows.TenantSpec, budget, poll time.Duration, tune graphTuning) (elapsed []time.Duration, err error) {
	tr, err := graph.TransportWithCA(sim.CAFile())
	if err != nil {
		return nil, err
	}
	cloud := graph.CloudGlobal.WithOverrides(sim.GraphURL(), sim.AuthorityHost())
	f := &graph.Factory{Cloud: cloud, Transport: tr, WriteRate: tune.writeRate, WriteBurst: tune.writeBurst,
		Credentials: graph.CredentialConfig{Mode: graph.AuthClientSecret, ClientID: benchClientID, ClientSecret: benchSecret}}
	a := &activities.Activities{Graph: f}
	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(quietLogger())
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	// A script retries what Graph asks it to wait out (replication lag, a new
	// service principal's settling 403/409), as the public scripts' sleeps and
	// loops do: every poll, for up to 60 polls.
	call := func(fn, in, out any) error {
		for attempt := 1; ; attempt++ {
			v, err := env.ExecuteActivity(fn, in)
			var ae *temporal.ApplicationError
			if err != nil && errors.As(err, &ae) && !ae.NonRetryable() && attempt < 60 && ctx.Err() == nil {
				time.Sleep(poll)
				continue
			}
			if err != nil {
				return err
			}
			if out != nil {
				return v.Get(out)
			}
			return nil
		}
	}
	start := time.Now()
	for _, s := range specs {
		if ctx.Err() != nil {
			return elapsed, ctx.Err()
		}
		if budget > 0 && time.Since(start) > budget {
			return elapsed, nil
		}
		n := s.Normalized()
		var rep workflows.StepReport
		var app workflows.ApplicationResult
		var jobs, exch workflows.EnsureJobsResult
		var schema workflows.SchemaResult
		var check workflows.ExchangeCheckResult
		var started workflows.StartJobsResult
		steps := []func() error{
			func() error { return call(a.EnableTenantSync, workflows.TenantInput{TenantID: n.TenantID}, &rep) },
			func() error {
				return call(a.EnsureApplication, workflows.EnsureApplicationInput{TenantID: n.TenantID, DisplayName: n.DisplayName, Domain: n.Domain}, &app)
			},
			func() error {
				return call(a.WaitForServicePrincipal, workflows.ServicePrincipalInput{TenantID: n.TenantID, ServicePrincipalID: app.ServicePrincipalID}, nil)
			},
			func() error {
				return call(a.EnsureJobs, workflows.EnsureJobsInput{TenantID: n.TenantID, ServicePrincipalID: app.ServicePrincipalID,
					Templates: []string{workflows.TemplateProvisioning, workflows.TemplatePasswordHash}, SPCreated: app.CreatedAt}, &jobs)
			},
			func() error {
				return call(a.ApplySecrets, workflows.SecretsInput{TenantID: n.TenantID, ServicePrincipalID: app.ServicePrincipalID, Domain: n.Domain,
					PasswordHashSync: n.PasswordHashSync, Notifications: n.Notifications, DeleteThreshold: n.DeleteThreshold,
					SPCreated: app.CreatedAt, ProvisioningJobID: jobs.Jobs[workflows.TemplateProvisioning]}, &rep)
			},
			func() error {
				return call(a.PatchSchema, workflows.JobInput{TenantID: n.TenantID, ServicePrincipalID: app.ServicePrincipalID, JobID: jobs.Jobs[workflows.TemplateProvisioning]}, &schema)
			},
			func() error {
				return call(a.CheckExchangeSchema, workflows.ExchangeCheckInput{TenantID: n.TenantID, ServicePrincipalID: app.ServicePrincipalID,
					JobID: jobs.Jobs[workflows.TemplateProvisioning], ADDirectoryID: schema.ADDirectoryID}, &check)
			},
			func() error {
				return call(a.EnsureJobs, workflows.EnsureJobsInput{TenantID: n.TenantID, ServicePrincipalID: app.ServicePrincipalID,
					Templates: []string{workflows.TemplateExchangeWriteback}, Seen: jobs.Seen}, &exch)
			},
			func() error {
				ids := []string{exch.Jobs[workflows.TemplateProvisioning], exch.Jobs[workflows.TemplatePasswordHash], exch.Jobs[workflows.TemplateExchangeWriteback]}
				return call(a.StartJobs, workflows.StartJobsInput{TenantID: n.TenantID, ServicePrincipalID: app.ServicePrincipalID, JobIDs: ids, Seen: exch.Seen}, &started)
			},
		}
		for i, step := range steps {
			if err := step(); err != nil {
				return elapsed, fmt.Errorf("serial script, tenant %s, step %d: %w", n.TenantID, i+1, err)
			}
		}
		elapsed = append(elapsed, time.Since(start))
	}
	return elapsed, nil
}
