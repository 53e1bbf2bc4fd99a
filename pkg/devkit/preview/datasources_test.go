package preview

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// upstreamRecorder is a fake datasource that records what reaches it.
type upstreamRecorder struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (u *upstreamRecorder) handler(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.reqs = append(u.reqs, r.Clone(r.Context()))
	u.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "upstream", Value: "x"})
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"status":"success","data":{"version":"3.5.0"}}`)
}

func (u *upstreamRecorder) requests() []*http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]*http.Request(nil), u.reqs...)
}

const testToken = "glsa_known_token"

// newDatasourceHarness is the preview server with two datasources, the first
// under a path, on one fake upstream, and one service account.
func newDatasourceHarness(t *testing.T) (*httptest.Server, *upstreamRecorder, *Server) {
	t.Helper()
	h := newHarness(t)
	up := &upstreamRecorder{}
	upSrv := httptest.NewServer(http.HandlerFunc(up.handler))
	t.Cleanup(upSrv.Close)
	dir := t.TempDir()
	st, _, err := openStore(filepath.Join(dir, "s.json"), appState{Enabled: true, JSONData: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	meta, err := readPluginMeta(h.dist)
	if err != nil {
		t.Fatal(err)
	}
	dss := stackDatasources(upSrv.URL+"/prom", upSrv.URL, upSrv.URL, upSrv.URL)
	s := newServer(serverOptions{Meta: meta, Dist: h.dist, HostDir: filepath.Join(filepath.Dir(h.dist), "host"), AppURL: "http://preview/",
		Store: st, Backend: h.fake, Datasources: dss,
		ServiceAccounts: []serviceAccount{{Name: "backend", Role: Viewer, Token: testToken}}})
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts, up, s
}

type dsReq struct {
	cookie Role
	auth   string
}

func dsGet(t *testing.T, base, path string, o dsReq) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.cookie != "" {
		req.AddCookie(&http.Cookie{Name: RoleCookie, Value: string(o.cookie)})
	}
	if o.auth != "" {
		req.Header.Set("Authorization", o.auth)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func TestDatasourceList(t *testing.T) {
	ts, _, _ := newDatasourceHarness(t)
	resp, body := dsGet(t, ts.URL, "/api/datasources", dsReq{cookie: Viewer})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var list []map[string]any
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	var uids []string
	for _, ds := range list {
		uids = append(uids, ds["uid"].(string))
		for _, k := range []string{"id", "uid", "name", "type", "access", "url", "isDefault", "jsonData", "readOnly", "typeLogoUrl"} {
			if _, ok := ds[k]; !ok {
				t.Errorf("datasource %v lacks %q", ds["uid"], k)
			}
		}
		if ds["access"] != "proxy" {
			t.Errorf("%v: access %v", ds["uid"], ds["access"])
		}
		if ds["uid"] == "alertmanager" && ds["jsonData"].(map[string]any)["implementation"] != "prometheus" {
			t.Errorf("alertmanager jsonData %v", ds["jsonData"])
		}
		if ds["uid"] == "prometheus" && ds["isDefault"] != true {
			t.Error("prometheus is not the default")
		}
	}
	if strings.Join(uids, ",") != "alertmanager,loki,prometheus,tempo" {
		t.Errorf("uids %v (want sorted by name)", uids)
	}

	resp, body = dsGet(t, ts.URL, "/api/datasources/uid/loki", dsReq{auth: "Bearer " + testToken})
	var one map[string]any
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &one) != nil || one["type"] != "loki" || one["name"] != "Loki" {
		t.Fatalf("lookup: %d %s", resp.StatusCode, body)
	}
	resp, body = dsGet(t, ts.URL, "/api/datasources/uid/nope", dsReq{cookie: Admin})
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), `"message"`) {
		t.Fatalf("unknown uid: %d %s", resp.StatusCode, body)
	}
	resp, _ = dsGet(t, ts.URL, "/api/datasources", dsReq{})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("list without a session: %d", resp.StatusCode)
	}
}

func TestDatasourceProxy(t *testing.T) {
	ts, up, _ := newDatasourceHarness(t)
	const path = "/api/datasources/proxy/uid/prometheus/api/v1/query?query=up%7Bjob%3D%22x%22%7D&time=1"

	for name, o := range map[string]dsReq{
		"no credentials":             {},
		"wrong token":                {auth: "Bearer glsa_wrong"},
		"wrong token with a session": {auth: "Bearer glsa_wrong", cookie: Admin},
		"not bearer":                 {auth: "Basic YWRtaW46YWRtaW4="},
	} {
		resp, body := dsGet(t, ts.URL, path, o)
		var msg map[string]any
		if resp.StatusCode != http.StatusUnauthorized || json.Unmarshal(body, &msg) != nil || msg["message"] == "" {
			t.Errorf("%s: %d %s, want 401 {message}", name, resp.StatusCode, body)
		}
	}
	if n := len(up.requests()); n != 0 {
		t.Fatalf("%d unauthorized requests reached the upstream", n)
	}

	for name, o := range map[string]dsReq{
		"token":         {auth: "Bearer " + testToken},
		"viewer cookie": {cookie: Viewer},
	} {
		resp, body := dsGet(t, ts.URL, path, o)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"version":"3.5.0"`) {
			t.Fatalf("%s: %d %s", name, resp.StatusCode, body)
		}
		if c := resp.Header.Get("Set-Cookie"); c != "" {
			t.Errorf("%s: the upstream's cookie reached the caller: %s", name, c)
		}
	}
	reqs := up.requests()
	if len(reqs) != 2 {
		t.Fatalf("upstream saw %d requests", len(reqs))
	}
	for _, r := range reqs {
		if r.URL.Path != "/prom/api/v1/query" {
			t.Errorf("upstream path %q", r.URL.Path)
		}
		if r.URL.Query().Get("query") != `up{job="x"}` || r.URL.Query().Get("time") != "1" {
			t.Errorf("upstream query %q", r.URL.RawQuery)
		}
		if a := r.Header.Get("Authorization"); a != "" {
			t.Errorf("the caller's Authorization was forwarded: %q", a)
		}
		if c := r.Header.Get("Cookie"); c != "" {
			t.Errorf("the caller's cookies were forwarded: %q", c)
		}
	}

	resp, body := dsGet(t, ts.URL, "/api/datasources/proxy/uid/nope/api/v1/query", dsReq{cookie: Admin})
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), `"message"`) {
		t.Errorf("unknown uid: %d %s", resp.StatusCode, body)
	}
}

