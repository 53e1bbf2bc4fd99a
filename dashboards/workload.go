package dashboards

import (
	"fmt"

	"github.com/meshwatch/meshwatch/pkg/signals"
)

// Workload is the drill-down for one workload: inbound (server side) and
// outbound (client side) traffic by peer, its pods' resources, logs, traces.
func Workload() *Dashboard {
	d := &Dashboard{
		Description: "MeshWatch workload drill-down: one workload's inbound traffic by source and outbound traffic by " +
			"destination (rate, errors, duration, mTLS), the mesh's resilience at work on the calls to it (response " +
			"flags, retries, timeouts, circuit breakers, outlier ejections), its pods' memory, CPU and restarts, its " +
			"logs and its traces.",
		Refresh:     "1m",
		Revision:    3,
		Tags:        []string{"meshwatch", "istio"},
		Time:        TimeRange{From: "now-1h", To: "now"},
		Title:       "MeshWatch / Workload",
		UID:         UIDWorkload,
		Links:       dashLinks(UIDWorkload),
		Templating:  Templating{List: append(commonDSVars(), namespaceVar(false), workloadVar(false))},
		Annotations: Annotations{List: []Annotation{alertsAnnotation()}},
	}
	b := newBuilder(d)

	in := func(extra string) string {
		return fmt.Sprintf(`istio_requests_total{%s, destination_workload_namespace="$namespace", destination_workload="$workload"%s}`, serverRep, extra)
	}
	inMTLS := func(extra string) string {
		return fmt.Sprintf(`istio_requests_total{%s, destination_workload_namespace="$namespace", destination_workload="$workload"%s}`, mtlsRep, extra)
	}
	inDur := fmt.Sprintf(`istio_request_duration_milliseconds_bucket{%s, destination_workload_namespace="$namespace", destination_workload="$workload"}`, serverRep)
	out := func(metric, extra string) string {
		return fmt.Sprintf(`%s{%s, source_workload_namespace="$namespace", source_workload="$workload"%s}`, metric, clientRep, extra)
	}

	b.row("Inbound: requests $workload serves (server sidecar)")
	b.add(6, 4, stat("Inbound requests",
		`Requests per second $workload receives, as its own sidecar (or the waypoint) reports them — including requests
		from clients outside the mesh.`,
		"reqps", prom("A", `sum(rate(`+in("")+`[$__rate_interval]))`, "requests/s")).option("colorMode", "none"))
	b.add(6, 4, stat("Inbound success rate",
		`Share of the requests $workload answered without a 5xx, against the 99.5 % SLO (0.5 % error budget).`,
		"percentunit", prom("A", `sum(rate(`+in(`, response_code!~"5.."`)+`[$__rate_interval])) / (sum(rate(`+in("")+`[$__rate_interval])) > 0)`, "success")).
		thresholds(thresholds("red", 0.99, "orange", SuccessSLO, "green")).decimals(2))
	b.add(6, 4, stat("Inbound P99",
		`99th percentile of the time $workload takes to answer, measured by its sidecar, against the 500 ms SLO.`,
		"ms", prom("A", `histogram_quantile(0.99, sum by (le) (rate(`+inDur+`[$__rate_interval])))`, "P99")).
		thresholds(thresholds("green", LatencySLOms*0.8, "orange", LatencySLOms, "red")).decimals(1))
	b.add(6, 4, stat("Inbound mTLS",
		`Share of inbound requests that arrived over mutual TLS (destination reporter). Under STRICT this is 100 %.`,
		"percentunit", prom("A", `1 - (sum(rate(`+inMTLS(`, connection_security_policy!="mutual_tls"`)+`[$__rate_interval])) or vector(0)) / (sum(rate(`+inMTLS("")+`[$__rate_interval])) > 0)`, "mTLS")).
		thresholds(thresholds("red", 0.9999, "green")).decimals(2))

	b.add(12, 8, timeseries("Inbound requests by source and code",
		`Requests per second into $workload by source workload and response code, split by the mTLS policy the server
		sidecar saw ("mutual_tls", or "none" for plaintext in red).`,
		"reqps", prom("A", `sum by (source_workload, source_workload_namespace, response_code, connection_security_policy) (rate(`+in("")+`[$__rate_interval]))`,
			"{{source_workload}}.{{source_workload_namespace}} {{response_code}} ({{connection_security_policy}})")).
		overrides(override("byRegexp", `.*\(none\)$`, fixedColor("red"), prop("custom.lineWidth", 3))))
	b.add(12, 8, sloLine(timeseries("Inbound success rate by source",
		`Non-5xx share of the requests each source sends to $workload: an error seen by one source only points at that
		caller's requests or route; all sources at once at $workload itself.`,
		"percentunit", prom("A", `sum by (source_workload, source_workload_namespace) (rate(`+in(`, response_code!~"5.."`)+`[$__rate_interval]))
		  / sum by (source_workload, source_workload_namespace) (rate(`+in("")+`[$__rate_interval]))`, "{{source_workload}}.{{source_workload_namespace}}")),
		thresholds("red", SuccessSLO, "transparent")).minMax(nil, f(1)))
	b.add(12, 8, sloLine(timeseries("Inbound duration P50 / P90 / P99",
		`Server-side request duration percentiles of $workload (its sidecar's view), against the 500 ms SLO.`,
		"ms",
		prom("A", `histogram_quantile(0.5, sum by (le) (rate(`+inDur+`[$__rate_interval])))`, "P50"),
		prom("B", `histogram_quantile(0.9, sum by (le) (rate(`+inDur+`[$__rate_interval])))`, "P90"),
		prom("C", `histogram_quantile(0.99, sum by (le) (rate(`+inDur+`[$__rate_interval])))`, "P99")),
		thresholds("transparent", LatencySLOms, "red")))
	b.add(12, 8, timeseries("Inbound P99 by source",
		`P99 duration of $workload's answers per calling workload, at its own sidecar.`,
		"ms", prom("A", `histogram_quantile(0.99, sum by (le, source_workload) (rate(`+inDur+`[$__rate_interval])))`, "{{source_workload}}")))

	b.row("Outbound: requests $workload sends (client sidecar)")
	b.add(12, 8, timeseries("Outbound requests by destination and code",
		`Requests per second $workload sends, by destination service, response code and Envoy response flags as its
		own sidecar reports them (UH: no healthy upstream, UT: upstream timeout, URX: retries exhausted, DC: downstream
		disconnect).`,
		"reqps", prom("A", `sum by (destination_service_name, response_code, response_flags) (rate(`+out("istio_requests_total", "")+`[$__rate_interval]))`,
			"→ {{destination_service_name}} {{response_code}} {{response_flags}}")).
		overrides(override("byRegexp", `.* 5\d\d .*`, fixedColor("red"))))
	b.add(12, 8, sloLine(timeseries("Outbound success rate by destination",
		`Non-5xx share of the requests $workload sends to each destination service (client view, includes
		retries, timeouts and "no healthy upstream").`,
		"percentunit", prom("A", `sum by (destination_service_name) (rate(`+out("istio_requests_total", `, response_code!~"5.."`)+`[$__rate_interval]))
		  / sum by (destination_service_name) (rate(`+out("istio_requests_total", "")+`[$__rate_interval]))`, "→ {{destination_service_name}}")),
		thresholds("red", SuccessSLO, "transparent")).minMax(nil, f(1)))
	b.add(12, 8, sloLine(timeseries("Outbound P99 by destination",
		`P99 of the time $workload waits for each destination service (client view: network, server time, retries).
		If this is high but the destination's own inbound P99 is low, look at the network path or retries.`,
		"ms", prom("A", `histogram_quantile(0.99, sum by (le, destination_service_name) (rate(`+out("istio_request_duration_milliseconds_bucket", "")+`[$__rate_interval])))`,
			"→ {{destination_service_name}}")),
		thresholds("transparent", LatencySLOms, "red")))
	b.add(12, 8, timeseries("TCP traffic",
		`TCP bytes per second of $workload's plain TCP connections (databases, brokers): sent and received as a client
		(source reporter) and as a server (destination reporter).`,
		"Bps",
		prom("A", `sum by (destination_service_name) (rate(`+out("istio_tcp_sent_bytes_total", "")+`[$__rate_interval]))`, "sent → {{destination_service_name}}"),
		prom("B", `sum by (destination_service_name) (rate(`+out("istio_tcp_received_bytes_total", "")+`[$__rate_interval]))`, "received ← {{destination_service_name}}"),
		prom("C", `sum by (source_workload) (rate(istio_tcp_received_bytes_total{`+serverRep+`, destination_workload_namespace="$namespace", destination_workload="$workload"}[$__rate_interval]))`, "in from {{source_workload}}")).
		minMax(f(0), nil))

	resilienceRow(b)

	pods := `namespace="$namespace", ` + podOfWorkload
	b.row("Pods")
	b.add(8, 8, timeseries("Container memory",
		`Working set of each container of $workload's pods (the app and istio-proxy), with their memory limits dashed.
		Reaching the limit means an OOM kill.`,
		"bytes",
		prom("A", `max by (pod, container) (container_memory_working_set_bytes{`+pods+`, container!=""})`, "{{container}} {{pod}}"),
		prom("B", `max by (container) (kube_pod_container_resource_limits{`+pods+`, resource="memory"})`, "{{container}} limit")).
		overrides(override("byFrameRefID", "B", prop("custom.lineStyle", map[string]any{"dash": []int{10, 10}, "fill": "dash"}), prop("custom.fillOpacity", 0))).
		minMax(f(0), nil))
	b.add(8, 8, timeseries("Container CPU",
		`CPU cores used by each container of $workload's pods.`,
		"short", prom("A", `sum by (pod, container) (rate(container_cpu_usage_seconds_total{`+pods+`, container!=""}[$__rate_interval]))`, "{{container}} {{pod}}")).
		custom("axisLabel", "cores").minMax(f(0), nil))
	b.add(8, 8, timeseries("Container restarts",
		`Restarts of $workload's containers per interval (kube-state-metrics), with the reason of the last termination
		in the Sidecars & control plane dashboard. Repeated restarts are a crash loop; an OOMKilled reason a memory
		limit hit.`,
		"short", prom("A", `sum by (pod, container) (increase(kube_pod_container_status_restarts_total{`+pods+`}[$__rate_interval]))`, "{{container}} {{pod}}")).
		custom("drawStyle", "bars").custom("fillOpacity", 80).minMax(f(0), nil))

	b.row("Logs and traces")
	b.add(14, 10, logsPanel("Workload logs",
		`All log lines of $workload's containers (app and sidecar), newest first. Filter by level with the labels;
		expand a line for its fields.`,
		loki("A", `{namespace="$namespace", `+podOfWorkload+`}`, 1000)))
	traces := b.add(10, 10, table("Requests → traces",
		`Requests $workload logged with a trace id (every error, every slow request and a sample of the rest), newest
		first; click a trace id to open the request in Tempo with every hop.`,
		loki("A", `{namespace="$namespace", `+podOfWorkload+`, level=~".+"} | json | trace_id != ""`, 100)))
	traces.transform("extractFields", map[string]any{"source": "labels", "format": "auto", "replace": false, "keepTime": false}).
		transform("organize", map[string]any{
			"excludeByName": map[string]any{"labels": true, "Line": true, "tsNs": true, "id": true, "labelTypes": true,
				"namespace": true, "pod": true, "container": true, "app": true, "span_id": true, "ts": true,
				"version": true, "service": true, "upstream": true, "error": true, "detected_level": true},
			"indexByName":  map[string]any{"Time": 0, "level": 1, "method": 2, "route": 3, "status": 4, "latency_ms": 5, "trace_id": 6, "msg": 7},
			"renameByName": map[string]any{"level": "Level", "method": "Method", "route": "Route", "status": "Status", "latency_ms": "Latency (ms)", "trace_id": "Trace", "msg": "Message"},
		}).
		overrides(override("byName", "Trace", prop("links", []DataLink{tempoTraceLink("Trace")})))

	return b.done()
}

