// Package alertmanager is MeshWatch's client of the Alertmanager API v2,
// hand-written on the project's transport (pkg/upstream): Alertmanager's
// generated go-openapi client would bring the whole go-openapi runtime.
package alertmanager

import (
	"context"
	"errors"
	"net/url"
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
	PathAlerts = "/api/v2/alerts"
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

// Alert is one entry of GET /api/v2/alerts: Alertmanager's gettableAlert
// (api/v2/openapi.yaml; api/v2/models/gettable_alert.go and
// alert_status.go). The list holds only alerts that have not ended: their
// endsAt is when Alertmanager will resolve them unless the sender renews
// them (the sender's endsAt, or now + resolve_timeout), not an end.
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	UpdatedAt    time.Time         `json:"updatedAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
	Status       AlertStatus       `json:"status"`
	Receivers    []Receiver        `json:"receivers"`
}

// AlertStatus is whether Alertmanager notifies about the alert now.
type AlertStatus struct {
	// State is "active" (notified), "suppressed" (silenced, inhibited or
	// muted by a time interval: still firing, but no webhook is sent) or
	// "unprocessed" (just received, not yet routed).
	State       string   `json:"state"`
	SilencedBy  []string `json:"silencedBy"`
	InhibitedBy []string `json:"inhibitedBy"`
	// MutedBy names the time intervals muting it (Alertmanager 0.27 and later).
	MutedBy []string `json:"mutedBy"`
}

// Alert states of AlertStatus.State.
const (
	StateActive      = "active"
	StateSuppressed  = "suppressed"
	StateUnprocessed = "unprocessed"
)

// Receiver names a receiver the alert is routed to.
type Receiver struct {
	Name string `json:"name"`
}

// alertsQuery asks for every alert that has not ended, whatever its state
// (these are also Alertmanager's defaults; spelled out so a change of
// defaults cannot hide silenced alerts from the reconcile).
var alertsQuery = url.Values{
	"active": {"true"}, "silenced": {"true"}, "inhibited": {"true"}, "unprocessed": {"true"},
}

// Alerts reads every alert Alertmanager holds that has not ended: active,
// silenced, inhibited and unprocessed ones (GET /api/v2/alerts). Every error
// starts with "Alertmanager at <base>/api/v2/alerts" and carries no
// credentials. An answer that is not a JSON array (null included) is an
// error, never an empty list: the reconcile must not read "nothing fires"
// into a broken answer.
func (c *Client) Alerts(ctx context.Context) ([]Alert, error) {
	var list []Alert
	if err := c.Up.GetJSON(ctx, PathAlerts, alertsQuery, &list); err != nil {
		return nil, err
	}
	if list == nil {
		return nil, c.Up.JSONError(PathAlerts, errNotList)
	}
	return list, nil
}

var errNotList = errors.New("the answer is null, not a list of alerts")

// Probe reads the status: the version, or why the Alertmanager cannot be
// read.
func (c *Client) Probe() health.Probe {
	return endpoint.VersionProbe(func(ctx context.Context) (string, error) {
		st, err := c.Status(ctx)
		return st.VersionInfo.Version, err
	})
}
