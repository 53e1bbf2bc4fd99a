package storetest

import (
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/incident"
)

// The alerts the suite sends are what real senders deliver, from rules
// MeshWatch did not write: kube-prometheus-stack's (pod and deployment
// labels), node-exporter's (no workload at all), a user's own rule on
// istio_requests_total (Istio's destination_workload), a user's own rule
// with an app label, and a Grafana-managed rule.

// t0 has nanoseconds, so a store that rounds times fails dedupe.
var t0 = time.Date(2026, time.March, 14, 9, 26, 53, 589793238, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// fire and resolve build a normalized alert, as intake hands it over.
func fire(t testing.TB, source string, starts time.Time, labels, annotations map[string]string) incident.Alert {
	t.Helper()
	return normalize(t, incident.Alert{Status: incident.StatusFiring, Source: source, StartsAt: starts,
		Labels: labels, Annotations: annotations,
		GeneratorURL: "http://prometheus.monitoring.svc:9090/graph?g0.expr=up&g0.tab=1"})
}

func resolve(t testing.TB, a incident.Alert, ends time.Time) incident.Alert {
	t.Helper()
	a.Status, a.EndsAt = incident.StatusResolved, ends
	return normalize(t, a)
}

// again is a with a new startsAt: the alert firing anew.
func again(t testing.TB, a incident.Alert, starts time.Time) incident.Alert {
	t.Helper()
	a.Status, a.StartsAt, a.EndsAt = incident.StatusFiring, starts, time.Time{}
	return normalize(t, a)
}

func normalize(t testing.TB, a incident.Alert) incident.Alert {
	t.Helper()
	n, err := incident.Normalize(a)
	if err != nil {
		t.Fatalf("fixture alert %v: %v", a.Labels, err)
	}
	return n
}

// crashLooping is kube-prometheus-stack's KubePodCrashLooping for one pod.
func crashLooping(t testing.TB, starts time.Time, namespace, pod string) incident.Alert {
	return fire(t, incident.SourceAlertmanager, starts, map[string]string{
		"alertname": "KubePodCrashLooping", "namespace": namespace, "pod": pod, "container": "app",
		"reason": "CrashLoopBackOff", "job": "kube-state-metrics", "severity": "warning",
		"instance": "10.42.0.17:8080", "endpoint": "http", "service": "kube-prometheus-stack-kube-state-metrics",
	}, map[string]string{
		"description": "Pod " + namespace + "/" + pod + " (app) is in waiting state (reason: \"CrashLoopBackOff\").",
		"runbook_url": "https://runbook.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping",
		"summary":     "Pod is crash looping.",
	})
}

// replicasMismatch is kube-prometheus-stack's KubeDeploymentReplicasMismatch.
func replicasMismatch(t testing.TB, starts time.Time, namespace, deployment string) incident.Alert {
	return fire(t, incident.SourceAlertmanager, starts, map[string]string{
		"alertname": "KubeDeploymentReplicasMismatch", "namespace": namespace, "deployment": deployment,
		"job": "kube-state-metrics", "severity": "warning",
	}, map[string]string{
		"description": "Deployment " + namespace + "/" + deployment + " has not matched the expected number of replicas for longer than 15 minutes.",
		"runbook_url": "https://runbook.prometheus-operator.dev/runbooks/kubernetes/kubedeploymentreplicasmismatch",
		"summary":     "Deployment has not matched the expected number of replicas.",
	})
}

// filesystemFilling is node-exporter's NodeFilesystemSpaceFillingUp: a node
// alert that names no workload and no namespace.
func filesystemFilling(t testing.TB, starts time.Time, instance string) incident.Alert {
	return fire(t, incident.SourceAlertmanager, starts, map[string]string{
		"alertname": "NodeFilesystemSpaceFillingUp", "instance": instance, "job": "node-exporter",
		"device": "/dev/nvme0n1p2", "fstype": "ext4", "mountpoint": "/", "severity": "critical",
	}, map[string]string{
		"description": "Filesystem on /dev/nvme0n1p2 at " + instance + " has only 3.9% available space left and is filling up fast.",
		"summary":     "Filesystem is predicted to run out of space within the next 4 hours.",
	})
}

// clockSkew is node-exporter's NodeClockSkewDetected: another node alert,
// which must not merge with the first.
func clockSkew(t testing.TB, starts time.Time, instance string) incident.Alert {
	return fire(t, incident.SourceAlertmanager, starts, map[string]string{
		"alertname": "NodeClockSkewDetected", "instance": instance, "job": "node-exporter", "severity": "warning",
	}, map[string]string{"summary": "Clock skew detected."})
}

// istio5xx is a user's own rule on Istio's istio_requests_total, labelled
// with the destination workload as Istio reports it.
func istio5xx(t testing.TB, starts time.Time, namespace, workload string) incident.Alert {
	return fire(t, incident.SourceAlertmanager, starts, map[string]string{
		"alertname": "IstioDestination5xxRatioHigh", "destination_workload": workload,
		"destination_workload_namespace": namespace, "reporter": "destination", "severity": "critical",
	}, map[string]string{"summary": "More than 5% of requests to " + workload + " fail with 5xx."})
}

// errorBudget is a user's own SLO rule with an app label.
func errorBudget(t testing.TB, starts time.Time, namespace, app, severity string) incident.Alert {
	return fire(t, incident.SourceAlertmanager, starts, map[string]string{
		"alertname": "ErrorBudgetBurnFast", "namespace": namespace, "app": app, "team": "platform",
		"severity": severity, "slo": "availability-99.9",
	}, map[string]string{"description": app + " burns its monthly error budget 14.4 times too fast."})
}

// grafanaDisk is a Grafana-managed rule delivered by its webhook contact
// point.
func grafanaDisk(t testing.TB, starts time.Time, namespace, app string) incident.Alert {
	return fire(t, incident.SourceGrafana, starts, map[string]string{
		"alertname": "Media volume almost full", "grafana_folder": "Homelab", "namespace": namespace, "app": app,
		"severity": "warning",
	}, map[string]string{"summary": "The media PVC is above 90%."})
}
