package signals

import "time"

// requestGuard is the volume guard of the request-based signals. A small
// mesh's workloads are quiet: a canary that takes 10 % of 3 req/s gets 90
// requests in 5 minutes. 20 requests in 15 minutes (0.022 req/s) is enough to
// tell a failing workload from one error among a handful of requests, and
// lets such a canary alert from its first minutes on.
var requestGuard = VolumeGuard{MinRequests: 20, Window: 15 * time.Minute}

// The MeshWatch dashboards the alerts link to, with the alert's labels in
// their variables.
var (
	workloadDashboard     = dashboard("meshwatch-workload", "var-namespace={{ $labels.namespace }}&var-workload={{ $labels.workload }}")
	controlPlaneDashboard = dashboard("meshwatch-control-plane", "var-namespace={{ $labels.namespace }}&var-workload={{ $labels.workload }}")
	istiodDashboard       = dashboard("meshwatch-control-plane", "var-namespace={{ $labels.namespace }}")
	canaryDashboard       = dashboard("meshwatch-canary", "var-namespace={{ $labels.namespace }}&var-canary={{ $labels.workload }}")
)

func dashboard(uid, vars string) Dashboard { return Dashboard{UID: uid, URL: "/d/" + uid + "?" + vars} }

// The rule groups of the rules file.
const (
	groupRED          = "meshwatch-mesh-red"
	groupResilience   = "meshwatch-mesh-resilience"
	groupContainers   = "meshwatch-mesh-containers"
	groupControlPlane = "meshwatch-mesh-control-plane"
	groupCanary       = "meshwatch-canary"
)

