package dashboards

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
)

// The dashboards' queries, rendered as Grafana renders them, run on a real
// Prometheus backfilled with the simulator's scenarios and a real Loki with
// their logs: every panel returns data in the healthy scenario, values fit
// their unit in every scenario, and the panels meant to show a fault do.

// dashVars are the variable values each dashboard is rendered with: the
// defaults (All) for the overview and the sidecars dashboard; for the
// drill-downs, the workload or canary the scenario is about.
func dashVars(file string, run scenarioRun) map[string]string {
	switch file {
	case "mesh-workload.json":
		ns, wl, ok := strings.Cut(scenarioWorkload[run.Name], "/")
		if !ok {
			ns, wl = "shop", ns
		}
		return map[string]string{"namespace": ns, "workload": wl}
	case "mesh-canary.json":
		return map[string]string{"namespace": "shop", "canary": "payments"}
	}
	return map[string]string{"namespace": "$__all", "workload": "$__all"}
}

// scenarioWorkload is the workload whose drill-down shows the scenario's
// fault (a mesh workload that receives traffic), as namespace/workload
// outside the shop.
var scenarioWorkload = map[string]string{
	"healthy": "api", "canary-success": "payments-primary", "canary-promotion-gate": "payments-primary", "canary-5xx-regression": "payments-primary",
	"sidecar-memory-leak": "api", "istiod-config-rejects": "api", "plaintext-under-strict": "orders",
	"crashloop": "orders", "upstream-latency": "inventory", "timeout-cascade": "inventory", "app-oomkill": "inventory",
	"circuit-breaker-open": "books/search-index", "retry-storm": "orders", "outlier-ejection": "books/cart",
}

// quietWhileHealthy are the panels whose source data only exists after an
// event, with the scenario in which they must show it instead.
var quietWhileHealthy = map[string]string{
	// Simulator gap: flagger_canary_metric_analysis is hidden until the run's
	// first analysis; a real Flagger keeps exporting the last rollout's values.
	"mesh-overview.json/Canary metric checks vs thresholds": "canary-5xx-regression",
	"mesh-canary.json/Metric checks vs thresholds":          "canary-5xx-regression",
	// Sidecars, istiod and Flagger log nothing while all is well.
	"mesh-control-plane.json/Mesh infrastructure logs": "istiod-config-rejects",
	"mesh-canary.json/Flagger events":                  "canary-5xx-regression",
}

// checkTime is when a scenario is looked at: the end of the run, for a
// canary shortly after its rollout (the analysis takes ten minutes), and
// for faults that all end before the run does, as the last one ends (the
// dashboards show the hour, or six, before it).
func checkTime(r scenarioRun) time.Time {
	if strings.HasPrefix(r.Name, "canary-") {
		for _, e := range r.Truth.Effects {
			if e.Kind == "canary-progression" {
				return e.Start.Add(20 * time.Minute)
			}
		}
	}
	var last time.Time
	for _, e := range r.Truth.Effects {
		if e.End == nil || !e.End.Before(r.End) {
			return r.End
		}
		if e.End.After(last) {
			last = *e.End
		}
	}
	if !last.IsZero() {
		return last
	}
	return r.End
}

type queryResult struct {
	q       rendered
	prom    *promResult
	streams []lokiStream
	err     error
}

// results of one scenario: "<file>/<panel title>" → its queries' results.
type results map[string][]*queryResult

func (rs results) panel(t *testing.T, key string) []*queryResult {
	t.Helper()
	r, ok := rs[key]
	if !ok {
		t.Fatalf("no panel %s", key)
	}
	return r
}

// series returns the series of one query of a panel whose labels match.
func (rs results) series(t *testing.T, key, refID string, match map[string]string) []promSeries {
	t.Helper()
	var out []promSeries
	for _, r := range rs.panel(t, key) {
		if r.q.RefID != refID || r.prom == nil {
			continue
		}
	next:
		for _, s := range r.prom.Series {
			for k, v := range match {
				if !strings.HasPrefix(s.Metric[k], v) {
					continue next
				}
			}
			out = append(out, s)
		}
	}
	return out
}

