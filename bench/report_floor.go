package main

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// floorRatios are a fleet's wall time, server CPU and server-counted actions
// divided by its floor's (0 where the floor has none).
type floorRatios struct{ Wall, CPU, Actions float64 }

// pairCost is what a run cost the server, for the floor comparison: its
// wall time, the server's CPU from the first start until it settled after
// the last result (the work the run caused, async tail included), and the
// actions it counted.
type pairCost struct {
	Wall      time.Duration `json:"wallNs"`
	ServerCPU time.Duration `json:"serverCpuNs"`
	Actions   float64       `json:"actions"`
}

// pairRun is a further fleet and floor at one N, measured back to back
// (-floor-pairs): the machine is shared, and two runs of one size differ.
type pairRun struct {
	Fleet      pairCost `json:"fleet"`
	Floor      pairCost `json:"floor"`
	Load       string   `json:"loadAverage"`
	Failed     int      `json:"failed"` // onboardings of the fleet that failed
	FirstError string   `json:"firstError,omitempty"`
}

func (t *throughputResult) cost() pairCost {
	return pairCost{t.Wall, t.Server.CPU + t.ServerTail.CPU, sumValues(t.ServerActions)}
}

func (f *floorResult) cost() pairCost {
	return pairCost{f.Wall, f.Server.CPU + f.ServerTail.CPU, sumValues(f.ServerActions)}
}

func (a pairCost) add(b pairCost) pairCost {
	return pairCost{a.Wall + b.Wall, a.ServerCPU + b.ServerCPU, a.Actions + b.Actions}
}

func ratiosOf(t, f interface{ cost() pairCost }) floorRatios {
	return costRatios(t.cost(), f.cost())
}

func costRatios(a, b pairCost) floorRatios {
	r := floorRatios{Wall: ratio(a.Wall, b.Wall), CPU: ratio(a.ServerCPU, b.ServerCPU)}
	if b.Actions > 0 {
		r.Actions = a.Actions / b.Actions
	}
	return r
}

// pairedRatios are the fleet's costs over the floor's summed over every pair
// measured at that N (the first, then -floor-pairs more).
func pairedRatios(t *throughputResult) floorRatios {
	if t.Floor == nil {
		return floorRatios{}
	}
	a, b := t.cost(), t.Floor.cost()
	for _, p := range t.Again {
		a, b = a.add(p.Fleet), b.add(p.Floor)
	}
	return costRatios(a, b)
}

// largestWithFloor is the largest phase of a server that has a floor.
func largestWithFloor(ts []throughputResult) *throughputResult {
	var out *throughputResult
	for i := range ts {
		if ts[i].Floor != nil && (out == nil || ts[i].N > out.N) {
			out = &ts[i]
		}
	}
	return out
}

// floorGoals: the fleet within 1.2 × the floor at N = 1000, on each server.
func (r *Results) floorGoals(add func(name, target, measured string, met bool)) {
	for _, s := range []struct {
		name string
		ts   []throughputResult
	}{{"dev server", r.Throughput}, {"PostgreSQL cluster", r.Cluster}} {
		t := largestWithFloor(s.ts)
		if t == nil {
			continue
		}
		q := pairedRatios(t)
		full := t.N >= 1000
		add(fmt.Sprintf("Fleet ÷ engine floor at N = %d, %s: actions (server counter)", t.N, s.name), "≤ 1.2 at N = 1000", fmt.Sprintf("%.2f", q.Actions), q.Actions <= 1.2 && full)
		add(fmt.Sprintf("Fleet ÷ engine floor at N = %d, %s: server CPU", t.N, s.name), "≤ 1.2 at N = 1000", fmt.Sprintf("%.2f", q.CPU), q.CPU <= 1.2 && full)
		add(fmt.Sprintf("Fleet ÷ engine floor at N = %d, %s: wall time", t.N, s.name), "≤ 1.2 at N = 1000", fmt.Sprintf("%.2f", q.Wall), q.Wall <= 1.2 && full)
	}
	if rl := r.Realistic; rl != nil && rl.Speedup > 0 {
		add(fmt.Sprintf("Speed-up over the serial script at realistic latency (%s a request, %s replication lag), N = %d", rl.Graph.Latency, rl.Graph.ReplicationLag, rl.N),
			"> 100 × at N = 1000", fmt.Sprintf("%.1f ×", rl.Speedup), rl.Speedup > 100 && rl.N >= 1000)
	}
}

