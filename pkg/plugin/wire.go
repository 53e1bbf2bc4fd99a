package plugin

import (
	"context"
	"fmt"
	"time"

	"github.com/meshwatch/meshwatch/pkg/alerts"
	"github.com/meshwatch/meshwatch/pkg/capability"
	"github.com/meshwatch/meshwatch/pkg/configapi"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems"
)

// alertsInterval is how often the alerts Live channel reads Prometheus: one
// poll per instance, shared by every subscriber. alertsHeartbeat re-sends an
// unchanged frame this often (zero: the feed's default). Both are variables
// for tests only.
var (
	alertsInterval  = alerts.DefaultInterval
	alertsHeartbeat time.Duration
)

// wire builds the capabilities of one instance; each registers its own
// routes, streams, health checks and what stops on Dispose.
func wire(reg *capability.Registry, cfg settings.Settings, loadErr error, version string) {
	configapi.Register(reg, cfg, loadErr, version)
	sys := systems.Register(reg, cfg, loadErr)
	feed := alerts.Register(reg, alertsSource(sys), alertsInterval)
	feed.Heartbeat = alertsHeartbeat
}

// alertsSource reads the alerts from Prometheus, or says why it cannot.
func alertsSource(sys *systems.Set) alerts.Source {
	if sys.Prometheus == nil {
		return alerts.Source{Unavailable: fmt.Errorf(
			"the MeshWatch settings for Prometheus are invalid: %v (an admin can fix them on the plugin's configuration page)", sys.PrometheusErr)}
	}
	c := sys.Prometheus
	return alerts.Source{Fetch: func(ctx context.Context) ([]alerts.Alert, error) { return alerts.Fetch(ctx, c) }}
}
