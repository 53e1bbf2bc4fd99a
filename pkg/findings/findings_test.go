package findings

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	K "github.com/meshwatch/meshwatch/pkg/evidence"
)

const Mi = 1 << 20

// The mesh of the hand-made packs — made up for these tests, and renamed in
// TestNamesDoNotMatter: gateway → web → api → {stock, orders, billing}
// (billing under a Flagger canary: billing-primary, canary billing).
var meshEdges = [][2]string{
	{"edge/gateway", "web"}, {"web", "api"}, {"api", "stock"}, {"api", "orders"}, {"api", "billing-primary"},
}

// quiet adds what a healthy mesh shows: steady request rates, latencies,
// memory and mTLS, no 5xx series. skip leaves out "p99:<wl>" or
// "ep99:<caller>><callee>".
func quiet(b *packB, skip ...string) *packB {
	sk := map[string]bool{}
	for _, s := range skip {
		sk[s] = true
	}
	p99 := map[string]float64{"web": 70, "api": 49, "stock": 9, "orders": 23, "billing-primary": 48}
	rps := map[string]float64{"web": 9, "api": 7, "stock": 5, "orders": 3, "billing-primary": 1}
	for _, w := range []string{"web", "api", "stock", "orders", "billing-primary"} {
		b.metric(K.KindRequestRate, w).base(rps[w]).win(rps[w]*1.02).minmax(rps[w]*0.8, rps[w]*1.2).add()
		if !sk["p99:"+w] {
			b.metric(K.KindLatencyP99, w).base(p99[w]).win(p99[w]*1.05).minmax(p99[w]*0.8, p99[w]*1.3).add()
		}
		b.metric(K.KindSidecarMemory, w).ctr("istio-proxy").base(52*Mi).win(53*Mi).minmax(50*Mi, 56*Mi).limit(256 * Mi).trend(0.01 * Mi).add()
		b.metric(K.KindAppMemory, w).ctr(w).base(80*Mi).win(81*Mi).minmax(78*Mi, 84*Mi).limit(256 * Mi).add()
		b.metric(K.KindMTLSShare, w).base(1).win(1).add()
	}
	for _, e := range meshEdges {
		c := ref(e[0])
		callee := e[1]
		if c.Workload == "gateway" {
			continue
		}
		b.edgeM(K.KindEdgeRate, e[0], callee).base(rps[callee]).win(rps[callee]).add()
		if !sk["ep99:"+e[0]+">"+callee] {
			b.edgeM(K.KindEdgeLatencyP99, e[0], callee).base(p99[callee] * 1.05).win(p99[callee] * 1.1).add()
		}
	}
	return b
}

// ---- one cause each ----

func TestSidecarMemoryLeak(t *testing.T) {
	b := quiet(newPack("api")).scope(K.RoleCaller, "web").scope(K.RoleCallee, "stock", "orders")
	// Replace api's flat sidecar memory by a leak: 50 → 205 MiB of 256, rising.
	b.p.Metrics = without(b.p.Metrics, K.KindSidecarMemory, "api")
	b.metric(K.KindSidecarMemory, "api").ctr("istio-proxy").base(52*Mi).win(150*Mi).last(205*Mi).minmax(110*Mi, 205*Mi).
		trend(0.52*Mi).change(tFrom.Add(-3*time.Hour), 160*Mi).limit(256 * Mi).ttl(98 * time.Minute).add()
	top := wantTop(t, b.pack(), "api", SidecarMemoryLeak, b.id(K.KindSidecarMemory, "api", "", "istio-proxy"))
	if top.Score < 0.8 {
		t.Errorf("a leak an hour and a half from the limit scores %.2f", top.Score)
	}
	wantNone(t, b.pack(), "api", AppMemoryOOM)
}

// A leak as its alert's incident opens: the window is the rule's 30m `for`,
// so the working set grew 9 % of the limit over the baseline (191 → 216 MB
// of 268), but it reaches the limit in 1½ hours: a leak all the same. The
// same growth two days from the limit is not enough.
func TestSidecarMemoryLeakNearTheLimitWithLittleHistory(t *testing.T) {
	pack := func(ttl time.Duration) *K.Pack {
		b := quiet(newPack("api")).scope(K.RoleCaller, "web").scope(K.RoleCallee, "stock", "orders")
		b.p.Metrics = without(b.p.Metrics, K.KindSidecarMemory, "api")
		b.metric(K.KindSidecarMemory, "api").ctr("istio-proxy").base(191e6).win(208e6).last(216e6).minmax(199e6, 216e6).
			trend(0.576e6).limit(268e6).ttl(ttl).add()
		return b.pack()
	}
	wantTop(t, pack(91*time.Minute), "api", SidecarMemoryLeak)
	wantNone(t, pack(40*time.Hour), "api", SidecarMemoryLeak)
}

func TestAppMemoryOOM(t *testing.T) {
	b := quiet(newPack("stock")).scope(K.RoleCaller, "api")
	b.p.Metrics = without(b.p.Metrics, K.KindAppMemory, "stock")
	b.metric(K.KindAppMemory, "stock").ctr("stock").base(90*Mi).win(180*Mi).last(60*Mi).minmax(40*Mi, 256*Mi).limit(256*Mi).trend(-1*Mi).add().
		metric(K.KindOOMKills, "stock").ctr("stock").base(0).win(0.25).last(0).minmax(0, 1).add().
		metric(K.KindRestarts, "stock").ctr("stock").base(0).win(0.25).last(0).minmax(0, 1).add().
		// While it restarts, api's calls find no healthy upstream.
		edgeM(K.KindEdgeErrorRatio, "api", "stock").base(0).win(0.02).minmax(0, 0.3).add().
		edgeM(K.KindEdgeErrorRatio, "api", "stock").detail("code", "503", "flags", "UH").base(0).win(0.02).minmax(0, 0.3).add()
	top := wantTop(t, b.pack(), "stock", AppMemoryOOM, b.id(K.KindOOMKills, "stock", "", "stock"), b.id(K.KindRestarts, "stock", "", "stock"))
	wantBelow(t, b.pack(), "stock", Crashloop, top)
	wantNone(t, b.pack(), "stock", SidecarMemoryLeak)
	// On its own, the crash-loop detector knows an OOM kill is not its cause.
	for _, f := range DetectCrashloop(b.pack()) {
		if f.Score >= Threshold {
			t.Errorf("crashloop detector on an OOM-killed container: %s", f)
		}
	}
}

