package dashboards

import "fmt"

// ControlPlane is the drill-down for the Envoy sidecars (memory, leak
// projection, restarts, OOM kills) and istiod (xDS, rejects, resources).
func ControlPlane() *Dashboard {
	d := &Dashboard{
		Description: "MeshWatch sidecars and control plane: every Envoy sidecar's memory against its limit with a leak " +
			"projection, Envoy's own heap, CPU, restarts and OOM kills; istiod's connected proxies, xDS pushes, " +
			"rejected configs (and which proxy rejects them), push latency and resources; the node.",
		Refresh:  "1m",
		Revision: 2,
		Tags:     []string{"meshwatch", "istio"},
		Time:     TimeRange{From: "now-6h", To: "now"},
		Title:    "MeshWatch / Sidecars & control plane",
		UID:      UIDControlPlane,
		Links:    dashLinks(UIDControlPlane),
		Templating: Templating{List: append(commonDSVars(),
			queryVar("namespace", "Namespace", `label_values(kube_pod_container_resource_limits{container="istio-proxy"}, namespace)`,
				"Namespaces with Envoy sidecars or gateways.", true),
			workloadVar(true))},
		Annotations: Annotations{List: []Annotation{alertsAnnotation()}},
	}
	b := newBuilder(d)

	proxy := `container="istio-proxy", namespace=~"$namespace", ` + podOfWorkload
	limit := `kube_pod_container_resource_limits{resource="memory", container="istio-proxy", namespace=~"$namespace"}`
	ws := `container_memory_working_set_bytes{` + proxy + `}`

	b.row("Sidecars: memory")
	b.add(12, 8, sloLine(timeseries("Sidecar memory, share of limit",
		`Each sidecar's working set divided by its memory limit. At 100 % the kernel OOM-kills Envoy and every request
		through the pod fails until it restarts. Orange from 85 %.`,
		"percentunit", prom("A", `max by (namespace, pod) (`+ws+` / on (namespace, pod, container) `+limit+`)`, "{{pod}}")),
		thresholds("transparent", 0.85, "orange", 1, "red")).minMax(f(0), nil))
	hours := fmt.Sprintf(`clamp_max(
	  max by (namespace, pod) (
	    (%[2]s - on (namespace, pod, container) %[1]s)
	    / on (namespace, pod, container) clamp_min(deriv(%[1]s[1h]), 1e-9)
	  ) / 3600, 720)`, ws, limit)
	ttl := b.add(12, 8, table("Time until the memory limit",
		`How long each sidecar has before its working set reaches its limit if it keeps growing at the rate of the last
		hour (linear fit, deriv over 1h), capped at 30 days. A sidecar under a day away is leaking: compare Envoy's own
		heap (next row) to rule out page cache, and plan a restart before the OOM kill.`,
		promTable("A", hours)))
	ttl.transform("organize", map[string]any{
		"excludeByName": map[string]any{"Time": true},
		"indexByName":   map[string]any{"namespace": 0, "pod": 1, "Value": 2},
		"renameByName":  map[string]any{"namespace": "Namespace", "pod": "Pod", "Value": "Hours to limit"},
	}).
		transform("sortBy", map[string]any{"sort": []map[string]any{{"desc": false, "field": "Hours to limit"}}}).
		overrides(override("byName", "Hours to limit", prop("unit", "h"), prop("decimals", 1),
			prop("custom.cellOptions", map[string]any{"type": "color-background", "mode": "basic"}),
			prop("thresholds", thresholds("red", 24, "orange", 72, "green"))))

	b.add(12, 8, timeseries("Sidecar working set",
		`Working set of each sidecar in bytes (cAdvisor, what the OOM killer compares with the limit), with the limits
		dashed.`,
		"bytes",
		prom("A", `max by (namespace, pod) (`+ws+`)`, "{{pod}}"),
		prom("B", `max by (namespace) (`+limit+`)`, "{{namespace}} limit")).
		overrides(override("byFrameRefID", "B", fixedColor("red"), prop("custom.lineStyle", map[string]any{"dash": []int{10, 10}, "fill": "dash"}), prop("custom.fillOpacity", 0))).
		minMax(f(0), nil))
	b.add(12, 8, timeseries("Envoy heap",
		`Envoy's own accounting of its memory (envoy_server_memory_allocated: bytes in use; heap_size: bytes reserved
		from the OS). Allocated memory that keeps growing at steady traffic is a leak inside Envoy (stats, config,
		connections), not page cache; a heap far above allocated is fragmentation.`,
		"bytes",
		prom("A", `max by (pod) (envoy_server_memory_allocated{namespace=~"$namespace", `+podOfWorkload+`})`, "{{pod}} allocated"),
		prom("B", `max by (pod) (envoy_server_memory_heap_size{namespace=~"$namespace", `+podOfWorkload+`})`, "{{pod}} heap")).
		overrides(override("byFrameRefID", "B", prop("custom.lineStyle", map[string]any{"dash": []int{4, 4}, "fill": "dash"}))).
		minMax(f(0), nil))

	b.row("Sidecars: CPU and restarts")
	b.add(8, 8, timeseries("Sidecar CPU",
		`CPU cores used by each Envoy sidecar (rate of container_cpu_usage_seconds_total). Proxy CPU follows requests
		per second; CPU that climbs at steady traffic points at config churn (frequent pushes) or a stats explosion.`,
		"short", prom("A", `sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{`+proxy+`}[$__rate_interval]))`, "{{pod}}")).
		custom("axisLabel", "cores").minMax(f(0), nil))
	b.add(8, 8, timeseries("Container restarts",
		`Restarts per interval of every container in the selected namespaces (apps and sidecars), from kube-state-metrics.`,
		"short", prom("A", `sum by (namespace, pod, container) (increase(kube_pod_container_status_restarts_total{namespace=~"$namespace", `+podOfWorkload+`}[$__rate_interval]))`,
			"{{container}} {{pod}}")).
		custom("drawStyle", "bars").custom("fillOpacity", 80).minMax(f(0), nil))
	restarts := b.add(8, 8, table("Restarts and last termination",
		`Every container's restart count and, for those that terminated, the reason of the last termination
		(OOMKilled: the memory limit was hit; Error: the process exited non-zero).`,
		promTable("restarts", `max by (namespace, pod, container) (kube_pod_container_status_restarts_total{namespace=~"$namespace", `+podOfWorkload+`})`),
		promTable("reason", `max by (namespace, pod, container, reason) (kube_pod_container_status_last_terminated_reason{namespace=~"$namespace", `+podOfWorkload+`}) > 0`)))
	restarts.transform("merge", map[string]any{}).
		transform("organize", map[string]any{
			"excludeByName": map[string]any{"Time": true, "Value #reason": true},
			"indexByName":   map[string]any{"namespace": 0, "pod": 1, "container": 2, "Value #restarts": 3, "reason": 4},
			"renameByName":  map[string]any{"namespace": "Namespace", "pod": "Pod", "container": "Container", "Value #restarts": "Restarts", "reason": "Last termination"},
		}).
		transform("sortBy", map[string]any{"sort": []map[string]any{{"desc": true, "field": "Restarts"}}}).
		overrides(override("byName", "Restarts", prop("custom.cellOptions", map[string]any{"type": "color-text"}),
			prop("thresholds", thresholds("green", 1, "orange", 5, "red"))))

	b.row("istiod")
	b.add(6, 8, stat("Connected proxies",
		`Proxies (sidecars and gateways) holding an xDS connection to istiod (pilot_xds). A drop means proxies lost the
		control plane: they keep their last config but get no updates.`,
		"short", prom("A", `sum(pilot_xds)`, "proxies")).option("colorMode", "none"))
	b.add(9, 8, timeseries("xDS pushes by type",
		`Config pushes per second from istiod by xDS type. Bursts follow config or endpoint changes (a pod restarting
		triggers EDS pushes to every proxy).`,
		"ops", prom("A", `sum by (type) (rate(pilot_xds_pushes[$__rate_interval]))`, "{{type}}")).
		custom("stacking", map[string]any{"group": "A", "mode": "normal"}).minMax(f(0), nil))
	b.add(9, 8, timeseries("xDS rejects and rejecting proxies",
		`Pushes the proxies rejected (NACK) per second by type, and each proxy currently rejecting its config
		(pilot_xds_*_reject, named by xDS node id: sidecar~IP~pod.namespace~...). A rejecting proxy keeps its last good
		config: fix or remove the EnvoyFilter / route that it cannot load (the reject message is in istiod's and the
		proxy's logs below).`,
		"ops",
		prom("A", `sum by (type) (rate(pilot_total_xds_rejects[$__rate_interval])) or label_replace(vector(0), "type", "none", "", "")`, "rejects/s {{type}}"),
		prom("B", `max by (node, type) (label_replace({__name__=~"pilot_xds_(cds|eds|lds|rds)_reject"}, "type", "$1", "__name__", "pilot_xds_(.+)_reject"))`, "rejecting {{type}}: {{node}}")).
		overrides(override("byFrameRefID", "B", fixedColor("red"), prop("unit", "short"), prop("custom.axisPlacement", "right"), prop("custom.drawStyle", "points"))).
		minMax(f(0), nil))
	b.add(8, 8, timeseries("Push convergence P99",
		`Time from a config change until every proxy received it (pilot_proxy_convergence_time), P50 and P99. Seconds
		here means proxies route on stale endpoints for that long after a pod change.`,
		"s",
		prom("A", `histogram_quantile(0.5, sum by (le) (rate(pilot_proxy_convergence_time_bucket[$__rate_interval])))`, "P50"),
		prom("B", `histogram_quantile(0.99, sum by (le) (rate(pilot_proxy_convergence_time_bucket[$__rate_interval])))`, "P99")).
		custom("spanNulls", true).custom("showPoints", "always"))
	b.add(8, 8, timeseries("istiod memory and CPU",
		`istiod's working set (left) and CPU cores (right), from cAdvisor (container discovery).`,
		"bytes",
		prom("A", `sum by (pod) (container_memory_working_set_bytes{container="discovery", pod=~"istiod-.*"})`, "{{pod}} memory"),
		prom("B", `sum by (pod) (rate(container_cpu_usage_seconds_total{container="discovery", pod=~"istiod-.*"}[$__rate_interval]))`, "{{pod}} CPU")).
		overrides(override("byFrameRefID", "B", prop("unit", "short"), prop("custom.axisPlacement", "right"), prop("custom.axisLabel", "cores"))).
		minMax(f(0), nil))
	versions := b.add(8, 8, table("Istio versions",
		`Istio component versions and how many instances run each (istio_build): proxies on another version than
		pilot (istiod) are outside the supported skew after an upgrade.`,
		promTable("A", `count by (component, tag) (istio_build)`)))
	versions.transform("organize", map[string]any{
		"excludeByName": map[string]any{"Time": true},
		"renameByName":  map[string]any{"component": "Component", "tag": "Version", "Value": "Instances"},
	})

	b.row("Node and logs")
	b.add(8, 9, timeseries("Node memory and CPU",
		`The node's available memory share and CPU busy share (node-exporter). On a single small node the mesh competes
		with everything else: sidecars and istiod fail first when memory runs out.`,
		"percentunit",
		prom("A", `avg by (instance) (node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)`, "memory available {{instance}}"),
		prom("B", `1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[$__rate_interval]))`, "CPU busy {{instance}}")).
		minMax(f(0), f(1)))
	b.add(16, 9, logsPanel("Mesh infrastructure logs",
		`Lines from the sidecars, gateways, istiod and Flagger: rejected configs ("gRPC config ... rejected", istiod's
		"ACK ERROR"), Envoy OOM hints ("Envoy may have been out of memory killed") and Flagger's rollout events.
		Quiet while the mesh is healthy.`,
		loki("A", `{container=~"istio-proxy|discovery|flagger"}`, 500)))

	return b.done()
}
