package preview

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// datasource is one datasource the preview host plays, as Grafana's
// provisioning would create it. The host lists it, resolves it by uid and
// proxies to its URL; no datasource plugin runs.
type datasource struct {
	ID        int64
	UID       string
	Name      string
	Type      string
	URL       string
	IsDefault bool
	JSONData  map[string]any
}

// datasourceTypeNames are the names of the core datasource plugins the host
// knows, and what they are for (the picker's metrics/logs/tracing/alerting
// filters read these flags from the plugin's meta).
var datasourceTypes = map[string]struct {
	Name                             string
	Metrics, Logs, Tracing, Alerting bool
}{
	"prometheus":   {Name: "Prometheus", Metrics: true, Alerting: true},
	"loki":         {Name: "Loki", Metrics: true, Logs: true, Alerting: true},
	"tempo":        {Name: "Tempo", Tracing: true},
	"alertmanager": {Name: "Alertmanager", Alerting: false},
}

func typeName(t string) string {
	if d, ok := datasourceTypes[t]; ok {
		return d.Name
	}
	return t
}

// typeLogoURL is where Grafana serves a core datasource's logo. The preview
// host does not serve it (see Limits).
func typeLogoURL(t string) string {
	logo := t + "_logo.svg"
	if t == "alertmanager" {
		logo = "alertmanager_logo.svg"
	}
	return "public/app/plugins/datasource/" + t + "/img/" + logo
}

// validUID is Grafana's rule for a datasource uid.
var validUID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)

// parseDatasource reads a --datasource value: uid=type=url.
func parseDatasource(v string) (datasource, error) {
	parts := strings.SplitN(v, "=", 3)
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return datasource{}, fmt.Errorf("--datasource %q: want uid=type=url", v)
	}
	u, err := url.Parse(parts[2])
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return datasource{}, fmt.Errorf("--datasource %q: the url must be http(s)://host[:port][/path]", v)
	}
	if !validUID.MatchString(parts[0]) {
		return datasource{}, fmt.Errorf("--datasource %q: the uid is 1 to 40 letters, digits, '-' or '_' (as Grafana's)", v)
	}
	ds := datasource{UID: parts[0], Type: parts[1], Name: parts[0], URL: strings.TrimRight(parts[2], "/"), JSONData: map[string]any{}}
	if ds.Type == "alertmanager" {
		ds.JSONData["implementation"] = "prometheus"
	}
	return ds, nil
}

// stackDatasources are the datasources of a --stack run, named as Grafana's
// provisioning (deploy's datasources.yaml) would name them.
func stackDatasources(prometheus, loki, alertmanager, tempo string) []datasource {
	return []datasource{
		{UID: "prometheus", Type: "prometheus", Name: "Prometheus", URL: prometheus, IsDefault: true, JSONData: map[string]any{}},
		{UID: "loki", Type: "loki", Name: "Loki", URL: loki, JSONData: map[string]any{}},
		{UID: "alertmanager", Type: "alertmanager", Name: "Alertmanager", URL: alertmanager,
			JSONData: map[string]any{"implementation": "prometheus"}},
		{UID: "tempo", Type: "tempo", Name: "Tempo", URL: tempo, JSONData: map[string]any{}},
	}
}

// normalizeDatasources numbers the datasources, lets a later uid replace an
// earlier one, and makes the first one the default if none is.
func normalizeDatasources(in []datasource) []datasource {
	var out []datasource
	index := map[string]int{}
	for _, ds := range in {
		if i, ok := index[ds.UID]; ok {
			ds.IsDefault = ds.IsDefault || out[i].IsDefault
			out[i] = ds
			continue
		}
		index[ds.UID] = len(out)
		out = append(out, ds)
	}
	hasDefault := false
	for i := range out {
		out[i].ID = int64(i + 1)
		if out[i].JSONData == nil {
			out[i].JSONData = map[string]any{}
		}
		if out[i].IsDefault {
			if hasDefault {
				out[i].IsDefault = false
			}
			hasDefault = true
		}
	}
	if !hasDefault && len(out) > 0 {
		out[0].IsDefault = true
	}
	return out
}

// serviceAccount is a Grafana service account with one token.
type serviceAccount struct {
	Name  string
	Role  Role
	Token string
}

// parseServiceAccount reads a --service-account-token value: name=role=token.
func parseServiceAccount(v string) (serviceAccount, error) {
	parts := strings.SplitN(v, "=", 3)
	if len(parts) != 3 || parts[0] == "" || parts[2] == "" {
		return serviceAccount{}, fmt.Errorf("--service-account-token %q: want name=role=token", v)
	}
	r, ok := parseRole(parts[1])
	if !ok {
		return serviceAccount{}, fmt.Errorf("--service-account-token %q: role must be Viewer, Editor or Admin", v)
	}
	return serviceAccount{Name: parts[0], Role: r, Token: parts[2]}, nil
}

