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
type VersionInfo = endpoint.BuildInfo

// Client reads one Alertmanager.
type Client struct{ endpoint.Base }

// New builds the client for the Alertmanager endpoint in the settings.
func New(s settings.Endpoint) (*Client, error) {
	b, err := endpoint.NewBase(Name, s)
	if err != nil {
		return nil, err
	}
	return &Client{b}, nil
}

// Status reads the Alertmanager's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.Up.GetJSON(ctx, PathStatus, nil, &st)
	return st, err
}

// Probe reads the status: the version, or why the Alertmanager cannot be
// read.
func (c *Client) Probe() health.Probe {
	return endpoint.VersionProbe(func(ctx context.Context) (string, error) {
		st, err := c.Status(ctx)
		return st.VersionInfo.Version, err
	})
}
