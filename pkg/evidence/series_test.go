package evidence

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/meshwatch/meshwatch/pkg/incident"
)

// recordingProm answers the request graph, the memory query and the 5xx
// query of the edges with canned series and records every range query
// with its range; the rest answer nothing. (The real Prometheus runs in
// integration_test.go; this checks which queries Series reuses.)
type recordingProm struct {
	v1.API
	mu     sync.Mutex
	ranges map[string]v1.Range
	end    time.Time
}

func (f *recordingProm) Rules(context.Context, []string) (v1.RulesResult, error) {
	return v1.RulesResult{}, nil
}

func (f *recordingProm) Query(_ context.Context, q string, _ time.Time, _ ...v1.Option) (model.Value, v1.Warnings, error) {
	if !strings.Contains(q, "increase(istio_requests_total") {
		return model.Vector{}, nil, nil
	}
	edge := func(from, to string) *model.Sample {
		return &model.Sample{Value: 100, Metric: model.Metric{"source_workload_namespace": "ns1", "source_workload": model.LabelValue(from),
			"destination_workload_namespace": "ns1", "destination_workload": model.LabelValue(to),
			"destination_service_namespace": "ns1", "destination_service_name": model.LabelValue(to)}}
	}
	return model.Vector{edge("web", "cart"), edge("cart", "db")}, nil, nil
}

func (f *recordingProm) QueryRange(_ context.Context, q string, r v1.Range, _ ...v1.Option) (model.Value, v1.Warnings, error) {
	f.mu.Lock()
	f.ranges[q] = r
	f.mu.Unlock()
	ramp := func(m model.Metric, at func(i int) float64) *model.SampleStream {
		s := &model.SampleStream{Metric: m}
		for i, t := 0, r.Start; !t.After(r.End); i, t = i+1, t.Add(r.Step) {
			s.Values = append(s.Values, model.SamplePair{Timestamp: model.TimeFromUnixNano(t.UnixNano()), Value: model.SampleValue(at(i))})
		}
		return s
	}
	switch {
	case strings.Contains(q, "container_memory_working_set_bytes"):
		// Per pod: Collect takes the max over the workload's pods.
		pod := func(name, ctr string) model.Metric {
			return model.Metric{"namespace": "ns1", "pod": model.LabelValue(name), "container": model.LabelValue(ctr)}
		}
		return model.Matrix{
			ramp(pod("cart-7c9d8b5f4-x2x9z", "istio-proxy"), func(i int) float64 { return 1e8 + float64(i)*1e6 }),
			ramp(pod("cart-7c9d8b5f4-bbq2w", "istio-proxy"), func(int) float64 { return 9e7 }),
			ramp(pod("cart-7c9d8b5f4-x2x9z", "cart"), func(int) float64 { return 5e7 }),
		}, nil, nil
	case strings.Contains(q, `reporter=~"source|waypoint"`) && strings.Contains(q, "response_code") && !strings.Contains(q, "_bucket"):
		m := model.Metric{"source_workload_namespace": "ns1", "source_workload": "cart", "destination_workload_namespace": "ns1",
			"destination_workload": "db", "response_flags": "-"}
		ok, bad := m.Clone(), m.Clone()
		ok["response_code"], bad["response_code"] = "200", "503"
		uh := m.Clone()
		uh["destination_workload"], uh["destination_workload_namespace"], uh["response_code"], uh["response_flags"] = "unknown", "unknown", "503", "UH"
		return model.Matrix{ramp(ok, func(int) float64 { return 10 }), ramp(bad, func(i int) float64 { return float64(i % 3) }),
			ramp(uh, func(i int) float64 { return 1 + float64(i%2) })}, nil, nil
	}
	return model.Matrix{}, nil, nil
}