func seriesValues(ss []promSeries) []float64 {
	r := promResult{Series: ss}
	var out []float64
	for _, v := range r.points() {
		if !math.IsNaN(v) {
			out = append(out, v)
		}
	}
	return out
}

func minMaxOf(v []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range v {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return
}

// evaluate runs every query of every dashboard for one scenario (only the
// workload dashboard, with workloadVars, when they are given).
func evaluate(t *testing.T, prom *promClient, loki *lokiClient, run scenarioRun, workloadVars map[string]string) results {
	t.Helper()
	out := results{}
	for _, f := range Files() {
		vars := dashVars(f.Name, run)
		if workloadVars != nil {
			if f.Name != "mesh-workload.json" {
				continue
			}
			vars = workloadVars
		}
		d := loadDashboard(t, f.Name)
		r := newRenderer(d, checkTime(run), vars)
		r.Vars = expandAll(t, prom, r)
		for _, q := range r.render() {
			key := f.Name + "/" + q.Panel.Title
			if strings.Contains(q.Expr, "$") && !strings.Contains(q.Expr, `"$1"`) {
				t.Errorf("%s %s: unrendered variable in %s", key, q.RefID, q.Expr)
			}
			qr := &queryResult{q: q}
			switch q.DSType {
			case "prometheus":
				qr.prom, qr.err = prom.query(q)
			case "loki":
				shift, ok := loki.shiftFor(run.Name)
				if !ok {
					continue // Loki is not running, or holds no logs of this run
				}
				q.Start, q.End = q.Start.Add(shift), q.End.Add(shift)
				qr.streams, qr.err = loki.query(q)
			default:
				t.Errorf("%s: datasource type %q", key, q.DSType)
			}
			if qr.err != nil {
				t.Errorf("%s: %s %s: %v\n%s", run.Name, key, q.RefID, qr.err, q.Expr)
			}
			out[key] = append(out[key], qr)
		}
	}
	return out
}

// expandAll resolves the variables whose "All" has no custom value, which
// Grafana expands to every value the variable's query returns: (a|b|c).
func expandAll(t testing.TB, prom *promClient, r *renderer) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, v := range r.Vars {
		out[k] = v
	}
	for _, v := range r.dash.Templating.List {
		if v.Type != "query" || !v.IncludeAll || v.AllValue != "" || (out[v.Name] != "" && out[v.Name] != "$__all") {
			continue
		}
		def := strings.TrimSuffix(strings.TrimPrefix(v.Definition, "label_values("), ")")
		cut := strings.LastIndex(def, ",")
		if cut < 0 {
			t.Fatalf("variable %s: cannot expand %s", v.Name, v.Definition)
		}
		sel := (&renderer{Vars: out, dash: r.dash}).interpolate(strings.TrimSpace(def[:cut]), time.Minute, dsScrapeInterval)
		vals, err := prom.labelValues(strings.TrimSpace(def[cut+1:]), sel, r.From, r.To)
		if err != nil {
			t.Fatalf("variable %s: %v", v.Name, err)
		}
		if len(vals) == 0 {
			out[v.Name] = "" // Grafana renders an empty selection as nothing
			continue
		}
		out[v.Name] = grafanaMulti(vals)
	}
	return out
}

// checkUnit reports a value that cannot be right for the unit it shows in.
func checkUnit(unit string, v float64) error {
	switch {
	case math.IsNaN(v):
		return nil // histogram_quantile over no requests: Grafana leaves a gap
	case math.IsInf(v, 0):
		return fmt.Errorf("infinite value")
	}
	lo, hi := 0.0, math.Inf(1)
	switch unit {
	case "percentunit":
		hi = 1
	case "percent":
		hi = 100
	case "ms":
		hi = 10 * 60 * 1000 // a request over ten minutes is not a latency, it is a bug
	case "s":
		hi = 3600
	case "h":
		hi = 720
	case "reqps", "ops", "Bps", "bytes", "short", "none", "":
	default:
		return fmt.Errorf("no range check for unit %q", unit)
	}
	if v < lo-1e-9 || v > hi+1e-9 {
		return fmt.Errorf("%g outside [%g, %g] for unit %q", v, lo, hi, unit)
	}
	return nil
}

