// Package evidence builds an incident's evidence pack: what MeshWatch knows
// about the workload an incident is about and its mesh neighbours over the
// incident's window, compacted to what matters — a summary per metric series
// (baseline against window, trend, change point, projected time to a limit),
// the top error-log patterns, a few slow and error traces — each item with a
// stable evidence id. The pack is what the detectors (pkg/findings) read and
// what the LLM is given, so it is small: a five-service incident's pack is at
// most MaxBytes of JSON (Compact).
//
// The stages are separate and, except Collect, pure:
//
//   - Summarize(points, window, limit): one series → a Summary.
//   - NormalizeLogLine / Patterns: log lines → counted patterns.
//   - Compact(pack, maxBytes, keep...): drops the least informative items
//     until the JSON fits, never those in keep (the ids findings cite), and
//     says what it dropped.
//   - Collect(ctx, sources, subject, now): reads Prometheus, Loki and Tempo
//     and assembles the pack, partial when a source fails.
//
// Nothing here depends on a mesh's namespace or service names or on
// MeshWatch's alert names: only the standard Istio, cAdvisor,
// kube-state-metrics, Flagger and istiod metric names, and Envoy's cluster
// stats where a proxyStatsMatcher exports them.
package evidence

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"time"
)

// MaxBytes is the size budget of a five-service incident's pack, in bytes of
// compact JSON (issue 19: it becomes the LLM prompt).
const MaxBytes = 6 << 10

// Pack is one incident's evidence. Its JSON uses short field names because it
// goes into an LLM prompt; every field is documented here. Times are RFC 3339
// in UTC to the second; durations are Go duration strings ("5m", "3h12m").
type Pack struct {
	// Incident is the incident's id (incident.Incident.ID); 0 when the pack
	// was built for alerts that are not stored (meshwatch investigate).
	Incident int64 `json:"incident,omitempty"`
	// Window is the evidence window.
	Window Window `json:"window"`
	// Subject is the workload the incident is about.
	Subject Workload `json:"subject"`
	// Scope is the subject's mesh neighbours, from the request graph.
	Scope []Neighbour `json:"scope,omitempty"`
	// Metrics, Logs and Traces are the evidence items, most informative
	// first (see Rank).
	Metrics []Metric     `json:"metrics,omitempty"`
	Logs    []LogPattern `json:"logs,omitempty"`
	Traces  []Trace      `json:"traces,omitempty"`
	// Canary is the subject's Flagger canary when it has one (canary.go).
	Canary *Canary `json:"canary,omitempty"`
	// Partial lists the sources that failed (down, slow, refusing): the pack
	// holds what the others gave. Empty when the pack is complete.
	Partial []SourceProblem `json:"partial,omitempty"`
	// Dropped counts what Compact left out to fit the size budget; nil when
	// nothing was dropped.
	Dropped *Dropped `json:"dropped,omitempty"`
	// CapturedAt is when the pack was assembled (the now of Collect).
	CapturedAt time.Time `json:"at"`
}

// Window is the evidence window: [From, To]. From is the earliest alert's
// startsAt minus the larger of the rule's `for` and 5 minutes; To is now, or
// the incident's end once it resolved.
type Window struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// RuleFor is the alerting rule's `for` as Prometheus has it; 0 when the
	// rule is not in that Prometheus (a Grafana-managed or foreign rule), so
	// the 5-minute minimum applied.
	RuleFor Duration `json:"for,omitempty"`
}

// Duration of the window.
func (w Window) Duration() time.Duration { return w.To.Sub(w.From) }

// Workload names a workload: a Deployment, StatefulSet or DaemonSet (or a
// bare pod), as Istio's source_workload/destination_workload labels and
// signals.WorkloadOf name it.
type Workload struct {
	Namespace string `json:"ns"`
	Workload  string `json:"wl"`
}

func (w Workload) String() string { return w.Namespace + "/" + w.Workload }

// Role of a neighbour towards the subject.
type Role string

const (
	// RoleCaller sends requests to the subject.
	RoleCaller Role = "caller"
	// RoleCallee receives requests from the subject.
	RoleCallee Role = "callee"
	// RoleBoth does both.
	RoleBoth Role = "both"
	// RoleVersion is another version of the subject: Flagger's primary
	// (<name>-primary) of a canary <name>, or the canary of a primary.
	RoleVersion Role = "version"
)