func TestCrashloop(t *testing.T) {
	b := quiet(newPack("orders")).scope(K.RoleCaller, "api").
		metric(K.KindRestarts, "orders").ctr("orders").base(0).win(0.6).last(1).minmax(0, 2).add().
		edgeM(K.KindEdgeErrorRatio, "api", "orders").base(0).win(0.08).minmax(0, 0.4).add().
		edgeM(K.KindEdgeErrorRatio, "api", "orders").detail("code", "503", "flags", "UH").base(0).win(0.08).minmax(0, 0.4).add().
		metric(K.KindErrorRatio, "api").base(0).win(0.03).minmax(0, 0.15).add().
		log("orders", "orders", "panic: assignment to entry in nil map", 9)
	top := wantTop(t, b.pack(), "orders", Crashloop, b.id(K.KindRestarts, "orders", "", "orders"), b.p.Logs[0].ID)
	if !strings.Contains(top.Explanation, "5 times") || !strings.Contains(top.Explanation, "panic") {
		t.Errorf("explanation %q", top.Explanation)
	}
	wantNone(t, b.pack(), "orders", AppMemoryOOM)
	wantNone(t, b.pack(), "api", ErrorRegression) // api's 503s are orders' absence
}

// A callee that is down answers nothing: its callers' calls end in 503 UH
// with an unknown destination workload, which no edge of the pack shows.
// Its restarts explain the callers' 503s.
func TestCrashloopCallersWithoutEdges(t *testing.T) {
	b := quiet(newPack("api")).scope(K.RoleCaller, "web").scope(K.RoleCallee, "stock", "orders").
		metric(K.KindRestarts, "orders").ctr("orders").base(0).win(0.6).last(1).minmax(0, 2).add().
		metric(K.KindErrorRatio, "api").base(0).win(0.3).minmax(0, 0.5).change(tOn, 0.35).add().
		metric(K.KindErrorRatio, "api").detail("code", "503", "flags", "-").base(0).win(0.3).minmax(0, 0.5).change(tOn, 0.35).add().
		edgeM(K.KindEdgeErrorRatio, "web", "api").detail("code", "503", "flags", "-").base(0).win(0.3).minmax(0, 0.5).change(tOn, 0.35).add().
		metric(K.KindErrorRatio, "web").base(0).win(0.28).minmax(0, 0.5).change(tOn, 0.33).add()
	wantTop(t, b.pack(), "orders", Crashloop)
	// The pack keeps those calls as edges to "unknown": they blame no one.
	b.edgeM(K.KindEdgeErrorRatio, "api", "unknown").detail("code", "503", "flags", "UH").base(0).win(0.3).minmax(0, 0.5).change(tOn, 0.35).add()
	wantTop(t, b.pack(), "orders", Crashloop)
	for _, w := range []string{"api", "web"} {
		for _, c := range []Cause{ErrorRegression, UpstreamDependency} {
			wantNone(t, b.pack(), w, c)
		}
	}
	// api's own 500s are not a dependency's absence.
	b.p.Metrics = without(b.p.Metrics, K.KindErrorRatio, "api")
	b.metric(K.KindErrorRatio, "api").base(0).win(0.3).minmax(0, 0.5).change(tOn, 0.35).add().
		metric(K.KindErrorRatio, "api").detail("code", "500", "flags", "-").base(0).win(0.3).minmax(0, 0.5).change(tOn, 0.35).add()
	wantShown(t, b.pack(), "api", ErrorRegression)
}

func TestOneRestartIsNoLoop(t *testing.T) {
	// One restart: increase[5m] is 1 for five of the window's forty minutes.
	b := quiet(newPack("orders")).metric(K.KindRestarts, "orders").ctr("orders").base(0).win(0.125).last(0).minmax(0, 1).add()
	wantNone(t, b.pack(), "orders", Crashloop)
}

// A backend (no dependencies of its own) failing the callers that need it:
// the blame moves to it, as a failing dependency.
func TestUpstreamDependencyALeafItsCallersFeel(t *testing.T) {
	b := quiet(newPack("api")).scope(K.RoleCaller, "web").scope(K.RoleCallee, "stock", "orders", "billing-primary").
		// stock answers 8 % 500 from 13:05; api's calls to it exhaust their
		// retries (503 URX); api and web fail the requests that needed it.
		metric(K.KindErrorRatio, "stock").base(0).win(0.07).minmax(0, 0.1).change(tOn, 0.08).add().
		metric(K.KindErrorRatio, "stock").detail("code", "500", "flags", "-").base(0).win(0.07).minmax(0, 0.1).change(tOn, 0.08).add().
		edgeM(K.KindEdgeErrorRatio, "api", "stock").base(0).win(0.05).minmax(0, 0.08).change(tOn, 0.06).add().
		edgeM(K.KindEdgeErrorRatio, "api", "stock").detail("code", "503", "flags", "URX").base(0).win(0.05).minmax(0, 0.08).change(tOn, 0.06).add().
		metric(K.KindErrorRatio, "api").base(0).win(0.035).minmax(0, 0.05).change(tOn, 0.04).add().
		edgeM(K.KindEdgeErrorRatio, "web", "api").base(0).win(0.035).minmax(0, 0.05).change(tOn, 0.04).add().
		metric(K.KindErrorRatio, "web").base(0).win(0.03).minmax(0, 0.045).change(tOn, 0.035).add().
		log("stock", "stock", `request failed error="db: deadlock detected" method=GET route=/stock status=500`, 120)
	top := wantTop(t, b.pack(), "stock", UpstreamDependency, b.id(K.KindErrorRatio, "stock", "", ""),
		b.id(K.KindEdgeErrorRatio, "api", "stock", "", "code", "503", "flags", "URX"))
	wantNone(t, b.pack(), "api", ErrorRegression)
	wantNone(t, b.pack(), "web", ErrorRegression)
	wantNone(t, b.pack(), "api", UpstreamDependency)
	wantBelow(t, b.pack(), "stock", ErrorRegression, top)
	if !strings.Contains(top.Explanation, "500") || !strings.Contains(top.Explanation, "api") {
		t.Errorf("explanation %q does not say which code and who fails with it", top.Explanation)
	}
}