func TestDashboardsOnRealPrometheusAndLoki(t *testing.T) {
	fx := getFixture(t)
	prom := fx.startPrometheus(t)
	// Loki is optional locally (its part is skipped without the binary) and
	// required under CI=true, where RequireBinary fails instead of skipping.
	var loki *lokiClient
	lokiInstalled := false
	t.Run("loki installed", func(t *testing.T) { harness.RequireBinary(t, harness.BinLoki); lokiInstalled = true })
	if lokiInstalled {
		loki = fx.startLoki(t)
	}

	t.Run("variables", func(t *testing.T) {
		h := fx.run(t, "healthy")
		want := map[string][]string{
			`label_values(istio_requests_total{reporter=~"destination|waypoint"}, destination_workload_namespace)`: {"shop"},
			`label_values(istio_requests_total{reporter=~"destination|waypoint", destination_workload_namespace=~"$namespace", destination_workload!="unknown"}, destination_workload)`: {
				"api", "frontend", "inventory", "orders", "payments-primary"},
			`label_values(flagger_canary_status{namespace="$namespace"}, name)`:                    {"payments"},
			`label_values(kube_pod_container_resource_limits{container="istio-proxy"}, namespace)`: {"istio-system", "shop"},
			`label_values(flagger_canary_status, namespace)`:                                       {"shop"},
			`label_values(flagger_canary_weight{namespace=~"$namespace"}, workload)`:               {"payments", "payments-primary"},
		}
		seen := map[string]bool{}
		for _, f := range Files() {
			for _, v := range loadDashboard(t, f.Name).Templating.List {
				if v.Type != "query" {
					continue
				}
				def := v.Definition
				seen[def] = true
				exp, ok := want[def]
				if !ok {
					t.Errorf("%s: variable %s: no expectation for %s", f.Name, v.Name, def)
					continue
				}
				inner := strings.TrimSuffix(strings.TrimPrefix(def, "label_values("), ")")
				cut := strings.LastIndex(inner, ",")
				sel, label := strings.TrimSpace(inner[:cut]), strings.TrimSpace(inner[cut+1:])
				sel = strings.NewReplacer(`"$namespace"`, `"shop"`).Replace(sel)
				got, err := prom.labelValues(label, sel, h.End.Add(-time.Hour), h.End)
				if err != nil {
					t.Fatalf("%s %s: %v", f.Name, v.Name, err)
				}
				for _, w := range exp {
					if !contains(got, w) {
						t.Errorf("%s: variable %s = %v, missing %s", f.Name, v.Name, got, w)
					}
				}
			}
		}
	})

	all := map[string]results{}
	for _, run := range fx.runs {
		all[run.Name] = evaluate(t, prom, loki, run, nil)
	}
	// The workload drill-down shows one workload; api has no TCP traffic and
	// orders no outbound HTTP, so while healthy its panels are looked at for
	// both: each must have data for one of them.
	ordersView := evaluate(t, prom, loki, fx.run(t, "healthy"), map[string]string{"namespace": "shop", "workload": "orders"})

	t.Run("values fit their units", func(t *testing.T) {
		for name, rs := range all {
			for key, qs := range rs {
				for _, r := range qs {
					if r.prom == nil {
						continue
					}
					for _, v := range r.prom.points() {
						if err := checkUnit(r.q.Unit, v); err != nil {
							t.Errorf("%s: %s %s: %v", name, key, r.q.RefID, err)
							break
						}
					}
				}
			}
		}
	})

	t.Run("every panel has data while healthy", func(t *testing.T) {
		rs := all["healthy"]
		var keys []string
		for k := range rs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		withData, quiet := 0, 0
		defer func() {
			t.Logf("healthy: %d panels with data, %d quiet by design (checked in their fault scenario)", withData, quiet)
		}()
		for _, key := range keys {
			data := anyData(rs[key])
			if strings.HasPrefix(key, "mesh-workload.json/") {
				data = data || anyData(ordersView[key])
			}
			isLogs := rs[key][0].q.DSType == "loki"
			switch {
			case isLogs && loki == nil:
			case quietWhileHealthy[key] != "":
				quiet++
				if data {
					t.Logf("%s: listed as quiet while healthy but has data", key)
				}
				if !anyData(all[quietWhileHealthy[key]][key]) {
					t.Errorf("%s: no data in %s either, where it must show the event", key, quietWhileHealthy[key])
				}
			case !data:
				t.Errorf("%s: no data in the healthy scenario", key)
			default:
				withData++
			}
		}
	})

	t.Run("all 20 overview panels ran", func(t *testing.T) {
		n, logs := 0, 0
		for key, qs := range all["healthy"] {
			if strings.HasPrefix(key, "mesh-overview.json/") {
				n++
				if qs[0].q.DSType == "loki" {
					logs++
				}
			}
		}
		want := 20
		if loki == nil {
			want = 18 // the two Loki panels need Loki
		} else if logs != 2 {
			t.Errorf("overview Loki panels %d, want 2 (error logs, traces)", logs)
		}
		if n != want {
			t.Errorf("overview panels evaluated: %d, want %d", n, want)
		}
	})

	if loki != nil {
		t.Run("traces table has trace ids", func(t *testing.T) {
			for _, key := range []string{ov + "Failing and slow requests → traces", "mesh-workload.json/Requests → traces"} {
				n := 0
				for _, r := range all["healthy"].panel(t, key) {
					for _, s := range r.streams {
						if len(s.Stream["trace_id"]) != 32 {
							t.Errorf("%s: stream without a 32-hex trace_id: %v", key, s.Stream)
						}
						n += len(s.Values)
					}
				}
				if n == 0 {
					t.Errorf("%s: no requests with trace ids", key)
				}
			}
		})
	}

	healthyChecks(t, all["healthy"])
	faultChecks(t, all, loki != nil)
}

