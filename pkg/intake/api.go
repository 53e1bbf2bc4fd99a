package intake

import (
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/systems/alertmanager"
)

// The reconcile's inputs: what the sources hold now, read through their
// APIs, in the same alert model as the webhooks. An alert that fails
// incident.Normalize is rejected with its index in the list, as a webhook's
// is.

// FromAlertmanagerAPI turns Alertmanager's GET /api/v2/alerts answer
// (alertmanager.Client.Alerts) into firing alerts with source
// incident.SourceAlertmanager, judged at now.
//
// Every alert in that answer fires: Alertmanager lists only alerts that
// have not ended, and this includes suppressed ones (silenced, inhibited or
// muted by a time interval) and unprocessed ones. A suppressed alert is
// still firing; Alertmanager only sends no webhook for it, so the reconcile
// is where MeshWatch sees it. The answer's endsAt is when Alertmanager
// would resolve the alert if its sender stopped renewing it, not an end,
// and is dropped. Alertmanager's fingerprint is of the same label set, so
// an alert read here and by webhook is one alert.
func FromAlertmanagerAPI(list []alertmanager.Alert, now time.Time) Parsed {
	out := Parsed{Source: incident.SourceAlertmanager, Total: len(list)}
	for i, g := range list {
		a := incident.Alert{
			Status: incident.StatusFiring, Labels: g.Labels, Annotations: g.Annotations,
			StartsAt: g.StartsAt, GeneratorURL: g.GeneratorURL, Source: incident.SourceAlertmanager,
		}
		out.add(i, a, now)
	}
	return out
}

// FromPrometheus turns Prometheus's GET /api/v1/alerts answer
// (prometheus.Client.Alerts) into alerts with source
// incident.SourcePrometheus, judged at now: the reconcile when no
// Alertmanager is configured.
//
// Only firing alerts are taken in (Skipped counts the pending and inactive
// ones: Prometheus has not sent those to any Alertmanager either). Their
// startsAt is Prometheus's activeAt, which is when the alert became
// pending: earlier, by the rule's `for`, than the startsAt Alertmanager
// reports for the same alert (the time it started firing). The answer
// carries no generatorURL, and its labels lack the external_labels
// Prometheus adds when it sends alerts to Alertmanager, so where a
// Prometheus has external labels (kube-prometheus-stack sets prometheus and
// prometheus_replica) its alerts here have other fingerprints than the same
// alerts through Alertmanager.
func FromPrometheus(list []v1.Alert, now time.Time) Parsed {
	out := Parsed{Source: incident.SourcePrometheus, Total: len(list)}
	for i, p := range list {
		if p.State != v1.AlertStateFiring {
			out.Skipped++
			continue
		}
		a := incident.Alert{
			Status: incident.StatusFiring, Labels: labelMap(p.Labels), Annotations: labelMap(p.Annotations),
			StartsAt: p.ActiveAt, Source: incident.SourcePrometheus,
		}
		out.add(i, a, now)
	}
	return out
}

// add checks a and adds it to Alerts, or its rejection to Rejected.
func (p *Parsed) add(i int, a incident.Alert, now time.Time) {
	err := plausible(a, now)
	if err == nil {
		a, err = incident.Normalize(a)
	}
	if err != nil {
		p.Rejected = append(p.Rejected, reject(i, cut(a.Labels["alertname"], 64), err))
		return
	}
	p.Alerts = append(p.Alerts, a)
}

func labelMap[K, V ~string](ls map[K]V) map[string]string {
	if ls == nil {
		return nil
	}
	m := make(map[string]string, len(ls))
	for k, v := range ls {
		m[string(k)] = string(v)
	}
	return m
}
