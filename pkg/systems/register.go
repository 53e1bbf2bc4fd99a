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
	"github.com/meshwatch/meshwatch/pkg/systems/internal/endpoint"
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
	s.Prometheus, s.PrometheusErr = add(reg, loadErr, "prometheus", httpLine(cfg.Prometheus, "Prometheus", true),
		func() (*prometheus.Client, error) { return prometheus.New(cfg.Prometheus) })
	s.Loki, s.LokiErr = add(reg, loadErr, "loki", httpLine(cfg.Loki, "Loki", false),
		func() (*loki.Client, error) { return loki.New(cfg.Loki) })
	s.Tempo, s.TempoErr = add(reg, loadErr, "tempo", httpLine(cfg.Tempo, "Tempo", false),
		func() (*tempo.Client, error) { return tempo.New(cfg.Tempo) })
	s.Alertmanager, s.AlertmanagerErr = add(reg, loadErr, "alertmanager", httpLine(cfg.Alertmanager, "Alertmanager", false),
		func() (*alertmanager.Client, error) { return alertmanager.New(cfg.Alertmanager) })
	s.Ollama, s.OllamaErr = add(reg, loadErr, "ollama", line{Check: health.Check{Name: "Ollama", Target: cfg.Ollama.DisplayURL(),
		Fix: "ollama.url / ollama.model"}}, func() (*ollama.Client, error) { return ollama.New(cfg.Ollama) })
	s.Kubernetes, s.KubernetesErr = add(reg, loadErr, "kubernetes", line{Check: health.Check{Name: "Kubernetes API",
		Target: kubernetes.Target(cfg.Kubernetes), Fix: "kubernetes.mode / kubernetes.url"}}, func() (*kubernetes.Client, error) { return kubernetes.New(cfg.Kubernetes) })
	return s
}

// line is a system's health line before its probe, and what wraps the
// probe (nil: nothing).
type line struct {
	health.Check
	wrap func(health.Probe) health.Probe
}

// httpLine is the health line of the system name reached over HTTP at e: its
// URL, or the Grafana datasource and the credential used for Grafana's
// datasource proxy.
func httpLine(e settings.Endpoint, name string, required bool) line {
	section := strings.ToLower(name)
	l := line{Check: health.Check{Name: name, Required: required, Target: e.DisplayURL(), Fix: section + ".url"}}
	if e.ViaGrafana() {
		l.Fix = section + ".datasourceUid / grafanaToken"
		l.wrap = func(p health.Probe) health.Probe { return endpoint.ProxyProbe(name, e, p) }
	}
	return l
}

// add builds one system's client and registers its health line.
func add[C system](reg *capability.Registry, loadErr error, section string, l line, build func() (C, error)) (C, error) {
	var zero C
	err := SectionErr(loadErr, section)
	var c C
	if err == nil {
		c, err = build()
	}
	chk := l.Check
	switch {
	case errors.Is(err, kubernetes.ErrDisabled):
		chk.Probe = health.DisabledProbe("kubernetes.mode is \"disabled\": canary state and sign-off gates are off")
	case errors.Is(err, ollama.ErrDisabled):
		chk.Probe = health.DisabledProbe("ollama.disabled is set: no LLM writes write-ups or explains panels; the deterministic findings stand alone")
	case err != nil:
		chk.Probe = health.FailedProbe(err)
	default:
		reg.OnDispose(c.Close)
		chk.Target, chk.Probe = c.Target(), c.Probe()
		if l.wrap != nil {
			chk.Probe = l.wrap(chk.Probe)
		}
		reg.Health(chk)
		return c, nil
	}
	reg.Health(chk)
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
