package findings

import (
	"fmt"
	"math"
	"strings"

	"github.com/meshwatch/meshwatch/pkg/evidence"
)

// The mesh's resilience as the callers' proxies count it (Envoy's cluster
// stats, pkg/evidence's edge-overflow, edge-retries and edge-ejections):
// which dependency a circuit breaker tripped on, which dependency a retry
// storm hammers, and whose pods outlier detection ejected.

// Tunables of the resilience detectors.
const (
	// MinOverflowShare: a breaker is open when its caller's proxy refused
	// at least this share of the calls to the dependency (503 UO).
	MinOverflowShare = 0.01
	// MinRetryRise: retries are a symptom when their share of the first
	// attempts rose by this much over the baseline...
	MinRetryRise = 0.2
	// ...and a storm from StormShare: half a retry per call, the load the
	// dependency sees up by half at least.
	StormShare = 0.5
	// MinAmplification: the dependency serving this many times the calls
	// made to it (its own count against its callers') confirms the retries
	// reach it as load.
	MinAmplification = 1.3
)

// refused is w's count of calls to c its own proxy refused (edge-overflow:
// the breaker open) or the ejection of c's pods (edge-ejections: outlier
// detection), when it rose in the window; nil when neither did.
func (v *view) refused(w, c wl) *evidence.Metric {
	for _, k := range []evidence.Kind{evidence.KindEdgeOverflow, evidence.KindEdgeEjections} {
		for _, m := range v.metrics(k, edge(w, c)) {
			if m.Points > 0 && m.Max > 0 && peakExcess(m) > 0 {
				return m
			}
		}
	}
	return nil
}

// flagged are w's client-side 5xx shares with a response flag (whatever
// the peer: a UO or UH call reached no workload, so Istio reports its
// destination as unknown).
func (v *view) flagged(w wl, flag string) []*evidence.Metric {
	var out []*evidence.Metric
	for _, m := range v.metrics(evidence.KindEdgeErrorRatio, of(w)) {
		if len(m.Detail) > 0 && hasFlag(m, flag) && m.Max > 0 {
			out = append(out, m)
		}
	}
	sortByLevel(v, out)
	return out
}

// count is how many events a per-second series makes over the window.
func (v *view) count(m *evidence.Metric) float64 {
	return m.Window * v.window.Duration().Seconds()
}

// slowText says how much slower dep got (its own P99, or a caller's
// view of it), with the metric that shows it; "" when it did not.
func (v *view) slowText(dep wl, callers ...wl) (string, *evidence.Metric) {
	if s := v.latencySymptom(dep); s.latM != nil && (s.lat || s.latRatio >= MinLatencyRatio) {
		return fmt.Sprintf("%s P99 %s (baseline %s)", dep.Workload, ms(v.level(s.latM)), ms(*s.latM.Baseline)), s.latM
	}
	for _, c := range callers {
		if l := v.edgeLatency(c, dep); l != nil && l.Baseline != nil && *l.Baseline > 0 && v.level(l) >= MinLatencyRatio**l.Baseline {
			return fmt.Sprintf("%s→%s P99 %s (baseline %s)", c.Workload, dep.Workload, ms(v.level(l)), ms(*l.Baseline)), l
		}
	}
	return "", nil
}

// DetectCircuitOpen: a caller's proxy refused calls to a dependency because
// its connection pool to it was full (Envoy's pending overflows, each a
// fast 503 UO that never reached the dependency): MinOverflowShare of its
// calls or more, and at least MinErrors of them. The finding names the
// dependency the breaker tripped on, and the callers whose breakers
// opened with the refused share and count; a dependency that slowed under
// the load scores more. The callers' UO shares join the evidence.
func DetectCircuitOpen(p *evidence.Pack) []Finding {
	v := newView(p)
	byDep := map[wl]*Finding{}
	var order []wl
	for _, m := range v.metrics(evidence.KindEdgeOverflow, nil) {
		if m.Points == 0 || m.Max <= 0 {
			continue
		}
		caller, dep := self(m), peer(m)
		n := v.count(m)
		if n < MinErrors || peakExcess(m) <= 0 {
			continue
		}
		refused := math.Max(v.level(m), m.Window)
		admitted := 0.0
		rate := v.edgeRate(caller, dep)
		if rate != nil {
			admitted = v.level(rate)
		}
		share := 1.0
		if refused+admitted > 0 {
			share = refused / (refused + admitted)
		}
		score := 0.4
		if share >= MinOverflowShare {
			score = 0.8 + 0.1*math.Min(1, share/0.2)
		}
		expl := fmt.Sprintf("%s's circuit breaker to %s opened%s: its proxy refused %s of its calls at once (about %.0f, %.2f/s, 503 UO)",
			caller.Workload, name(dep, caller), at(v.changedAt(m)), pct(share), n, refused)
		evid := []string{m.ID}
		if uo := v.flagged(caller, "UO"); len(uo) > 0 {
			// Their share is of the calls to "unknown" (every refused call
			// is one), so it says nothing of the breaker's share: cited only.
			expl += fmt.Sprintf("; %s's request metrics report them as 503 UO to an unknown destination", caller.Workload)
			evid = append(evid, ids(uo...)...)
		}
		evid = append(evid, ids(rate)...)
		if txt, l := v.slowText(dep, caller); l != nil {
			score += 0.05
			expl += "; " + txt + ": it slowed under the load"
			evid = append(evid, l.ID)
		}
		f := byDep[dep]
		if f == nil {
			f = &Finding{Namespace: dep.Namespace, Workload: dep.Workload}
			byDep[dep] = f
			order = append(order, dep)
		}
		if score > f.Score {
			f.Score, f.Explanation = score, expl
			f.Evidence = append(evid, f.Evidence...)
		} else {
			f.Evidence = append(f.Evidence, evid...)
			f.Explanation += fmt.Sprintf("; %s's breaker too (%s refused)", caller.Workload, pct(share))
		}
	}
	sortWorkloads(order)
	out := make([]Finding, 0, len(order))
	for _, d := range order {
		out = append(out, *byDep[d])
	}
	return out
}

