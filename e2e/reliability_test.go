package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cloudsync/cloudsync/graphsim"
	"github.com/cloudsync/cloudsync/workflows"
)

// crashSeed is CLOUDSYNC_CRASH_SEED, or the clock: every run kills at other
// moments, and the log says how to repeat one.
func crashSeed(t *testing.T) int64 {
	if v := os.Getenv("CLOUDSYNC_CRASH_SEED"); v != "" {
		s, err := strconv.ParseInt(v, 10, 64)
		require.NoError(t, err, "CLOUDSYNC_CRASH_SEED")
		return s
	}
	return time.Now().UnixNano() % 1_000_000_007
}

// instantiated is graphsim's counter of successful instantiations.
const instantiated = "POST /applicationTemplates/{id}/instantiate 201"

// TestCrashWorkerKilledRepeatedly runs 50 onboardings while the worker is
// killed with SIGKILL at random moments, at least 10 times, and restarted each
// time. Every onboarding must complete with exactly one app, one service
// principal, one job per template, one CredentialData mapping per target, the
// desired secrets and no masked value written back.
//
// Uniformly random moments rarely hit the millisecond between a Graph write
// and the activity's report of it, the only moment where a missing
// look-before-write makes a duplicate. So half of the kills are aimed there:
// a chaos proxy between the worker and graphsim kills the worker when
// graphsim answers the next write of a randomly chosen kind (instantiate for
// the first five, while apps are being made), before the answer reaches it.
// The other half land at uniformly random times. The seed is logged;
// CLOUDSYNC_CRASH_SEED repeats a run.
func TestCrashWorkerKilledRepeatedly(t *testing.T) {
	t.Parallel()
	const (
		onboardings = 50
		minKills    = 10
		maxKills    = 16
	)
	seed := crashSeed(t)
	t.Logf("crash seed %d (repeat with CLOUDSYNC_CRASH_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0xc4a5))
	// An own server keeps the load of 50 onboardings and 10+ kills off the
	// others' dev server; on an external server, an own task queue does.
	e := newEnv(t, envConfig{name: "crash", ownServer: true, externalOK: true, taskQueue: "cloudsync-crash", chaos: true, sim: graphsim.Options{
		Seed:             seed,
		ReplicationLag:   time.Second,
		DiscoverFailures: 1,
		SyncInterval:     time.Second,
	}})
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 7*time.Minute)
	defer cancel()

	specs := make([]workflows.TenantSpec, onboardings)
	for i := range specs {
		specs[i] = fullSpec(tenantN(0xc7a50000, i), fmt.Sprintf("crash%02d.contoso.com", i), 10+i)
		switch i % 5 { // vary what is written
		case 1:
			specs[i].ExchangeHybridWriteback = false
		case 2:
			specs[i].Notifications = workflows.Notifications{}
		case 3:
			specs[i].DeleteThreshold = workflows.DeleteThreshold{Enabled: ptr(false)}
		}
	}

	// Start the onboardings over ~12 s, while the killer works, so that every
	// step is in flight at some kill, not only the first ones.
	var done atomic.Int32
	errs := make([]error, onboardings)
	results := make([]workflows.OnboardResult, onboardings)
	var wg sync.WaitGroup
	wg.Add(onboardings)
	go func() {
		for i := range specs {
			run, err := startOnboarding(ctx, e.client, e.taskQueue, workflows.OnboardInput{Spec: specs[i]})
			go func() {
				defer wg.Done()
				defer done.Add(1)
				if err == nil {
					err = run.Get(ctx, &results[i])
				}
				errs[i] = err
			}()
			time.Sleep(250 * time.Millisecond)
		}
	}()

	// The killer.
	var kills, aimed, downtime int
	var killLog []string
	for kills < maxKills && int(done.Load()) < onboardings {
		var what string
		if kills%2 == 0 {
			// Aimed: the next successful answer to a random write never
			// reaches the worker (instantiate for the first five, while apps
			// are being made).
			route := chaosRoutes[rng.IntN(len(chaosRoutes))]
			if kills < 10 {
				route = chaosRoutes[0]
			}
			e.proxy.arm(route, e.killWorker)
			select {
			case name := <-e.proxy.fired:
				what = "instead of delivering graphsim's answer to " + name
				aimed++
			case <-time.After(8 * time.Second):
				e.proxy.disarm()
				select {
				case name := <-e.proxy.fired: // fired while disarming
					what = "instead of delivering graphsim's answer to " + name
					aimed++
				default:
					what = "no " + route.name + " for 8 s: at a random moment"
					require.NoError(t, e.killWorker())
				}
			}
		} else {
			d := time.Duration(200+rng.IntN(2300)) * time.Millisecond
			time.Sleep(d)
			if int(done.Load()) >= onboardings {
				break
			}
			what = "at a random moment, after " + d.String()
			require.NoError(t, e.killWorker())
		}
		kills++
		killLog = append(killLog, fmt.Sprintf("kill %d at %s (%d/%d onboardings done): %s", kills, since(t0), done.Load(), onboardings, what))
		down := rng.IntN(1000)
		downtime += down
		time.Sleep(time.Duration(down) * time.Millisecond)
		require.NoError(t, e.startWorker())
	}
	for _, l := range killLog {
		t.Log(l)
	}
	killPhase := since(t0)
	require.GreaterOrEqual(t, kills, minKills, "the onboardings ended before %d kills: make them slower", minKills)

	wg.Wait()
	t.Logf("%d onboardings, %d kills (%d aimed right after a write; %s of worker downtime), kill phase %s, all done after %s",
		onboardings, kills, aimed, time.Duration(downtime)*time.Millisecond, killPhase, since(t0))
	for i, err := range errs {
		require.NoError(t, err, "onboarding %d (%s) failed; worker:\n%s", i, specs[i].TenantID, tail(e.workerOutput(), 4000))
	}

	var dups dupCount
	for _, s := range specs {
		dups.add(duplicates(e.sim, s.TenantID))
	}
	t.Logf("duplicates found: %s", dups)
	for _, s := range specs {
		requireOnboarded(t, e.sim, s, false)
	}
	require.Empty(t, e.sim.Violations(), "no violation of any kind (duplicates, masked secrets, start on a running job, cross-tenant tokens)")

	retries := 0
	for _, s := range specs {
		n, err := activityRetries(ctx, e.client, workflows.OnboardWorkflowID(s.TenantID, s.Domain))
		require.NoError(t, err)
		retries += n
	}
	st := e.sim.Stats()
	t.Logf("graph requests %d (%d writes), activity attempts retried %d", st.TotalGraphRequests, st.GraphWrites, retries)
	addFigure(func() {
		figures.onboardings += onboardings
		figures.kills += kills
	})
}