// Series runs exactly the query Collect ran for a metric's kind, over the
// same range, and gives the points the metric's summary was made of.
func TestSeriesReusesCollectsQueries(t *testing.T) {
	end := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	prom := &recordingProm{ranges: map[string]v1.Range{}, end: end}
	inc := Incident{ID: 9, Namespace: "ns1", Workload: "cart", Alerts: []incident.Alert{{Labels: map[string]string{"alertname": "X"},
		StartsAt: end.Add(-20 * time.Minute)}}}
	p := Collect(context.Background(), Sources{Prometheus: prom}, inc, end)
	if p.IsPartial() {
		t.Fatalf("partial %+v", p.Partial)
	}
	collected := prom.ranges
	mem := p.Find(KindSidecarMemory, "ns1", "cart")
	var e503 *Metric
	for _, m := range p.Find(KindEdgeErrorRatio, "ns1", "cart") {
		if m.Detail["code"] == "503" {
			e503 = &m
		}
	}
	if len(mem) != 1 || e503 == nil {
		t.Fatalf("the pack lacks the canned series: %+v", p.Metrics)
	}
	// Calls that found no healthy upstream have no destination workload:
	// they are kept, as an edge to "unknown".
	if !slices.ContainsFunc(p.Find(KindEdgeErrorRatio, "ns1", "cart"), func(m Metric) bool {
		return m.Peer == "unknown" && m.Detail["flags"] == "UH"
	}) {
		t.Errorf("the 503 UH calls to an unknown destination were dropped: %+v", p.Metrics)
	}

	prom.ranges = map[string]v1.Range{}
	got, err := Series(context.Background(), prom, p, []string{mem[0].ID, e503.ID, mem[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Metric.ID != mem[0].ID || got[1].Metric.ID != e503.ID {
		t.Fatalf("series %+v", got)
	}
	if len(prom.ranges) != 2 {
		t.Errorf("Series ran %d queries, want the 2 of the kinds asked for: %v", len(prom.ranges), prom.ranges)
	}
	for q, r := range prom.ranges {
		if c, ok := collected[q]; !ok || !c.Start.Equal(r.Start) || !c.End.Equal(r.End) || c.Step != r.Step {
			t.Errorf("a query Collect did not run as is (range %+v, Collect's %+v):\n%s", r, c, q)
		}
	}
	for _, s := range got {
		if _, ok := prom.ranges[s.Query]; !ok {
			t.Errorf("%s: query %q is not one that ran", s.Metric.ID, s.Query)
		}
		// The points are the ones summarized: summarizing them again gives
		// the pack's summary.
		if again := Summarize(s.Points, p.Window, 0); again.Window != s.Metric.Window || again.Points != s.Metric.Points {
			t.Errorf("%s: points summarize to %+v, the pack has %+v", s.Metric.ID, again, s.Metric.Summary)
		}
		if !s.Start.Before(p.Window.From) || !s.Points[len(s.Points)-1].T.Equal(p.Window.To) {
			t.Errorf("%s: points from %v to %v, window %+v", s.Metric.ID, s.Start, s.Points[len(s.Points)-1].T, p.Window)
		}
	}
	if pts := got[0].Points; pts[len(pts)-1].V <= pts[0].V || pts[0].V != 1e8 {
		t.Errorf("the leaking sidecar's points (the max over its pods) do not rise from 1e8: %v … %v", pts[0], pts[len(pts)-1])
	}
}

func TestSeriesRejectsUnknownIDs(t *testing.T) {
	p := Pack{Metrics: []Metric{{ID: "smem-000001", Kind: KindSidecarMemory}}, Logs: []LogPattern{{ID: "log-000002"}}}
	prom := &recordingProm{ranges: map[string]v1.Range{}}
	for _, ids := range [][]string{{"nope"}, {"smem-000001", "log-000002"}} {
		if _, err := Series(context.Background(), prom, p, ids); !errors.Is(err, ErrUnknownEvidence) {
			t.Errorf("%v: err %v", ids, err)
		}
	}
	many := slices.Repeat([]string{"smem-000001"}, MaxSeriesIDs+1)
	if _, err := Series(context.Background(), prom, p, many); err == nil {
		t.Error("no bound on the ids")
	}
	if len(prom.ranges) != 0 {
		t.Errorf("bad input queried Prometheus: %v", prom.ranges)
	}
	if got, err := Series(context.Background(), prom, p, nil); err != nil || len(got) != 0 {
		t.Errorf("no ids: %v %v", got, err)
	}
}

// Merged queries: one round trip, each series mapped by its own part's rules.
func TestMergeKinds(t *testing.T) {
	to := func(k Kind) func(model.Metric) (Metric, bool) {
		return func(m model.Metric) (Metric, bool) {
			return Metric{Kind: k, Namespace: "ns", Workload: string(m["workload"])}, true
		}
	}
	qs := []metricQuery{
		{kinds: []Kind{KindLatencyP99}, expr: "a", to: to(KindLatencyP99)},
		{kinds: []Kind{KindRestarts}, expr: "b", to: to(KindRestarts), dropZero: true},
		{kinds: []Kind{KindCanaryWeight}, expr: "c", to: to(KindCanaryWeight)},
	}
	got := mergeKinds(qs, KindRestarts, KindCanaryWeight)
	if len(got) != 2 || got[0].expr != "a" || !slices.Equal(got[1].kinds, []Kind{KindRestarts, KindCanaryWeight}) ||
		got[1].expr != `label_replace(b, "meshwatch_part", "0", "", "") or label_replace(c, "meshwatch_part", "1", "", "")` {
		t.Fatalf("%+v", got)
	}
	series := func(part string, v float64) *model.SampleStream {
		return &model.SampleStream{Metric: model.Metric{"workload": "w", partLabel: model.LabelValue(part)},
			Values: []model.SamplePair{{Timestamp: 0, Value: model.SampleValue(v)}}}
	}
	if m, _, ok := seriesMetric(got[1], series("1", 0)); !ok || m.Kind != KindCanaryWeight {
		t.Errorf("part 1: %+v %v", m, ok)
	}
	if _, _, ok := seriesMetric(got[1], series("0", 0)); ok {
		t.Error("part 0's zero restarts were kept (its dropZero)")
	}
	if m, _, ok := seriesMetric(got[1], series("0", 2)); !ok || m.Kind != KindRestarts {
		t.Errorf("part 0: %+v %v", m, ok)
	}
	if _, _, ok := seriesMetric(got[1], series("7", 1)); ok {
		t.Error("a series of no part was mapped")
	}
	if one := mergeKinds(qs, KindRestarts); len(one) != 3 {
		t.Errorf("a single query was merged: %+v", one)
	}
}

// byWorkload groups per-pod series as label_replace and an aggregation by
// workload would: per namespace, workload and container, at each time.
func TestByWorkload(t *testing.T) {
	s := func(pod, ctr string, vals ...float64) *model.SampleStream {
		out := &model.SampleStream{Metric: model.Metric{"namespace": "ns", "pod": model.LabelValue(pod), "container": model.LabelValue(ctr)}}
		for i, v := range vals {
			out.Values = append(out.Values, model.SamplePair{Timestamp: model.Time(i * 1000), Value: model.SampleValue(v)})
		}
		return out
	}
	in := model.Matrix{
		s("api-7c9d8b5f4-x2x9z", "istio-proxy", 1, 5, 2),
		s("api-7c9d8b5f4-bbq2w", "istio-proxy", 3, 4), // from t=0, shorter
		s("api-7c9d8b5f4-bbq2w", "api", 7, 7, 7),
		s("orders-db-0", "db", 2, 2, 2),
	}
	got := map[string][]float64{}
	for _, x := range byWorkload(sumOf)(in) {
		k := string(x.Metric["workload"]) + "/" + string(x.Metric["container"])
		for _, v := range x.Values {
			got[k] = append(got[k], float64(v.Value))
		}
		if x.Metric["pod"] != "" || x.Metric["namespace"] != "ns" {
			t.Errorf("labels %v", x.Metric)
		}
	}
	want := map[string][]float64{"api/istio-proxy": {4, 9, 2}, "api/api": {7, 7, 7}, "orders-db/db": {2, 2, 2}}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Errorf("%s: %v, want %v", k, got[k], w)
		}
	}
	for _, x := range byWorkload(maxOf)(in[:2]) {
		if v := x.Values[1].Value; v != 5 {
			t.Errorf("max at t=1: %v", v)
		}
	}
}
