package dashboards

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
)

// The dashboards' queries, unchanged and rendered as Grafana renders them
// (variables expanded through the same server), answer the same through a
// Thanos Querier in front of two Prometheus replicas holding the fixture
// (external labels replica=a and replica=b, deduplicated by replica) as on
// one Prometheus: the same series with the same values, no counts doubled.
// Two scenarios (a healthy one and a fault) keep the added time small; the
// fixture is the one the other tests share.

// thanosScenarios are the runs compared.
var thanosScenarios = []string{"healthy", "canary-5xx-regression"}

func TestDashboardsThroughThanos(t *testing.T) {
	harness.RequireBinary(t, harness.BinThanos)
	fx := getFixture(t)
	began := time.Now()
	prom := fx.startPrometheus(t)
	th := harness.StartThanos(t, harness.ThanosOptions{Prometheus: harness.PrometheusOptions{Blocks: fx.blocks}})
	thanos := &promClient{url: th.URL}
	t.Logf("one Prometheus, and two replicas with sidecars and a querier, ready in %s", time.Since(began).Round(time.Millisecond))

	compared, series := 0, 0
	for _, name := range thanosScenarios {
		run := fx.run(t, name)
		one := evaluate(t, prom, nil, run, nil)
		ha := evaluate(t, thanos, nil, run, nil)
		for key, qs := range one {
			hs := ha[key]
			if len(hs) != len(qs) {
				t.Errorf("%s: %s: %d queries through Thanos, %d on Prometheus", name, key, len(hs), len(qs))
				continue
			}
			for i, q := range qs {
				h := hs[i]
				if q.prom == nil || h.prom == nil {
					continue // failed: evaluate reported it
				}
				if q.q.Expr != h.q.Expr {
					t.Errorf("%s: %s %s: rendered differently through Thanos (variables):\n%s\n%s", name, key, q.q.RefID, h.q.Expr, q.q.Expr)
					continue
				}
				compared++
				series += len(q.prom.Series)
				if diff := seriesDiff(q.prom.Series, h.prom.Series); diff != "" {
					t.Errorf("%s: %s %s: %s\n%s", name, key, q.q.RefID, diff, q.q.Expr)
				}
			}
		}
	}
	if compared == 0 || series == 0 {
		t.Fatal("nothing compared")
	}
	t.Logf("%d queries (%d series) answered the same through Thanos", compared, series)

	// The comparison can fail: without deduplication the replicas' series
	// come twice, and the mesh's request rate doubles.
	at := fx.run(t, "healthy").End
	rate := func(c *promClient, extra url.Values) float64 {
		params := url.Values{"query": {`sum(rate(istio_requests_total{reporter="destination"}[5m]))`}, "time": {fmtTime(at)}}
		for k, v := range extra {
			params[k] = v
		}
		var data struct {
			Result []promSeries `json:"result"`
		}
		if err := c.get("/api/v1/query", params, &data); err != nil || len(data.Result) != 1 {
			t.Fatalf("request rate on %s: %v %+v", c.url, err, data)
		}
		return parseValue(data.Result[0].Value[1])
	}
	single, dedup, both := rate(prom, nil), rate(thanos, nil), rate(thanos, url.Values{"dedup": {"false"}})
	if !(single > 0) || !sameValue(dedup, single) || !sameValue(both, 2*single) {
		t.Errorf("request rate: %g on one Prometheus, %g through Thanos, %g without dedup (want %g, %g, %g)",
			single, dedup, both, single, single, 2*single)
	}
}

// seriesDiff says how two answers differ: the series (by labels) and their
// points (timestamps exactly, values to a relative 1e-9, NaN equal to NaN);
// "" when they are the same.
func seriesDiff(want, got []promSeries) string {
	key := func(s promSeries) string {
		ks := make([]string, 0, len(s.Metric))
		for k, v := range s.Metric {
			ks = append(ks, k+"="+v)
		}
		sort.Strings(ks)
		return strings.Join(ks, ",")
	}
	byKey := func(ss []promSeries) map[string]promSeries {
		m := map[string]promSeries{}
		for _, s := range ss {
			m[key(s)] = s
		}
		return m
	}
	w, g := byKey(want), byKey(got)
	var wk, gk []string
	for k := range w {
		wk = append(wk, k)
	}
	for k := range g {
		gk = append(gk, k)
	}
	sort.Strings(wk)
	sort.Strings(gk)
	if !slices.Equal(wk, gk) {
		return "series differ: through Thanos {" + strings.Join(gk, "} {") + "}, on Prometheus {" + strings.Join(wk, "} {") + "}"
	}
	for _, k := range wk {
		ws, gs := w[k], g[k]
		wp, gp := points(ws), points(gs)
		if len(wp) != len(gp) {
			return fmt.Sprintf("%s: %d points through Thanos, %d on Prometheus", k, len(gp), len(wp))
		}
		for i := range wp {
			if wp[i][0] != gp[i][0] || !sameValue(wp[i][1], gp[i][1]) {
				return fmt.Sprintf("%s: point %d differs: %v through Thanos, %v on Prometheus", k, i, gp[i], wp[i])
			}
		}
	}
	return ""
}

func points(s promSeries) [][2]float64 {
	raw := s.Values
	if raw == nil {
		raw = [][2]any{s.Value}
	}
	out := make([][2]float64, len(raw))
	for i, p := range raw {
		ts, _ := p[0].(float64)
		out[i] = [2]float64{ts, parseValue(p[1])}
	}
	return out
}

func sameValue(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return a == b || math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}
