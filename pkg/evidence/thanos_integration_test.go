package evidence_test

// Captures through a Thanos Querier in front of two Prometheus replicas
// (each with its Thanos sidecar, external labels replica=a and replica=b,
// the querier deduplicating by replica) holding the same scenarios as the
// single Prometheus of integration_test.go: the same queries, unchanged,
// give the same pack and the same findings. Run with
//
//	CI=true MESHWATCH_TOOLS=$HOME/.cache/meshwatch/tools go test ./pkg/evidence/ -run Thanos -v

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/evidence"
	"github.com/meshwatch/meshwatch/pkg/findings"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/signals"
	"github.com/meshwatch/meshwatch/pkg/systems/prometheus"
)

var (
	thanosOnce sync.Once
	thanosURL  string
	thanosErr  error
)

// getThanos starts (once, in the world's session) the HA replicas on the
// world's blocks, with MeshWatch's rule file, and the querier in front.
func getThanos(tb testing.TB, w *world) string {
	tb.Helper()
	harness.RequireBinary(tb, harness.BinThanos)
	thanosOnce.Do(func() {
		began := time.Now()
		thanosErr = session.Do(func(t harness.T) {
			th := harness.StartThanos(t, harness.ThanosOptions{Prometheus: harness.PrometheusOptions{
				Blocks: w.blocks, RuleFiles: []string{rulesFile}}})
			thanosURL = th.URL
		})
		tb.Logf("thanos: 2 replicas, 2 sidecars and a querier ready in %s", time.Since(began).Round(time.Millisecond))
	})
	if thanosErr != nil {
		tb.Fatalf("thanos: %v", thanosErr)
	}
	return thanosURL
}

func TestIntegrationThroughThanos(t *testing.T) {
	w := getWorld(t)
	thanos := getThanos(t, w)
	th, err := prometheus.New(settings.Endpoint{URL: thanos, TimeoutSeconds: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(th.Close)

	// The health line reads the querier as it reads Prometheus.
	if out, err := th.Probe()(context.Background()); err != nil || out.Version == "" {
		t.Fatalf("probe through Thanos: %+v %v", out, err)
	}

	// Deduplication is what makes the answers equal: asked for every
	// replica's series (dedup=false), a sum over the mesh's requests counts
	// them twice.
	t.Run("replicas deduplicated", func(t *testing.T) {
		r := w.runs["healthy"]
		direct := instant(t, w.prom, `sum(istio_requests_total)`, r.end, nil)
		dedup := instant(t, thanos, `sum(istio_requests_total)`, r.end, nil)
		both := instant(t, thanos, `sum(istio_requests_total)`, r.end, map[string]string{"dedup": "false"})
		near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Abs(b) }
		if direct <= 0 || !near(dedup, direct) || !near(both, 2*direct) {
			t.Errorf("sum of requests: %g on Prometheus, %g through Thanos, %g without dedup (want %g, %g, %g)",
				direct, dedup, both, direct, direct, 2*direct)
		}
	})

	for _, c := range captures {
		t.Run(c.name, func(t *testing.T) {
			r := w.runs[c.run]
			inc := c.inc(t, w, r)
			src := w.sources(t, r)
			one := evidence.Collect(context.Background(), src, inc, r.end)
			src.Prometheus = th.API()
			ha := evidence.Collect(context.Background(), src, inc, r.end)
			if ha.IsPartial() || one.IsPartial() {
				t.Fatalf("partial: through Thanos %+v, on Prometheus %+v", ha.Partial, one.Partial)
			}
			if jsonOf(ha.Window) != jsonOf(one.Window) || jsonOf(ha.Scope) != jsonOf(one.Scope) {
				t.Errorf("window or scope differ:\n%s %s\n%s %s", jsonOf(ha.Window), jsonOf(ha.Scope), jsonOf(one.Window), jsonOf(one.Scope))
			}
			samePackMetrics(t, w.prom, one, ha)
			fOne, fHA := findings.Detect(&one), findings.Detect(&ha)
			if len(fOne) == 0 && c.name != "healthy" {
				t.Errorf("no findings on Prometheus: the comparison would be empty")
			}
			if got, want := findingsKey(fHA), findingsKey(fOne); !slices.Equal(got, want) {
				t.Errorf("findings through Thanos:\n%v\non Prometheus:\n%v", got, want)
			}
			t.Logf("%s: %d metrics, %d findings, the findings the same through Thanos", c.name, len(one.Metrics), len(fOne))
		})
	}
}

// instant is the single value of expr at t on the Prometheus-API server at
// base (GET /api/v1/query), with extra query parameters.
func instant(t *testing.T, base, expr string, at time.Time, extra map[string]string) float64 {
	t.Helper()
	q := url.Values{"query": {expr}, "time": {strconv.FormatInt(at.Unix(), 10)}}
	for k, v := range extra {
		q.Set(k, v)
	}
	resp, err := http.Get(base + "/api/v1/query?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ans struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil || len(ans.Data.Result) != 1 {
		t.Fatalf("%s on %s: %s %v %+v", expr, base, resp.Status, err, ans)
	}
	s, _ := ans.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%s on %s: value %v", expr, base, ans.Data.Result[0].Value)
	}
	return v
}

