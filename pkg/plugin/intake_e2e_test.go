package plugin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/devkit/pluginhost"
	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/incident/sqlite"
	"github.com/meshwatch/meshwatch/pkg/incidents"
	"github.com/meshwatch/meshwatch/pkg/plugin"
)

const resourcesPrefix = "/api/plugins/meshwatch-mesh-app/resources"

// resourceGateway plays Grafana's resource route for machine callers: a
// request must carry "Authorization: Bearer <the service-account token>"
// (else 401, and the plugin is not called); the header is stripped, and
// the plugin sees the service account as the user, with its Viewer role.
// It remembers the fingerprints of every alert in an Alertmanager
// delivery the plugin acknowledged with a 2xx.
type resourceGateway struct {
	*httptest.Server
	token string

	mu      sync.Mutex
	plugin  *pluginhost.Plugin
	pc      backend.PluginContext
	acked   map[string]bool
	okCalls int
	onAck   func(n int)
}

func newResourceGateway(t *testing.T, token string) *resourceGateway {
	g := &resourceGateway{token: token, acked: map[string]bool{}}
	g.Server = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.Close)
	return g
}

func (g *resourceGateway) use(p *pluginhost.Plugin, pc backend.PluginContext) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.plugin, g.pc = p, pc
}

func (g *resourceGateway) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, resourcesPrefix+"/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+g.token {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"message":"Invalid API key"}`))
		return
	}
	body, _ := io.ReadAll(r.Body)
	g.mu.Lock()
	p, pc := g.plugin, g.pc
	g.mu.Unlock()
	if p == nil {
		w.WriteHeader(http.StatusServiceUnavailable) // Grafana: the plugin is not running yet
		return
	}
	pc.User = &backend.User{Login: "sa-1-alertmanager", Name: "alertmanager", Role: "Viewer"}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	resp, err := p.CallResource(ctx, &backend.CallResourceRequest{PluginContext: pc, Path: rest, Method: r.Method,
		URL: rest, Body: body, Headers: map[string][]string{"Content-Type": {"application/json"}}})
	if err != nil {
		w.WriteHeader(http.StatusBadGateway) // Grafana: the plugin is unavailable
		return
	}
	if resp.Status/100 == 2 && rest == strings.TrimPrefix(incidents.RouteAlertmanager, "/") {
		var msg struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
			} `json:"alerts"`
		}
		var ans incidents.IntakeResponse
		_ = json.Unmarshal(body, &msg)
		_ = json.Unmarshal(resp.Body, &ans)
		rejected := map[int]bool{}
		for _, rj := range ans.Rejected {
			rejected[rj.Index] = true
		}
		g.mu.Lock()
		for i, a := range msg.Alerts {
			if !rejected[i] {
				g.acked[incident.FingerprintOf(a.Labels)] = true
			}
		}
		g.okCalls++
		n, onAck := len(g.acked), g.onAck
		g.mu.Unlock()
		if onAck != nil {
			onAck(n)
		}
	}
	w.WriteHeader(resp.Status)
	_, _ = w.Write(resp.Body)
}

func (g *resourceGateway) acknowledged() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.okCalls
}

func (g *resourceGateway) ackedSet() map[string]bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[string]bool, len(g.acked))
	for k := range g.acked {
		out[k] = true
	}
	return out
}

// intakeSettings points the plugin at Alertmanager (for the reconcile) and
// a store; updated tells instances apart (a settings save).
func intakeSettings(t *testing.T, amURL, dbPath string, updated time.Time) backend.PluginContext {
	return intakeSettingsWith(t, amURL, amURL, dbPath, updated)
}

func intakeSettingsWith(t *testing.T, amURL, promURL, dbPath string, updated time.Time) backend.PluginContext {
	pc := pluginContext(t, map[string]any{
		"alertmanager": map[string]any{"url": amURL, "timeoutSeconds": 5},
		"prometheus":   map[string]any{"url": promURL},
		"kubernetes":   map[string]any{"mode": "disabled"},
		"storage":      map[string]any{"path": dbPath},
	}, nil)
	pc.AppInstanceSettings.Updated = updated
	return pc
}

func tokenFile(t *testing.T, token string) string {
	f := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(f, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// storedAlerts reads the store file directly (as the plugin left it) and
// returns every alert fingerprint in it, and the incidents.
func storedAlerts(t *testing.T, dbPath string) (map[string]bool, []incident.Incident) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, dbPath, incident.Config{Rules: incident.DefaultRules})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	list, err := st.List(ctx, incident.Filter{Limit: incident.DefaultListLimit})
	if err != nil {
		t.Fatal(err)
	}
	fps := map[string]bool{}
	for _, in := range list {
		_, recs, err := st.Get(ctx, in.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			fps[r.Fingerprint] = true
		}
	}
	return fps, list
}

