package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/meshwatch/meshwatch/pkg/alerts"
	"github.com/meshwatch/meshwatch/pkg/settings"
)

// Grafana Live channels the plugin serves
// (plugin/meshwatch-mesh-app/<path> in the browser).
const (
	// AlertsStreamPath streams the alerts Prometheus evaluates now, as the
	// "alerts" frame of pkg/alerts.
	AlertsStreamPath = "alerts"
)

// SubscribeStream lets any signed-in user join the alerts channel (the data
// is read-only and the same for everyone in the org) and hands them the
// current frame, so a viewer joining a running stream does not wait for the
// next change.
func (a *App) SubscribeStream(ctx context.Context, req *backend.SubscribeStreamRequest) (*backend.SubscribeStreamResponse, error) {
	if req.Path != AlertsStreamPath {
		return &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusNotFound}, nil
	}
	if req.PluginContext.User == nil {
		return &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusPermissionDenied}, nil
	}
	resp := &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusOK}
	if raw := a.alertsFeed.Initial(ctx, alerts.Interval(req.Data)); raw != nil {
		if initial, err := backend.NewInitialData(raw); err == nil {
			resp.InitialData = initial
		}
	}
	return resp, nil
}

// PublishStream refuses every publication: the channels are server-fed.
func (a *App) PublishStream(context.Context, *backend.PublishStreamRequest) (*backend.PublishStreamResponse, error) {
	return &backend.PublishStreamResponse{Status: backend.PublishStreamStatusPermissionDenied}, nil
}

// RunStream feeds the alerts channel: a frame at once, then one every
// interval ({"intervalMs": N} in the subscription data, 1 s to 5 min,
// default 15 s) when the alerts changed, and at least once a minute. An
// unreachable Prometheus or invalid settings become an error notice on an
// empty frame; the stream keeps running and retries on the next tick. It
// returns when Grafana cancels ctx (no subscriber left) or a send fails.
func (a *App) RunStream(ctx context.Context, req *backend.RunStreamRequest, sender *backend.StreamSender) error {
	if req.Path != AlertsStreamPath {
		return fmt.Errorf("no stream at path %q", req.Path)
	}
	return a.alertsFeed.Run(ctx, alerts.Interval(req.Data), func(f *data.Frame) error {
		return sender.SendFrame(f, data.IncludeAll)
	})
}

// alertsFrame reads the alerts now: the alerts frame, or the empty frame with
// an error notice when the settings or Prometheus fail.
func (a *App) alertsFrame(ctx context.Context) *data.Frame {
	if err := a.prometheusSettingsError(); err != nil {
		return alerts.ErrorFrame(err, "")
	}
	c := a.clients.prometheus
	list, err := alerts.Fetch(ctx, c)
	if err != nil {
		if ctx.Err() == nil {
			log.DefaultLogger.Debug("Reading Prometheus alerts failed", "error", err.Error())
		}
		return alerts.ErrorFrame(err, "Prometheus at "+c.BaseURL())
	}
	return alerts.Frame(list)
}

// prometheusSettingsError is what keeps the alerts stream from asking
// Prometheus: invalid prometheus.* settings, unreadable jsonData, or a client
// that could not be built. (Settings errors never echo URL credentials.)
func (a *App) prometheusSettingsError() error {
	var msgs []string
	var fieldErrs settings.Errors
	switch {
	case errors.As(a.settingsErr, &fieldErrs):
		for _, fe := range fieldErrs {
			if fe.Field == "jsonData" || fe.Field == "prometheus" || strings.HasPrefix(fe.Field, "prometheus.") ||
				strings.HasPrefix(fe.Field, "prometheus ") {
				msgs = append(msgs, fe.Error())
			}
		}
	case a.settingsErr != nil:
		msgs = append(msgs, a.settingsErr.Error())
	}
	if len(msgs) == 0 && a.clients.prometheus == nil {
		err := a.clients.errs["prometheus"]
		if err == nil {
			err = errors.New("no Prometheus client")
		}
		msgs = append(msgs, err.Error())
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("the MeshWatch settings for Prometheus are invalid: %s (an admin can fix them on the plugin's configuration page)",
		strings.Join(msgs, "; "))
}
