package main

// meshwatch investigate on real Prometheus and Loki (pkg/devkit/harness),
// fed an hour of the simulated crash loop; skips without the binaries,
// fails without them under CI=true.

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/devkit/contractfake"
	"github.com/meshwatch/meshwatch/pkg/devkit/eval"
	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/devkit/promrules"
	"github.com/meshwatch/meshwatch/pkg/devkit/simulator"
	"github.com/meshwatch/meshwatch/pkg/findings"
	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems/prometheus"
)

const rulesDir = "../../../../deploy/base/monitoring/rules"

func TestIntegrationInvestigate(t *testing.T) {
	for _, b := range []string{harness.BinPromtool, harness.BinPrometheus, harness.BinLoki} {
		harness.RequireBinary(t, b)
	}
	sc, err := simulator.LookupScenario("crashloop")
	if err != nil {
		t.Fatal(err)
	}
	// An hour ending two hours ago: --at investigates it as history.
	end := time.Now().UTC().Truncate(time.Minute).Add(-2 * time.Hour)
	e, err := simulator.Simulate(context.Background(), simulator.Options{Scenario: sc, Seed: 3, End: end, Duration: time.Hour, Resolution: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	om := filepath.Join(t.TempDir(), "crashloop.om")
	f, err := os.Create(om)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.WriteOpenMetrics(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	files, _ := filepath.Glob(filepath.Join(rulesDir, "*.yaml"))
	p := harness.StartPrometheus(t, harness.PrometheusOptions{Blocks: harness.Backfill(t, om), RuleFiles: files})
	l := harness.StartLoki(t)
	if err := (&simulator.LokiPusher{URL: l.URL}).Push(context.Background(), e.DrainLogs()); err != nil {
		t.Fatal(err)
	}
	tdir := filepath.Join(t.TempDir(), "tempo")
	if err := e.WriteTempoFiles(tdir); err != nil {
		t.Fatal(err)
	}
	tempoURL := contractfake.TempoWithTraces(t, eval.TempoVersion, tdir).URL

	// The alerts MeshWatch's rules fired over the hour.
	rules, err := promrules.ReadAlertRules(files...)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := prometheus.New(settings.Endpoint{URL: p.URL, TimeoutSeconds: 30})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	alerts, err := eval.FiredAlerts(context.Background(), pc.API(), rules, end.Add(-time.Hour), end)
	if err != nil {
		t.Fatal(err)
	}
	var orders []incident.Alert
	for _, a := range alerts {
		if a.Labels["workload"] == "orders" {
			orders = append(orders, a)
		}
	}
	if len(orders) == 0 {
		t.Fatalf("no alert fired on orders: %+v", alerts)
	}
	dir := t.TempDir()
	list := filepath.Join(dir, "alerts.json")
	writeJSON(t, list, orders)
	webhook := filepath.Join(dir, "webhook.json")
	writeJSON(t, webhook, map[string]any{"version": "4", "status": "firing", "receiver": "meshwatch", "groupKey": `{}:{namespace="shop", workload="orders"}`,
		"groupLabels": map[string]string{"namespace": "shop", "workload": "orders"}, "commonLabels": map[string]string{}, "commonAnnotations": map[string]string{},
		"externalURL": "http://alertmanager.example:9093", "alerts": webhookAlerts(orders)})

	Loki, at := "--loki="+l.URL, "--at="+end.Format(time.RFC3339)
	for _, file := range []string{list, webhook} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			code, stdout, stderr := runCLI("investigate", "--prometheus", p.URL, Loki, "--tempo", tempoURL, "--alert", file, at, "--json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var out struct {
				Evidence struct {
					Subject struct{ NS, WL string } `json:"subject"`
					Window  struct{ From, To time.Time }
					Metrics []struct{ ID string }
					Logs    []struct{ ID string }
					Traces  []struct{ ID string }
					Partial []any
				} `json:"evidence"`
				Findings []findings.Finding `json:"findings"`
			}
			if err := json.Unmarshal([]byte(stdout), &out); err != nil {
				t.Fatalf("%v\n%s", err, stdout)
			}
			ev := out.Evidence
			if ev.Subject.WL != "orders" || !ev.Window.To.Equal(end) || len(ev.Partial) > 0 || len(ev.Logs) == 0 {
				t.Errorf("pack: subject %+v, window %+v, %d logs, partial %v", ev.Subject, ev.Window, len(ev.Logs), ev.Partial)
			}
			if len(out.Findings) == 0 {
				t.Fatalf("no findings; stderr %s", stderr)
			}
			top := out.Findings[0]
			if top.Namespace != "shop" || top.Workload != "orders" || top.Cause != findings.Crashloop {
				t.Errorf("top finding %s", top)
			}
			ids := map[string]bool{}
			for _, m := range ev.Metrics {
				ids[m.ID] = true
			}
			for _, l := range ev.Logs {
				ids[l.ID] = true
			}
			for _, tr := range ev.Traces {
				ids[tr.ID] = true
			}
			for _, f := range out.Findings {
				for _, id := range f.Evidence {
					if !ids[id] {
						t.Errorf("%s cites %s, not in the evidence", f, id)
					}
				}
			}
		})
	}
	// The text form names the finding and its evidence.
	code, stdout, stderr := runCLI("investigate", "--prometheus", p.URL, Loki, "--alert", list, at)
	if code != 0 || !strings.Contains(stdout, "crashloop shop/orders") || !strings.Contains(stdout, "evidence (") {
		t.Errorf("exit %d, stderr %s, stdout:\n%s", code, stderr, stdout)
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// webhookAlerts writes alerts as Alertmanager's webhook does.
func webhookAlerts(as []incident.Alert) []map[string]any {
	var out []map[string]any
	for _, a := range as {
		ends := "0001-01-01T00:00:00Z"
		if !a.EndsAt.IsZero() {
			ends = a.EndsAt.Format(time.RFC3339)
		}
		out = append(out, map[string]any{"status": a.Status, "labels": a.Labels, "annotations": a.Annotations,
			"startsAt": a.StartsAt.Format(time.RFC3339), "endsAt": ends, "generatorURL": "http://prometheus.example/graph", "fingerprint": a.Fingerprint})
	}
	return out
}
