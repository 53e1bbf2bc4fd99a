package dashboards

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/devkit/promrules"
)

// The mesh alert rules: promtool checks them and runs their unit tests, and
// on a real Prometheus every simulator fault scenario fires its alert while
// the healthy runs fire none.

const rulesDir = "../deploy/base/monitoring/rules"

func ruleFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(rulesDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files in %s: %v", rulesDir, err)
	}
	return files
}

func TestAlertRules(t *testing.T) {
	out, err := harness.CheckRules(t, ruleFiles(t)...)
	if err != nil {
		t.Fatalf("promtool check rules:\n%s", out)
	}
	tests, _ := filepath.Glob(filepath.Join(rulesDir, "tests", "*.yaml"))
	if len(tests) == 0 {
		t.Fatal("no rule unit tests")
	}
	out, err = harness.TestRules(t, tests...)
	if err != nil {
		t.Fatalf("promtool test rules:\n%s", out)
	}
	t.Logf("promtool: %s", strings.TrimSpace(out))

	// Every alert has unit tests that see it fire and not fire, and the
	// labels incidents group by.
	tested := map[string][2]bool{} // alert → (fires, quiet)
	for _, f := range tests {
		var tf struct {
			Tests []struct {
				AlertRuleTest []struct {
					Alertname string           `json:"alertname"`
					ExpAlerts []map[string]any `json:"exp_alerts"`
				} `json:"alert_rule_test"`
			} `json:"tests"`
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, &tf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, tc := range tf.Tests {
			for _, a := range tc.AlertRuleTest {
				s := tested[a.Alertname]
				if len(a.ExpAlerts) > 0 {
					s[0] = true
				} else {
					s[1] = true
				}
				tested[a.Alertname] = s
			}
		}
	}
	for _, r := range loadAlertRules(t) {
		if s := tested[r.Alert]; !s[0] || !s[1] {
			t.Errorf("%s: unit tests must see it fire (%v) and stay quiet (%v)", r.Alert, s[0], s[1])
		}
		for _, l := range []string{"namespace", "workload"} {
			if !strings.Contains(r.Expr, l) {
				t.Errorf("%s: expression does not produce a %s label", r.Alert, l)
			}
		}
		if r.Labels["severity"] == "" {
			t.Errorf("%s: no severity", r.Alert)
		}
		for _, a := range []string{"summary", "description", "runbook", "dashboard_uid", "dashboard_url"} {
			if r.Annotations[a] == "" {
				t.Errorf("%s: no %s annotation", r.Alert, a)
			}
		}
		uid := r.Annotations["dashboard_uid"]
		if !strings.HasPrefix(r.Annotations["dashboard_url"], "/d/"+uid) || !contains([]string{UIDWorkload, UIDCanary, UIDControlPlane, UIDOverview}, uid) {
			t.Errorf("%s: dashboard %q / %q is not a MeshWatch dashboard", r.Alert, uid, r.Annotations["dashboard_url"])
		}
	}
}

type alertRule = promrules.AlertRule

func loadAlertRules(t testing.TB) []alertRule {
	t.Helper()
	rules, err := promrules.ReadAlertRules(ruleFiles(t)...)
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

type firing struct {
	Alert, Namespace, Workload string
	At                         time.Duration // after the run's start
}

func (f firing) key() string { return f.Alert + " " + f.Namespace + "/" + f.Workload }

// alertsExpected: per scenario, the alerts that must fire (alert
// namespace/workload) and the ones it may fire as a consequence (a fault
// upstream shows as errors or latency downstream too). Anything else is a
// false positive.
var alertsExpected = map[string]struct{ must, may []string }{
	"healthy":        {},
	"canary-success": {},
	// A healthy canary held at WaitingPromotion until a person opens its
	// gate: waiting for sign-off is not a fault.
	"canary-promotion-gate": {},
	"sidecar-memory-leak":   {must: []string{"MeshSidecarMemoryLeak shop/api"}},
	"canary-5xx-regression": {
		must: []string{"MeshCanaryRolledBack shop/payments"},
		may:  []string{"MeshWorkloadHighErrorRate shop/payments"}},
	"upstream-latency": {
		must: []string{"MeshWorkloadLatencySLOBreach shop/inventory"},
		may: []string{"MeshWorkloadLatencySLOBreach shop/api", "MeshWorkloadLatencySLOBreach shop/frontend",
			"MeshWorkloadHighErrorRate shop/frontend", "MeshWorkloadHighErrorRate shop/api"}},
	"crashloop": {
		must: []string{"MeshWorkloadCrashLooping shop/orders"},
		may:  []string{"MeshWorkloadHighErrorRate shop/api", "MeshWorkloadHighErrorRate shop/frontend"}},
	"plaintext-under-strict": {must: []string{"MeshPlaintextTrafficUnderStrict shop/orders"}},
	"istiod-config-rejects":  {must: []string{"MeshProxyConfigRejected shop/api", "MeshIstiodXdsRejects istio-system/istiod"}},
	// api retries its timed-out tries to the slow inventory: a retry storm
	// toward the root, which the storm's alert names.
	"timeout-cascade": {
		must: []string{"MeshWorkloadHighErrorRate shop/inventory"},
		may: []string{"MeshRetryStorm shop/inventory", "MeshWorkloadHighErrorRate shop/api", "MeshWorkloadHighErrorRate shop/frontend",
			"MeshWorkloadLatencySLOBreach shop/inventory", "MeshWorkloadLatencySLOBreach shop/api", "MeshWorkloadLatencySLOBreach shop/frontend"}},
	"app-oomkill": {
		must: []string{"MeshContainerOOMKilled shop/inventory"},
		may:  []string{"MeshWorkloadHighErrorRate shop/api", "MeshWorkloadHighErrorRate shop/frontend"}},
	// Resilience: the alerts name the dependency (the breaker's, the
	// storm's), which the chain's error and latency alerts may join.
	"circuit-breaker-open": {
		must: []string{"MeshCircuitBreakerOpen books/search-index"},
		may: []string{"MeshWorkloadLatencySLOBreach books/search-index", "MeshWorkloadLatencySLOBreach books/catalog", "MeshWorkloadLatencySLOBreach books/storefront",
			"MeshWorkloadHighErrorRate books/catalog", "MeshWorkloadHighErrorRate books/storefront"}},
	"retry-storm": {
		must: []string{"MeshRetryStorm shop/orders"},
		may: []string{"MeshWorkloadHighErrorRate shop/orders", "MeshWorkloadHighErrorRate shop/api", "MeshWorkloadHighErrorRate shop/frontend",
			"MeshWorkloadLatencySLOBreach shop/orders", "MeshWorkloadLatencySLOBreach shop/api", "MeshWorkloadLatencySLOBreach shop/frontend"}},
	// Ejecting a bad pod is neither an open breaker nor a retry storm.
	"outlier-ejection": {
		must: []string{"MeshWorkloadHighErrorRate books/cart"},
		may:  []string{"MeshWorkloadHighErrorRate books/storefront", "MeshWorkloadHighErrorRate books/checkout-primary"}},
	// Meshes other than the shop (other namespaces, names and depth).
	"books-healthy": {},
	"books-crashloop": {
		must: []string{"MeshWorkloadCrashLooping books/reviews"},
		may:  []string{"MeshWorkloadHighErrorRate books/catalog", "MeshWorkloadHighErrorRate books/storefront"}},
	"canary-on-checkout": {
		must: []string{"MeshCanaryRolledBack books/checkout"},
		may:  []string{"MeshWorkloadHighErrorRate books/checkout"}},
	"leaf-dependency-errors": {
		must: []string{"MeshWorkloadHighErrorRate books/search-index", "MeshWorkloadHighErrorRate books/catalog", "MeshWorkloadHighErrorRate books/storefront"}},
	"two-faults": {
		must: []string{"MeshSidecarMemoryLeak data/geo", "MeshContainerOOMKilled trips/fares"},
		may:  []string{"MeshWorkloadHighErrorRate trips/flights", "MeshWorkloadHighErrorRate edge/portal", "MeshWorkloadHighErrorRate trips/itinerary"}},
}

// TestAlertsFireInScenarios evaluates each alert rule over each backfilled
// scenario on a real Prometheus, the way its rule manager would have while
// the data came in: the rule's expression as a range query at the group's
// evaluation interval over the run, an alert firing once the expression has
// returned its series at every evaluation for the rule's `for` duration
// (pending → firing). Backfilled history is never evaluated by the rule
// manager itself (it only evaluates "now"), so this replays its evaluations
// with the same engine, data, lookback and step; the rule files are also
// loaded into that Prometheus, which must report them healthy.
func TestAlertsFireInScenarios(t *testing.T) {
	fx := getFixture(t)
	prom := fx.startPrometheus(t, ruleFiles(t)...)
	rules := loadAlertRules(t)

	t.Run("rules load", func(t *testing.T) {
		var data struct {
			Groups []struct {
				Name  string `json:"name"`
				Rules []struct {
					Name      string `json:"name"`
					Health    string `json:"health"`
					LastError string `json:"lastError"`
				} `json:"rules"`
			} `json:"groups"`
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			if err := prom.get("/api/v1/rules", url.Values{"type": {"alert"}}, &data); err != nil {
				t.Fatal(err)
			}
			n, unknown := 0, 0
			for _, g := range data.Groups {
				for _, r := range g.Rules {
					n++
					switch r.Health {
					case "unknown":
						unknown++
					case "ok":
					default:
						t.Errorf("%s: health %s: %s", r.Name, r.Health, r.LastError)
					}
				}
			}
			if n != len(rules) {
				t.Fatalf("Prometheus loaded %d alert rules, the files have %d", n, len(rules))
			}
			if unknown == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Second)
		}
	})

	var table []string
	for _, run := range fx.runs {
		exp, ok := alertsExpected[run.Name]
		if !ok {
			t.Errorf("scenario %s has no alert expectation", run.Name)
			continue
		}
		fired := map[string]firing{}
		for _, r := range rules {
			for _, f := range replayAlert(t, prom, r, run) {
				if prev, ok := fired[f.key()]; !ok || f.At < prev.At {
					fired[f.key()] = f
				}
			}
		}
		var keys []string
		for k, f := range fired {
			keys = append(keys, k)
			if f.Namespace == "" || f.Workload == "" {
				t.Errorf("%s: %s fired without namespace/workload labels", run.Name, k)
			}
			if run.Truth.Onset != nil && run.Start.Add(f.At).Before(*run.Truth.Onset) {
				t.Errorf("%s: %s fired at +%s, before the fault's onset (+%s)", run.Name, k, f.At, run.Truth.Onset.Sub(run.Start))
			}
		}
		sort.Strings(keys)
		for _, m := range exp.must {
			if _, ok := fired[m]; !ok {
				t.Errorf("%s: %s did not fire (fired: %v)", run.Name, m, keys)
			}
		}
		for _, k := range keys {
			if !contains(exp.must, k) && !contains(exp.may, k) {
				t.Errorf("%s: unexpected alert %s at +%s", run.Name, k, fired[k].At)
			}
			mark := "  "
			if contains(exp.must, k) {
				mark = "✔ "
			}
			table = append(table, fmt.Sprintf("%-24s %s%-56s fires at +%s", run.Name, mark, k, fired[k].At))
		}
		if len(keys) == 0 {
			table = append(table, fmt.Sprintf("%-24s   (none)", run.Name))
		}
	}
	t.Logf("alerts per scenario (✔ = expected):\n%s", strings.Join(table, "\n"))
}

// replayAlert returns the alert's firings during the run.
func replayAlert(t *testing.T, prom *promClient, r alertRule, run scenarioRun) []firing {
	t.Helper()
	hold := r.For
	q := rendered{Expr: r.Expr, Start: run.Start, End: run.End, Step: r.Interval}
	res, err := prom.query(q)
	if err != nil {
		t.Fatalf("%s on %s: %v", r.Alert, run.Name, err)
	}
	var out []firing
	for _, s := range res.Series {
		var runStart, prev float64 = -1, -1
		for _, v := range s.Values {
			ts := v[0].(float64)
			if prev < 0 || ts-prev > r.Interval.Seconds()+0.5 {
				runStart = ts // a gap resets the pending state
			}
			prev = ts
			if ts-runStart >= hold.Seconds() {
				out = append(out, firing{Alert: r.Alert, Namespace: s.Metric["namespace"], Workload: s.Metric["workload"],
					At: time.Unix(int64(ts), 0).Sub(run.Start)})
				break
			}
		}
	}
	return out
}