// The calls to $workload as its callers' sidecars report them: those that
// reached its pods (destination_workload), and those the callers' own
// proxies answered (UO, UH: no pod, so only the destination service —
// named after the workload — is known). Identical series of both selectors
// are counted once (or).
func callsTo(extra string) string {
	sel := func(nsLabel, nameLabel string) string {
		return fmt.Sprintf(`rate(istio_requests_total{%s, %s="$namespace", %s="$workload"%s}[$__rate_interval])`,
			clientRep, nsLabel, nameLabel, extra)
	}
	return sel("destination_service_namespace", "destination_service_name") + " or " + sel("destination_workload_namespace", "destination_workload")
}

// toWorkloadCluster selects the callers' Envoy cluster stats of the
// outbound clusters to $workload's Service (exported by the proxy stats
// matcher, deploy/istio/values.yaml).
const toWorkloadCluster = `cluster_name=~"outbound\\|[0-9]+\\|[^|]*\\|$workload\\.$namespace\\.svc\\..*"`

// byCaller sums an expression over the callers' Envoy cluster stats per
// calling workload (from the pod that reports them).
func byCaller(agg, expr string) string {
	return agg + ` by (source_workload) (label_replace(` + expr + `, "source_workload", "$1", "pod", "` + signals.WorkloadPattern + `"))`
}