// Neighbour is a workload in the subject's scope.
type Neighbour struct {
	Workload
	Role Role `json:"role"`
	// Via is the callee a second-hop callee is reached through (a
	// dependency of a dependency: where a cascade starts); empty for
	// direct neighbours.
	Via string `json:"via,omitempty"`
}

// Kind is what a Metric measures: a small fixed vocabulary. Each kind says
// which of Metric's fields it uses.
type Kind string

// The metric kinds. "Server side" is Istio's reporter="destination" (or
// "waypoint" in ambient mode): the workload's own sidecar. "Client side" is
// reporter="source" (or "waypoint"): the caller's sidecar, which also sees
// the timeouts and retries the caller's routes add (504 UT, 503 URX).
const (
	// KindRequestRate: requests per second the workload serves (server
	// side, istio_requests_total). Unit req/s.
	KindRequestRate Kind = "request-rate"
	// KindErrorRatio: share of the workload's requests that end in a 5xx
	// (server side). With Detail {code, flags} it is the share of one
	// response_code and response_flags pair (flags "-" is none); without,
	// all 5xx. Unit ratio (0–1).
	KindErrorRatio Kind = "error-ratio"
	// KindLatencyP99: the workload's P99 (server side,
	// istio_request_duration_milliseconds_bucket). Unit ms.
	KindLatencyP99 Kind = "latency-p99"
	// KindEdgeRate: requests per second from Workload (the caller) to Peer
	// (the callee), client side. Peer "unknown" is calls Istio could not
	// attribute to a destination workload: those that found no healthy
	// upstream (503 UH, a callee whose pods are all down) among them. Unit
	// req/s.
	KindEdgeRate Kind = "edge-rate"
	// KindEdgeErrorRatio: share of the edge's requests that end in a 5xx,
	// client side; Detail {code, flags} as KindErrorRatio (a 504 with flag
	// UT is the caller's route timeout expiring). Unit ratio.
	KindEdgeErrorRatio Kind = "edge-error-ratio"
	// KindEdgeLatencyP99: the edge's P99 as the caller sees it. Unit ms.
	KindEdgeLatencyP99 Kind = "edge-latency-p99"
	// KindSidecarMemory: working set of the istio-proxy container
	// (cAdvisor container_memory_working_set_bytes), max over the
	// workload's pods; Limit from kube-state-metrics. Unit bytes.
	KindSidecarMemory Kind = "sidecar-memory"
	// KindAppMemory: working set of an app container (Container names it),
	// max over the workload's pods; Limit as above. Unit bytes.
	KindAppMemory Kind = "app-memory"
	// KindCPU: CPU of a container (Container names it; istio-proxy for the
	// sidecar), cores, max over the pods; Limit is the CPU limit. Unit cores.
	KindCPU Kind = "cpu"
	// KindRestarts: container restarts, summed over the workload's pods:
	// at each point the restarts of the 5 minutes before it
	// (increase(kube_pod_container_status_restarts_total[5m])), so one
	// restart reads 1 for about five minutes. A series that is zero
	// throughout is left out. Unit count.
	KindRestarts Kind = "restarts"
	// KindOOMKills: the restarts (as KindRestarts, per 5 minutes) of the
	// containers whose last termination reason is OOMKilled
	// (kube_pod_container_status_last_terminated_reason), summed over the
	// workload's pods; left out when zero throughout. Unit count.
	KindOOMKills Kind = "oom-kills"
	// KindMTLSShare: share of the requests the workload serves over mutual
	// TLS (connection_security_policy, server side). With Peer, only the
	// requests from that source workload ("unknown": outside the mesh).
	// Unit ratio.
	KindMTLSShare Kind = "mtls-share"
	// KindCanaryWeight: the traffic weight Flagger gives Workload
	// (flagger_canary_weight: <name> is the canary, <name>-primary the
	// primary). Unit percent.
	KindCanaryWeight Kind = "canary-weight"
	// KindCanaryStatus: Flagger's canary status for the target Workload
	// (flagger_canary_status: 0 progressing, 1 succeeded or idle, 2 failed
	// = rolled back). Unit status.
	KindCanaryStatus Kind = "canary-status"
	// KindIstiodPushes: xDS pushes per second of the control plane
	// (pilot_xds_pushes), all types; Workload is istiod's. Unit pushes/s.
	KindIstiodPushes Kind = "istiod-pushes"
	// KindIstiodRejects: config pushes proxies rejected
	// (pilot_total_xds_rejects), at each point the increase over the 5
	// minutes before it; Detail {type} when known; left out when zero
	// throughout. Unit count.
	KindIstiodRejects Kind = "istiod-rejects"
	// The resilience kinds read Envoy's cluster stats of the callers'
	// outbound clusters (a proxyStatsMatcher must export them; without it
	// they are simply absent). Workload is the caller whose proxy counts,
	// Peer the workload serving the cluster's service (the busiest one in
	// the request graph; the service's name when none served it), Detail
	// {service: "<namespace>/<name>"} the cluster's service. Each is left
	// out when zero throughout.
	//
	// KindEdgeRetries: retries per second the caller's proxy sent to the
	// service (envoy_cluster_upstream_rq_retry): against the edge's rate
	// (first attempts, one per call) it is the retries' share. Unit req/s.
	KindEdgeRetries Kind = "edge-retries"
	// KindEdgeOverflow: calls per second the caller's proxy refused because
	// its connection pool to the service was full: the circuit breaker
	// open (envoy_cluster_upstream_rq_pending_overflow), each a fast 503
	// UO that never reached the service. Unit req/s.
	KindEdgeOverflow Kind = "edge-overflow"
	// KindEdgeEjections: the service's endpoints the caller's outlier
	// detection holds ejected (envoy_cluster_outlier_detection_ejections_active),
	// max over the caller's pods; with all of them ejected its calls find
	// no healthy upstream (503 UH). Unit count.
	KindEdgeEjections Kind = "edge-ejections"
)

