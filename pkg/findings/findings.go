// Package findings turns an incident's evidence pack (pkg/evidence) into
// ranked findings: which workload is at fault, why (a cause from a fixed
// vocabulary), how sure the detectors are, in one line, and the evidence ids
// behind it. This is what an incident shows at once, before any LLM speaks,
// and what the LLM is given to explain.
//
// Detectors are pure functions over the pack, one per cause. They read only
// what the standard Istio, cAdvisor, kube-state-metrics, Flagger and istiod
// metrics mean, as the pack presents them (pkg/evidence's kinds): never a
// mesh's namespace or service names, nor MeshWatch's alert names. Detect runs
// them all, lets the more specific cause of a workload supersede the symptoms
// it explains, ranks the findings and keeps those at or above Threshold.
package findings

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/meshwatch/meshwatch/pkg/evidence"
)

// Cause is a finding's cause class. The names are a stable vocabulary: the
// incident page, the LLM's write-up and the evaluation use them. Add one
// only with a scenario that needs it.
type Cause string

// The causes.
const (
	// SidecarMemoryLeak: a workload's istio-proxy (Envoy) memory grows
	// steadily towards its limit (and is OOM-killed there).
	SidecarMemoryLeak Cause = "sidecar-memory-leak"
	// AppMemoryOOM: a workload's app container runs out of memory: the
	// kernel OOM-kills it at its limit (or it heads there fast).
	AppMemoryOOM Cause = "app-memory-oom"
	// Crashloop: a container keeps exiting and restarting for another
	// reason than memory.
	Crashloop Cause = "crashloop"
	// ErrorRegression: the workload answers more 5xx of its own making,
	// not explained by its dependencies; for a canary, measured against its
	// primary (or another version of the app).
	ErrorRegression Cause = "error-regression"
	// LatencyRegression: the workload got slower by itself, not because
	// its dependencies did.
	LatencyRegression Cause = "latency-regression"
	// UpstreamDependency: the workload that alerts suffers because a
	// dependency is at fault; the finding names the dependency (the blame
	// moves to it) when nothing more specific is known about it.
	UpstreamDependency Cause = "upstream-dependency"
	// TimeoutCascade: a slow dependency makes its callers' route timeouts
	// expire (504 UT, retries exhausted 503 URX), and those callers' callers
	// time out in turn; the finding names the slow dependency.
	TimeoutCascade Cause = "timeout-cascade"
	// CircuitOpen: a caller's circuit breaker to a dependency opened: its
	// proxy's connection pool to the dependency was full, so it refused
	// calls at once (503 UO, counted as Envoy's pending overflows) that
	// never reached the dependency. The finding names the dependency the
	// breaker tripped on (and the caller, with the refused counts).
	CircuitOpen Cause = "circuit-open"
	// RetryStorm: callers retry a failing or slow dependency so much that
	// the retries are a large share of their first attempts and the
	// dependency serves a multiple of the calls made to it; the extra load
	// makes it fail more. The finding names the dependency that caused it,
	// with the retry and request counts.
	RetryStorm Cause = "retry-storm"
	// PlaintextUnderStrict: a workload's sidecar accepts requests without
	// mutual TLS in a mesh meant to be STRICT.
	PlaintextUnderStrict Cause = "plaintext-under-strict"
	// ControlPlaneRejects: proxies reject (NACK) the configuration istiod
	// pushes them and run on a stale one.
	ControlPlaneRejects Cause = "control-plane-rejects"
	// None: nothing found above Threshold (the top "finding" of a quiet pack).
	None Cause = "none"
)

// Causes lists the vocabulary in its fixed order (the order ties rank in).
var Causes = []Cause{
	SidecarMemoryLeak, AppMemoryOOM, Crashloop, ErrorRegression, LatencyRegression,
	UpstreamDependency, TimeoutCascade, CircuitOpen, RetryStorm, PlaintextUnderStrict, ControlPlaneRejects, None,
}

