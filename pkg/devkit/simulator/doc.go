// Package simulator generates the telemetry of a five-service homelab service
// mesh (namespace "shop" on a single k3s node, Istio sidecars with STRICT
// mTLS, Flagger canaries) under declarative fault scenarios, for tests,
// demos and evaluations of MeshWatch without a cluster.
//
// The mesh: istio-ingressgateway → frontend → api → {orders, payments,
// inventory}; orders keeps its rows in orders-db (TCP, in the mesh); payments
// runs under a Flagger canary (payments-primary v1, canary payments v2) fed by
// flagger-loadtester during an analysis. Traffic is simulated request by
// request (call trees with Istio route timeouts and retries), so metrics,
// logs and traces agree with each other.
//
// Resilience (resilience.go): an edge's policy may limit the caller's
// connection pool to the service (EdgePolicy.MaxConcurrent: beyond it the
// caller's own proxy answers a fast 503 UO, reported by the source only,
// destination unknown) and eject the service's pod after consecutive 5xx
// (EdgePolicy.Consecutive5xx: 503 UH while ejected, then re-admitted).
// Retries reach the callee as requests of their own, so its destination
// reporter counts more than its callers' first attempts.
//
// Scenarios are data (scenarios/*.yaml, see Scenario and Effect): a new one is
// a new file. Each carries its ground truth (root-cause workload, cause class,
// onset; Truth.Additional for further faults at once, Truth.Faults and
// GroundTruth.Faults for all of them). A run is fully determined by
// scenario, seed, end time, duration and step: the same inputs give
// byte-identical output.
//
// Other meshes: a scenario may run on another topology than the shop, so
// that what MeshWatch learns from the shop's names is not what it is
// judged on. `topology: bookstore` names a built-in one (topologies/*.yaml:
// namespace books, storefront → catalog → search-index, reviews → ratings →
// ratings-db, checkout under the canary → billing; StatefulSets among
// them); a mapping declares one in place (Topology: namespaces, services
// with their workload kind, protocol, resources and latency, the call
// graph's edges or whole call trees per route, timeouts and retries per
// edge, the canary's service, out-of-mesh clients). Pods are named as
// Kubernetes names them (<deployment>-<rs hash>-<suffix>,
// <statefulset>-<ordinal>); the ingress gateway, istiod and Flagger stay in
// istio-system.
//
// What is emitted, with the names and label sets a real k3s scrape gives:
//   - Istio standard metrics from every sidecar and the gateway (job
//     "kubernetes-pods", the annotation-based scrape of the merged
//     :15020/stats/prometheus endpoint, with target labels namespace and pod):
//     istio_requests_total, istio_request_duration_milliseconds,
//     istio_request_bytes, istio_response_bytes (Envoy's default buckets),
//     istio_tcp_*, istio_build, envoy_server_memory_*, and the cluster stats
//     of each sidecar's outbound clusters that a proxyStatsMatcher exports
//     (envoy_cluster_upstream_rq_{total,retry,retry_success,retry_overflow,
//     timeout,pending_overflow}, envoy_cluster_outlier_detection_ejections_*,
//     envoy_cluster_circuit_breakers_default_{rq,cx}_open; label
//     cluster_name "outbound|<port>||<host>"), one set per client pod and
//     service it calls.
//   - cAdvisor (job "kubernetes-nodes-cadvisor"), kube-state-metrics (job
//     "kube-state-metrics", honor_labels so namespace/pod are the object's),
//     node-exporter (job "node-exporter"), istiod's pilot_* (job
//     "kubernetes-pods") and Flagger's flagger_* (job "kubernetes-pods",
//     honor_labels: namespace is the canary's).
//   - Structured JSON logs per container with Loki stream labels namespace,
//     app, pod, container, level (every non-2xx request, a 1-in-N sample of
//     the rest, lifecycle and control-plane lines).
//   - Traces in Tempo's HTTP API shapes (/api/search, /api/traces/{id},
//     /api/v2/traces/{id}) for a reservoir of error, slow and normal traces.
//   - The Kubernetes objects of the scenario's end state (Deployments, Pods,
//     Events, Flagger Canary, Istio policy objects) as unstructured maps.
//
// Two ways to feed real servers: Backfill writes OpenMetrics for
// `promtool tsdb create-blocks-from openmetrics`, logs (JSONL, or pushed to
// Loki with their own timestamps), traces and objects; Live serves /metrics
// in the Prometheus text format and pushes logs to Loki as they happen.
//
// The payments Canary (a topology's canary service) goes through Flagger's phases the way Flagger's
// scheduler moves it (see Phases). A scenario can gate its rollout with
// confirm-rollout, confirm-promotion and rollback webhooks (Effect.Gates)
// that ask the load tester's gates; a program opens them with the Engine's
// or Live's OpenGate/OpenRollback, or over HTTP on the live simulator with
// the load tester's own endpoints (POST /gate/open, /rollback/open, …).
// Nothing opens a gate in a backfill. DeleteCanary and CreateCanary take the
// Canary through Terminating/Terminated and Initializing/Initialized.
package simulator
