package preview

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/meshwatch/meshwatch/pkg/devkit/pluginhost"
)

// fakeBackend records what the server sends the plugin. It is a test double
// for the plugin process; the real binary is exercised by the browser suite
// and pkg/plugin's protocol test.
type fakeBackend struct {
	mu        sync.Mutex
	resources []*backend.CallResourceRequest
	health    *backend.CheckHealthResult
	healthPCs []backend.PluginContext
	subStatus backend.SubscribeStreamStatus
	packets   []string
}

func (f *fakeBackend) CheckHealth(_ context.Context, pc backend.PluginContext) (*backend.CheckHealthResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.healthPCs = append(f.healthPCs, pc)
	return f.health, nil
}

func (f *fakeBackend) CallResource(_ context.Context, req *backend.CallResourceRequest) (*pluginhost.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resources = append(f.resources, req)
	if req.Path == "down" {
		return nil, errPluginUnavailable
	}
	return &pluginhost.Response{Status: 201, Headers: map[string][]string{
		"set-cookie": {"session=plugin"}, "X-Answer": {"42"}}, Body: []byte(`{"ok":true}`)}, nil
}

func (f *fakeBackend) SubscribeStream(_ context.Context, req *backend.SubscribeStreamRequest) (*backend.SubscribeStreamResponse, error) {
	if req.PluginContext.User == nil || req.PluginContext.User.Login == "" {
		return nil, errors.New("no user")
	}
	return &backend.SubscribeStreamResponse{Status: f.subStatus}, nil
}

func (f *fakeBackend) RunStream(ctx context.Context, _ *backend.RunStreamRequest, onPacket func(*backend.StreamPacket) error) error {
	for _, p := range f.packets {
		if err := onPacket(&backend.StreamPacket{Data: json.RawMessage(p)}); err != nil {
			return err
		}
	}
	return nil
}

const testPluginJSON = `{"type":"app","id":"meshwatch-mesh-app","name":"MeshWatch","backend":true,"executable":"gpx_mesh",
"info":{"version":"1.2.3","logos":{"small":"img/logo.svg","large":"img/logo.svg"}},
"includes":[{"type":"page","name":"Incidents","path":"/a/meshwatch-mesh-app/incidents","role":"Viewer","addToNav":true,"defaultNav":true}],
"dependencies":{"grafanaDependency":">=12.3.0"}}`

type harness struct {
	srv      *httptest.Server
	fake     *fakeBackend
	settings string
	dist     string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	dir := t.TempDir()
	dist := filepath.Join(dir, "dist")
	host := filepath.Join(dir, "host")
	for _, d := range []string{dist, host, filepath.Join(host, "build", "img")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dist, "plugin.json"), testPluginJSON)
	write(filepath.Join(dist, "module.js"), "define([],function(){})")
	write(filepath.Join(dist, "gpx_mesh_linux_amd64"), "binary")
	write(filepath.Join(host, "index.html"), `<script>window.grafanaBootData = `+bootDataMarker+`;</script>`)
	write(filepath.Join(host, "build", "img", "x.svg"), "<svg/>")
	meta, err := readPluginMeta(dist)
	if err != nil {
		t.Fatal(err)
	}
	settingsFile := filepath.Join(dir, "state", "settings.json")
	st, _, err := openStore(settingsFile, appState{Enabled: true, Pinned: true,
		JSONData:       map[string]any{"prometheus": map[string]any{"url": "http://prom:9090"}},
		SecureJSONData: map[string]string{"prometheusAuth": "s3cret-prom", "lokiAuth": "s3cret-loki"}})
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeBackend{health: &backend.CheckHealthResult{Status: backend.HealthStatusOk, Message: "all good",
		JSONDetails: []byte(`{"status":"ok","results":[]}`)}}
	s := newServer(serverOptions{Meta: meta, Dist: dist, HostDir: host, AppURL: "http://preview/", Store: st, Backend: fake,
		ServiceAccounts: []serviceAccount{{Name: "alertmanager", Role: Viewer, Token: "glsa_alertmanager_test"}}})
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return &harness{srv: ts, fake: fake, settings: settingsFile, dist: dist}
}

