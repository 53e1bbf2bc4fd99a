package intake_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/intake"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems/alertmanager"
	"github.com/meshwatch/meshwatch/pkg/systems/prometheus"
)

func TestFromAlertmanagerAPI(t *testing.T) {
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	start := now.Add(-time.Hour)
	am := func(labels map[string]string, state string) alertmanager.Alert {
		return alertmanager.Alert{Labels: labels, Annotations: map[string]string{"summary": "s"}, StartsAt: start,
			EndsAt: now.Add(4 * time.Minute), UpdatedAt: now, GeneratorURL: "http://prometheus:9090/graph", Fingerprint: "ignored",
			Status: alertmanager.AlertStatus{State: state}}
	}
	list := []alertmanager.Alert{
		am(map[string]string{"alertname": "KubePodCrashLooping", "namespace": "media", "pod": "jellyfin-7d9c8b6f5-x2x9k"}, alertmanager.StateActive),
		am(map[string]string{"alertname": "HighErrorRate", "namespace": "billing", "app": "invoice-api"}, alertmanager.StateSuppressed),
		am(map[string]string{"namespace": "billing"}, alertmanager.StateActive),
		am(map[string]string{"alertname": "Disk almost full", "grafana_folder": "Homelab"}, alertmanager.StateUnprocessed),
	}
	got := intake.FromAlertmanagerAPI(list, now)
	if got.Source != incident.SourceAlertmanager || got.Total != 4 || len(got.Alerts) != 3 || got.Skipped != 0 ||
		!reflect.DeepEqual(got.Rejected, []intake.Rejection{{Index: 2, Reason: "the alert has no alertname label"}}) {
		t.Fatalf("%+v", got)
	}
	for _, a := range got.Alerts {
		// Suppressed and unprocessed alerts fire too; the API's endsAt is an
		// expiry, not an end.
		if a.Status != incident.StatusFiring || !a.EndsAt.IsZero() || !a.StartsAt.Equal(start) ||
			a.Fingerprint != incident.FingerprintOf(a.Labels) || a.Source != incident.SourceAlertmanager || a.GeneratorURL == "" {
			t.Errorf("%+v", a)
		}
	}
}

func TestFromPrometheus(t *testing.T) {
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	activeAt := now.Add(-20 * time.Minute)
	prom := func(name string, state v1.AlertState, at time.Time) v1.Alert {
		return v1.Alert{ActiveAt: at, State: state, Value: "1e+00",
			Labels:      model.LabelSet{"alertname": model.LabelValue(name), "namespace": "media", "severity": "warning"},
			Annotations: model.LabelSet{"summary": "Pod is crash looping."}}
	}
	got := intake.FromPrometheus([]v1.Alert{
		prom("KubePodCrashLooping", v1.AlertStateFiring, activeAt),
		prom("HighErrorRate", v1.AlertStatePending, activeAt),
		prom("KubeJobFailed", v1.AlertStateInactive, activeAt),
		prom("KubeHpaMaxedOut", v1.AlertStateFiring, time.Time{}),
		prom("KubeQuotaExceeded", v1.AlertStateFiring, now.Add(time.Hour)),
	}, now)
	if got.Source != incident.SourcePrometheus || got.Total != 5 || got.Skipped != 2 || len(got.Alerts) != 1 || len(got.Rejected) != 2 {
		t.Fatalf("%+v", got)
	}
	a := got.Alerts[0]
	if a.Name() != "KubePodCrashLooping" || !a.StartsAt.Equal(activeAt) || a.Status != incident.StatusFiring ||
		a.Annotations["summary"] != "Pod is crash looping." || a.Source != incident.SourcePrometheus || a.Fingerprint != incident.FingerprintOf(a.Labels) {
		t.Errorf("%+v", a)
	}
	if r := got.Rejected; r[0].Index != 3 || r[0].Alertname != "KubeHpaMaxedOut" || r[0].Reason != "the alert has no startsAt" ||
		r[1].Index != 4 || r[1].Alertname != "KubeQuotaExceeded" {
		t.Errorf("%+v", r)
	}
}

