package settings

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDatasourceUIDValidation(t *testing.T) {
	for _, uid := range []string{"a", "prom-1_X", strings.Repeat("u", 40)} {
		raw, _ := json.Marshal(map[string]any{"loki": map[string]any{"datasourceUid": uid}})
		if s, errs := loadErrs(t, string(raw), nil); errs != nil || s.Loki.DatasourceUID != uid {
			t.Errorf("uid %q: %v", uid, errs)
		}
	}
	for _, uid := range []string{strings.Repeat("u", 41), "a b", "a/b", "ü", "a.b", "x\x00"} {
		raw, _ := json.Marshal(map[string]any{"tempo": map[string]any{"datasourceUid": uid}})
		_, errs := loadErrs(t, string(raw), nil)
		if !hasField(errs, "tempo.datasourceUid") || len(errs) != 1 {
			t.Errorf("uid %q: %v", uid, fieldsOf(errs))
		}
		if errs.Has("prometheus") || !errs.Has("tempo") {
			t.Errorf("uid %q: error in the wrong section: %v", uid, errs)
		}
	}
	// Ollama is never a datasource: the key is unknown there.
	if _, errs := loadErrs(t, `{"ollama":{"datasourceUid":"x"}}`, nil); !hasField(errs, "ollama.datasourceUid") ||
		!strings.Contains(errs.Error(), "unknown key") {
		t.Errorf("ollama.datasourceUid: %v", errs)
	}
	// A wrong type keeps the default (no uid) and is reported.
	if s, errs := loadErrs(t, `{"alertmanager":{"datasourceUid":7}}`, nil); !hasField(errs, "alertmanager.datasourceUid") ||
		s.Alertmanager.DatasourceUID != "" {
		t.Errorf("wrong type: %v", errs)
	}
	// With a uid, url is ignored: not validated.
	if _, errs := loadErrs(t, `{"prometheus":{"datasourceUid":"prom","url":"not a url"}}`, nil); errs != nil {
		t.Errorf("url must be ignored with a uid: %v", errs)
	}
	// Case-sensitive like every key.
	if _, errs := loadErrs(t, `{"prometheus":{"datasourceUID":"prom"}}`, nil); !hasField(errs, "prometheus.datasourceUID") ||
		!strings.Contains(errs.Error(), `did you mean "datasourceUid"`) {
		t.Errorf("case: %v", errs)
	}
}

func TestProxyURLAuthAndDisplay(t *testing.T) {
	s, err := Load([]byte(`{"prometheus":{"datasourceUid":"prom","tenantId":"t1"},"loki":{"url":"http://loki:3100"}}`),
		map[string]string{SecurePrometheusAuth: "endpoint-secret", SecureGrafanaToken: "glsa_fallback"})
	if err != nil {
		t.Fatal(err)
	}
	p := s.Prometheus
	if !p.ViaGrafana() || s.Loki.ViaGrafana() {
		t.Fatal("ViaGrafana")
	}
	if p.ProxyURL() != "" || p.DisplayURL() != "datasource prom via Grafana (app URL unknown)" {
		t.Errorf("without app URL: %q %q", p.ProxyURL(), p.DisplayURL())
	}
	if v, by := p.ProxyAuth(); v != "Bearer glsa_fallback" || by != ProxyByGrafanaToken {
		t.Errorf("grafanaToken: %q %q", v, by)
	}

	g := s.WithGrafana("http://user:pw@grafana:3000/sub/", "managed-tok")
	p = g.Prometheus
	if p.ProxyURL() != "http://user:pw@grafana:3000/sub/api/datasources/proxy/uid/prom" {
		t.Errorf("ProxyURL = %q", p.ProxyURL())
	}
	if p.DisplayURL() != "datasource prom via Grafana (http://***@grafana:3000/sub)" {
		t.Errorf("DisplayURL = %q", p.DisplayURL())
	}
	if v, by := p.ProxyAuth(); v != "Bearer managed-tok" || by != ProxyByManagedAccount {
		t.Errorf("managed: %q %q", v, by)
	}
	if g.Loki.DisplayURL() != "http://loki:3100" || g.Loki.ProxyURL() != "" {
		t.Errorf("direct endpoint changed: %q", g.Loki.DisplayURL())
	}
	if g.Ollama.ViaGrafana() || g.Ollama.GrafanaAppURL() != "" {
		t.Error("Ollama is never via Grafana")
	}

	none, _ := Load([]byte(`{"prometheus":{"datasourceUid":"prom"}}`), nil)
	if v, by := none.WithGrafana("http://g:3000", "").Prometheus.ProxyAuth(); v != "" || by != "" {
		t.Errorf("no token: %q %q", v, by)
	}
}