func (c *lokiClient) shiftFor(run string) (time.Duration, bool) {
	if c == nil {
		return 0, false
	}
	d, ok := c.shift[run]
	return d, ok
}

func hasData(r *queryResult) bool {
	if r.prom != nil {
		for _, v := range r.prom.points() {
			if !math.IsNaN(v) {
				return true
			}
		}
	}
	for _, s := range r.streams {
		if len(s.Values) > 0 {
			return true
		}
	}
	return false
}

func anyData(qs []*queryResult) bool {
	for _, r := range qs {
		if hasData(r) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

const ov = "mesh-overview.json/"

func healthyChecks(t *testing.T, rs results) {
	t.Run("healthy looks healthy", func(t *testing.T) {
		if lo, _ := minMaxOf(seriesValues(rs.series(t, ov+"mTLS coverage", "A", nil))); lo < 1-1e-9 {
			t.Errorf("mTLS coverage %g, want 100 %% under STRICT", lo)
		}
		if lo, _ := minMaxOf(seriesValues(rs.series(t, ov+"Success rate", "A", nil))); lo < SuccessSLO {
			t.Errorf("success rate fell to %g", lo)
		}
		if _, hi := minMaxOf(seriesValues(rs.series(t, ov+"5xx rate", "A", nil))); hi > 0 {
			t.Errorf("5xx rate %g/s while healthy", hi)
		}
		if _, hi := minMaxOf(seriesValues(rs.series(t, ov+"P50 / P90 / P99 by workload", "C", nil))); hi > LatencySLOms {
			t.Errorf("P99 %g ms while healthy", hi)
		}
		if v := seriesValues(rs.series(t, ov+"xDS pushes and rejects", "B", nil)); len(v) > 0 {
			t.Errorf("xDS rejects while healthy: %v", v)
		}
		if lo, hi := minMaxOf(seriesValues(rs.series(t, ov+"Canary phase", "A", nil))); lo != 1 || hi != 1 {
			t.Errorf("canary phase %g..%g while idle, want 1 (idle/promoted)", lo, hi)
		}
		if v := seriesValues(rs.series(t, ov+"Workload RED", "requests", nil)); len(v) < 5 {
			t.Errorf("RED table has %d workloads, want the 5 that receive traffic", len(v))
		}
	})
}

// faultChecks: the panels meant to show each fault do.
func faultChecks(t *testing.T, all map[string]results, withLoki bool) {
	const cp, wl, cn = "mesh-control-plane.json/", "mesh-workload.json/", "mesh-canary.json/"
	t.Run("canary-5xx-regression", func(t *testing.T) {
		rs := all["canary-5xx-regression"]
		if lo, hi := minMaxOf(seriesValues(rs.series(t, ov+"Canary phase", "A", nil))); lo != 0 || hi != 2 {
			t.Errorf("canary phase %g..%g, want Progressing (0) then Failed (2)", lo, hi)
		}
		if _, hi := minMaxOf(seriesValues(rs.series(t, ov+"Canary traffic weight", "A", map[string]string{"workload": "payments"}))); hi < 50 {
			t.Errorf("canary weight peaked at %g, want the 50 step", hi)
		}
		canary := rs.series(t, ov+"Canary vs primary success rate", "A", map[string]string{"destination_workload": "payments"})
		var cv []float64
		for _, s := range canary {
			if s.Metric["destination_workload"] == "payments" {
				cv = append(cv, seriesValues([]promSeries{s})...)
			}
		}
		if lo, _ := minMaxOf(cv); lo >= SuccessSLO*100 {
			t.Errorf("canary success rate never below the gate (min %g)", lo)
		}
		if lo, _ := minMaxOf(seriesValues(rs.series(t, ov+"Canary metric checks vs thresholds", "A", nil))); lo >= SuccessSLO*100 {
			t.Errorf("request-success-rate check never below 99.5 (min %g)", lo)
		}
		if lo, hi := minMaxOf(seriesValues(rs.series(t, cn+"Phase over time", "A", nil))); lo != 0 || hi != 2 {
			t.Errorf("canary dashboard phase %g..%g", lo, hi)
		}
		if _, hi := minMaxOf(seriesValues(rs.series(t, cn+"Rollbacks", "A", nil))); hi < 1 {
			t.Errorf("rollbacks %g", hi)
		}
		if _, hi := minMaxOf(seriesValues(rs.series(t, cn+"Canary 5xx by code", "A", map[string]string{"response_code": "500"}))); !(hi > 0) {
			t.Errorf("canary 500s not shown")
		}
		if withLoki && !streamsContain(rs.panel(t, cn+"Flagger events"), "Rolling back payments.shop") {
			t.Errorf("Flagger events do not show the rollback")
		}
	})
	t.Run("sidecar-memory-leak", func(t *testing.T) {
		rs := all["sidecar-memory-leak"]
		if _, hi := minMaxOf(seriesValues(rs.series(t, ov+"Sidecar memory", "A", map[string]string{"pod": "api-"}))); hi < 0.7*256*1024*1024 {
			t.Errorf("api sidecar memory peaks at %g bytes, want > 70 %% of 256Mi", hi)
		}
		if _, hi := minMaxOf(seriesValues(rs.series(t, cp+"Sidecar memory, share of limit", "A", map[string]string{"pod": "api-"}))); hi < 0.7 {
			t.Errorf("api sidecar share of limit %g", hi)
		}
		if lo, _ := minMaxOf(seriesValues(rs.series(t, cp+"Time until the memory limit", "A", map[string]string{"pod": "api-"}))); lo > 24 {
			t.Errorf("api sidecar: %g hours to the limit, want under a day", lo)
		}
		if lo, _ := minMaxOf(seriesValues(rs.series(t, cp+"Time until the memory limit", "A", map[string]string{"pod": "frontend-"}))); lo < 24*7 {
			t.Errorf("frontend sidecar: %g hours to the limit; it does not leak", lo)
		}
		alloc := seriesValues(rs.series(t, cp+"Envoy heap", "A", map[string]string{"pod": "api-"}))
		if len(alloc) < 2 || alloc[len(alloc)-1]-alloc[0] < 50*1024*1024 {
			t.Errorf("Envoy allocated heap of api does not grow over the range")
		}
	})
	t.Run("plaintext-under-strict", func(t *testing.T) {
		rs := all["plaintext-under-strict"]
		if lo, _ := minMaxOf(seriesValues(rs.series(t, ov+"mTLS coverage", "A", nil))); lo >= 0.999 || lo < 0.5 {
			t.Errorf("mTLS coverage %g, want visibly below 100 %%", lo)
		}
		if len(rs.series(t, ov+"Requests by source and code (mTLS split)", "A", map[string]string{"connection_security_policy": "none"})) == 0 {
			t.Errorf("no plaintext (policy none) series in the mTLS split")
		}
		if lo, _ := minMaxOf(seriesValues(rs.series(t, wl+"Inbound mTLS", "A", nil))); lo >= 0.999 {
			t.Errorf("orders inbound mTLS %g", lo)
		}
	})
	t.Run("istiod-config-rejects", func(t *testing.T) {
		rs := all["istiod-config-rejects"]
		if _, hi := minMaxOf(seriesValues(rs.series(t, ov+"xDS pushes and rejects", "B", nil))); !(hi > 0) {
			t.Errorf("no xDS rejects shown")
		}
		if len(rs.series(t, cp+"xDS rejects and rejecting proxies", "B", map[string]string{"node": "sidecar~"})) == 0 {
			t.Errorf("the rejecting proxy is not named")
		}
		if withLoki && !streamsContain(rs.panel(t, cp+"Mesh infrastructure logs"), "rejected") {
			t.Errorf("infrastructure logs do not show the reject")
		}
	})
	t.Run("upstream-latency", func(t *testing.T) {
		rs := all["upstream-latency"]
		if _, hi := minMaxOf(seriesValues(rs.series(t, ov+"P50 / P90 / P99 by workload", "C", map[string]string{"destination_workload": "inventory"}))); hi < LatencySLOms {
			t.Errorf("inventory P99 %g ms, want over the SLO", hi)
		}
		if v := seriesValues(rs.series(t, ov+"Workload RED", "p99", map[string]string{"destination_workload": "inventory"})); len(v) != 1 || v[0] < LatencySLOms {
			t.Errorf("RED table P99 of inventory %v", v)
		}
		if _, hi := minMaxOf(seriesValues(rs.series(t, wl+"Inbound P99", "A", nil))); hi < LatencySLOms {
			t.Errorf("inventory inbound P99 %g", hi)
		}
	})
	t.Run("timeout-cascade", func(t *testing.T) {
		rs := all["timeout-cascade"]
		if _, hi := minMaxOf(seriesValues(rs.series(t, ov+"5xx rate", "A", nil))); !(hi > 0) {
			t.Errorf("no 5xx shown")
		}
		if lo, _ := minMaxOf(seriesValues(rs.series(t, ov+"Success rate", "A", nil))); lo >= SuccessSLO {
			t.Errorf("success rate %g, want below the SLO", lo)
		}
		if lo, _ := minMaxOf(seriesValues(rs.series(t, wl+"Inbound success rate by source", "A", map[string]string{"source_workload": "api"}))); lo >= SuccessSLO {
			t.Errorf("inventory's success rate for api %g, want below the SLO (it sheds 10 %%)", lo)
		}
	})
	t.Run("crashloop", func(t *testing.T) {
		rs := all["crashloop"]
		if _, hi := minMaxOf(seriesValues(rs.series(t, cp+"Container restarts", "A", map[string]string{"pod": "orders-", "container": "orders"}))); !(hi > 0) {
			t.Errorf("orders restarts not shown")
		}
		if _, hi := minMaxOf(seriesValues(rs.series(t, wl+"Container restarts", "A", map[string]string{"container": "orders"}))); !(hi > 0) {
			t.Errorf("orders restarts not shown on its workload dashboard")
		}
	})
	// Resilience: the workload drill-down of the dependency shows its
	// callers' breaker, retries and ejections.
	t.Run("circuit-breaker-open", func(t *testing.T) {
		rs := all["circuit-breaker-open"]
		if _, hi := minMaxOf(seriesValues(rs.series(t, wl+"Calls to $workload by response flag", "A", map[string]string{"response_flags": "UO"}))); !(hi > 0) {
			t.Errorf("no UO calls to search-index shown")
		}
		if _, hi := minMaxOf(seriesValues(rs.series(t, wl+"Circuit breakers toward $workload", "A", nil))); !(hi > 0) {
			t.Errorf("no circuit-breaker overflow toward search-index shown")
		}
		if _, hi := minMaxOf(seriesValues(rs.series(t, wl+"Circuit breakers toward $workload", "B", nil))); hi != 1 {
			t.Errorf("the requests breaker toward search-index never shows open (max %g)", hi)
		}
	})
	t.Run("retry-storm", func(t *testing.T) {
		rs := all["retry-storm"]
		first := rs.series(t, wl+"Retries vs first attempts to $workload", "A", map[string]string{"source_workload": "api"})
		retries := rs.series(t, wl+"Retries vs first attempts to $workload", "B", map[string]string{"source_workload": "api"})
		if len(first) != 1 || len(retries) != 1 {
			t.Fatalf("api's first attempts and retries to orders: %d and %d series, want one each", len(first), len(retries))
		}
		storm := 0.0
		at := map[float64]float64{}
		for _, v := range first[0].Values {
			at[v[0].(float64)] = parseValue(v[1])
		}
		for _, v := range retries[0].Values {
			if f := at[v[0].(float64)]; f > 0 {
				storm = math.Max(storm, parseValue(v[1])/f)
			}
		}
		if storm < 0.2 {
			t.Errorf("api's retries to orders peak at %.2f of its first attempts, want a storm (> 0.2)", storm)
		}
	})
	t.Run("outlier-ejection", func(t *testing.T) {
		rs := all["outlier-ejection"]
		if _, hi := minMaxOf(seriesValues(rs.series(t, wl+"Outlier ejections of $workload's endpoints", "A", nil))); hi < 1 {
			t.Errorf("no ejected cart endpoint shown (max %g)", hi)
		}
		if _, hi := minMaxOf(seriesValues(rs.series(t, wl+"Outlier ejections of $workload's endpoints", "B", nil))); !(hi > 0) {
			t.Errorf("no ejections of cart counted")
		}
		if _, hi := minMaxOf(seriesValues(rs.series(t, wl+"Calls to $workload by response flag", "A", map[string]string{"response_flags": "UH"}))); !(hi > 0) {
			t.Errorf("no UH calls to cart shown")
		}
	})
	t.Run("app-oomkill", func(t *testing.T) {
		rs := all["app-oomkill"]
		if len(rs.series(t, cp+"Restarts and last termination", "reason", map[string]string{"reason": "OOMKilled", "pod": "inventory-"})) == 0 {
			t.Errorf("OOMKilled not shown for inventory")
		}
	})
}

func streamsContain(qs []*queryResult, s string) bool {
	for _, r := range qs {
		for _, st := range r.streams {
			for _, v := range st.Values {
				if strings.Contains(v[1], s) {
					return true
				}
			}
		}
	}
	return false
}
