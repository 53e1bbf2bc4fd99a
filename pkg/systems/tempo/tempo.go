// Package tempo is MeshWatch's client of the Tempo HTTP API, hand-written on
// the project's transport (pkg/upstream): Tempo's Go client packages live in
// its server module, far too heavy to import.
package tempo

import (
	"context"

	"github.com/meshwatch/meshwatch/pkg/health"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems/internal/endpoint"
)

// Name is how messages call the service.
const Name = "Tempo"

// API paths this package reads.
const (
	PathBuildinfo = "/api/status/buildinfo"
)

// BuildInfo is Tempo's GET /api/status/buildinfo answer.
type BuildInfo = endpoint.BuildInfo

// Client reads one Tempo.
type Client struct{ endpoint.Base }

// New builds the client for the Tempo endpoint in the settings.
func New(s settings.Endpoint) (*Client, error) {
	b, err := endpoint.NewBase(Name, s)
	if err != nil {
		return nil, err
	}
	return &Client{b}, nil
}

// Buildinfo reads Tempo's build information.
func (c *Client) Buildinfo(ctx context.Context) (BuildInfo, error) {
	var info BuildInfo
	err := c.Up.GetJSON(ctx, PathBuildinfo, nil, &info)
	return info, err
}

// Probe reads the build information: the version, or why Tempo cannot be
// read.
func (c *Client) Probe() health.Probe {
	return endpoint.VersionProbe(func(ctx context.Context) (string, error) {
		info, err := c.Buildinfo(ctx)
		return info.Version, err
	})
}
