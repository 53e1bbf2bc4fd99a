package simulator

import (
	"fmt"
	"math"
	"strconv"
)

// familySpec declares one metric family in exposition order.
type familySpec struct {
	name, help string
	typ        MetricType
	bounds     []float64
}

// Prometheus client_golang's DefBuckets, used by Flagger's histograms.
var defBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// pilot's convergence-time buckets (seconds).
var convergenceBuckets = []float64{.1, .5, 1, 3, 5, 10, 20, 30}

var familySpecs = []familySpec{
	{"istio_requests_total", "Total requests.", Counter, nil},
	{"istio_request_duration_milliseconds", "Request duration in milliseconds.", Histogram, istioBuckets},
	{"istio_request_bytes", "Request size in bytes.", Histogram, istioBuckets},
	{"istio_response_bytes", "Response size in bytes.", Histogram, istioBuckets},
	{"istio_tcp_sent_bytes_total", "Total bytes sent during response in case of a TCP connection.", Counter, nil},
	{"istio_tcp_received_bytes_total", "Total bytes received during request in case of a TCP connection.", Counter, nil},
	{"istio_tcp_connections_opened_total", "Total TCP connections opened.", Counter, nil},
	{"istio_tcp_connections_closed_total", "Total TCP connections closed.", Counter, nil},
	{"istio_build", "Istio component build info.", Gauge, nil},
	{"envoy_server_memory_allocated", "Current amount of allocated memory in bytes.", Gauge, nil},
	{"envoy_server_memory_heap_size", "Current reserved heap size in bytes.", Gauge, nil},
	{"container_memory_working_set_bytes", "Current working set of the container in bytes.", Gauge, nil},
	{"container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.", Counter, nil},
	{"kube_pod_container_resource_limits", "The number of requested limit resource by a container.", Gauge, nil},
	{"kube_pod_container_resource_requests", "The number of requested request resource by a container.", Gauge, nil},
	{"kube_pod_container_status_restarts_total", "The number of container restarts per container.", Counter, nil},
	{"kube_pod_container_status_last_terminated_reason", "Describes the last reason the container was in terminated state.", Gauge, nil},
	{"kube_pod_container_status_waiting_reason", "Describes the reason the container is currently in waiting state.", Gauge, nil},
	{"kube_pod_container_status_ready", "Describes whether the containers readiness check succeeded.", Gauge, nil},
	{"kube_pod_status_phase", "The pods current phase.", Gauge, nil},
	{"pilot_xds", "Number of endpoints connected to this pilot using XDS.", Gauge, nil},
	{"pilot_xds_pushes", "Pilot build and send errors for lds, rds, cds and eds.", Counter, nil},
	{"pilot_total_xds_rejects", "Total number of XDS responses from pilot rejected by proxy.", Counter, nil},
	{"pilot_xds_cds_reject", "Pilot rejected CDS configs.", Gauge, nil},
	{"pilot_xds_eds_reject", "Pilot rejected EDS.", Gauge, nil},
	{"pilot_xds_lds_reject", "Pilot rejected LDS.", Gauge, nil},
	{"pilot_xds_rds_reject", "Pilot rejected RDS.", Gauge, nil},
	{"pilot_proxy_convergence_time", "Delay in seconds between config change and a proxy receiving all required configuration.", Histogram, convergenceBuckets},
	{"flagger_info", "Flagger version and mesh provider information", Gauge, nil},
	{"flagger_canary_total", "The total number of canary custom resources per namespace", Gauge, nil},
	{"flagger_canary_status", "Last canary analysis result per canary", Gauge, nil},
	{"flagger_canary_weight", "The virtual service destination weight current value", Gauge, nil},
	{"flagger_canary_metric_analysis", "Last canary analysis result per metric", Gauge, nil},
	{"flagger_canary_duration_seconds", "Seconds spent performing canary analysis.", Histogram, defBuckets},
	{"flagger_canary_successes_total", "Total number of canary successes", Counter, nil},
	{"flagger_canary_failures_total", "Total number of canary failures", Counter, nil},
	// Envoy's cluster stats of each sidecar's outbound clusters, which
	// Istio exports only with a proxyStatsMatcher (deploy/ includes these);
	// counters keep Envoy's names, without a _total suffix.
	{"envoy_cluster_upstream_rq_total", "Total upstream requests (retries included).", Counter, nil},
	{"envoy_cluster_upstream_rq_retry", "Total upstream request retries.", Counter, nil},
	{"envoy_cluster_upstream_rq_retry_success", "Total upstream request retry successes.", Counter, nil},
	{"envoy_cluster_upstream_rq_retry_overflow", "Total upstream request retries refused by the circuit breaker or retry budget.", Counter, nil},
	{"envoy_cluster_upstream_rq_timeout", "Total upstream requests that timed out waiting for a response.", Counter, nil},
	{"envoy_cluster_upstream_rq_pending_overflow", "Total requests that overflowed the connection pool or requests circuit breaker and were failed.", Counter, nil},
	{"envoy_cluster_outlier_detection_ejections_active", "Number of currently ejected hosts.", Gauge, nil},
	{"envoy_cluster_outlier_detection_ejections_enforced_total", "Number of enforced ejections due to any outlier type.", Counter, nil},
	{"envoy_cluster_circuit_breakers_default_rq_open", "Whether the requests circuit breaker is at its threshold (0 closed, 1 open).", Gauge, nil},
	{"envoy_cluster_circuit_breakers_default_cx_open", "Whether the connections circuit breaker is at its threshold (0 closed, 1 open).", Gauge, nil},
	{"node_memory_MemTotal_bytes", "Memory information field MemTotal_bytes.", Gauge, nil},
	{"node_memory_MemAvailable_bytes", "Memory information field MemAvailable_bytes.", Gauge, nil},
	{"node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", Counter, nil},
}

