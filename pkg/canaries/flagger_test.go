package canaries_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/meshwatch/meshwatch/pkg/access"
	"github.com/meshwatch/meshwatch/pkg/canaries"
	"github.com/meshwatch/meshwatch/pkg/capability"
	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/devkit/simulator"
	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/systems/kubernetes"
	"github.com/meshwatch/meshwatch/pkg/systems/loadtester"
)

var deploymentGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}

// analysis is the Canary's analysis under test.
type analysis struct {
	interval, metricInterval string
	threshold                int64
	scrape                   time.Duration
}

// flaggerRig is Flagger v1.44 itself against the harness kube-apiserver
// (Flagger's and Istio's CRDs), the real Prometheus scraping the
// simulator's kubelet-and-mesh player, the real load tester, and the
// canary capability reading them all.
type flaggerRig struct {
	dyn  dynamic.Interface
	kl   *simulator.Kubelet
	lt   *harness.LoadTester
	prom v1.API
	reg  *capability.Registry
	svc  *canaries.Service

	mu     sync.Mutex
	raised []incident.Alert // the last set the capability raised
}

// lastRaised is the last set of failed-canary alerts the capability raised.
func (r *flaggerRig) lastRaised() []incident.Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.raised
}

func startFlaggerRig(t *testing.T, an analysis) *flaggerRig {
	t.Helper()
	kube := harness.StartKube(t)
	dyn, err := dynamic.NewForConfig(kube.AdminConfig)
	if err != nil {
		t.Fatal(err)
	}
	r := &flaggerRig{dyn: dyn}
	r.kl = &simulator.Kubelet{Dyn: dyn, Namespace: "shop", RPS: 40}
	metrics := httptest.NewServer(r.kl)
	t.Cleanup(metrics.Close)
	prom := harness.StartPrometheus(t, harness.PrometheusOptions{ScrapeTargets: []string{strings.TrimPrefix(metrics.URL, "http://")},
		HonorLabels: true, ScrapeInterval: an.scrape})
	pc, err := api.NewClient(api.Config{Address: prom.URL})
	if err != nil {
		t.Fatal(err)
	}
	r.prom = v1.NewAPI(pc)
	r.lt = harness.StartLoadTester(t, harness.LoadTesterOptions{NamespaceRegexp: "^shop$"})

	ctx := context.Background()
	create := func(gvr schema.GroupVersionResource, ns string, obj map[string]any) {
		t.Helper()
		ri := dyn.Resource(gvr)
		var err error
		if ns == "" {
			_, err = ri.Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{})
		} else {
			_, err = ri.Namespace(ns).Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	create(nsGVR, "", map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "shop"}})
	labels := map[string]any{"app": "checkout"}
	create(deploymentGVR, "shop", map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "checkout", "namespace": "shop", "labels": labels},
		"spec": map[string]any{"selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{"metadata": map[string]any{"labels": labels, "annotations": map[string]any{"revision": "1"}},
				"spec": map[string]any{"containers": []any{map[string]any{"name": "app", "image": "ghcr.io/stefanprodan/podinfo:6.7.1",
					"ports": []any{map[string]any{"name": "http", "containerPort": int64(9898)}}}}}}}})
	lt := r.lt.URL
	create(kubernetes.CanaryResource, "shop", map[string]any{"apiVersion": "flagger.app/v1beta1", "kind": "Canary",
		"metadata": map[string]any{"name": "checkout", "namespace": "shop"},
		"spec": map[string]any{
			"provider":                "istio",
			"targetRef":               map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "checkout"},
			"progressDeadlineSeconds": int64(120),
			"service":                 map[string]any{"port": int64(9898), "targetPort": int64(9898)},
			"analysis": map[string]any{
				"interval": an.interval, "threshold": an.threshold, "stepWeights": []any{int64(10), int64(25), int64(50)},
				"metrics": []any{map[string]any{"name": "request-success-rate", "thresholdRange": map[string]any{"min": 99.5}, "interval": an.metricInterval}},
				"webhooks": []any{
					map[string]any{"name": "approve", "type": "confirm-promotion", "url": lt + "/gate/check", "timeout": "5s"},
					map[string]any{"name": "abort", "type": "rollback", "url": lt + "/rollback/check", "timeout": "5s"},
					map[string]any{"name": "close", "type": "post-rollout", "url": lt + "/gate/close", "timeout": "5s"},
				},
			},
		}})

	runCtx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	go r.kl.Run(runCtx, 500*time.Millisecond)
	fl := harness.StartFlagger(t, kube, harness.FlaggerOptions{MetricsServer: prom.URL, Namespace: "shop"})
	// Prometheus scrapes Flagger too (flagger_canary_metric_analysis,
	// flagger_canary_weight, flagger_canary_status).
	f, err := os.OpenFile(prom.ConfigFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "          - %q\n", strings.TrimPrefix(fl.URL, "http://"))
	f.Close()
	prom.Reload(t)

	kc, err := kubernetes.NewForConfig(rest.CopyConfig(kube.AdminConfig))
	if err != nil {
		t.Fatal(err)
	}
	r.reg = capability.New()
	raise := func(_ context.Context, alerts []incident.Alert) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.raised = alerts
		return nil
	}
	r.svc = canaries.Register(r.reg, canaries.Options{Kube: kc, Namespaces: []string{"shop"}, Prometheus: r.prom, GateEvery: time.Second, Raise: raise})
	t.Cleanup(r.reg.Dispose)
	return r
}

