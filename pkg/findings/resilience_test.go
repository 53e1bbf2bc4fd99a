package findings

import (
	"strings"
	"testing"

	K "github.com/meshwatch/meshwatch/pkg/evidence"
)

// circuitOpenPack: a burst slows stock (P99 9 → 420 ms); api's connection
// pool to it fills and api's proxy refuses a quarter of its calls at once
// (503 UO, destination unknown: Envoy's pending overflows name stock); api
// and web fail with them. stock itself answers no 5xx.
func circuitOpenPack() *packB {
	return quiet(newPack("api"), "p99:stock", "ep99:api>stock").
		scope(K.RoleCaller, "web").scope(K.RoleCallee, "stock", "orders", "billing-primary").
		metric(K.KindLatencyP99, "stock").base(9).win(380).last(420).minmax(8, 450).change(tOn, 420).add().
		edgeM(K.KindEdgeLatencyP99, "api", "stock").base(10).win(390).minmax(9, 460).change(tOn, 430).add().
		edgeM(K.KindEdgeOverflow, "api", "stock").detail("service", "shop/stock").win(1.5).minmax(0, 2.4).change(tOn, 1.8).add().
		edgeM(K.KindEdgeErrorRatio, "api", "unknown").detail("code", "503", "flags", "UO").win(0.2).minmax(0, 0.3).change(tOn, 0.24).add().
		edgeM(K.KindEdgeErrorRatio, "api", "unknown").win(0.2).minmax(0, 0.3).change(tOn, 0.24).add().
		metric(K.KindErrorRatio, "api").base(0).win(0.12).minmax(0, 0.18).change(tOn, 0.14).add().
		metric(K.KindErrorRatio, "api").detail("code", "503", "flags", "-").base(0).win(0.12).minmax(0, 0.18).change(tOn, 0.14).add().
		edgeM(K.KindEdgeErrorRatio, "web", "api").base(0).win(0.12).minmax(0, 0.18).change(tOn, 0.14).add().
		metric(K.KindErrorRatio, "web").base(0).win(0.11).minmax(0, 0.17).change(tOn, 0.13).add()
}

func TestCircuitOpenNamesTheDependencyAndTheCounts(t *testing.T) {
	b := circuitOpenPack()
	top := wantTop(t, b.pack(), "stock", CircuitOpen,
		b.id(K.KindEdgeOverflow, "api", "stock", "", "service", "shop/stock"),
		b.id(K.KindEdgeErrorRatio, "api", "unknown", "", "code", "503", "flags", "UO"))
	for _, s := range []string{"api's circuit breaker to stock", "503 UO", "stock P99"} {
		if !strings.Contains(top.Explanation, s) {
			t.Errorf("explanation %q lacks %q", top.Explanation, s)
		}
	}
	if top.Score < 0.85 {
		t.Errorf("score %.2f", top.Score)
	}
	// The refused calls explain api's and web's 503s: no regression of
	// theirs, and stock's slowness is the breaker's story.
	wantNone(t, b.pack(), "api", ErrorRegression)
	wantNone(t, b.pack(), "web", ErrorRegression)
	wantBelow(t, b.pack(), "stock", LatencyRegression, top)
	wantBelow(t, b.pack(), "stock", UpstreamDependency, top)
}

// A handful of refusals are no open breaker.
func TestFewOverflowsAreNoOpenBreaker(t *testing.T) {
	b := quiet(newPack("api")).scope(K.RoleCallee, "stock").
		edgeM(K.KindEdgeOverflow, "api", "stock").detail("service", "shop/stock").win(0.0008).minmax(0, 0.01).add()
	if fs := Detect(b.pack()); len(fs) > 0 {
		t.Errorf("findings: %s", dump(fs))
	}
}

