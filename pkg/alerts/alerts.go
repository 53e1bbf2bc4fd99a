// Package alerts reads the alerts Prometheus is evaluating now (its
// GET /api/v1/alerts answer: every alerting rule instance that is pending or
// firing), orders them so the most urgent come first, and turns them into the
// data frame MeshWatch streams to the Incidents page.
package alerts

import (
	"context"
	"sort"
	"strings"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/meshwatch/meshwatch/pkg/systems/prometheus"
)

// Alert is one active alert (one alerting-rule instance) as Prometheus
// evaluates it.
type Alert struct {
	// Name is the alertname label.
	Name string
	// State is StateFiring or StatePending.
	State string
	// Severity, Namespace and Workload are the labels of those names.
	Severity  string
	Namespace string
	Workload  string
	// Summary is the summary annotation.
	Summary string
	// DashboardURL is the dashboard_url annotation, a Grafana-relative link
	// such as /d/meshwatch-workload?var-namespace=shop&var-workload=api.
	DashboardURL string
	// Runbook is the runbook annotation.
	Runbook string
	// ActiveAt is when the alert became pending.
	ActiveAt time.Time
	// Labels are all the alert's labels.
	Labels map[string]string
}

// Fetch reads the alerts Prometheus is evaluating now through c and returns
// the firing and pending ones in display order (see Sort), ActiveAt in UTC.
// Every error starts with "Prometheus at <base>/api/v1/alerts" and carries
// no credentials.
func Fetch(ctx context.Context, c *prometheus.Client) ([]Alert, error) {
	list, err := c.Alerts(ctx)
	if err != nil {
		return nil, err
	}
	return active(list), nil
}

// active keeps the firing and pending alerts of list, in display order.
func active(list []v1.Alert) []Alert {
	out := make([]Alert, 0, len(list))
	for _, a := range list {
		state := strings.ToLower(string(a.State))
		if state != StateFiring && state != StatePending {
			continue
		}
		labels := make(map[string]string, len(a.Labels))
		for k, v := range a.Labels {
			labels[string(k)] = string(v)
		}
		al := Alert{
			Name:         labels["alertname"],
			State:        state,
			Severity:     labels["severity"],
			Namespace:    labels["namespace"],
			Workload:     labels["workload"],
			Summary:      string(a.Annotations["summary"]),
			DashboardURL: string(a.Annotations["dashboard_url"]),
			Runbook:      string(a.Annotations["runbook"]),
			Labels:       labels,
		}
		if !a.ActiveAt.IsZero() {
			al.ActiveAt = a.ActiveAt.UTC()
		}
		out = append(out, al)
	}
	Sort(out)
	return out
}

// Sort orders alerts for display: firing before pending, then by severity
// (critical, warning, info, anything else), then the longest active first,
// then by name, namespace and workload.
func Sort(alerts []Alert) {
	sort.SliceStable(alerts, func(i, j int) bool {
		a, b := alerts[i], alerts[j]
		if ra, rb := stateRank(a.State), stateRank(b.State); ra != rb {
			return ra < rb
		}
		if ra, rb := severityRank(a.Severity), severityRank(b.Severity); ra != rb {
			return ra < rb
		}
		if !a.ActiveAt.Equal(b.ActiveAt) {
			return a.ActiveAt.Before(b.ActiveAt)
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Workload < b.Workload
	})
}

func stateRank(s string) int {
	if s == StateFiring {
		return 0
	}
	return 1
}

func severityRank(s string) int {
	switch strings.ToLower(s) {
	case "critical":
		return 0
	case "warning":
		return 1
	case "info":
		return 2
	}
	return 3
}