// Valid reports whether c is in the vocabulary.
func (c Cause) Valid() bool {
	for _, x := range Causes {
		if x == c {
			return true
		}
	}
	return false
}

func (c Cause) order() int {
	for i, x := range Causes {
		if x == c {
			return i
		}
	}
	return len(Causes)
}

// Threshold is the score below which a finding is not shown: Detect leaves
// it out. A detector scores a finding 0.5 or more only when the pack shows
// the cause's own signature (a restart count that rose, a memory trend that
// reaches the limit, 5xx the workload answers beyond its baseline and its
// dependencies' share, …); weaker hints score less and stay in DetectAll's
// answer for whoever wants to see them. The healthy scenario's packs yield
// nothing at or above it (the eval and TestHealthyPackIsQuiet check).
const Threshold = 0.5

// Finding is one ranked conclusion about an incident.
type Finding struct {
	Namespace string `json:"namespace"`
	Workload  string `json:"workload"`
	Cause     Cause  `json:"cause"`
	// Score is how strongly the pack supports the finding, 0..1 (rounded
	// to two decimals).
	Score float64 `json:"score"`
	// Explanation is one line: what the evidence shows.
	Explanation string `json:"explanation"`
	// Evidence are the evidence ids (evidence.Pack items) behind it, most
	// telling first.
	Evidence []string `json:"evidence"`
}

// Subject is the workload the finding blames.
func (f Finding) Subject() evidence.Workload {
	return evidence.Workload{Namespace: f.Namespace, Workload: f.Workload}
}

func (f Finding) String() string {
	return fmt.Sprintf("%s/%s %s %.2f: %s %v", f.Namespace, f.Workload, f.Cause, f.Score, f.Explanation, f.Evidence)
}

// Detector is one cause's detector: a pure function of the pack.
type Detector struct {
	Cause Cause
	Func  func(p *evidence.Pack) []Finding
}

// Detectors are every detector, in the vocabulary's order.
func Detectors() []Detector {
	return []Detector{
		{SidecarMemoryLeak, DetectSidecarMemoryLeak},
		{AppMemoryOOM, DetectAppMemoryOOM},
		{Crashloop, DetectCrashloop},
		{ErrorRegression, DetectErrorRegression},
		{LatencyRegression, DetectLatencyRegression},
		{UpstreamDependency, DetectUpstreamDependency},
		{TimeoutCascade, DetectTimeoutCascade},
		{CircuitOpen, DetectCircuitOpen},
		{RetryStorm, DetectRetryStorm},
		{PlaintextUnderStrict, DetectPlaintextUnderStrict},
		{ControlPlaneRejects, DetectControlPlaneRejects},
	}
}

// Detect runs every detector over the pack and returns the findings at or
// above Threshold, ranked (Rank). A nil pack has none.
func Detect(p *evidence.Pack) []Finding {
	var out []Finding
	for _, f := range DetectAll(p) {
		if f.Score >= Threshold {
			out = append(out, f)
		}
	}
	return out
}

// DetectAll is Detect without the threshold: every finding any detector
// made, superseded ones demoted, ranked.
func DetectAll(p *evidence.Pack) []Finding {
	if p == nil {
		return nil
	}
	var all []Finding
	for _, d := range Detectors() {
		for _, f := range d.Func(p) {
			f.Cause = d.Cause
			all = append(all, f)
		}
	}
	all = supersede(all)
	for i := range all {
		all[i].Score = round2(clamp01(all[i].Score))
		all[i].Evidence = dedupe(all[i].Evidence)
	}
	Rank(all)
	return all
}

// Top is the first finding, or a None finding about the pack's subject when
// there is none.
func Top(p *evidence.Pack, fs []Finding) Finding {
	if len(fs) > 0 {
		return fs[0]
	}
	f := Finding{Cause: None, Explanation: fmt.Sprintf("no detector found a cause scoring %.2f or more", Threshold), Evidence: []string{}}
	if p != nil {
		f.Namespace, f.Workload = p.Subject.Namespace, p.Subject.Workload
	}
	return f
}