func (h *harness) do(t *testing.T, method, path string, role Role, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if role != "" {
		req.AddCookie(&http.Cookie{Name: RoleCookie, Value: string(role)})
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Cookie", req.Header.Get("Cookie")+"; grafana_session=abc")
	req.Header.Set("Referer", h.srv.URL+"/a/meshwatch-mesh-app/incidents")
	req.Header.Set("X-Grafana-Org-Id", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, raw
}

func TestResourceCallCarriesUserSettingsAndOnlyForwardedHeaders(t *testing.T) {
	h := newHarness(t)
	resp, body := h.do(t, http.MethodPost, "/api/plugins/meshwatch-mesh-app/resources/settings/validate?x=1&y=2", Editor, `{"a":1}`)
	if resp.StatusCode != 201 || string(body) != `{"ok":true}` {
		t.Fatalf("got %d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("Set-Cookie") != "" || resp.Header.Get("X-Answer") != "42" || resp.Header.Get("Content-Security-Policy") != "sandbox" {
		t.Fatalf("response headers not as Grafana passes them: %v", resp.Header)
	}
	req := h.fake.resources[0]
	if req.Path != "settings/validate" || req.URL != "settings/validate?x=1&y=2" || req.Method != "POST" || string(req.Body) != `{"a":1}` {
		t.Fatalf("request: path=%q url=%q method=%q body=%q", req.Path, req.URL, req.Method, req.Body)
	}
	u := req.PluginContext.User
	if u.Login != "editor" || u.Role != "Editor" || u.Email == "" || u.Name == "" {
		t.Fatalf("user: %+v", u)
	}
	app := req.PluginContext.AppInstanceSettings
	if app.DecryptedSecureJSONData["prometheusAuth"] != "s3cret-prom" || !strings.Contains(string(app.JSONData), "http://prom:9090") || app.Updated.IsZero() {
		t.Fatalf("app settings: %+v", app)
	}
	if req.PluginContext.PluginID != "meshwatch-mesh-app" || req.PluginContext.PluginVersion != "1.2.3" || req.PluginContext.OrgID != 1 {
		t.Fatalf("plugin context: %+v", req.PluginContext)
	}
	for _, banned := range []string{"Cookie", "Authorization", "Referer", "User-Agent", RoleHeader} {
		if _, ok := req.Headers[banned]; ok {
			t.Errorf("header %s reached the plugin", banned)
		}
	}
	if req.Headers["X-Grafana-Org-Id"][0] != "1" || req.Headers["Content-Type"][0] != "application/json" ||
		!strings.HasSuffix(req.Headers["X-Grafana-Referer"][0], "/incidents") || req.Headers["X-Forwarded-For"][0] == "" {
		t.Fatalf("headers: %v", req.Headers)
	}

	resp, body = h.do(t, http.MethodGet, "/api/plugins/meshwatch-mesh-app/resources/down", Viewer, "")
	if resp.StatusCode != 503 || !strings.Contains(string(body), "Plugin unavailable") {
		t.Fatalf("unavailable plugin: %d %s", resp.StatusCode, body)
	}
}

// A machine caller (Alertmanager's webhook) presents a service-account token:
// the plugin sees the service account as the user, with its role, and never
// the token; a wrong token is refused before the plugin is called.
func TestResourceCallWithAServiceAccountToken(t *testing.T) {
	h := newHarness(t)
	call := func(auth string) (*http.Response, []byte) {
		req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/api/plugins/meshwatch-mesh-app/resources/settings/validate", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		raw, _ := io.ReadAll(resp.Body)
		return resp, raw
	}
	resp, body := call("Bearer glsa_alertmanager_test")
	if resp.StatusCode != 201 || len(h.fake.resources) != 1 {
		t.Fatalf("valid token: %d %s", resp.StatusCode, body)
	}
	req := h.fake.resources[0]
	if u := req.PluginContext.User; u.Login != "sa-1-alertmanager" || u.Role != "Viewer" {
		t.Fatalf("user: %+v", u)
	}
	if _, ok := req.Headers["Authorization"]; ok {
		t.Error("the token reached the plugin")
	}
	for _, bad := range []string{"Bearer glsa_wrong", "Basic YTpi"} {
		resp, body = call(bad)
		if resp.StatusCode != 401 || strings.Contains(string(body), "glsa") || len(h.fake.resources) != 1 {
			t.Fatalf("%q: %d %s (plugin called %d times)", bad, resp.StatusCode, body, len(h.fake.resources))
		}
	}
}

func TestSettingsGetShowsSecretsOnlyAsBooleans(t *testing.T) {
	h := newHarness(t)
	resp, body := h.do(t, http.MethodGet, "/api/plugins/meshwatch-mesh-app/settings", Viewer, "")
	if resp.StatusCode != 200 || strings.Contains(string(body), "s3cret") {
		t.Fatalf("GET settings: %d %s", resp.StatusCode, body)
	}
	var dto pluginSettingDTO
	if err := json.Unmarshal(body, &dto); err != nil {
		t.Fatal(err)
	}
	if dto.ID != "meshwatch-mesh-app" || !dto.Enabled || !dto.SecureJSONFields["prometheusAuth"] ||
		dto.JSONData["prometheus"] == nil || dto.Module != "public/plugins/meshwatch-mesh-app/module.js" ||
		dto.DefaultNavURL != "/a/meshwatch-mesh-app/incidents" {
		t.Fatalf("dto: %+v", dto)
	}
	if logos := dto.Info["logos"].(map[string]any); logos["small"] != "public/plugins/meshwatch-mesh-app/img/logo.svg" {
		t.Fatalf("logos: %v", logos)
	}
}

func TestSettingsPostIsAdminOnlyMergesSecretsAndPersists(t *testing.T) {
	h := newHarness(t)
	update := `{"enabled":true,"pinned":true,"jsonData":{"prometheus":{"url":"http://new:9090"}},"secureJsonData":{"lokiAuth":"","tempoAuth":"s3cret-tempo"}}`
	for _, role := range []Role{Viewer, Editor} {
		resp, body := h.do(t, http.MethodPost, "/api/plugins/meshwatch-mesh-app/settings", role, update)
		if resp.StatusCode != 403 || !strings.Contains(string(body), "plugins:write") {
			t.Fatalf("%s POST: %d %s", role, resp.StatusCode, body)
		}
	}
	if _, err := os.Stat(h.settings); err == nil {
		t.Fatal("a refused POST wrote the settings file")
	}
	h.do(t, http.MethodGet, "/api/plugins/meshwatch-mesh-app/resources/ping", Admin, "")
	before := h.fake.resources[0].PluginContext.AppInstanceSettings.Updated

	resp, body := h.do(t, http.MethodPost, "/api/plugins/meshwatch-mesh-app/settings", Admin, update)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Plugin settings updated") {
		t.Fatalf("admin POST: %d %s", resp.StatusCode, body)
	}
	info, err := os.Stat(h.settings)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("settings file mode %v, want 0600", info.Mode().Perm())
	}
	h.do(t, http.MethodGet, "/api/plugins/meshwatch-mesh-app/resources/ping", Admin, "")
	app := h.fake.resources[1].PluginContext.AppInstanceSettings
	if !app.Updated.After(before) {
		t.Fatalf("Updated did not move: %v -> %v", before, app.Updated)
	}
	sec := app.DecryptedSecureJSONData
	if sec["prometheusAuth"] != "s3cret-prom" || sec["tempoAuth"] != "s3cret-tempo" || sec["lokiAuth"] != "" {
		t.Fatalf("secrets not merged: kept/overwritten/cleared wrong: %v", sec)
	}
	_, body = h.do(t, http.MethodGet, "/api/plugins/meshwatch-mesh-app/settings", Viewer, "")
	var dto pluginSettingDTO
	if err := json.Unmarshal(body, &dto); err != nil {
		t.Fatal(err)
	}
	if dto.SecureJSONFields["lokiAuth"] || !dto.SecureJSONFields["tempoAuth"] || !dto.SecureJSONFields["prometheusAuth"] {
		t.Fatalf("secureJsonFields: %v", dto.SecureJSONFields)
	}
	// A new store on the same file sees the saved state.
	st, fromFile, err := openStore(h.settings, appState{})
	if err != nil || !fromFile || st.snapshot().JSONData["prometheus"].(map[string]any)["url"] != "http://new:9090" {
		t.Fatalf("reopen: %v %v %+v", err, fromFile, st.snapshot())
	}
}

func TestHealthAnswersLikeGrafana(t *testing.T) {
	h := newHarness(t)
	resp, body := h.do(t, http.MethodGet, "/api/plugins/meshwatch-mesh-app/health", Viewer, "")
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || got["status"] != "OK" || got["message"] != "all good" || got["details"] == nil {
		t.Fatalf("ok health: %d %s", resp.StatusCode, body)
	}
	h.fake.health = &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: "Prometheus: down"}
	resp, body = h.do(t, http.MethodGet, "/api/plugins/meshwatch-mesh-app/health", Viewer, "")
	if resp.StatusCode != 503 || !strings.Contains(string(body), `"status":"ERROR"`) || !strings.Contains(string(body), "Prometheus: down") {
		t.Fatalf("error health: %d %s", resp.StatusCode, body)
	}
	if h.fake.healthPCs[0].User.Role != "Viewer" {
		t.Fatalf("health user: %+v", h.fake.healthPCs[0].User)
	}
}

