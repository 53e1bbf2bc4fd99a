package plugin

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/meshwatch/meshwatch/pkg/connect"
	"github.com/meshwatch/meshwatch/pkg/health"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/upstream"
)

// CheckHealth reports each dependency on its own line and an overall status.
// Grafana shows Message on the config page; JSONDetails carries the report
// for MeshWatch's own Test button.
func (a *App) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	report := a.healthReport(ctx)
	details, err := json.Marshal(report)
	if err != nil {
		return nil, err
	}
	status := backend.HealthStatusOk
	if report.Status == health.Error {
		status = backend.HealthStatusError
	}
	return &backend.CheckHealthResult{Status: status, Message: report.Text(), JSONDetails: details}, nil
}

func (a *App) healthReport(ctx context.Context) health.Report {
	var settingsLine []health.Result
	var fieldErrs settings.Errors
	if errors.As(a.settingsErr, &fieldErrs) {
		for _, fe := range fieldErrs {
			settingsLine = append(settingsLine, health.Result{Name: "Settings", Target: fe.Field,
				Required: true, Status: health.Error, Message: fe.Error()})
		}
	}
	report := health.Run(ctx, a.checks(), a.checkTimeout)
	if len(settingsLine) == 0 {
		return report
	}
	return health.Summarize(append(settingsLine, report.Results...))
}

// checks lists the dependencies: Prometheus and storage are required; the
// rest degrade features when down.
func (a *App) checks() []health.Check {
	s := a.settings
	c := a.clients
	probe := func(name string, cl *upstream.Client, mk func(*upstream.Client) health.Probe) health.Probe {
		if cl == nil {
			return health.FailedProbe(c.errs[name])
		}
		return mk(cl)
	}
	kube := health.Check{Name: "Kubernetes API", Target: kubeTarget(s.Kubernetes), Fix: "kubernetes.mode / kubernetes.url",
		Probe: probe("kubernetes", c.kubernetes, health.KubernetesProbe)}
	if errors.Is(c.errs["kubernetes"], connect.ErrKubernetesDisabled) {
		kube.Probe = health.DisabledProbe("kubernetes.mode is \"disabled\": canary state and sign-off gates are off")
	}
	return []health.Check{
		{Name: "Prometheus", Target: s.Prometheus.URL, Required: true, Fix: "prometheus.url",
			Probe: probe("prometheus", c.prometheus, health.PrometheusProbe)},
		{Name: "Loki", Target: s.Loki.URL, Fix: "loki.url", Probe: probe("loki", c.loki, health.LokiProbe)},
		{Name: "Tempo", Target: s.Tempo.URL, Fix: "tempo.url", Probe: probe("tempo", c.tempo, health.TempoProbe)},
		{Name: "Alertmanager", Target: s.Alertmanager.URL, Fix: "alertmanager.url",
			Probe: probe("alertmanager", c.alertmanager, health.AlertmanagerProbe)},
		{Name: "Ollama", Target: s.Ollama.URL, Fix: "ollama.url / ollama.model",
			Probe: probe("ollama", c.ollama, func(cl *upstream.Client) health.Probe {
				return health.OllamaProbe(cl, s.Ollama.Model, s.Ollama.AllowExternal)
			})},
		kube,
		{Name: "Storage", Target: s.Storage.Path, Required: true, Fix: "storage.path",
			Probe: health.StorageProbe(s.Storage.Path)},
	}
}

func kubeTarget(k settings.Kubernetes) string {
	switch k.Mode {
	case settings.KubeURL:
		return k.URL
	case settings.KubeDisabled:
		return "disabled"
	}
	return "in-cluster ServiceAccount"
}