// Rank sorts findings: higher score first; ties by the vocabulary's order of
// causes, then namespace and workload, then explanation, so the order never
// depends on the order the detectors found them in.
func Rank(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool { return less(fs[i], fs[j]) })
}

// less is Rank's order: a ranks before b.
func less(a, b Finding) bool {
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	if a.Cause != b.Cause {
		return a.Cause.order() < b.Cause.order()
	}
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	if a.Workload != b.Workload {
		return a.Workload < b.Workload
	}
	return a.Explanation < b.Explanation
}

// supersedes: a finding of the key's cause about a workload explains the
// symptoms that the listed causes' findings about the same workload saw, so
// those are demoted (score × Demotion) and their evidence ids join it. A
// container that is OOM-killed also crash-loops and fails requests; a
// dependency that makes its callers time out is also slow (and retried:
// per-try timeouts are retries that a timeout cascade explains).
var supersedes = map[Cause][]Cause{
	SidecarMemoryLeak: {Crashloop, ErrorRegression, LatencyRegression, UpstreamDependency},
	AppMemoryOOM:      {Crashloop, ErrorRegression, LatencyRegression, UpstreamDependency},
	Crashloop:         {ErrorRegression, LatencyRegression, UpstreamDependency},
	TimeoutCascade:    {ErrorRegression, LatencyRegression, UpstreamDependency, RetryStorm},
	// A breaker that trips on a dependency slowed by a burst, and retries
	// that overload a dependency, explain its errors and latency, and its
	// callers' failures that blame it.
	CircuitOpen:       {ErrorRegression, LatencyRegression, UpstreamDependency},
	RetryStorm:        {ErrorRegression, LatencyRegression, UpstreamDependency},
	ErrorRegression:   {UpstreamDependency},
	LatencyRegression: {UpstreamDependency},
}

// Demotion is the factor a superseded finding's score is multiplied by.
const Demotion = 0.5

func supersede(fs []Finding) []Finding {
	type key struct{ ns, wl string }
	best := map[key]map[Cause]int{}
	for i, f := range fs {
		k := key{f.Namespace, f.Workload}
		if best[k] == nil {
			best[k] = map[Cause]int{}
		}
		if j, ok := best[k][f.Cause]; !ok || fs[j].Score < f.Score {
			best[k][f.Cause] = i
		}
	}
	demote := make([]bool, len(fs))
	for i, f := range fs {
		if f.Score < Threshold {
			continue // only a finding worth showing explains others away
		}
		for _, c := range supersedes[f.Cause] {
			if j, ok := best[key{f.Namespace, f.Workload}][c]; ok && fs[j].Score <= f.Score+0.1+1e-9 {
				demote[j] = true
				fs[i].Evidence = append(fs[i].Evidence, fs[j].Evidence...)
			}
		}
	}
	for i := range fs {
		if demote[i] {
			fs[i].Score *= Demotion
		}
	}
	return fs
}

func dedupe(ids []string) []string {
	out := make([]string, 0, len(ids))
	seen := map[string]bool{}
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func clamp01(x float64) float64 { return math.Max(0, math.Min(1, x)) }

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// pct writes a ratio as a percentage with sensible precision.
func pct(r float64) string {
	p := r * 100
	switch {
	case p >= 10:
		return fmt.Sprintf("%.0f %%", p)
	case p >= 1:
		return fmt.Sprintf("%.1f %%", p)
	default:
		return fmt.Sprintf("%.2f %%", p)
	}
}

// ms writes milliseconds.
func ms(v float64) string {
	if v >= 10000 {
		return fmt.Sprintf("%.0f s", v/1000)
	}
	if v >= 1000 {
		return fmt.Sprintf("%.1f s", v/1000)
	}
	return fmt.Sprintf("%.0f ms", v)
}

// mib writes bytes in MiB.
func mib(v float64) string { return fmt.Sprintf("%.0f MiB", v/(1<<20)) }

func join(parts []string) string { return strings.Join(parts, ", ") }
