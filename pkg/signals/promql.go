package signals

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The building blocks of the catalog's PromQL.

const (
	// serverSide selects Istio's request metrics as the server reports them:
	// its sidecar, or the waypoint in ambient mode.
	serverSide = `reporter=~"destination|waypoint"`
	// clientSide selects them as the client reports them: its sidecar, or
	// the waypoint in ambient mode.
	clientSide = `reporter=~"source|waypoint"`
	// byDestination sums a request metric per destination workload.
	byDestination = `sum by (destination_workload_namespace, destination_workload)`
)

// Result labels.
var (
	workloadLabels  = []string{"namespace", "workload"}
	podLabels       = []string{"namespace", "workload", "pod"}
	containerLabels = []string{"namespace", "workload", "pod", "container"}
	plaintextLabels = []string{"namespace", "workload", "protocol", "source_workload", "source_workload_namespace"}
	rejectLabels    = []string{"namespace", "workload", "pod", "type"}
)

// byService sums a request metric per destination service: the dependency
// as its callers address it. A request the caller's own proxy refused (UO,
// UH) never reached a pod, so its destination_workload is "unknown" while
// its destination service is known.
const byService = `sum by (destination_service_namespace, destination_service_name)`

// outboundCluster selects Envoy cluster stats (the proxy stats matcher's,
// deploy/istio/values.yaml) of the clusters a proxy calls in-cluster
// services through: outbound|<port>|<subset>|<service>.<namespace>.svc.<domain>.
const outboundCluster = `cluster_name=~"outbound\\|[0-9]+\\|[^|]*\\|[^.|]+\\.[^.|]+\\.svc\\..*"`

// serviceFromCluster names the service an outbound cluster's stats are about
// (namespace and workload, replacing the calling pod's namespace), then sums
// them per service: the dependency, whatever the callers.
func serviceFromCluster(expr string) string {
	return `sum by (namespace, workload) (` + call("label_replace(label_replace", expr,
		`"namespace", "$2", "cluster_name", "outbound\\|[0-9]+\\|[^|]*\\|([^.|]+)\\.([^.|]+)\\.svc\\..*"), "workload", "$1", "cluster_name", "outbound\\|[0-9]+\\|[^|]*\\|([^.|]+)\\.([^.|]+)\\.svc\\..*"`) + `)`
}

// serviceFromDestination names the destination service of a request
// metric's series namespace and workload.
func serviceFromDestination(expr string) string {
	return call("label_replace(label_replace", expr,
		`"namespace", "$1", "destination_service_namespace", "(.*)"), "workload", "$1", "destination_service_name", "(.*)"`)
}

// clusterStat is an Envoy cluster stat of the outbound clusters.
func clusterStat(name string) string { return `envoy_cluster_` + name + `{` + outboundCluster + `}` }

// requests is istio_requests_total of the reporters and matchers.
func requests(reporter string, matchers ...string) string {
	return `istio_requests_total{` + strings.Join(append([]string{reporter}, matchers...), ", ") + `}`
}

// workloadFromDestination names the destination workload of a request
// metric's series namespace and workload.
func workloadFromDestination(expr string) string {
	return call("label_replace(label_replace", expr,
		`"namespace", "$1", "destination_workload_namespace", "(.*)"), "workload", "$1", "destination_workload", "(.*)"`)
}

// canaryWorkloads are Flagger's canaries (flagger_canary_status, one series
// per Canary) with their target's name as workload.
func canaryWorkloads() string {
	return `label_replace(flagger_canary_status, "workload", "$1", "name", "(.+)")`
}

// volumeGuard holds for the destination workloads that got enough requests
// (as the reporter counts them) to judge.
func volumeGuard(reporter string, g VolumeGuard) string {
	return byDestination + ` (increase(` + requests(reporter) + `[` + dur(g.Window) + `])) >= ` + num(g.MinRequests)
}

// maxBy keeps one series per subject (the labels), whatever else the
// expression's series carry.
func maxBy(labels []string, expr string) string {
	return "max by (" + strings.Join(labels, ", ") + ") (\n" + indent(expr, 2) + "\n)"
}

// call writes fn(expr, args): on one line for a one-line expr, else with
// expr indented on its own lines.
func call(fn, expr, args string) string {
	if !strings.Contains(expr, "\n") {
		return fn + "(" + expr + ", " + args + ")"
	}
	return fn + "(\n" + indent(expr, 4) + ",\n" + args + ")"
}

// lines joins the lines of an expression.
func lines(l ...string) string { return strings.Join(l, "\n") }

func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
}

// dur writes a duration as PromQL (and Prometheus' configuration) does.
func dur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	case d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d%time.Second == 0:
		return strconv.Itoa(int(d/time.Second)) + "s"
	}
	panic(fmt.Sprintf("signals: duration %s is not whole seconds", d))
}

// seconds writes a duration as a number of seconds (predict_linear's
// horizon), in hours times 3600 when whole hours.
func seconds(d time.Duration) string {
	if d%time.Hour == 0 {
		return strconv.Itoa(int(d/time.Hour)) + " * 3600"
	}
	return num(d.Seconds())
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
