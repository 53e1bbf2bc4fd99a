// Package plugin is MeshWatch's Grafana-facing shell, as thin as it can be:
// it loads the settings, lets each capability register its resource routes,
// Live streams and health checks (wire.go), dispatches Grafana's calls to
// them, and disposes of everything they started when Grafana drops the
// instance. It holds no domain logic of its own.
package plugin

import (
	"context"
	"net/http"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/grafana/grafana-plugin-sdk-go/backend/resource/httpadapter"
	"github.com/grafana/grafana-plugin-sdk-go/build/buildinfo"

	"github.com/meshwatch/meshwatch/pkg/access"
	"github.com/meshwatch/meshwatch/pkg/capability"
	"github.com/meshwatch/meshwatch/pkg/settings"
)

// PluginID is the plugin's id in plugin.json.
const PluginID = "meshwatch-mesh-app"

var (
	_ backend.CallResourceHandler   = (*App)(nil)
	_ backend.CheckHealthHandler    = (*App)(nil)
	_ backend.StreamHandler         = (*App)(nil)
	_ instancemgmt.InstanceDisposer = (*App)(nil)
)

// App is one instance of the plugin for one org's settings. Grafana makes a
// new one whenever the settings change and disposes of the old one.
type App struct {
	backend.CallResourceHandler

	reg *capability.Registry
	// checkTimeout bounds each dependency probe in CheckHealth.
	checkTimeout time.Duration
}

// NewApp builds an instance from Grafana's app settings. Invalid settings do
// not fail the instance: the health check and the routes report them field by
// field, so the admin can fix them from the config page.
//
// What Grafana gives the instance for its datasource proxy comes from ctx:
// the app URL (GF_APP_URL) and, when the managed service account is on
// (plugin.json "iam"), its token. Either may be missing; the health lines
// of the systems set to a Grafana datasource then say what to enable.
func NewApp(ctx context.Context, s backend.AppInstanceSettings) (instancemgmt.Instance, error) {
	cfg, err := settings.Load(s.JSONData, s.DecryptedSecureJSONData)
	if err != nil {
		log.DefaultLogger.Warn("MeshWatch settings are invalid", "error", err.Error())
	}
	cfg = cfg.WithGrafana(grafanaGives(ctx))
	reg := capability.New()
	wire(reg, cfg, err, pluginVersion())
	return &App{
		CallResourceHandler: httpadapter.New(withUser(reg.Handler())),
		reg:                 reg,
		checkTimeout:        5 * time.Second,
	}, nil
}

// Dispose stops everything the instance's capabilities started (polls,
// streams, connections). Grafana calls it after a settings change and for
// evicted idle instances.
func (a *App) Dispose() { a.reg.Dispose() }

// withUser hands the capabilities the caller Grafana put in the plugin
// context (nil when Grafana itself makes the call).
func withUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := userOf(backend.PluginConfigFromContext(r.Context()).User)
		next.ServeHTTP(w, r.WithContext(access.WithUser(r.Context(), u)))
	})
}

func userOf(u *backend.User) *access.User {
	if u == nil {
		return nil
	}
	return &access.User{Login: u.Login, Name: u.Name, Role: access.Role(u.Role)}
}

// grafanaGives is Grafana's app URL and the plugin's managed
// service-account token from the Grafana config in ctx; "" for what Grafana
// does not give (an older Grafana, or the managed service account off).
func grafanaGives(ctx context.Context) (appURL, managedToken string) {
	gc := backend.GrafanaConfigFromContext(ctx)
	if gc == nil {
		return "", ""
	}
	appURL, _ = gc.AppURL()
	managedToken, _ = gc.PluginAppClientSecret()
	return appURL, managedToken
}

func pluginVersion() string {
	info, err := buildinfo.GetBuildInfo()
	if err != nil || info.Version == "" {
		return "dev"
	}
	return info.Version
}
