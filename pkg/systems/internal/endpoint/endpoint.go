// Package endpoint builds the upstream client of a system reached over
// HTTP from its settings.Endpoint, the same way for every system package.
package endpoint

import (
	"context"

	"github.com/meshwatch/meshwatch/pkg/health"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/upstream"
)

// Client is the upstream client for the system called name at s, with any
// extra settings (the egress dialer) applied to the config first.
func Client(name string, s settings.Endpoint, extra ...func(*upstream.Config)) (*upstream.Client, error) {
	cfg := upstream.Config{
		Name: name, BaseURL: s.URL, Authorization: s.Auth(),
		TenantHeader: s.TenantHeader, TenantID: s.TenantID, Timeout: s.Timeout(),
	}
	for _, f := range extra {
		f(&cfg)
	}
	return upstream.New(cfg)
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
