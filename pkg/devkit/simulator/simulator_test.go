package simulator

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
)

func TestScenariosAreDataWithGroundTruth(t *testing.T) {
	all := Scenarios()
	if len(all) < 8 {
		t.Fatalf("want at least 8 scenarios, got %d", len(all))
	}
	for _, want := range []string{"healthy", "sidecar-memory-leak", "canary-5xx-regression", "upstream-latency", "crashloop",
		"plaintext-under-strict", "istiod-config-rejects", "timeout-cascade"} {
		s, err := LookupScenario(want)
		if err != nil {
			t.Fatal(err)
		}
		if s.Truth.CauseClass == "" || s.Description == "" || s.Duration <= 0 {
			t.Errorf("%s: incomplete scenario %+v", want, s)
		}
		if want != "healthy" && (s.Truth.Workload == "" || len(s.Effects) == 0) {
			t.Errorf("%s: a fault scenario needs a root-cause workload and effects", want)
		}
	}
	if _, err := LookupScenario("nope"); err == nil || !strings.Contains(err.Error(), "healthy") {
		t.Errorf("unknown scenario error should list the valid ones: %v", err)
	}
}

func TestParseScenarioRejectsBadData(t *testing.T) {
	for name, y := range map[string]string{
		"unknown kind":    "name: x\ndescription: d\nduration: 1h\ntruth: {causeClass: c}\neffects: [{kind: meltdown, target: api, at: 1m}]",
		"unknown target":  "name: x\ndescription: d\nduration: 1h\ntruth: {causeClass: c}\neffects: [{kind: latency, target: nope, at: 1m, magnitude: 5}]",
		"unknown field":   "name: x\ndescription: d\nduration: 1h\ntruth: {causeClass: c}\nfoo: 1\neffects: []",
		"bad reason":      "name: x\ndescription: d\nduration: 1h\ntruth: {causeClass: c}\neffects: [{kind: restart, target: api, at: 1m, reason: Tired}]",
		"offset past end": "name: x\ndescription: d\nduration: 1h\ntruth: {causeClass: c}\neffects: [{kind: latency, target: api, at: 2h, magnitude: 5}]",
		"no truth":        "name: x\ndescription: d\nduration: 1h\neffects: []",
	} {
		if _, err := ParseScenario([]byte(y)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	s, err := ParseScenario([]byte("name: x\ndescription: d\nduration: 1h\ntruth: {causeClass: latency, workload: api}\neffects: [{kind: latency, target: api, at: 10m, magnitude: 50}]"))
	if err != nil || s.Effects[0].At != Duration(10*time.Minute) {
		t.Fatalf("valid scenario: %v %+v", err, s)
	}
}

func digest(t *testing.T, e *Engine) string {
	t.Helper()
	h := sha256.New()
	if err := e.WriteOpenMetrics(h); err != nil {
		t.Fatal(err)
	}
	if err := WriteLogsJSONL(h, e.DrainLogs()); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(e.Objects())
	h.Write(b)
	for _, tr := range e.Traces() {
		io.WriteString(h, tr.TraceID)
	}
	b, _ = json.Marshal(e.Truth())
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func TestDeterministic(t *testing.T) {
	sc, _ := LookupScenario("canary-5xx-regression")
	sim := func(seed int64) *Engine {
		e, err := Simulate(context.Background(), Options{Scenario: sc, Seed: seed, End: testEnd, Duration: 40 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	a, b, c := digest(t, sim(7)), digest(t, sim(7)), digest(t, sim(8))
	if a != b {
		t.Fatal("same scenario and seed gave different output")
	}
	if a == c {
		t.Fatal("different seeds gave identical output")
	}
}

func labelNames(t *testing.T, e *Engine, family string, match map[string]string) []string {
	t.Helper()
	rs := series(t, e, family, match)
	if len(rs) == 0 {
		t.Fatalf("no %s series matching %v", family, match)
	}
	var names []string
	for k := range rs[0].labels {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func TestLabelSetsMatchTheReference(t *testing.T) {
	e := run(t, "healthy")
	istio := []string{"connection_security_policy", "destination_app", "destination_principal", "destination_service",
		"destination_service_name", "destination_service_namespace", "destination_version", "destination_workload",
		"destination_workload_namespace", "instance", "job", "namespace", "pod", "reporter", "request_protocol",
		"response_code", "response_flags", "source_app", "source_principal", "source_version", "source_workload",
		"source_workload_namespace"}
	if got := labelNames(t, e, "istio_requests_total", nil); !slices.Equal(got, istio) {
		t.Errorf("istio_requests_total labels\n got %v\nwant %v", got, istio)
	}
	for _, f := range []string{"istio_request_duration_milliseconds", "istio_request_bytes", "istio_response_bytes"} {
		if got := labelNames(t, e, f, nil); !slices.Equal(got, istio) {
			t.Errorf("%s labels %v", f, got)
		}
	}
	tcp := slices.DeleteFunc(slices.Clone(istio), func(s string) bool { return s == "response_code" })
	for _, f := range []string{"istio_tcp_sent_bytes_total", "istio_tcp_received_bytes_total", "istio_tcp_connections_opened_total", "istio_tcp_connections_closed_total"} {
		if got := labelNames(t, e, f, nil); !slices.Equal(got, tcp) {
			t.Errorf("%s labels %v", f, got)
		}
	}
	// mTLS semantics: mutual_tls only at the destination reporter, unknown at the source.
	for _, r := range series(t, e, "istio_requests_total", nil) {
		want := map[string]string{"destination": "mutual_tls", "source": "unknown"}[r.labels["reporter"]]
		if r.labels["connection_security_policy"] != want {
			t.Errorf("reporter %s has connection_security_policy %s", r.labels["reporter"], r.labels["connection_security_policy"])
		}
		if r.labels["job"] != "kubernetes-pods" || !strings.HasSuffix(r.labels["instance"], ":15020") {
			t.Errorf("istio series scrape labels %v", r.labels)
		}
		scraped := r.labels["destination_workload"]
		if r.labels["reporter"] == "source" {
			scraped = r.labels["source_workload"]
		}
		if !strings.HasPrefix(r.labels["pod"], scraped+"-") {
			t.Errorf("%s reporter series scraped from pod %s, want a %s pod", r.labels["reporter"], r.labels["pod"], scraped)
		}
	}
	if got := series(t, e, "istio_request_duration_milliseconds", nil)[0].m.fam.leText; len(got) != 20 || got[0] != "0.5" || got[19] != "+Inf" {
		t.Errorf("Istio default buckets: %v", got)
	}
	for family, want := range map[string][]string{
		"container_memory_working_set_bytes": {"container", "instance", "job", "namespace", "pod"},
		"container_cpu_usage_seconds_total":  {"container", "instance", "job", "namespace", "pod"},
		"kube_pod_container_resource_limits": {"container", "instance", "job", "namespace", "node", "pod", "resource", "uid", "unit"},
		"kube_pod_status_phase":              {"instance", "job", "namespace", "phase", "pod", "uid"},
		"envoy_server_memory_allocated":      {"instance", "job", "namespace", "pod"},
		"node_cpu_seconds_total":             {"cpu", "instance", "job", "mode", "namespace", "pod"},
		"pilot_xds_pushes":                   {"instance", "job", "namespace", "pod", "type"},
		"flagger_canary_weight":              {"instance", "job", "namespace", "pod", "workload"},
		"flagger_canary_status":              {"instance", "job", "name", "namespace", "pod"},
	} {
		if got := labelNames(t, e, family, nil); !slices.Equal(got, want) {
			t.Errorf("%s labels\n got %v\nwant %v", family, got, want)
		}
	}
	if got := len(series(t, e, "container_memory_working_set_bytes", map[string]string{"container": "istio-proxy", "namespace": "shop"})); got < 6 {
		t.Errorf("want cAdvisor series for every shop sidecar, got %d", got)
	}
	for _, r := range series(t, e, "flagger_canary_weight", nil) {
		if r.labels["namespace"] != "shop" {
			t.Errorf("flagger_canary_weight must keep the canary's namespace (honor_labels): %v", r.labels)
		}
	}
	// Every series a real scrape produces carries job, instance, namespace and pod.
	for _, f := range e.reg.families {
		for _, m := range f.metrics {
			if len(m.ticks) == 0 {
				continue
			}
			ls, _ := parseLabels(m.labels)
			for _, k := range []string{"job", "instance", "namespace", "pod"} {
				if ls[k] == "" {
					t.Fatalf("%s{%s} lacks %s", f.name, m.labels, k)
				}
			}
		}
	}
}

// detector is a fault signal computed the way the PromQL in the reference does.
type detector func(t *testing.T, e *Engine) (bool, string)

const w5m = 10 // 5 minutes of 30 s samples

var detectors = map[string]detector{
	// Canary workload's 5xx ratio over 5m > 0.5 % (Flagger's 99.5 % gate).
	"canary-5xx": func(t *testing.T, e *Engine) (bool, string) {
		m := map[string]string{"reporter": "destination", "destination_workload": "payments"}
		den := series(t, e, "istio_requests_total", m)
		m["response_code"] = "~5.."
		r := maxRatio(e, series(t, e, "istio_requests_total", m), den, w5m, 20)
		return r > 0.005, formatPct(r)
	},
	// predict_linear(working set[last half], 24h) > limit for any sidecar.
	"proxy-leak": func(t *testing.T, e *Engine) (bool, string) {
		worst := 0.0
		for _, r := range series(t, e, "container_memory_working_set_bytes", map[string]string{"container": "istio-proxy"}) {
			if len(r.ticks) < 60 {
				continue // pods younger than 30 min (a canary) have no trend yet
			}
			slope, icept := slopePerHour(r, e.opts.Step)
			endH := float64(r.ticks[len(r.ticks)-1]) * e.opts.Step.Hours()
			pred := icept + slope*(endH+24)
			worst = math.Max(worst, pred/ProxyMemLimit)
		}
		return worst > 1, formatPct(worst)
	},
	// P99 of inventory at the destination reporter over 5m > 500 ms.
	"inventory-p99": func(t *testing.T, e *Engine) (bool, string) {
		p := maxP99(series(t, e, "istio_request_duration_milliseconds", map[string]string{"reporter": "destination", "destination_workload": "inventory"}), w5m)
		return p > 500, formatMs(p)
	},
	// increase(kube_pod_container_status_restarts_total[run]) > 0.
	"restarts": func(t *testing.T, e *Engine) (bool, string) {
		for _, r := range series(t, e, "kube_pod_container_status_restarts_total", nil) {
			if r.last() > r.vals[0] {
				return true, r.labels["pod"] + "/" + r.labels["container"]
			}
		}
		return false, ""
	},
	"oom-killed": func(t *testing.T, e *Engine) (bool, string) {
		rs := series(t, e, "kube_pod_container_status_last_terminated_reason", map[string]string{"reason": "OOMKilled"})
		return len(rs) > 0, ""
	},
	// Plaintext share at the destination reporter > 0.
	"plaintext": func(t *testing.T, e *Engine) (bool, string) {
		rs := series(t, e, "istio_requests_total", map[string]string{"reporter": "destination", "connection_security_policy": "~none|unknown"})
		sum := 0.0
		for _, r := range rs {
			sum += r.last()
		}
		return sum > 0, formatMs(sum)
	},
	"xds-rejects": func(t *testing.T, e *Engine) (bool, string) {
		for _, r := range series(t, e, "pilot_total_xds_rejects", nil) {
			if r.last() > 0 {
				return true, ""
			}
		}
		return false, ""
	},
	// 504 UT ratio at the source reporter over 5m > 1 %.
	"timeouts": func(t *testing.T, e *Engine) (bool, string) {
		den := series(t, e, "istio_requests_total", map[string]string{"reporter": "source"})
		num := series(t, e, "istio_requests_total", map[string]string{"reporter": "source", "response_code": "504", "response_flags": "UT"})
		r := maxRatio(e, num, den, w5m, 20)
		return r > 0.01, formatPct(r)
	},
	// The bookstore's leaf search-index: 5xx ratio at the destination reporter over 5m > 0.5 %.
	"search-index-5xx": func(t *testing.T, e *Engine) (bool, string) {
		m := map[string]string{"reporter": "destination", "destination_workload": "search-index"}
		den := series(t, e, "istio_requests_total", m)
		if len(den) == 0 {
			return false, "no traffic"
		}
		m["response_code"] = "~5.."
		r := maxRatio(e, series(t, e, "istio_requests_total", m), den, w5m, 20)
		return r > 0.005, formatPct(r)
	},
	// 503 UO (the client's circuit breaker open) ratio at the source reporter over 5m > 1 %.
	"circuit-open": func(t *testing.T, e *Engine) (bool, string) {
		den := series(t, e, "istio_requests_total", map[string]string{"reporter": "source"})
		num := series(t, e, "istio_requests_total", map[string]string{"reporter": "source", "response_code": "503", "response_flags": "UO"})
		r := maxRatio(e, num, den, w5m, 20)
		return r > 0.01, formatPct(r)
	},
	// Envoy's retries over first attempts of any outbound cluster over 5m
	// > 20 % (retries / upstream requests > 1/6).
	"retries": func(t *testing.T, e *Engine) (bool, string) {
		worst := 0.0
		for _, tot := range series(t, e, "envoy_cluster_upstream_rq_total", nil) {
			m := map[string]string{"pod": tot.labels["pod"], "cluster_name": tot.labels["cluster_name"]}
			r := maxRatio(e, series(t, e, "envoy_cluster_upstream_rq_retry", m), []recorded{tot}, w5m, 20)
			worst = math.Max(worst, r)
		}
		return worst > 0.2/1.2, formatPct(worst)
	},
	// An outbound cluster's outlier detection ejected a host.
	"ejections": func(t *testing.T, e *Engine) (bool, string) {
		for _, r := range series(t, e, "envoy_cluster_outlier_detection_ejections_active", nil) {
			if slices.Max(r.vals) > 0 {
				return true, r.labels["pod"] + " " + r.labels["cluster_name"]
			}
		}
		return false, ""
	},
	"canary-rollback": func(t *testing.T, e *Engine) (bool, string) {
		for _, r := range series(t, e, "flagger_canary_status", nil) {
			if slices.Max(r.vals) == 2 {
				return true, ""
			}
		}
		return false, ""
	},
}

func formatPct(f float64) string {
	return strings.TrimRight(strings.TrimRight(fmtFloat(f*100), "0"), ".") + "%"
}
func formatMs(f float64) string { return fmtFloat(f) }
func fmtFloat(f float64) string {
	return strings.TrimSpace(strings.Replace(string(appendValue(nil, math.Round(f*100)/100)), "+", "", 1))
}

// DetectorFires is the truth table of which detectors fire in which scenario;
// the unit tests and the real-server integration tests both check it.
var DetectorFires = map[string][]string{
	"healthy":                nil,
	"canary-success":         nil,
	"canary-promotion-gate":  nil,
	"sidecar-memory-leak":    {"proxy-leak"},
	"canary-5xx-regression":  {"canary-5xx", "canary-rollback"},
	"upstream-latency":       {"inventory-p99"},
	"crashloop":              {"restarts"},
	"app-oomkill":            {"restarts", "oom-killed"},
	"plaintext-under-strict": {"plaintext"},
	"istiod-config-rejects":  {"xds-rejects"},
	"timeout-cascade":        {"timeouts", "inventory-p99", "retries"}, // per-try timeouts retried
	// Other meshes (topology bookstore, or declared in the scenario).
	"books-healthy":          nil,
	"books-crashloop":        {"restarts"},
	"canary-on-checkout":     {"canary-rollback"},
	"leaf-dependency-errors": {"search-index-5xx"},
	"two-faults":             {"proxy-leak", "restarts", "oom-killed"},
	// Resilience at work (issue 26).
	"circuit-breaker-open": {"circuit-open"},
	"retry-storm":          {"retries"},
	"outlier-ejection":     {"ejections"},
}

func TestEachScenarioShowsItsFaultAndOnlyIt(t *testing.T) {
	fires := DetectorFires
	if len(fires) != len(Scenarios()) {
		t.Errorf("table covers %d scenarios, there are %d", len(fires), len(Scenarios()))
	}
	var names []string
	for d := range detectors {
		names = append(names, d)
	}
	sort.Strings(names)
	for scenario, want := range fires {
		t.Run(scenario, func(t *testing.T) {
			e := run(t, scenario)
			for _, d := range names {
				got, detail := detectors[d](t, e)
				if got != slices.Contains(want, d) {
					t.Errorf("detector %s fired=%v (%s), want %v", d, got, detail, !got)
				}
			}
		})
	}
}

func TestHealthyHasNoServerErrors(t *testing.T) {
	e := run(t, "healthy")
	for _, r := range series(t, e, "istio_requests_total", map[string]string{"response_code": "~5..|0"}) {
		t.Errorf("healthy run has %v", r.labels)
	}
	for _, r := range series(t, e, "istio_requests_total", map[string]string{"reporter": "destination", "destination_workload": "frontend", "response_code": "404"}) {
		if r.last() == 0 {
			t.Error("expected background 404s at the frontend")
		}
	}
	rates := series(t, e, "istio_requests_total", map[string]string{"reporter": "source", "source_workload": "istio-ingressgateway"})
	var total float64
	for _, r := range rates {
		total += r.last() - r.vals[0]
	}
	if rps := total / testDuration.Seconds(); rps < 2 || rps > 40 {
		t.Errorf("ingress rate %.1f req/s, want a homelab's few to tens", rps)
	}
}

func TestCanaryFollowsFlagger(t *testing.T) {
	e := run(t, "canary-5xx-regression")
	st := e.CanaryStatus()
	if st.Phase != PhaseFailed || st.CanaryWeight != 0 || st.FailedChecks != PaymentsAnalysis.Threshold {
		t.Errorf("end status %+v", st)
	}
	var weights []float64
	for _, r := range series(t, e, "flagger_canary_weight", map[string]string{"workload": "payments"}) {
		for _, v := range r.vals {
			if len(weights) == 0 || weights[len(weights)-1] != v {
				weights = append(weights, v)
			}
		}
	}
	if !slices.Equal(weights, []float64{0, 10, 25, 50, 0}) {
		t.Errorf("canary weight steps %v, want 0 10 25 50 0", weights)
	}
	gt := e.Truth()
	var halts int
	for _, ev := range gt.Timeline {
		if strings.Contains(ev.What, "Halt payments.shop advancement success rate") {
			halts++
		}
	}
	if halts != PaymentsAnalysis.Threshold || !strings.Contains(gt.Timeline[len(gt.Timeline)-1].What, "Canary failed") {
		t.Errorf("timeline: %d halts, last %q", halts, gt.Timeline[len(gt.Timeline)-1].What)
	}
	if s := run(t, "canary-success").CanaryStatus(); s.Phase != PhaseSucceeded {
		t.Errorf("canary-success ends %+v", s)
	}
	if len(series(t, run(t, "canary-success"), "flagger_canary_successes_total", nil)) != 1 {
		t.Error("a promotion counts in flagger_canary_successes_total")
	}
}

func TestCountersMonotonicExceptOnRestarts(t *testing.T) {
	for _, name := range ScenarioNames() {
		e := run(t, name)
		restarted := map[string]bool{}
		for _, r := range series(t, e, "kube_pod_container_status_restarts_total", nil) {
			if r.last() > 0 {
				restarted[r.labels["pod"]+"/"+r.labels["container"]] = true
				if r.labels["container"] == ProxyContainer {
					restarted[r.labels["pod"]+"/*"] = true
				}
			}
		}
		for _, f := range e.reg.families {
			if f.typ == Gauge {
				continue
			}
			for _, m := range f.metrics {
				ls, _ := parseLabels(m.labels)
				w := 1
				if f.typ == Histogram {
					w = len(f.bounds) + 2
				}
				for i := 1; i < len(m.ticks); i++ {
					for k := 0; k < w; k++ {
						if m.vals[i*w+k] < m.vals[(i-1)*w+k] {
							if restarted[ls["pod"]+"/"+ls["container"]] || restarted[ls["pod"]+"/*"] {
								continue
							}
							t.Fatalf("%s: %s{%s} decreased without a restart", name, f.name, m.labels)
						}
					}
				}
			}
		}
	}
}

func TestOpenMetricsIsValid(t *testing.T) {
	e := run(t, "canary-5xx-regression")
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(e.WriteOpenMetrics(pw)) }()
	st, err := validateOpenMetrics(pr)
	pr.Close()
	if err != nil {
		t.Fatal(err)
	}
	series, samples := e.SeriesCount()
	if st.series != series || st.samples != samples {
		t.Errorf("validator saw %d series/%d samples, engine says %d/%d", st.series, st.samples, series, samples)
	}
	for fam, typ := range map[string]string{"istio_requests": "counter", "pilot_xds_pushes": "unknown",
		"istio_request_duration_milliseconds": "histogram", "container_memory_working_set_bytes": "gauge"} {
		if st.types[fam] != typ {
			t.Errorf("family %s has type %q, want %s", fam, st.types[fam], typ)
		}
	}
	for _, le := range []string{"1.8e+06", "300000.0", "0.5", "1.0", "+Inf"} {
		if !st.les[le] {
			t.Errorf("no le=%q (canonical OpenMetrics floats)", le)
		}
	}
	if want := e.opts.Start.Add(e.opts.Resolution).Unix(); st.firstTS["istio_requests"] != strconvI(want) {
		t.Errorf("first timestamp %s, want %d (seconds)", st.firstTS["istio_requests"], want)
	}
	for _, bad := range []string{
		"# TYPE a counter\na_total{x=\"1\"} 1 10\na_total{x=\"1\"} 2 10\n# EOF\n",                        // timestamp not increasing
		"# TYPE a counter\na_total{x=\"1\"} 1 10\n",                                                      // no EOF
		"# TYPE a gauge\na_total{x=\"1\"} 1 10\n# EOF\n",                                                 // suffix on a gauge
		"# TYPE a counter\na_total{x=\"1\"} 1 10\na_total{x=\"2\"} 1 10\na_total{x=\"1\"} 1 20\n# EOF\n", // interleaved
	} {
		if _, err := validateOpenMetrics(strings.NewReader(bad)); err == nil {
			t.Errorf("validator accepted %q", bad)
		}
	}
}

func strconvI(i int64) string { return string(appendValue(nil, float64(i))) }

func TestLiveMetricsParseAsPrometheusText(t *testing.T) {
	sc, _ := LookupScenario("timeout-cascade")
	live, err := NewLive(Options{Scenario: sc, Seed: 3, Start: testEnd.Add(-time.Hour), Duration: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var pushed atomic.Int64
	loki := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/loki/api/v1/push" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request", 400)
			return
		}
		var body struct {
			Streams []struct {
				Stream map[string]string `json:"stream"`
				Values [][2]string       `json:"values"`
			} `json:"streams"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		for _, s := range body.Streams {
			pushed.Add(int64(len(s.Values)))
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer loki.Close()
	live.Pusher = &LokiPusher{URL: loki.URL}
	if err := live.Advance(context.Background(), testEnd.Add(-50*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if pushed.Load() == 0 {
		t.Error("no log lines pushed")
	}
	srv := httptest.NewServer(live)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("content type %q", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"istio_requests_total", "istio_request_duration_milliseconds", "container_memory_working_set_bytes",
		"kube_pod_container_resource_limits", "pilot_xds_pushes", "flagger_canary_status", "node_cpu_seconds_total", "envoy_server_memory_allocated"} {
		if fams[name] == nil {
			t.Errorf("live /metrics lacks %s", name)
		}
	}
	if fams["istio_request_duration_milliseconds"].GetType().String() != "HISTOGRAM" {
		t.Error("duration is not a histogram")
	}
	if resp, err := http.Get(srv.URL + "/truth"); err != nil || resp.StatusCode != 200 {
		t.Errorf("/truth: %v", err)
	}
}

func TestLokiPushRetriesAndBatches(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "rate limited", http.StatusTooManyRequests)
			return
		}
		if r.Header.Get("X-Scope-OrgID") != "homelab" {
			http.Error(w, "no tenant", 401)
			return
		}
		w.WriteHeader(204)
	}))
	defer srv.Close()
	e := run(t, "crashloop")
	logs := append([]LogEntry(nil), e.logsSnapshot()...)
	if len(logs) < 10 {
		t.Fatalf("only %d log lines", len(logs))
	}
	p := &LokiPusher{URL: srv.URL, TenantID: "homelab", BatchSize: len(logs)/3 + 1}
	if err := p.Push(context.Background(), logs); err != nil {
		t.Fatal(err)
	}
	if got := calls.Load(); got != 4 {
		t.Errorf("%d requests, want 1 rejected + 3 batches", got)
	}
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "entry too far behind", 400) }))
	defer bad.Close()
	if err := (&LokiPusher{URL: bad.URL}).Push(context.Background(), logs[:1]); err == nil || !strings.Contains(err.Error(), "too far behind") {
		t.Errorf("400 should fail with Loki's message: %v", err)
	}
	body, _ := LokiPushBody(logs[:2])
	var decoded struct {
		Streams []struct {
			Stream map[string]string `json:"stream"`
			Values [][]string        `json:"values"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(body, &decoded); err != nil || len(decoded.Streams) == 0 {
		t.Fatalf("push body %s: %v", body, err)
	}
	for _, k := range []string{"namespace", "app", "pod", "container", "level"} {
		if decoded.Streams[0].Stream[k] == "" {
			t.Errorf("stream lacks %s label", k)
		}
	}
	if v := decoded.Streams[0].Values[0]; len(v) != 2 || len(v[0]) < 19 {
		t.Errorf("value %v: want [unix-nanos, line]", v)
	}
}

// logsSnapshot returns the engine's logs without draining them.
func (e *Engine) logsSnapshot() []LogEntry {
	out := append([]LogEntry(nil), e.logs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

func TestLogsCarryEachScenarioFault(t *testing.T) {
	cases := map[string]struct {
		labels StreamLabels
		text   string
	}{
		"canary-5xx-regression":  {StreamLabels{Namespace: "shop", App: "payments", Container: "payments", Level: "error"}, "nil pointer dereference"},
		"crashloop":              {StreamLabels{Namespace: "shop", App: "orders", Container: "orders", Level: "error"}, "panic"},
		"timeout-cascade":        {StreamLabels{Namespace: "shop", App: "api", Container: "api", Level: "error"}, "upstream inventory returned 504 (UT"},
		"istiod-config-rejects":  {StreamLabels{Namespace: "shop", App: "api", Container: "istio-proxy", Level: "warn"}, "rejected"},
		"upstream-latency":       {StreamLabels{Namespace: "shop", App: "inventory", Container: "inventory", Level: "warn"}, "slow request"},
		"app-oomkill":            {StreamLabels{Namespace: "shop", App: "api", Container: "api", Level: "error"}, "upstream inventory returned 503 (UH"},
		"plaintext-under-strict": {StreamLabels{Namespace: "shop", App: "orders", Container: "orders", Level: "info"}, "/orders/export"},
	}
	for scenario, c := range cases {
		e := run(t, scenario)
		found := false
		for _, l := range e.logsSnapshot() {
			got := l.Labels
			got.Pod = ""
			if got == c.labels && strings.Contains(l.Line, c.text) {
				var fields map[string]any
				if err := json.Unmarshal([]byte(l.Line), &fields); err != nil {
					t.Fatalf("%s: log line is not JSON: %s", scenario, l.Line)
				}
				for _, k := range []string{"ts", "level", "msg"} {
					if fields[k] == nil {
						t.Errorf("%s: line lacks %s: %s", scenario, k, l.Line)
					}
				}
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s: no %+v line containing %q", scenario, c.labels, c.text)
		}
	}
	for _, l := range run(t, "healthy").logsSnapshot() {
		if l.Labels.Level == "error" {
			t.Fatalf("healthy run logged an error: %s", l.Line)
		}
	}
}

func TestTempoFilesHaveTheAPIShapes(t *testing.T) {
	e := run(t, "timeout-cascade")
	dir := t.TempDir()
	if err := e.WriteTempoFiles(dir); err != nil {
		t.Fatal(err)
	}
	var search TempoSearchResponse
	readJSON(t, filepath.Join(dir, "api", "search.json"), &search)
	if len(search.Traces) == 0 {
		t.Fatal("no traces")
	}
	var errors int
	for _, tr := range search.Traces {
		if strings.HasPrefix(tr.TraceID, "0") || len(tr.TraceID) > 32 {
			t.Errorf("search traceID %q: Tempo renders hex without leading zeros", tr.TraceID)
		}
		if tr.RootServiceName == "" || tr.StartTimeUnixNano == "" || tr.SpanSet == nil || len(tr.SpanSets) != 1 {
			t.Errorf("incomplete search result %+v", tr)
		}
		full := strings.Repeat("0", 32-len(tr.TraceID)) + tr.TraceID
		var v1 TempoTraceV1
		readJSON(t, filepath.Join(dir, "api", "traces", full+".json"), &v1)
		var v2 map[string]map[string][]json.RawMessage
		readJSON(t, filepath.Join(dir, "api", "v2", "traces", full+".json"), &v2)
		if len(v2["trace"]["resourceSpans"]) != len(v1.Batches) {
			t.Errorf("v2 trace has %d resourceSpans, v1 %d batches", len(v2["trace"]["resourceSpans"]), len(v1.Batches))
		}
		ids := map[string]bool{}
		var spans []OTLPSpan
		for _, b := range v1.Batches {
			if len(b.ScopeSpans) == 0 || len(b.Resource.Attributes) == 0 {
				t.Fatal("batch without scope spans or resource")
			}
			for _, s := range b.ScopeSpans[0].Spans {
				spans = append(spans, s)
				ids[s.SpanID] = true
				raw, err := base64.StdEncoding.DecodeString(s.TraceID)
				if err != nil || hex.EncodeToString(raw) != full {
					t.Errorf("span traceId %q is not base64 of %s", s.TraceID, full)
				}
				if !strings.HasPrefix(s.Kind, "SPAN_KIND_") {
					t.Errorf("kind %q", s.Kind)
				}
				if s.Status.Code == "STATUS_CODE_ERROR" {
					errors++
				}
			}
		}
		roots := 0
		for _, s := range spans {
			if s.ParentSpanID == "" {
				roots++
			} else if !ids[s.ParentSpanID] {
				t.Errorf("span %s has an unknown parent", s.SpanID)
			}
		}
		if roots != 1 {
			t.Errorf("trace %s has %d roots", full, roots)
		}
	}
	if errors == 0 {
		t.Error("timeout-cascade kept no error spans")
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestObjectsApplyThroughDynamicClient(t *testing.T) {
	e := run(t, "canary-5xx-regression")
	objs := e.Objects()
	kinds := map[string]int{}
	for _, o := range objs {
		runtime.DeepCopyJSON(o) // panics on non-JSON types
		kinds[o["kind"].(string)]++
	}
	for _, k := range []string{"Namespace", "Deployment", "Pod", "Event", "Canary", "Service", "ServiceAccount", "PeerAuthentication"} {
		if kinds[k] == 0 {
			t.Errorf("no %s objects", k)
		}
	}
	scheme := runtime.NewScheme()
	gvrs := map[schema.GroupVersionResource]string{}
	for _, o := range objs {
		gvr, _, err := ResourceFor(o["apiVersion"].(string), o["kind"].(string))
		if err != nil {
			t.Fatal(err)
		}
		gvrs[gvr] = o["kind"].(string) + "List"
	}
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(scheme, gvrs)
	if err := ApplyObjects(context.Background(), dyn, objs, false); err != nil {
		t.Fatal(err)
	}
	if err := ApplyObjects(context.Background(), dyn, objs, false); err != nil {
		t.Fatalf("re-apply (update path): %v", err)
	}
	got, err := dyn.Resource(schema.GroupVersionResource{Group: "flagger.app", Version: "v1beta1", Resource: "canaries"}).Namespace("shop").Get(context.Background(), "payments", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	phase, _, _ := unstructured.NestedString(got.Object, "status", "phase")
	checks, _, _ := unstructured.NestedInt64(got.Object, "status", "failedChecks")
	weights, _, _ := unstructured.NestedSlice(got.Object, "spec", "analysis", "stepWeights")
	if phase != "Failed" || checks != 5 || len(weights) != 3 {
		t.Errorf("canary read back phase=%s failedChecks=%d stepWeights=%v", phase, checks, weights)
	}
	dir := t.TempDir()
	if err := WriteObjectFiles(dir, objs); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "06-canary.yaml"))
	if err != nil || !strings.Contains(string(b), "phase: Failed") || !strings.Contains(string(b), "apiVersion: flagger.app/v1beta1") {
		t.Errorf("canary yaml: %v\n%s", err, b)
	}
	// The crashloop's pod shows CrashLoopBackOff or a restart count.
	var restarts int64
	for _, o := range run(t, "crashloop").Objects() {
		if o["kind"] == "Pod" && strings.HasPrefix(o["metadata"].(map[string]any)["name"].(string), "orders-") && !strings.HasPrefix(o["metadata"].(map[string]any)["name"].(string), "orders-db") {
			cs, _, _ := unstructured.NestedSlice(o, "status", "containerStatuses")
			restarts = cs[0].(map[string]any)["restartCount"].(int64)
		}
	}
	if restarts == 0 {
		t.Error("orders pod shows no restarts in crashloop")
	}
}

func TestBackfillWritesAllOutputs(t *testing.T) {
	sc, _ := LookupScenario("istiod-config-rejects")
	dir := t.TempDir()
	res, err := Backfill(context.Background(), Options{Scenario: sc, Seed: 1, End: testEnd, Duration: 20 * time.Minute}, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"metrics.om", "logs.jsonl", "truth.json", "traces/api/search.json", "k8s/00-namespace.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	var gt GroundTruth
	readJSON(t, filepath.Join(dir, "truth.json"), &gt)
	if gt.Workload != "api" || gt.CauseClass != "xds-config-reject" || gt.Onset == nil || !gt.Onset.Equal(testEnd.Add(-10*time.Minute)) {
		t.Errorf("truth %+v (onset should scale to half of the 20m run)", gt)
	}
	f, _ := os.Open(filepath.Join(dir, "logs.jsonl"))
	defer f.Close()
	logs, err := ReadLogsJSONL(f)
	if err != nil || len(logs) != res.LogLines {
		t.Errorf("read %d log lines (%v), wrote %d", len(logs), err, res.LogLines)
	}
	if res.Series == 0 || res.Samples == 0 {
		t.Errorf("result %+v", res)
	}
}