// Kinds lists every kind with its short id prefix, in a fixed order.
var Kinds = []struct {
	Kind   Kind
	Prefix string
}{
	{KindRequestRate, "rps"},
	{KindErrorRatio, "err"},
	{KindLatencyP99, "p99"},
	{KindEdgeRate, "erps"},
	{KindEdgeErrorRatio, "eerr"},
	{KindEdgeLatencyP99, "ep99"},
	{KindSidecarMemory, "smem"},
	{KindAppMemory, "amem"},
	{KindCPU, "cpu"},
	{KindRestarts, "rst"},
	{KindOOMKills, "oom"},
	{KindMTLSShare, "mtls"},
	{KindCanaryWeight, "cw"},
	{KindCanaryStatus, "cs"},
	{KindIstiodPushes, "push"},
	{KindIstiodRejects, "rej"},
	{KindEdgeRetries, "rtry"},
	{KindEdgeOverflow, "ovf"},
	{KindEdgeEjections, "ejct"},
}

// Prefix is the kind's id prefix ("m" for an unknown kind).
func (k Kind) Prefix() string {
	for _, e := range Kinds {
		if e.Kind == k {
			return e.Prefix
		}
	}
	return "m"
}

// Units.
const (
	UnitRPS     = "req/s"
	UnitRatio   = "ratio"
	UnitMs      = "ms"
	UnitBytes   = "bytes"
	UnitCores   = "cores"
	UnitCount   = "count"
	UnitPercent = "percent"
	UnitStatus  = "status"
	UnitPerSec  = "1/s"
)

// Metric is one metric series of the scope, compacted to its Summary.
type Metric struct {
	// ID is the stable evidence id (MetricID): the same series has the same
	// id in every refresh of the pack.
	ID   string `json:"id"`
	Kind Kind   `json:"kind"`
	// Namespace and Workload the series is about (for edge kinds, the
	// caller).
	Namespace string `json:"ns,omitempty"`
	Workload  string `json:"wl,omitempty"`
	// Peer is an edge's other end (the callee for edge kinds, the source for
	// a per-source mtls-share), "namespace/workload" or "workload" when in
	// the same namespace as Workload.
	Peer string `json:"peer,omitempty"`
	// Container is the container of per-container kinds (memory, cpu,
	// restarts, oom-kills).
	Container string `json:"ctr,omitempty"`
	// Detail narrows the series down: code and flags for error ratios,
	// type for istiod rejects, service for the resilience kinds.
	Detail map[string]string `json:"detail,omitempty"`
	Unit   string            `json:"unit,omitempty"`
	Summary
}

