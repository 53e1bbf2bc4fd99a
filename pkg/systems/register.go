// Package systems holds one package per external system MeshWatch reaches
// (prometheus, loki, tempo, alertmanager, ollama, kubernetes), each with its
// API paths, answer types and health probe; Register builds them all from
// the settings for one app instance.
package systems

import (
	"errors"
	"strings"

	"github.com/meshwatch/meshwatch/pkg/capability"
	"github.com/meshwatch/meshwatch/pkg/health"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems/alertmanager"
	"github.com/meshwatch/meshwatch/pkg/systems/kubernetes"
	"github.com/meshwatch/meshwatch/pkg/systems/loki"
	"github.com/meshwatch/meshwatch/pkg/systems/ollama"
	"github.com/meshwatch/meshwatch/pkg/systems/prometheus"
	"github.com/meshwatch/meshwatch/pkg/systems/tempo"
)

// Set is one instance's clients. A nil client has the reason beside it: its
// settings section failed validation, or it could not be built. Neither
// reason carries credentials.
type Set struct {
	Prometheus      *prometheus.Client
	PrometheusErr   error
	Loki            *loki.Client
	LokiErr         error
	Tempo           *tempo.Client
	TempoErr        error
	Alertmanager    *alertmanager.Client
	AlertmanagerErr error
	Ollama          *ollama.Client
	OllamaErr       error
	Kubernetes      *kubernetes.Client
	KubernetesErr   error
}

// system is what every system package's client offers.
type system interface {
	Probe() health.Probe
	Target() string
	Close()
}

// Register builds a client per system, never from a settings section that
// failed validation, registers each one's health line (Prometheus and
// storage are required; the rest degrade features when down) and closes
// them when the instance is disposed. Invalid settings come first in the
// health report, one line per field.
func Register(reg *capability.Registry, cfg settings.Settings, loadErr error) *Set {
	var fieldErrs settings.Errors
	if errors.As(loadErr, &fieldErrs) {
		for _, fe := range fieldErrs {
			reg.HealthLine(health.Result{Name: "Settings", Target: fe.Field, Required: true,
				Status: health.StatusError, Message: fe.Error()})
		}
	}
	s := &Set{}
	s.Prometheus, s.PrometheusErr = add(reg, loadErr, "prometheus", health.Check{Name: "Prometheus", Required: true,
		Target: cfg.Prometheus.DisplayURL(), Fix: "prometheus.url"}, func() (*prometheus.Client, error) { return prometheus.New(cfg.Prometheus) })
	s.Loki, s.LokiErr = add(reg, loadErr, "loki", health.Check{Name: "Loki", Target: cfg.Loki.DisplayURL(), Fix: "loki.url"},
		func() (*loki.Client, error) { return loki.New(cfg.Loki) })
	s.Tempo, s.TempoErr = add(reg, loadErr, "tempo", health.Check{Name: "Tempo", Target: cfg.Tempo.DisplayURL(), Fix: "tempo.url"},
		func() (*tempo.Client, error) { return tempo.New(cfg.Tempo) })
	s.Alertmanager, s.AlertmanagerErr = add(reg, loadErr, "alertmanager", health.Check{Name: "Alertmanager",
		Target: cfg.Alertmanager.DisplayURL(), Fix: "alertmanager.url"}, func() (*alertmanager.Client, error) { return alertmanager.New(cfg.Alertmanager) })
	s.Ollama, s.OllamaErr = add(reg, loadErr, "ollama", health.Check{Name: "Ollama", Target: cfg.Ollama.DisplayURL(),
		Fix: "ollama.url / ollama.model"}, func() (*ollama.Client, error) { return ollama.New(cfg.Ollama) })
	s.Kubernetes, s.KubernetesErr = add(reg, loadErr, "kubernetes", health.Check{Name: "Kubernetes API",
		Target: kubernetes.Target(cfg.Kubernetes), Fix: "kubernetes.mode / kubernetes.url"}, func() (*kubernetes.Client, error) { return kubernetes.New(cfg.Kubernetes) })

	storage := health.Check{Name: "Storage", Target: cfg.Storage.Path, Required: true, Fix: "storage.path",
		Probe: health.StorageProbe(cfg.Storage.Path)}
	if err := SectionErr(loadErr, "storage"); err != nil {
		storage.Probe = health.FailedProbe(err)
	}
	reg.Health(storage)
	return s
}

// add builds one system's client and registers its health line.
func add[C system](reg *capability.Registry, loadErr error, section string, line health.Check, build func() (C, error)) (C, error) {
	var zero C
	err := SectionErr(loadErr, section)
	var c C
	if err == nil {
		c, err = build()
	}
	switch {
	case errors.Is(err, kubernetes.ErrDisabled):
		line.Probe = health.DisabledProbe("kubernetes.mode is \"disabled\": canary state and sign-off gates are off")
	case err != nil:
		line.Probe = health.FailedProbe(err)
	default:
		reg.OnDispose(c.Close)
		line.Target, line.Probe = c.Target(), c.Probe()
		reg.Health(line)
		return c, nil
	}
	reg.Health(line)
	return zero, err
}

// SectionErr is why a settings section cannot be used (its own field errors
// or an unreadable jsonData), without credentials; nil when it is fine.
func SectionErr(loadErr error, section string) error {
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
