package simulator_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/devkit/promrules"
	"github.com/meshwatch/meshwatch/pkg/devkit/simulator"
)

// meshRulesDir holds MeshWatch's alert rules (generated from pkg/signals).
const meshRulesDir = "../../../deploy/base/monitoring/rules"

// meshAlertsExpected: for the scenarios on other meshes (and the shop's
// control run), the alerts the shipped rules must fire ("Alert
// namespace/workload") and the ones they may fire as a consequence (callers
// of a failing service); anything else is a false positive.
var meshAlertsExpected = map[string]struct{ must, may []string }{
	"healthy":       {},
	"books-healthy": {},
	"books-crashloop": {
		must: []string{"MeshWorkloadCrashLooping books/reviews", "MeshWorkloadHighErrorRate books/catalog", "MeshWorkloadHighErrorRate books/storefront"}},
	"canary-on-checkout": {
		must: []string{"MeshCanaryRolledBack books/checkout"},
		may:  []string{"MeshWorkloadHighErrorRate books/checkout"}},
	// The leaf's callers feel it: their own error alerts fire, with the leaf's.
	"leaf-dependency-errors": {
		must: []string{"MeshWorkloadHighErrorRate books/search-index", "MeshWorkloadHighErrorRate books/catalog", "MeshWorkloadHighErrorRate books/storefront"}},
	"two-faults": {
		must: []string{"MeshSidecarMemoryLeak data/geo", "MeshContainerOOMKilled trips/fares"},
		may:  []string{"MeshWorkloadHighErrorRate trips/flights", "MeshWorkloadHighErrorRate edge/portal", "MeshWorkloadHighErrorRate trips/itinerary"}},
}