func TestDatasourceProxyPathTraversal(t *testing.T) {
	ts, up, s := newDatasourceHarness(t)
	for _, p := range []string{
		"/api/datasources/proxy/uid/prometheus/../../x",
		"/api/datasources/proxy/uid/prometheus/api/../../x",
		"/api/datasources/proxy/uid/prometheus/%2e%2e/%2e%2e/x",
		"/api/datasources/proxy/uid/prometheus/..%2f..%2fx",
	} {
		resp, body := dsGet(t, ts.URL, p, dsReq{cookie: Admin})
		if resp.StatusCode == http.StatusOK {
			t.Errorf("%s: %d %s", p, resp.StatusCode, body)
		}
	}
	// The handler itself, past the mux's path cleaning.
	for _, p := range []string{"/api/datasources/proxy/uid/prometheus/../x", "/api/datasources/proxy/uid/prometheus/a/./../../x"} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.Path = p
		req.AddCookie(&http.Cookie{Name: RoleCookie, Value: "Admin"})
		rec := httptest.NewRecorder()
		s.handleDatasourceProxy(rec, req)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("handler %s: %d", p, rec.Code)
		}
	}
	for _, r := range up.requests() {
		t.Errorf("a traversal reached the upstream: %q", r.URL.Path)
	}
}

func TestPluginContextCarriesAppURL(t *testing.T) {
	_, _, s := newDatasourceHarness(t)
	pc := s.pluginContext(users[Viewer])
	if got := pc.GrafanaConfig.Get("GF_APP_URL"); got != "http://preview/" {
		t.Fatalf("GF_APP_URL %q", got)
	}
}

