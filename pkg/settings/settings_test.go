package settings

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestDefaultsAreValidAndMatchDeploy(t *testing.T) {
	s, err := Load(nil, nil)
	if err != nil {
		t.Fatalf("defaults must be valid: %v", err)
	}
	if s.Prometheus.URL != "http://prometheus.monitoring.svc:9090" || s.Ollama.Model != "phi3:mini" ||
		s.Kubernetes.Mode != KubeInCluster || s.EvidenceWindowMinutes != 5 {
		t.Fatalf("unexpected defaults: %+v", s)
	}
}

func TestEmptyFieldsFallBackToDefaults(t *testing.T) {
	s, err := Load([]byte(`{"prometheus":{"url":"  ","timeoutSeconds":0},"ollama":{"model":""},"storage":{"path":""}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	d := Defaults()
	if s.Prometheus.URL != d.Prometheus.URL || s.Ollama.Model != d.Ollama.Model || s.Storage.Path != d.Storage.Path {
		t.Fatalf("empty values must mean the default: %+v", s)
	}
}

func TestOverridesAndTrailingSlash(t *testing.T) {
	s, err := Load([]byte(`{"prometheus":{"url":"http://grafana:3000/api/datasources/proxy/uid/prom/","tenantId":"team-a"},
		"ollama":{"url":"http://100.101.102.103:11434","model":"llama3.2:3b","numCtx":8192}}`),
		map[string]string{SecurePrometheusAuth: "glsa_token", SecureOllamaAuth: "Basic dTpw"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Prometheus.URL != "http://grafana:3000/api/datasources/proxy/uid/prom" {
		t.Errorf("trailing slash kept: %s", s.Prometheus.URL)
	}
	if s.Prometheus.Auth() != "Bearer glsa_token" {
		t.Errorf("bare token must become a bearer token: %q", s.Prometheus.Auth())
	}
	if s.Ollama.Auth() != "Basic dTpw" {
		t.Errorf("a value with a scheme must be kept: %q", s.Ollama.Auth())
	}
	if s.Prometheus.TenantID != "team-a" || s.Prometheus.TenantHeader != "X-Scope-OrgID" {
		t.Errorf("tenant: %+v", s.Prometheus)
	}
}

func TestEveryBadValueNamesItsField(t *testing.T) {
	cases := []struct {
		json, field string
		secure      map[string]string
	}{
		{`{"prometheus":{"url":"prometheus:9090"}}`, "prometheus.url", nil},
		{`{"loki":{"url":"ftp://loki"}}`, "loki.url", nil},
		{`{"tempo":{"url":"http://user:pw@tempo:3200"}}`, "tempo.url", nil},
		{`{"alertmanager":{"timeoutSeconds":-1}}`, "alertmanager.timeoutSeconds", nil},
		{`{"prometheus":{"tenantHeader":"X Scope"}}`, "prometheus.tenantHeader", nil},
		{`{"ollama":{"model":"phi 3"}}`, "ollama.model", nil},
		{`{"ollama":{"numCtx":100}}`, "ollama.numCtx", nil},
		{`{"ollama":{"numPredict":99999}}`, "ollama.numPredict", nil},
		{`{"kubernetes":{"mode":"kubeconfig"}}`, "kubernetes.mode", nil},
		{`{"kubernetes":{"mode":"url"}}`, "kubernetes.url", nil},
		{`{"kubernetes":{"mode":"url","url":"https://10.0.0.1:6443"}}`, "kubernetes token", nil},
		{`{"kubernetes":{"mode":"url","url":"https://k:6443","caCert":"nope"}}`, "kubernetes.caCert", map[string]string{SecureKubernetesToken: "t"}},
		{`{"kubernetes":{"namespaces":["Shop_1"]}}`, "kubernetes.namespaces[0]", nil},
		{`{"storage":{"path":"data/mw.db"}}`, "storage.path", nil},
		{`{"evidenceWindowMinutes":1000}`, "evidenceWindowMinutes", nil},
		// A wrong-typed value names its own field (it used to name "jsonData",
		// which now means the document as a whole and concerns every section).
		{`{"prometheus":{"url":42}}`, "prometheus.url", nil},
		{`{"prometheus":`, "jsonData", nil},
		{`{}`, "prometheus secret", map[string]string{SecurePrometheusAuth: "a\nb"}},
	}
	for _, c := range cases {
		_, err := Load([]byte(c.json), c.secure)
		var errs Errors
		if !errors.As(err, &errs) {
			t.Errorf("%s: want field errors, got %v", c.json, err)
			continue
		}
		found := false
		for _, e := range errs {
			if e.Field == c.field && e.Message != "" {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no error for %s in %v", c.json, c.field, errs)
		}
	}
}

func TestPublicViewNeverCarriesSecrets(t *testing.T) {
	secrets := map[string]string{}
	for _, k := range SecureKeys {
		secrets[k] = "s3cr3t-" + k
	}
	s, err := Load([]byte(`{"kubernetes":{"mode":"url","url":"https://k:6443"}}`), secrets)
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(s.Public())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "s3cr3t") {
		t.Fatalf("secret in public view: %s", out)
	}
	var view struct {
		SecureConfigured map[string]bool `json:"secureConfigured"`
	}
	_ = json.Unmarshal(out, &view)
	for _, k := range SecureKeys {
		if !view.SecureConfigured[k] {
			t.Errorf("%s should show as configured", k)
		}
	}
	if s.Kubernetes.Token() != "s3cr3t-kubernetesToken" {
		t.Error("secrets must still reach the backend")
	}
}

// A URL with credentials is refused, and the refusal does not repeat them
// (it reaches logs, the health report and the alerts stream's viewers).
func TestURLCredentialsAreNeverRepeated(t *testing.T) {
	for _, raw := range []string{
		`{"prometheus":{"url":"http://admin:hunter2@prometheus:9090"}}`,
		`{"loki":{"url":"ftp://admin:hunter2@loki:3100"}}`,
		`{"tempo":{"url":"http://admin:hunter2@tempo:3200/%zz"}}`,
		`{"kubernetes":{"mode":"url","url":"https://admin:hunter2@10.0.0.1:6443"}}`,
	} {
		_, err := Load([]byte(raw), nil)
		if err == nil {
			t.Errorf("%s: accepted", raw)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: error repeats the password: %v", raw, err)
		}
		if !strings.Contains(err.Error(), ".url") {
			t.Errorf("%s: error does not name the field: %v", raw, err)
		}
	}
	if got := shownURL("see http://grafana/a and https://u:p@h/x"); got != "see http://grafana/a and https://***@h/x" {
		t.Errorf("shownURL: %s", got)
	}
}