// A quiet workload (0.05 req/s) whose one 5xx made a 10 % peak.
func TestOneErrorOfAQuietWorkloadIsNoRegression(t *testing.T) {
	b := newPack("cron-api").
		metric(K.KindRequestRate, "cron-api").base(0.05).win(0.05).minmax(0, 0.1).add().
		metric(K.KindErrorRatio, "cron-api").base(0).win(0.004).minmax(0, 0.1).add().
		metric(K.KindErrorRatio, "cron-api").detail("code", "500", "flags", "-").base(0).win(0.004).minmax(0, 0.1).add()
	if fs := Detect(b.pack()); len(fs) > 0 {
		t.Errorf("%s", dump(fs))
	}
}

func TestOwnErrorsAreNotUpstream(t *testing.T) {
	// api answers 6 % 500 of its own; its calls to its dependencies are clean.
	b := quiet(newPack("api")).scope(K.RoleCaller, "web").scope(K.RoleCallee, "stock", "orders").
		metric(K.KindErrorRatio, "api").base(0.0005).win(0.055).minmax(0, 0.07).change(tOn, 0.06).add().
		metric(K.KindErrorRatio, "api").detail("code", "500", "flags", "-").base(0.0005).win(0.055).minmax(0, 0.07).change(tOn, 0.06).add().
		edgeM(K.KindEdgeErrorRatio, "api", "stock").base(0.0004).win(0.0005).minmax(0, 0.002).add().
		edgeM(K.KindEdgeErrorRatio, "web", "api").base(0.0005).win(0.055).minmax(0, 0.07).change(tOn, 0.06).add().
		metric(K.KindErrorRatio, "web").base(0.0005).win(0.05).minmax(0, 0.07).change(tOn, 0.055).add()
	wantTop(t, b.pack(), "api", ErrorRegression)
	wantNone(t, b.pack(), "stock", UpstreamDependency)
	wantNone(t, b.pack(), "stock", ErrorRegression)
	wantNone(t, b.pack(), "web", ErrorRegression)
}

func TestUpstreamDependencyOutsideTheScope(t *testing.T) {
	// api's calls to a payment provider outside the mesh (no server-side
	// view of it) fail; api fails the requests that needed it.
	b := quiet(newPack("api")).scope(K.RoleCaller, "web").scope(K.RoleCallee, "stock", "orders", "external/psp").
		edgeM(K.KindEdgeErrorRatio, "api", "external/psp").base(0).win(0.3).minmax(0, 0.5).change(tOn, 0.35).add().
		edgeM(K.KindEdgeErrorRatio, "api", "external/psp").detail("code", "503", "flags", "UF").base(0).win(0.3).minmax(0, 0.5).change(tOn, 0.35).add().
		metric(K.KindErrorRatio, "api").base(0).win(0.04).minmax(0, 0.06).change(tOn, 0.045).add()
	top := wantTop(t, b.pack(), "external/psp", UpstreamDependency, b.id(K.KindEdgeErrorRatio, "api", "external/psp", ""))
	if !strings.Contains(top.Explanation, "api") || !strings.Contains(top.Explanation, "UF") {
		t.Errorf("explanation %q", top.Explanation)
	}
	wantNone(t, b.pack(), "api", ErrorRegression)
}

func TestLatencyRegressionOfADependency(t *testing.T) {
	// stock's P99 climbs 9 → 930 ms; api and web follow; a handful of
	// per-try timeouts on web→api (0.5 %) are not a cascade.
	b := quiet(newPack("api"), "p99:stock", "p99:api", "p99:web", "ep99:api>stock", "ep99:web>api").
		scope(K.RoleCaller, "web").scope(K.RoleCallee, "stock", "orders", "billing-primary").
		metric(K.KindLatencyP99, "stock").base(9).win(700).last(930).minmax(9, 950).change(tOn, 880).add().
		edgeM(K.KindEdgeLatencyP99, "api", "stock").base(10).win(750).last(970).minmax(10, 990).change(tOn, 930).add().
		metric(K.KindLatencyP99, "api").base(49).win(700).last(906).minmax(45, 930).change(tOn, 860).add().
		edgeM(K.KindEdgeLatencyP99, "web", "api").base(50).win(700).last(907).minmax(45, 930).change(tOn, 860).add().
		metric(K.KindLatencyP99, "web").base(70).win(720).last(925).minmax(60, 940).change(tOn, 880).add().
		edgeM(K.KindEdgeErrorRatio, "web", "api").base(0).win(0.004).minmax(0, 0.01).add().
		edgeM(K.KindEdgeErrorRatio, "web", "api").detail("code", "504", "flags", "UT").base(0).win(0.004).minmax(0, 0.01).add()
	top := wantTop(t, b.pack(), "stock", LatencyRegression, b.id(K.KindLatencyP99, "stock", "", ""))
	wantNone(t, b.pack(), "api", LatencyRegression)
	wantNone(t, b.pack(), "web", LatencyRegression)
	wantBelow(t, b.pack(), "stock", TimeoutCascade, top)
	wantNone(t, b.pack(), "api", TimeoutCascade)
}

func timeoutCascadePack() *packB {
	// stock saturates (+1.2 s, sheds 10 % with fast 503s); api's calls to it
	// time out (504 UT) or run out of retries (503 URX); web's 1 s budget for
	// api is shorter than api's 1.5 s for stock, so web→api times out too.
	return quiet(newPack("api"), "p99:stock", "p99:api", "p99:web", "ep99:api>stock", "ep99:web>api").
		scope(K.RoleCaller, "web").scope(K.RoleCallee, "stock", "orders", "billing-primary").
		metric(K.KindLatencyP99, "stock").base(9).win(1900).last(2300).minmax(9, 2400).change(tOn, 2200).add().
		metric(K.KindErrorRatio, "stock").base(0).win(0.09).minmax(0, 0.12).change(tOn, 0.1).add().
		metric(K.KindErrorRatio, "stock").detail("code", "503", "flags", "-").base(0).win(0.09).minmax(0, 0.12).change(tOn, 0.1).add().
		edgeM(K.KindEdgeLatencyP99, "api", "stock").base(10).win(1450).last(1500).minmax(10, 1500).change(tOn, 1490).add().
		edgeM(K.KindEdgeErrorRatio, "api", "stock").base(0).win(0.8).minmax(0, 0.9).change(tOn, 0.88).add().
		edgeM(K.KindEdgeErrorRatio, "api", "stock").detail("code", "504", "flags", "UT").base(0).win(0.72).minmax(0, 0.8).change(tOn, 0.79).add().
		edgeM(K.KindEdgeErrorRatio, "api", "stock").detail("code", "503", "flags", "URX").base(0).win(0.09).minmax(0, 0.1).change(tOn, 0.095).add().
		metric(K.KindLatencyP99, "api").base(49).win(950).last(1000).minmax(45, 1000).change(tOn, 990).add().
		metric(K.KindErrorRatio, "api").base(0).win(0.014).minmax(0, 0.03).change(tOn, 0.015).add().
		edgeM(K.KindEdgeLatencyP99, "web", "api").base(50).win(980).last(1000).minmax(45, 1000).change(tOn, 995).add().
		edgeM(K.KindEdgeErrorRatio, "web", "api").base(0).win(0.6).minmax(0, 0.7).change(tOn, 0.66).add().
		edgeM(K.KindEdgeErrorRatio, "web", "api").detail("code", "504", "flags", "UT").base(0).win(0.59).minmax(0, 0.68).change(tOn, 0.65).add().
		metric(K.KindLatencyP99, "web").base(70).win(990).last(1000).minmax(60, 1000).change(tOn, 995).add().
		metric(K.KindErrorRatio, "web").base(0).win(0.55).minmax(0, 0.65).change(tOn, 0.6).add()
}