// Summary is a series compacted to what matters (Summarize). Numbers are
// rounded to 3 significant digits. Window and Last are always written;
// Min, Max and Trend are left out when 0; Baseline is absent when the
// series had no data before the window, Limit and TimeToLimit when none is
// known, ChangeAt and After when there is no clear change.
type Summary struct {
	// Baseline is the mean before the window (nil when the series has no
	// points there); Window the mean inside it.
	Baseline *float64 `json:"base,omitempty"`
	Window   float64  `json:"win"`
	// Last, Min and Max are over the window.
	Last float64 `json:"last"`
	Min  float64 `json:"min,omitempty"`
	Max  float64 `json:"max,omitempty"`
	// Trend is the least-squares slope over the window, per minute.
	Trend float64 `json:"trend,omitempty"`
	// ChangeAt is the change point: where splitting the series (baseline
	// and window) into a before and an after best explains it by a shift
	// of the mean, when the shift is clear of the noise; After is the mean
	// after it. Nil when there is no clear change.
	ChangeAt *time.Time `json:"change,omitempty"`
	After    *float64   `json:"after,omitempty"`
	// Limit is the limit the series runs against (a container's memory or
	// CPU limit), when known; TimeToLimit the projection of the window's
	// trend from Last to Limit, only when the series trends towards it.
	Limit       *float64  `json:"limit,omitempty"`
	TimeToLimit *Duration `json:"ttl,omitempty"`
	// Points is how many samples the window had (raw points are never in a
	// pack).
	Points int `json:"n"`
}

// LogPattern is a family of error log lines of one workload: the lines
// normalized (NormalizeLogLine) to the same pattern.
type LogPattern struct {
	// ID is the stable evidence id (LogID).
	ID        string `json:"id"`
	Namespace string `json:"ns"`
	Workload  string `json:"wl"`
	// Container the lines came from, when the source says.
	Container string `json:"ctr,omitempty"`
	// Pattern is the normalized line; Count how many lines in the window
	// had it; First and Last when the first and last were logged.
	Pattern string    `json:"pattern"`
	Count   int       `json:"n"`
	First   time.Time `json:"first"`
	Last    time.Time `json:"last"`
	// Example is one of the lines as logged, truncated to MaxExample bytes.
	Example string `json:"ex,omitempty"`
}

// Trace is one slow or error trace of the scope, as Tempo's search lists it.
type Trace struct {
	// ID is the stable evidence id (TraceEvidenceID); TraceID Tempo's.
	ID      string `json:"id"`
	TraceID string `json:"trace"`
	// Service is the root span's service; Workload the scope workload the
	// search was for.
	Service  string `json:"svc,omitempty"`
	Workload string `json:"wl,omitempty"`
	// Root is the root span's name (rootTraceName).
	Root       string `json:"root,omitempty"`
	DurationMs int    `json:"ms"`
	// Error: the trace was found by an error-status search.
	Error bool      `json:"err,omitempty"`
	Start time.Time `json:"start"`
}

// Sources of evidence, as SourceProblem names them.
const (
	SourcePrometheus = "prometheus"
	SourceRules      = "prometheus-rules"
	SourceLoki       = "loki"
	SourceTempo      = "tempo"
)

// SourceProblem is a source that failed while the pack was collected.
type SourceProblem struct {
	Source string `json:"source"`
	Error  string `json:"error"`
}

// Dropped counts the items Compact left out.
type Dropped struct {
	Metrics int `json:"metrics,omitempty"`
	Logs    int `json:"logs,omitempty"`
	Traces  int `json:"traces,omitempty"`
	Scope   int `json:"scope,omitempty"`
}

// IsPartial reports whether a source failed: the caller should retry the
// capture.
func (p *Pack) IsPartial() bool { return len(p.Partial) > 0 }

