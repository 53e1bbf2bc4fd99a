package plugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/meshwatch/meshwatch/pkg/devkit/contractfake"
	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/devkit/pluginhost"
	"github.com/meshwatch/meshwatch/pkg/plugin"
)

// buildPlugin compiles ./pkg the way mage does (CGO off, the SDK's build tag
// and build info) into a temp dir, once per test binary.
func buildPlugin(t *testing.T) string {
	t.Helper()
	if builtPlugin != "" {
		return builtPlugin
	}
	dir, err := os.MkdirTemp("", "meshwatch-protocol-")
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "gpx_mesh_test")
	info := `{"pluginID":"meshwatch-mesh-app","version":"9.9.9-test"}`
	cmd := exec.Command("go", "build", "-tags", "arrow_json_stdlib", "-o", exe,
		"-ldflags", "-X 'github.com/grafana/grafana-plugin-sdk-go/build/buildinfo.buildInfoJSON="+info+"'", "../")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the plugin binary: %v\n%s", err, out)
	}
	builtPlugin = exe
	return exe
}

var builtPlugin string

func TestMain(m *testing.M) {
	code := m.Run()
	if builtPlugin != "" {
		_ = os.RemoveAll(filepath.Dir(builtPlugin))
	}
	os.Exit(code)
}

// startPlugin runs the binary with the environment Grafana >= 12.4 gives a
// plugin: GF_* variables only, no host environment.
// syncBuffer is the plugin log: go-plugin's stderr goroutine writes it while
// the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startBinaryLog runs a plugin binary with the environment Grafana gives it.
func startBinaryLog(path string, logs io.Writer) (*pluginhost.Plugin, error) {
	return pluginhost.Start(pluginhost.Options{
		Path: path,
		Env:  []string{"GF_VERSION=13.1.0", "GF_EDITION=oss", "GF_PLUGIN_VERSION=9.9.9-test", "GF_APP_URL=http://127.0.0.1:3000/"},
		Log:  logs,
	})
}

// startBinary runs another build of the plugin (a baseline), logs discarded.
func startBinary(_ *testing.T, path string) (*pluginhost.Plugin, error) {
	return startBinaryLog(path, io.Discard)
}

func startPlugin(t *testing.T) (*pluginhost.Plugin, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	p, err := startBinaryLog(buildPlugin(t), logs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("plugin log:\n%s", logs.String())
		}
	})
	return p, logs
}

func pluginContext(t *testing.T, jsonData map[string]any, secure map[string]string) backend.PluginContext {
	t.Helper()
	raw, err := json.Marshal(jsonData)
	if err != nil {
		t.Fatal(err)
	}
	return backend.PluginContext{
		OrgID:    1,
		PluginID: "meshwatch-mesh-app",
		User:     &backend.User{Login: "admin", Name: "Admin", Email: "admin@example.com", Role: "Admin"},
		AppInstanceSettings: &backend.AppInstanceSettings{
			JSONData: raw, DecryptedSecureJSONData: secure, Updated: time.Unix(1700000000, 0),
		},
		GrafanaConfig: backend.NewGrafanaCfg(map[string]string{"GF_APP_URL": "http://127.0.0.1:3000/"}),
	}
}

func call(t *testing.T, p *pluginhost.Plugin, pc backend.PluginContext, method, path string, body []byte, headers map[string][]string) *pluginhost.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := p.CallResource(ctx, &backend.CallResourceRequest{
		PluginContext: pc, Path: path, Method: method, URL: "/api/plugins/meshwatch-mesh-app/resources/" + path,
		Headers: headers, Body: body,
	})
	if err != nil {
		t.Fatalf("CallResource %s %s: %v", method, path, err)
	}
	return resp
}

type errorBody struct {
	Error  string `json:"error"`
	Detail string `json:"detail"`
}

func decodeError(t *testing.T, r *pluginhost.Response) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(r.Body, &e); err != nil || e.Error == "" {
		t.Fatalf("want the {error, detail} body, got %q (%v)", r.Body, err)
	}
	return e
}