func TestTimeoutCascade(t *testing.T) {
	b := timeoutCascadePack()
	top := wantTop(t, b.pack(), "stock", TimeoutCascade,
		b.id(K.KindEdgeErrorRatio, "api", "stock", "", "code", "504", "flags", "UT"),
		b.id(K.KindEdgeErrorRatio, "web", "api", "", "code", "504", "flags", "UT"))
	if top.Score < 0.85 || !strings.Contains(top.Explanation, "nested") {
		t.Errorf("a two-level cascade with nested timeouts: %s", top)
	}
	wantBelow(t, b.pack(), "stock", LatencyRegression, top)
	wantBelow(t, b.pack(), "stock", ErrorRegression, top)
	wantNone(t, b.pack(), "api", TimeoutCascade)
	wantNone(t, b.pack(), "api", ErrorRegression)
	wantNone(t, b.pack(), "web", ErrorRegression)
	wantNone(t, b.pack(), "api", LatencyRegression)
}

// The same cascade seen from stock's own pack: only one level of callers.
func TestTimeoutCascadeOneLevelVisible(t *testing.T) {
	b := timeoutCascadePack()
	b.p.Subject = ref("stock")
	b.p.Scope = []K.Neighbour{{Workload: ref("api"), Role: K.RoleCaller}}
	var keep []K.Metric
	for _, m := range b.p.Metrics {
		if m.Workload != "web" {
			keep = append(keep, m)
		}
	}
	b.p.Metrics = keep
	wantTop(t, b.pack(), "stock", TimeoutCascade)
}

// A cascade whose middle call fails with the 504 the callee passes on
// (its own route timeout is longer than the time its callee takes to time
// out): the timeouts are nested across it.
func TestTimeoutCascadeThroughPassedOn504(t *testing.T) {
	b := newPack("web").scope(K.RoleCaller, "edge/gateway").scope(K.RoleCallee, "api")
	b.p.Scope = append(b.p.Scope, K.Neighbour{Workload: ref("reco"), Role: K.RoleCallee, Via: "api"})
	for _, w := range []string{"web", "api", "reco", "profiles"} {
		b.metric(K.KindRequestRate, w).base(5).win(5).add()
	}
	b.edgeM(K.KindEdgeErrorRatio, "web", "api").detail("code", "504", "flags", "UT").base(0).win(0.8).minmax(0, 0.9).change(tOn, 0.85).add().
		edgeM(K.KindEdgeLatencyP99, "web", "api").base(60).win(700).minmax(60, 700).change(tOn, 700).add().
		metric(K.KindLatencyP99, "api").base(55).win(990).minmax(50, 1000).change(tOn, 995).add().
		metric(K.KindErrorRatio, "api").detail("code", "504", "flags", "-").base(0).win(0.7).minmax(0, 0.8).change(tOn, 0.75).add().
		edgeM(K.KindEdgeErrorRatio, "api", "reco").detail("code", "504", "flags", "-").base(0).win(0.7).minmax(0, 0.8).change(tOn, 0.75).add().
		metric(K.KindLatencyP99, "reco").base(47).win(950).minmax(45, 990).change(tOn, 990).add().
		metric(K.KindErrorRatio, "reco").detail("code", "504", "flags", "-").base(0).win(0.65).minmax(0, 0.7).change(tOn, 0.68).add().
		edgeM(K.KindEdgeErrorRatio, "reco", "profiles").detail("code", "504", "flags", "UT").base(0).win(0.64).minmax(0, 0.7).change(tOn, 0.66).add().
		edgeM(K.KindEdgeLatencyP99, "reco", "profiles").base(12).win(900).minmax(12, 900).change(tOn, 900).add().
		metric(K.KindLatencyP99, "profiles").base(10).win(990).minmax(9, 1000).change(tOn, 995).add()
	top := wantTop(t, b.pack(), "profiles", TimeoutCascade, b.id(K.KindEdgeErrorRatio, "reco", "profiles", "", "code", "504", "flags", "UT"))
	if !strings.Contains(top.Explanation, "nested") || !strings.Contains(top.Explanation, "web → api → reco → profiles") {
		t.Errorf("%s", top)
	}
	wantNone(t, b.pack(), "api", TimeoutCascade)
	wantNone(t, b.pack(), "reco", ErrorRegression)
}

// A failing workload two calls away: the pack does not show its own
// callees, so it cannot be told to be a backend.
func TestSecondHopIsNoKnownLeaf(t *testing.T) {
	mk := func(via string) *packB {
		b := newPack("web").scope(K.RoleCallee, "api")
		b.p.Scope = append(b.p.Scope, K.Neighbour{Workload: ref("reco"), Role: K.RoleCallee, Via: via})
		return b.metric(K.KindErrorRatio, "reco").base(0).win(0.09).minmax(0, 0.1).change(tOn, 0.09).add().
			edgeM(K.KindEdgeErrorRatio, "api", "reco").detail("code", "500", "flags", "-").base(0).win(0.09).minmax(0, 0.1).change(tOn, 0.09).add().
			metric(K.KindErrorRatio, "api").base(0).win(0.05).minmax(0, 0.06).change(tOn, 0.05).add().
			edgeM(K.KindEdgeErrorRatio, "web", "api").detail("code", "500", "flags", "-").base(0).win(0.05).minmax(0, 0.06).change(tOn, 0.05).add()
	}
	wantTop(t, mk("api").pack(), "reco", ErrorRegression)
	wantTop(t, mk("").pack(), "reco", UpstreamDependency) // a direct neighbour with no callees of its own
}

