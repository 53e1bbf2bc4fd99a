package systems_test

// The backend against a real multi-tenant Loki (auth_enabled: true, from
// pkg/devkit/harness) holding two tenants' logs under the same stream
// labels: the clients systems.Register builds from the settings read only
// the configured tenant's lines, whether the tenant comes from loki.tenantId
// (a direct URL) or from the Grafana Loki datasource's X-Scope-OrgID header
// (through Grafana's datasource proxy, a contract fake here: no Grafana
// server runs in tests); without a tenant, the health line and the
// capture's Partial say what to set. Run with
//
//	CI=true MESHWATCH_TOOLS=$HOME/.cache/meshwatch/tools go test ./pkg/systems/ -run Tenant -v

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/capability"
	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/devkit/simulator"
	"github.com/meshwatch/meshwatch/pkg/evidence"
	"github.com/meshwatch/meshwatch/pkg/health"
	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems"
	"github.com/meshwatch/meshwatch/pkg/systems/loki"
)

// grafanaLokiDatasource is a contract fake of Grafana's datasource proxy
// (GET <appURL>/api/datasources/proxy/uid/<uid>/<path>) for one Loki
// datasource, built from what Grafana documents and does
// (pkg/api/pluginproxy/ds_proxy.go, grafana-plugin-sdk-go
// backend/httpclient CustomHeadersMiddleware): it answers 401 without the
// service-account token, sets the datasource's custom headers (jsonData
// httpHeaderNameN / secureJsonData httpHeaderValueN) on the request to Loki,
// replacing any the caller sent, and turns Loki's 401 into 400
// "Authentication to data source failed" (so as not to log the user out),
// dropping Loki's body.
func grafanaLokiDatasource(t *testing.T, lokiURL, uid, token string, headers map[string]string) *httptest.Server {
	t.Helper()
	target, err := url.Parse(lokiURL)
	if err != nil {
		t.Fatal(err)
	}
	prefix := "/api/datasources/proxy/uid/" + uid
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.URL.Path = strings.TrimPrefix(r.In.URL.Path, prefix)
			r.Out.URL.RawPath = ""
			r.Out.Header.Del("Authorization") // Grafana's own credential stays with Grafana
			for k, v := range headers {
				r.Out.Header.Del(k)
				r.Out.Header.Add(k, v)
			}
		},
		ModifyResponse: func(resp *http.Response) error {
			if resp.StatusCode != http.StatusUnauthorized {
				return nil
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			msg := "Authentication to data source failed"
			*resp = http.Response{StatusCode: http.StatusBadRequest, Status: "400 Bad Request", Proto: resp.Proto,
				ProtoMajor: resp.ProtoMajor, ProtoMinor: resp.ProtoMinor, Header: http.Header{},
				Body: io.NopCloser(strings.NewReader(msg)), ContentLength: int64(len(msg)), Request: resp.Request}
			return nil
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, `{"message":"Unauthorized"}`, http.StatusUnauthorized)
			return
		}
		if !strings.HasPrefix(r.URL.Path, prefix+"/") {
			http.Error(w, `{"message":"Data source not found"}`, http.StatusNotFound)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// tenantLines are one tenant's error lines of one pod, a line a second
// ending at end.
func tenantLines(end time.Time, msg string) []simulator.LogEntry {
	var out []simulator.LogEntry
	for i := range 30 {
		out = append(out, simulator.LogEntry{Time: end.Add(-time.Duration(i) * time.Second),
			Labels: simulator.StreamLabels{Namespace: "shop", App: "api", Pod: "api-7d9f8c6b5-x2k4p", Container: "api", Level: "error"},
			Line:   `level=error msg="` + msg + `"`})
	}
	return out
}

type tenantSetup struct {
	name     string
	jsonData string
	secure   map[string]string
	appURL   string
	want     string // the message of the tenant's lines; "" when no tenant is named
	wantErr  error
	errWords []string // what the health line and the capture's Partial must say
}

func TestLokiTenantFromSettingsOrDatasource(t *testing.T) {
	l := harness.StartLoki(t, harness.LokiOptions{MultiTenant: true})
	now := time.Now().UTC().Truncate(time.Second)
	const msgA, msgB = "upstream connect error talking to inventory", "card declined by the acquiring bank"
	for tenant, msg := range map[string]string{"team-a": msgA, "team-b": msgB} {
		if err := (&simulator.LokiPusher{URL: l.URL, TenantID: tenant}).Push(context.Background(), tenantLines(now.Add(-time.Minute), msg)); err != nil {
			t.Fatalf("push %s: %v", tenant, err)
		}
	}
	// Loki itself refuses a push without a tenant.
	if err := (&simulator.LokiPusher{URL: l.URL}).Push(context.Background(), tenantLines(now, "nobody's")); err == nil ||
		!strings.Contains(err.Error(), "401") {
		t.Fatalf("a push without a tenant: %v", err)
	}

	const token = "zq-managed-token"
	withB := grafanaLokiDatasource(t, l.URL, "logs", token, map[string]string{"X-Scope-OrgID": "team-b"})
	bare := grafanaLokiDatasource(t, l.URL, "logs", token, nil)

	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // Prometheus is not what this test is about: a capture without it still reads logs
	deadProm := `"prometheus":{"url":"` + down.URL + `"}`

	for _, c := range []tenantSetup{
		{name: "loki.tenantId", jsonData: `{` + deadProm + `,"loki":{"url":"` + l.URL + `","tenantId":"team-a"}}`, want: msgA},
		{name: "loki.tenantHeader", jsonData: `{` + deadProm + `,"loki":{"url":"` + l.URL + `","tenantId":"team-b","tenantHeader":"X-Scope-OrgID"}}`, want: msgB},
		{name: "Grafana datasource header", jsonData: `{` + deadProm + `,"loki":{"datasourceUid":"logs","tenantId":"team-a"}}`,
			appURL: withB.URL, want: msgB}, // the datasource's tenant, not the unused tenantId beside it
		{name: "no tenant", jsonData: `{` + deadProm + `,"loki":{"url":"` + l.URL + `"}}`,
			wantErr: loki.ErrNoTenant, errWords: []string{"multi-tenant", "loki.tenantId", "X-Scope-OrgID", "HTTP 401", "no org id"}},
		{name: "Grafana datasource without the header", jsonData: `{` + deadProm + `,"loki":{"datasourceUid":"logs"}}`, appURL: bare.URL,
			wantErr: loki.ErrDatasourceRefused, errWords: []string{"Grafana's Loki datasource", "X-Scope-OrgID", "httpHeaderName1", "HTTP 400"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := settings.Load([]byte(c.jsonData), c.secure)
			if err != nil {
				t.Fatal(err)
			}
			reg := capability.New()
			t.Cleanup(reg.Dispose)
			set := systems.Register(reg, cfg.WithGrafana(c.appURL, token), nil)
			if set.Loki == nil || set.Prometheus == nil {
				t.Fatalf("clients: loki %v, prometheus %v", set.LokiErr, set.PrometheusErr)
			}
			var line health.Result
			for _, r := range health.Run(context.Background(), reg.Checks(), 10*time.Second).Results {
				if r.Name == "Loki" {
					line = r
				}
			}

			// The backend's own log read: a capture for the workload whose
			// pods both tenants logged from (Prometheus down: the window is
			// the 5 minutes before the alert, the scope the workload alone).
			inc := evidence.Incident{ID: 1, Namespace: "shop", Workload: "api", Alerts: []incident.Alert{{
				Labels: map[string]string{"alertname": "SomeAlert", "namespace": "shop"}, StartsAt: now.Add(-2 * time.Minute),
				Status: incident.StatusFiring}}}
			var pack evidence.Pack
			deadline := time.Now().Add(30 * time.Second)
			for {
				pack = evidence.Collect(context.Background(), evidence.Sources{Prometheus: set.Prometheus.API(), Loki: set.Loki}, inc, now)
				if c.want == "" || len(pack.Logs) > 0 || time.Now().After(deadline) {
					break
				}
				time.Sleep(500 * time.Millisecond) // lines just pushed become queryable within a second or two
			}
			var lokiProblem string
			for _, p := range pack.Partial {
				if p.Source == evidence.SourceLoki {
					lokiProblem = p.Error
				}
			}
			_, qerr := set.Loki.QueryRange(context.Background(), loki.LogQuery{Query: `{namespace="shop"}`, Start: now.Add(-5 * time.Minute), End: now})

			if c.wantErr == nil {
				if line.Status != health.OK {
					t.Errorf("health line: %+v", line)
				}
				if qerr != nil || lokiProblem != "" {
					t.Fatalf("query: %v; partial: %s", qerr, lokiProblem)
				}
				var got []string
				for _, p := range pack.Logs {
					got = append(got, p.Pattern)
				}
				joined := strings.Join(got, "\n")
				if !strings.Contains(joined, c.want) {
					t.Errorf("the tenant's lines are not in the capture: %q", got)
				}
				for _, other := range []string{msgA, msgB} {
					if other != c.want && strings.Contains(joined, other) {
						t.Errorf("another tenant's lines reached the capture: %q", got)
					}
				}
				return
			}
			if !errors.Is(qerr, c.wantErr) {
				t.Errorf("query error %v, want %v", qerr, c.wantErr)
			}
			if line.Status == health.OK || len(pack.Logs) != 0 {
				t.Errorf("health line %+v, %d log patterns", line, len(pack.Logs))
			}
			for _, msg := range []string{line.Message, lokiProblem, qerr.Error()} {
				for _, w := range c.errWords {
					if !strings.Contains(msg, w) {
						t.Errorf("%q does not say %q", msg, w)
					}
				}
				if strings.Contains(msg, token) {
					t.Errorf("%q repeats the token", msg)
				}
			}
			t.Logf("health line: %s", line.Line())
		})
	}
}