// A rule MeshWatch did not write fires in a real Prometheus; the real
// Alertmanager posts its real webhook, with a service-account token from
// credentials_file, through a Grafana-like resource route to the plugin
// binary; the incident is stored once although the reconcile reads the same
// alert from Alertmanager's API.
func TestProtocolAlertmanagerWebhookBecomesOneIncident(t *testing.T) {
	const token = "glsa_intake_e2e_token"
	gw := newResourceGateway(t, token)
	am := harness.StartAlertmanager(t, harness.AlertmanagerOptions{
		WebhookURL: gw.URL + resourcesPrefix + incidents.RouteAlertmanager, WebhookCredentialsFile: tokenFile(t, token),
		GroupBy: []string{"namespace", "workload"},
	})
	p, _ := startPlugin(t)
	db := filepath.Join(t.TempDir(), "meshwatch.db")
	pc := intakeSettings(t, am.URL, db, time.Unix(1700000000, 0))
	gw.use(p, pc)

	// The healthy start: the instance exists and reconciles, and there is no incident.
	resp := call(t, p, pc, http.MethodGet, "incidents", nil, nil)
	if resp.Status != 200 || !strings.Contains(string(resp.Body), `"incidents":[]`) {
		t.Fatalf("before any alert: %d %s", resp.Status, resp.Body)
	}

	rules := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(rules, []byte(plugin.AlertRulesForTest), 0o600); err != nil {
		t.Fatal(err)
	}
	prom := harness.StartPrometheus(t, harness.PrometheusOptions{RuleFiles: []string{rules}, EvaluationInterval: time.Second, AlertmanagerURL: am.URL})

	var list incidents.ListResponse
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp = call(t, p, pc, http.MethodGet, "incidents", nil, nil)
		if err := json.Unmarshal(resp.Body, &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Incidents) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no incident 90 s after the rule fired (gateway: %d deliveries acknowledged)", gw.acknowledged())
		}
		time.Sleep(500 * time.Millisecond)
	}
	in := list.Incidents[0]
	if len(list.Incidents) != 1 || in.Key.String() != "shop/checkout" || in.Title != "CheckoutErrorBudgetBurn" || in.Severity != "critical" || in.State != incident.StateOpen {
		t.Fatalf("incidents: %+v", list.Incidents)
	}
	if gw.acknowledged() == 0 {
		t.Fatal("the incident did not come by webhook")
	}
	// A settings save: the new instance reconciles with Alertmanager's API
	// at once; the same alert stays one alert of one incident.
	pc2 := intakeSettingsWith(t, am.URL, prom.URL, db, time.Unix(1700000100, 0))
	gw.use(p, pc2)
	time.Sleep(2 * time.Second)
	resp = call(t, p, pc2, http.MethodGet, "incidents", nil, nil)
	if err := json.Unmarshal(resp.Body, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Incidents) != 1 || list.Incidents[0].Alerts != 1 || list.Incidents[0].ID != in.ID {
		t.Fatalf("after webhook and reconcile: %+v", list.Incidents)
	}
	// The pending alert (for: 1h) made nothing.
	if strings.Contains(string(resp.Body), "CartLatencyRising") {
		t.Fatal("a pending alert became an incident")
	}
	// The worker captured the open incident's evidence: the window reaches
	// back at least 5 minutes before the alert (the rule has no for), and
	// the Loki this instance points at (the default in-cluster address,
	// unreachable here) is named as a source the pack lacks.
	var detail incidents.DetailResponse
	for deadline := time.Now().Add(60 * time.Second); ; {
		resp = call(t, p, pc2, http.MethodGet, fmt.Sprintf("incidents/%d", in.ID), nil, nil)
		if err := json.Unmarshal(resp.Body, &detail); err != nil {
			t.Fatalf("%d %s", resp.Status, resp.Body)
		}
		if detail.Evidence != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no evidence captured for the open incident within 60 s")
		}
		time.Sleep(500 * time.Millisecond)
	}
	var pack struct {
		Window struct {
			From time.Time `json:"from"`
		} `json:"window"`
	}
	if err := json.Unmarshal(detail.Evidence.Pack, &pack); err != nil {
		t.Fatal(err)
	}
	if lead := in.StartedAt.Sub(pack.Window.From); lead < 5*time.Minute || !slices.Contains(detail.Evidence.Partial, "loki") {
		t.Errorf("evidence: window from %s (%s before the alert), partial %v", pack.Window.From, lead, detail.Evidence.Partial)
	}
}