// MetricNames lists every metric family the simulator emits.
func MetricNames() []string {
	var out []string
	for _, f := range familySpecs {
		out = append(out, f.name)
	}
	return out
}

func (e *Engine) declareFamilies() {
	for _, f := range familySpecs {
		e.reg.family(f.name, f.help, f.typ, f.bounds...)
	}
}

func (e *Engine) fam(name string) *family {
	f := e.reg.byName[name]
	if f == nil {
		panic("simulator: undeclared metric family " + name)
	}
	return f
}

var flagNames = []string{"-", "UT", "URX", "UH", "DC", "UF", "UO"}

const (
	flagNone uint8 = iota
	flagUT
	flagURX
	flagUH
	flagDC
	flagUF
	flagUO
)

var policyNames = []string{"unknown", "mutual_tls", "none"}

const (
	policyUnknown uint8 = iota
	policyMTLS
	policyNone
)

// reqKey identifies one istio_requests_total series (and its histograms).
type reqKey struct {
	dest           bool
	srcPod, dstPod int16 // -1: unknown peer
	svc            int8
	code           int16
	flags, policy  uint8
}

type istioSeries struct {
	req, dur, reqB, respB *metric
	code                  int
}

type tcpKey struct {
	dest           bool
	srcPod, dstPod int16
}

type tcpSeries struct{ sent, recv, opened, closed *metric }

// istioLabels renders the standard-metric labels the way Istio's stats
// filter reports them, then the kubernetes-pods scrape's target labels.
func (e *Engine) istioLabels(dest bool, src, dst *pod, svc string, protocol string, code int, flags, policy uint8) ([]Label, *pod) {
	unknown := "unknown"
	reporter, scrape := "source", src
	if dest {
		reporter, scrape = "destination", dst
	}
	ls := make([]Label, 0, 24)
	ls = append(ls, Label{"reporter", reporter})
	if src != nil && policy != policyNone {
		ls = append(ls, Label{"source_workload", src.w.Name}, Label{"source_workload_namespace", src.w.Namespace},
			Label{"source_principal", src.w.Principal()}, Label{"source_app", src.w.App}, Label{"source_version", src.version})
	} else {
		ls = append(ls, Label{"source_workload", unknown}, Label{"source_workload_namespace", unknown},
			Label{"source_principal", unknown}, Label{"source_app", unknown}, Label{"source_version", unknown})
	}
	svcNS := ShopNamespace
	if w := e.mesh.Service(svc); w != nil {
		svcNS = w.Namespace
	}
	if dst != nil {
		svcNS = dst.w.Namespace
		principal := dst.w.Principal()
		if policy == policyNone {
			principal = unknown
		}
		ls = append(ls, Label{"destination_workload", dst.w.Name}, Label{"destination_workload_namespace", dst.w.Namespace},
			Label{"destination_principal", principal}, Label{"destination_app", dst.w.App}, Label{"destination_version", dst.version})
	} else {
		ls = append(ls, Label{"destination_workload", unknown}, Label{"destination_workload_namespace", unknown},
			Label{"destination_principal", unknown}, Label{"destination_app", unknown}, Label{"destination_version", unknown})
	}
	ls = append(ls, Label{"destination_service", hostOf(svc, svcNS)}, Label{"destination_service_name", svc},
		Label{"destination_service_namespace", svcNS}, Label{"request_protocol", protocol})
	if protocol != "tcp" {
		ls = append(ls, Label{"response_code", strconv.Itoa(code)})
	}
	ls = append(ls, Label{"response_flags", flagNames[flags]}, Label{"connection_security_policy", policyNames[policy]})
	ls = append(ls, Label{"job", "kubernetes-pods"}, Label{"instance", scrape.ip + ":15020"},
		Label{"namespace", scrape.w.Namespace}, Label{"pod", scrape.name})
	return ls, scrape
}

