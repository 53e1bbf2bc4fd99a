package prometheus_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/health"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems/internal/systemtest"
	"github.com/meshwatch/meshwatch/pkg/systems/prometheus"
	"github.com/meshwatch/meshwatch/pkg/upstream"
)

const secret = systemtest.Secret

func client(t *testing.T, base string, timeoutSeconds int) *prometheus.Client {
	t.Helper()
	c, err := prometheus.New(settings.Endpoint{URL: base, TenantHeader: "X-Scope-OrgID", TenantID: "team-a",
		TimeoutSeconds: timeoutSeconds}.WithAuth(secret))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	t.Cleanup(c.Close) // Close is safe twice
	return c
}

const rules = `groups:
  - name: systems-prometheus-test
    interval: 1s
    rules:
      - alert: CheckoutErrorBudgetBurn
        expr: vector(1)
        labels: {namespace: shop, workload: checkout, severity: critical}
        annotations: {summary: checkout is burning its error budget}
`

func TestAgainstRealPrometheus(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(file, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	prom := harness.StartPrometheus(t, harness.PrometheusOptions{RuleFiles: []string{file}, EvaluationInterval: time.Second})
	c := client(t, prom.URL, 10)
	ctx := context.Background()

	out, err := c.Probe()(ctx)
	if err != nil || !regexp.MustCompile(`^\d+\.\d+\.\d+`).MatchString(out.Version) || out.Warn != "" {
		t.Fatalf("probe: %+v %v", out, err)
	}
	if c.Target() != prom.URL {
		t.Errorf("target %q", c.Target())
	}

	// The rule fires on its first evaluation.
	var alerts []v1.Alert
	deadline := time.Now().Add(20 * time.Second)
	for len(alerts) == 0 && time.Now().Before(deadline) {
		if alerts, err = c.Alerts(ctx); err != nil {
			t.Fatal(err)
		}
		if len(alerts) == 0 {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if len(alerts) != 1 || alerts[0].Labels["alertname"] != "CheckoutErrorBudgetBurn" || alerts[0].State != v1.AlertStateFiring ||
		alerts[0].Annotations["summary"] != "checkout is burning its error budget" || alerts[0].ActiveAt.IsZero() {
		t.Fatalf("alerts: %+v", alerts)
	}

	// Typed results through client_golang's API.
	val, _, err := c.API().Query(ctx, `vector(42)`, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if vec, ok := val.(model.Vector); !ok || len(vec) != 1 || vec[0].Value != 42 {
		t.Errorf("query: %#v", val)
	}

	// The API's own error (400 bad_data), explained; the query is not repeated
	// from the URL.
	_, _, err = c.API().Query(ctx, `sum(`, time.Now())
	err = c.Explain("/api/v1/query", err)
	var ae *prometheus.AnswerError
	if !errors.As(err, &ae) || ae.Type != v1.ErrBadData ||
		!strings.HasPrefix(err.Error(), "Prometheus at "+prom.URL+"/api/v1/query answered with an error: bad_data: ") {
		t.Errorf("bad query: %v", err)
	}

	// A base URL that is not the API root.
	wrong := client(t, prom.URL+"/nope", 10)
	_, err = wrong.Alerts(ctx)
	var ue *upstream.Error
	if !errors.As(err, &ue) || ue.Status != http.StatusNotFound ||
		!strings.HasPrefix(err.Error(), "Prometheus at "+prom.URL+"/nope/api/v1/alerts answered HTTP 404") {
		t.Errorf("wrong root: %v", err)
	}
}

// probeLine runs c's probe the way the health check does.
func probeLine(c *prometheus.Client, perCheck time.Duration) health.Result {
	r := health.Run(context.Background(), []health.Check{{Name: "Prometheus", Target: c.Target(), Required: true,
		Fix: "prometheus.url", Probe: c.Probe()}}, perCheck)
	return r.Results[0]
}

func TestErrorPaths(t *testing.T) {
	var mu sync.Mutex
	var gotAuth, gotTenant string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch strings.TrimSuffix(strings.TrimSuffix(r.URL.Path, prometheus.PathAlerts), prometheus.PathBuildinfo) {
		case "/forbidden":
			mu.Lock()
			gotAuth, gotTenant = r.Header.Get("Authorization"), r.Header.Get("X-Scope-OrgID")
			mu.Unlock()
			http.Error(w, "no", http.StatusForbidden)
		case "/html":
			_, _ = w.Write([]byte("<html>login</html>"))
		case "/loki":
			_, _ = w.Write([]byte(`{"version":"3.5.0"}`))
		case "/unavailable":
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"error","errorType":"unavailable","error":"rule manager not ready"}`))
		case "/big":
			_, _ = w.Write([]byte(`{"status":"success","data":{"alerts":[],"pad":"`))
			_, _ = w.Write([]byte(strings.Repeat("x", upstream.DefaultMaxResponseBytes)))
			_, _ = w.Write([]byte(`"}}`))
		case "/slow":
			select {
			case <-time.After(3 * time.Second):
			case <-r.Context().Done():
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	var ue *upstream.Error

	_, err := client(t, srv.URL+"/forbidden", 10).Alerts(ctx)
	mu.Lock()
	if !errors.As(err, &ue) || ue.Status != 403 || gotAuth != "Bearer "+secret || gotTenant != "team-a" {
		t.Errorf("403: %v (auth %q, tenant %q)", err, gotAuth, gotTenant)
	}
	mu.Unlock()
	if l := probeLine(client(t, srv.URL+"/forbidden", 10), time.Second); !strings.Contains(l.Message, "refused the credentials (HTTP 403)") {
		t.Errorf("403 line: %+v", l)
	}
	if l := probeLine(client(t, srv.URL+"/missing", 10), time.Second); l.Status != health.Error ||
		!strings.Contains(l.Message, "does not point at the Prometheus API root") {
		t.Errorf("404 line: %+v", l)
	}

	_, err = client(t, srv.URL+"/html", 10).Alerts(ctx)
	if err == nil || !strings.HasPrefix(err.Error(), "Prometheus at "+srv.URL+"/html/api/v1/alerts: the answer is not JSON") {
		t.Errorf("non-JSON: %v", err)
	}

	_, err = client(t, srv.URL+"/loki", 10).Probe()(ctx)
	if err == nil || err.Error() != srv.URL+`/loki did not answer like the Prometheus API (status "")` {
		t.Errorf("not the API: %v", err)
	}

	_, err = client(t, srv.URL+"/unavailable", 10).Alerts(ctx)
	if err == nil || err.Error() != "Prometheus at "+srv.URL+"/unavailable/api/v1/alerts answered with an error: unavailable: rule manager not ready (HTTP 503)" {
		t.Errorf("503: %v", err)
	}

	_, err = client(t, srv.URL+"/big", 10).Alerts(ctx)
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "response too large") {
		t.Errorf("oversized: %v", err)
	}

	start := time.Now()
	_, err = client(t, srv.URL+"/slow", 1).Alerts(ctx)
	if !errors.As(err, &ue) || !ue.Timeout() || time.Since(start) > 2500*time.Millisecond {
		t.Errorf("slow (timeoutSeconds 1): %v after %s", err, time.Since(start))
	}
	if l := probeLine(client(t, srv.URL+"/slow", 10), 200*time.Millisecond); !strings.Contains(l.Message, "no answer from") {
		t.Errorf("slow line: %+v", l)
	}

	down := srv.URL
	srv.Close()
	_, err = client(t, down, 10).Alerts(ctx)
	if !errors.As(err, &ue) || ue.Status != 0 || !strings.HasPrefix(err.Error(), "Prometheus at "+down+"/api/v1/alerts is unreachable") {
		t.Errorf("down: %v", err)
	}
	_, _, err = client(t, down, 10).API().Query(ctx, `up{secret="s3cr3t-query"}`, time.Now())
	if !errors.As(err, &ue) || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("a query string or credential in the error: %v", err)
	}
}

func TestNewRefusesABadURLWithoutEchoingCredentials(t *testing.T) {
	_, err := prometheus.New(settings.Endpoint{URL: "http://admin:hunter2@prometheus:9090"})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("got %v", err)
	}
}

func TestCommonErrorPaths(t *testing.T) {
	systemtest.ErrorPaths(t, "Prometheus", "prometheus.url", func(t *testing.T, base string, timeoutSeconds int) health.Probe {
		return client(t, base, timeoutSeconds).Probe()
	})
}
