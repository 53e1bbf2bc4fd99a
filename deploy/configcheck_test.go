package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
)

// run executes a tool and returns its combined output.
func run(t testing.TB, timeout time.Duration, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s %s: %w", filepath.Base(bin), strings.Join(args, " "), err)
	}
	return out.String(), err
}

// promtoolCheckConfig runs `promtool check config` (which also checks every
// rule file the config names), like harness.CheckRules does for rules.
func promtoolCheckConfig(t testing.TB, file string) (string, error) {
	t.Helper()
	return run(t, 2*time.Minute, harness.RequireBinary(t, harness.BinPromtool), "check", "config", file)
}

// materialize writes the rendered prometheus.yml and rule files into dir,
// with the in-pod paths (rules mount, ServiceAccount token) rewritten to
// files under dir, and returns the config's path.
func materializePrometheus(t *testing.T, dir string) string {
	objs := render(t, overlays[0])
	cfg := configMapFile(t, objs, "prometheus-config", "prometheus.yml")
	rulesDir := filepath.Join(dir, "rules")
	if err := os.MkdirAll(rulesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	rules := find(t, objs, "ConfigMap", "monitoring", "prometheus-rules")
	data, _, _ := unstructured.NestedStringMap(rules.Object, "data")
	for name, content := range data {
		if err := os.WriteFile(filepath.Join(rulesDir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("token"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The mount paths must be the ones the Deployment uses.
	d := find(t, objs, "Deployment", "monitoring", "prometheus")
	spec, _ := podSpec(d)
	mounts := map[string]string{}
	for _, c := range containers(spec) {
		vms, _ := c.m["volumeMounts"].([]any)
		for _, m := range vms {
			mm := m.(map[string]any)
			mounts[mm["name"].(string)] = mm["mountPath"].(string)
		}
	}
	if mounts["rules"] != "/etc/prometheus/rules" || mounts["config"] != "/etc/prometheus/prometheus.yml" {
		t.Fatalf("prometheus mounts %v: want rules at /etc/prometheus/rules and the config at /etc/prometheus/prometheus.yml", mounts)
	}
	cfg = strings.ReplaceAll(cfg, "/etc/prometheus/rules/", rulesDir+"/")
	cfg = strings.ReplaceAll(cfg, "/var/run/secrets/kubernetes.io/serviceaccount/token", token)
	if strings.Contains(cfg, "/etc/prometheus") || strings.Contains(cfg, "/var/run/secrets") {
		t.Fatalf("prometheus.yml refers to an in-pod path this test does not provide:\n%s", cfg)
	}
	path := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPrometheusConfig(t *testing.T) {
	dir := t.TempDir()
	path := materializePrometheus(t, dir)

	var cfg struct {
		Global struct {
			ScrapeInterval     string `json:"scrape_interval"`
			EvaluationInterval string `json:"evaluation_interval"`
		} `json:"global"`
		RuleFiles []string `json:"rule_files"`
		Alerting  struct {
			Alertmanagers []struct {
				StaticConfigs []struct {
					Targets []string `json:"targets"`
				} `json:"static_configs"`
			} `json:"alertmanagers"`
		} `json:"alerting"`
		ScrapeConfigs []struct {
			JobName        string `json:"job_name"`
			ScrapeInterval string `json:"scrape_interval"`
			HonorLabels    bool   `json:"honor_labels"`
		} `json:"scrape_configs"`
	}
	readYAMLFile(t, path, &cfg)
	if cfg.Global.ScrapeInterval != "15s" {
		t.Errorf("scrape_interval %q, want 15s", cfg.Global.ScrapeInterval)
	}
	if len(cfg.RuleFiles) == 0 {
		t.Error("no rule_files")
	}
	if len(cfg.Alerting.Alertmanagers) != 1 || !slices.Contains(cfg.Alerting.Alertmanagers[0].StaticConfigs[0].Targets, "alertmanager.monitoring.svc:9093") {
		t.Errorf("alerting %+v: want alertmanager.monitoring.svc:9093", cfg.Alerting)
	}
	// The job names the dashboards, rules and simulator use.
	jobs := map[string]bool{}
	for _, s := range cfg.ScrapeConfigs {
		jobs[s.JobName] = true
		if s.ScrapeInterval != "" && s.ScrapeInterval != "15s" {
			t.Errorf("job %s scrapes every %s, want the global 15s", s.JobName, s.ScrapeInterval)
		}
		if (s.JobName == "kubernetes-pods" || s.JobName == "kube-state-metrics") && !s.HonorLabels {
			t.Errorf("job %s needs honor_labels (Flagger's and kube-state-metrics' namespace label)", s.JobName)
		}
	}
	for _, j := range []string{"kubernetes-pods", "kubernetes-nodes", "kubernetes-nodes-cadvisor", "kube-state-metrics", "node-exporter", "prometheus"} {
		if !jobs[j] {
			t.Errorf("no scrape job %s", j)
		}
	}

	out, err := promtoolCheckConfig(t, path)
	t.Logf("promtool check config:\n%s", out)
	if err != nil {
		t.Fatal(err)
	}
	rules, _ := filepath.Glob(filepath.Join(dir, "rules", "*"))
	if len(rules) > 0 && !strings.Contains(out, "rule files found") {
		t.Errorf("promtool did not check the %d rule files", len(rules))
	}

	// The check has teeth: an unknown field and a broken rule both fail it.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(bad, []byte(strings.Replace(string(b), "scrape_timeout:", "scrape_timeoutz:", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := promtoolCheckConfig(t, bad); err == nil {
		t.Errorf("promtool accepted an unknown field:\n%s", out)
	}
	badRules := filepath.Join(dir, "badrules")
	if err := os.MkdirAll(badRules, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(badRules, "x.yaml"), []byte("groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: rate(up[5m]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(strings.ReplaceAll(string(b), filepath.Join(dir, "rules")+"/", badRules+"/")), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := promtoolCheckConfig(t, bad); err == nil {
		t.Errorf("promtool accepted a broken rule file:\n%s", out)
	}
}

// The rendered rule ConfigMap keeps the rules byte for byte.
func TestRuleFilesRenderUnchanged(t *testing.T) {
	files, _ := filepath.Glob("base/monitoring/rules/*.yaml")
	cm := find(t, render(t, overlays[0]), "ConfigMap", "monitoring", "prometheus-rules")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, _, _ := unstructured.NestedString(cm.Object, "data", filepath.Base(f))
		if got != string(b) {
			t.Errorf("%s changed on the way into the ConfigMap", f)
		}
	}
}

// TestLokiConfig has the real Loki binary verify the rendered config.
func TestLokiConfig(t *testing.T) {
	bin := harness.RequireBinary(t, harness.BinLoki)
	dir := t.TempDir()
	cfg := configMapFile(t, render(t, overlays[0]), "loki-config", "loki.yaml")
	cfg = strings.ReplaceAll(cfg, "/var/loki", filepath.Join(dir, "loki"))
	path := filepath.Join(dir, "loki.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, time.Minute, bin, "-verify-config", "-config.file="+path, "-target=all")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// Negative control: an unknown field fails the same check.
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(strings.Replace(cfg, "retention_period:", "retention_periodz:", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, time.Minute, bin, "-verify-config", "-config.file="+bad, "-target=all"); err == nil {
		t.Errorf("loki -verify-config accepted an unknown field:\n%s", out)
	}
	t.Logf("loki -verify-config: rendered config ok, unknown field rejected")
}

// TestAlertmanagerConfigLoads starts the real Alertmanager on the rendered
// config (it has no offline check mode; the repository has no amtool check)
// and waits until it is ready, then has it deliver to the intake route
// (intake_test.go), for the rendered config and the compose stack's.
func TestAlertmanagerConfigLoads(t *testing.T) {
	bin := harness.RequireBinary(t, harness.BinAlertmanager)
	dir := t.TempDir()
	cfg := configMapFile(t, render(t, overlays[0]), "alertmanager-config", "alertmanager.yml")
	_, wh := theWebhook(t, "alertmanager.yml", cfg)
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("test-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg = strings.ReplaceAll(cfg, wh.HTTPConfig.Authorization.CredentialsFile, token)
	path := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	// Negative control: Alertmanager exits on a config with an unknown field.
	bad := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(bad, []byte(strings.Replace(cfg, "group_by:", "group_byz:", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, 30*time.Second, bin, "--config.file="+bad, "--storage.path="+filepath.Join(dir, "bad-data"),
		"--web.listen-address=127.0.0.1:0", "--cluster.listen-address="); err == nil || !strings.Contains(out, "group_byz") {
		t.Errorf("alertmanager did not refuse an unknown field: err=%v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--config.file="+path, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case err := <-done:
			t.Fatalf("alertmanager exited on the rendered config: %v\n%s", err, out.String())
		case <-deadline:
			t.Fatalf("alertmanager not ready after 30s\n%s", out.String())
		case <-time.After(200 * time.Millisecond):
		}
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				cancel()
				<-done
				break
			}
		}
	}

	t.Run("delivers to the intake route (rendered config)", func(t *testing.T) {
		testAlertmanagerDelivery(t, configMapFile(t, render(t, overlays[0]), "alertmanager-config", "alertmanager.yml"),
			"http://grafana.monitoring.svc:3000")
	})
	t.Run("delivers to the intake route (compose/alertmanager.yml)", func(t *testing.T) {
		b, err := os.ReadFile("compose/alertmanager.yml")
		if err != nil {
			t.Fatal(err)
		}
		testAlertmanagerDelivery(t, string(b), "http://grafana:3000")
	})
}
