package harness_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
)

// eventually retries f every 200ms until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %s: %v", timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func getJSON(u string, into any) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, body)
	}
	return json.Unmarshal(body, into)
}

// promResult is the /api/v1/query answer for an instant vector.
type promResult struct {
	Status string `json:"status"`
	Data   struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	} `json:"data"`
}

// promQuery evaluates an instant query at ts and returns the single sample value.
func promQuery(p *harness.Prometheus, q string, ts time.Time) (float64, error) {
	v := url.Values{"query": {q}, "time": {strconv.FormatInt(ts.Unix(), 10)}}
	var r promResult
	if err := getJSON(p.URL+"/api/v1/query?"+v.Encode(), &r); err != nil {
		return 0, err
	}
	if len(r.Data.Result) != 1 {
		return 0, fmt.Errorf("query %q: want 1 series, got %d", q, len(r.Data.Result))
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	return strconv.ParseFloat(s, 64)
}

func TestPrometheusScrapesTarget(t *testing.T) {
	t.Parallel()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, "# TYPE harness_demo gauge\nharness_demo{mesh=\"istio\"} 42\n")
	}))
	defer target.Close()
	p := harness.StartPrometheus(t, harness.PrometheusOptions{
		ScrapeTargets:  []string{strings.TrimPrefix(target.URL, "http://")},
		ScrapeInterval: 500 * time.Millisecond,
	})
	eventually(t, 30*time.Second, func() error {
		v, err := promQuery(p, `up{job="harness"}`, time.Now())
		if err == nil && v != 1 {
			err = fmt.Errorf("up = %v", v)
		}
		return err
	})
	v, err := promQuery(p, `harness_demo{mesh="istio"}`, time.Now())
	if err != nil || v != 42 {
		t.Fatalf("harness_demo = %v, %v; want 42", v, err)
	}
}