// newServiceAccountToken makes a token shaped like Grafana's (glsa_...).
func newServiceAccountToken() (string, error) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "glsa_" + hex.EncodeToString(b), nil
}

// writeTokenFile stores a token for the plugin backend's configuration,
// readable by the owner only.
func writeTokenFile(file, token string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	return os.WriteFile(file, []byte(token+"\n"), 0o600)
}

// datasourceByUID finds a listed datasource.
func (s *Server) datasourceByUID(uid string) (datasource, bool) {
	for _, ds := range s.datasources {
		if ds.UID == uid {
			return ds, true
		}
	}
	return datasource{}, false
}

// caller is who is asking, as Grafana authenticates an API request: a
// service-account token in Authorization (which, when present, must be
// valid: Grafana does not fall back to the session), else a browser session
// (the role cookie or X-Preview-Role).
func (s *Server) caller(r *http.Request) (who string, role Role, ok bool, msg string) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		token, found := strings.CutPrefix(auth, "Bearer ")
		if !found {
			return "", "", false, "Unauthorized"
		}
		for _, sa := range s.serviceAccounts {
			if subtle.ConstantTimeCompare([]byte(token), []byte(sa.Token)) == 1 {
				return "sa:" + sa.Name, sa.Role, true, ""
			}
		}
		return "", "", false, "Invalid API key"
	}
	if r.Header.Get(RoleHeader) != "" {
		if role, ok := parseRole(r.Header.Get(RoleHeader)); ok {
			return users[role].Login, role, true, ""
		}
	}
	if c, err := r.Cookie(RoleCookie); err == nil {
		if role, ok := parseRole(c.Value); ok {
			return users[role].Login, role, true, ""
		}
	}
	return "", "", false, "Unauthorized"
}

// datasourceListItem is one entry of GET /api/datasources (Grafana's
// dtos.DataSourceListItemDTO).
func (ds datasource) listItem() map[string]any {
	return map[string]any{
		"id": ds.ID, "uid": ds.UID, "orgId": 1, "name": ds.Name, "type": ds.Type,
		"typeName": typeName(ds.Type), "typeLogoUrl": typeLogoURL(ds.Type), "access": "proxy",
		"url": ds.URL, "user": "", "database": "", "basicAuth": false, "isDefault": ds.IsDefault,
		"jsonData": ds.JSONData, "readOnly": true,
	}
}

// dto is GET /api/datasources/uid/<uid> (Grafana's dtos.DataSource).
func (ds datasource) dto() map[string]any {
	return map[string]any{
		"id": ds.ID, "uid": ds.UID, "orgId": 1, "name": ds.Name, "type": ds.Type,
		"typeLogoUrl": typeLogoURL(ds.Type), "access": "proxy", "url": ds.URL,
		"user": "", "database": "", "basicAuth": false, "basicAuthUser": "", "withCredentials": false,
		"isDefault": ds.IsDefault, "jsonData": ds.JSONData, "secureJsonFields": map[string]bool{},
		"version": 1, "readOnly": true,
	}
}

// frontendSettings is the datasource as window.grafanaBootData's
// settings.datasources carries it (what getDataSourceSrv() is built from):
// url is the proxy route, meta is the plugin's.
func (ds datasource) frontendSettings() map[string]any {
	t := datasourceTypes[ds.Type]
	return map[string]any{
		"id": ds.ID, "uid": ds.UID, "type": ds.Type, "name": ds.Name,
		"url": "/api/datasources/proxy/uid/" + ds.UID, "access": "proxy", "isDefault": ds.IsDefault,
		"readOnly": true, "jsonData": ds.JSONData,
		"meta": map[string]any{"id": ds.Type, "type": "datasource", "name": typeName(ds.Type),
			"metrics": t.Metrics, "logs": t.Logs, "tracing": t.Tracing, "alerting": t.Alerting,
			"module": "", "baseUrl": "", "signature": "internal",
			"info": map[string]any{"author": map[string]any{"name": "Grafana Labs"}, "description": "",
				"links": []any{}, "logos": map[string]any{"small": "", "large": ""}, "screenshots": []any{},
				"updated": "", "version": ""}},
	}
}