// TestReconcileSeesWhatTheWebhookSaw runs real Prometheus and Alertmanager:
// one alert read from Alertmanager's webhook, from its API and from
// Prometheus's API is one alert (one fingerprint); a silenced alert, which
// no webhook carries, is firing in the reconcile; a pending one is not.
func TestReconcileSeesWhatTheWebhookSaw(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "rules.yml")
	err := os.WriteFile(rules, []byte(`groups:
  - name: kube-prometheus-stack-like
    rules:
      - alert: KubePodCrashLooping
        expr: vector(1)
        for: 2s
        labels: {severity: warning, namespace: media, pod: jellyfin-7d9c8b6f5-x2x9k, reason: CrashLoopBackOff}
        annotations: {summary: Pod is crash looping.}
      - alert: KubeJobFailed
        expr: vector(1)
        labels: {severity: warning, namespace: backup, job_name: restic-nightly}
        annotations: {summary: Job failed to complete.}
      - alert: HighErrorRate
        expr: vector(1)
        for: 1h
        labels: {severity: critical, namespace: billing, app: invoice-api}
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	h := &hook{}
	srv := startHook(t, h)
	am := harness.StartAlertmanager(t, harness.AlertmanagerOptions{WebhookURL: srv + "/intake"})
	silenceAlertname(t, am.URL, "KubeJobFailed")
	p := harness.StartPrometheus(t, harness.PrometheusOptions{RuleFiles: []string{rules}, AlertmanagerURL: am.URL})

	body := h.wait(t, func(p intake.Parsed) bool { return len(p.Alerts) == 1 && p.Alerts[0].Name() == "KubePodCrashLooping" })
	hooked, _ := intake.DecodeAlertmanager(body, time.Now())
	w := hooked.Alerts[0]

	amc, err := alertmanager.New(settings.Endpoint{URL: am.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer amc.Close()
	var fromAM intake.Parsed
	deadline := time.Now().Add(30 * time.Second)
	for {
		list, err := amc.Alerts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if fromAM = intake.FromAlertmanagerAPI(list, time.Now()); len(fromAM.Alerts) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	byName := map[string]incident.Alert{}
	for _, a := range fromAM.Alerts {
		byName[a.Name()] = a
	}
	if len(fromAM.Alerts) != 2 || len(fromAM.Rejected) != 0 {
		t.Fatalf("from Alertmanager's API: %+v", fromAM)
	}
	// The webhook's alert and the API's are the same alert.
	if a := byName["KubePodCrashLooping"]; a.Fingerprint != w.Fingerprint || !a.StartsAt.Equal(w.StartsAt) ||
		!reflect.DeepEqual(a.Labels, w.Labels) || !reflect.DeepEqual(a.Annotations, w.Annotations) || a.GeneratorURL != w.GeneratorURL {
		t.Errorf("webhook %+v\nAPI     %+v", w, a)
	}
	// The silenced alert fires in the reconcile.
	if a, ok := byName["KubeJobFailed"]; !ok || a.Status != incident.StatusFiring {
		t.Errorf("silenced alert: %+v", fromAM.Alerts)
	}

	pc, err := prometheus.New(settings.Endpoint{URL: p.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	list, err := pc.Alerts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fromProm := intake.FromPrometheus(list, time.Now())
	if fromProm.Skipped != 1 || len(fromProm.Alerts) != 2 || len(fromProm.Rejected) != 0 {
		t.Fatalf("from Prometheus: %+v", fromProm)
	}
	for _, a := range fromProm.Alerts {
		if a.Name() != "KubePodCrashLooping" {
			continue
		}
		// Same alert, same fingerprint; its startsAt is when it went
		// pending, the rule's `for` (2s) before Alertmanager's (which
		// Prometheus sends at millisecond precision).
		if a.Fingerprint != w.Fingerprint || a.StartsAt.After(w.StartsAt.Add(-2*time.Second+time.Millisecond)) {
			t.Errorf("Prometheus %+v\nwebhook    %+v", a, w)
		}
	}
}