func TestPrometheusBackfill(t *testing.T) {
	t.Parallel()
	// Three hours of a counter growing by 60 per minute (1 req/s), ending 10m ago.
	end := time.Now().Add(-10 * time.Minute).Truncate(time.Minute)
	var om strings.Builder
	om.WriteString("# HELP mesh_requests Requests seen by the sidecar.\n# TYPE mesh_requests counter\n")
	for i, ts := 0, end.Add(-3*time.Hour); !ts.After(end); i, ts = i+1, ts.Add(time.Minute) {
		fmt.Fprintf(&om, "mesh_requests_total{service=\"reviews\",code=\"200\"} %d %d\n", i*60, ts.Unix())
	}
	om.WriteString("# EOF\n")
	path := filepath.Join(t.TempDir(), "history.om")
	if err := os.WriteFile(path, []byte(om.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	blocks := harness.Backfill(t, path)
	p := harness.StartPrometheus(t, harness.PrometheusOptions{Blocks: blocks})

	at := end.Add(-90 * time.Minute)
	rate, err := promQuery(p, `sum(rate(mesh_requests_total{service="reviews"}[5m]))`, at)
	if err != nil {
		t.Fatal(err)
	}
	if rate < 0.99 || rate > 1.01 {
		t.Fatalf("rate 90m into the backfill = %v, want 1", rate)
	}
	n, err := promQuery(p, `count_over_time(mesh_requests_total[4h])`, end)
	if err != nil || n != 181 {
		t.Fatalf("samples over the backfilled 3h = %v, %v; want 181", n, err)
	}
}

func TestPromtoolRules(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	tests := filepath.Join(dir, "rules_test.yaml")
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(rules, `groups:
  - name: mesh
    rules:
      - alert: HighErrorRate
        expr: errors > 5
        for: 1m
        labels: {severity: critical}
`)
	write(tests, `rule_files: [rules.yaml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: errors
        values: 10x5
    alert_rule_test:
      - eval_time: 3m
        alertname: HighErrorRate
        exp_alerts:
          - exp_labels: {severity: critical}
`)
	if out, err := harness.CheckRules(t, rules); err != nil || !strings.Contains(out, "SUCCESS") {
		t.Fatalf("check rules: %v\n%s", err, out)
	}
	if out, err := harness.TestRules(t, tests); err != nil || !strings.Contains(out, "SUCCESS") {
		t.Fatalf("test rules: %v\n%s", err, out)
	}
	write(rules, "groups:\n  - name: broken\n    rules:\n      - alert: X\n        expr: sum(\n")
	if out, err := harness.CheckRules(t, rules); err == nil {
		t.Fatalf("check rules accepted a broken expression:\n%s", out)
	}
}

// webhookSink records Alertmanager webhook payloads.
type webhookSink struct {
	mu       sync.Mutex
	payloads []map[string]any
}

func (s *webhookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var p map[string]any
	if err := json.NewDecoder(r.Body).Decode(&p); err == nil {
		s.mu.Lock()
		s.payloads = append(s.payloads, p)
		s.mu.Unlock()
	}
	w.WriteHeader(http.StatusOK)
}

// alert finds a delivered alert by alertname.
func (s *webhookSink) alert(name string) (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.payloads {
		alerts, _ := p["alerts"].([]any)
		for _, a := range alerts {
			m, _ := a.(map[string]any)
			labels, _ := m["labels"].(map[string]any)
			if labels["alertname"] == name {
				return m, nil
			}
		}
	}
	return nil, fmt.Errorf("no webhook delivery of %s yet (%d payloads)", name, len(s.payloads))
}

func TestAlertmanagerWebhook(t *testing.T) {
	t.Parallel()
	sink := &webhookSink{}
	hook := httptest.NewServer(sink)
	defer hook.Close()
	am := harness.StartAlertmanager(t, harness.AlertmanagerOptions{WebhookURL: hook.URL + "/alerts"})

	t.Run("posted", func(t *testing.T) {
		body := `[{"labels":{"alertname":"SidecarMemoryLeak","namespace":"bookinfo","workload":"reviews-v2"},
		           "annotations":{"summary":"istio-proxy memory grows"}}]`
		resp, err := http.Post(am.URL+"/api/v2/alerts", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("post alert: %s", resp.Status)
		}
		var got map[string]any
		eventually(t, 30*time.Second, func() (err error) { got, err = sink.alert("SidecarMemoryLeak"); return err })
		if got["status"] != "firing" || got["labels"].(map[string]any)["workload"] != "reviews-v2" {
			t.Fatalf("unexpected delivery: %v", got)
		}
	})

	t.Run("from prometheus rule", func(t *testing.T) {
		rules := filepath.Join(t.TempDir(), "rules.yaml")
		if err := os.WriteFile(rules, []byte("groups:\n  - name: g\n    rules:\n      - alert: AlwaysFiring\n        expr: vector(1)\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		harness.StartPrometheus(t, harness.PrometheusOptions{RuleFiles: []string{rules}, AlertmanagerURL: am.URL})
		eventually(t, 60*time.Second, func() error { _, err := sink.alert("AlwaysFiring"); return err })
	})
}

func TestLokiPushAndQueryOldLines(t *testing.T) {
	t.Parallel()
	l := harness.StartLoki(t)
	old := time.Now().Add(-2 * time.Hour)
	day := time.Now().Add(-30 * time.Hour) // older than a day: still answered
	line := func(ts time.Time, s string) []string { return []string{strconv.FormatInt(ts.UnixNano(), 10), s} }
	push := map[string]any{"streams": []any{
		map[string]any{
			"stream": map[string]string{"namespace": "bookinfo", "app": "reviews"},
			"values": [][]string{
				line(old, `level=info msg="GET /reviews 200"`),
				line(old.Add(time.Second), `level=error msg="upstream connect error or disconnect/reset before headers"`),
				line(old.Add(2*time.Second), `level=info msg="GET /reviews 200"`),
			},
		},
		map[string]any{
			"stream": map[string]string{"namespace": "bookinfo", "app": "ratings"},
			"values": [][]string{line(day, `level=error msg="upstream connect error in ratings"`)},
		},
	}}
	body, _ := json.Marshal(push)
	resp, err := http.Post(l.URL+"/loki/api/v1/push", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("push: %s: %s", resp.Status, msg)
	}

	q := url.Values{
		"query":     {`{namespace="bookinfo", app="reviews"} |= "upstream connect error"`},
		"start":     {strconv.FormatInt(old.Add(-time.Hour).UnixNano(), 10)},
		"end":       {strconv.FormatInt(time.Now().UnixNano(), 10)},
		"limit":     {"100"},
		"direction": {"forward"},
	}
	var r struct {
		Data struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Stream map[string]string `json:"stream"`
				Values [][2]string       `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	eventually(t, 30*time.Second, func() error {
		if err := getJSON(l.URL+"/loki/api/v1/query_range?"+q.Encode(), &r); err != nil {
			return err
		}
		if len(r.Data.Result) != 1 || len(r.Data.Result[0].Values) != 1 {
			return fmt.Errorf("want 1 stream with 1 line, got %+v", r.Data.Result)
		}
		return nil
	})
	got := r.Data.Result[0]
	if len(got.Stream) != 2 || got.Stream["app"] != "reviews" || !strings.Contains(got.Values[0][1], "upstream connect error") ||
		got.Values[0][0] != strconv.FormatInt(old.Add(time.Second).UnixNano(), 10) {
		t.Fatalf("unexpected result: %+v", got)
	}

	q.Set("query", `{app="ratings"} |= "upstream"`)
	q.Set("start", strconv.FormatInt(day.Add(-time.Hour).UnixNano(), 10))
	q.Set("end", strconv.FormatInt(day.Add(time.Hour).UnixNano(), 10))
	if err := getJSON(l.URL+"/loki/api/v1/query_range?"+q.Encode(), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Data.Result) != 1 || len(r.Data.Result[0].Values) != 1 {
		t.Fatalf("30h-old line: got %+v", r.Data.Result)
	}
}

var (
	canaryGVR = schema.GroupVersionResource{Group: "flagger.app", Version: "v1beta1", Resource: "canaries"}
	nsGVR     = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	peerGVR   = schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "peerauthentications"}
	roleGVR   = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}
	bindGVR   = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}
)

func obj(m map[string]any) *unstructured.Unstructured { return &unstructured.Unstructured{Object: m} }

func TestKubeCanariesAndRBAC(t *testing.T) {
	t.Parallel()
	k := harness.StartKube(t)
	ctx := context.Background()
	admin, err := dynamic.NewForConfig(k.AdminConfig)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Resource(nsGVR).Create(ctx, obj(map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "bookinfo"},
	}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	canary := obj(map[string]any{
		"apiVersion": "flagger.app/v1beta1",
		"kind":       "Canary",
		"metadata":   map[string]any{"name": "reviews", "namespace": "bookinfo"},
		"spec": map[string]any{
			"targetRef": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "reviews"},
			"service":   map[string]any{"port": int64(9080)},
			"analysis": map[string]any{
				"interval": "10s", "threshold": int64(2), "stepWeights": []any{int64(10), int64(25), int64(50)},
				"metrics": []any{map[string]any{
					"name": "request-success-rate", "interval": "30s",
					"thresholdRange": map[string]any{"min": 99.5},
				}},
			},
		},
	})
	if _, err := admin.Resource(canaryGVR).Namespace("bookinfo").Create(ctx, canary, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create canary: %v", err)
	}
	got, err := admin.Resource(canaryGVR).Namespace("bookinfo").Get(ctx, "reviews", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	steps, _, _ := unstructured.NestedSlice(got.Object, "spec", "analysis", "stepWeights")
	if name, _, _ := unstructured.NestedString(got.Object, "spec", "targetRef", "name"); name != "reviews" || len(steps) != 3 {
		t.Fatalf("canary round trip: %v", got.Object["spec"])
	}

	// Istio's CRDs are served too (server-side dry run: validated, not stored).
	peer := obj(map[string]any{
		"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
		"metadata": map[string]any{"name": "default", "namespace": "bookinfo"},
		"spec":     map[string]any{"mtls": map[string]any{"mode": "STRICT"}},
	})
	if _, err := admin.Resource(peerGVR).Namespace("bookinfo").Create(ctx, peer, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatalf("dry-run PeerAuthentication: %v", err)
	}

	// A service account without RBAC may not list canaries.
	sa, err := dynamic.NewForConfig(k.AsServiceAccount("bookinfo", "meshwatch"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = sa.Resource(canaryGVR).Namespace("bookinfo").List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("service account listing canaries without RBAC: err = %v, want 403 Forbidden", err)
	}

	// With a Role and RoleBinding it may.
	if _, err := admin.Resource(roleGVR).Namespace("bookinfo").Create(ctx, obj(map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
		"metadata": map[string]any{"name": "canary-reader", "namespace": "bookinfo"},
		"rules": []any{map[string]any{
			"apiGroups": []any{"flagger.app"}, "resources": []any{"canaries"}, "verbs": []any{"get", "list", "watch"},
		}},
	}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Resource(bindGVR).Namespace("bookinfo").Create(ctx, obj(map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
		"metadata": map[string]any{"name": "meshwatch-canary-reader", "namespace": "bookinfo"},
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "canary-reader"},
		"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": "meshwatch", "namespace": "bookinfo"}},
	}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		list, err := sa.Resource(canaryGVR).Namespace("bookinfo").List(ctx, metav1.ListOptions{})
		if err == nil && len(list.Items) != 1 {
			err = fmt.Errorf("want 1 canary, got %d", len(list.Items))
		}
		return err
	})

	// The admin is allowed everywhere, also through the kubeconfig file.
	cfg, err := clientcmd.BuildConfigFromFlags("", k.Kubeconfig(t))
	if err != nil {
		t.Fatal(err)
	}
	viaFile, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	list, err := viaFile.Resource(canaryGVR).List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("admin list canaries via kubeconfig: %v (%d items)", err, len(list.Items))
	}
}
