package plugin_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/meshwatch/meshwatch/pkg/devkit/contractfake"
	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/plugin"
)

// grafanaProxy plays Grafana's datasource proxy:
// /api/datasources/proxy/uid/<uid>/<path> goes to that datasource's URL,
// only with "Authorization: Bearer <token>" (else 401), and Grafana's own
// Authorization is not passed on. It counts the requests per uid and
// remembers any tenant header that reached it.
type grafanaProxy struct {
	*httptest.Server
	token string

	mu       sync.Mutex
	hits     map[string]int
	tenanted bool
}

func newGrafanaProxy(t *testing.T, token string, datasources map[string]string) *grafanaProxy {
	t.Helper()
	g := &grafanaProxy{token: token, hits: map[string]int{}}
	targets := map[string]*url.URL{}
	for uid, raw := range datasources {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		targets[uid] = u
	}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		rest := strings.TrimPrefix(r.In.URL.Path, "/api/datasources/proxy/uid/")
		uid, path, _ := strings.Cut(rest, "/")
		r.SetURL(targets[uid])
		r.Out.URL.Path = strings.TrimRight(targets[uid].Path, "/") + "/" + path
		r.Out.URL.RawPath = ""
		r.Out.Header.Del("Authorization")
	}}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/api/datasources/proxy/uid/")
		uid, _, _ := strings.Cut(rest, "/")
		g.mu.Lock()
		g.hits[uid]++
		if r.Header.Get("X-Scope-OrgID") != "" {
			g.tenanted = true
		}
		g.mu.Unlock()
		switch {
		case r.Header.Get("Authorization") != "Bearer "+g.token:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"message":"Unauthorized","statusCode":401}`))
		case !ok || targets[uid] == nil:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"Data source not found"}`))
		default:
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(g.Close)
	return g
}

func (g *grafanaProxy) hitsOf(uid string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.hits[uid]
}

type healthLine struct{ Name, Status, Target, Version, Message string }

func checkHealth(t *testing.T, p interface {
	CheckHealth(context.Context, backend.PluginContext) (*backend.CheckHealthResult, error)
}, pc backend.PluginContext) (*backend.CheckHealthResult, map[string]healthLine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := p.CheckHealth(ctx, pc)
	if err != nil {
		t.Fatal(err)
	}
	var details struct {
		Results []healthLine `json:"results"`
	}
	if err := json.Unmarshal(res.JSONDetails, &details); err != nil {
		t.Fatal(err)
	}
	lines := map[string]healthLine{}
	for _, l := range details.Results {
		lines[l.Name] = l
	}
	return res, lines
}