// TestIntegrationAlertsFireOnOtherMeshes backfills each scenario of
// meshAlertsExpected for its whole duration (30 s samples) into a real
// Prometheus loaded with MeshWatch's rule files, and replays every alert
// rule over the run as the rule manager would have evaluated it while the
// data came in: the expression as a range query at the group's interval,
// an alert firing once it has returned its series at every evaluation for
// the rule's `for` (pending → firing). No alert may fire before the fault's
// onset (the earliest, with several faults).
func TestIntegrationAlertsFireOnOtherMeshes(t *testing.T) {
	harness.RequireBinary(t, harness.BinPromtool)
	harness.RequireBinary(t, harness.BinPrometheus)
	files, err := filepath.Glob(filepath.Join(meshRulesDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files in %s: %v", meshRulesDir, err)
	}
	rules, err := promrules.ReadAlertRules(files...)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range meshAlertsExpected {
		names = append(names, name)
	}
	sort.Strings(names)
	blocks := filepath.Join(t.TempDir(), "blocks")
	if err := os.MkdirAll(blocks, 0o755); err != nil {
		t.Fatal(err)
	}
	// Each run on its own day (06:00-12:00 UTC), so no rate window or
	// offset reaches into another.
	type run struct {
		start, end time.Time
		truth      simulator.GroundTruth
	}
	runs := map[string]run{}
	base := time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)
	for i, name := range names {
		sc, err := simulator.LookupScenario(name)
		if err != nil {
			t.Fatal(err)
		}
		e, err := simulator.Simulate(context.Background(), simulator.Options{
			Scenario: sc, Seed: 1, End: base.Add(time.Duration(i) * 24 * time.Hour), Resolution: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		om := filepath.Join(t.TempDir(), name+".om")
		f, err := os.Create(om)
		if err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriterSize(f, 1<<20)
		if err := e.WriteOpenMetrics(w); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		out := harness.Backfill(t, om)
		_ = os.Remove(om)
		ents, err := os.ReadDir(out)
		if err != nil || len(ents) == 0 {
			t.Fatalf("%s: promtool made no blocks (%v)", name, err)
		}
		for _, b := range ents {
			if err := os.Rename(filepath.Join(out, b.Name()), filepath.Join(blocks, b.Name())); err != nil {
				t.Fatal(err)
			}
		}
		gt := e.Truth()
		runs[name] = run{start: gt.Start, end: gt.End, truth: gt}
	}
	p := harness.StartPrometheus(t, harness.PrometheusOptions{Blocks: blocks, RuleFiles: files})
	var table []string
	for _, name := range names {
		r, exp := runs[name], meshAlertsExpected[name]
		t.Run(name, func(t *testing.T) {
			fired := map[string]time.Duration{}
			for _, rule := range rules {
				for key, at := range replayRule(t, p.URL, rule, r.start, r.end) {
					if prev, ok := fired[key]; !ok || at < prev {
						fired[key] = at
					}
				}
			}
			var onset *time.Time
			for _, f := range r.truth.Faults() {
				if f.Onset != nil && (onset == nil || f.Onset.Before(*onset)) {
					onset = f.Onset
				}
			}
			var keys []string
			for k := range fired {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, m := range exp.must {
				if _, ok := fired[m]; !ok {
					t.Errorf("%s did not fire (fired: %v)", m, keys)
				}
			}
			for _, k := range keys {
				if !slices.Contains(exp.must, k) && !slices.Contains(exp.may, k) {
					t.Errorf("unexpected alert %s at +%s", k, fired[k])
				}
				if onset != nil && r.start.Add(fired[k]).Before(*onset) {
					t.Errorf("%s fired at +%s, before the fault's onset (+%s)", k, fired[k], onset.Sub(r.start))
				}
				mark := "  "
				if slices.Contains(exp.must, k) {
					mark = "✔ "
				}
				table = append(table, fmt.Sprintf("%-24s %s%-52s fires at +%s", name, mark, k, fired[k]))
			}
			if len(keys) == 0 {
				table = append(table, fmt.Sprintf("%-24s   (none)", name))
			}
		})
	}
	t.Logf("alerts per scenario (✔ = must fire):\n%s", strings.Join(table, "\n"))
}

// replayRule evaluates an alert rule over [start, end] at its group's
// interval and returns, per "Alert namespace/workload", when it first fires
// (after the run's start).
func replayRule(t *testing.T, base string, r promrules.AlertRule, start, end time.Time) map[string]time.Duration {
	t.Helper()
	v := url.Values{"query": {r.Expr}, "start": {strconv.FormatInt(start.Unix(), 10)}, "end": {strconv.FormatInt(end.Unix(), 10)},
		"step": {strconv.FormatFloat(r.Interval.Seconds(), 'f', -1, 64)}}
	resp, err := http.Get(base + "/api/v1/query_range?" + v.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var res struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &res); err != nil || res.Status != "success" {
		t.Fatalf("%s: %s %s", r.Alert, resp.Status, body)
	}
	out := map[string]time.Duration{}
	for _, s := range res.Data.Result {
		var runStart, prev float64 = -1, -1
		for _, val := range s.Values {
			ts := val[0].(float64)
			if prev < 0 || ts-prev > r.Interval.Seconds()+0.5 {
				runStart = ts // a gap resets the pending state
			}
			prev = ts
			if ts-runStart >= r.For.Seconds() {
				key := r.Alert + " " + s.Metric["namespace"] + "/" + s.Metric["workload"]
				if s.Metric["namespace"] == "" || s.Metric["workload"] == "" {
					t.Errorf("%s fired without namespace/workload: %v", r.Alert, s.Metric)
				}
				at := time.Unix(int64(ts), 0).Sub(start)
				if prev, ok := out[key]; !ok || at < prev {
					out[key] = at
				}
				break
			}
		}
	}
	return out
}

// TestIntegrationOtherMeshObjectsAcceptedByAPIServer applies the end state
// of the scenarios on other meshes (StatefulSets and their pods, several
// namespaces, the checkout Canary rolled back) to a real kube-apiserver
// with Flagger's and Istio's CRDs.
func TestIntegrationOtherMeshObjectsAcceptedByAPIServer(t *testing.T) {
	k := harness.StartKube(t)
	dyn, err := dynamic.NewForConfig(k.AdminConfig)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i, name := range []string{"books-crashloop", "canary-on-checkout", "two-faults"} {
		sc, _ := simulator.LookupScenario(name)
		if err := simulator.ApplyObjects(ctx, dyn, itSimulate(t, sc, itEnd(i)).Objects(), false); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	sts, err := dyn.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}).Namespace("data").Get(ctx, "geo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ready, _, _ := unstructured.NestedInt64(sts.Object, "status", "readyReplicas"); ready != 1 {
		t.Errorf("geo StatefulSet readyReplicas %d", ready)
	}
	pod, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "pods"}).Namespace("books").Get(ctx, "search-index-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if refs := pod.GetOwnerReferences(); len(refs) != 1 || refs[0].Kind != "StatefulSet" || refs[0].Name != "search-index" {
		t.Errorf("search-index-0 owner %v", refs)
	}
	canary, err := dyn.Resource(schema.GroupVersionResource{Group: "flagger.app", Version: "v1beta1", Resource: "canaries"}).Namespace("books").Get(ctx, "checkout", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if phase, _, _ := unstructured.NestedString(canary.Object, "status", "phase"); phase != "Failed" {
		t.Errorf("checkout canary phase %q, want Failed", phase)
	}
	for _, ns := range []string{"edge", "trips", "data", "books"} {
		n, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			t.Errorf("namespace %s: %v", ns, err)
		} else if n.GetLabels()["istio-injection"] != "enabled" {
			t.Errorf("namespace %s labels %v", ns, n.GetLabels())
		}
		pa, err := dyn.Resource(schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "peerauthentications"}).Namespace(ns).Get(ctx, "default", metav1.GetOptions{})
		if err != nil {
			t.Errorf("PeerAuthentication %s/default: %v", ns, err)
		} else if mode, _, _ := unstructured.NestedString(pa.Object, "spec", "mtls", "mode"); mode != "STRICT" {
			t.Errorf("PeerAuthentication %s/default mode %q", ns, mode)
		}
	}
}