// grafanaToken is a secret like the others: validated as a header value,
// never repeated, never in the public view, and shown as configured.
func TestGrafanaTokenIsASecret(t *testing.T) {
	s, errs := loadErrs(t, `{"prometheus":{"datasourceUid":"prom"}}`, map[string]string{SecureGrafanaToken: "zq-tok\nen"})
	if !hasField(errs, "grafanaToken") || strings.Contains(errs.Error(), "zq-tok") {
		t.Errorf("bad grafanaToken: %v", errs)
	}
	if v, by := s.WithGrafana("http://g:3000", "").Prometheus.ProxyAuth(); v != "" || by != ProxyByGrafanaToken {
		t.Errorf("an invalid token must not be sent: %q %q", v, by)
	}
	s, err := Load([]byte(`{"loki":{"datasourceUid":"logs"}}`), map[string]string{SecureGrafanaToken: "zq-token"})
	if err != nil {
		t.Fatal(err)
	}
	pub := s.WithGrafana("http://g:3000", "zq-managed").Public()
	out, _ := json.Marshal(pub)
	if strings.Contains(string(out), "zq-") {
		t.Fatalf("token in public view: %s", out)
	}
	if !pub.SecureConfigured[SecureGrafanaToken] || !strings.Contains(string(out), `"datasourceUid":"logs"`) {
		t.Errorf("public view: %s", out)
	}
	if v, _ := pub.Loki.ProxyAuth(); v != "" {
		t.Error("Public must drop the proxy tokens")
	}
}

// A tenant or an endpoint secret beside a datasourceUid is not used (Grafana
// adds the datasource's own auth and headers): not an error, so provisioning
// that keeps them loads. The configuration page says so on that endpoint.
func TestUnusedTenantAndSecretBesideADatasourceAreNotErrors(t *testing.T) {
	secrets := map[string]string{SecurePrometheusAuth: "p", SecureLokiAuth: "l", SecureTempoAuth: "t", SecureAlertmanagerAuth: "a"}
	for _, section := range []string{"prometheus", "loki", "tempo", "alertmanager"} {
		raw := `{"` + section + `":{"datasourceUid":"ds-1","tenantId":"team-a","tenantHeader":"X-Tenant","url":"http://x:1"}}`
		s, errs := loadErrs(t, raw, secrets)
		if errs != nil {
			t.Errorf("%s: %v", section, errs)
		}
		e := map[string]Endpoint{"prometheus": s.Prometheus, "loki": s.Loki, "tempo": s.Tempo, "alertmanager": s.Alertmanager}[section]
		if !e.ViaGrafana() || e.TenantID != "team-a" || !e.HasAuth() {
			t.Errorf("%s: the values are kept as given: %+v", section, e)
		}
	}
	// They are still validated: a tenant that cannot be a header is an error
	// with or without a datasource.
	if _, errs := loadErrs(t, `{"loki":{"datasourceUid":"ds-1","tenantId":"a\nb"}}`, nil); !hasField(errs, "loki.tenantId") {
		t.Errorf("bad tenant beside a datasource: %v", errs)
	}
}
