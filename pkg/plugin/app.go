// Package plugin is MeshWatch's Grafana-facing shell: it turns Grafana's app
// instance settings into typed settings, wires the capability packages to
// resource routes, the health check and Grafana Live streams, and owns their
// lifecycle. It holds no domain logic of its own.
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

	"github.com/meshwatch/meshwatch/pkg/alerts"
	"github.com/meshwatch/meshwatch/pkg/connect"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/upstream"
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

	settings    settings.Settings
	settingsErr error
	clients     clients
	version     string
	// checkTimeout bounds each dependency probe in CheckHealth.
	checkTimeout time.Duration
	// alertsFeed serves the alerts Live channel (streams.go).
	alertsFeed *alerts.Feed
}

// clients are the upstream connections built from the settings; a nil client
// has its construction error beside it.
type clients struct {
	prometheus, loki, tempo, alertmanager, ollama, kubernetes *upstream.Client
	errs                                                      map[string]error
}

// NewApp builds an instance from Grafana's app settings. Invalid settings do
// not fail the instance: the health check and the routes report them field by
// field, so the admin can fix them from the config page.
func NewApp(_ context.Context, s backend.AppInstanceSettings) (instancemgmt.Instance, error) {
	cfg, err := settings.Load(s.JSONData, s.DecryptedSecureJSONData)
	app := &App{settings: cfg, settingsErr: err, checkTimeout: 5 * time.Second, version: pluginVersion()}
	if err != nil {
		log.DefaultLogger.Warn("MeshWatch settings are invalid", "error", err.Error())
	}
	app.clients = buildClients(cfg)
	app.alertsFeed = &alerts.Feed{Read: app.alertsFrame}
	mux := http.NewServeMux()
	app.registerRoutes(mux)
	app.CallResourceHandler = httpadapter.New(mux)
	return app, nil
}

func buildClients(s settings.Settings) clients {
	c := clients{errs: map[string]error{}}
	keep := func(name string, cl *upstream.Client, err error) *upstream.Client {
		if err != nil {
			c.errs[name] = err
		}
		return cl
	}
	var err error
	var cl *upstream.Client
	cl, err = connect.Endpoint("Prometheus", s.Prometheus)
	c.prometheus = keep("prometheus", cl, err)
	cl, err = connect.Endpoint("Loki", s.Loki)
	c.loki = keep("loki", cl, err)
	cl, err = connect.Endpoint("Tempo", s.Tempo)
	c.tempo = keep("tempo", cl, err)
	cl, err = connect.Endpoint("Alertmanager", s.Alertmanager)
	c.alertmanager = keep("alertmanager", cl, err)
	cl, err = connect.Ollama(s.Ollama)
	c.ollama = keep("ollama", cl, err)
	cl, err = connect.Kubernetes(s.Kubernetes)
	c.kubernetes = keep("kubernetes", cl, err)
	return c
}

// Dispose releases the instance's connections.
func (a *App) Dispose() {
	for _, c := range []*upstream.Client{a.clients.prometheus, a.clients.loki, a.clients.tempo,
		a.clients.alertmanager, a.clients.ollama, a.clients.kubernetes} {
		if c != nil {
			c.CloseIdleConnections()
		}
	}
}

func pluginVersion() string {
	info, err := buildinfo.GetBuildInfo()
	if err != nil || info.Version == "" {
		return "dev"
	}
	return info.Version
}