var catalog = []Signal{
	{
		ID:    WorkloadErrorRate,
		Title: "Workload 5xx error rate",
		Description: "The share of a workload's requests that end in a 5xx, as its server side (sidecar or waypoint) " +
			"reports them, is over the error budget, with enough requests to judge.",
		Labels: workloadLabels, Unit: "ratio",
		Params: Params{Threshold: 0.005, Window: 5 * time.Minute, Guard: requestGuard},
		expr: func(p Params) string {
			return maxBy(workloadLabels, workloadFromDestination(lines(
				`  `+byDestination+` (rate(`+requests(serverSide, `response_code=~"5.."`)+`[`+dur(p.Window)+`]))`,
				`/ `+byDestination+` (rate(`+requests(serverSide)+`[`+dur(p.Window)+`]))`,
				`> `+num(p.Threshold),
				`and `+volumeGuard(serverSide, p.Guard))))
		},
		Rule: &Rule{
			Group: groupRED, Alert: "MeshWorkloadHighErrorRate", For: 5 * time.Minute, Severity: "critical",
			Summary:     `{{ $labels.workload }} in {{ $labels.namespace }} answers {{ $value | humanizePercentage }} of its requests with a 5xx (budget 0.5 %)`,
			Description: `For 5 minutes more than 0.5 % of the requests {{ $labels.namespace }}/{{ $labels.workload }} served (server sidecar or waypoint) ended in a 5xx. Look at the workload dashboard: which response codes (500 from the app, 503/504 from Envoy), which sources see them, whether its outbound calls fail first (then the cause is upstream), and the error logs and traces of the last minutes.`,
			Runbook:     `1) Outbound panel: if a dependency fails first, follow it (open that workload). 2) Error logs: the message and the trace of a failing request. 3) A recent rollout? Roll back (or let Flagger do it). 4) Restarts or OOM kills in the Pods row point at resources.`,
			Dashboard:   workloadDashboard,
		},
	},
	{
		ID:    WorkloadLatency,
		Title: "Workload tail latency over the SLO",
		Description: "A workload's P99 (the time its own sidecar or waypoint measures from request to response) is " +
			"over the latency SLO, with enough requests to judge.",
		Labels: workloadLabels, Unit: "ms",
		Params: Params{Threshold: 500, Quantile: 0.99, Window: 5 * time.Minute, Guard: requestGuard},
		expr: func(p Params) string {
			return maxBy(workloadLabels, workloadFromDestination(lines(
				`  histogram_quantile(`+num(p.Quantile)+`, sum by (le, destination_workload_namespace, destination_workload) (rate(istio_request_duration_milliseconds_bucket{`+serverSide+`}[`+dur(p.Window)+`])))`,
				`> `+num(p.Threshold),
				`and `+volumeGuard(serverSide, p.Guard))))
		},
		Rule: &Rule{
			Group: groupRED, Alert: "MeshWorkloadLatencySLOBreach", For: 10 * time.Minute, Severity: "warning",
			Summary:     `P99 of {{ $labels.workload }} in {{ $labels.namespace }} is {{ $value | printf "%.0f" }} ms (SLO 500 ms)`,
			Description: `For 10 minutes the 99th percentile of the time {{ $labels.namespace }}/{{ $labels.workload }} takes to answer (its own sidecar's view) has been over the 500 ms SLO. Compare its inbound P99 with the P99 of its outbound calls on the workload dashboard: if a dependency is slow, the latency is upstream; if not, the workload itself is slow (CPU, GC, a slow query).`,
			Runbook:     `1) Outbound P99 by destination: find the slow dependency and open it. 2) CPU of the pod near its limit means throttling. 3) Slow-request traces (Requests → traces) show which span takes the time. 4) Check retries/timeouts in the VirtualService: retries multiply tail latency.`,
			Dashboard:   workloadDashboard,
		},
	},
	{
		ID:    WorkloadTrafficStopped,
		Title: "Workload traffic stopped",
		Description: "A workload that served requests in the hours before got none in the last minutes (Flagger's " +
			"canary targets, scaled to zero between rollouts, excepted).",
		Labels: workloadLabels, Unit: "requests",
		Params: Params{Window: 10 * time.Minute, Baseline: 3 * time.Hour},
		expr: func(p Params) string {
			return maxBy(workloadLabels, lines(
				workloadFromDestination(lines(
					`  `+byDestination+` (increase(`+requests(serverSide)+`[`+dur(p.Baseline)+`] offset `+dur(p.Window)+`)) > 0`,
					`unless `+byDestination+` (increase(`+requests(serverSide)+`[`+dur(p.Window)+`])) > 0`)),
				`unless on (namespace, workload) `+canaryWorkloads()))
		},
		Rule: &Rule{
			Group: groupRED, Alert: "MeshWorkloadTrafficStopped", For: 5 * time.Minute, Severity: "warning",
			Summary:     `{{ $labels.workload }} in {{ $labels.namespace }} received no requests for 10 minutes`,
			Description: `{{ $labels.namespace }}/{{ $labels.workload }} served requests in the hours before but none in the last 10 minutes (or its sidecar stopped reporting). Either its clients stopped calling it (a route or VirtualService change, the ingress gateway), or its pods are gone. Flagger canary targets, which are scaled to zero between rollouts, are excluded. If the workload was removed on purpose, silence this alert; it resolves by itself 3 hours later.`,
			Runbook:     `1) kubectl -n {{ $labels.namespace }} get deploy,pods -l app={{ $labels.workload }}. 2) Mesh overview: did the callers' traffic stop too (gateway, DNS, an upstream outage)? 3) Recent VirtualService or DestinationRule changes (istioctl analyze).`,
			Dashboard:   workloadDashboard,
		},
	},
	{
		ID:    UpstreamTimeouts,
		Title: "Calls to a workload time out",
		Description: "A share of the calls to a workload over the threshold ends in Envoy's 504 with the UT flag, as " +
			"its callers (sidecar or waypoint) report them: the route's timeout expired before it answered.",
		Labels: workloadLabels, Unit: "ratio",
		Params: Params{Threshold: 0.01, Window: 5 * time.Minute, Guard: requestGuard},
		expr: func(p Params) string {
			return maxBy(workloadLabels, workloadFromDestination(lines(
				`  `+byDestination+` (rate(`+requests(clientSide, `response_code="504"`, `response_flags="UT"`)+`[`+dur(p.Window)+`]))`,
				`/ `+byDestination+` (rate(`+requests(clientSide)+`[`+dur(p.Window)+`]))`,
				`> `+num(p.Threshold),
				`and `+volumeGuard(clientSide, p.Guard))))
		},
	},
	{
		ID:    PlaintextUnderStrict,
		Title: "Plaintext traffic under STRICT mTLS",
		Description: "A workload's server sidecar accepts HTTP requests or TCP bytes without mutual TLS, in a mesh " +
			"meant to be STRICT: a PeerAuthentication lets them through.",
		Labels: plaintextLabels, Unit: "requests/s (http) or bytes/s (tcp)",
		Params: Params{Window: 5 * time.Minute},
		expr: func(p Params) string {
			plain := func(metric, protocol string) string {
				return `label_replace(sum by (destination_workload_namespace, destination_workload, source_workload, source_workload_namespace) (rate(` +
					metric + `{reporter="destination", connection_security_policy!="mutual_tls"}[` + dur(p.Window) + `])) > 0, "protocol", "` + protocol + `", "", "")`
			}
			return maxBy(plaintextLabels, workloadFromDestination(lines(
				`  `+plain("istio_requests_total", "http"),
				`or `+plain("istio_tcp_received_bytes_total", "tcp"))))
		},
		Rule: &Rule{
			Group: groupRED, Alert: "MeshPlaintextTrafficUnderStrict", For: 5 * time.Minute, Severity: "critical",
			Summary:     `{{ $labels.workload }} in {{ $labels.namespace }} accepts plaintext {{ $labels.protocol }} traffic from {{ $labels.source_workload }}`,
			Description: `The server sidecar of {{ $labels.namespace }}/{{ $labels.workload }} reports {{ $labels.protocol }} traffic without mutual TLS (connection_security_policy is not mutual_tls) for 5 minutes, from source {{ $labels.source_workload }}.{{ $labels.source_workload_namespace }} ("unknown" is a client outside the mesh). The mesh is meant to be STRICT, so a PeerAuthentication lets it through: a PERMISSIVE mode or a port-level exception. The value is requests/s (http) or bytes/s (tcp).`,
			Runbook:     `1) kubectl get peerauthentication -A -o yaml: look for mode PERMISSIVE or portLevelMtls on this workload. 2) Find the caller (its IP in the sidecar's access log) and give it a sidecar or move it into the mesh. 3) Then restore STRICT; the mesh overview's mTLS coverage must return to 100 %.`,
			Dashboard:   workloadDashboard,
		},
	},
	{
		ID:    CircuitOpen,
		Title: "Circuit breaker open toward a dependency",
		Description: "The callers' sidecars refuse a share of the calls to a service themselves, at once, with a 503 " +
			"flagged UO (upstream overflow): the connection pool's circuit breaker toward it is open because it " +
			"stopped keeping up. From the callers' request metrics, or Envoy's pending-overflow counter where the " +
			"proxy stats matcher exports it; about the dependency, with enough calls to judge.",
		Labels: workloadLabels, Unit: "ratio of the calls",
		Params: Params{Threshold: 0.01, Window: 5 * time.Minute, Guard: requestGuard},
		expr: func(p Params) string {
			w := dur(p.Window)
			return maxBy(workloadLabels, lines(
				serviceFromDestination(lines(
					`  `+byService+` (rate(`+requests(clientSide, `response_flags="UO"`)+`[`+w+`]))`,
					`/ `+byService+` (rate(`+requests(clientSide)+`[`+w+`]))`,
					`> `+num(p.Threshold),
					`and `+byService+` (increase(`+requests(clientSide)+`[`+dur(p.Guard.Window)+`])) >= `+num(p.Guard.MinRequests))),
				`or`,
				`  `+serviceFromCluster(`rate(`+clusterStat("upstream_rq_pending_overflow")+`[`+w+`])`),
				`/ `+serviceFromCluster(`rate(`+clusterStat("upstream_rq_total")+`[`+w+`]) + rate(`+clusterStat("upstream_rq_pending_overflow")+`[`+w+`])`),
				`> `+num(p.Threshold),
				`and `+serviceFromCluster(`increase(`+clusterStat("upstream_rq_total")+`[`+dur(p.Guard.Window)+`])`)+` >= `+num(p.Guard.MinRequests)))
		},
		Rule: &Rule{
			Group: groupResilience, Alert: "MeshCircuitBreakerOpen", For: 3 * time.Minute, Severity: "warning",
			Summary:     `Callers of {{ $labels.workload }} in {{ $labels.namespace }} refuse {{ $value | humanizePercentage }} of their calls to it at once (circuit breaker open, 503 UO)`,
			Description: `For 3 minutes the sidecars calling {{ $labels.namespace }}/{{ $labels.workload }} have answered more than 1 % of those calls themselves with a fast 503 flagged UO (upstream overflow): their connection pool to it is full (the connectionPool limits of its DestinationRule: connections, pending requests, requests in flight), so the circuit breaker is open. It is not keeping up: it got slower, or its traffic grew. The Resilience row of the workload dashboard shows which callers overflow and since when; its inbound P99 shows whether it slowed down first.`,
			Runbook:     `1) Resilience row: callers with UO, breaker gauges and overflow. 2) Did it slow down (inbound P99, its own outbound calls, CPU throttling, a rollout) or did a caller burst (inbound requests by source)? 3) A burst: rate-limit the caller or add replicas (each adds pool capacity). 4) Raise the connectionPool limits only if it has headroom: the breaker is what protects it.`,
			Dashboard:   workloadDashboard,
		},
	},
	{
		ID:    RetryStorm,
		Title: "Retry storm toward a dependency",
		Description: "The callers' sidecars retry their calls to a service at more than a share of their first attempts " +
			"(Envoy's retry and request counters, exported by the proxy stats matcher): a failing or slow dependency " +
			"is asked again and again, and its load multiplies when it can least take it. About the dependency, " +
			"with enough calls to judge.",
		Labels: workloadLabels, Unit: "retries per first attempt",
		Params: Params{Threshold: 0.2, Window: 5 * time.Minute, Guard: requestGuard},
		expr: func(p Params) string {
			w := dur(p.Window)
			return maxBy(workloadLabels, lines(
				`  `+serviceFromCluster(`rate(`+clusterStat("upstream_rq_retry")+`[`+w+`])`),
				`/ `+serviceFromCluster(`rate(`+clusterStat("upstream_rq_total")+`[`+w+`]) - rate(`+clusterStat("upstream_rq_retry")+`[`+w+`])`),
				`> `+num(p.Threshold),
				`and `+serviceFromCluster(`increase(`+clusterStat("upstream_rq_total")+`[`+dur(p.Guard.Window)+`])`)+` >= `+num(p.Guard.MinRequests)))
		},
		Rule: &Rule{
			Group: groupResilience, Alert: "MeshRetryStorm", For: 5 * time.Minute, Severity: "warning",
			Summary:     `Retries to {{ $labels.workload }} in {{ $labels.namespace }} run at {{ $value | humanizePercentage }} of the first attempts (retry storm)`,
			Description: `For 5 minutes the sidecars calling {{ $labels.namespace }}/{{ $labels.workload }} have sent retries amounting to more than 20 % of their first attempts (Envoy's upstream_rq_retry against upstream_rq_total): it fails or times out, its callers' VirtualService retry policies ask it again, and its load multiplies when it can least take it. Its own errors or latency started the storm (per-try timeouts of a slow dependency that are retried count too: a timeout cascade with retries is a storm as well); the retries keep it going. The Resilience row of the workload dashboard shows the retries against the first attempts per caller, and the errors and timeouts that trigger them.`,
			Runbook:     `1) Resilience row: which callers retry, on which failures (response flags, timeouts). 2) Fix the dependency first: its errors, its latency. 3) Bound the retries: one layer only, fewer attempts, no plain 5xx in retryOn, and connectionPool.http.maxRetries on its DestinationRule (the retry budget). 4) Retry overflow rising means the budget already refuses retries.`,
			Dashboard:   workloadDashboard,
		},
	},
	{
		ID:    EndpointEjected,
		Title: "Endpoints ejected from the callers' pools",
		Description: "Outlier detection in the callers' sidecars has ejected endpoints (pods) of a service from their " +
			"load-balancing pools after consecutive errors (Envoy's ejections_active gauge, exported by the proxy " +
			"stats matcher); with every endpoint ejected the callers answer 503 UH (no healthy upstream).",
		Labels: workloadLabels, Unit: "ejected endpoints, summed over the callers",
		Params: Params{Window: 5 * time.Minute},
		expr: func(p Params) string {
			return maxBy(workloadLabels, `max_over_time(`+serviceFromCluster(clusterStat("outlier_detection_ejections_active"))+`[`+dur(p.Window)+`:]) > 0`)
		},
	},
	{
		ID:    SidecarMemoryNearLimit,
		Title: "Sidecar memory near its limit",
		Description: "The working set of a pod's Envoy sidecar (istio-proxy) is close to the container's memory limit, " +
			"where the kernel OOM-kills it.",
		Labels: podLabels, Unit: "ratio of the limit",
		Params: Params{Threshold: 0.85},
		expr: func(p Params) string {
			return maxBy(podLabels, WorkloadFromPod(lines(
				`  container_memory_working_set_bytes{container="istio-proxy"}`,
				`/ on (namespace, pod, container) kube_pod_container_resource_limits{resource="memory", container="istio-proxy"}`,
				`> `+num(p.Threshold))))
		},
		Rule: &Rule{
			Group: groupContainers, Alert: "MeshSidecarMemoryNearLimit", For: 10 * time.Minute, Severity: "warning",
			Summary:     `Envoy sidecar of {{ $labels.pod }} uses {{ $value | humanizePercentage }} of its memory limit`,
			Description: `The istio-proxy container of {{ $labels.namespace }}/{{ $labels.pod }} has been above 85 % of its memory limit for 10 minutes. At 100 % the kernel OOM-kills Envoy and every request through the pod fails until it restarts. Look at the Sidecars & control plane dashboard: is the working set climbing (a leak — see Envoy's heap and the time until the limit) or just high (config size, many endpoints)?`,
			Runbook:     `1) Envoy heap panel: allocated growing at steady traffic is a leak; plan a rollout restart before the limit. 2) Large config: scope it with a Sidecar resource (egress hosts). 3) Raise the proxy limit with the sidecar.istio.io/proxyMemoryLimit annotation if the node has room.`,
			Dashboard:   controlPlaneDashboard,
		},
	},
	{
		ID:    SidecarMemoryLeak,
		Title: "Sidecar memory leak",
		Description: "A linear fit of the recent working set of a pod's Envoy sidecar projects it past the " +
			"container's memory limit within the horizon: memory grows steadily, the signature of a leak.",
		Labels: podLabels, Unit: "bytes (projected)",
		Params: Params{Window: 2 * time.Hour, Horizon: 24 * time.Hour},
		expr: func(p Params) string {
			return maxBy(podLabels, WorkloadFromPod(lines(
				`  predict_linear(container_memory_working_set_bytes{container="istio-proxy"}[`+dur(p.Window)+`], `+seconds(p.Horizon)+`)`,
				`> on (namespace, pod, container) kube_pod_container_resource_limits{resource="memory", container="istio-proxy"}`)))
		},
		Rule: &Rule{
			Group: groupContainers, Alert: "MeshSidecarMemoryLeak", For: 30 * time.Minute, Severity: "warning",
			Summary:     `Envoy sidecar of {{ $labels.pod }} is on course to hit its memory limit within 24 h`,
			Description: `A linear fit of the last 2 hours of the working set of {{ $labels.namespace }}/{{ $labels.pod }}'s istio-proxy projects it past the container's memory limit within 24 hours (projected {{ $value | humanize1024 }}B), and has for 30 minutes: memory grows steadily, the signature of a leak. Confirm it on the Sidecars & control plane dashboard: Envoy's own allocated heap should grow the same way (otherwise it is page cache), and "Time until the memory limit" tells how long is left.`,
			Runbook:     `1) Compare envoy_server_memory_allocated with the working set. 2) Check what grows with it: stats cardinality (scrape sample count), clusters and listeners (config), connections. 3) Restart the pod before the limit (kubectl rollout restart) as a stopgap; capture an Envoy heap profile first if possible. 4) Known leaks: check the Istio release notes of the running version (Component versions).`,
			Dashboard:   controlPlaneDashboard,
		},
	},
	{
		ID:          ContainerRestarts,
		Title:       "Container restarts",
		Description: "A container restarted recently (kube-state-metrics' restart counter rose), whatever the reason.",
		Labels:      containerLabels, Unit: "restarts",
		Params: Params{Window: 10 * time.Minute},
		expr: func(p Params) string {
			return maxBy(containerLabels, WorkloadFromPod(restarted(p)))
		},
	},
	{
		ID:    ContainerOOMKilled,
		Title: "Container OOM-killed",
		Description: "A container restarted recently and its last termination reason is OOMKilled: it reached its " +
			"memory limit.",
		Labels: containerLabels, Unit: "restarts",
		Params: Params{Window: 10 * time.Minute},
		expr: func(p Params) string {
			return maxBy(containerLabels, WorkloadFromPod(lines(
				`  `+restarted(p),
				`and on (namespace, pod, container) kube_pod_container_status_last_terminated_reason{reason="OOMKilled"} == 1`)))
		},
		Rule: &Rule{
			Group: groupContainers, Alert: "MeshContainerOOMKilled", Severity: "warning",
			Summary:     `Container {{ $labels.container }} of {{ $labels.pod }} was OOM-killed`,
			Description: `The {{ $labels.container }} container of {{ $labels.namespace }}/{{ $labels.pod }} restarted in the last 10 minutes and its last termination reason is OOMKilled: it reached its memory limit. Look at its memory on the workload dashboard (Pods row): a sawtooth that climbs to the limit again and again is a leak; a jump with load is an undersized limit. While it restarts, its callers see 503s.`,
			Runbook:     `1) Container memory panel: leak (steady climb) or spike (load)? 2) For the app: heap profile, caches without eviction. 3) For istio-proxy: see MeshSidecarMemoryLeak. 4) Raise the limit only if the node has room.`,
			Dashboard:   workloadDashboard,
		},
	},
	{
		ID:    ContainerCrashLooping,
		Title: "Container crash-looping",
		Description: "A container keeps exiting and the kubelet keeps backing off its restarts (waiting in " +
			"CrashLoopBackOff).",
		Labels: containerLabels, Unit: "1 (waiting)",
		Params: Params{Window: 5 * time.Minute},
		expr: func(p Params) string {
			return maxBy(containerLabels, WorkloadFromPod(
				`max_over_time(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff"}[`+dur(p.Window)+`]) >= 1`))
		},
		Rule: &Rule{
			Group: groupContainers, Alert: "MeshWorkloadCrashLooping", For: 10 * time.Minute, Severity: "critical",
			Summary:     `Container {{ $labels.container }} of {{ $labels.pod }} is crash-looping`,
			Description: `The {{ $labels.container }} container of {{ $labels.namespace }}/{{ $labels.pod }} keeps exiting and the kubelet keeps backing off its restarts (CrashLoopBackOff) for 10 minutes. While it is down its callers get 503 UH (no healthy upstream). Its last log lines before each exit usually say why.`,
			Runbook:     `1) kubectl -n {{ $labels.namespace }} logs {{ $labels.pod }} -c {{ $labels.container }} --previous. 2) Exit reason in the Restarts table (Error: the process failed; OOMKilled: memory). 3) A recent rollout or config/secret change? Roll it back.`,
			Dashboard:   workloadDashboard,
		},
	},
	{
		ID:    ProxyConfigRejected,
		Title: "Proxy rejects its config",
		Description: "istiod reports that a proxy NACKs the xDS configuration (clusters, endpoints, listeners or " +
			"routes) it pushes; the proxy keeps running on its last accepted config.",
		Labels: rejectLabels, Unit: "1 (rejected)",
		expr: func(Params) string {
			// istiod's gauges name the proxy in the node label:
			// <type>~<ip>~<pod>.<namespace>~<domain>.
			return maxBy(rejectLabels, WorkloadFromPod(lines(
				`label_replace(label_replace(label_replace(`,
				`  {__name__=~"pilot_xds_(cds|eds|lds|rds)_reject"} > 0,`,
				`"type", "$1", "__name__", "pilot_xds_(.+)_reject"),`,
				`"pod", "$1", "node", "[^~]+~[^~]*~([^.~]+)\\.[^~]*~.*"),`,
				`"namespace", "$1", "node", "[^~]+~[^~]*~[^.~]+\\.([^~]+)~.*")`)))
		},
		Rule: &Rule{
			Group: groupControlPlane, Alert: "MeshProxyConfigRejected", For: 2 * time.Minute, Severity: "warning",
			Summary:     `Envoy of {{ $labels.pod }} rejects its {{ $labels.type }} config from istiod`,
			Description: `istiod reports that the proxy of {{ $labels.namespace }}/{{ $labels.pod }} NACKs the {{ $labels.type }} configuration it pushes (pilot_xds_{{ $labels.type }}_reject). The proxy keeps running on its last accepted config, so new routes, policies or endpoints do not reach it. The reject message (in istiod's and the proxy's logs, Sidecars & control plane dashboard) names the bad resource — typically an EnvoyFilter or a malformed route.`,
			Runbook:     `1) istioctl proxy-status: the proxy shows STALE/NACK. 2) The error text in istiod's "ACK ERROR" log line or the proxy's "gRPC config ... rejected" line. 3) Fix or delete the EnvoyFilter/VirtualService it names; istioctl analyze catches many. 4) The reject clears on the next accepted push.`,
			Dashboard:   controlPlaneDashboard,
		},
	},
	{
		ID:    IstiodXDSRejects,
		Title: "istiod's pushes rejected",
		Description: "An istiod keeps seeing proxies reject (NACK) its xDS pushes: the control plane generates " +
			"config some proxies cannot load.",
		Labels: podLabels, Unit: "rejects",
		Params: Params{Window: 10 * time.Minute},
		expr: func(p Params) string {
			return maxBy(podLabels, WorkloadFromPod(risingPerPod("pilot_total_xds_rejects", p)))
		},
		Rule: &Rule{
			Group: groupControlPlane, Alert: "MeshIstiodXdsRejects", For: 5 * time.Minute, Severity: "warning",
			Summary:     `Proxies rejected {{ $value | printf "%.0f" }} config pushes from {{ $labels.pod }} in 10 minutes`,
			Description: `istiod ({{ $labels.namespace }}/{{ $labels.pod }}) keeps seeing proxies NACK its xDS pushes (pilot_total_xds_rejects rising). The control plane is generating config some proxies cannot load; MeshProxyConfigRejected names them. Until fixed, those proxies run on stale config.`,
			Runbook:     `1) Which proxies: the "rejecting proxies" series on the Sidecars & control plane dashboard or istioctl proxy-status. 2) The reject message in istiod's logs. 3) Roll back the last mesh config change (EnvoyFilter, VirtualService, DestinationRule, Sidecar).`,
			Dashboard:   istiodDashboard,
		},
	},
	{
		ID:          IstiodInternalErrors,
		Title:       "istiod fails to build config",
		Description: "An istiod hits internal errors generating xDS config: some proxies get no update at all.",
		Labels:      podLabels, Unit: "errors",
		Params: Params{Window: 10 * time.Minute},
		expr: func(p Params) string {
			return maxBy(podLabels, WorkloadFromPod(risingPerPod("pilot_total_xds_internal_errors", p)))
		},
		Rule: &Rule{
			Group: groupControlPlane, Alert: "MeshIstiodInternalErrors", For: 5 * time.Minute, Severity: "warning",
			Summary:     `istiod {{ $labels.pod }} fails to build config ({{ $value | printf "%.0f" }} internal errors in 10 minutes)`,
			Description: `istiod ({{ $labels.namespace }}/{{ $labels.pod }}) hit internal errors generating xDS config (pilot_total_xds_internal_errors rising): some proxies get no update at all. This is an istiod-side problem — an invalid or conflicting resource it cannot translate, or a bug.`,
			Runbook:     `1) istiod logs around the errors ("internal error", "push error"). 2) istioctl analyze -A for the resource involved. 3) Roll back the last mesh config change; restart istiod if it persists.`,
			Dashboard:   istiodDashboard,
		},
	},
	{
		ID:    CanaryRolledBack,
		Title: "Canary rolled back",
		Description: "Flagger's analysis of a new revision failed its checks too often: it routed all traffic back " +
			"to the primary and scaled the canary to zero (canary status Failed).",
		Labels: workloadLabels, Unit: "Flagger status (2 = failed)",
		expr: func(Params) string {
			return `max by (namespace, workload) (` + canaryWorkloads() + `) > 1`
		},
		Rule: &Rule{
			Group: groupCanary, Alert: "MeshCanaryRolledBack", For: time.Minute, Severity: "warning",
			Summary:     `Flagger rolled back the canary of {{ $labels.workload }} in {{ $labels.namespace }}`,
			Description: `The analysis of the new revision of {{ $labels.namespace }}/{{ $labels.workload }} failed its checks (success rate >= 99.5 %, P99 <= 500 ms) too often; Flagger routed all traffic back to {{ $labels.workload }}-primary and scaled the canary to zero. Users are on the old version again; the new one needs a fix. The canary dashboard shows which check failed and when.`,
			Runbook:     `1) Canary dashboard: metric checks vs thresholds and the canary's 5xx by code. 2) Flagger events ("Halt advancement ..." lines) say which check failed. 3) The canary's error logs and traces. 4) Fix and roll out a new revision; the alert resolves when the next analysis starts.`,
			Dashboard:   canaryDashboard,
		},
	},
	{
		ID:    CanaryStuck,
		Title: "Canary stuck progressing",
		Description: "Flagger's analysis of a canary is running (canary status Progressing) without promoting or " +
			"rolling back; held for long, it waits for a gate, ready pods or traffic.",
		Labels: workloadLabels, Unit: "Flagger status (0 = progressing)",
		expr: func(Params) string {
			return `max by (namespace, workload) (` + canaryWorkloads() + `) == 0`
		},
		Rule: &Rule{
			Group: groupCanary, Alert: "MeshCanaryStuck", For: 30 * time.Minute, Severity: "warning",
			Summary:     `The canary of {{ $labels.workload }} in {{ $labels.namespace }} has been progressing for 30 minutes`,
			Description: `Flagger's analysis of {{ $labels.namespace }}/{{ $labels.workload }} has been running for over 30 minutes without promoting or rolling back (a healthy rollout takes a few analysis intervals). It is usually waiting: for a confirm-rollout/confirm-promotion gate (a pending sign-off), for the canary's pods to become ready, or for traffic (checks with no values count as failed only up to the threshold).`,
			Runbook:     `1) kubectl -n {{ $labels.namespace }} describe canary {{ $labels.workload }}: phase, failed checks, conditions, events. 2) MeshWatch Canaries page: a pending promotion sign-off? 3) Canary pods ready? 4) Load tester running (request volume on the canary dashboard)?`,
			Dashboard:   canaryDashboard,
		},
	},
}

// risingPerPod: the pods (istiod's) whose counter rose over the window.
func risingPerPod(counter string, p Params) string {
	return `sum by (namespace, pod) (increase(` + counter + `[` + dur(p.Window) + `])) > 0`
}

// restarted: the containers whose restart counter rose over the window.
func restarted(p Params) string {
	return `increase(kube_pod_container_status_restarts_total[` + dur(p.Window) + `]) > 0`
}
