// Package endpoint builds the upstream client of a system reached over
// HTTP from its settings.Endpoint, the same way for every system package.
package endpoint

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/meshwatch/meshwatch/pkg/health"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/upstream"
)

// Client is the upstream client for the system called name at s, with any
// extra settings (the egress dialer) applied to the config first.
//
// An endpoint with a datasource uid is reached through Grafana's datasource
// proxy: the base URL is <appURL>/api/datasources/proxy/uid/<uid> and the
// Authorization is the plugin's managed service-account token, else the
// grafanaToken secret. The endpoint's own secret and tenant header are not
// sent there: Grafana adds the datasource's own. Without an app URL or a
// token the error says what to enable.
func Client(name string, s settings.Endpoint, extra ...func(*upstream.Config)) (*upstream.Client, error) {
	cfg := upstream.Config{
		Name: name, BaseURL: s.URL, Authorization: s.Auth(),
		TenantHeader: s.TenantHeader, TenantID: s.TenantID, Timeout: s.Timeout(),
	}
	if s.ViaGrafana() {
		auth, err := ProxyAuth(name, s)
		if err != nil {
			return nil, err
		}
		cfg.BaseURL, cfg.Authorization, cfg.TenantHeader, cfg.TenantID = s.ProxyURL(), auth, "", ""
	}
	for _, f := range extra {
		f(&cfg)
	}
	return upstream.New(cfg)
}

// EnableManaged is how an admin turns on the plugin's managed service
// account.
const EnableManaged = "enable the plugin's managed service account in grafana.ini " +
	"([feature_toggles] externalServiceAccounts = true and [auth] managed_service_accounts_enabled = true; " +
	"Grafana 10.3 or later, single org)"

// Enable is what an admin does when Grafana's datasource proxy cannot be
// used for want of a token.
const Enable = EnableManaged + ", or set the grafanaToken secret to a Grafana service-account token " +
	"with the Viewer role (or datasources:query on these datasources)"

// ProxyAuth is the Authorization for Grafana's datasource proxy at s, or
// an error saying what is missing and what to enable. It never repeats a
// token.
func ProxyAuth(name string, s settings.Endpoint) (string, error) {
	via := fmt.Sprintf("%s is set to Grafana datasource %s", name, s.DatasourceUID)
	if s.GrafanaAppURL() == "" {
		return "", fmt.Errorf("%s, but Grafana gave the plugin no app URL (GF_APP_URL; Grafana 10.3 or later sends it): "+
			"set [server] root_url in grafana.ini, or use the direct URL (Advanced)", via)
	}
	auth, by := s.ProxyAuth()
	switch {
	case by == settings.ProxyByGrafanaToken && auth == "":
		return "", fmt.Errorf("%s, but grafanaToken cannot be sent as an HTTP header (see the Settings line): "+
			"paste the service-account token alone, on one line", via)
	case auth == "":
		return "", fmt.Errorf("%s, but Grafana gave the plugin no service-account token and grafanaToken is not set: %s", via, Enable)
	}
	return auth, nil
}

// ProxyNote says how a system at s is reached, for its health line: ""
// for a direct URL.
func ProxyNote(s settings.Endpoint) string {
	switch _, by := s.ProxyAuth(); {
	case !s.ViaGrafana():
		return ""
	case by == settings.ProxyByManagedAccount:
		return "through Grafana's datasource proxy with the plugin's managed service account"
	default:
		return "through Grafana's datasource proxy with the service-account token from grafanaToken"
	}
}

func mentionsDatasource(body string) bool {
	b := strings.ToLower(body)
	return strings.Contains(b, "datasource") || strings.Contains(b, "data source")
}

// ProxyProbe is probe for a system at s, told in Grafana's terms when s is
// a Grafana datasource: a healthy line notes the proxy and the credential,
// and a refusal (401/403) or an unknown uid (404) from the proxy says which
// token or uid to look at. A direct endpoint's probe is returned as is.
func ProxyProbe(name string, s settings.Endpoint, probe health.Probe) health.Probe {
	if !s.ViaGrafana() {
		return probe
	}
	note := ProxyNote(s)
	refused := "grant that service account datasources:query on it (the Viewer role), or set grafanaToken to a service-account token that has it"
	token := "the plugin's managed service-account token"
	if _, by := s.ProxyAuth(); by == settings.ProxyByGrafanaToken {
		token = "the service-account token in grafanaToken"
		refused = "renew the token or give its service account datasources:query on it (the Viewer role), or " + EnableManaged
	}
	return func(ctx context.Context) (health.Outcome, error) {
		out, err := probe(ctx)
		var ue *upstream.Error
		switch {
		case err == nil:
			if out.Note == "" {
				out.Note = note
			} else {
				out.Note = note + "; " + out.Note
			}
			return out, nil
		case !errors.As(err, &ue):
			return out, err
		case ue.Status == http.StatusUnauthorized || ue.Status == http.StatusForbidden:
			return out, fmt.Errorf("Grafana refused %s for datasource %s (HTTP %d): %s",
				token, s.DatasourceUID, ue.Status, refused)
		case ue.Status == http.StatusNotFound && mentionsDatasource(ue.Body):
			return out, fmt.Errorf("Grafana has no datasource with uid %s that %s may query (HTTP 404): "+
				"use the uid Connections > Data sources shows for the %s datasource", s.DatasourceUID, token, name)
		}
		return out, err
	}
}

// Base is what every hand-written system client holds: its upstream client
// and the configured URL as messages show it.
type Base struct {
	Up     *upstream.Client
	target string
}

// NewBase builds the Base of the system called name at s.
func NewBase(name string, s settings.Endpoint) (Base, error) {
	up, err := Client(name, s)
	if err != nil {
		return Base{}, err
	}
	return Base{Up: up, target: s.DisplayURL()}, nil
}

// Target is the configured URL as messages and the health report show it.
func (b Base) Target() string { return b.target }

// Close releases pooled connections; safe to call more than once.
func (b Base) Close() { b.Up.CloseIdleConnections() }

// BuildInfo is the build information Prometheus-family servers (Loki, Tempo,
// Alertmanager's versionInfo) report.
type BuildInfo struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Branch    string `json:"branch"`
	BuildUser string `json:"buildUser"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
}

// VersionProbe is the health probe of a system whose version read says
// whether it answers.
func VersionProbe(version func(ctx context.Context) (string, error)) health.Probe {
	return func(ctx context.Context) (health.Outcome, error) {
		v, err := version(ctx)
		if err != nil {
			return health.Outcome{}, err
		}
		return health.Outcome{Version: v}, nil
	}
}
