package systems_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/capability"
	"github.com/meshwatch/meshwatch/pkg/health"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems"
)

const (
	managedTok = "zq-managed-token"
	grafanaTok = "zq-grafana-token"
)

// fakeGrafana answers /api/datasources/proxy/uid/<uid>/<path> like
// Grafana's datasource proxy in front of Prometheus-family APIs: 401 without
// the expected bearer token, 404 for an unknown uid. It records the headers
// each request arrived with.
type fakeGrafana struct {
	*httptest.Server
	token string
	mu    sync.Mutex
	seen  []http.Header
}

func newFakeGrafana(t *testing.T, token string) *fakeGrafana {
	g := &fakeGrafana{token: token}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.seen = append(g.seen, r.Header.Clone())
		g.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+g.token {
			http.Error(w, `{"message":"Unauthorized"}`, http.StatusUnauthorized)
			return
		}
		rest, ok := strings.CutPrefix(r.URL.Path, "/api/datasources/proxy/uid/")
		uid, path, _ := strings.Cut(rest, "/")
		if !ok || (uid != "prom" && uid != "logs" && uid != "traces" && uid != "am") {
			http.Error(w, `{"message":"Data source not found"}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch path {
		case "api/v1/status/buildinfo":
			_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]string{"version": "3.0.0"}})
		case "loki/api/v1/status/buildinfo", "api/status/buildinfo":
			_ = json.NewEncoder(w).Encode(map[string]string{"version": "3.1.0"})
		case "api/v2/status":
			_ = json.NewEncoder(w).Encode(map[string]any{"versionInfo": map[string]string{"version": "0.28.0"}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(g.Close)
	return g
}

func run(t *testing.T, jsonData string, secure map[string]string, appURL, managed string) map[string]health.Result {
	t.Helper()
	cfg, err := settings.Load([]byte(jsonData), secure)
	if err != nil {
		t.Fatal(err)
	}
	reg := capability.New()
	t.Cleanup(reg.Dispose)
	systems.Register(reg, cfg.WithGrafana(appURL, managed), nil)
	rep := health.Run(context.Background(), reg.Checks(), 5*time.Second)
	out := map[string]health.Result{}
	for _, r := range rep.Results {
		out[r.Name] = r
		t.Logf("%s", r.Line())
		for _, tok := range []string{managedTok, grafanaTok} {
			if strings.Contains(r.Message+r.Target, tok) {
				t.Errorf("%s line repeats a token: %+v", r.Name, r)
			}
		}
	}
	return out
}

const viaGrafana = `{"prometheus":{"datasourceUid":"prom","tenantId":"team-a"},"loki":{"datasourceUid":"logs","tenantId":"team-a"},
	"alertmanager":{"datasourceUid":"am"},"tempo":{"datasourceUid":"traces"}}`

func TestHealthThroughGrafanasProxy(t *testing.T) {
	for _, c := range []struct {
		name, managed, secret, note string
	}{
		{"managed", managedTok, "", "through Grafana's datasource proxy with the plugin's managed service account"},
		{"grafanaToken", "", grafanaTok, "through Grafana's datasource proxy with the service-account token from grafanaToken"},
		{"managed first", managedTok, "zq-other", "with the plugin's managed service account"},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := c.managed
			if want == "" {
				want = c.secret
			}
			g := newFakeGrafana(t, want)
			secure := map[string]string{settings.SecurePrometheusAuth: "zq-endpoint-secret"}
			if c.secret != "" {
				secure[settings.SecureGrafanaToken] = c.secret
			}
			lines := run(t, viaGrafana, secure, g.URL+"/", c.managed)
			for name, uid := range map[string]string{"Prometheus": "prom", "Loki": "logs", "Tempo": "traces", "Alertmanager": "am"} {
				l := lines[name]
				if l.Status != health.OK || !strings.Contains(l.Message, c.note) || l.Version == "" {
					t.Errorf("%s: %+v", name, l)
				}
				if l.Target != "datasource "+uid+" via Grafana ("+g.URL+")" {
					t.Errorf("%s target: %q", name, l.Target)
				}
			}
			for _, h := range g.seen {
				if h.Get("X-Scope-OrgID") != "" {
					t.Error("the tenant header must not be sent to Grafana's proxy")
				}
				if strings.Contains(h.Get("Authorization"), "zq-endpoint-secret") {
					t.Error("the endpoint's own secret must not be sent to Grafana's proxy")
				}
			}
		})
	}
}

func TestHealthWithoutAToken(t *testing.T) {
	g := newFakeGrafana(t, managedTok)
	lines := run(t, viaGrafana, nil, g.URL, "")
	if l := lines["Prometheus"]; l.Status != health.Error ||
		!strings.Contains(l.Message, "Grafana gave the plugin no service-account token and grafanaToken is not set") ||
		!strings.Contains(l.Message, "[feature_toggles] externalServiceAccounts = true") ||
		!strings.Contains(l.Message, "[auth] managed_service_accounts_enabled = true") ||
		!strings.Contains(l.Message, "grafanaToken") {
		t.Errorf("Prometheus: %+v", l)
	}
	for _, name := range []string{"Loki", "Tempo", "Alertmanager"} {
		if l := lines[name]; l.Status != health.Warning || !strings.Contains(l.Message, "externalServiceAccounts") {
			t.Errorf("%s: %+v", name, l)
		}
	}
	if len(g.seen) != 0 {
		t.Error("nothing is sent without a token")
	}
	// No app URL from Grafana.
	if l := run(t, viaGrafana, map[string]string{settings.SecureGrafanaToken: grafanaTok}, "", "")["Loki"]; l.Status != health.Warning ||
		!strings.Contains(l.Message, "no app URL (GF_APP_URL") || l.Target != "datasource logs via Grafana (app URL unknown)" {
		t.Errorf("no app URL: %+v", l)
	}
}

func TestHealthWhenGrafanaRefuses(t *testing.T) {
	g := newFakeGrafana(t, "zq-the-right-one")
	lines := run(t, viaGrafana, map[string]string{settings.SecureGrafanaToken: grafanaTok}, g.URL, "")
	if l := lines["Prometheus"]; l.Status != health.Error ||
		!strings.Contains(l.Message, "Grafana refused the service-account token in grafanaToken for datasource prom (HTTP 401)") {
		t.Errorf("Prometheus: %+v", l)
	}
	lines = run(t, viaGrafana, nil, g.URL, managedTok)
	if l := lines["Alertmanager"]; l.Status != health.Warning ||
		!strings.Contains(l.Message, "Grafana refused the plugin's managed service-account token for datasource am (HTTP 401)") {
		t.Errorf("Alertmanager: %+v", l)
	}
	g.token = managedTok
	lines = run(t, `{"prometheus":{"datasourceUid":"nope"},"loki":{"datasourceUid":"logs"},"tempo":{"datasourceUid":"traces"},
		"alertmanager":{"datasourceUid":"am"}}`, nil, g.URL, managedTok)
	if l := lines["Prometheus"]; l.Status != health.Error || !strings.Contains(l.Message, "Grafana has no datasource with uid nope") {
		t.Errorf("unknown uid: %+v", l)
	}
}

// A direct URL stays as it was: the endpoint's secret and tenant are sent.
func TestDirectURLUnchanged(t *testing.T) {
	g := newFakeGrafana(t, "zq-endpoint-secret")
	lines := run(t, `{"prometheus":{"url":"`+g.URL+`/api/datasources/proxy/uid/prom","tenantId":"team-a"}}`,
		map[string]string{settings.SecurePrometheusAuth: "zq-endpoint-secret", settings.SecureGrafanaToken: grafanaTok}, g.URL, managedTok)
	if l := lines["Prometheus"]; l.Status != health.OK || l.Message != "reachable at "+g.URL+"/api/datasources/proxy/uid/prom" {
		t.Errorf("direct: %+v", l)
	}
	if h := g.seen[0]; h.Get("X-Scope-OrgID") != "team-a" || h.Get("Authorization") != "Bearer zq-endpoint-secret" {
		t.Errorf("direct headers: %v", h)
	}
}
