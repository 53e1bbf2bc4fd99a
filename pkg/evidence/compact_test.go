package evidence

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func f(v float64) *float64 { return &v }

// flat is a metric with nothing happening; changed one with a change point.
func flat(kind Kind, wl string) Metric {
	return Metric{ID: MetricID(kind, "shop", wl, "", "", nil), Kind: kind, Namespace: "shop", Workload: wl, Unit: UnitRPS,
		Summary: Summary{Baseline: f(10), Window: 10, Last: 10, Min: 9.9, Max: 10.1, Points: 40}}
}

func changed(kind Kind, wl string, to float64) Metric {
	at := t0.Add(20 * time.Minute)
	return Metric{ID: MetricID(kind, "shop", wl, "", "", nil), Kind: kind, Namespace: "shop", Workload: wl, Unit: UnitMs,
		Summary: Summary{Baseline: f(50), Window: to, Last: to, Min: 50, Max: to, ChangeAt: &at, After: f(to), Points: 40}}
}

func pattern(wl string, n int) LogPattern {
	pat := "upstream " + wl + " returned 504 (UT: upstream request timeout) route=/x"
	return LogPattern{ID: LogID("shop", wl, wl, pat), Namespace: "shop", Workload: wl, Container: wl, Pattern: pat, Count: n,
		First: t0, Last: t0.Add(time.Minute), Example: strings.Repeat("e", 150)}
}

func bigPack() Pack {
	p := Pack{Incident: 3, Window: win(10, 30), Subject: Workload{"shop", "api"}, CapturedAt: t0.Add(30 * time.Minute),
		Scope: []Neighbour{{Workload: Workload{"shop", "frontend"}, Role: RoleCaller}, {Workload: Workload{"shop", "inventory"}, Role: RoleCallee},
			{Workload: Workload{"shop", "orders"}, Role: RoleCallee}, {Workload: Workload{"shop", "payments"}, Role: RoleCallee}}}
	for _, wl := range []string{"frontend", "api", "orders", "payments", "inventory", "istio-ingressgateway"} {
		for _, k := range []Kind{KindRequestRate, KindCPU, KindSidecarMemory, KindAppMemory, KindIstiodPushes, KindMTLSShare} {
			p.Metrics = append(p.Metrics, flat(k, wl))
		}
	}
	p.Metrics = append(p.Metrics, changed(KindLatencyP99, "inventory", 1250), changed(KindLatencyP99, "api", 1000))
	for i, wl := range []string{"api", "frontend", "orders", "inventory", "payments", "frontend2", "x", "y"} {
		p.Logs = append(p.Logs, pattern(wl, 100>>i))
	}
	for i := range 5 {
		id := fmt.Sprintf("%032x", i+1)
		p.Traces = append(p.Traces, Trace{ID: TraceEvidenceID(id), TraceID: id, Service: "frontend", Workload: "api", Root: "GET /",
			DurationMs: 1000 + i, Error: i%2 == 0, Start: t0})
	}
	return p
}

func TestSizerMatchesJSON(t *testing.T) {
	p := bigPack()
	sz := newSizer(&p)
	if got, want := sz.total(), len(p.JSON()); got != want {
		t.Fatalf("sizer %d, JSON %d", got, want)
	}
	p.Metrics, p.Traces = nil, nil
	p.Dropped = &Dropped{Metrics: 12}
	sz = newSizer(&p)
	if got, want := sz.total(), len(p.JSON()); got != want {
		t.Fatalf("without metrics: sizer %d, JSON %d", got, want)
	}
	empty := Pack{}
	if got, want := newSizer(&empty).total(), len(empty.JSON()); got != want {
		t.Fatalf("empty: sizer %d, JSON %d", got, want)
	}
}

func TestCompactFitsUnchanged(t *testing.T) {
	p := bigPack()
	n := len(p.JSON())
	out, rep := Compact(p, n)
	if !rep.Fits || rep.Before != n || rep.After != n || len(rep.Dropped) != 0 || out.Dropped != nil || rep.Examples != 0 {
		t.Fatalf("%+v", rep)
	}
	if len(out.Metrics) != len(p.Metrics) || len(out.Logs) != len(p.Logs) || len(out.Traces) != len(p.Traces) {
		t.Error("items lost")
	}
	// Ranked: the changed metrics lead.
	if out.Metrics[0].Kind != KindLatencyP99 || out.Metrics[1].Kind != KindLatencyP99 || out.Metrics[0].Workload != "api" {
		t.Errorf("rank: %s %s", out.Metrics[0].ID, out.Metrics[1].ID)
	}
	if !out.Traces[0].Error || out.Traces[0].DurationMs != 1004 {
		t.Errorf("traces not ranked: %+v", out.Traces[0])
	}
}