func clusterRate(stat string) string {
	return `rate(envoy_cluster_` + stat + `{` + toWorkloadCluster + `}[$__rate_interval])`
}

// resilienceRow: circuit breaking, retries, timeouts and outlier ejection
// on the calls to $workload, where they happen: in its callers' sidecars.
func resilienceRow(b *builder) {
	b.row("Resilience: calls to $workload, as its callers' sidecars handle them")
	b.add(12, 8, timeseries("Calls to $workload by response flag",
		`Requests per second to $workload as its callers' sidecars report them, by caller and Envoy response flag:
		"-" none (answered by $workload); UO upstream overflow: the caller's circuit breaker toward $workload is open
		(its connectionPool is full), a fast 503 that never reached it; UH no healthy upstream: every endpoint of
		$workload is ejected by outlier detection (or none is ready), 503; URX upstream retry limit exceeded: the
		retries ran out and the last failure is returned; UT upstream request timeout: the route's timeout expired, 504;
		DC downstream connection termination: the caller hung up before the answer; NR no route: no route or cluster
		matched, 404; UF upstream connection failure: connecting to a pod failed, 503.`,
		"reqps", prom("A", `sum by (source_workload, response_flags) (`+callsTo("")+`)`, "{{source_workload}} → {{response_flags}}")).
		overrides(
			override("byRegexp", `.* → -$`, fixedColor("green")),
			override("byRegexp", `.* → UO$`, fixedColor("orange"), prop("custom.lineWidth", 3)),
			override("byRegexp", `.* → UH$`, fixedColor("red"), prop("custom.lineWidth", 3)),
			override("byRegexp", `.* → URX$`, fixedColor("purple")),
			override("byRegexp", `.* → UT$`, fixedColor("yellow"))).
		minMax(f(0), nil))
	b.add(12, 8, timeseries("Retries vs first attempts to $workload",
		`Per caller: the first attempts of its calls to $workload (requests sent upstream minus retries) and the retries
		sent on top, from the callers' Envoy cluster stats. Retries that reach a large share of the first attempts are a
		retry storm: a failing or slow $workload gets asked again and again, and its load multiplies (the retry-storm
		alert fires above 20 %). "Retries refused" are retries the retry budget (connectionPool.http.maxRetries of its
		DestinationRule) turned down.`,
		"reqps",
		prom("A", byCaller("sum", clusterRate("upstream_rq_total")+` - `+clusterRate("upstream_rq_retry")), "{{source_workload}} first attempts"),
		prom("B", byCaller("sum", clusterRate("upstream_rq_retry")), "{{source_workload}} retries"),
		prom("C", byCaller("sum", clusterRate("upstream_rq_retry_overflow")), "{{source_workload}} retries refused (budget)")).
		overrides(override("byFrameRefID", "B", fixedColor("orange")), override("byFrameRefID", "C", fixedColor("red"))).
		minMax(f(0), nil))
	b.add(8, 8, timeseries("Timeouts per route to $workload",
		`Calls to $workload that ended in Envoy's 504 with the UT flag — the route's timeout (its VirtualService) expired
		before $workload answered — per route (caller → service), and the callers' own count of route timeouts (Envoy's
		upstream_rq_timeout). Timeouts that appear with a slower $workload (its inbound P99 above) are the timeout doing
		its job; timeouts at a normal P99 mean the timeout is too short for the route.`,
		"reqps",
		prom("A", `sum by (source_workload, destination_service_name) (`+callsTo(`, response_flags="UT"`)+`)`, "{{source_workload}} → {{destination_service_name}} (504 UT)"),
		prom("B", byCaller("sum", clusterRate("upstream_rq_timeout")), "{{source_workload}} timeouts (Envoy)")).
		minMax(f(0), nil))
	b.add(8, 8, timeseries("Circuit breakers toward $workload",
		`Per caller: requests its circuit breaker refused per second (Envoy's upstream_rq_pending_overflow: the
		connectionPool limits of $workload's DestinationRule were reached, the caller answered 503 UO itself), and
		whether the breaker is open now (1: requests or connections at their limit). An open breaker protects a
		$workload that stopped keeping up: look at its latency and at who sends the load.`,
		"short",
		prom("A", byCaller("sum", clusterRate("upstream_rq_pending_overflow")), "{{source_workload}} refused/s"),
		prom("B", byCaller("max", `envoy_cluster_circuit_breakers_default_rq_open{`+toWorkloadCluster+`}`), "{{source_workload}} requests breaker open"),
		prom("C", byCaller("max", `envoy_cluster_circuit_breakers_default_cx_open{`+toWorkloadCluster+`}`), "{{source_workload}} connections breaker open")).
		overrides(override("byFrameRefID", "A", fixedColor("orange"))).
		minMax(f(0), nil))
	b.add(8, 8, timeseries("Outlier ejections of $workload's endpoints",
		`Per caller: how many of $workload's endpoints (pods) its outlier detection holds ejected now, and the
		ejections it carried out per interval (Envoy's ejections_active and ejections_enforced_total). An endpoint is
		ejected after consecutive 5xx (outlierDetection of $workload's DestinationRule) for baseEjectionTime times its
		ejections in a row; with every endpoint ejected the caller answers 503 UH.`,
		"short",
		prom("A", byCaller("max", `envoy_cluster_outlier_detection_ejections_active{`+toWorkloadCluster+`}`), "{{source_workload}} ejected now"),
		prom("B", byCaller("sum", `increase(envoy_cluster_outlier_detection_ejections_enforced_total{`+toWorkloadCluster+`}[$__rate_interval])`), "{{source_workload}} ejections")).
		overrides(override("byFrameRefID", "B", prop("custom.drawStyle", "bars"), prop("custom.fillOpacity", 60))).
		minMax(f(0), nil))
}