// ---- confusable pairs ----

func TestLeakVersusOOM(t *testing.T) {
	t.Run("sidecar leak OOM-killed at its limit is the leak", func(t *testing.T) {
		b := quiet(newPack("api"))
		b.p.Metrics = without(b.p.Metrics, K.KindSidecarMemory, "api")
		b.metric(K.KindSidecarMemory, "api").ctr("istio-proxy").base(60*Mi).win(190*Mi).last(80*Mi).minmax(70*Mi, 256*Mi).trend(-0.2*Mi).limit(256*Mi).add().
			metric(K.KindOOMKills, "api").ctr("istio-proxy").base(0).win(0.125).last(1).minmax(0, 1).add().
			metric(K.KindRestarts, "api").ctr("istio-proxy").base(0).win(0.125).last(1).minmax(0, 1).add()
		wantTop(t, b.pack(), "api", SidecarMemoryLeak, b.id(K.KindOOMKills, "api", "", "istio-proxy"))
		wantNone(t, b.pack(), "api", AppMemoryOOM)
	})
	t.Run("app container growing to its limit is the app's OOM, not a sidecar leak", func(t *testing.T) {
		b := quiet(newPack("api"))
		b.p.Metrics = without(b.p.Metrics, K.KindAppMemory, "api")
		b.metric(K.KindAppMemory, "api").ctr("api").base(80*Mi).win(200*Mi).last(245*Mi).minmax(150*Mi, 245*Mi).trend(1.5 * Mi).limit(256 * Mi).ttl(8 * time.Minute).add()
		wantTop(t, b.pack(), "api", AppMemoryOOM, b.id(K.KindAppMemory, "api", "", "api"))
		wantNone(t, b.pack(), "api", SidecarMemoryLeak)
	})
	t.Run("an OOM reason left from long ago with no restart is not news", func(t *testing.T) {
		b := quiet(newPack("api")).
			metric(K.KindOOMKills, "api").ctr("api").base(1).win(1).minmax(1, 1).add().
			metric(K.KindRestarts, "api").ctr("api").win(0).minmax(0, 0).add()
		wantNone(t, b.pack(), "api", AppMemoryOOM)
	})
	t.Run("a sidecar drifting a few MiB with the daily load is no leak", func(t *testing.T) {
		b := quiet(newPack("api"))
		b.p.Metrics = without(b.p.Metrics, K.KindSidecarMemory, "api")
		b.metric(K.KindSidecarMemory, "api").ctr("istio-proxy").base(50*Mi).win(54*Mi).last(57*Mi).minmax(50*Mi, 57*Mi).trend(0.1 * Mi).limit(256 * Mi).ttl(33 * time.Hour).add()
		wantNone(t, b.pack(), "api", SidecarMemoryLeak)
	})
}

func TestUpstreamVersusErrorRegression(t *testing.T) {
	// Same symptoms at api; only who fails first differs.
	base := func() *packB {
		return quiet(newPack("api")).scope(K.RoleCaller, "web").scope(K.RoleCallee, "stock", "orders").
			metric(K.KindErrorRatio, "api").base(0).win(0.05).minmax(0, 0.07).change(tOn, 0.055).add()
	}
	t.Run("stock fails first: the dependency stock", func(t *testing.T) {
		b := base().
			edgeM(K.KindEdgeErrorRatio, "api", "stock").detail("code", "500", "flags", "-").base(0).win(0.09).minmax(0, 0.12).change(tOn, 0.1).add().
			metric(K.KindErrorRatio, "stock").base(0).win(0.09).minmax(0, 0.12).change(tOn, 0.1).add()
		wantTop(t, b.pack(), "stock", UpstreamDependency)
		wantNone(t, b.pack(), "api", ErrorRegression)
	})
	t.Run("a second version of stock fails first: stock's regression", func(t *testing.T) {
		b := base().
			edgeM(K.KindEdgeErrorRatio, "api", "stock").detail("code", "500", "flags", "-").base(0).win(0.09).minmax(0, 0.12).change(tOn, 0.1).add().
			metric(K.KindErrorRatio, "stock").base(0).win(0.09).minmax(0, 0.12).change(tOn, 0.1).add().
			metric(K.KindRequestRate, "stock-primary").base(2).win(2).add().
			metric(K.KindErrorRatio, "stock-primary").base(0).win(0).add()
		wantTop(t, b.pack(), "stock", ErrorRegression)
		wantNone(t, b.pack(), "stock", UpstreamDependency)
	})
	t.Run("api fails alone: api", func(t *testing.T) {
		b := base().
			edgeM(K.KindEdgeErrorRatio, "api", "stock").base(0).win(0.001).minmax(0, 0.004).add().
			metric(K.KindErrorRatio, "stock").base(0).win(0.001).minmax(0, 0.004).add()
		wantTop(t, b.pack(), "api", ErrorRegression)
		wantNone(t, b.pack(), "stock", UpstreamDependency)
		wantNone(t, b.pack(), "stock", ErrorRegression)
	})
	t.Run("with request rates: a callee used by few requests explains little", func(t *testing.T) {
		// api fails 5 % of 7 req/s (0.35/s); its calls to stock fail 6 % of
		// 0.5 req/s (0.03/s): not the cause.
		b := base()
		b.p.Metrics = without(b.p.Metrics, K.KindEdgeRate, "api")
		b.edgeM(K.KindEdgeRate, "api", "stock").base(0.5).win(0.5).add().
			edgeM(K.KindEdgeErrorRatio, "api", "stock").base(0).win(0.06).minmax(0, 0.08).change(tOn, 0.065).add()
		wantTop(t, b.pack(), "api", ErrorRegression)
	})
}

