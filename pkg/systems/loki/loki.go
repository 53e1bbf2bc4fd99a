// Package loki is MeshWatch's client of the Loki HTTP API, hand-written on
// the project's transport (pkg/upstream): Loki's own Go client lives in its
// server module, far too heavy to import.
package loki

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

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
	PathLabels    = "/loki/api/v1/labels"
)

// BuildInfo is Loki's GET /loki/api/v1/status/buildinfo answer.
type BuildInfo = endpoint.BuildInfo

// Client reads one Loki.
type Client struct {
	endpoint.Base
	viaGrafana bool
}

// New builds the client for the Loki endpoint in the settings.
func New(s settings.Endpoint) (*Client, error) {
	b, err := endpoint.NewBase(Name, s)
	if err != nil {
		return nil, err
	}
	return &Client{Base: b, viaGrafana: s.ViaGrafana()}, nil
}

// ErrNoTenant is wrapped by the errors of calls a multi-tenant Loki
// (auth_enabled: true) refused for want of a tenant.
var ErrNoTenant = errors.New("Loki runs multi-tenant (auth_enabled: true) and the request named no tenant")

// ErrDatasourceRefused is wrapped by the errors of calls through Grafana's
// datasource proxy that Loki refused as unauthorized: Grafana answers those
// 400 "Authentication to data source failed" and drops Loki's reason, which
// for a multi-tenant Loki is most often a missing tenant header.
var ErrDatasourceRefused = errors.New("Loki refused Grafana's Loki datasource as unauthorized")

// refusalError is a refusal explained: its message says what to set; it
// wraps both the sentinel and the *upstream.Error.
type refusalError struct {
	msg  string
	errs []error
}

func (e *refusalError) Error() string   { return e.msg }
func (e *refusalError) Unwrap() []error { return e.errs }

// refusal explains Loki's refusal of a request for want of a tenant
// (HTTP 401 "no org id") or, through Grafana's proxy, for want of
// credentials or tenant, by what to set (short enough for a capture's
// Partial line); other errors are returned as they are.
func (c *Client) refusal(err error) error {
	var ue *upstream.Error
	if !errors.As(err, &ue) {
		return err
	}
	switch {
	case ue.Status == http.StatusUnauthorized && strings.Contains(ue.Body, "no org id"):
		return &refusalError{errs: []error{ErrNoTenant, err}, msg: fmt.Sprintf("%v (HTTP 401 %q from %s): "+
			"set loki.tenantId to the tenant whose logs MeshWatch reads (sent as X-Scope-OrgID, or in loki.tenantHeader)",
			ErrNoTenant, ue.Body, ue.URL)}
	case c.viaGrafana && ue.Status == http.StatusBadRequest && strings.Contains(ue.Body, "Authentication to data source failed"):
		return &refusalError{errs: []error{ErrDatasourceRefused, err}, msg: fmt.Sprintf("%v (Grafana's proxy answered HTTP 400 %q): "+
			"check its credentials and, for a multi-tenant Loki, its header X-Scope-OrgID = the tenant "+
			"(provisioned: jsonData.httpHeaderName1, secureJsonData.httpHeaderValue1)", ErrDatasourceRefused, ue.Body)}
	}
	return err
}

// Buildinfo reads Loki's build information.
func (c *Client) Buildinfo(ctx context.Context) (BuildInfo, error) {
	var info BuildInfo
	err := c.Up.GetJSON(ctx, PathBuildinfo, nil, &info)
	return info, err
}

// Probe reads the build information: the version, or why Loki cannot be
// read. Loki answers that without a tenant, so the probe then lists the
// label names of the last minute, as log queries would be asked: a
// multi-tenant Loki's refusal for want of a tenant (ErrNoTenant, or
// ErrDatasourceRefused through Grafana) fails the probe, while any other
// failure of that second read is left to the queries (the version read
// already showed Loki answers).
func (c *Client) Probe() health.Probe {
	return endpoint.VersionProbe(func(ctx context.Context) (string, error) {
		info, err := c.Buildinfo(ctx)
		if err != nil {
			return "", err
		}
		var labels struct{}
		if err := c.refusal(c.Up.GetJSON(ctx, PathLabels, url.Values{"since": {"1m"}}, &labels)); errors.Is(err, ErrNoTenant) ||
			errors.Is(err, ErrDatasourceRefused) {
			// Its message, not the health report's generic one for an HTTP 401.
			return "", errors.New(err.Error())
		}
		return info.Version, nil
	})
}