// handleDatasources is GET /api/datasources and /api/datasources/uid/<uid>.
// Grafana lets every org role read them (datasources:read).
func (s *Server) handleDatasources(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		grafanaError(w, http.StatusMethodNotAllowed, "Method not allowed")
		return
	}
	if _, _, ok, msg := s.caller(r); !ok {
		grafanaError(w, http.StatusUnauthorized, msg)
		return
	}
	if r.URL.Path == "/api/datasources" || r.URL.Path == "/api/datasources/" {
		list := make([]map[string]any, 0, len(s.datasources))
		sorted := append([]datasource(nil), s.datasources...)
		sort.SliceStable(sorted, func(i, j int) bool { return strings.ToLower(sorted[i].Name) < strings.ToLower(sorted[j].Name) })
		for _, ds := range sorted {
			list = append(list, ds.listItem())
		}
		writeJSON(w, http.StatusOK, list)
		return
	}
	uid, ok := strings.CutPrefix(r.URL.Path, "/api/datasources/uid/")
	if !ok || uid == "" || strings.Contains(uid, "/") {
		grafanaError(w, http.StatusNotFound, "Not found")
		return
	}
	ds, found := s.datasourceByUID(uid)
	if !found {
		grafanaError(w, http.StatusNotFound, "Data source not found")
		return
	}
	writeJSON(w, http.StatusOK, ds.dto())
}

// proxyPrefix is Grafana's datasource proxy route by uid.
const proxyPrefix = "/api/datasources/proxy/uid/"

// proxyDropHeaders never reach the datasource: the caller's credentials and
// the host's own role header (Grafana strips Authorization and cookies and
// adds the datasource's own auth; the preview's datasources need none).
var proxyDropHeaders = []string{"Authorization", "Cookie", RoleHeader, "X-Grafana-Id", "X-Ds-Authorization"}

// handleDatasourceProxy is /api/datasources/proxy/uid/<uid>/<path>: it
// forwards to the datasource's URL with <path> and the query, for a signed-in
// browser (any role) or a known service-account token.
func (s *Server) handleDatasourceProxy(w http.ResponseWriter, r *http.Request) {
	who, _, ok, msg := s.caller(r)
	if !ok {
		grafanaError(w, http.StatusUnauthorized, msg)
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, proxyPrefix)
	uid, sub, _ := strings.Cut(rest, "/")
	ds, found := s.datasourceByUID(uid)
	if uid == "" || !found {
		grafanaError(w, http.StatusNotFound, "Unable to find datasource")
		return
	}
	for _, seg := range strings.Split(sub, "/") {
		if seg == ".." || seg == "." {
			grafanaError(w, http.StatusBadRequest, "Invalid proxy path")
			return
		}
	}
	target, err := url.Parse(ds.URL)
	if err != nil {
		grafanaError(w, http.StatusInternalServerError, "Invalid datasource url")
		return
	}
	upstreamPath := strings.TrimRight(target.Path, "/") + "/" + sub
	if cleaned := path.Clean(upstreamPath); !strings.HasPrefix(cleaned+"/", strings.TrimRight(target.Path, "/")+"/") {
		grafanaError(w, http.StatusBadRequest, "Invalid proxy path")
		return
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = target.Scheme
			pr.Out.URL.Host = target.Host
			pr.Out.URL.Path = upstreamPath
			pr.Out.URL.RawPath = ""
			pr.Out.URL.RawQuery = r.URL.RawQuery
			pr.Out.Host = target.Host
			for _, h := range proxyDropHeaders {
				pr.Out.Header.Del(h)
			}
			pr.SetXForwarded()
		},
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Del("Set-Cookie")
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			s.log.Warn("datasource proxy failed", "uid", ds.UID, "error", err.Error())
			grafanaError(w, http.StatusBadGateway, "Bad Gateway")
		},
	}
	s.log.Debug("datasource proxy", "uid", ds.UID, "path", sub, "by", who)
	proxy.ServeHTTP(w, r)
}

// managedServiceAccount is the service account Grafana creates for a plugin
// that declares "iam" permissions in plugin.json (named extsvc-<plugin id>),
// with a fresh token; zero when the plugin declares none. The preview host
// does not check the declared permissions: its API lets the account do what
// a Viewer may (query every datasource through the proxy).
func managedServiceAccount(meta pluginMeta) (serviceAccount, error) {
	raw := strings.TrimSpace(string(meta.rawField("iam")))
	if raw == "" || raw == "null" || raw == "{}" {
		return serviceAccount{}, nil
	}
	token, err := newServiceAccountToken()
	if err != nil {
		return serviceAccount{}, err
	}
	return serviceAccount{Name: "extsvc-" + meta.ID, Role: Viewer, Token: token}, nil
}