func TestProtocolResources(t *testing.T) {
	p, logs := startPlugin(t)
	pc := pluginContext(t, map[string]any{"storage": map[string]any{"path": filepath.Join(t.TempDir(), "mw.db")}},
		map[string]string{"prometheusAuth": "s3cr3t-prom-token", "kubernetesToken": "s3cr3t-kube-token"})
	jsonCT := map[string][]string{"Content-Type": {"application/json"}}

	t.Run("ping carries the build version", func(t *testing.T) {
		r := call(t, p, pc, http.MethodGet, "ping", nil, nil)
		if r.Status != 200 || !strings.Contains(string(r.Body), `"version":"9.9.9-test"`) {
			t.Fatalf("ping: %d %s", r.Status, r.Body)
		}
	})

	t.Run("settings show defaults and never a secret", func(t *testing.T) {
		r := call(t, p, pc, http.MethodGet, "settings", nil, nil)
		if r.Status != 200 {
			t.Fatalf("settings: %d %s", r.Status, r.Body)
		}
		body := string(r.Body)
		for _, want := range []string{`"model":"phi3:mini"`, `http://prometheus.monitoring.svc:9090`, `"prometheusAuth":true`, `"lokiAuth":false`} {
			if !strings.Contains(body, want) {
				t.Errorf("settings lack %s: %s", want, body)
			}
		}
		if strings.Contains(body, "s3cr3t") {
			t.Fatalf("a secret leaked into the settings response: %s", body)
		}
	})

	t.Run("validate names each bad field", func(t *testing.T) {
		r := call(t, p, pc, http.MethodPost, "settings/validate",
			[]byte(`{"jsonData":{"prometheus":{"url":"prometheus:9090"},"kubernetes":{"mode":"url"}},"secureJsonFields":{}}`), jsonCT)
		var v struct {
			Valid  bool `json:"valid"`
			Errors []struct{ Field, Message string }
		}
		if err := json.Unmarshal(r.Body, &v); err != nil || r.Status != 200 {
			t.Fatalf("validate: %d %s", r.Status, r.Body)
		}
		fields := map[string]bool{}
		for _, e := range v.Errors {
			fields[e.Field] = true
		}
		if v.Valid || !fields["prometheus.url"] || !fields["kubernetes.url"] || !fields["kubernetes token"] {
			t.Fatalf("want prometheus.url, kubernetes.url and kubernetes token errors, got %s", r.Body)
		}
	})

	t.Run("malformed JSON is a 400 with detail", func(t *testing.T) {
		r := call(t, p, pc, http.MethodPost, "settings/validate", []byte(`{"jsonData": {`), jsonCT)
		if e := decodeError(t, r); r.Status != 400 || e.Error != "malformed JSON body" || e.Detail == "" {
			t.Fatalf("got %d %+v", r.Status, e)
		}
	})

	t.Run("oversized body is a 413", func(t *testing.T) {
		big := `{"jsonData":{"x":"` + strings.Repeat("a", 300<<10) + `"}}`
		r := call(t, p, pc, http.MethodPost, "settings/validate", []byte(big), jsonCT)
		if e := decodeError(t, r); r.Status != 413 || !strings.Contains(e.Detail, "limit") {
			t.Fatalf("got %d %+v", r.Status, e)
		}
	})

	t.Run("wrong method is a 405 naming the allowed one", func(t *testing.T) {
		r := call(t, p, pc, http.MethodDelete, "settings", nil, nil)
		if e := decodeError(t, r); r.Status != 405 || !strings.Contains(e.Detail, "GET") {
			t.Fatalf("got %d %+v", r.Status, e)
		}
	})

	t.Run("an empty POST body is a 400 in the error shape, not a panic", func(t *testing.T) {
		for _, body := range [][]byte{nil, {}} {
			r := call(t, p, pc, http.MethodPost, "settings/validate", body, jsonCT)
			if e := decodeError(t, r); r.Status != 400 || e.Error != "malformed JSON body" || !strings.Contains(e.Detail, "empty") {
				t.Fatalf("empty body: %d %+v", r.Status, e)
			}
		}
		if strings.Contains(logs.String(), "panic") {
			t.Fatalf("the plugin panicked:\n%s", logs.String())
		}
	})

	t.Run("settings are for org admins only", func(t *testing.T) {
		for _, u := range []*backend.User{nil, {Login: "v", Role: "Viewer"}, {Login: "e", Role: "Editor"}, {Login: "n", Role: "None"}} {
			other := pc
			other.User = u
			for _, route := range []struct{ method, path string }{{http.MethodGet, "settings"}, {http.MethodPost, "settings/validate"}} {
				r := call(t, p, other, route.method, route.path, []byte(`{"jsonData":{}}`), jsonCT)
				want := 403
				if u == nil {
					want = 401
				}
				if e := decodeError(t, r); r.Status != want || e.Error == "" || e.Detail == "" {
					t.Errorf("%+v %s %s: %d %s", u, route.method, route.path, r.Status, r.Body)
				}
				if strings.Contains(string(r.Body), "monitoring.svc") {
					t.Errorf("%+v: the refusal carries settings: %s", u, r.Body)
				}
			}
		}
	})

	t.Run("URL credentials never reach a response", func(t *testing.T) {
		creds := pluginContext(t, map[string]any{
			"prometheus": map[string]any{"url": "http://admin:pa%23ss-w0rd@127.0.0.1:1"},
			"loki":       map[string]any{"url": "http://u:p@ss@127.0.0.1:1"},
			"kubernetes": map[string]any{"mode": "disabled"},
			"storage":    map[string]any{"path": filepath.Join(t.TempDir(), "mw.db")},
		}, nil)
		r := call(t, p, creds, http.MethodGet, "settings", nil, nil)
		if r.Status != 200 {
			t.Fatalf("settings: %d %s", r.Status, r.Body)
		}
		res, err := p.CheckHealth(context.Background(), creds)
		if err != nil {
			t.Fatal(err)
		}
		all := string(r.Body) + res.Message + string(res.JSONDetails) + logs.String()
		for _, secret := range []string{"pa%23ss", "pa#ss", "w0rd", "ss@127", "u:p"} {
			if strings.Contains(all, secret) {
				t.Errorf("%q reached a response or the log:\n%s\n%s", secret, r.Body, res.Message)
			}
		}
	})

	t.Run("unknown route is a 404 in the error shape", func(t *testing.T) {
		r := call(t, p, pc, http.MethodGet, "no/such/route", nil, nil)
		if e := decodeError(t, r); r.Status != 404 || !strings.Contains(e.Detail, "/no/such/route") {
			t.Fatalf("got %d %+v", r.Status, e)
		}
	})
}

