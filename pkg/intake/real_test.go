package intake_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/intake"
)

var update = flag.Bool("update", false, "rewrite testdata/alertmanager-v4-real.json from a real Alertmanager")

// goldenAM is a webhook payload a real Alertmanager (the harness's, 0.31.1)
// sent, captured by TestRealAlertmanagerWebhook -update: two
// kube-prometheus-stack KubePodCrashLooping alerts (one firing, one just
// resolved) and a user's own HighErrorRate with an app label, grouped by
// namespace.
const goldenAM = "testdata/alertmanager-v4-real.json"

// goldenAMGrafana is a real Alertmanager's webhook payload for a
// Grafana-managed alert that Grafana forwarded to that (external)
// Alertmanager: its labels keep Grafana's grafana_folder and the private
// __alert_rule_uid__, which Grafana's own webhook contact point strips.
// Captured by TestRealAlertmanagerWebhook -update.
const goldenAMGrafana = "testdata/alertmanager-v4-grafana-managed.json"

// grafanaManaged is that alert, posted the way Grafana posts to an external
// Alertmanager.
func grafanaManaged(start time.Time) map[string]any {
	return map[string]any{
		"labels": map[string]string{
			"alertname": "Disk almost full", "grafana_folder": "Homelab", "__alert_rule_uid__": "fe2k9x7q1m0aoe",
			"instance": "nas.home.arpa:9100", "mountpoint": "/srv", "severity": "warning",
		},
		"annotations":  map[string]string{"summary": "/srv on nas.home.arpa is 93% full"},
		"startsAt":     start.Format(time.RFC3339Nano),
		"endsAt":       start.Add(time.Hour).Format(time.RFC3339Nano),
		"generatorURL": "http://grafana.home.arpa/alerting/grafana/fe2k9x7q1m0aoe/view?orgId=1",
	}
}

// The alerts posted to Alertmanager's API, the way Prometheus posts them:
// labels with the external labels kube-prometheus-stack adds, annotations,
// startsAt, endsAt a few evaluations ahead, generatorURL.
func realAlerts(start time.Time) []map[string]any {
	ksm := func(pod, uid string) map[string]any {
		return map[string]any{
			"labels": map[string]string{
				"alertname": "KubePodCrashLooping", "container": "jellyfin", "endpoint": "http",
				"instance": "10.42.0.17:8080", "job": "kube-state-metrics", "namespace": "media", "pod": pod,
				"prometheus": "monitoring/kube-prometheus-stack-prometheus", "reason": "CrashLoopBackOff",
				"service": "kube-prometheus-stack-kube-state-metrics", "severity": "warning", "uid": uid,
			},
			"annotations": map[string]string{
				"description": fmt.Sprintf(`Pod media/%s (jellyfin) is in waiting state (reason: "CrashLoopBackOff").`, pod),
				"runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping",
				"summary":     "Pod is crash looping.",
			},
			"startsAt": start.Format(time.RFC3339Nano),
			"endsAt":   start.Add(time.Hour).Format(time.RFC3339Nano),
			"generatorURL": "http://kube-prometheus-stack-prometheus.monitoring:9090/graph?g0.expr=max_over_time%28kube_pod_container_status_waiting_reason%7B" +
				"job%3D%22kube-state-metrics%22%2Cnamespace%3D~%22.%2A%22%2Creason%3D%22CrashLoopBackOff%22%7D%5B5m%5D%29+%3E%3D+1&g0.tab=1",
		}
	}
	return []map[string]any{
		ksm("jellyfin-7d9c8b6f5-x2x9k", "0b7c54a2-9a0e-4a7e-8d7a-5b0d8f3e2c11"),
		ksm("jellyfin-7d9c8b6f5-q8w4n", "5f0e2d1c-3b4a-4c9d-9e8f-7a6b5c4d3e2f"),
		{
			"labels": map[string]string{
				"alertname": "HighErrorRate", "app": "jellyfin", "namespace": "media", "severity": "critical",
				"prometheus": "monitoring/kube-prometheus-stack-prometheus",
			},
			"annotations": map[string]string{
				"summary":     "jellyfin answers more than 5% of requests with 5xx",
				"description": "5xx ratio of app jellyfin in media is 12.5% over the last 10m.",
			},
			"startsAt": start.Add(30 * time.Second).Format(time.RFC3339Nano),
			"endsAt":   start.Add(time.Hour).Format(time.RFC3339Nano),
			"generatorURL": "http://kube-prometheus-stack-prometheus.monitoring:9090/graph?g0.expr=sum+by+%28namespace%2C+app%29+%28rate%28http_requests_total%7Bcode%3D~%225..%22%7D%5B10m%5D%29%29" +
				"+%2F+sum+by+%28namespace%2C+app%29+%28rate%28http_requests_total%5B10m%5D%29%29+%3E+0.05&g0.tab=1",
		},
	}
}

type hook struct {
	mu       sync.Mutex
	payloads [][]byte
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.payloads = append(h.payloads, b)
	h.mu.Unlock()
}

