// Package incident is MeshWatch's incident model: the one alert model every
// sender is normalized into, the group key that gathers alerts into an
// incident, the lifecycle rules (dedupe, resolve, reopen, flapping) as pure
// functions with the clock passed in, and the Store interface the storage
// drivers implement (sqlite beside it; PostgreSQL for Grafana in HA).
//
// Nothing here knows MeshWatch's own rule names or any mesh's service names:
// alerts come from kube-prometheus-stack, a user's own rules and
// Grafana-managed rules as well as MeshWatch's.
package incident

import (
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"
)

// Status is an alert's state as its sender reports it.
type Status string

const (
	StatusFiring   Status = "firing"
	StatusResolved Status = "resolved"
)

// Sources: where an alert came from. Reconcile reads the same sources as the
// webhooks, so an alert seen both ways is one alert (see Alert.Fingerprint).
const (
	SourceAlertmanager = "alertmanager" // Alertmanager's webhook and GET /api/v2/alerts
	SourceGrafana      = "grafana"      // Grafana-managed alerting's webhook contact point
	SourcePrometheus   = "prometheus"   // Prometheus's GET /api/v1/alerts (reconcile without Alertmanager)
	// SourceFlagger: the canaries Flagger failed, as MeshWatch's canary
	// watch sees them (pkg/canaries), so that a rollback is an incident
	// whatever alert rules the user runs.
	SourceFlagger = "flagger"
)

// Alert is one alert instance in MeshWatch's one alert model, whichever
// sender it came from.
type Alert struct {
	// Fingerprint identifies the alert instance: Alertmanager's fingerprint
	// of its label set (FingerprintOf). Alertmanager's webhook, its API and
	// a reconcile from Prometheus all give the same value for one label set.
	Fingerprint string `json:"fingerprint"`
	Status      Status `json:"status"`
	// Labels and Annotations as the sender gave them.
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// StartsAt is when the alert started firing; EndsAt when it resolved
	// (zero while firing: Alertmanager's "0001-01-01T00:00:00Z", or a
	// future time Alertmanager would resolve it at, is dropped).
	StartsAt time.Time `json:"startsAt"`
	EndsAt   time.Time `json:"endsAt,omitempty"`
	// GeneratorURL links to the rule's expression in its source.
	GeneratorURL string `json:"generatorURL,omitempty"`
	// Source is SourceAlertmanager, SourceGrafana, SourcePrometheus or
	// SourceFlagger.
	Source string `json:"source"`
}

// FingerprintOf is Alertmanager's fingerprint of a label set (a 64-bit FNV
// hash of the sorted pairs, 16 hex digits): the value Alertmanager puts in
// its webhook's and API's "fingerprint" fields.
func FingerprintOf(labels map[string]string) string {
	ls := make(model.LabelSet, len(labels))
	for k, v := range labels {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls.Fingerprint().String()
}

// Name is the alertname label.
func (a Alert) Name() string { return a.Labels[model.AlertNameLabel] }

// Severity is the severity label, lower-cased ("" when absent).
func (a Alert) Severity() string { return strings.ToLower(a.Labels["severity"]) }

// Resolved reports whether the alert had ended by now.
func (a Alert) Resolved() bool { return a.Status == StatusResolved }

// MaxLabels and MaxValueBytes bound one alert, so an oversized alert is
// refused by name instead of filling the store.
const (
	MaxLabels     = 128
	MaxValueBytes = 16 << 10
)

// Normalize checks a decoded alert and fills what can be derived: the
// fingerprint from the labels (always recomputed, so every source agrees),
// times in UTC, and EndsAt dropped while firing. The error names what is
// wrong; the alert must then be rejected, not stored.
func Normalize(a Alert) (Alert, error) {
	if len(a.Labels) == 0 {
		return a, fmt.Errorf("the alert has no labels")
	}
	if a.Labels[model.AlertNameLabel] == "" {
		return a, fmt.Errorf("the alert has no alertname label")
	}
	if len(a.Labels)+len(a.Annotations) > MaxLabels {
		return a, fmt.Errorf("the alert has %d labels and annotations, more than %d", len(a.Labels)+len(a.Annotations), MaxLabels)
	}
	for _, m := range []map[string]string{a.Labels, a.Annotations} {
		for k, v := range m {
			if len(k)+len(v) > MaxValueBytes {
				return a, fmt.Errorf("the alert's %q is larger than %d bytes", truncate(k, 64), MaxValueBytes)
			}
		}
	}
	for k := range a.Labels {
		// Alertmanager and Prometheus 3 accept any UTF-8 label name.
		if k == "" || !utf8.ValidString(k) {
			return a, fmt.Errorf("the alert has a label name %q that is empty or not UTF-8", truncate(k, 64))
		}
	}
	switch a.Status {
	case StatusFiring, StatusResolved:
	default:
		return a, fmt.Errorf("the alert's status %q is neither %q nor %q", truncate(string(a.Status), 32), StatusFiring, StatusResolved)
	}
	if a.StartsAt.IsZero() {
		return a, fmt.Errorf("the alert has no startsAt")
	}
	a.StartsAt = a.StartsAt.UTC()
	if a.Status == StatusFiring || a.EndsAt.Before(a.StartsAt) {
		a.EndsAt = time.Time{}
	} else {
		a.EndsAt = a.EndsAt.UTC()
	}
	a.Fingerprint = FingerprintOf(a.Labels)
	return a, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// severityRank orders severities; unknown ones rank below "info".
var severityRank = map[string]int{"critical": 5, "page": 5, "error": 4, "high": 4, "warning": 3, "warn": 3, "medium": 3, "info": 2, "low": 2, "none": 1}

// MoreSevere reports whether severity a outranks b.
func MoreSevere(a, b string) bool {
	return severityRank[strings.ToLower(a)] > severityRank[strings.ToLower(b)]
}

// SortedNames returns the distinct alertnames of alerts, sorted.
func SortedNames(alerts []Record) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range alerts {
		if n := r.Name(); !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