func perN(v float64, n int) string { return fmt.Sprintf("%.1f", v/float64(n)) }

// floorMarkdown is section 5: the fleet against the engine floor.
func (r *Results) floorMarkdown(p func(string, ...any)) {
	dev, clu := largestWithFloor(r.Throughput), largestWithFloor(r.Cluster)
	if dev == nil && clu == nil {
		return
	}
	p("## 5. Fleet cost against the engine floor")
	p("")
	shape := ""
	if t := dev; t != nil {
		shape = t.Floor.Shape.String()
	} else {
		shape = clu.Floor.Shape.String()
	}
	p("The floor is what the same Temporal server needs for the same shape of work with no Graph at all. After each throughput phase the bench "+
		"reads the shape of one of that phase's onboardings from its history — **%s** — and onboards N floor tenants at once on a fresh server of the "+
		"same kind (`bench/floor.go`; registered only by the bench's own floor worker, never by `cmd/worker`): a workflow that issues exactly those "+
		"commands, with activities that do nothing. The bench compares the floor's history with the onboarding's command type by command type "+
		"(and `TestFloorHasTheOnboardingsCommands` does the same against the recorded clean onboarding in `workflows/testdata/histories`), so "+
		"the floor cannot drift from the real shape. Like the onboarding, the floor runs its steps one after another (each of ours needs the "+
		"previous one's result), upserts before its steps and with its completion, registers a query handler, and is started with the starter's "+
		"start options (the same four search attributes); its worker is a process of its own with `cmd/worker`'s defaults (200 activities and "+
		"100 workflow tasks at once, pollers scaled by the SDK). A clean run retries nothing, so neither does the floor.", shape)
	if other := r.otherFloorShapes(shape); other != "" {
		p("")
		p("Rows measured on an earlier build of the onboarding had another shape, and their floor copied it: %s. Each ratio compares a fleet "+
			"with the floor of its own shape.", other)
	}
	p("")
	p("Its children are started together and **stay open**, waiting for a signal that never comes, with the watchers' search attributes. " +
		"That is the engine's least for \"start a child that outlives its parent\": a child that ended at once would cost the floor more than " +
		"our watcher's start (a close, a ChildWorkflowExecutionCompleted event in the parent and a workflow task to take it), and one that " +
		"mirrored the watcher would copy our design into the floor. So what a watcher does beyond existing during the phase — its liveness " +
		"timer — is counted against the fleet. Its first report from the poller (a signal, a search-attribute upsert and a memo upsert) " +
		"comes after the phase: the worker polls every 15 min in these phases, so that report falls outside every phase rather than inside " +
		"some and not others by their length; section 3 measures it. The **floor plus** (below) adds the timers, the heartbeat and the " +
		"fleet's payload sizes to the floor, to say how much of the difference they are.")
	p("")
	p("Both are measured back to back on the same machine in one run: wall = first start request to last result; server CPU from "+
		"`/proc/<pid>/stat` of the server process over that window (on the cluster PostgreSQL's processes are summed apart); actions from the "+
		"server's own `action` counter (its Prometheus endpoint: `--metrics-port` on the dev server, `PROMETHEUS_ENDPOINT` in "+
		"`deploy/temporal/cluster/postgresql.yaml` on the cluster), which counts a child start twice and GetVersion's marker and upsert, "+
		"as the fleet's counter does. Graph latency %s a request, as in section 4.", r.Config.Latency)
	p("")
	p("| server | N | wall: fleet → floor | ÷ | server CPU: fleet → floor | ÷ | actions per onboarding: fleet → floor | ÷ | PostgreSQL CPU: fleet → floor | worker CPU: fleet → floor | graphsim + starts CPU (bench process) | failed |")
	p("|---|---|---|---|---|---|---|---|---|---|---|---|")
	var pairs []string
	rows := func(name string, ts []throughputResult) {
		for i := range ts {
			t := &ts[i]
			f := t.Floor
			if f == nil {
				continue
			}
			a, c := t.cost(), f.cost()
			q := pairedRatios(t)
			db := "–"
			if t.Database != nil && f.Database != nil {
				db = fmt.Sprintf("%s → %s", secs(t.Database.CPU), secs(f.Database.CPU))
			}
			p("| %s | %d | %s → %s | **%.2f** | %s → %s | **%.2f** | %s → %s | **%.2f** | %s | %s → %s | %s | %d / %d |",
				name, t.N, secs(a.Wall), secs(c.Wall), q.Wall, secs(a.ServerCPU), secs(c.ServerCPU), q.CPU,
				perN(a.Actions, t.N), perN(c.Actions, t.N), q.Actions, db,
				secs(t.Worker.CPU), secs(f.Worker.CPU), secs(t.Bench.CPU), t.Failed, f.Failed)
			if len(t.Again) > 0 {
				first := ratiosOf(t, f)
				each := []string{fmt.Sprintf("%.2f / %.2f / %.2f", first.Wall, first.CPU, first.Actions)}
				for _, pr := range t.Again {
					x := costRatios(pr.Fleet, pr.Floor)
					each = append(each, fmt.Sprintf("%.2f / %.2f / %.2f (load %s)", x.Wall, x.CPU, x.Actions, pr.Load))
				}
				pairs = append(pairs, fmt.Sprintf("%s N = %d: %s", name, t.N, strings.Join(each, "; ")))
			}
		}
	}
	rows("dev server", r.Throughput)
	rows("cluster", r.Cluster)
	p("")
	p("The columns show the first fleet and floor of each size; the ratios (÷) sum every pair measured at that size, back to back "+
		"(`-floor-pairs`, %d by default: CPU seconds on these 2 shared cores vary by up to about 10 %% between two runs of one size). "+
		"Server CPU runs from the first start until the server settled after the last result (below %.0f %% of a core for 2 s, at most %s): "+
		"the server works on after the last result (visibility, transfer tasks), the floor more than the fleet.", 2, 100*settledRate, settleMax)
	if len(pairs) > 0 {
		p("")
		p("Each pair's wall / server CPU / actions ratios: %s.", strings.Join(pairs, "; "))
	}
	p("")
	if r.CriticalPath > 0 {
		p("At small N the wall ratio is the critical path's: one onboarding alone takes %s (its Graph requests at %s each, and the new "+
			"service principal's settling 403/409 that graphsim answers for its first 3 s, as Graph does for a while), a floor onboarding a "+
			"fraction of a second. Only at N = 1000 is the fleet CPU-bound, and there the ratios say what the work costs.", secs(r.CriticalPath), r.Config.Latency)
		p("")
	}
	for _, s := range []struct {
		name string
		t    *throughputResult
	}{{"dev server", dev}, {"PostgreSQL cluster", clu}} {
		if s.t == nil {
			continue
		}
		r.floorBreakdown(p, s.name, s.t)
	}
}

