package preview

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestProvisioningInterpolatesEnvLikeGrafana(t *testing.T) {
	file := filepath.Join(t.TempDir(), "apps.yaml")
	yaml := `apiVersion: 1
apps:
  - type: other-app
    jsonData: {a: 1}
  - type: meshwatch-mesh-app
    org_id: 1
    disabled: false
    jsonData:
      prometheus:
        url: http://$PROM_HOST:9090
      evidenceWindowMinutes: 5
      literal: "cost $$5"
    secureJsonData:
      prometheusAuth: ${PROM_TOKEN}
`
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PROM_HOST": "prom.local", "PROM_TOKEN": "tok"}
	app, err := loadProvisioning(file, "meshwatch-mesh-app", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if got := app.JSONData["prometheus"].(map[string]any)["url"]; got != "http://prom.local:9090" {
		t.Errorf("url %v", got)
	}
	if app.JSONData["literal"] != "cost $5" || app.JSONData["evidenceWindowMinutes"] != 5 || app.SecureJSONData["prometheusAuth"] != "tok" {
		t.Errorf("app %+v", app)
	}
	if _, err := loadProvisioning(file, "missing-app", os.Getenv); err == nil {
		t.Error("want an error for an app that is not provisioned")
	}
}

func TestOverridesSetDottedPaths(t *testing.T) {
	jd := map[string]any{"prometheus": map[string]any{"url": "old", "tenantId": "t"}, "loki": "not-an-object"}
	for _, s := range []string{"prometheus.url=http://127.0.0.1:9090", "evidenceWindowMinutes=10", "loki.url=http://l", `kubernetes.namespaces=["a","b"]`, "ollama.allowExternal=true"} {
		o, err := parseOverride(s)
		if err != nil {
			t.Fatal(err)
		}
		o.apply(jd)
	}
	want := map[string]any{
		"prometheus":            map[string]any{"url": "http://127.0.0.1:9090", "tenantId": "t"},
		"evidenceWindowMinutes": float64(10),
		"loki":                  map[string]any{"url": "http://l"},
		"kubernetes":            map[string]any{"namespaces": []any{"a", "b"}},
		"ollama":                map[string]any{"allowExternal": true},
	}
	if !reflect.DeepEqual(jd, want) {
		t.Fatalf("got %#v", jd)
	}
	for _, bad := range []string{"novalue", "=x", "a..b=1"} {
		if _, err := parseOverride(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestFlags(t *testing.T) {
	var out strings.Builder
	cfg, done, err := parseFlags([]string{"--listen", "127.0.0.1:0", "--set", "a.b=1", "--set", "c=x", "--role", "viewer"}, &out)
	if err != nil || done || cfg.Listen != "127.0.0.1:0" || len(cfg.Sets) != 2 || cfg.DefaultRole != Viewer {
		t.Fatalf("cfg %+v done %v err %v", cfg, done, err)
	}
	if _, done, err := parseFlags([]string{"--limits"}, &out); err != nil || !done || !strings.Contains(out.String(), "not Grafana") {
		t.Fatalf("--limits: %v %v %q", done, err, out.String())
	}
	if _, _, err := parseFlags([]string{"--role", "Owner"}, &out); err == nil {
		t.Fatal("want an error for an unknown role")
	}
}

func TestPluginEnvIsGrafanasOnly(t *testing.T) {
	env := pluginEnv(pluginMeta{Info: struct {
		Version string `json:"version"`
	}{Version: "1.0.0"}}, "http://127.0.0.1:3001/")
	want := []string{"GF_VERSION=" + grafanaVersion, "GF_EDITION=oss", "GF_PLUGIN_VERSION=1.0.0", "GF_APP_URL=http://127.0.0.1:3001/"}
	if !reflect.DeepEqual(env, want) {
		t.Fatalf("env %v", env)
	}
}