func TestDatasourceAndServiceAccountFlags(t *testing.T) {
	cfg, _, err := parseFlags([]string{"--datasource", "prom=prometheus=http://127.0.0.1:9090/?a=b",
		"--datasource", "am=alertmanager=http://127.0.0.1:9093", "--service-account-token", "backend=viewer=glsa_x"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Datasources) != 2 || cfg.Datasources[0].URL != "http://127.0.0.1:9090/?a=b" ||
		cfg.Datasources[1].JSONData["implementation"] != "prometheus" {
		t.Errorf("datasources %+v", cfg.Datasources)
	}
	if len(cfg.ServiceAccounts) != 1 || cfg.ServiceAccounts[0].Role != Viewer || cfg.ServiceAccounts[0].Token != "glsa_x" {
		t.Errorf("service accounts %+v", cfg.ServiceAccounts)
	}
	for _, bad := range [][]string{{"--datasource", "prom=prometheus"}, {"--datasource", "a/b=prometheus=http://x"}, {"--datasource", "a.b=prometheus=http://x"},
		{"--datasource", "p=prometheus=ftp://x"}, {"--service-account-token", "x=Owner=t"}, {"--service-account-token", "x=Viewer="}} {
		if _, _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
	dir := t.TempDir()
	c := Config{SettingsFile: filepath.Join(dir, "settings.json")}
	if err := writeTokenFile(c.tokenFile(), "glsa_y"); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, "preview-service-account-token"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", info, err)
	}
}

func TestBootDataDatasources(t *testing.T) {
	_, _, s := newDatasourceHarness(t)
	settings := s.bootData(users[Viewer], "dark")["settings"].(map[string]any)
	dss := settings["datasources"].(map[string]any)
	if len(dss) != 4 || settings["defaultDatasource"] != "Prometheus" {
		t.Fatalf("datasources %v default %v", dss, settings["defaultDatasource"])
	}
	prom := dss["Prometheus"].(map[string]any)
	if prom["url"] != "/api/datasources/proxy/uid/prometheus" || prom["uid"] != "prometheus" {
		t.Errorf("prometheus %v", prom)
	}
}

func TestManagedServiceAccount(t *testing.T) {
	ts, _, s := newDatasourceHarness(t)
	if _, err := s.pluginContext(users[Viewer]).GrafanaConfig.PluginAppClientSecret(); err == nil {
		t.Fatal("a plugin without iam got a managed service-account token")
	}
	meta := s.meta
	if sa, err := managedServiceAccount(meta); err != nil || sa.Token != "" {
		t.Fatalf("no iam: %+v %v", sa, err)
	}
	meta.raw = map[string]json.RawMessage{}
	for k, v := range s.meta.raw {
		meta.raw[k] = v
	}
	meta.raw["iam"] = json.RawMessage(`{"permissions":[{"action":"datasources:query","scope":"datasources:*"}]}`)
	sa, err := managedServiceAccount(meta)
	if err != nil || !strings.HasPrefix(sa.Token, "glsa_") || sa.Name != "extsvc-meshwatch-mesh-app" {
		t.Fatalf("iam: %+v %v", sa, err)
	}
	withIAM := newServer(serverOptions{Meta: meta, AppURL: "http://preview/", Store: s.store, Backend: s.backend,
		Datasources: s.datasources, ServiceAccounts: s.serviceAccounts, Managed: sa})
	got, err := withIAM.pluginContext(users[Viewer]).GrafanaConfig.PluginAppClientSecret()
	if err != nil || got != sa.Token {
		t.Fatalf("GF_PLUGIN_APP_CLIENT_SECRET %q %v", got, err)
	}
	ts2 := httptest.NewServer(withIAM.Handler())
	defer ts2.Close()
	resp, body := dsGet(t, ts2.URL, "/api/datasources/proxy/uid/loki/ready", dsReq{auth: "Bearer " + sa.Token})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("managed token on the proxy: %d %s", resp.StatusCode, body)
	}
	// The other host does not know this token.
	if resp, _ := dsGet(t, ts.URL, "/api/datasources/proxy/uid/loki/ready", dsReq{auth: "Bearer " + sa.Token}); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unknown managed token: %d", resp.StatusCode)
	}
}