// floorBreakdown: where a fleet's actions and CPU above its floor go.
func (r *Results) floorBreakdown(p func(string, ...any), server string, t *throughputResult) {
	f, fp := t.Floor, t.FloorPlus
	p("### Where the difference goes: N = %d on the %s", t.N, server)
	p("")
	p("Actions per onboarding by the server's `action` counter, by type:")
	p("")
	if fp != nil {
		p("| action type | fleet | floor | floor plus | fleet − floor |")
		p("|---|---|---|---|---|")
	} else {
		p("| action type | fleet | floor | fleet − floor |")
		p("|---|---|---|---|")
	}
	keys := map[string]bool{}
	for _, m := range []map[string]float64{t.ServerActions, f.ServerActions} {
		for k := range m {
			keys[k] = true
		}
	}
	var ks []string
	for k := range keys {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	n := float64(t.N)
	for _, k := range ks {
		if fp != nil {
			p("| `%s` | %.2f | %.2f | %.2f | %+.2f |", k, t.ServerActions[k]/n, f.ServerActions[k]/n, fp.ServerActions[k]/n, (t.ServerActions[k]-f.ServerActions[k])/n)
		} else {
			p("| `%s` | %.2f | %.2f | %+.2f |", k, t.ServerActions[k]/n, f.ServerActions[k]/n, (t.ServerActions[k]-f.ServerActions[k])/n)
		}
	}
	fa, la := sumValues(t.ServerActions)/n, sumValues(f.ServerActions)/n
	if fp != nil {
		p("| **total** | **%.2f** | **%.2f** | **%.2f** | **%+.2f** |", fa, la, sumValues(fp.ServerActions)/n, fa-la)
	} else {
		p("| **total** | **%.2f** | **%.2f** | **%+.2f** |", fa, la, fa-la)
	}
	p("")
	if t.Watchers.Sampled > 0 {
		p("The fleet's onboarding histories have %.1f events (the floor's %.1f); %d of its watchers, read at the end of the phase, have %.1f events each "+
			"(%s).", t.Histories.Events, f.Histories.Events, t.Watchers.Sampled, t.Watchers.Events, sortedKinds(t.Watchers.EventTypes))
		p("")
	}
	if fp != nil && t.Extras != nil {
		q, qp := ratiosOf(t, fp), ratiosOf(fp, f)
		p("The **floor plus** is the floor with what the fleet carries beyond the onboarding's commands: %s. "+
			"Floor plus ÷ floor: server CPU **%.2f**, actions %.2f, wall %.2f — what those cost the engine (one run each: near 1, within this "+
			"machine's noise). Fleet ÷ floor plus: server CPU **%.2f**, actions %.2f, wall %.2f — what they leave to the rest: the retries Graph "+
			"asks for, the worker's watch poller (its heartbeats and its visibility queries) and its gauges, and noise.",
			t.Extras, qp.CPU, qp.Actions, qp.Wall, q.CPU, q.Actions, q.Wall)
		p("")
	}
	cpuFleet := t.Server.CPU + t.Worker.CPU + t.Bench.CPU
	cpuFloor := f.Server.CPU + f.Worker.CPU + f.Bench.CPU
	if t.Database != nil && f.Database != nil {
		cpuFleet += t.Database.CPU
		cpuFloor += f.Database.CPU
	}
	p("Wall time follows the CPU of everything on the machine's %d cores: the fleet burned %s (server, worker, graphsim and starts%s) "+
		"against the floor's %s (%.2f ×), so %s and %s of wall at full use. The worker's Graph work (the Graph SDK's requests, TLS and JSON: "+
		"%s of worker CPU against the floor worker's %s) and graphsim's (%s in the bench process) are work the floor does not have by "+
		"definition; in production Graph runs elsewhere, and a worker can be given cores of its own. The server's idle burn right after the phase: "+
		"%.0f %% of a core for the fleet (its %d watchers idle, the poller listing them), %.0f %% for the floor.",
		r.Machine.CPUs, secs(cpuFleet), map[bool]string{true: ", PostgreSQL", false: ""}[t.Database != nil], secs(cpuFloor), ratio(cpuFleet, cpuFloor),
		secs(cpuFleet/time.Duration(max(r.Machine.CPUs, 1))), secs(cpuFloor/time.Duration(max(r.Machine.CPUs, 1))),
		secs(t.Worker.CPU), secs(f.Worker.CPU), secs(t.Bench.CPU), t.ServerIdlePct, 3*t.N, f.ServerIdlePct)
	p("")
}

// realisticMarkdown is section 6: the fleet against the serial script with
// Graph as slow as it is.
func (r *Results) realisticMarkdown(p func(string, ...any)) {
	rl := r.Realistic
	if rl == nil || rl.Fleet.Wall == 0 {
		return
	}
	t := &rl.Fleet
	p("## 6. At realistic Graph latency: the fleet against the serial script")
	p("")
	p("graphsim with **%s per Graph request** and **%s of replication lag** (a new service principal answers 404 to reads by id, and a new job "+
		"to GET by id, for that long; its settling 403/409 as always), for both. The fleet: **N = %d** onboardings at once on the dev server "+
		"(as in section 4; its activities wait out the lag within their attempt, a read every 5 s for up to 25 s, and the retry policy only "+
		"beyond: each retry is a billed action). The serial script: the same Graph calls one "+
		"tenant after another in one process (section 4), retrying what Graph asks it to wait out every **%s**, as a script following the docs' "+
		"advice polls; it ran for %s (%d tenants) and its time for N is its measured time per tenant × N — a script's tenants are independent, "+
		"so its time is linear in N.", rl.Graph.Latency, rl.Graph.ReplicationLag, rl.N, rl.SerialPoll, secs(rl.SerialWall/time.Duration(rl.N)*time.Duration(rl.SerialMeasured)),
		rl.SerialMeasured)
	p("")
	p("| | value |")
	p("|---|---|")
	if t.Single > 0 {
		p("| one onboarding alone (on the same worker, before the fleet) | %s |", secs(t.Single))
	}
	p("| fleet of %d: wall | **%s** (%.0f onboardings a minute, %d failed) |", rl.N, secs(t.Wall), t.PerMinute, t.Failed)
	p("| serial script: per tenant | %s (%.1f Graph requests) |", secs(rl.SerialPerTenant), rl.SerialGraphPerTenant)
	serial := secs(rl.SerialWall)
	if rl.SerialExtrapolated {
		serial += fmt.Sprintf(" (%s × %d; %d tenants measured)", secs(rl.SerialPerTenant), rl.N, rl.SerialMeasured)
	}
	p("| serial script: %d tenants | %s |", rl.N, serial)
	p("| **speed-up** | **%.1f ×** |", rl.Speedup)
	p("| fleet: server CPU, worker CPU, graphsim + starts CPU | %s, %s, %s |", secs(t.Server.CPU), secs(t.Worker.CPU), secs(t.Bench.CPU))
	p("| fleet: actions per onboarding (server counter) | %.1f: %s |", sumValues(t.ServerActions)/float64(rl.N), sortedFloatKinds(t.ServerActions, float64(rl.N)))
	p("")
	cpu := t.Server.CPU + t.Worker.CPU + t.Bench.CPU
	per := cpu / time.Duration(rl.N)
	cores := float64(max(r.Machine.CPUs, 1))
	cpuWall := time.Duration(float64(cpu) / cores)
	bound := rl.SerialPerTenant.Seconds() / per.Seconds() * cores
	bind := "CPU"
	if t.Single > cpuWall {
		bind = "latency (one onboarding's own time)"
	}
	p("What bounds it: the serial script's time is latency — %s per tenant, almost no CPU. The fleet's wall is at least the longer of one "+
		"onboarding alone (the same latency and lag: %s) and the CPU all N onboardings need on this machine's %.0f cores: each cost %s "+
		"(server %s, worker %s, graphsim and the starts %s), so %d need %s / %.0f = **%s** with nothing else running. At N = %d the bound "+
		"is %s; the measured %s is that plus the other work on these shared cores. So the speed-up is at most N × serial time per tenant ÷ "+
		"that bound, which once N is large enough to be CPU-bound is serial time per tenant ÷ CPU per onboarding × cores = %s ÷ %s × %.0f "+
		"≈ **%.0f ×** on this machine, whatever N; measured at N = %d: **%.1f ×**. Lower CPU per onboarding raises it (section 5: the "+
		"server's share is within a few tens of per cent of the engine floor's), and so do cores: the server, the worker and graphsim "+
		"share 2 here, where in production graphsim's share is Graph's (elsewhere) and the worker and the Temporal service get cores of "+
		"their own.",
		secs(rl.SerialPerTenant), secs(t.Single), cores, secs(per), secs(t.Server.CPU/time.Duration(rl.N)), secs(t.Worker.CPU/time.Duration(rl.N)),
		secs(t.Bench.CPU/time.Duration(rl.N)), rl.N, secs(cpu), cores, secs(cpuWall), rl.N, bind, secs(t.Wall),
		secs(rl.SerialPerTenant), secs(per), cores, bound, rl.N, rl.Speedup)
	p("")
}

// runsLine lists the runs merged into these results.
func (r *Results) runsLine() string {
	if len(r.Runs) < 2 {
		return ""
	}
	var parts []string
	for _, run := range r.Runs {
		parts = append(parts, fmt.Sprintf("%s–%s `%s` (load %s → %s)", run.Started.UTC().Format("15:04"), run.Finished.UTC().Format("15:04 MST"),
			strings.TrimSpace(run.Args), run.LoadAtStart, run.LoadAtEnd))
	}
	return "The figures come from " + fmt.Sprint(len(r.Runs)) + " runs of `go run ./bench` on this machine the same day, one phase at a time " +
		"(`-merge`; each ratio below compares figures of one run): " + strings.Join(parts, "; ") + "."
}

// otherFloorShapes lists the phases whose onboarding had another shape than
// the one the section names (phases merged from runs of earlier builds).
func (r *Results) otherFloorShapes(shape string) string {
	var out []string
	for _, set := range []struct {
		server string
		ts     []throughputResult
	}{{"dev server", r.Throughput}, {"cluster", r.Cluster}} {
		for _, t := range set.ts {
			if t.Floor != nil && t.Floor.Shape.String() != shape {
				out = append(out, fmt.Sprintf("%s N = %d: %s", set.server, t.N, t.Floor.Shape))
			}
		}
	}
	return strings.Join(out, "; ")
}