// Lookup returns the kind of item ("metric", "log", "trace") with the
// evidence id and its index in that list; ok is false for an unknown id.
func (p *Pack) Lookup(id string) (kind string, index int, ok bool) {
	for i := range p.Metrics {
		if p.Metrics[i].ID == id {
			return "metric", i, true
		}
	}
	for i := range p.Logs {
		if p.Logs[i].ID == id {
			return "log", i, true
		}
	}
	for i := range p.Traces {
		if p.Traces[i].ID == id {
			return "trace", i, true
		}
	}
	return "", 0, false
}

// IDs lists every evidence id in the pack.
func (p *Pack) IDs() []string {
	var out []string
	for _, m := range p.Metrics {
		out = append(out, m.ID)
	}
	for _, l := range p.Logs {
		out = append(out, l.ID)
	}
	for _, t := range p.Traces {
		out = append(out, t.ID)
	}
	if p.Canary != nil {
		out = append(out, p.Canary.ID)
	}
	return out
}

// Find returns the metrics of a kind about a workload (any workload when
// workload is empty), in pack order.
func (p *Pack) Find(kind Kind, namespace, workload string) []Metric {
	var out []Metric
	for _, m := range p.Metrics {
		if m.Kind == kind && (workload == "" || (m.Workload == workload && (namespace == "" || m.Namespace == namespace))) {
			out = append(out, m)
		}
	}
	return out
}

// JSON is the pack's compact JSON (what the size budget counts).
func (p *Pack) JSON() []byte {
	b, err := json.Marshal(p)
	if err != nil {
		// Every field marshals; a failure is a bug.
		panic(fmt.Sprintf("evidence: marshal pack: %v", err))
	}
	return b
}

// EstimateTokens estimates the LLM tokens of n bytes of pack JSON: one token
// per 4 bytes, rounded up. JSON of short keys, numbers and identifiers
// tokenizes at roughly 3–4 bytes per token with the BPE tokenizers of
// small models (Phi-3's Llama tokenizer among them), so this slightly
// underestimates; budget num_ctx with headroom.
func EstimateTokens(n int) int { return (n + 3) / 4 }

// ---- evidence ids ----

// MetricID is the stable evidence id of a metric series: its kind's prefix
// and 6 hex digits of a 32-bit FNV-1a hash of the kind, namespace,
// workload, peer, container and detail (sorted) — never of the order items
// were found in. Example: "err-3fa2c1".
func MetricID(kind Kind, namespace, workload, peer, container string, detail map[string]string) string {
	parts := []string{string(kind), namespace, workload, peer, container}
	keys := make([]string, 0, len(detail))
	for k := range detail {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, k+"="+detail[k])
	}
	return kind.Prefix() + "-" + hash6(parts...)
}

// LogID is the stable evidence id of a log pattern: "log-" and the hash of
// namespace, workload, container and pattern.
func LogID(namespace, workload, container, pattern string) string {
	return "log-" + hash6(namespace, workload, container, pattern)
}

// TraceEvidenceID is the stable evidence id of a trace: "tr-" and the hash
// of Tempo's trace id (leading zeros ignored, case folded).
func TraceEvidenceID(traceID string) string {
	return "tr-" + hash6(strings.TrimLeft(strings.ToLower(traceID), "0"))
}

func hash6(parts ...string) string {
	h := fnv.New32a()
	for _, p := range parts {
		_, _ = h.Write([]byte(p))
		_, _ = h.Write([]byte{0})
	}
	return fmt.Sprintf("%06x", h.Sum32()&0xffffff)
}

// ---- durations ----

// Duration is a time.Duration that JSON writes as a short Go duration
// string, whole seconds ("5m", "3h12m", "45s"), and reads from any Go
// duration string or a number of seconds.
type Duration time.Duration

// D returns d as a *Duration.
func D(d time.Duration) *Duration { x := Duration(d); return &x }

// String is the short form: units that are zero are left out.
func (d Duration) String() string {
	t := time.Duration(d).Round(time.Second)
	if t == 0 {
		return "0s"
	}
	s := t.String() // e.g. 3h12m0s
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// MarshalJSON writes the short form.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a Go duration string or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var sec float64
		if err2 := json.Unmarshal(b, &sec); err2 != nil {
			return fmt.Errorf("duration: %s is neither a duration string nor seconds", b)
		}
		*d = Duration(sec * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