func TestTimeoutCascadeVersusLatencyRegression(t *testing.T) {
	t.Run("a slow callee with rare timeouts is a latency regression", func(t *testing.T) {
		b := quiet(newPack("api"), "p99:stock", "ep99:api>stock").scope(K.RoleCallee, "stock").
			metric(K.KindLatencyP99, "stock").base(9).win(400).minmax(9, 450).change(tOn, 420).add().
			edgeM(K.KindEdgeLatencyP99, "api", "stock").base(10).win(420).minmax(10, 480).change(tOn, 440).add().
			edgeM(K.KindEdgeErrorRatio, "api", "stock").detail("code", "504", "flags", "UT").base(0).win(0.01).minmax(0, 0.03).add()
		wantTop(t, b.pack(), "stock", LatencyRegression)
		wantNone(t, b.pack(), "stock", TimeoutCascade)
	})
	t.Run("a slow callee its callers give up on is a timeout cascade", func(t *testing.T) {
		b := quiet(newPack("api"), "p99:stock", "ep99:api>stock").scope(K.RoleCallee, "stock").
			metric(K.KindLatencyP99, "stock").base(9).win(1400).minmax(9, 2000).change(tOn, 1800).add().
			edgeM(K.KindEdgeLatencyP99, "api", "stock").base(10).win(1450).minmax(10, 1500).change(tOn, 1490).add().
			edgeM(K.KindEdgeErrorRatio, "api", "stock").detail("code", "504", "flags", "UT").base(0).win(0.45).minmax(0, 0.6).change(tOn, 0.55).add()
		wantTop(t, b.pack(), "stock", TimeoutCascade)
	})
	t.Run("retries exhausted on plain 5xx are no timeouts", func(t *testing.T) {
		b := quiet(newPack("api")).scope(K.RoleCallee, "stock").
			edgeM(K.KindEdgeErrorRatio, "api", "stock").detail("code", "503", "flags", "URX").base(0).win(0.2).minmax(0, 0.3).change(tOn, 0.25).add().
			metric(K.KindErrorRatio, "stock").base(0).win(0.2).minmax(0, 0.3).change(tOn, 0.25).add()
		wantNone(t, b.pack(), "stock", TimeoutCascade)
		wantTop(t, b.pack(), "stock", UpstreamDependency)
	})
}

func canaryPack(subject string) *packB {
	return quiet(newPack(subject)).scope(K.RoleVersion, "billing-primary").scope(K.RoleCaller, "api").
		metric(K.KindCanaryStatus, "billing").base(1).win(1.2).minmax(0, 2).last(2).change(tOn.Add(5*time.Minute), 2).add().
		metric(K.KindCanaryWeight, "billing").base(0).win(20).last(0).minmax(0, 50).add().
		metric(K.KindCanaryWeight, "billing-primary").base(100).win(80).last(100).minmax(50, 100).add().
		metric(K.KindRequestRate, "billing").win(3).minmax(0, 5).points(12).add()
}

func TestCanaryVersusPrimary(t *testing.T) {
	t.Run("the canary fails, the primary does not: the canary", func(t *testing.T) {
		b := canaryPack("billing").
			metric(K.KindErrorRatio, "billing").win(0.05).minmax(0, 0.062).points(12).add().
			metric(K.KindErrorRatio, "billing").detail("code", "500", "flags", "-").win(0.05).minmax(0, 0.062).points(12).add().
			metric(K.KindErrorRatio, "billing-primary").base(0).win(0).minmax(0, 0).add().
			log("billing", "billing", `request failed error="charge failed: nil pointer dereference in <n> card tokenizer"`, 40)
		top := wantTop(t, b.pack(), "billing", ErrorRegression, b.id(K.KindCanaryStatus, "billing", "", ""), b.id(K.KindErrorRatio, "billing", "", ""))
		if !strings.Contains(top.Explanation, "billing-primary") || !strings.Contains(top.Explanation, "rolled") {
			t.Errorf("explanation %q", top.Explanation)
		}
		wantNone(t, b.pack(), "billing-primary", ErrorRegression)
	})
	t.Run("the primary fails, the canary does not: the primary", func(t *testing.T) {
		b := quiet(newPack("billing-primary")).scope(K.RoleVersion, "billing").
			metric(K.KindCanaryStatus, "billing").base(1).win(0).minmax(0, 0).add().
			metric(K.KindRequestRate, "billing").win(3).minmax(0, 5).add().
			metric(K.KindErrorRatio, "billing").base(0).win(0).minmax(0, 0.001).add().
			metric(K.KindErrorRatio, "billing-primary").base(0).win(0.06).minmax(0, 0.08).change(tOn, 0.065).add()
		top := wantTop(t, b.pack(), "billing-primary", ErrorRegression)
		if !strings.Contains(top.Explanation, "billing stays") {
			t.Errorf("explanation %q", top.Explanation)
		}
		wantNone(t, b.pack(), "billing", ErrorRegression)
	})
	t.Run("rolled back with its errors gone from the pack: still the canary", func(t *testing.T) {
		b := canaryPack("billing")
		wantTop(t, b.pack(), "billing", ErrorRegression, b.id(K.KindCanaryStatus, "billing", "", ""))
	})
	t.Run("a healthy rollout is nothing", func(t *testing.T) {
		b := quiet(newPack("billing")).scope(K.RoleVersion, "billing-primary").
			metric(K.KindCanaryStatus, "billing").base(1).win(0.3).last(1).minmax(0, 1).add().
			metric(K.KindCanaryWeight, "billing").base(0).win(25).last(0).minmax(0, 50).add().
			metric(K.KindRequestRate, "billing").win(3).minmax(0, 5).add().
			metric(K.KindErrorRatio, "billing").win(0.001).minmax(0, 0.003).add()
		if fs := Detect(b.pack()); len(fs) > 0 {
			t.Errorf("healthy rollout: %s", dump(fs))
		}
	})
}

func TestSeveralVersionsOfOneApp(t *testing.T) {
	// reviews-v1, -v2, -v3 behind one service; only v2 fails.
	b := newPack("reviews-v2").scope(K.RoleCaller, "productpage")
	for _, v := range []string{"reviews-v1", "reviews-v2", "reviews-v3"} {
		b.metric(K.KindRequestRate, v).base(2).win(2).add().
			edgeM(K.KindEdgeRate, "productpage", v).base(2).win(2).add()
	}
	b.metric(K.KindErrorRatio, "reviews-v2").base(0).win(0.2).minmax(0, 0.25).change(tOn, 0.22).add().
		edgeM(K.KindEdgeErrorRatio, "productpage", "reviews-v2").base(0).win(0.2).minmax(0, 0.25).change(tOn, 0.22).add().
		metric(K.KindErrorRatio, "reviews-v1").base(0).win(0).add().
		metric(K.KindErrorRatio, "productpage").base(0).win(0.066).minmax(0, 0.09).change(tOn, 0.07).add()
	wantTop(t, b.pack(), "reviews-v2", ErrorRegression)
	wantNone(t, b.pack(), "reviews-v1", ErrorRegression)
	wantNone(t, b.pack(), "productpage", ErrorRegression)
	wantNone(t, b.pack(), "reviews-v2", UpstreamDependency)
	// Seen from the caller's incident, the same.
	b.p.Subject, b.p.Scope = ref("productpage"), nil
	b.scope(K.RoleCallee, "reviews-v1", "reviews-v2", "reviews-v3")
	wantTop(t, b.pack(), "reviews-v2", ErrorRegression)
}

