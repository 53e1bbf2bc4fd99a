// Package loki is MeshWatch's client of the Loki HTTP API, hand-written on
// the project's transport (pkg/upstream): Loki's own Go client lives in its
// server module, far too heavy to import.
package loki

import (
	"context"

	"github.com/meshwatch/meshwatch/pkg/health"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems/internal/endpoint"
)

// Name is how messages call the service.
const Name = "Loki"

// API paths this package reads.
const (
	PathBuildinfo = "/loki/api/v1/status/buildinfo"
)

// BuildInfo is Loki's GET /loki/api/v1/status/buildinfo answer.
type BuildInfo = endpoint.BuildInfo

// Client reads one Loki.
type Client struct{ endpoint.Base }

// New builds the client for the Loki endpoint in the settings.
func New(s settings.Endpoint) (*Client, error) {
	b, err := endpoint.NewBase(Name, s)
	if err != nil {
		return nil, err
	}
	return &Client{b}, nil
}

// Buildinfo reads Loki's build information.
func (c *Client) Buildinfo(ctx context.Context) (BuildInfo, error) {
	var info BuildInfo
	err := c.Up.GetJSON(ctx, PathBuildinfo, nil, &info)
	return info, err
}

// Probe reads the build information: the version, or why Loki cannot be
// read.
func (c *Client) Probe() health.Probe {
	return endpoint.VersionProbe(func(ctx context.Context) (string, error) {
		info, err := c.Buildinfo(ctx)
		return info.Version, err
	})
}