func TestProtocolHealthRequiredDependencyDown(t *testing.T) {
	p, logs := startPlugin(t)
	down := plugin.ClosedURL(t)
	pc := pluginContext(t, map[string]any{
		"prometheus":   map[string]any{"url": down, "timeoutSeconds": 2},
		"loki":         map[string]any{"url": down},
		"tempo":        map[string]any{"url": down},
		"alertmanager": map[string]any{"url": down},
		"ollama":       map[string]any{"url": down},
		"kubernetes":   map[string]any{"mode": "disabled"},
		"storage":      map[string]any{"path": filepath.Join(t.TempDir(), "db", "mw.db")},
	}, map[string]string{"prometheusAuth": "s3cr3t-prom-token"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := p.CheckHealth(ctx, pc)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != backend.HealthStatusError {
		t.Fatalf("Prometheus down must be an error, got %v:\n%s", res.Status, res.Message)
	}
	lines := strings.Split(res.Message, "\n")
	want := map[string]string{"FAIL Prometheus": "prometheus.url", "WARN Loki": "loki.url", "WARN Tempo": "tempo.url",
		"WARN Alertmanager": "alertmanager.url", "WARN Ollama": "ollama.url", "OFF  Kubernetes API": "disabled", "OK   Storage": "open incidents"}
	for prefix, advice := range want {
		found := false
		for _, l := range lines {
			if strings.HasPrefix(l, prefix) {
				found = true
				if !strings.Contains(l, advice) {
					t.Errorf("line %q should mention %q", l, advice)
				}
			}
		}
		if !found {
			t.Errorf("no line starting %q in:\n%s", prefix, res.Message)
		}
	}
	var details struct {
		Status  string `json:"status"`
		Results []struct {
			Name, Status string
		} `json:"results"`
	}
	if err := json.Unmarshal(res.JSONDetails, &details); err != nil || details.Status != "error" || len(details.Results) != 7 {
		t.Fatalf("details: %s (%v)", res.JSONDetails, err)
	}
	if strings.Contains(res.Message+string(res.JSONDetails)+logs.String(), "s3cr3t") {
		t.Fatal("a secret leaked into the health answer or the plugin log")
	}
}

func TestProtocolHealthInvalidSettings(t *testing.T) {
	p, _ := startPlugin(t)
	pc := pluginContext(t, map[string]any{
		"prometheus": map[string]any{"url": "ftp://prometheus"},
		"ollama":     map[string]any{"numCtx": 10},
		"storage":    map[string]any{"path": "relative/path.db"},
		"kubernetes": map[string]any{"mode": "disabled"},
	}, nil)
	res, err := p.CheckHealth(context.Background(), pc)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != backend.HealthStatusError {
		t.Fatalf("invalid settings must fail the health check: %s", res.Message)
	}
	for _, field := range []string{"prometheus.url", "ollama.numCtx", "storage.path"} {
		if !strings.Contains(res.Message, "FAIL Settings: "+field+":") {
			t.Errorf("health message does not name %s:\n%s", field, res.Message)
		}
	}
}

// TestProtocolHealthAgainstRealServers checks every dependency line against
// real Prometheus, Alertmanager, Loki and kube-apiserver (with Flagger's
// CRDs), and contract fakes of Tempo and Ollama, which cannot run here.
func TestProtocolHealthAgainstRealServers(t *testing.T) {
	prom := harness.StartPrometheus(t, harness.PrometheusOptions{})
	am := harness.StartAlertmanager(t, harness.AlertmanagerOptions{})
	loki := harness.StartLoki(t)
	kube := harness.StartKube(t)
	tempo := contractfake.Tempo(t, "2.8.2")
	ollama := contractfake.Ollama(t, "0.12.6", "phi3:mini")

	p, _ := startPlugin(t)
	pc := pluginContext(t, map[string]any{
		"prometheus":   map[string]any{"url": prom.URL},
		"loki":         map[string]any{"url": loki.URL},
		"tempo":        map[string]any{"url": tempo.URL},
		"alertmanager": map[string]any{"url": am.URL},
		"ollama":       map[string]any{"url": ollama.URL, "model": "phi3:mini"},
		"kubernetes":   map[string]any{"mode": "url", "url": kube.URL, "caCert": string(kube.AdminConfig.CAData)},
		"storage":      map[string]any{"path": filepath.Join(t.TempDir(), "mw.db")},
	}, map[string]string{"kubernetesToken": kube.AdminConfig.BearerToken})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := p.CheckHealth(ctx, pc)
	if err != nil {
		t.Fatal(err)
	}
	var details struct {
		Status  string `json:"status"`
		Results []struct {
			Name, Status, Version, Message string
		} `json:"results"`
	}
	if err := json.Unmarshal(res.JSONDetails, &details); err != nil {
		t.Fatal(err)
	}
	if res.Status != backend.HealthStatusOk || details.Status != "ok" {
		t.Fatalf("all dependencies up, want OK:\n%s", res.Message)
	}
	for _, r := range details.Results {
		if r.Status != "ok" {
			t.Errorf("%s: %s %s", r.Name, r.Status, r.Message)
		}
		if r.Name != "Storage" && r.Version == "" {
			t.Errorf("%s: the version its API reports is missing", r.Name)
		}
	}
	if !strings.Contains(res.Message, "Flagger API flagger.app/v1beta1 served") ||
		!strings.Contains(res.Message, "model phi3:mini present; LLM address is loopback") {
		t.Errorf("missing Flagger or Ollama facts:\n%s", res.Message)
	}
	if strings.Contains(res.Message, kube.AdminConfig.BearerToken) {
		t.Fatal("the Kubernetes token leaked into the health message")
	}
	t.Logf("health against real servers:\n%s", res.Message)
}

// TestProtocolAlertsStream joins the alerts Live channel over the plugin
// protocol (SubscribeStream, then RunStream as Grafana runs it) against a
// real Prometheus evaluating one firing and one pending alert.
func TestProtocolAlertsStream(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(rules, []byte(plugin.AlertRulesForTest), 0o600); err != nil {
		t.Fatal(err)
	}
	prom := harness.StartPrometheus(t, harness.PrometheusOptions{RuleFiles: []string{rules}, EvaluationInterval: time.Second})
	p, logs := startPlugin(t)
	pc := pluginContext(t, map[string]any{
		"prometheus": map[string]any{"url": prom.URL},
		"kubernetes": map[string]any{"mode": "disabled"},
		"storage":    map[string]any{"path": filepath.Join(t.TempDir(), "mw.db")},
	}, map[string]string{"prometheusAuth": "s3cr3t-prom-token"})
	pc.User = &backend.User{Login: "viewer", Role: "Viewer"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	sub, err := p.SubscribeStream(ctx, &backend.SubscribeStreamRequest{PluginContext: pc, Path: "alerts", Data: []byte(`{"intervalMs":1000}`)})
	if err != nil || sub.Status != backend.SubscribeStreamStatusOK {
		t.Fatalf("subscribe alerts: %+v %v", sub, err)
	}
	if sub.InitialData == nil {
		t.Error("the subscription carries no initial frame")
	}
	if nf, err := p.SubscribeStream(ctx, &backend.SubscribeStreamRequest{PluginContext: pc, Path: "no-such-channel"}); err != nil ||
		nf.Status != backend.SubscribeStreamStatusNotFound {
		t.Errorf("unknown channel path: %+v %v", nf, err)
	}

	type alertRow struct{ state, name, workload, summary string }
	var got []alertRow
	errDone := errors.New("both alerts seen")
	err = p.RunStream(ctx, &backend.RunStreamRequest{PluginContext: pc, Path: "alerts", Data: []byte(`{"intervalMs":1000}`)},
		func(pkt *backend.StreamPacket) error {
			var f data.Frame
			if err := json.Unmarshal(pkt.Data, &f); err != nil {
				return err
			}
			if f.Meta != nil && len(f.Meta.Notices) > 0 {
				return fmt.Errorf("notice from a healthy Prometheus: %+v", f.Meta.Notices)
			}
			n, _ := f.RowLen()
			got = got[:0]
			for i := 0; i < n; i++ {
				got = append(got, alertRow{f.Fields[0].At(i).(string), f.Fields[1].At(i).(string),
					f.Fields[2].At(i).(string) + "/" + f.Fields[3].At(i).(string), f.Fields[6].At(i).(string)})
			}
			if n == 2 {
				return errDone
			}
			return nil
		})
	if !errors.Is(err, errDone) {
		t.Fatalf("stream ended before both alerts arrived: %v (last rows %+v)", err, got)
	}
	want := []alertRow{
		{"firing", "CheckoutErrorBudgetBurn", "shop/checkout", "checkout is burning its error budget"},
		{"pending", "CartLatencyRising", "shop/cart", "cart p99 latency is rising"},
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("rows\n got %+v\nwant %+v", got, want)
	}
	if strings.Contains(logs.String(), "s3cr3t") {
		t.Fatal("the Prometheus credential leaked into the plugin log")
	}
}

// TestProtocolSettingsSaveEndsOldStream saves new settings while the alerts
// stream runs, as an admin would on the configuration page. Grafana's SDK
// builds a new instance and disposes of the old one a few seconds later: the
// old stream must then end with the settings-changed error (Grafana
// re-establishes it on the new instance), and the old Prometheus must not
// be called again with the old settings.
func TestProtocolSettingsSaveEndsOldStream(t *testing.T) {
	var oldHits, newHits atomic.Int64
	prom := func(hits *atomic.Int64) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/api/v1/alerts" {
				hits.Add(1)
			}
			_, _ = w.Write([]byte(`{"status":"success","data":{"alerts":[]}}`))
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	oldURL, newURL := prom(&oldHits), prom(&newHits)
	p, _ := startPlugin(t)
	settingsAt := func(url string, updated int64) backend.PluginContext {
		pc := pluginContext(t, map[string]any{"prometheus": map[string]any{"url": url}, "kubernetes": map[string]any{"mode": "disabled"}},
			map[string]string{"prometheusAuth": "old-s3cr3t"})
		pc.AppInstanceSettings.Updated = time.Unix(updated, 0)
		pc.User = &backend.User{Login: "viewer", Role: "Viewer"}
		return pc
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	frames := make(chan struct{}, 10)
	ended := make(chan error, 1)
	go func() {
		ended <- p.RunStream(ctx, &backend.RunStreamRequest{PluginContext: settingsAt(oldURL, 1700000000), Path: "alerts"},
			func(*backend.StreamPacket) error { frames <- struct{}{}; return nil })
	}()
	select {
	case <-frames:
	case <-time.After(20 * time.Second):
		t.Fatal("no frame from the first instance")
	}
	// The save: any call with the new settings makes the new instance.
	saved := settingsAt(newURL, 1700000100)
	if _, err := p.CheckHealth(ctx, saved); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ended:
		if err == nil || !strings.Contains(err.Error(), "settings changed") {
			t.Fatalf("the old stream ended with %v, want the settings-changed error", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the old instance's stream is still running 20 s after the save")
	}
	atEnd := oldHits.Load()
	// The new instance serves the re-established stream.
	got := make(chan struct{}, 1)
	go func() {
		_ = p.RunStream(ctx, &backend.RunStreamRequest{PluginContext: saved, Path: "alerts"},
			func(*backend.StreamPacket) error {
				select {
				case got <- struct{}{}:
				default:
				}
				return nil
			})
	}()
	select {
	case <-got:
	case <-time.After(20 * time.Second):
		t.Fatal("no frame from the new instance")
	}
	time.Sleep(16 * time.Second) // longer than one poll interval
	if n := oldHits.Load(); n != atEnd {
		t.Errorf("the old Prometheus was called %d more times after its instance was disposed", n-atEnd)
	}
	if newHits.Load() == 0 {
		t.Error("the new Prometheus was never called")
	}
}