func TestPlaintextUnderStrict(t *testing.T) {
	b := quiet(newPack("orders"))
	b.p.Metrics = without(b.p.Metrics, K.KindMTLSShare, "orders")
	b.metric(K.KindMTLSShare, "orders").base(1).win(0.88).minmax(0.85, 1).change(tOn, 0.87).add()
	b.m2(K.KindMTLSShare, "orders", "unknown/unknown").base(0).win(0).minmax(0, 0).add()
	top := wantTop(t, b.pack(), "orders", PlaintextUnderStrict, b.id(K.KindMTLSShare, "orders", "", ""))
	if top.Score < 0.85 || !strings.Contains(top.Explanation, "outside the mesh") {
		t.Errorf("%s", top)
	}
	t.Run("fully mTLS is nothing", func(t *testing.T) {
		wantNone(t, quiet(newPack("orders")).pack(), "orders", PlaintextUnderStrict)
	})
}

// m2 is a per-source metric (Peer is the source).
func (b *packB) m2(kind K.Kind, w, source string) *mb {
	x := b.metric(kind, w)
	x.m.Peer = source
	return x
}

func TestControlPlaneRejects(t *testing.T) {
	t.Run("istiod's total and the proxy's log name the proxy", func(t *testing.T) {
		b := quiet(newPack("api")).
			metric(K.KindIstiodRejects, "istio-system/istiod").detail("type", "lds").base(0).win(30).last(62).minmax(0, 62).trend(2).add().
			log("api", "istio-proxy", "gRPC config for type.googleapis.com/envoy.config.listener.v3.Listener rejected: Error adding/updating listener(s) virtualInbound: script load error", 31)
		top := wantTop(t, b.pack(), "api", ControlPlaneRejects, b.id(K.KindIstiodRejects, "istio-system/istiod", "", "", "type", "lds"), b.p.Logs[0].ID)
		if !strings.Contains(top.Explanation, "LDS") {
			t.Errorf("%s", top)
		}
	})
	t.Run("a per-proxy rejects series names its workload", func(t *testing.T) {
		b := quiet(newPack("istio-system/istiod")).
			metric(K.KindIstiodRejects, "api").detail("type", "lds").base(0).win(1).last(1).minmax(0, 1).change(tOn, 1).add()
		wantTop(t, b.pack(), "api", ControlPlaneRejects)
	})
	t.Run("istiod's incident: its log lines name the proxy by its node id", func(t *testing.T) {
		b := newPack("istio-system/istiod").
			metric(K.KindIstiodRejects, "istio-system/istiod").detail("type", "lds").base(0).win(3).last(4).minmax(0, 5).add().
			log("istio-system/istiod", "discovery", "ADS:LDS: ACK ERROR sidecar~<ip>~api-<pod>.shop~shop.svc.cluster.local-<n> Internal:Error adding/updating listener(s) virtualInbound", 40)
		b.p.Logs[0].Example = `{"ts":"2026-10-30T13:05:00.000Z","level":"warn","msg":"ADS:LDS: ACK ERROR sidecar~10.42.0.12~api-6c9f8d7b5c-x2x4q.shop~shop.svc.cluster.local-47 Internal:Err…`
		top := wantTop(t, b.pack(), "api", ControlPlaneRejects, b.p.Logs[0].ID)
		if !strings.Contains(top.Explanation, "LDS") {
			t.Errorf("%s", top)
		}
		wantNone(t, b.pack(), "istio-system/istiod", ControlPlaneRejects)
	})
	t.Run("istiod's incident without a proxy named blames istiod", func(t *testing.T) {
		b := newPack("istio-system/istiod").
			metric(K.KindIstiodRejects, "istio-system/istiod").base(0).win(10).last(20).minmax(0, 20).add()
		wantTop(t, b.pack(), "istio-system/istiod", ControlPlaneRejects)
	})
	t.Run("a rejects gauge stuck from before is not news", func(t *testing.T) {
		b := newPack("istio-system/istiod").
			metric(K.KindIstiodRejects, "istio-system/istiod").base(3).win(3).last(3).minmax(3, 3).add()
		wantNone(t, b.pack(), "istio-system/istiod", ControlPlaneRejects)
	})
}

// ---- the whole ----

func TestHealthyPackIsQuiet(t *testing.T) {
	b := quiet(newPack("api")).scope(K.RoleCaller, "web").scope(K.RoleCallee, "stock", "orders", "billing-primary").
		// A few 404s and one stray 503 are no regression; the canary idles.
		metric(K.KindErrorRatio, "web").base(0.0003).win(0.0004).minmax(0, 0.004).add().
		metric(K.KindCanaryStatus, "billing").base(1).win(1).minmax(1, 1).add().
		metric(K.KindCanaryWeight, "billing").base(0).win(0).add().
		metric(K.KindRestarts, "api").ctr("api").win(0).minmax(0, 0).add().
		metric(K.KindOOMKills, "api").ctr("api").win(0).add().
		metric(K.KindIstiodPushes, "istio-system/istiod").base(0.7).win(0.8).add()
	if fs := Detect(b.pack()); len(fs) > 0 {
		t.Fatalf("findings in a healthy pack: %s", dump(fs))
	}
	if top := Top(b.pack(), nil); top.Cause != None || top.Workload != "api" {
		t.Errorf("Top of nothing: %s", top)
	}
	if Detect(nil) != nil || Detect(&K.Pack{}) != nil {
		t.Error("an empty pack has findings")
	}
}

