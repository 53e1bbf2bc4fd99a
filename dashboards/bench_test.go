package dashboards

import (
	"fmt"
	"sort"
	"testing"
	"time"
)

// The cost of the overview's 20 panels against the queries of Istio's
// official mesh and service dashboards, on the same Prometheus, data
// (the healthy scenario's last hour) and time range (1h for all three, so
// the comparison is about the queries, not the dashboards' default ranges),
// each query rendered as Grafana sends it. Two measures:
//   - PromQL evaluation time, summed from Prometheus' own query statistics
//     (stats.timings.evalTotalTime: parse, prepare, evaluate, sort — no HTTP
//     or JSON), the ratio the goal (≤ 0.5×) is about;
//   - samples read (stats.samples.totalQueryableSamples), the deterministic
//     cost measure, also asserted by TestOverviewQueryCost.
// The overview's two Loki panels are not PromQL and not counted; no
// recording rules are used, so there is no rule evaluation cost to add.

type costSet struct {
	name    string
	queries []rendered
}

type cost struct {
	eval    time.Duration
	wall    time.Duration
	samples int64
	n       int
	byPanel map[string]int64         // samples per panel
	evalBy  map[string]time.Duration // eval time per panel
}

func (c cost) String() string {
	return fmt.Sprintf("%d queries, eval %s, wall %s, %d samples", c.n, c.eval.Round(time.Microsecond), c.wall.Round(time.Microsecond), c.samples)
}

func runCost(tb testing.TB, prom *promClient, qs []rendered) cost {
	tb.Helper()
	c := cost{byPanel: map[string]int64{}, evalBy: map[string]time.Duration{}}
	for _, q := range qs {
		t0 := time.Now()
		res, err := prom.query(q)
		if err != nil {
			tb.Fatalf("%s %s: %v\n%s", q.Panel.Title, q.RefID, err, q.Expr)
		}
		c.wall += time.Since(t0)
		c.eval += time.Duration(res.Stats.Timings.EvalTotalTime * float64(time.Second))
		c.samples += res.Stats.Samples.TotalQueryableSamples
		c.byPanel[q.Panel.Title] += res.Stats.Samples.TotalQueryableSamples
		c.evalBy[q.Panel.Title] += time.Duration(res.Stats.Timings.EvalTotalTime * float64(time.Second))
		c.n++
	}
	return c
}

// costSets renders the overview and the Istio dashboards at the healthy run's end.
func costSets(tb testing.TB, fx *fixture, prom *promClient) (ours, istio costSet) {
	tb.Helper()
	run := fx.run(tb, "healthy")
	to := run.End
	r := newRenderer(loadDashboard(tb, "mesh-overview.json"), to, map[string]string{"namespace": "$__all", "workload": "$__all"})
	r.Vars = expandAll(tb, prom, r)
	for _, q := range r.render() {
		if q.DSType == "prometheus" {
			ours.queries = append(ours.queries, q)
		}
	}
	ours.name = "MeshWatch overview (20 panels)"

	// The service dashboard, for api (the busiest service, with clients and
	// dependencies), reporter destination (its default), and its All
	// selections expanded the way Grafana does.
	const service = "api.shop.svc.cluster.local"
	values := func(label, sel string) string {
		vs, err := prom.labelValues(label, sel, to.Add(-time.Hour), to)
		if err != nil || len(vs) == 0 {
			tb.Fatalf("values of %s for %s: %v %v", label, sel, vs, err)
		}
		return grafanaMulti(vs)
	}
	vars := map[string]string{
		"service": service, "qrep": "destination",
		"srcns": values("source_workload_namespace", `istio_requests_total{reporter=~"destination", destination_service="`+service+`"}`),
		"srcwl": values("source_workload", `istio_requests_total{reporter=~"destination", destination_service="`+service+`"}`),
		"dstns": values("destination_workload_namespace", `istio_requests_total{reporter="destination", destination_service="`+service+`"}`),
		"dstwl": values("destination_workload", `istio_requests_total{reporter="destination", destination_service="`+service+`"}`),
	}
	istio.name = "Istio mesh + service dashboards"
	istio.queries = append(newRenderer(istioMeshDashboard(), to, nil).render(), newRenderer(istioServiceDashboard(), to, vars).render()...)
	return ours, istio
}

func TestOverviewQueryCost(t *testing.T) {
	fx := getFixture(t)
	prom := fx.startPrometheus(t)
	ours, istio := costSets(t, fx, prom)
	runCost(t, prom, ours.queries) // warm the caches alike
	runCost(t, prom, istio.queries)
	o, s := runCost(t, prom, ours.queries), runCost(t, prom, istio.queries)
	for _, x := range []struct {
		set costSet
		c   cost
	}{{ours, o}, {istio, s}} {
		t.Logf("%s: %s", x.set.name, x.c)
		var titles []string
		for k := range x.c.byPanel {
			titles = append(titles, k)
		}
		sort.Slice(titles, func(i, j int) bool { return x.c.byPanel[titles[i]] > x.c.byPanel[titles[j]] })
		for _, k := range titles {
			t.Logf("    %8d samples %8s  %s", x.c.byPanel[k], x.c.evalBy[k].Round(time.Microsecond), k)
		}
	}
	ratio := float64(o.samples) / float64(s.samples)
	t.Logf("samples ratio %.3f, eval time ratio %.3f (one run; see BenchmarkOverviewVsIstio)", ratio, float64(o.eval)/float64(s.eval))
	if ratio > 0.5 {
		t.Errorf("the overview reads %.2f× the samples of Istio's mesh + service dashboards, goal ≤ 0.5×", ratio)
	}
}

// BenchmarkOverviewVsIstio reports, per iteration (all overview queries,
// then all Istio queries, interleaved so load on the shared machine hits
// both alike): ours-eval-ms, istio-eval-ms, eval-ratio, samples-ratio.
//
//	go test ./dashboards/ -run '^$' -bench OverviewVsIstio -benchtime 20x
func BenchmarkOverviewVsIstio(b *testing.B) {
	fx := getFixture(b)
	prom := fx.startPrometheus(b)
	ours, istio := costSets(b, fx, prom)
	runCost(b, prom, ours.queries)
	runCost(b, prom, istio.queries)
	b.Run("ratio", func(b *testing.B) {
		var o, s cost
		for i := 0; i < b.N; i++ {
			oc, sc := runCost(b, prom, ours.queries), runCost(b, prom, istio.queries)
			o.eval, o.samples, o.n = o.eval+oc.eval, o.samples+oc.samples, o.n+oc.n
			s.eval, s.samples, s.n = s.eval+sc.eval, s.samples+sc.samples, s.n+sc.n
		}
		n := float64(b.N)
		b.ReportMetric(float64(o.eval.Microseconds())/1000/n, "ours-eval-ms")
		b.ReportMetric(float64(s.eval.Microseconds())/1000/n, "istio-eval-ms")
		b.ReportMetric(float64(o.eval)/float64(s.eval), "eval-ratio")
		b.ReportMetric(float64(o.samples)/float64(s.samples), "samples-ratio")
		b.ReportMetric(float64(o.n)/n, "ours-queries")
		b.ReportMetric(float64(s.n)/n, "istio-queries")
	})
}