func podIndex(p *pod) int16 {
	if p == nil {
		return -1
	}
	return keyInt16(p.idx, "pod index")
}

// keyInt16 and keyInt8 narrow a series-key component the simulation keeps
// small (a pod index, an HTTP status, a service index). A value that does not
// fit is a bug: wrapped, it would merge two series, so it panics instead.
func keyInt16(n int, what string) int16 {
	if n < math.MinInt16 || n > math.MaxInt16 {
		panic(fmt.Sprintf("simulator: %s %d does not fit a series key", what, n))
	}
	return int16(n)
}

func keyInt8(n int, what string) int8 {
	if n < math.MinInt8 || n > math.MaxInt8 {
		panic(fmt.Sprintf("simulator: %s %d does not fit a series key", what, n))
	}
	return int8(n)
}

// recordHTTP counts one request at one reporter.
func (e *Engine) recordHTTP(dest bool, src, dst *pod, svc string, code int, flags, policy uint8, durMs, reqB, respB float64) {
	k := reqKey{dest: dest, srcPod: podIndex(src), dstPod: podIndex(dst), svc: keyInt8(e.svcIdx[svc], "service index"), code: keyInt16(code, "status code"), flags: flags, policy: policy}
	if policy == policyNone {
		k.srcPod = -1
	}
	s := e.reqSer[k]
	if s == nil {
		ls, scrape := e.istioLabels(dest, src, dst, svc, "http", code, flags, policy)
		s = &istioSeries{
			req:   e.fam("istio_requests_total").metric(scrape, ls...),
			dur:   e.fam("istio_request_duration_milliseconds").metric(scrape, ls...),
			reqB:  e.fam("istio_request_bytes").metric(scrape, ls...),
			respB: e.fam("istio_response_bytes").metric(scrape, ls...),
			code:  code,
		}
		if dest && dst != nil {
			e.destByPod[dst.idx] = append(e.destByPod[dst.idx], s)
		}
		e.reqSer[k] = s
		e.byPod[scrape.idx] = append(e.byPod[scrape.idx], s.req, s.dur, s.reqB, s.respB)
	}
	s.req.add(1)
	s.dur.observe(durMs)
	s.reqB.observe(reqB)
	s.respB.observe(respB)
}

func (e *Engine) tcpSeriesFor(dest bool, src, dst *pod) *tcpSeries {
	k := tcpKey{dest: dest, srcPod: podIndex(src), dstPod: podIndex(dst)}
	s := e.tcpSer[k]
	if s == nil {
		policy := policyUnknown
		if dest {
			policy = policyMTLS
		}
		ls, scrape := e.istioLabels(dest, src, dst, dst.w.Service, "tcp", 0, flagNone, policy)
		s = &tcpSeries{
			sent:   e.fam("istio_tcp_sent_bytes_total").metric(scrape, ls...),
			recv:   e.fam("istio_tcp_received_bytes_total").metric(scrape, ls...),
			opened: e.fam("istio_tcp_connections_opened_total").metric(scrape, ls...),
			closed: e.fam("istio_tcp_connections_closed_total").metric(scrape, ls...),
		}
		e.tcpSer[k] = s
		e.byPod[scrape.idx] = append(e.byPod[scrape.idx], s.sent, s.recv, s.opened, s.closed)
	}
	return s
}

// recordTCP counts one database exchange and connection churn at both reporters.
func (e *Engine) recordTCP(src, dst *pod, sent, recv float64, opened, closed float64) {
	for _, dest := range []bool{false, true} {
		s := e.tcpSeriesFor(dest, src, dst)
		s.sent.add(sent)
		s.recv.add(recv)
		s.opened.add(opened)
		s.closed.add(closed)
	}
}
