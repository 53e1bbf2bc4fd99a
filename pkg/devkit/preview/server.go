package preview

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/meshwatch/meshwatch/pkg/devkit/pluginhost"
)

// Backend is what the server needs from the plugin process;
// *pluginhost.Plugin provides it.
type Backend interface {
	CheckHealth(ctx context.Context, pc backend.PluginContext) (*backend.CheckHealthResult, error)
	CallResource(ctx context.Context, req *backend.CallResourceRequest) (*pluginhost.Response, error)
	SubscribeStream(ctx context.Context, req *backend.SubscribeStreamRequest) (*backend.SubscribeStreamResponse, error)
	RunStream(ctx context.Context, req *backend.RunStreamRequest, onPacket func(*backend.StreamPacket) error) error
}

// grafanaVersion is the Grafana the host page's packages (@grafana/* in
// package.json) correspond to; it is what the plugin is told it runs in.
const grafanaVersion = "13.1.0"

// Server is the preview host's HTTP side.
type Server struct {
	meta        pluginMeta
	dist        string
	hostDir     string
	appURL      string
	defaultRole Role
	store       *store
	backend     Backend
	log         *slog.Logger
	// datasources are the datasources the host plays (listed, looked up and
	// proxied); serviceAccounts are the tokens its API accepts.
	datasources     []datasource
	serviceAccounts []serviceAccount
	// managed is the plugin's managed service account (plugin.json "iam"),
	// whose token the plugin context carries; zero when it declares none.
	managed serviceAccount
}

// serverOptions are what NewServer needs; Main fills them from flags.
type serverOptions struct {
	Meta        pluginMeta
	Dist        string
	HostDir     string
	AppURL      string
	DefaultRole Role
	Store       *store
	Backend     Backend
	Log         *slog.Logger
	// Datasources are numbered and given a default by newServer.
	Datasources     []datasource
	ServiceAccounts []serviceAccount
	// Managed is the plugin's managed service account; newServer adds it to
	// the accounts the API accepts.
	Managed serviceAccount
}

func newServer(o serverOptions) *Server {
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.DefaultRole == "" {
		o.DefaultRole = Admin
	}
	s := &Server{meta: o.Meta, dist: o.Dist, hostDir: o.HostDir, appURL: o.AppURL,
		defaultRole: o.DefaultRole, store: o.Store, backend: o.Backend, log: o.Log,
		datasources: normalizeDatasources(o.Datasources), serviceAccounts: o.ServiceAccounts, managed: o.Managed}
	if o.Managed.Token != "" {
		s.serviceAccounts = append(append([]serviceAccount(nil), o.ServiceAccounts...), o.Managed)
	}
	return s
}

// Handler routes every request; see the package doc for the map.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	api := "/api/plugins/" + s.meta.ID
	mux.HandleFunc(api+"/resources", s.handleResource)
	mux.HandleFunc(api+"/resources/", s.handleResource)
	mux.HandleFunc(api+"/settings", s.handleSettings)
	mux.HandleFunc(api+"/health", s.handleHealth)
	mux.HandleFunc("/api/live/ws", s.handleLive)
	mux.HandleFunc("/api/datasources", s.handleDatasources)
	mux.HandleFunc("/api/datasources/", s.handleDatasources)
	mux.HandleFunc(proxyPrefix, s.handleDatasourceProxy)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		grafanaError(w, http.StatusNotFound, "Not found: the preview host serves only the APIs MeshWatch's pages call")
	})
	mux.Handle("/public/plugins/"+s.meta.ID+"/", http.StripPrefix("/public/plugins/"+s.meta.ID, pluginFiles(s.dist)))
	mux.Handle("/public/build/", http.StripPrefix("/public/build", staticFiles(s.hostDir, "build")))
	mux.Handle("/public/fonts/", http.StripPrefix("/public/fonts", staticFiles(s.hostDir, "fonts")))
	mux.Handle("/public/preview-host/", http.StripPrefix("/public/preview-host", staticFiles(s.hostDir, "")))
	mux.HandleFunc("/public/", http.NotFound)
	mux.HandleFunc("/", s.handleIndex)
	return s.logRequests(mux)
}

// pluginContext is what Grafana sends with every call for this app: the org,
// the plugin, the signed-in user and the app's settings (secrets decrypted).
func (s *Server) pluginContext(u user) backend.PluginContext {
	st := s.store.snapshot()
	jsonData, err := json.Marshal(st.JSONData)
	if err != nil {
		jsonData = []byte("{}")
	}
	return backend.PluginContext{
		OrgID:         1,
		PluginID:      s.meta.ID,
		PluginVersion: s.meta.Info.Version,
		User:          u.backendUser(),
		AppInstanceSettings: &backend.AppInstanceSettings{
			JSONData:                jsonData,
			DecryptedSecureJSONData: st.SecureJSONData,
			Updated:                 st.Updated,
		},
		GrafanaConfig: backend.NewGrafanaCfg(s.grafanaConfig()),
	}
}

// grafanaConfig is the Grafana config every plugin context carries: the app
// URL and, for a plugin that declares "iam" in plugin.json, its managed
// service account (Grafana's externalServiceAccounts).
func (s *Server) grafanaConfig() map[string]string {
	cfg := map[string]string{"GF_APP_URL": s.appURL}
	if s.managed.Token != "" {
		cfg["GF_PLUGIN_APP_CLIENT_ID"] = s.managed.Name
		cfg["GF_PLUGIN_APP_CLIENT_SECRET"] = s.managed.Token
	}
	return cfg
}

// grafanaError answers with Grafana's API error shape {"message": ...}.
func grafanaError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	raw, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		raw = []byte(`{"message":"response could not be encoded"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(raw)
}