// TestNamesDoNotMatter: renaming every namespace and workload (keeping
// Flagger's -primary suffix, a Kubernetes convention) renames the findings
// and changes nothing else.
func TestNamesDoNotMatter(t *testing.T) {
	packs := map[string]*K.Pack{
		"cascade": timeoutCascadePack().pack(),
		"circuit": circuitOpenPack().pack(),
		"storm":   retryStormPack().pack(),
		"canary": canaryPack("billing").
			metric(K.KindErrorRatio, "billing").win(0.05).minmax(0, 0.062).points(12).add().pack(),
	}
	rename := func(s string) string {
		if s == "" || s == "unknown" {
			return s
		}
		s = strings.ReplaceAll(s, "billing", "kasse")
		for _, r := range [][2]string{{"shop", "laden"}, {"stock", "lager"}, {"api", "backend"}, {"web", "vorne"}, {"orders", "auftrag"}, {"edge", "rand"}, {"gateway", "tor"}} {
			s = strings.ReplaceAll(s, r[0], r[1])
		}
		return s
	}
	for name, p := range packs {
		want := Detect(p)
		q := renamePack(p, rename)
		got := Detect(q)
		if len(got) != len(want) || len(want) == 0 {
			t.Fatalf("%s: %d findings renamed, %d before", name, len(got), len(want))
		}
		for i := range want {
			w := want[i]
			w.Namespace, w.Workload = rename(w.Namespace), rename(w.Workload)
			g := got[i]
			if g.Namespace != w.Namespace || g.Workload != w.Workload || g.Cause != w.Cause || g.Score != w.Score || len(g.Evidence) != len(w.Evidence) {
				t.Errorf("%s #%d: %s, want %s", name, i, g, w)
			}
		}
	}
}

func renamePack(p *K.Pack, f func(string) string) *K.Pack {
	q := *p
	q.Subject = K.Workload{Namespace: f(p.Subject.Namespace), Workload: f(p.Subject.Workload)}
	q.Scope = nil
	for _, n := range p.Scope {
		q.Scope = append(q.Scope, K.Neighbour{Workload: K.Workload{Namespace: f(n.Namespace), Workload: f(n.Workload.Workload)}, Role: n.Role})
	}
	q.Metrics = nil
	for _, m := range p.Metrics {
		m.Namespace, m.Workload = f(m.Namespace), f(m.Workload)
		if ns, w, ok := strings.Cut(m.Peer, "/"); ok {
			m.Peer = f(ns) + "/" + f(w)
		} else {
			m.Peer = f(m.Peer)
		}
		if m.Container != "istio-proxy" {
			m.Container = f(m.Container)
		}
		m.ID = K.MetricID(m.Kind, m.Namespace, m.Workload, m.Peer, m.Container, m.Detail)
		q.Metrics = append(q.Metrics, m)
	}
	q.Logs = nil
	for _, l := range p.Logs {
		l.Namespace, l.Workload = f(l.Namespace), f(l.Workload)
		l.ID = K.LogID(l.Namespace, l.Workload, l.Container, l.Pattern)
		q.Logs = append(q.Logs, l)
	}
	return &q
}

func TestRankIsTotalAndStable(t *testing.T) {
	fs := []Finding{
		{Namespace: "b", Workload: "x", Cause: Crashloop, Score: 0.7},
		{Namespace: "a", Workload: "y", Cause: Crashloop, Score: 0.7},
		{Namespace: "a", Workload: "x", Cause: ErrorRegression, Score: 0.7},
		{Namespace: "a", Workload: "x", Cause: SidecarMemoryLeak, Score: 0.9},
		{Namespace: "a", Workload: "x", Cause: Crashloop, Score: 0.7},
	}
	want := []string{"a/x sidecar-memory-leak", "a/x crashloop", "a/y crashloop", "b/x crashloop", "a/x error-regression"}
	for trial := 0; trial < 5; trial++ {
		c := append([]Finding(nil), fs...)
		// rotate the input
		c = append(c[trial:], c[:trial]...)
		Rank(c)
		for i, f := range c {
			if got := f.Namespace + "/" + f.Workload + " " + string(f.Cause); got != want[i] {
				t.Fatalf("trial %d #%d: %s, want %s", trial, i, got, want[i])
			}
		}
	}
}

func TestDetectIsDeterministicAndPure(t *testing.T) {
	p := timeoutCascadePack().pack()
	before, _ := json.Marshal(p)
	a := DetectAll(p)
	// Shuffle the metrics: the findings do not depend on the order.
	q := *p
	q.Metrics = append([]K.Metric(nil), p.Metrics...)
	for i, j := 0, len(q.Metrics)-1; i < j; i, j = i+1, j-1 {
		q.Metrics[i], q.Metrics[j] = q.Metrics[j], q.Metrics[i]
	}
	b := DetectAll(&q)
	if len(a) != len(b) {
		t.Fatalf("%d vs %d findings", len(a), len(b))
	}
	for i := range a {
		if a[i].Workload != b[i].Workload || a[i].Cause != b[i].Cause || a[i].Score != b[i].Score {
			t.Errorf("#%d: %s vs %s", i, a[i], b[i])
		}
	}
	after, _ := json.Marshal(p)
	if string(before) != string(after) {
		t.Error("Detect changed the pack")
	}
}

func TestVocabulary(t *testing.T) {
	want := []string{"sidecar-memory-leak", "app-memory-oom", "crashloop", "error-regression", "latency-regression",
		"upstream-dependency", "timeout-cascade", "circuit-open", "retry-storm", "plaintext-under-strict", "control-plane-rejects", "none"}
	var got []string
	for _, c := range Causes {
		got = append(got, string(c))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("vocabulary %v", got)
	}
	if len(Detectors()) != len(Causes)-1 {
		t.Errorf("%d detectors for %d causes (none has none)", len(Detectors()), len(Causes)-1)
	}
	b, _ := json.Marshal(Finding{Namespace: "n", Workload: "w", Cause: Crashloop, Score: 0.5, Explanation: "e", Evidence: []string{"rst-1"}})
	if string(b) != `{"namespace":"n","workload":"w","cause":"crashloop","score":0.5,"explanation":"e","evidence":["rst-1"]}` {
		t.Errorf("JSON %s", b)
	}
}

func without(ms []K.Metric, kind K.Kind, w string) []K.Metric {
	r := ref(w)
	var out []K.Metric
	for _, m := range ms {
		if m.Kind == kind && m.Namespace == r.Namespace && m.Workload == r.Workload {
			continue
		}
		out = append(out, m)
	}
	return out
}

// BenchmarkDetect: the detectors over a five-service incident's pack.
func BenchmarkDetect(b *testing.B) {
	p := timeoutCascadePack().pack()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if len(Detect(p)) == 0 {
			b.Fatal("no findings")
		}
	}
}
