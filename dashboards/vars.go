package dashboards

import "github.com/meshwatch/meshwatch/pkg/signals"

// Shared selectors. The global (mesh-wide) views count each request once,
// where it is reported in both data-plane modes: by the client sidecar
// (reporter="source") with sidecars, by the waypoint (reporter="waypoint")
// in ambient mode — as Istio's own mesh dashboard does. Server-side views
// use the destination reporter (or the waypoint). mTLS is read only at the
// destination reporter: connection_security_policy is "unknown" at the source.
const (
	clientRep = `reporter=~"source|waypoint"`
	serverRep = `reporter=~"destination|waypoint"`
	mtlsRep   = `reporter="destination"`

	nsSel = `destination_workload_namespace=~"$namespace"`
	wlSel = `destination_workload=~"$workload"`
)

// podOfWorkload matches the pods of the workloads $workload, as the alert
// rules derive a pod's workload (pkg/signals): not those of a longer-named
// sibling (payments vs payments-primary).
var podOfWorkload = signals.PodOf("$workload")

// The uids of the datasources provisioning/datasources and deploy/ provision
// (and the preview host's --stack registers): the datasource variables'
// defaults. Where Grafana has no datasource with that uid it falls back to
// its default datasource of the type; the app's links to these dashboards
// set the ones the admin picked (var-datasource, var-loki, var-tempo).
const (
	PrometheusUID = "prometheus"
	LokiUID       = "loki"
	TempoUID      = "tempo"
)

func commonDSVars() []Variable {
	return []Variable{
		dsVar("datasource", "Prometheus", "prometheus", PrometheusUID, "Prometheus",
			"Prometheus that scrapes the Istio sidecars, istiod, Flagger, cAdvisor and kube-state-metrics."),
		dsVar("loki", "Loki", "loki", LokiUID, "Loki",
			"Loki with the containers' logs (stream labels namespace, app, pod, container, level)."),
		dsVar("tempo", "Tempo", "tempo", TempoUID, "Tempo",
			"Tempo with the mesh's traces; the trace links open it in Explore."),
	}
}

func namespaceVar(multi bool) Variable {
	return queryVar("namespace", "Namespace",
		`label_values(istio_requests_total{reporter=~"destination|waypoint"}, destination_workload_namespace)`,
		"Namespaces with mesh workloads that receive traffic.", multi)
}

func workloadVar(multi bool) Variable {
	return queryVar("workload", "Workload",
		`label_values(istio_requests_total{reporter=~"destination|waypoint", destination_workload_namespace=~"$namespace", destination_workload!="unknown"}, destination_workload)`,
		"Mesh workloads (Deployments) that receive traffic in the selected namespaces.", multi)
}

// alertsAnnotation marks firing MeshWatch alerts of the selected namespaces
// on every time series panel (Prometheus' ALERTS series).
func alertsAnnotation() Annotation {
	return Annotation{
		Datasource:  promDS,
		Enable:      true,
		Expr:        `ALERTS{alertstate="firing", namespace=~"$namespace"}`,
		IconColor:   "red",
		Name:        "Firing mesh alerts",
		Step:        "1m",
		TagKeys:     "alertname,severity,workload",
		TextFormat:  "{{alertname}} on {{namespace}}/{{workload}}",
		TitleFormat: "{{alertname}}",
	}
}