// gaugeKinds are the metrics read from gauges (no rate or increase): they
// must come out the same through Thanos to the last digit.
var gaugeKinds = []evidence.Kind{evidence.KindSidecarMemory, evidence.KindAppMemory, evidence.KindCanaryWeight, evidence.KindCanaryStatus}

// samePackMetrics: the same metrics (ids), with the same summaries up to
// floating-point rounding (a relative 1e-9; a projected time to a limit
// within its rounding minute). The one documented exception is Thanos'
// own: for rate, increase, irate and resets the querier reads counters
// through its counter-adjusting iterator (thanos-io/thanos#2548, there to
// keep a switch between replicas from looking like a reset), which removes
// a real reset before PromQL sees it, so a rate whose range spans a reset
// is extrapolated differently. A metric may differ only when it is
// rate-based and its workload's counters reset within the pack's reach
// (here: restarts, and each scenario's counters starting afresh after the
// one before it); how many differ is logged.
func samePackMetrics(t *testing.T, promURL string, one, ha evidence.Pack) {
	t.Helper()
	ids := func(p evidence.Pack) []string {
		var out []string
		for _, m := range p.Metrics {
			out = append(out, m.ID)
		}
		return slices.Sorted(slices.Values(out)) // the rank may swap near-equal scores
	}
	if a, b := ids(ha), ids(one); !slices.Equal(a, b) {
		t.Fatalf("metrics through Thanos:\n%v\non Prometheus:\n%v", a, b)
	}
	byID := map[string]evidence.Metric{}
	for _, m := range ha.Metrics {
		byID[m.ID] = m
	}
	resets := map[string]float64{}
	reach := 2*one.Window.Duration() + 20*time.Minute // the baseline (as long as the window, at least 10m) and the rate windows
	differ := 0
	for _, m := range one.Metrics {
		h := byID[m.ID]
		mt, ht := m.TimeToLimit, h.TimeToLimit
		if (mt == nil) != (ht == nil) || (mt != nil && (time.Duration(*mt)-time.Duration(*ht)).Abs() > time.Minute) {
			t.Errorf("%s: time to limit %v through Thanos, %v on Prometheus", m.ID, ht, mt)
		}
		m.TimeToLimit, h.TimeToLimit = nil, nil
		if closeJSON(jsonValue(m), jsonValue(h)) {
			continue
		}
		differ++
		wl := m.Namespace + "/" + m.Workload
		if _, ok := resets[wl]; !ok {
			for _, counter := range []string{"container_cpu_usage_seconds_total", "istio_requests_total", "istio_request_duration_milliseconds_bucket",
				"istio_tcp_sent_bytes_total"} {
				q := `sum(resets(` + counter + `{namespace="` + m.Namespace + `", ` + signals.PodOf(m.Workload) + `}[` +
					model.Duration(reach).String() + `])) or vector(0)`
				resets[wl] += instant(t, promURL, q, one.Window.To, nil)
			}
		}
		if slices.Contains(gaugeKinds, m.Kind) || resets[wl] == 0 {
			t.Errorf("%s differs (%s, %g counter resets of %s within %s):\nThanos     %s\nPrometheus %s",
				m.ID, m.Kind, resets[wl], wl, reach, jsonOf(h), jsonOf(m))
		}
	}
	if differ > 0 {
		t.Logf("%d of %d metrics differ through Thanos, each a rate over a counter reset", differ, len(one.Metrics))
	}
}

func jsonValue(v any) any {
	var out any
	_ = json.Unmarshal([]byte(jsonOf(v)), &out)
	return out
}

// closeJSON compares decoded JSON values, numbers to a relative 1e-9.
func closeJSON(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && math.Abs(x-y) <= 1e-9*max(1, math.Abs(x), math.Abs(y))
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if !closeJSON(v, y[k]) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !closeJSON(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return jsonOf(a) == jsonOf(b)
}

// findingsKey is each finding's subject, cause, score and evidence.
func findingsKey(fs []findings.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, jsonOf([]any{f.Namespace, f.Workload, f.Cause, f.Score, f.Evidence}))
	}
	return out
}