// retryStormPack: orders runs out of database connections and sheds with
// fast 503s; api retries on 5xx (one retry per first attempt), so orders
// serves twice the calls api makes, fails more of them, and api's calls
// end 503 URX.
func retryStormPack() *packB {
	return quiet(newPack("api")).
		scope(K.RoleCaller, "web").scope(K.RoleCallee, "stock", "orders", "billing-primary").
		edgeM(K.KindEdgeRetries, "api", "orders").detail("service", "shop/orders").win(2.8).minmax(0, 3.6).change(tOn, 3.1).add().
		metric(K.KindErrorRatio, "orders").base(0).win(0.6).minmax(0, 0.8).change(tOn, 0.7).add().
		metric(K.KindErrorRatio, "orders").detail("code", "503", "flags", "-").base(0).win(0.6).minmax(0, 0.8).change(tOn, 0.7).add().
		edgeM(K.KindEdgeErrorRatio, "api", "orders").base(0).win(0.4).minmax(0, 0.55).change(tOn, 0.45).add().
		edgeM(K.KindEdgeErrorRatio, "api", "orders").detail("code", "503", "flags", "URX").base(0).win(0.4).minmax(0, 0.55).change(tOn, 0.45).add().
		metric(K.KindErrorRatio, "api").base(0).win(0.12).minmax(0, 0.17).change(tOn, 0.14).add().
		edgeM(K.KindEdgeErrorRatio, "web", "api").base(0).win(0.12).minmax(0, 0.17).change(tOn, 0.14).add().
		metric(K.KindErrorRatio, "web").base(0).win(0.11).minmax(0, 0.16).change(tOn, 0.13).add()
}

func TestRetryStormNamesTheDependencyAndTheCounts(t *testing.T) {
	b := retryStormPack()
	// orders serves twice what api sends it.
	for i, m := range b.p.Metrics {
		if m.Kind == K.KindRequestRate && m.Workload == "orders" {
			b.p.Metrics[i].Window, b.p.Metrics[i].Last, b.p.Metrics[i].Max = 6.2, 6.4, 7
		}
	}
	top := wantTop(t, b.pack(), "orders", RetryStorm,
		b.id(K.KindEdgeRetries, "api", "orders", "", "service", "shop/orders"),
		b.id(K.KindEdgeRate, "api", "orders", ""),
		b.id(K.KindEdgeErrorRatio, "api", "orders", "", "code", "503", "flags", "URX"))
	for _, s := range []string{"api retries its calls to orders", "retries per first attempt", "2.1× the calls", "URX"} {
		if !strings.Contains(top.Explanation, s) {
			t.Errorf("explanation %q lacks %q", top.Explanation, s)
		}
	}
	if top.Score < 0.9 {
		t.Errorf("a storm that doubles the load: score %.2f", top.Score)
	}
	wantBelow(t, b.pack(), "orders", UpstreamDependency, top)
	wantBelow(t, b.pack(), "orders", ErrorRegression, top)
	wantNone(t, b.pack(), "api", ErrorRegression)
}

// Retries that stay a small share of the calls (a dependency failing 20 %
// of them, retried once) are the dependency's errors, not a storm.
func TestFewRetriesAreNoStorm(t *testing.T) {
	b := quiet(newPack("api")).scope(K.RoleCaller, "web").scope(K.RoleCallee, "stock", "orders", "billing-primary").
		edgeM(K.KindEdgeRetries, "api", "stock").detail("service", "shop/stock").base(0.05).win(0.9).minmax(0, 1.2).change(tOn, 1).add().
		metric(K.KindErrorRatio, "stock").base(0).win(0.18).minmax(0, 0.22).change(tOn, 0.2).add().
		edgeM(K.KindEdgeErrorRatio, "api", "stock").base(0).win(0.04).minmax(0, 0.06).change(tOn, 0.045).add().
		edgeM(K.KindEdgeErrorRatio, "api", "stock").detail("code", "503", "flags", "URX").base(0).win(0.04).minmax(0, 0.06).change(tOn, 0.045).add().
		metric(K.KindErrorRatio, "api").base(0).win(0.02).minmax(0, 0.03).change(tOn, 0.025).add()
	wantNone(t, b.pack(), "stock", RetryStorm)
	wantShown(t, b.pack(), "stock", UpstreamDependency)
}

