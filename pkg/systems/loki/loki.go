// Package loki is MeshWatch's client of the Loki HTTP API, hand-written on
// the project's transport (pkg/upstream): Loki's own Go client lives in its
// server module, far too heavy to import.
package loki

import (
	"context"

	"github.com/meshwatch/meshwatch/pkg/health"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems/internal/endpoint"
	"github.com/meshwatch/meshwatch/pkg/upstream"
)

// Name is how messages call the service.
const Name = "Loki"

// API paths this package reads.
const (
	PathBuildinfo = "/loki/api/v1/status/buildinfo"
)

// BuildInfo is Loki's GET /loki/api/v1/status/buildinfo answer.
type BuildInfo struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Branch    string `json:"branch"`
	BuildUser string `json:"buildUser"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
}

// Client reads one Loki.
type Client struct {
	up     *upstream.Client
	target string
}

// New builds the client for the Loki endpoint in the settings.
func New(s settings.Endpoint) (*Client, error) {
	up, err := endpoint.Client(Name, s)
	if err != nil {
		return nil, err
	}
	return &Client{up: up, target: s.DisplayURL()}, nil
}

// Target is the configured URL as messages and the health report show it.
func (c *Client) Target() string { return c.target }

// Close releases pooled connections; safe to call more than once.
func (c *Client) Close() { c.up.CloseIdleConnections() }

// Buildinfo reads Loki's build information.
func (c *Client) Buildinfo(ctx context.Context) (BuildInfo, error) {
	var info BuildInfo
	err := c.up.GetJSON(ctx, PathBuildinfo, nil, &info)
	return info, err
}

// Probe reads the build information: the version, or why Loki cannot be
// read.
func (c *Client) Probe() health.Probe {
	return func(ctx context.Context) (health.Outcome, error) {
		info, err := c.Buildinfo(ctx)
		if err != nil {
			return health.Outcome{}, err
		}
		return health.Outcome{Version: info.Version}, nil
	}
}
