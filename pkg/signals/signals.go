// Package signals is MeshWatch's catalog of mesh signals: for each fault
// class of a small Istio mesh (a workload's 5xx, its latency, plaintext
// traffic under STRICT mTLS, a circuit breaker open toward a dependency, a
// retry storm, a sidecar's memory leak, OOM kills, istiod's config rejects,
// a rolled-back canary, …) one entry with a stable id, a
// short description, the PromQL that reveals it (with its parameters:
// thresholds, windows, the volume guard) and, where MeshWatch alerts on it,
// the alerting rule.
//
// Everything that looks for these faults reads this catalog: the Prometheus
// alert rules (deploy/base/monitoring/rules/mesh-alerts.yaml is generated
// from it, see RulesFile), the detectors of incident findings, the
// assistant's vocabulary, and the development kit's tests. The catalog is
// about signals, not about a particular mesh: no namespace or service name
// appears in it, and no code keys on the alert names, which exist to write
// the rules file.
package signals

//go:generate go run ./gen

import (
	"fmt"
	"time"
)

// ID names a fault class: the stable vocabulary of the detectors, the
// incident findings and the assistant. Never rename one.
type ID string

// The fault classes.
const (
	// Requests, errors, duration (server side: sidecar or waypoint).
	WorkloadErrorRate      ID = "workload-error-rate"
	WorkloadLatency        ID = "workload-latency"
	WorkloadTrafficStopped ID = "workload-traffic-stopped"
	UpstreamTimeouts       ID = "upstream-timeouts"
	// Security.
	PlaintextUnderStrict ID = "plaintext-under-strict"
	// Resilience (the callers' sidecars: circuit breaking, retries, outlier
	// ejection), about the dependency the calls go to.
	CircuitOpen     ID = "circuit-open"
	RetryStorm      ID = "retry-storm"
	EndpointEjected ID = "endpoint-ejected"
	// Containers and sidecars.
	SidecarMemoryNearLimit ID = "sidecar-memory-near-limit"
	SidecarMemoryLeak      ID = "sidecar-memory-leak"
	ContainerRestarts      ID = "container-restarts"
	ContainerOOMKilled     ID = "container-oom-killed"
	ContainerCrashLooping  ID = "container-crash-looping"
	// Control plane.
	ProxyConfigRejected  ID = "proxy-config-rejected"
	IstiodXDSRejects     ID = "istiod-xds-rejects"
	IstiodInternalErrors ID = "istiod-internal-errors"
	// Progressive delivery (Flagger).
	CanaryRolledBack ID = "canary-rolled-back"
	CanaryStuck      ID = "canary-stuck"
)

// Signal is one entry of the catalog.
type Signal struct {
	ID ID
	// Title names the signal in a few words; Description says in a sentence
	// or two what it means and what it is measured on.
	Title, Description string
	// Labels are the labels of every series the expression returns: always
	// namespace and workload (the workload an incident is about), then what
	// narrows it down (pod, container, protocol, …).
	Labels []string
	// Unit of a returned series' value.
	Unit string
	// Params are the parameters the catalog (and its alert rule) uses.
	Params Params
	// Rule is the alerting rule MeshWatch ships for the signal; nil for a
	// signal that only detectors use.
	Rule *Rule

	expr func(Params) string
}

// Expr is the signal's PromQL with its parameters: an instant vector with
// one series (labelled Labels) for each subject that shows the fault now,
// empty when none does.
func (s Signal) Expr() string { return s.expr(s.Params) }

// ExprWith is the signal's PromQL with other parameters (say, windows cut
// to a short recording); a zero field keeps the catalog's value.
func (s Signal) ExprWith(p Params) string { return s.expr(s.Params.merge(p)) }

// Params are a signal's tunables. Each signal uses the ones its Params set
// (the others are zero).
type Params struct {
	// Threshold the measured value is compared with (in the signal's Unit).
	Threshold float64
	// Quantile of a latency signal.
	Quantile float64
	// Window of the rate(), increase(), max_over_time() or predict_linear().
	Window time.Duration
	// Baseline is the period before Window that a signal compares it with.
	Baseline time.Duration
	// Horizon of a projection.
	Horizon time.Duration
	// Guard is the least traffic a request-based signal needs to mean
	// something.
	Guard VolumeGuard
}

// VolumeGuard: a ratio or a percentile of a handful of requests is noise,
// so a request-based signal needs at least MinRequests requests to the
// workload over Window.
type VolumeGuard struct {
	MinRequests float64
	Window      time.Duration
}

func (p Params) merge(o Params) Params {
	if o.Threshold != 0 {
		p.Threshold = o.Threshold
	}
	if o.Quantile != 0 {
		p.Quantile = o.Quantile
	}
	if o.Window != 0 {
		p.Window = o.Window
	}
	if o.Baseline != 0 {
		p.Baseline = o.Baseline
	}
	if o.Horizon != 0 {
		p.Horizon = o.Horizon
	}
	if o.Guard.MinRequests != 0 {
		p.Guard.MinRequests = o.Guard.MinRequests
	}
	if o.Guard.Window != 0 {
		p.Guard.Window = o.Guard.Window
	}
	return p
}

// Rule is the alerting rule of a signal, as the rules file has it.
type Rule struct {
	Group    string // the rule group
	Alert    string
	For      time.Duration
	Severity string // critical or warning
	// Annotations, templated with the alert's labels and value.
	Summary, Description, Runbook string
	Dashboard                     Dashboard
}

// Dashboard is the MeshWatch dashboard an alert links to.
type Dashboard struct {
	UID string
	URL string // with the alert's labels in its variables
}

// All returns the catalog, in its order (the rules file's).
func All() []Signal {
	return append([]Signal(nil), catalog...)
}

// Lookup returns the signal with the id.
func Lookup(id ID) (Signal, bool) {
	for _, s := range catalog {
		if s.ID == id {
			return s, true
		}
	}
	return Signal{}, false
}

// Get returns the signal with the id, which must be one of the constants.
func Get(id ID) Signal {
	s, ok := Lookup(id)
	if !ok {
		panic(fmt.Sprintf("signals: no signal %q", id))
	}
	return s
}