// Per-try timeouts are retried too: in a timeout cascade the retries are
// its, and the retry-storm finding stays under the threshold.
func TestRetriesOfTimeoutsAreTheCascades(t *testing.T) {
	b := timeoutCascadePack().
		edgeM(K.KindEdgeRetries, "api", "stock").detail("service", "shop/stock").win(4.5).minmax(0, 6).change(tOn, 5).add()
	top := wantTop(t, b.pack(), "stock", TimeoutCascade)
	wantNone(t, b.pack(), "stock", RetryStorm)
	for _, f := range DetectAll(b.pack()) {
		if f.Cause == RetryStorm && !strings.Contains(f.Explanation, "time out") {
			t.Errorf("the retry-storm hint does not say the retries are timeouts: %s", f)
		}
	}
	_ = top
}

// Outlier detection ejecting a bad backend's pod is evidence of the
// dependency's fault (upstream-dependency), not a cause of its own: its
// callers' 503 UH while it is ejected blame it through the ejection count.
func TestOutlierEjectionIsEvidenceOfTheDependency(t *testing.T) {
	b := quiet(newPack("api")).scope(K.RoleCaller, "web").scope(K.RoleCallee, "stock", "orders", "billing-primary").
		metric(K.KindErrorRatio, "stock").base(0).win(0.4).minmax(0, 0.95).change(tOn, 0.5).add().
		metric(K.KindErrorRatio, "stock").detail("code", "503", "flags", "-").base(0).win(0.4).minmax(0, 0.95).change(tOn, 0.5).add().
		edgeM(K.KindEdgeErrorRatio, "api", "stock").base(0).win(0.02).minmax(0, 0.2).change(tOn, 0.03).add().
		edgeM(K.KindEdgeErrorRatio, "api", "stock").detail("code", "503", "flags", "-").base(0).win(0.02).minmax(0, 0.2).change(tOn, 0.03).add().
		edgeM(K.KindEdgeErrorRatio, "api", "unknown").detail("code", "503", "flags", "UH").win(0.3).minmax(0, 0.9).change(tOn, 0.4).add().
		edgeM(K.KindEdgeEjections, "api", "stock").detail("service", "shop/stock").win(0.4).minmax(0, 1).change(tOn, 0.6).add().
		metric(K.KindErrorRatio, "api").base(0).win(0.15).minmax(0, 0.5).change(tOn, 0.2).add().
		edgeM(K.KindEdgeErrorRatio, "web", "api").base(0).win(0.15).minmax(0, 0.5).change(tOn, 0.2).add().
		metric(K.KindErrorRatio, "web").base(0).win(0.14).minmax(0, 0.48).change(tOn, 0.19).add()
	top := wantTop(t, b.pack(), "stock", UpstreamDependency, b.id(K.KindEdgeEjections, "api", "stock", "", "service", "shop/stock"))
	if !strings.Contains(top.Explanation, "outlier detection of api ejected it") {
		t.Errorf("explanation %q does not name the ejection", top.Explanation)
	}
	wantNone(t, b.pack(), "api", ErrorRegression)
	wantNone(t, b.pack(), "stock", CircuitOpen)
	wantNone(t, b.pack(), "stock", RetryStorm)
}

// A healthy mesh with a proxyStatsMatcher: a steady trickle of retries (2 %
// of the calls) and nothing refused or ejected is no finding.
func TestHealthyResilienceIsQuiet(t *testing.T) {
	b := quiet(newPack("api")).scope(K.RoleCaller, "web").scope(K.RoleCallee, "stock", "orders", "billing-primary").
		edgeM(K.KindEdgeRetries, "api", "stock").detail("service", "shop/stock").base(0.1).win(0.1).minmax(0, 0.3).add()
	if fs := Detect(b.pack()); len(fs) > 0 {
		t.Fatalf("findings in a healthy pack: %s", dump(fs))
	}
}