// canary is the capability's view of the canary.
func (r *flaggerRig) canary(t *testing.T) canaries.Canary {
	t.Helper()
	c, _ := r.svc.Canary(context.Background(), "shop", "checkout")
	return c
}

// waitPhase waits until the canary is in one of phases, collecting the
// canary weights it passes through.
func (r *flaggerRig) waitPhase(t *testing.T, timeout time.Duration, weights *[]int, phases ...string) canaries.Canary {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c := r.canary(t)
		if weights != nil && c.Weight > 0 && (len(*weights) == 0 || (*weights)[len(*weights)-1] != c.Weight) {
			*weights = append(*weights, c.Weight)
		}
		if slices.Contains(phases, c.Phase) {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("canary still %q (weight %d, failed checks %d) after %s, want %v; history:\n%s", c.Phase, c.Weight, c.FailedChecks, timeout, phases, historyText(c))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func historyText(c canaries.Canary) string {
	var b strings.Builder
	for _, h := range c.History {
		fmt.Fprintf(&b, "  %s %-11s %s\n", h.At.Format("15:04:05"), h.Kind, h.Message)
	}
	return b.String()
}

// newRevision changes the target's pod template, as a deploy does.
func (r *flaggerRig) newRevision(t *testing.T, rev string) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"revision":%q}}}}}`, rev)
	if _, err := r.dyn.Resource(deploymentGVR).Namespace("shop").Patch(context.Background(), "checkout", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

// Flagger itself walks 10 -> 25 -> 50, holds the canary in
// WaitingPromotion until a person signs off through MeshWatch, then
// promotes; the promotion gate is closed afterwards.
func TestRealFlaggerWaitsForSignOffThenPromotes(t *testing.T) {
	r := startFlaggerRig(t, analysis{interval: "10s", metricInterval: "30s", threshold: 2, scrape: time.Second})
	r.waitPhase(t, 3*time.Minute, nil, canaries.PhaseInitialized)
	time.Sleep(2 * time.Second) // traffic on the primary before the new revision
	r.newRevision(t, "2")
	var weights []int
	c := r.waitPhase(t, 4*time.Minute, &weights, canaries.PhaseWaitingPromotion, canaries.PhaseFailed)
	if c.Phase != canaries.PhaseWaitingPromotion {
		t.Fatalf("canary %s before any sign-off; history:\n%s", c.Phase, historyText(c))
	}
	t.Logf("weights Flagger stepped through: %v", weights)
	if fmt.Sprint(weights) != "[10 25 50]" {
		t.Errorf("weights %v, want [10 25 50]", weights)
	}
	if !c.AwaitingDecision || c.Weight != 50 {
		t.Fatalf("held canary %+v: want awaiting a decision at 50", c)
	}
	// It stays held: no decision, no promotion.
	time.Sleep(25 * time.Second)
	if c = r.canary(t); c.Phase != canaries.PhaseWaitingPromotion {
		t.Fatalf("without a sign-off the canary moved on to %s", c.Phase)
	}
	if len(c.Metrics) != 1 || c.Metrics[0].Value == nil || !*c.Metrics[0].Passing {
		t.Errorf("the success-rate check's last value from flagger_canary_metric_analysis: %+v", c.Metrics)
	}
	code, body := call(r.reg, &access.User{Login: "eve", Role: access.Editor}, http.MethodPost, "/canaries/shop/checkout/promote", `{"comment":"checks green at 50%"}`)
	if code != http.StatusOK {
		t.Fatalf("sign-off: HTTP %d %s", code, body)
	}
	c = r.waitPhase(t, 2*time.Minute, nil, canaries.PhaseSucceeded)
	t.Logf("history:\n%s", historyText(c))
	if got := r.lastRaised(); len(got) != 0 {
		t.Errorf("a promoted canary was raised as an incident: %+v", got)
	}
	kinds := map[string]bool{}
	for _, h := range c.History {
		kinds[h.Kind] = true
	}
	for _, k := range []string{canaries.HistoryProgression, canaries.HistoryPromotion, canaries.HistoryGate} {
		if !kinds[k] {
			t.Errorf("no %s in the history", k)
		}
	}
	cl, _ := loadtester.New(r.lt.URL)
	eventually(t, 20*time.Second, "the promotion gate closes after the promotion", func() error {
		if open, err := cl.Check(context.Background(), loadtester.Confirm, "checkout", "shop"); err != nil || open {
			return fmt.Errorf("open %v, %v", open, err)
		}
		return nil
	})
}

// With the homelab analysis of deploy/ (interval 15s, threshold 1, a 1m
// success-rate window over a 15 s scrape), Flagger rolls a 5xx canary
// back by itself: the time from the first scrape that holds a 5xx to the
// Failed phase is printed (the deploy guide's timing analysis).
func TestRealFlaggerRollsBackA5xxCanary(t *testing.T) {
	r := startFlaggerRig(t, analysis{interval: "15s", metricInterval: "1m", threshold: 1, scrape: 15 * time.Second})
	r.waitPhase(t, 3*time.Minute, nil, canaries.PhaseInitialized)
	time.Sleep(30 * time.Second) // two scrapes of healthy primary traffic
	r.newRevision(t, "2")
	r.waitPhase(t, 3*time.Minute, nil, canaries.PhaseProgressing)
	eventually(t, 2*time.Minute, "the canary takes traffic", func() error {
		if c := r.canary(t); c.Weight < 10 {
			return fmt.Errorf("weight %d", c.Weight)
		}
		return nil
	})
	r.kl.SetErrorRatio("checkout", 0.2)
	c := r.waitPhase(t, 3*time.Minute, nil, canaries.PhaseFailed, canaries.PhaseSucceeded, canaries.PhaseWaitingPromotion)
	failedAt := time.Now()
	if c.Phase != canaries.PhaseFailed {
		t.Fatalf("the 5xx canary reached %s; history:\n%s", c.Phase, historyText(c))
	}
	// The first scrape that saw a 5xx, from Prometheus itself.
	v, _, err := r.prom.QueryRange(context.Background(), `istio_requests_total{destination_workload="checkout",response_code="503"} > 0`,
		v1.Range{Start: failedAt.Add(-5 * time.Minute), End: failedAt, Step: time.Second})
	m, ok := v.(model.Matrix)
	if err != nil || !ok || len(m) == 0 || len(m[0].Values) == 0 {
		t.Fatalf("no 5xx sample in Prometheus: %v %v", v, err)
	}
	firstBad := m[0].Values[0].Timestamp.Time()
	took := failedAt.Sub(firstBad)
	t.Logf("rollback: first bad scrape %s, Failed seen %s: %.1f s (goal <= 30 s); history:\n%s",
		firstBad.Format("15:04:05"), failedAt.Format("15:04:05.0"), took.Seconds(), historyText(c))
	fmt.Printf("ROLLBACK_SECONDS %.1f\n", took.Seconds())
	if !slices.ContainsFunc(c.History, func(h canaries.HistoryEntry) bool { return h.Kind == canaries.HistoryRollback }) {
		t.Errorf("no rollback in the history")
	}
	if took > 45*time.Second {
		t.Errorf("rollback took %s after the first bad scrape (the analysis says 15-30 s, 45 s at worst)", took)
	}
	// The rollback is raised as an incident's alert about the target,
	// whatever alert rules run (none do here).
	eventually(t, 30*time.Second, "the rollback is raised as an alert", func() error {
		got := r.lastRaised()
		if len(got) != 1 {
			return fmt.Errorf("raised %v, want one alert", got)
		}
		a := got[0]
		if a.Labels["workload"] != "checkout" || a.Labels["namespace"] != "shop" || a.Source != incident.SourceFlagger || a.Status != incident.StatusFiring {
			return fmt.Errorf("raised %+v, want a firing flagger alert on shop/checkout", a)
		}
		if !strings.Contains(a.Annotations["description"], "checkout-primary") {
			return fmt.Errorf("description %q does not say where the traffic went", a.Annotations["description"])
		}
		return nil
	})
}