// TestProtocolThroughGrafanasDatasourceProxy runs the built plugin against
// real Prometheus, Loki and Alertmanager (and the Tempo contract fake)
// reached only through a Grafana-like datasource proxy, with the managed
// service-account token Grafana puts in the plugin context, with the
// grafanaToken secret, and with neither.
func TestProtocolThroughGrafanasDatasourceProxy(t *testing.T) {
	const (
		managed = "zq-managed-sa-token"
		saToken = "glsa_zq-configured-token"
	)
	rules := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(rules, []byte(plugin.AlertRulesForTest), 0o600); err != nil {
		t.Fatal(err)
	}
	prom := harness.StartPrometheus(t, harness.PrometheusOptions{RuleFiles: []string{rules}, EvaluationInterval: time.Second})
	am := harness.StartAlertmanager(t, harness.AlertmanagerOptions{})
	loki := harness.StartLoki(t)
	tempo := contractfake.Tempo(t, "2.8.2")
	datasources := map[string]string{"prom": prom.URL, "logs": loki.URL, "am": am.URL, "traces": tempo.URL}

	p, logs := startPlugin(t)
	jsonData := map[string]any{
		"prometheus":   map[string]any{"datasourceUid": "prom", "tenantId": "team-a"},
		"loki":         map[string]any{"datasourceUid": "logs", "tenantId": "team-a"},
		"tempo":        map[string]any{"datasourceUid": "traces"},
		"alertmanager": map[string]any{"datasourceUid": "am"},
		"kubernetes":   map[string]any{"mode": "disabled"},
		"storage":      map[string]any{"path": filepath.Join(t.TempDir(), "mw.db")},
	}
	updated := int64(1700000000)
	// version is the plugin context of a new settings version with what
	// Grafana gives the plugin (GF_* config) and the secrets.
	version := func(grafanaCfg map[string]string, secure map[string]string) backend.PluginContext {
		pc := pluginContext(t, jsonData, secure)
		updated++
		pc.AppInstanceSettings.Updated = time.Unix(updated, 0)
		pc.GrafanaConfig = backend.NewGrafanaCfg(grafanaCfg)
		return pc
	}
	noLeak := func(t *testing.T, what string, texts ...string) {
		t.Helper()
		for _, s := range append(texts, logs.String()) {
			for _, tok := range []string{managed, saToken, "zq-endpoint-secret"} {
				if strings.Contains(s, tok) {
					t.Fatalf("a token leaked into %s", what)
				}
			}
		}
	}
	endpointSecret := map[string]string{"prometheusAuth": "zq-endpoint-secret", "lokiAuth": "zq-endpoint-secret"}

	for _, c := range []struct {
		name   string
		token  string
		cfg    map[string]string
		secure map[string]string
		note   string
	}{
		{"managed service account", managed, map[string]string{"GF_PLUGIN_APP_CLIENT_SECRET": managed},
			map[string]string{"prometheusAuth": "zq-endpoint-secret", "lokiAuth": "zq-endpoint-secret", "grafanaToken": "zq-unused"},
			"through Grafana's datasource proxy with the plugin's managed service account"},
		{"grafanaToken", saToken, map[string]string{}, map[string]string{"prometheusAuth": "zq-endpoint-secret", "grafanaToken": saToken},
			"through Grafana's datasource proxy with the service-account token from grafanaToken"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newGrafanaProxy(t, c.token, datasources)
			c.cfg["GF_APP_URL"] = g.URL + "/"
			pc := version(c.cfg, c.secure)
			res, lines := checkHealth(t, p, pc)
			for name, uid := range map[string]string{"Prometheus": "prom", "Loki": "logs", "Tempo": "traces", "Alertmanager": "am"} {
				l := lines[name]
				if l.Status != "ok" || l.Version == "" || !strings.Contains(l.Message, c.note) ||
					l.Target != "datasource "+uid+" via Grafana ("+g.URL+")" {
					t.Errorf("%s: %+v", name, l)
				}
				if g.hitsOf(uid) == 0 {
					t.Errorf("%s was not reached through the proxy", name)
				}
			}
			if res.Status != backend.HealthStatusOk {
				t.Errorf("want OK:\n%s", res.Message)
			}
			if g.tenanted {
				t.Error("a tenant header was sent to Grafana's proxy")
			}
			noLeak(t, "the health report or the plugin log", res.Message, string(res.JSONDetails))
			t.Logf("health through the proxy:\n%s", res.Message)
		})
	}

	t.Run("neither a managed token nor grafanaToken", func(t *testing.T) {
		g := newGrafanaProxy(t, managed, datasources)
		res, lines := checkHealth(t, p, version(map[string]string{"GF_APP_URL": g.URL}, endpointSecret))
		if l := lines["Prometheus"]; l.Status != "error" ||
			!strings.Contains(l.Message, "Grafana gave the plugin no service-account token and grafanaToken is not set") ||
			!strings.Contains(l.Message, "[feature_toggles] externalServiceAccounts = true") ||
			!strings.Contains(l.Message, "[auth] managed_service_accounts_enabled = true") {
			t.Errorf("Prometheus: %+v", l)
		}
		for _, name := range []string{"Loki", "Tempo", "Alertmanager"} {
			if l := lines[name]; l.Status != "warning" || !strings.Contains(l.Message, "set the grafanaToken secret") {
				t.Errorf("%s: %+v", name, l)
			}
		}
		if res.Status != backend.HealthStatusError {
			t.Errorf("Prometheus is required: %s", res.Message)
		}
		noLeak(t, "the health report or the plugin log", res.Message)
	})

	t.Run("Grafana refuses the token", func(t *testing.T) {
		g := newGrafanaProxy(t, "zq-another-token", datasources)
		res, lines := checkHealth(t, p, version(map[string]string{"GF_APP_URL": g.URL}, map[string]string{"grafanaToken": saToken}))
		if l := lines["Prometheus"]; l.Status != "error" ||
			!strings.Contains(l.Message, "Grafana refused the service-account token in grafanaToken for datasource prom (HTTP 401)") {
			t.Errorf("Prometheus: %+v", l)
		}
		noLeak(t, "the health report or the plugin log", res.Message)
	})

	t.Run("the alerts stream reads through the proxy", func(t *testing.T) {
		g := newGrafanaProxy(t, managed, datasources)
		pc := version(map[string]string{"GF_APP_URL": g.URL, "GF_PLUGIN_APP_CLIENT_SECRET": managed}, endpointSecret)
		pc.User = &backend.User{Login: "viewer", Role: "Viewer"}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		errDone := errors.New("both alerts seen")
		var rows int
		err := p.RunStream(ctx, &backend.RunStreamRequest{PluginContext: pc, Path: "alerts"},
			func(pkt *backend.StreamPacket) error {
				var f data.Frame
				if err := json.Unmarshal(pkt.Data, &f); err != nil {
					return err
				}
				if f.Meta != nil && len(f.Meta.Notices) > 0 {
					return errors.New("notice from a healthy Prometheus behind the proxy: " + f.Meta.Notices[0].Text)
				}
				if rows, _ = f.RowLen(); rows == 2 {
					return errDone
				}
				return nil
			})
		if !errors.Is(err, errDone) {
			t.Fatalf("stream ended before both alerts arrived: %v (last %d rows)", err, rows)
		}
		if g.hitsOf("prom") == 0 || g.tenanted {
			t.Errorf("the alerts were not read through the proxy (%d hits, tenant header %v)", g.hitsOf("prom"), g.tenanted)
		}
		noLeak(t, "the plugin log")
	})
}