// DetectRetryStorm: a caller's proxy retries its calls to a dependency
// (Envoy's upstream retries) at MinRetryRise of its first attempts (the
// edge's calls) or more over the baseline. Half a retry per call or more
// (StormShare) is a storm, and scores more when the dependency serves
// MinAmplification times the calls made to it (the retries reach it as
// load) and fails more of them. Retries of calls that time out (504 UT on
// the edge: per-try timeouts) are a timeout cascade's and score low. The
// finding names the dependency; the retry, request and URX counts are its
// evidence.
func DetectRetryStorm(p *evidence.Pack) []Finding {
	v := newView(p)
	byDep := map[wl]*Finding{}
	var order []wl
	for _, m := range v.metrics(evidence.KindEdgeRetries, nil) {
		if m.Points == 0 || m.Max <= 0 {
			continue
		}
		caller, dep := self(m), peer(m)
		first := v.edgeRate(caller, dep)
		if first == nil || v.level(first) <= 0 || v.count(m) < MinErrors {
			continue
		}
		share := v.level(m) / v.level(first)
		baseShare := 0.0
		if first.Baseline != nil && *first.Baseline > 0 {
			baseShare = base(m) / *first.Baseline
		}
		if share-baseShare < MinRetryRise {
			continue
		}
		evid := []string{m.ID, first.ID}
		expl := fmt.Sprintf("%s retries its calls to %s%s: %.2f retries per first attempt (%.2f/s over %.2f/s, about %.0f retries; baseline %.2f)",
			caller.Workload, name(dep, caller), at(v.changedAt(m)), share, v.level(m), v.level(first), v.count(m), baseShare)
		amp := v.amplification(dep)
		if amp > 0 {
			expl += fmt.Sprintf("; %s serves %.1f× the calls made to it", dep.Workload, amp)
			evid = append(evid, ids(v.requestRate(dep))...)
		}
		if s := v.errorSymptom(dep); s.errM != nil && s.err {
			expl += fmt.Sprintf(" and answers %s 5xx (baseline %s)", pct(v.level(s.errM)), pct(base(s.errM)))
			evid = append(evid, s.errM.ID)
		}
		if _, d := v.edgeErrors(caller, dep); len(d) > 0 {
			var urx []*evidence.Metric
			for _, x := range d {
				if hasFlag(x, "URX") {
					urx = append(urx, x)
				}
			}
			if len(urx) > 0 {
				expl += "; " + caller.Workload + "'s calls end " + v.flagsText(urx, 1) + " (retries exhausted)"
				evid = append(evid, ids(urx...)...)
			}
		}
		timeouts, tm := v.timeoutShare(caller, dep)
		var score float64
		switch {
		case timeouts >= MinTimeoutShare:
			score = 0.55
			expl += fmt.Sprintf("; %s of the calls time out: the retries are per-try timeouts (see timeout-cascade)", pct(timeouts))
			evid = append(evid, ids(tm...)...)
		case share >= StormShare:
			score = 0.85 + 0.05*math.Min(1, (share-StormShare)/StormShare)
			if amp >= MinAmplification {
				score += 0.05
			}
			expl += ": the retries multiply the load on it"
		default:
			score = 0.4 + 0.3*(share-MinRetryRise)/(StormShare-MinRetryRise)
		}
		f := byDep[dep]
		if f == nil {
			f = &Finding{Namespace: dep.Namespace, Workload: dep.Workload}
			byDep[dep] = f
			order = append(order, dep)
		}
		if score > f.Score {
			f.Score, f.Explanation = score, expl
			f.Evidence = append(evid, f.Evidence...)
		} else {
			f.Evidence = append(f.Evidence, evid...)
		}
	}
	sortWorkloads(order)
	out := make([]Finding, 0, len(order))
	for _, d := range order {
		out = append(out, *byDep[d])
	}
	return out
}

// amplification is how many times the calls made to w it serves: its own
// (server side) request rate over its callers' edges to it; 0 when the
// pack lacks either.
func (v *view) amplification(w wl) float64 {
	rr := v.requestRate(w)
	if rr == nil || rr.Points == 0 {
		return 0
	}
	var calls float64
	for _, c := range v.callers(w) {
		if e := v.edgeRate(c, w); e != nil {
			calls += v.level(e)
		}
	}
	if calls <= 0 {
		return 0
	}
	return v.level(rr) / calls
}

// ejectionText says which callers' outlier detection ejected w's pods in
// the window, with the evidence; "" when none did.
func (v *view) ejectionText(w wl) (string, []string) {
	var names, evid []string
	for _, c := range v.callers(w) {
		for _, m := range v.metrics(evidence.KindEdgeEjections, edge(c, w)) {
			if m.Points > 0 && m.Max > 0 {
				names = append(names, c.Workload)
				evid = append(evid, m.ID)
			}
		}
	}
	if len(names) == 0 {
		return "", nil
	}
	return fmt.Sprintf("outlier detection of %s ejected it (503 UH while ejected)", strings.Join(names, ", ")), evid
}