func TestCompactDropsFlatMetricsFirst(t *testing.T) {
	p := bigPack()
	before := p.JSON()
	flats := 0
	for _, m := range p.Metrics {
		if IsFlat(m, p.Window) {
			flats++
		}
	}
	if flats != 36 {
		t.Fatalf("%d flat metrics", flats)
	}
	budget := len(p.JSON()) - 500
	out, rep := Compact(p, budget)
	if !rep.Fits || rep.After > budget || len(out.JSON()) != rep.After {
		t.Fatalf("%+v", rep)
	}
	if string(p.JSON()) != string(before) {
		t.Error("Compact changed its input")
	}
	for _, id := range rep.Dropped {
		if !strings.HasPrefix(id, "rps-") && !strings.HasPrefix(id, "cpu-") && !strings.HasPrefix(id, "smem-") &&
			!strings.HasPrefix(id, "amem-") && !strings.HasPrefix(id, "push-") && !strings.HasPrefix(id, "mtls-") {
			t.Errorf("dropped %s before the flat metrics were gone", id)
		}
	}
	if len(out.Logs) != 8 || rep.Examples != 0 || len(out.Traces) != 5 {
		t.Errorf("logs %d examples cut %d traces %d", len(out.Logs), rep.Examples, len(out.Traces))
	}
	if out.Dropped == nil || out.Dropped.Metrics != len(rep.Dropped) {
		t.Errorf("dropped %+v vs %v", out.Dropped, rep.Dropped)
	}
}

func TestCompactOrder(t *testing.T) {
	p := bigPack()
	// Budget that needs everything flat gone, examples cut, and some items.
	out, rep := Compact(p, 1800)
	if !rep.Fits || rep.After > 1800 {
		t.Fatalf("%+v", rep)
	}
	if rep.Examples == 0 {
		t.Error("no example cut")
	}
	// The changed metrics survive; low-count patterns went first.
	var kept []string
	for _, m := range out.Metrics {
		kept = append(kept, m.Kind.Prefix()+":"+m.Workload)
	}
	if !slices.Contains(kept, "p99:inventory") || !slices.Contains(kept, "p99:api") {
		t.Errorf("kept metrics %v, dropped %v", kept, rep.Dropped)
	}
	for _, l := range out.Logs {
		for _, d := range p.Logs {
			if d.Count > l.Count && !slices.ContainsFunc(out.Logs, func(x LogPattern) bool { return x.ID == d.ID }) && d.Workload != "api" && l.Workload != "api" {
				t.Errorf("pattern of %d lines dropped, one of %d kept", d.Count, l.Count)
			}
		}
	}
	if out.Logs[0].Example == "" && len(out.Logs) > 0 {
		t.Error("the top pattern's example went before items")
	}
	d := out.Dropped
	if d.Metrics+d.Logs+d.Traces != len(rep.Dropped) {
		t.Errorf("counts %+v vs %d ids", d, len(rep.Dropped))
	}
	// Deterministic.
	again, rep2 := Compact(bigPack(), 1800)
	if !reflect.DeepEqual(out, again) || !reflect.DeepEqual(rep, rep2) {
		t.Error("Compact is not deterministic")
	}
	// Compacting a compacted pack to the same budget changes nothing more.
	third, rep3 := Compact(out, 1800)
	if len(rep3.Dropped) != 0 || !reflect.DeepEqual(third.IDs(), out.IDs()) {
		t.Errorf("recompaction dropped %v", rep3.Dropped)
	}
}

func TestCompactTinyBudget(t *testing.T) {
	p := bigPack()
	out, rep := Compact(p, 10)
	if rep.Fits {
		t.Error("10 bytes cannot fit")
	}
	if n := len(out.IDs()); n != 1 {
		t.Errorf("%d items kept, want the single best", n)
	}
	if out.IDs()[0] != MetricID(KindLatencyP99, "shop", "api", "", "", nil) {
		t.Errorf("kept %v", out.IDs())
	}
	if rep.Scope == 0 || out.Dropped.Scope != rep.Scope {
		t.Errorf("scope %d %+v", rep.Scope, out.Dropped)
	}
	// The subject's neighbours that the kept item is about stay: none here
	// but api itself, so every neighbour went.
	if len(out.Scope) != 0 {
		t.Errorf("scope %v", out.Scope)
	}
	if empty, rep := Compact(Pack{}, 1000); !rep.Fits || len(empty.IDs()) != 0 {
		t.Error("empty pack")
	}
}