// wait returns the first payload (after skip) for which ok holds.
func (h *hook) wait(t *testing.T, ok func(intake.Parsed) bool) []byte {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		ps := append([][]byte(nil), h.payloads...)
		h.mu.Unlock()
		for _, p := range ps {
			if parsed, err := intake.DecodeAlertmanager(p, time.Now()); err == nil && ok(parsed) {
				return p
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no such webhook delivery within 60s")
	return nil
}

// TestRealAlertmanagerWebhook has a real Alertmanager send its webhook and
// decodes what it sent: firing alerts first, then the same group with one
// alert resolved. With -update it rewrites the golden payload.
func TestRealAlertmanagerWebhook(t *testing.T) {
	h := &hook{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	am := harness.StartAlertmanager(t, harness.AlertmanagerOptions{WebhookURL: srv.URL + "/intake", GroupBy: []string{"namespace"}})

	start := time.Now().Add(-20 * time.Minute).Truncate(time.Millisecond)
	alerts := realAlerts(start)
	am.Post(t, alerts)
	first := h.wait(t, func(p intake.Parsed) bool { return len(p.Alerts) == 3 })
	got, err := intake.DecodeAlertmanager(first, time.Now())
	if err != nil || len(got.Rejected) != 0 || got.Total != 3 {
		t.Fatalf("first delivery: %+v %v\n%s", got, err, first)
	}
	for _, a := range got.Alerts {
		if a.Status != incident.StatusFiring || !a.EndsAt.IsZero() || a.Source != incident.SourceAlertmanager {
			t.Errorf("firing alert decoded as %+v", a)
		}
	}
	// Alertmanager sends a firing alert's endsAt as the zero time.
	if !bytes.Contains(first, []byte(`"endsAt":"0001-01-01T00:00:00Z"`)) {
		t.Errorf("firing alerts' endsAt is no longer the zero time:\n%s", first)
	}

	// Resolve one pod's alert: the next delivery has it resolved.
	resolvedAt := time.Now().Add(-time.Second).Truncate(time.Millisecond)
	alerts[1]["endsAt"] = resolvedAt.Format(time.RFC3339Nano)
	am.Post(t, alerts[1:2])
	second := h.wait(t, func(p intake.Parsed) bool {
		for _, a := range p.Alerts {
			if a.Resolved() {
				return true
			}
		}
		return false
	})
	got, err = intake.DecodeAlertmanager(second, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	checkGoldenAM(t, got, start, resolvedAt)

	// A Grafana-managed alert through the same Alertmanager: no namespace,
	// so a group of its own.
	am.Post(t, []any{grafanaManaged(start)})
	third := h.wait(t, func(p intake.Parsed) bool { return len(p.Alerts) == 1 && p.Alerts[0].Labels["grafana_folder"] != "" })
	got, err = intake.DecodeAlertmanager(third, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	checkGoldenAMGrafana(t, got, start)

	if *update {
		for name, b := range map[string][]byte{goldenAM: second, goldenAMGrafana: third} {
			if err := os.WriteFile(name, b, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s (%d bytes)", filepath.Base(name), len(b))
		}
	}
}

func checkGoldenAMGrafana(t *testing.T, got intake.Parsed, start time.Time) {
	t.Helper()
	if len(got.Alerts) != 1 || got.Total != 1 {
		t.Fatalf("decoded %+v", got)
	}
	a := got.Alerts[0]
	if a.Name() != "Disk almost full" || a.Labels["__alert_rule_uid__"] != "fe2k9x7q1m0aoe" || a.Labels["grafana_folder"] != "Homelab" ||
		!a.StartsAt.Equal(start) || a.Fingerprint != incident.FingerprintOf(a.Labels) || a.Status != incident.StatusFiring {
		t.Errorf("alert %+v", a)
	}
}

// checkGoldenAM checks the second delivery: what any real Alertmanager
// payload of these alerts must decode to.
func checkGoldenAM(t *testing.T, got intake.Parsed, start, resolvedAt time.Time) {
	t.Helper()
	if len(got.Alerts) != 3 || len(got.Rejected) != 0 || got.Total != 3 || got.Source != incident.SourceAlertmanager {
		t.Fatalf("decoded %+v", got)
	}
	if got.Delivery.Receiver != "harness" || got.Delivery.Status != "firing" || got.Delivery.GroupKey != `{}:{namespace="media"}` ||
		got.Delivery.TruncatedAlerts != 0 || got.Delivery.ExternalURL == "" {
		t.Errorf("delivery %+v", got.Delivery)
	}
	var firing, resolved int
	for _, a := range got.Alerts {
		if a.Fingerprint != incident.FingerprintOf(a.Labels) || a.Source != incident.SourceAlertmanager || a.GeneratorURL == "" {
			t.Errorf("alert %+v", a)
		}
		switch {
		case a.Resolved():
			resolved++
			if a.Labels["pod"] != "jellyfin-7d9c8b6f5-q8w4n" || !a.EndsAt.Equal(resolvedAt) || !a.StartsAt.Equal(start) {
				t.Errorf("resolved alert %+v", a)
			}
		default:
			firing++
			if !a.EndsAt.IsZero() {
				t.Errorf("a firing alert kept endsAt %s", a.EndsAt)
			}
		}
		if a.Name() == "HighErrorRate" && (a.Labels["app"] != "jellyfin" || a.Severity() != "critical" || !a.StartsAt.Equal(start.Add(30*time.Second))) {
			t.Errorf("HighErrorRate %+v", a)
		}
	}
	if firing != 2 || resolved != 1 {
		t.Errorf("%d firing, %d resolved", firing, resolved)
	}
}

// startHook serves h on a loopback port until the test ends and returns
// its URL.
func startHook(t *testing.T, h *hook) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// silenceAlertname silences alertname on a real Alertmanager for an hour.
func silenceAlertname(t *testing.T, amURL, alertname string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"matchers":  []map[string]any{{"name": "alertname", "value": alertname, "isRegex": false, "isEqual": true}},
		"startsAt":  time.Now().Add(-time.Minute).Format(time.RFC3339),
		"endsAt":    time.Now().Add(time.Hour).Format(time.RFC3339),
		"createdBy": "homelab admin", "comment": "known",
	})
	resp, err := http.Post(amURL+"/api/v2/silences", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("silence: %s", resp.Status)
	}
}