// TestDevServerRestartMidRun restarts the Temporal dev server (SQLite
// database file) while onboardings run: the worker reconnects and every
// onboarding completes, without duplicates.
func TestDevServerRestartMidRun(t *testing.T) {
	t.Parallel()
	const onboardings = 10
	e := newEnv(t, envConfig{name: "restart", ownServer: true, dbFile: filepath.Join(t.TempDir(), "temporal.db"),
		sim: graphsim.Options{Seed: 11, ReplicationLag: 2 * time.Second, DiscoverFailures: 2, SyncInterval: time.Second}})
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	specs := make([]workflows.TenantSpec, onboardings)
	for i := range specs {
		specs[i] = fullSpec(tenantN(0x7e57a700, i), fmt.Sprintf("restart%02d.contoso.com", i), 100)
		_, err := startOnboarding(ctx, e.client, workflows.TaskQueue, workflows.OnboardInput{Spec: specs[i]})
		require.NoError(t, err)
		time.Sleep(300 * time.Millisecond)
	}
	// Mid-run: half of the apps exist.
	require.Eventually(t, func() bool {
		return e.sim.Stats().Requests[instantiated] >= onboardings/2
	}, time.Minute, pollEvery, "the first apps")
	started := e.sim.Stats().Requests["POST /servicePrincipals/{id}/synchronization/jobs/{jobId}/start 204"]
	t.Logf("restarting the dev server at %s: %d apps made, %d jobs started", since(t0), e.sim.Stats().Requests[instantiated], started)
	require.NoError(t, e.restartServer(2*time.Second))
	t.Logf("dev server back at %s", since(t0))

	for i, s := range specs {
		var res workflows.OnboardResult
		err := e.client.GetWorkflow(ctx, workflows.OnboardWorkflowID(s.TenantID, s.Domain), "").Get(ctx, &res)
		require.NoError(t, err, "onboarding %d; worker:\n%s", i, tail(e.workerOutput(), 4000))
		require.True(t, res.Changed)
	}
	t.Logf("all %d onboardings done after %s", onboardings, since(t0))
	for _, s := range specs {
		require.Zero(t, requireOnboarded(t, e.sim, s, false))
	}
	require.Empty(t, e.sim.Violations())
	addFigure(func() {
		figures.onboardings += onboardings
		figures.serverRestarts++
	})
	// The history survived the restart: the first workflow's history starts
	// before it.
	var ids []string
	for _, s := range specs {
		ids = append(ids, workflows.OnboardWorkflowID(s.TenantID, s.Domain))
	}
	resp, err := describe(ctx, e.client, ids[0])
	require.NoError(t, err)
	require.True(t, resp.WorkflowExecutionInfo.StartTime.AsTime().Before(t0.Add(time.Second)))
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := len(s) - n
	if j := strings.IndexByte(s[i:], '\n'); j >= 0 {
		i += j + 1
	}
	return "…\n" + s[i:]
}