func TestStaticFilesAndHostPage(t *testing.T) {
	h := newHarness(t)
	resp, body := h.do(t, http.MethodGet, "/public/plugins/meshwatch-mesh-app/module.js", "", "")
	if resp.StatusCode != 200 || !bytes.HasPrefix(body, []byte("define(")) {
		t.Fatalf("module.js: %d %s", resp.StatusCode, body)
	}
	for _, p := range []string{"/public/plugins/meshwatch-mesh-app/gpx_mesh_linux_amd64", "/public/plugins/meshwatch-mesh-app/", "/public/plugins/meshwatch-mesh-app/nope.js"} {
		if resp, _ := h.do(t, http.MethodGet, p, "", ""); resp.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", p, resp.StatusCode)
		}
	}
	if resp, _ := h.do(t, http.MethodGet, "/public/build/img/x.svg", "", ""); resp.StatusCode != 200 {
		t.Errorf("icon: %d", resp.StatusCode)
	}
	for _, p := range []string{"/", "/a/meshwatch-mesh-app/incidents", "/plugins/meshwatch-mesh-app", "/preview/panel"} {
		resp, body := h.do(t, http.MethodGet, p, Editor, "")
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"orgRole":"Editor"`) || strings.Contains(string(body), bootDataMarker) || strings.Contains(string(body), "s3cret") {
			t.Errorf("%s: %d %s", p, resp.StatusCode, body)
		}
	}
	if resp, _ := h.do(t, http.MethodGet, "/api/dashboards/uid/x", "", ""); resp.StatusCode != 404 {
		t.Errorf("unknown API: %d", resp.StatusCode)
	}
}

func TestLiveRunsPluginStreams(t *testing.T) {
	h := newHarness(t)
	h.fake.packets = []string{`{"n":1}`, `{"n":2}`}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hdr := http.Header{}
	hdr.Add("Cookie", RoleCookie+"=Viewer")
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(h.srv.URL, "http")+"/api/live/ws", &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(websocket.StatusNormalClosure, "") }()
	sub := func(id int64, channel string) {
		if err := wsjson.Write(ctx, conn, map[string]any{"id": id, "subscribe": map[string]any{"channel": channel, "data": map[string]any{"q": 1}}}); err != nil {
			t.Fatal(err)
		}
	}
	sub(1, "plugin/meshwatch-mesh-app/analysis/42")
	var got []liveEvent
	for len(got) < 4 {
		var ev liveEvent
		if err := wsjson.Read(ctx, conn, &ev); err != nil {
			t.Fatal(err)
		}
		got = append(got, ev)
	}
	if got[0].Status != "subscribed" || string(got[1].Message) != `{"n":1}` || string(got[2].Message) != `{"n":2}` || got[3].Status != "closed" {
		t.Fatalf("events: %+v", got)
	}
	sub(2, "plugin/other-app/x")
	var ev liveEvent
	if err := wsjson.Read(ctx, conn, &ev); err != nil || ev.ID != 2 || ev.Status != "error" {
		t.Fatalf("foreign channel: %+v %v", ev, err)
	}
	h.fake.subStatus = backend.SubscribeStreamStatusPermissionDenied
	sub(3, "plugin/meshwatch-mesh-app/secret")
	if err := wsjson.Read(ctx, conn, &ev); err != nil || ev.ID != 3 || ev.Error != "permission denied" {
		t.Fatalf("denied: %+v %v", ev, err)
	}
}
