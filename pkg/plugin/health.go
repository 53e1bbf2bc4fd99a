package plugin

import (
	"context"
	"encoding/json"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/meshwatch/meshwatch/pkg/health"
)

// CheckHealth reports each dependency the capabilities registered on its own
// line, after any line known without probing (invalid settings), and an
// overall status. Grafana shows Message on the config page; JSONDetails
// carries the report for MeshWatch's own Test button.
func (a *App) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	report := health.Run(ctx, a.reg.Checks(), a.checkTimeout)
	if lines := a.reg.HealthLines(); len(lines) > 0 {
		report = health.Summarize(append(lines, report.Results...))
	}
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
