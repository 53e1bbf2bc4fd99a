package simulator_test

// Integration tests against real servers started by pkg/harness (Prometheus
// and promtool, Loki, kube-apiserver on etcd with Flagger's and Istio's
// CRDs). They skip when the binaries are missing, and fail under CI=true.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/devkit/simulator"
	"github.com/meshwatch/meshwatch/pkg/signals"
)

// Each scenario runs for one hour in its own window, windows two hours
// apart, so one Prometheus and one Loki hold them all without overlap.
var itBase = time.Date(2026, 10, 30, 6, 0, 0, 0, time.UTC)

const itDuration = time.Hour

func itEnd(i int) time.Time { return itBase.Add(time.Duration(i+1) * 2 * time.Hour) }

func itSimulate(t *testing.T, sc *simulator.Scenario, end time.Time) *simulator.Engine {
	t.Helper()
	e, err := simulator.Simulate(context.Background(), simulator.Options{
		Scenario: sc, Seed: 11, End: end, Duration: itDuration, Resolution: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// detectors: each detector of the truth table (simulator.DetectorFires) is
// a signal of the catalog (pkg/signals), with its windows cut to the
// one-hour run where they are longer, about the workload the scenario's
// fault is in (or any). It fires when the signal shows at some minute of
// the run's last 55 minutes, or at its end (atEnd: a fit over the run).
var detectors = map[string]detector{
	"canary-5xx":       {signal: signals.WorkloadErrorRate, about: shopWorkload("payments")},
	"proxy-leak":       {signal: signals.SidecarMemoryLeak, params: signals.Params{Window: 30 * time.Minute}, atEnd: true},
	"inventory-p99":    {signal: signals.WorkloadLatency, about: shopWorkload("inventory")},
	"restarts":         {signal: signals.ContainerRestarts},
	"oom-killed":       {signal: signals.ContainerOOMKilled},
	"plaintext":        {signal: signals.PlaintextUnderStrict},
	"xds-rejects":      {signal: signals.IstiodXDSRejects},
	"timeouts":         {signal: signals.UpstreamTimeouts},
	"canary-rollback":  {signal: signals.CanaryRolledBack}, // payments in the shop, checkout in the bookstore
	"search-index-5xx": {signal: signals.WorkloadErrorRate, about: map[string]string{"namespace": "books", "workload": "search-index"}},
	// Resilience: about the dependency, from the callers' UO flags and
	// Envoy's cluster stats.
	"circuit-open": {signal: signals.CircuitOpen, about: map[string]string{"namespace": "books", "workload": "search-index"}},
	"retries":      {signal: signals.RetryStorm}, // orders in retry-storm; inventory's per-try timeouts in timeout-cascade
	"ejections":    {signal: signals.EndpointEjected, about: map[string]string{"namespace": "books", "workload": "cart"}},
}

type detector struct {
	signal signals.ID
	params signals.Params    // changes to the catalog's parameters
	about  map[string]string // labels the signal's series must have; nil: any
	atEnd  bool
}

func shopWorkload(name string) map[string]string {
	return map[string]string{"namespace": "shop", "workload": name}
}

// query is the detector's PromQL, evaluated at the end of the run.
func (d detector) query() string {
	e := signals.Get(d.signal).ExprWith(d.params)
	if d.atEnd {
		return e
	}
	return "max_over_time((\n" + e + "\n)[55m:1m])"
}

// fired: the subjects (namespace/workload) the detector's answer is about.
func (d detector) fired(r promResponse) []string {
	var out []string
	for _, s := range r.Data.Result {
		match := true
		for k, v := range d.about {
			match = match && s.Metric[k] == v
		}
		if match {
			out = append(out, s.Metric["namespace"]+"/"+s.Metric["workload"])
		}
	}
	return out
}

type promResponse struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	} `json:"data"`
}

func promInstant(t *testing.T, base, q string, at time.Time) promResponse {
	t.Helper()
	v := url.Values{"query": {q}, "time": {strconv.FormatInt(at.Unix(), 10)}}
	resp, err := http.Get(base + "/api/v1/query?" + v.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r promResponse
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &r); err != nil || r.Status != "success" {
		t.Fatalf("query %s: %s %s", q, resp.Status, body)
	}
	return r
}

func TestIntegrationPrometheusDetectsEachScenario(t *testing.T) {
	harness.RequireBinary(t, harness.BinPromtool)
	harness.RequireBinary(t, harness.BinPrometheus)
	scenarios := simulator.Scenarios()
	if len(simulator.DetectorFires) != len(scenarios) {
		t.Fatalf("truth table covers %d of %d scenarios", len(simulator.DetectorFires), len(scenarios))
	}
	blocks := filepath.Join(t.TempDir(), "blocks")
	if err := os.MkdirAll(blocks, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, sc := range scenarios {
		e := itSimulate(t, sc, itEnd(i))
		om := filepath.Join(t.TempDir(), sc.Name+".om")
		f, err := os.Create(om)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.WriteOpenMetrics(f); err != nil {
			t.Fatal(err)
		}
		f.Close()
		out := harness.Backfill(t, om) // promtool tsdb create-blocks-from openmetrics
		_ = os.Remove(om)
		ents, err := os.ReadDir(out)
		if err != nil || len(ents) == 0 {
			t.Fatalf("%s: promtool made no blocks (%v)", sc.Name, err)
		}
		for _, b := range ents {
			if err := os.Rename(filepath.Join(out, b.Name()), filepath.Join(blocks, b.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	p := harness.StartPrometheus(t, harness.PrometheusOptions{Blocks: blocks})
	var names []string
	for d := range detectors {
		names = append(names, d)
	}
	slices.Sort(names)
	for i, sc := range scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			end := itEnd(i)
			if r := promInstant(t, p.URL, `count(istio_requests_total)`, end); len(r.Data.Result) == 0 {
				t.Fatal("no backfilled istio_requests_total at the end of the run")
			}
			for _, d := range names {
				subjects := detectors[d].fired(promInstant(t, p.URL, detectors[d].query(), end))
				fired := len(subjects) > 0
				if want := slices.Contains(simulator.DetectorFires[sc.Name], d); fired != want {
					t.Errorf("detector %s (%s) fired=%v, want %v %v", d, detectors[d].signal, fired, want, subjects)
				}
				if fired {
					t.Logf("%s (%s) fired for %v", d, detectors[d].signal, subjects)
				}
			}
		})
	}
	// Label semantics survive the round trip: mTLS only at the destination reporter.
	r := promInstant(t, p.URL, `count by (reporter, connection_security_policy) (istio_requests_total)`, itEnd(0))
	for _, s := range r.Data.Result {
		if want := map[string]string{"source": "unknown", "destination": "mutual_tls"}[s.Metric["reporter"]]; s.Metric["connection_security_policy"] != want {
			t.Errorf("reporter %s with policy %s", s.Metric["reporter"], s.Metric["connection_security_policy"])
		}
	}
}

type lokiResponse struct {
	Status string `json:"status"`
	Data   struct {
		Result []struct {
			Stream map[string]string `json:"stream"`
			Values [][2]string       `json:"values"`
		} `json:"result"`
	} `json:"data"`
}

func lokiCount(t *testing.T, base, q string, from, to time.Time) (int, map[string]string) {
	t.Helper()
	v := url.Values{"query": {q}, "start": {strconv.FormatInt(from.UnixNano(), 10)}, "end": {strconv.FormatInt(to.UnixNano(), 10)},
		"limit": {"5000"}, "direction": {"forward"}}
	resp, err := http.Get(base + "/loki/api/v1/query_range?" + v.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r lokiResponse
	if err := json.Unmarshal(body, &r); err != nil || r.Status != "success" {
		t.Fatalf("loki query %s: %s %s", q, resp.Status, body)
	}
	n := 0
	var labels map[string]string
	for _, s := range r.Data.Result {
		n += len(s.Values)
		labels = s.Stream
	}
	return n, labels
}

func TestIntegrationLokiReturnsErrorLines(t *testing.T) {
	harness.RequireBinary(t, harness.BinLoki)
	l := harness.StartLoki(t)
	cases := map[string]string{
		"healthy":                `{namespace="shop", level="error"}`,
		"canary-5xx-regression":  `{namespace="shop", app="payments", container="payments", level="error"} |= "nil pointer dereference" | json | status = 500`,
		"crashloop":              `{namespace="shop", app="orders", container="orders", level="error"} |= "panic"`,
		"timeout-cascade":        `{namespace="shop", app="api", level="error"} |= "upstream inventory returned 504 (UT"`,
		"istiod-config-rejects":  `{namespace="shop", app="api", container="istio-proxy", level="warn"} |= "Listener rejected"`,
		"upstream-latency":       `{namespace="shop", app="inventory", level="warn"} |= "slow request"`,
		"app-oomkill":            `{namespace="shop", app="api", level="error"} |= "upstream inventory returned 503"`,
		"plaintext-under-strict": `{namespace="shop", app="orders"} |= "/orders/export"`,
		// Other meshes: the fault's lines in its own namespace.
		"books-crashloop":        `{namespace="books", app="reviews", container="reviews", level="error"} |= "REVIEWS_PAGE_SIZE"`,
		"leaf-dependency-errors": `{namespace="books", app="catalog", level="error"} |= "upstream search-index returned 500" | json | status = 503`,
		"two-faults":             `{namespace="trips", app="flights", level="error"} |= "upstream fares returned 503 (UH"`,
	}
	pusher := &simulator.LokiPusher{URL: l.URL}
	// Recent windows, 70 minutes apart, oldest first: Loki keeps each stream
	// roughly in time order (and this Loki does not answer for lines weeks old).
	var names []string
	for _, sc := range simulator.Scenarios() {
		if _, ok := cases[sc.Name]; ok {
			names = append(names, sc.Name)
		}
	}
	now := time.Now().UTC().Truncate(time.Minute)
	ends := map[string]time.Time{}
	for j, name := range names {
		ends[name] = now.Add(-time.Duration(len(names)-j) * 70 * time.Minute)
		sc, _ := simulator.LookupScenario(name)
		e := itSimulate(t, sc, ends[name])
		if err := pusher.Push(context.Background(), e.DrainLogs()); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	for _, name := range names {
		q := cases[name]
		t.Run(name, func(t *testing.T) {
			end := ends[name]
			var n int
			var labels map[string]string
			deadline := time.Now().Add(30 * time.Second)
			for {
				n, labels = lokiCount(t, l.URL, q, end.Add(-itDuration), end.Add(time.Minute))
				if n > 0 || name == "healthy" || time.Now().After(deadline) {
					break
				}
				time.Sleep(500 * time.Millisecond)
			}
			if name == "healthy" {
				// The control run must have logs, but no error lines.
				all, _ := lokiCount(t, l.URL, `{namespace="shop"}`, end.Add(-itDuration), end.Add(time.Minute))
				if all == 0 || n != 0 {
					t.Errorf("healthy: %d lines, %d errors", all, n)
				}
				return
			}
			if n == 0 {
				t.Fatalf("no lines for %s", q)
			}
			for _, k := range []string{"namespace", "app", "pod", "container", "level"} {
				if labels[k] == "" {
					t.Errorf("stream lacks label %s: %v", k, labels)
				}
			}
		})
	}
}

func TestIntegrationCanaryObjectAcceptedByAPIServer(t *testing.T) {
	k := harness.StartKube(t)
	dyn, err := dynamic.NewForConfig(k.AdminConfig)
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := simulator.LookupScenario("canary-5xx-regression")
	e := itSimulate(t, sc, itEnd(0))
	ctx := context.Background()
	if err := simulator.ApplyObjects(ctx, dyn, e.Objects(), false); err != nil {
		t.Fatal(err)
	}
	canaries := schema.GroupVersionResource{Group: "flagger.app", Version: "v1beta1", Resource: "canaries"}
	got, err := dyn.Resource(canaries).Namespace("shop").Get(ctx, "payments", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	phase, _, _ := unstructured.NestedString(got.Object, "status", "phase")
	weight, _, _ := unstructured.NestedInt64(got.Object, "status", "canaryWeight")
	checks, _, _ := unstructured.NestedInt64(got.Object, "status", "failedChecks")
	conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
	steps, _, _ := unstructured.NestedSlice(got.Object, "spec", "analysis", "stepWeights")
	if phase != "Failed" || weight != 0 || checks != int64(simulator.PaymentsAnalysis.Threshold) || len(conds) != 1 || len(steps) != 3 {
		t.Fatalf("canary read back: phase=%s weight=%d failedChecks=%d conditions=%v stepWeights=%v", phase, weight, checks, conds, steps)
	}
	if c := conds[0].(map[string]any); c["type"] != "Promoted" || c["status"] != "False" || c["reason"] != "Failed" {
		t.Errorf("condition %v", c)
	}
	// Pods keep their simulated status (the status subresource was written).
	pods, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "pods"}).Namespace("shop").List(ctx, metav1.ListOptions{})
	if err != nil || len(pods.Items) < 6 {
		t.Fatalf("pods: %v (%d)", err, len(pods.Items))
	}
	for _, p := range pods.Items {
		if ph, _, _ := unstructured.NestedString(p.Object, "status", "phase"); ph != "Running" {
			t.Errorf("pod %s phase %q", p.GetName(), ph)
		}
	}
	events, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "events"}).Namespace("shop").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var rollback bool
	for _, ev := range events.Items {
		msg, _, _ := unstructured.NestedString(ev.Object, "message")
		rollback = rollback || strings.Contains(msg, "Rolling back payments.shop")
	}
	if !rollback {
		t.Error("no Flagger rollback event")
	}
	// Re-applying (the update path) is accepted too, and so is every other
	// scenario's state (PeerAuthentication exceptions, the EnvoyFilter,
	// CrashLoopBackOff pods, OOM events), applied over it.
	if err := simulator.ApplyObjects(ctx, dyn, e.Objects(), false); err != nil {
		t.Fatalf("re-apply: %v", err)
	}
	for i, sc := range simulator.Scenarios() {
		switch sc.Name {
		case "plaintext-under-strict", "istiod-config-rejects", "crashloop", "app-oomkill", "canary-success":
		default:
			continue
		}
		if err := simulator.ApplyObjects(ctx, dyn, itSimulate(t, sc, itEnd(i)).Objects(), false); err != nil {
			t.Errorf("%s: %v", sc.Name, err)
		}
	}
	filters, err := dyn.Resource(schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1alpha3", Resource: "envoyfilters"}).Namespace("shop").List(ctx, metav1.ListOptions{})
	if err != nil || len(filters.Items) != 1 {
		t.Errorf("envoyfilters: %v %d", err, len(filters.Items))
	}
}

func TestIntegrationPrometheusScrapesLive(t *testing.T) {
	harness.RequireBinary(t, harness.BinPrometheus)
	sc, _ := simulator.LookupScenario("crashloop")
	live, err := simulator.NewLive(simulator.Options{Scenario: sc, Seed: 5, Start: time.Now().Add(-10 * time.Minute), Duration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := live.Advance(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(live)
	defer srv.Close()
	p := harness.StartPrometheus(t, harness.PrometheusOptions{ScrapeTargets: []string{strings.TrimPrefix(srv.URL, "http://")}})
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := promInstant(t, p.URL, `sum(istio_requests_total{reporter="destination",destination_workload="api"})`, time.Now())
		n := promInstant(t, p.URL, `count(container_memory_working_set_bytes{container="istio-proxy"})`, time.Now())
		if len(r.Data.Result) == 1 && len(n.Data.Result) == 1 {
			if c, _ := strconv.Atoi(fmt.Sprint(n.Data.Result[0].Value[1])); c < 6 {
				t.Errorf("only %d sidecars scraped", c)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("Prometheus did not scrape the live simulator's /metrics")
		}
		time.Sleep(500 * time.Millisecond)
	}
}
