package preview

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
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
	cfg, _, err = parseFlags([]string{"--stack", "crashloop", "--stack-eval", "5s"}, &out)
	if err != nil || cfg.Stack != "crashloop" || cfg.StackEval != 5*time.Second || cfg.StackRules != filepath.Join("deploy", "base", "monitoring", "rules") {
		t.Fatalf("--stack: %+v %v", cfg, err)
	}
}

// An unknown --stack scenario stops the preview before anything starts,
// naming the valid ones.
func TestRunRefusesAnUnknownStackScenario(t *testing.T) {
	dist := t.TempDir()
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(dist, "plugin.json"), []byte(`{"id":"meshwatch-mesh-app","type":"app","backend":true,"executable":"gpx_mesh","info":{"version":"0.0.0"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dist, "gpx_mesh_"+runtime.GOOS+"_"+runtime.GOARCH)
	if err := os.WriteFile(exe, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(host, "index.html"), []byte("<html></html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Run(context.Background(), Config{Listen: "127.0.0.1:0", Dist: dist, HostDir: host, Stack: "meltdown",
		StackRules: "../../../deploy/base/monitoring/rules", DefaultRole: Admin}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `--stack meltdown: unknown scenario "meltdown"`) || !strings.Contains(err.Error(), "sidecar-memory-leak") {
		t.Errorf("err = %v", err)
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