func TestMetricScore(t *testing.T) {
	subj := Workload{"shop", "api"}
	w := win(0, 30)
	at := t0
	cases := []struct {
		name string
		m    Metric
		min  float64
		max  float64
	}{
		{"flat", flat(KindRequestRate, "frontend"), 0, FlatScore - 0.01},
		{"flat subject", flat(KindRequestRate, "api"), 1, 1.1},
		{"no points", Metric{Kind: KindCPU, Workload: "x"}, 0, 0},
		{"new series", Metric{Kind: KindErrorRatio, Workload: "x", Summary: Summary{Window: 0.02, Max: 0.03, Points: 3}}, 5, 5},
		{"zero baseline, zero window", Metric{Kind: KindErrorRatio, Workload: "x", Summary: Summary{Baseline: f(0), Points: 3}}, 0, 0},
		{"change point", Metric{Kind: KindLatencyP99, Workload: "x", Summary: Summary{Baseline: f(100), Window: 100, Last: 100, ChangeAt: &at, Points: 3}}, 3, 3},
		{"ttl soon", Metric{Kind: KindSidecarMemory, Workload: "x", Summary: Summary{Baseline: f(100), Window: 100, Last: 100, Max: 100, Limit: f(110), TimeToLimit: D(time.Hour), Points: 3}}, 6, 6},
		{"ttl far", Metric{Kind: KindSidecarMemory, Workload: "x", Summary: Summary{Baseline: f(100), Window: 100, Last: 100, Max: 100, Limit: f(1000), TimeToLimit: D(48 * time.Hour), Points: 3}}, 2, 2},
		{"restarts", Metric{Kind: KindRestarts, Workload: "x", Summary: Summary{Baseline: f(0), Window: 0, Max: 1, Points: 3}}, 4, 4},
		{"plaintext", Metric{Kind: KindMTLSShare, Workload: "x", Summary: Summary{Baseline: f(1), Window: 0.99, Min: 0.9, Last: 1, Max: 1, Points: 3}}, 4, 4.1},
		{"failed canary", Metric{Kind: KindCanaryStatus, Workload: "x", Summary: Summary{Baseline: f(0), Window: 1, Min: 0, Max: 2, Last: 2, Points: 3}}, 8, 9},
		{"edge touching subject", Metric{Kind: KindEdgeRate, Namespace: "shop", Workload: "frontend", Peer: "api", Summary: Summary{Baseline: f(1), Window: 1, Last: 1, Points: 3}}, 1, 1},
		{"trend", Metric{Kind: KindAppMemory, Workload: "x", Summary: Summary{Baseline: f(100), Window: 100, Last: 100, Trend: 1, Points: 3}}, 0.6, 0.6},
	}
	for _, c := range cases {
		if s := MetricScore(c.m, subj, w); s < c.min || s > c.max {
			t.Errorf("%s: score %v, want [%v, %v]", c.name, s, c.min, c.max)
		}
	}
	if LogScore(LogPattern{Count: 0, Workload: "x"}, subj) != 2 || LogScore(LogPattern{Count: 16, Namespace: "shop", Workload: "api"}, subj) != 5 {
		t.Error("LogScore")
	}
}

func BenchmarkCompact(b *testing.B) {
	p := bigPack()
	for b.Loop() {
		Compact(p, 1800)
	}
}

// The ids findings cite survive compaction, however little they score;
// the rest still fits around them.
func TestCompactKeepsCitedIDs(t *testing.T) {
	p := bigPack()
	_, plain := Compact(p, 1800)
	if len(plain.Dropped) < 3 {
		t.Fatalf("the budget drops too little to test: %v", plain.Dropped)
	}
	// The first, a middle and the last item Compact drops without keep.
	cite := []string{plain.Dropped[0], plain.Dropped[len(plain.Dropped)/2], plain.Dropped[len(plain.Dropped)-1]}
	out, rep := Compact(p, 1800, cite...)
	for _, id := range cite {
		if _, _, ok := out.Lookup(id); !ok {
			t.Errorf("cited %s was dropped", id)
		}
		if slices.Contains(rep.Dropped, id) {
			t.Errorf("the report lists cited %s as dropped", id)
		}
	}
	if !rep.Fits || rep.After > 1800 {
		t.Errorf("does not fit around the cited ids: %+v", rep)
	}
	// Cited ids that alone exceed the budget are kept; the report says so.
	all := p.IDs()
	out, rep = Compact(p, 1800, all...)
	if len(out.IDs()) != len(all) || rep.Fits {
		t.Errorf("kept %d of %d ids, fits %v", len(out.IDs()), len(all), rep.Fits)
	}
}