// kill -9 the plugin in the middle of a burst of 1,000 alerts that a real
// Alertmanager delivers one per webhook: every alert acknowledged with a
// 2xx is in the store the killed process left, and after the restart the
// reconcile fills in the rest.
func TestProtocolKill9DuringABurstLosesNothingAcknowledged(t *testing.T) {
	const token = "glsa_intake_crash_token"
	const burst = 1000
	gw := newResourceGateway(t, token)
	am := harness.StartAlertmanager(t, harness.AlertmanagerOptions{
		WebhookURL: gw.URL + resourcesPrefix + incidents.RouteAlertmanager, WebhookCredentialsFile: tokenFile(t, token),
		GroupBy: []string{"..."}, // one delivery per alert
	})
	p, _ := startPlugin(t)
	db := filepath.Join(t.TempDir(), "meshwatch.db")
	// The first process cannot reach Alertmanager's API (a closed port):
	// only webhooks bring alerts in.
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	pc := intakeSettings(t, closedURL, db, time.Unix(1700000000, 0))
	gw.use(p, pc)
	if resp := call(t, p, pc, http.MethodGet, "incidents", nil, nil); resp.Status != 200 {
		t.Fatalf("instance: %d %s", resp.Status, resp.Body)
	}

	killed := make(chan int, 1)
	var once sync.Once
	gw.mu.Lock()
	gw.onAck = func(n int) {
		if n >= burst/5 {
			once.Do(func() {
				_ = syscall.Kill(p.Pid(), syscall.SIGKILL)
				killed <- n
			})
		}
	}
	gw.mu.Unlock()

	start := time.Now().UTC().Add(-time.Minute)
	var alerts []map[string]any
	for i := 0; i < burst; i++ {
		alerts = append(alerts, map[string]any{
			"labels": map[string]string{"alertname": "KubePodCrashLooping", "namespace": fmt.Sprintf("team-%d", i%5),
				"pod": fmt.Sprintf("svc-%d-7d9c6b5f4-%05d", i%50, i), "severity": "warning"},
			"annotations": map[string]string{"summary": "Pod is crash looping."},
			"startsAt":    start.Format(time.RFC3339),
		})
	}
	am.Post(t, alerts)

	var ackedAtKill int
	select {
	case ackedAtKill = <-killed:
	case <-time.After(120 * time.Second):
		t.Fatalf("only %d alerts acknowledged in 120 s", len(gw.ackedSet()))
	}
	// Wait until the process is gone, then read what it left on disk.
	for deadline := time.Now().Add(10 * time.Second); !p.Exited() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	acked := gw.ackedSet()
	stored, _ := storedAlerts(t, db)
	lost := 0
	for fp := range acked {
		if !stored[fp] {
			lost++
		}
	}
	t.Logf("kill -9 after %d acknowledged alerts: %d acknowledged in all, %d stored, %d acknowledged but lost", ackedAtKill, len(acked), len(stored), lost)
	if lost > 0 {
		t.Fatalf("%d alerts were acknowledged with a 2xx but are not in the store", lost)
	}

	// Restart (Grafana restarts a crashed plugin), now able to reach
	// Alertmanager's API: the instance reconciles at once.
	p2, _ := startPlugin(t)
	pc2 := intakeSettings(t, am.URL, db, time.Unix(1700000100, 0))
	gw.use(p2, pc2)
	if resp := call(t, p2, pc2, http.MethodGet, "incidents", nil, nil); resp.Status != 200 {
		t.Fatalf("after the restart: %d %s", resp.Status, resp.Body)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var list incidents.ListResponse
		resp := call(t, p2, pc2, http.MethodGet, "incidents", nil, nil)
		if err := json.Unmarshal(resp.Body, &list); err != nil {
			t.Fatalf("%d %s", resp.Status, resp.Body)
		}
		total := 0
		for _, in := range list.Incidents {
			total += in.Alerts
		}
		if total >= burst || time.Now().After(deadline) {
			t.Logf("after the restart and its reconcile: %d alerts stored in %d incidents", total, len(list.Incidents))
			if total != burst || len(list.Incidents) != 50 {
				t.Fatalf("want %d alerts in 50 incidents (one per workload), got %d in %d", burst, total, len(list.Incidents))
			}
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}
