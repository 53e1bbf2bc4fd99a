package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

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

// Alerts stream timing. The default matches Prometheus' scrape and
// evaluation interval in deploy/.
const (
	defaultAlertsInterval = 15 * time.Second
	minAlertsInterval     = time.Second
	maxAlertsInterval     = 5 * time.Minute
	// alertsHeartbeat is how often an unchanged frame is sent again, so an
	// open page can tell the stream is alive.
	alertsHeartbeat = time.Minute
	// alertsSubscribeWait bounds the Prometheus call that builds a new
	// subscriber's initial frame; past it the subscriber waits for the stream.
	alertsSubscribeWait = 3 * time.Second
)

// streamState is the instance's stream bookkeeping.
type streamState struct {
	// heartbeat overrides alertsHeartbeat (tests).
	heartbeat time.Duration

	mu sync.Mutex
	// lastAlerts is the alerts frame (JSON) the last RunStream tick built,
	// handed to new subscribers as their initial data while it is fresh.
	lastAlerts   []byte
	lastAlertsAt time.Time
}

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
	raw := a.cachedAlerts(alertsSubscribeFresh(alertsInterval(req.Data)))
	if raw == nil {
		wait, cancel := context.WithTimeout(ctx, alertsSubscribeWait)
		frame := a.alertsFrame(wait)
		timedOut := wait.Err() != nil
		cancel()
		if !timedOut {
			raw, _ = data.FrameToJSON(frame, data.IncludeAll)
		}
	}
	if raw != nil {
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
	interval := alertsInterval(req.Data)
	heartbeat := a.streams.heartbeat
	if heartbeat <= 0 {
		heartbeat = alertsHeartbeat
	}
	gate := sendGate{every: heartbeat}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		frame := a.alertsFrame(ctx)
		if ctx.Err() != nil {
			return nil
		}
		raw, err := data.FrameToJSON(frame, data.IncludeAll)
		if err != nil {
			return fmt.Errorf("encoding the alerts frame: %w", err)
		}
		now := time.Now()
		a.rememberAlerts(raw, now)
		if gate.due(raw, now) {
			if err := sender.SendFrame(frame, data.IncludeAll); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("sending the alerts frame: %w", err)
			}
			gate.sent(raw, now)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
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
// that could not be built. URL credentials are masked, as every subscriber
// (not only admins) sees the message.
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
		maskURLCredentials(strings.Join(msgs, "; ")))
}

var urlUserinfo = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s"'@]+@`)

// maskURLCredentials replaces the user:password part of any URL in s.
func maskURLCredentials(s string) string {
	return urlUserinfo.ReplaceAllString(s, "${1}***@")
}

// alertsInterval reads {"intervalMs": N} from the subscription data, clamped
// to [1 s, 5 min]; anything missing or unreadable gives the default.
func alertsInterval(raw json.RawMessage) time.Duration {
	var opts struct {
		IntervalMs *float64 `json:"intervalMs"`
	}
	if len(bytes.TrimSpace(raw)) == 0 || json.Unmarshal(raw, &opts) != nil || opts.IntervalMs == nil {
		return defaultAlertsInterval
	}
	ms := *opts.IntervalMs
	switch {
	case ms < float64(minAlertsInterval/time.Millisecond):
		return minAlertsInterval
	case ms > float64(maxAlertsInterval/time.Millisecond):
		return maxAlertsInterval
	}
	return time.Duration(ms) * time.Millisecond
}

// alertsSubscribeFresh is how old a running stream's last frame may be to
// serve as a new subscriber's initial data: a bit more than one tick.
func alertsSubscribeFresh(interval time.Duration) time.Duration {
	return interval + interval/2
}

func (a *App) rememberAlerts(raw []byte, at time.Time) {
	a.streams.mu.Lock()
	defer a.streams.mu.Unlock()
	a.streams.lastAlerts, a.streams.lastAlertsAt = raw, at
}

// cachedAlerts returns the last frame a running stream built if it is at
// most maxAge old.
func (a *App) cachedAlerts(maxAge time.Duration) []byte {
	a.streams.mu.Lock()
	defer a.streams.mu.Unlock()
	if a.streams.lastAlerts == nil || time.Since(a.streams.lastAlertsAt) > maxAge {
		return nil
	}
	return a.streams.lastAlerts
}

// sendGate decides whether a frame goes out: when its content differs from
// the last one sent, or when the last send is at least every old.
type sendGate struct {
	every  time.Duration
	last   []byte
	sentAt time.Time
}

func (g *sendGate) due(content []byte, now time.Time) bool {
	return g.last == nil || !bytes.Equal(content, g.last) || now.Sub(g.sentAt) >= g.every
}

func (g *sendGate) sent(content []byte, now time.Time) {
	g.last, g.sentAt = content, now
}
