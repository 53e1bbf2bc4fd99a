// Package alertmanager is MeshWatch's client of the Alertmanager API v2,
// hand-written on the project's transport (pkg/upstream): Alertmanager's
// generated go-openapi client would bring the whole go-openapi runtime.
package alertmanager

import (
	"context"
	"time"

	"github.com/meshwatch/meshwatch/pkg/health"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems/internal/endpoint"
	"github.com/meshwatch/meshwatch/pkg/upstream"
)

// Name is how messages call the service.
const Name = "Alertmanager"

// API paths this package reads.
const (
	PathStatus = "/api/v2/status"
)

// Status is the part of GET /api/v2/status MeshWatch reads.
type Status struct {
	VersionInfo VersionInfo `json:"versionInfo"`
	Cluster     struct {
		// Status is "ready", "settling" or "disabled".
		Status string `json:"status"`
	} `json:"cluster"`
	Uptime time.Time `json:"uptime"`
}

// VersionInfo is the build of the Alertmanager.
type VersionInfo struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Branch    string `json:"branch"`
	BuildUser string `json:"buildUser"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
}

// Client reads one Alertmanager.
type Client struct {
	up     *upstream.Client
	target string
}

// New builds the client for the Alertmanager endpoint in the settings.
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

// Status reads the Alertmanager's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.up.GetJSON(ctx, PathStatus, nil, &st)
	return st, err
}

// Probe reads the status: the version, or why the Alertmanager cannot be
// read.
func (c *Client) Probe() health.Probe {
	return func(ctx context.Context) (health.Outcome, error) {
		st, err := c.Status(ctx)
		if err != nil {
			return health.Outcome{}, err
		}
		return health.Outcome{Version: st.VersionInfo.Version}, nil
	}
}
