package dashboards

import "fmt"

// canaryWorkloadVar lists every workload Flagger manages (each canary
// target and its -primary, from flagger_canary_weight). Hidden; its "All"
// has no custom value, so Grafana expands it to (payments|payments-primary)
// and the canary panels select just those series instead of computing every
// workload's rates and joining them on Flagger's metrics afterwards.
func canaryWorkloadVar() Variable {
	v := queryVar("canary_workload", "Canary workloads",
		`label_values(flagger_canary_weight{namespace=~"$namespace"}, workload)`,
		"Workloads managed by Flagger (canary targets and their -primary); hidden, used by the canary panels.", true)
	v.AllValue = ""
	v.Hide = 2
	return v
}

// Overview is the 20-panel mesh overview.
func Overview() *Dashboard {
	d := &Dashboard{
		Description: "MeshWatch mesh overview: golden signals, mTLS coverage, per-workload RED, Flagger canaries, " +
			"Envoy sidecars, istiod, component versions, error logs and a way into traces, on one page.",
		Refresh:  "1m",
		Revision: 2,
		Tags:     []string{"meshwatch", "istio", "flagger"},
		Time:     TimeRange{From: "now-1h", To: "now"},
		Title:    "MeshWatch / Mesh overview",
		UID:      UIDOverview,
		Links:    dashLinks(UIDOverview),
		Templating: Templating{List: append(commonDSVars(),
			namespaceVar(true), workloadVar(true), canaryWorkloadVar())},
		Annotations: Annotations{List: []Annotation{alertsAnnotation()}},
	}
	b := newBuilder(d)

	req := func(extra string) string {
		return fmt.Sprintf(`sum(rate(istio_requests_total{%s, %s%s}[$__rate_interval]))`, clientRep, nsSel, extra)
	}

	// ---- Row 1: golden signals ----
	b.row("Mesh golden signals")
	b.add(5, 4, stat("Mesh traffic",
		`Requests per second across the mesh in the selected namespaces, counted once per request where the client
		sidecar (reporter="source") or, in ambient mode, the waypoint (reporter="waypoint") reports it — the same
		convention as Istio's mesh dashboard. Calls from clients outside the mesh are not counted here (see mTLS coverage).`,
		"reqps", prom("A", req(""), "requests/s")).
		option("colorMode", "none"))

	b.add(5, 4, stat("Success rate",
		`Share of mesh requests that did not end in a 5xx (client view, sidecar or waypoint). The error budget is 0.5 %:
		green at or above 99.5 %, orange below, red below 99 %. No traffic shows "No data", not 100 %.`,
		"percentunit", prom("A", "1 - ("+req(`, response_code=~"5.."`)+" or vector(0)) / ("+req("")+" > 0)", "success")).
		thresholds(thresholds("red", 0.99, "orange", SuccessSLO, "green")).
		decimals(2))

	b.add(5, 4, stat("4xx rate",
		`Requests per second answered with a 4xx (client errors: bad requests, not found, unauthorized). A rise usually
		means a client or a route changed, not that a server is failing.`,
		"reqps", prom("A", req(`, response_code=~"4.."`)+" or vector(0)", "4xx/s")).
		thresholds(thresholds("green", 1, "orange")))

	b.add(5, 4, stat("5xx rate",
		`Requests per second answered with a 5xx (server errors, including Envoy's own 503 UH "no healthy upstream" and
		504 UT "upstream request timeout"). Any sustained 5xx burns the 0.5 % error budget; open the workload table to
		see which workload answers them.`,
		"reqps", prom("A", req(`, response_code=~"5.."`)+" or vector(0)", "5xx/s")).
		thresholds(thresholds("green", 0.01, "red")))

	mtls := func(extra string) string {
		return fmt.Sprintf(`sum(rate(istio_requests_total{%s, %s%s}[$__rate_interval]))`, mtlsRep, nsSel, extra)
	}
	b.add(4, 4, stat("mTLS coverage",
		`Share of requests received over mutual TLS, read at the server sidecar (reporter="destination") because
		connection_security_policy is only populated there. Under STRICT mTLS this must be 100 %; anything less means a
		plaintext client got through (a PERMISSIVE exception or a workload without sidecar) — see "Requests by source
		and code" for who.`,
		"percentunit", prom("A", "1 - ("+mtls(`, connection_security_policy!="mutual_tls"`)+" or vector(0)) / ("+mtls("")+" > 0)", "mTLS")).
		thresholds(thresholds("red", 0.9999, "green")).
		decimals(2))

	// ---- Row 2: workloads ----
	b.row("Workloads")
	by := "destination_workload_namespace, destination_workload"
	wreq := func(extra string) string {
		return fmt.Sprintf(`sum by (%s) (rate(istio_requests_total{%s, %s, %s%s}[$__rate_interval]))`, by, clientRep, nsSel, wlSel, extra)
	}
	wq := func(q float64) string {
		return fmt.Sprintf(`histogram_quantile(%g, sum by (le, %s) (rate(istio_request_duration_milliseconds_bucket{%s, %s, %s}[$__rate_interval])))`,
			q, by, clientRep, nsSel, wlSel)
	}
	red := b.add(24, 8, table("Workload RED",
		`Rate, errors and duration of every workload that receives requests, as its clients see it (sidecar or
		waypoint), right now (last $__rate_interval): requests per second, success rate (non-5xx share) coloured
		against the 99.5 % SLO, median and P99 duration, P99 coloured against the 500 ms latency SLO (P90 is in the
		percentiles panel). Click a workload to open its drill-down with the same time range.`,
		promTable("requests", wreq("")),
		promTable("success", wreq(`, response_code!~"5.."`)+" / "+wreq("")),
		promTable("p50", wq(0.5)),
		promTable("p99", wq(0.99))))
	red.transform("merge", map[string]any{}).
		transform("organize", map[string]any{
			"excludeByName": map[string]any{"Time": true},
			"indexByName": map[string]any{"destination_workload_namespace": 0, "destination_workload": 1, "Value #requests": 2,
				"Value #success": 3, "Value #p50": 4, "Value #p99": 5},
			"renameByName": map[string]any{"destination_workload_namespace": "Namespace", "destination_workload": "Workload",
				"Value #requests": "Requests/s", "Value #success": "Success", "Value #p50": "P50", "Value #p99": "P99"},
		}).
		transform("sortBy", map[string]any{"sort": []map[string]any{{"desc": true, "field": "Requests/s"}}}).
		overrides(
			override("byName", "Workload", prop("links", []DataLink{workloadLink("Namespace", "Workload")})),
			override("byName", "Requests/s", prop("unit", "reqps"), prop("decimals", 2)),
			override("byName", "Success", prop("unit", "percentunit"), prop("decimals", 2),
				prop("custom.cellOptions", map[string]any{"type": "color-background", "mode": "basic"}),
				prop("thresholds", thresholds("red", 0.99, "orange", SuccessSLO, "green"))),
			override("byName", "P50", prop("unit", "ms"), prop("decimals", 1)),
			override("byName", "P99", prop("unit", "ms"), prop("decimals", 1),
				prop("custom.cellOptions", map[string]any{"type": "color-text"}),
				prop("thresholds", thresholds("green", LatencySLOms*0.8, "orange", LatencySLOms, "red"))),
		)

	b.add(12, 9, sloLine(timeseries("P50 / P90 / P99 by workload",
		`Request duration percentiles per destination workload as its clients see them (Istio's
		istio_request_duration_milliseconds histogram, Envoy's default buckets), against the 500 ms P99 SLO (dashed line).
		A P99 far above P90 points at a tail (retries, timeouts, a slow dependency); all three rising together at a
		slower service.`,
		"ms",
		prom("A", wq(0.5), "{{destination_workload}} P50"),
		prom("B", wq(0.9), "{{destination_workload}} P90"),
		prom("C", wq(0.99), "{{destination_workload}} P99")),
		thresholds("transparent", LatencySLOms, "red")).
		custom("scaleDistribution", map[string]any{"type": "log", "log": 10}).
		minInterval("1m")) // percentiles of 1-minute windows: finer steps only re-read the same samples

	b.add(12, 9, timeseries("Requests by source and code (mTLS split)",
		`Requests per second by source workload → destination workload and response code, split by
		connection_security_policy as the server sidecar (or waypoint) reports it: "mutual_tls" is the mTLS lock,
		"none" is plaintext (red), "unknown" means the identity could not be read. A source shown as "unknown" with
		policy "none" is a client outside the mesh.`,
		"reqps",
		prom("A", fmt.Sprintf(`sum by (source_workload, destination_workload, response_code, connection_security_policy)
		  (rate(istio_requests_total{%s, %s, %s}[$__rate_interval]))`, serverRep, nsSel, wlSel),
			"{{source_workload}} → {{destination_workload}} {{response_code}} ({{connection_security_policy}})")).
		overrides(
			override("byRegexp", `.*\(none\)$`, fixedColor("red"), prop("custom.lineWidth", 3)),
			override("byRegexp", `.* 5\d\d \(.*`, fixedColor("orange")),
		))

	// ---- Row 3: canaries ----
	b.row("Canaries (Flagger)")
	b.add(12, 6, stateTimeline("Canary phase",
		`Each Flagger canary's state from flagger_canary_status: Progressing (an analysis is running), Idle/promoted
		(any other phase: Initialized, Succeeded, Promoting, Finalising) and Failed (the analysis failed and Flagger
		rolled back to the primary). The Canaries page shows the full phase, failed checks and events.`,
		prom("A", `max by (namespace, name) (flagger_canary_status{namespace=~"$namespace"})`, "{{name}}.{{namespace}}")).
		mappings(valueMap(
			[3]string{"0", "Progressing", "blue"},
			[3]string{"1", "Idle / promoted", "green"},
			[3]string{"2", "Failed (rolled back)", "red"})))

	b.add(12, 6, timeseries("Canary traffic weight",
		`Share of the service's traffic Flagger routes to each side (flagger_canary_weight, the VirtualService weights):
		the canary walks the step weights (10 → 25 → 50 here) while its checks pass, then Flagger promotes it; on a
		failure it goes back to 0 and the primary takes 100 %.`,
		"percent",
		prom("A", `max by (namespace, workload) (flagger_canary_weight{namespace=~"$namespace"})`, "{{workload}}")).
		minMax(f(0), f(100)).
		custom("stacking", map[string]any{"group": "A", "mode": "normal"}).
		custom("fillOpacity", 40).
		custom("lineInterpolation", "stepAfter"))

	canarySel := mtlsRep + ", " + nsSel + `, destination_workload=~"$canary_workload"`
	canarySR := fmt.Sprintf(`100 * sum by (%[1]s) (rate(istio_requests_total{%[2]s, response_code!~"5.."}[$__rate_interval]))
	  / sum by (%[1]s) (rate(istio_requests_total{%[2]s}[$__rate_interval]))`, by, canarySel)
	b.add(8, 8, sloLine(timeseries("Canary vs primary success rate",
		`Non-5xx share of requests received by each Flagger-managed workload (the canary and its -primary), computed
		like Flagger's built-in request-success-rate check (destination reporter, percent). The dashed line is the gate,
		99.5 %: while the canary stays below it, Flagger counts failed checks and rolls back at the threshold.`,
		"percent", prom("A", canarySR, "{{destination_workload}}")),
		thresholds("red", SuccessSLO*100, "transparent")).
		minMax(nil, f(100)).decimals(2))

	canaryP99 := fmt.Sprintf(`histogram_quantile(0.99, sum by (le, %[1]s) (rate(istio_request_duration_milliseconds_bucket{%[2]s}[$__rate_interval])))`, by, canarySel)
	b.add(8, 8, sloLine(timeseries("Canary vs primary P99",
		`P99 request duration of the canary and its -primary at the server sidecar, computed like Flagger's built-in
		request-duration check. The dashed line is the 500 ms gate.`,
		"ms", prom("A", canaryP99, "{{destination_workload}}")),
		thresholds("transparent", LatencySLOms, "red")))

	b.add(8, 8, sloLine(timeseries("Canary metric checks vs thresholds",
		`The last value of each metric check of Flagger's analysis (flagger_canary_metric_analysis), against its
		threshold: request-success-rate (percent, left axis, must stay at or above 99.5) and request-duration (P99 ms,
		right axis, must stay at or below 500). Custom MetricTemplate checks show as other series. A check outside its
		range counts a failed check.`,
		"percent",
		prom("A", `max by (namespace, name) (flagger_canary_metric_analysis{namespace=~"$namespace", metric="request-success-rate"})`, "{{name}} success rate"),
		prom("B", `max by (namespace, name) (flagger_canary_metric_analysis{namespace=~"$namespace", metric="request-duration"})`, "{{name}} P99 duration"),
		prom("C", `max by (namespace, name, metric) (flagger_canary_metric_analysis{namespace=~"$namespace", metric!~"request-success-rate|request-duration"})`, "{{name}} {{metric}}")),
		thresholds("red", SuccessSLO*100, "transparent")).
		overrides(override("byFrameRefID", "B",
			prop("unit", "ms"), prop("custom.axisPlacement", "right"),
			prop("thresholds", thresholds("transparent", LatencySLOms, "red")),
			prop("custom.thresholdsStyle", map[string]any{"mode": "dashed"})),
			override("byFrameRefID", "C", prop("unit", "short"), prop("custom.axisPlacement", "hidden"))))

	// ---- Row 4: sidecars and control plane ----
	b.row("Sidecars and control plane")
	b.add(12, 8, timeseries("Sidecar memory",
		`Working set of every Envoy sidecar (container istio-proxy, cAdvisor — what the OOM killer compares with the
		limit), against the largest sidecar memory limit (red dashed). A line that keeps climbing at constant traffic
		is a leak: the Sidecars dashboard projects when it hits the limit.`,
		"bytes",
		prom("A", `max by (namespace, pod) (container_memory_working_set_bytes{container="istio-proxy", namespace=~"$namespace", `+podOfWorkload+`})`, "{{pod}}"),
		prom("B", `max(kube_pod_container_resource_limits{resource="memory", container="istio-proxy", namespace=~"$namespace"})`, "limit")).
		overrides(override("byName", "limit", fixedColor("red"), prop("custom.lineStyle", map[string]any{"dash": []int{10, 10}, "fill": "dash"}),
			prop("custom.fillOpacity", 0))).
		minMax(f(0), nil))

	b.add(12, 8, timeseries("Sidecar CPU",
		`CPU used by every Envoy sidecar, in cores (rate of container_cpu_usage_seconds_total for container
		istio-proxy). Proxy CPU grows with requests per second (about 0.2 vCPU per 1000 rps in Istio's benchmarks); CPU
		at constant traffic that keeps rising points at config churn or a stats explosion.`,
		"short",
		prom("A", `sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{container="istio-proxy", namespace=~"$namespace", `+podOfWorkload+`}[$__rate_interval]))`, "{{pod}}")).
		custom("axisLabel", "cores").minMax(f(0), nil))

	b.add(8, 8, timeseries("istiod memory and CPU",
		`istiod's working set (left axis) and CPU in cores (right axis) from cAdvisor (container discovery). istiod
		memory grows with the number of services, endpoints and proxies; CPU spikes follow config pushes.`,
		"bytes",
		prom("A", `sum by (pod) (container_memory_working_set_bytes{container="discovery", pod=~"istiod-.*"})`, "{{pod}} memory"),
		prom("B", `sum by (pod) (rate(container_cpu_usage_seconds_total{container="discovery", pod=~"istiod-.*"}[$__rate_interval]))`, "{{pod}} CPU")).
		overrides(override("byFrameRefID", "B", prop("unit", "short"), prop("custom.axisPlacement", "right"), prop("custom.axisLabel", "cores"))).
		minMax(f(0), nil))

	b.add(8, 8, timeseries("xDS pushes and rejects",
		`Config pushes from istiod to the proxies per second, by xDS type (cds, eds, lds, rds), and pushes the proxies
		rejected (NACKs, red). Any reject means a proxy runs on its last good config: usually an invalid EnvoyFilter or
		a bad route; the Sidecars & control plane dashboard names the proxy.`,
		"ops",
		prom("A", `sum by (type) (rate(pilot_xds_pushes[$__rate_interval]))`, "{{type}} pushes"),
		prom("B", `sum by (type) (rate(pilot_total_xds_rejects[$__rate_interval]))`, "{{type}} rejects")).
		overrides(override("byFrameRefID", "B", fixedColor("red"), prop("custom.lineWidth", 3))).
		minMax(f(0), nil))

	versions := b.add(8, 8, table("Component versions",
		`Running versions of the Istio components (istio_build: pilot = istiod, proxy = sidecars and gateways) and of
		Flagger (flagger_info), with how many instances run each. More than one version of a component is a rollout in
		progress or version skew between the control plane and the proxies.`,
		promTable("A", `count by (component, tag) (istio_build)
		  or count by (component, tag) (label_replace(label_replace(flagger_info, "component", "flagger", "", ""), "tag", "$1", "version", "(.+)"))`)))
	versions.transform("organize", map[string]any{
		"excludeByName": map[string]any{"Time": true},
		"indexByName":   map[string]any{"component": 0, "tag": 1, "Value": 2},
		"renameByName":  map[string]any{"component": "Component", "tag": "Version", "Value": "Instances"},
	})

	// ---- Row 5: logs and traces ----
	b.row("Logs and traces")
	b.add(14, 10, logsPanel("Recent error logs",
		`Error and warning lines of the selected namespaces' containers from Loki (application errors, Envoy warnings,
		istiod and Flagger events), newest first. Expand a line for its fields; the trace_id field leads to the trace.`,
		loki("A", `{namespace=~"$namespace", level=~"error|warn", `+podOfWorkload+`}`, 500)))

	traces := b.add(10, 10, table("Failing and slow requests → traces",
		`The latest failed (5xx), rejected (4xx) and slow (over 1 s) requests the services logged, with their trace id:
		click a trace id to open the whole request in Tempo (Explore), with every hop's timing and the failing span.`,
		loki("A", `{namespace=~"$namespace", level=~"error|warn", `+podOfWorkload+`} | json | trace_id != ""`, 50)))
	traces.transform("extractFields", map[string]any{"source": "labels", "format": "auto", "replace": false, "keepTime": false}).
		transform("organize", map[string]any{
			"excludeByName": map[string]any{"labels": true, "Line": true, "tsNs": true, "id": true, "labelTypes": true,
				"namespace": true, "pod": true, "container": true, "level": true, "span_id": true, "ts": true, "msg": true,
				"version": true, "service": true, "method": true, "upstream": true, "error": true, "detected_level": true},
			"indexByName":  map[string]any{"Time": 0, "app": 1, "route": 2, "status": 3, "latency_ms": 4, "trace_id": 5},
			"renameByName": map[string]any{"app": "Service", "route": "Route", "status": "Status", "latency_ms": "Latency (ms)", "trace_id": "Trace"},
		}).
		overrides(override("byName", "Trace", prop("links", []DataLink{tempoTraceLink("Trace")}))).
		option("sortBy", []map[string]any{{"desc": true, "displayName": "Time"}})

	return b.done()
}
