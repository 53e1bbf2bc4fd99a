package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/meshwatch/meshwatch/pkg/alerts"
	"github.com/meshwatch/meshwatch/pkg/capability"
	"github.com/meshwatch/meshwatch/pkg/configapi"
	"github.com/meshwatch/meshwatch/pkg/connect"
	"github.com/meshwatch/meshwatch/pkg/health"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems/prometheus"
	"github.com/meshwatch/meshwatch/pkg/upstream"
)

// alertsInterval is how often the alerts Live channel reads Prometheus: one
// poll per instance, shared by every subscriber.
// alertsHeartbeat re-sends an unchanged frame this often (zero: the feed's
// default). Both are variables for tests only.
var (
	alertsInterval  = alerts.DefaultInterval
	alertsHeartbeat time.Duration
)

// wire builds the capabilities of one instance; each registers its own
// routes, streams, health checks and what stops on Dispose.
func wire(reg *capability.Registry, cfg settings.Settings, loadErr error, version string) {
	configapi.Register(reg, cfg, loadErr, version)
	sys := registerSystems(reg, cfg, loadErr)
	feed := alerts.Register(reg, sys.alertsSource(), alertsInterval)
	feed.Heartbeat = alertsHeartbeat
}

// systems are the external systems' clients; a nil client has the reason
// beside it (its settings failed validation, or it could not be built).
type systems struct {
	prometheus *prometheus.Client
	promErr    error
}

func (s systems) alertsSource() alerts.Source {
	if s.prometheus == nil {
		return alerts.Source{Unavailable: fmt.Errorf(
			"the MeshWatch settings for Prometheus are invalid: %v (an admin can fix them on the plugin's configuration page)", s.promErr)}
	}
	c := s.prometheus
	return alerts.Source{Fetch: func(ctx context.Context) ([]alerts.Alert, error) { return alerts.Fetch(ctx, c) }}
}

// sectionErr is why a settings section cannot be used (its own field errors
// or an unreadable jsonData), without credentials; nil when it is fine.
func sectionErr(loadErr error, section string) error {
	var errs settings.Errors
	if !errors.As(loadErr, &errs) {
		return loadErr
	}
	bad := errs.Section(section)
	if len(bad) == 0 {
		return nil
	}
	msgs := make([]string, len(bad))
	for i, fe := range bad {
		msgs[i] = fe.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}

// registerSystems builds a client per external system, never from a section
// that failed validation, and registers each one's health line.
func registerSystems(reg *capability.Registry, cfg settings.Settings, loadErr error) systems {
	var fieldErrs settings.Errors
	if errors.As(loadErr, &fieldErrs) {
		for _, fe := range fieldErrs {
			reg.HealthLine(health.Result{Name: "Settings", Target: fe.Field, Required: true,
				Status: health.StatusError, Message: fe.Error()})
		}
	}
	build := func(section string, mk func() (*upstream.Client, error)) (*upstream.Client, error) {
		if err := sectionErr(loadErr, section); err != nil {
			return nil, err
		}
		c, err := mk()
		if c != nil {
			reg.OnDispose(c.CloseIdleConnections)
		}
		return c, err
	}
	probe := func(c *upstream.Client, err error, mk func(*upstream.Client) health.Probe) health.Probe {
		if c == nil {
			return health.FailedProbe(err)
		}
		return mk(c)
	}
	var s systems
	if s.promErr = sectionErr(loadErr, "prometheus"); s.promErr == nil {
		s.prometheus, s.promErr = prometheus.New(cfg.Prometheus)
	}
	promProbe := health.FailedProbe(s.promErr)
	if s.prometheus != nil {
		reg.OnDispose(s.prometheus.Close)
		promProbe = s.prometheus.Probe()
	}
	loki, lokiErr := build("loki", func() (*upstream.Client, error) { return connect.Endpoint("Loki", cfg.Loki) })
	tempo, tempoErr := build("tempo", func() (*upstream.Client, error) { return connect.Endpoint("Tempo", cfg.Tempo) })
	am, amErr := build("alertmanager", func() (*upstream.Client, error) { return connect.Endpoint("Alertmanager", cfg.Alertmanager) })
	ollama, ollamaErr := build("ollama", func() (*upstream.Client, error) { return connect.Ollama(cfg.Ollama) })
	kube, kubeErr := build("kubernetes", func() (*upstream.Client, error) { return connect.Kubernetes(cfg.Kubernetes) })

	reg.Health(health.Check{Name: "Prometheus", Target: cfg.Prometheus.DisplayURL(), Required: true, Fix: "prometheus.url",
		Probe: promProbe})
	reg.Health(health.Check{Name: "Loki", Target: cfg.Loki.DisplayURL(), Fix: "loki.url", Probe: probe(loki, lokiErr, health.LokiProbe)})
	reg.Health(health.Check{Name: "Tempo", Target: cfg.Tempo.DisplayURL(), Fix: "tempo.url", Probe: probe(tempo, tempoErr, health.TempoProbe)})
	reg.Health(health.Check{Name: "Alertmanager", Target: cfg.Alertmanager.DisplayURL(), Fix: "alertmanager.url",
		Probe: probe(am, amErr, health.AlertmanagerProbe)})
	reg.Health(health.Check{Name: "Ollama", Target: cfg.Ollama.DisplayURL(), Fix: "ollama.url / ollama.model",
		Probe: probe(ollama, ollamaErr, func(c *upstream.Client) health.Probe {
			return health.OllamaProbe(c, cfg.Ollama.Model, cfg.Ollama.AllowExternal)
		})})
	kubeCheck := health.Check{Name: "Kubernetes API", Target: kubeTarget(cfg.Kubernetes), Fix: "kubernetes.mode / kubernetes.url",
		Probe: probe(kube, kubeErr, health.KubernetesProbe)}
	if errors.Is(kubeErr, connect.ErrKubernetesDisabled) {
		kubeCheck.Probe = health.DisabledProbe("kubernetes.mode is \"disabled\": canary state and sign-off gates are off")
	}
	reg.Health(kubeCheck)
	storage := health.FailedProbe(sectionErr(loadErr, "storage"))
	if sectionErr(loadErr, "storage") == nil {
		storage = health.StorageProbe(cfg.Storage.Path)
	}
	reg.Health(health.Check{Name: "Storage", Target: cfg.Storage.Path, Required: true, Fix: "storage.path", Probe: storage})
	return s
}

func kubeTarget(k settings.Kubernetes) string {
	switch k.Mode {
	case settings.KubeURL:
		return settings.ShowURL(k.URL)
	case settings.KubeDisabled:
		return "disabled"
	}
	return "in-cluster ServiceAccount"
}
