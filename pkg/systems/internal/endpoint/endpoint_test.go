package endpoint

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/meshwatch/meshwatch/pkg/settings"
)

func TestClientResolvesTheDatasourceProxy(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		got.Set("X-Path", r.URL.Path)
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	secure := map[string]string{settings.SecureLokiAuth: "zq-endpoint", settings.SecureGrafanaToken: "zq-fallback"}
	s, err := settings.Load([]byte(`{"loki":{"datasourceUid":"logs","tenantId":"team-a","url":"http://ignored:1"}}`), secure)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ managed, auth string }{{"zq-managed", "Bearer zq-managed"}, {"", "Bearer zq-fallback"}} {
		e := s.WithGrafana(srv.URL+"/grafana/", c.managed).Loki
		up, err := Client("Loki", e)
		if err != nil {
			t.Fatal(err)
		}
		if up.BaseURL() != srv.URL+"/grafana/api/datasources/proxy/uid/logs" {
			t.Errorf("base URL %q", up.BaseURL())
		}
		var v map[string]any
		if err := up.GetJSON(t.Context(), "/loki/api/v1/labels", nil, &v); err != nil {
			t.Fatal(err)
		}
		if got.Get("Authorization") != c.auth || got.Get("X-Scope-OrgID") != "" ||
			got.Get("X-Path") != "/grafana/api/datasources/proxy/uid/logs/loki/api/v1/labels" {
			t.Errorf("managed %q: headers %v", c.managed, got)
		}
		if baseTarget(t, e) != "datasource logs via Grafana ("+srv.URL+"/grafana)" {
			t.Errorf("target %q", baseTarget(t, e))
		}
	}
	// Without a token: no client, and the advice.
	noTok, _ := settings.Load([]byte(`{"loki":{"datasourceUid":"logs"}}`), nil)
	_, err = Client("Loki", noTok.WithGrafana(srv.URL, "").Loki)
	if err == nil || !strings.Contains(err.Error(), "externalServiceAccounts") || strings.Contains(err.Error(), "zq-") {
		t.Errorf("no token: %v", err)
	}
	// A direct URL is as before: its secret and tenant are sent.
	direct, _ := settings.Load([]byte(`{"loki":{"url":"`+srv.URL+`","tenantId":"team-a"}}`), secure)
	up, err := Client("Loki", direct.WithGrafana(srv.URL, "zq-managed").Loki)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := up.GetJSON(t.Context(), "/x", nil, &v); err != nil {
		t.Fatal(err)
	}
	if got.Get("Authorization") != "Bearer zq-endpoint" || got.Get("X-Scope-OrgID") != "team-a" || up.BaseURL() != srv.URL {
		t.Errorf("direct: %v %q", got, up.BaseURL())
	}
}

func baseTarget(t *testing.T, e settings.Endpoint) string {
	t.Helper()
	b, err := NewBase("Loki", e)
	if err != nil {
		t.Fatal(err)
	}
	return b.Target()
}
