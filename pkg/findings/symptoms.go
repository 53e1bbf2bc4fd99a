package findings

import (
	"math"
	"sort"
	"strings"
	"time"

	"github.com/meshwatch/meshwatch/pkg/evidence"
)

// Symptoms and their explanations: the request graph's reasoning shared by
// the error, latency, upstream and timeout detectors.
//
// A workload shows an error symptom when the share of 5xx it answers (its
// own sidecar's view) rose clearly over its baseline, and a latency symptom
// when its P99 did. A symptom is explained by a callee when the caller's
// own calls to that callee (the caller's sidecar's view of the edge) show
// the same fault at least as much: the errors, the timeouts (504 UT),
// exhausted retries (503 URX), no healthy upstream (503 UH), or the
// latency. The blame then moves along the edge, and on from there while the
// callee's own symptom is explained in turn; where it stops is the root.

// Tunables of the symptoms.
const (
	// MinErrorLevel and MinErrorExcess: a 5xx share is a symptom from 1 %
	// of the requests, at least half a point over the baseline and twice it.
	MinErrorLevel  = 0.01
	MinErrorExcess = 0.005
	// MinErrorPeak: a shorter burst counts when the window's peak reached
	// 5 % (a canary rolled back after a few minutes of errors).
	MinErrorPeak = 0.05
	// MinLatencyRatio and MinLatencyRise: a P99 is a symptom when it rose
	// by half again over the baseline and by at least 50 ms.
	MinLatencyRatio = 1.5
	MinLatencyRise  = 50.0
	// ExplainShare: a callee explains a caller's symptom when the caller's
	// calls to it fail (or slow down) by at least this share of the
	// caller's own rise — less than one, as a caller calls a dependency for
	// only some of its requests, so the edge's share is usually larger.
	ExplainShare = 0.5
	// MinRequests over the window: a ratio of fewer requests is noise.
	MinRequests = 20
)

// symptom is what a workload's own (server side) metrics show.
type symptom struct {
	w wl
	// errors: the 5xx share, its rise (level or half the peak's) and
	// whether it is a symptom.
	errM    *evidence.Metric
	errRise float64
	err     bool
	// latency: P99, its rise in ms and ratio to the baseline.
	latM     *evidence.Metric
	latRise  float64
	latRatio float64
	lat      bool
}

// blame is a callee that explains a caller's symptom.
type blame struct {
	callee wl
	m      *evidence.Metric // the edge metric that shows it
	rise   float64          // its rise (ratio or ms)
	at     *time.Time       // its change point
}

// errorSymptom reads w's 5xx share.
func (v *view) errorSymptom(w wl) symptom {
	s := symptom{w: w}
	ms := v.metrics(evidence.KindErrorRatio, of(w))
	m := total(ms)
	if m == nil {
		m = sumDetails(detailed(ms), isServerError)
	}
	if m == nil || m.Points == 0 {
		return s
	}
	s.errM = m
	lvl, ex, pk := v.level(m), v.excess(m), peakExcess(m)
	s.errRise = math.Max(ex, pk/2)
	if !v.enoughRequests(w) {
		return s
	}
	steady := lvl >= MinErrorLevel && ex >= MinErrorExcess && (base(m) == 0 || lvl >= 2*base(m))
	burst := m.Max >= MinErrorPeak && pk >= MinErrorPeak/2 && (base(m) == 0 || m.Max >= 3*base(m))
	s.err = (steady || burst) && v.enoughErrors(w, m)
	return s
}

// MinErrors: a 5xx symptom needs about this many failed requests in the
// window, when the pack says how many requests there were (one error among
// a quiet workload's dozen requests is a 10 % peak, and no regression).
const MinErrors = 5

func (v *view) enoughErrors(w wl, m *evidence.Metric) bool {
	r := v.requestRate(w)
	if r == nil || r.Points == 0 {
		return true
	}
	return m.Window*r.Window*v.window.Duration().Seconds() >= MinErrors
}

// latencySymptom reads w's P99.
func (v *view) latencySymptom(w wl) symptom {
	s := symptom{w: w}
	ms := v.metrics(evidence.KindLatencyP99, of(w))
	if len(ms) == 0 {
		return s
	}
	m := ms[0]
	if m.Points == 0 || m.Baseline == nil || *m.Baseline <= 0 {
		return s
	}
	s.latM = m
	lvl := v.level(m)
	s.latRise = lvl - *m.Baseline
	s.latRatio = lvl / *m.Baseline
	s.lat = s.latRatio >= MinLatencyRatio && s.latRise >= MinLatencyRise && v.enoughRequests(w)
	return s
}

// enoughRequests: w served MinRequests or more in the window, when the
// pack says how many (a missing rate gives the benefit of the doubt).
func (v *view) enoughRequests(w wl) bool {
	ms := v.metrics(evidence.KindRequestRate, of(w))
	if len(ms) == 0 {
		return true
	}
	return ms[0].Window*v.window.Duration().Seconds() >= MinRequests || ms[0].Max*v.window.Duration().Seconds() >= MinRequests
}

func isServerError(m *evidence.Metric) bool { return strings.HasPrefix(m.Detail["code"], "5") }

// sumDetails adds up detail series (shares of one denominator) into one
// synthetic series, nil when there are none. Its id is the largest's.
func sumDetails(ms []*evidence.Metric, keep func(*evidence.Metric) bool) *evidence.Metric {
	var out *evidence.Metric
	var biggest float64 = -1
	for _, m := range ms {
		if keep != nil && !keep(m) {
			continue
		}
		if out == nil {
			c := *m
			c.Detail = nil
			c.Baseline = nil
			c.ChangeAt, c.After = nil, nil
			c.Window, c.Max, c.Last = 0, 0, 0
			out = &c
		}
		if m.Baseline != nil {
			b := base(out) + *m.Baseline
			out.Baseline = &b
		}
		out.Window += m.Window
		out.Last += m.Last
		out.Max += m.Max // an upper bound of the sum's max
		out.Points = max(out.Points, m.Points)
		if m.After != nil && m.ChangeAt != nil && (out.ChangeAt == nil || m.ChangeAt.Before(*out.ChangeAt)) {
			out.ChangeAt = m.ChangeAt
		}
		if m.After != nil {
			a := m.Window
			if out.After != nil {
				a = *out.After
			}
			a += *m.After - m.Window
			out.After = &a
		}
		if m.Window > biggest {
			biggest = m.Window
			out.ID = m.ID
		}
	}
	if out != nil && out.After != nil {
		a := math.Max(*out.After, out.Window)
		out.After = &a
	}
	return out
}

// edgeErrors is the 5xx share of w's calls to c: the total and the detail
// series (code, flags) that make it up.
func (v *view) edgeErrors(w, c wl) (*evidence.Metric, []*evidence.Metric) {
	ms := v.metrics(evidence.KindEdgeErrorRatio, edge(w, c))
	d := detailed(ms)
	t := total(ms)
	if t == nil {
		t = sumDetails(d, nil)
	}
	sort.SliceStable(d, func(i, j int) bool { return d[i].Window > d[j].Window })
	return t, d
}

// edgeLatency is the P99 of w's calls to c.
func (v *view) edgeLatency(w, c wl) *evidence.Metric {
	ms := v.metrics(evidence.KindEdgeLatencyP99, edge(w, c))
	if len(ms) == 0 {
		return nil
	}
	return ms[0]
}

// edgeRate is the request rate of w's calls to c.
func (v *view) edgeRate(w, c wl) *evidence.Metric {
	ms := v.metrics(evidence.KindEdgeRate, edge(w, c))
	if len(ms) == 0 {
		return nil
	}
	return ms[0]
}

// requestRate is w's server-side request rate.
func (v *view) requestRate(w wl) *evidence.Metric {
	ms := v.metrics(evidence.KindRequestRate, of(w))
	if len(ms) == 0 {
		return nil
	}
	return ms[0]
}

// calleesOf are w's callees: from its edge metrics, and from the scope's
// roles when w is the subject or one of its callers.
func (v *view) calleesOf(w wl) []wl {
	seen := map[wl]bool{}
	for _, c := range v.callees(w) {
		seen[c] = true
	}
	for _, n := range v.p.Scope {
		switch {
		case w == v.p.Subject && (n.Role == evidence.RoleCallee || n.Role == evidence.RoleBoth):
			seen[n.Workload] = true
		case n.Workload == w && (n.Role == evidence.RoleCaller || n.Role == evidence.RoleBoth):
			seen[v.p.Subject] = true
		}
	}
	delete(seen, w)
	return keys(seen)
}

// errorBlame is the callee that explains w's error symptom best, if any.
func (v *view) errorBlame(s symptom) (blame, bool) {
	if !s.err {
		return blame{}, false
	}
	var best blame
	found := false
	own := s.errRise
	// With rates on both sides, compare failures per second: every failed
	// call to a dependency fails at most one of w's requests.
	ownRate := 0.0
	if r := v.requestRate(s.w); r != nil {
		ownRate = own * v.level(r)
	}
	for _, c := range v.calleesOf(s.w) {
		t, _ := v.edgeErrors(s.w, c)
		if t == nil {
			continue
		}
		rise := math.Max(v.excess(t), peakExcess(t)/2)
		explains := rise >= ExplainShare*own
		if r := v.edgeRate(s.w, c); r != nil && ownRate > 0 {
			explains = rise*v.level(r) >= ExplainShare*ownRate
		}
		if explains && rise >= MinErrorExcess && (!found || rise > best.rise) {
			best, found = blame{callee: c, m: t, rise: rise, at: v.changedAt(t)}, true
		}
	}
	if found {
		return best, true
	}
	// A callee whose containers restarted in the window was down for a
	// while: its callers' calls found no healthy upstream (503 UH), which
	// Istio reports with an unknown destination workload, so no edge of the
	// pack shows them. The restarts explain the caller's 503s.
	if !v.answers503(s.w) {
		return blame{}, false
	}
	// So do the calls w's own proxy refused (503 UO: its circuit breaker
	// to the callee open) or found the callee's pods ejected for (503 UH:
	// its outlier detection): Envoy's cluster stats name the callee.
	for _, c := range v.calleesOf(s.w) {
		if m := v.refused(s.w, c); m != nil {
			return blame{callee: c, m: m, rise: own, at: v.changedAt(m)}, true
		}
	}
	for _, c := range v.calleesOf(s.w) {
		if m := v.down(c); m != nil {
			return blame{callee: c, m: m, rise: own, at: v.changedAt(m)}, true
		}
	}
	return blame{}, false
}

// down is the restart metric of a container of w that restarted in the
// window (the OOM-kill one when there is one), nil when none did.
func (v *view) down(w wl) *evidence.Metric {
	var out *evidence.Metric
	for _, k := range []evidence.Kind{evidence.KindOOMKills, evidence.KindRestarts} {
		for _, m := range v.metrics(k, of(w)) {
			if v.restartCount(m) > 0 && out == nil {
				out = m
			}
		}
	}
	return out
}

// answers503 reports whether w's 5xx include 503s (or their codes are not
// in the pack).
func (v *view) answers503(w wl) bool {
	d := detailed(v.metrics(evidence.KindErrorRatio, of(w)))
	if len(d) == 0 {
		return true
	}
	for _, m := range d {
		if m.Detail["code"] == "503" && m.Max > 0 {
			return true
		}
	}
	return false
}

// latencyBlame is the callee that explains w's latency symptom best, if any.
func (v *view) latencyBlame(s symptom) (blame, bool) {
	if !s.lat {
		return blame{}, false
	}
	var best blame
	found := false
	for _, c := range v.calleesOf(s.w) {
		var rise float64
		var m *evidence.Metric
		if e := v.edgeLatency(s.w, c); e != nil && e.Points > 0 {
			m = e
			if e.Baseline != nil {
				rise = v.level(e) - *e.Baseline
			} else if v.level(e) >= 0.8*v.level(s.latM) {
				rise = v.level(e) // a new dependency as slow as w itself
			}
		} else if cs := v.latencySymptom(c); cs.latM != nil {
			// No edge metric: the callee's own P99 stands in for it.
			m, rise = cs.latM, cs.latRise
		}
		// Timeouts on the edge explain latency too: w waited out its route
		// timeout on them.
		if t, _ := v.timeoutShare(s.w, c); t >= MinTimeoutShare {
			if m == nil {
				_, d := v.edgeErrors(s.w, c)
				if len(d) > 0 {
					m = d[0]
				}
			}
			rise = math.Max(rise, s.latRise)
		}
		if m != nil && rise >= ExplainShare*s.latRise && (!found || rise > best.rise) {
			best, found = blame{callee: c, m: m, rise: rise, at: v.changedAt(m)}, true
		}
	}
	return best, found
}

// chain follows the blame from w: each step to the callee that explains
// the symptom, until one is not explained. It returns the steps (the root
// last); empty when w's own symptom is not explained.
func (v *view) chain(w wl, next func(wl) (blame, bool)) []blame {
	var steps []blame
	seen := map[wl]bool{w: true}
	for cur := w; ; {
		b, ok := next(cur)
		if !ok || seen[b.callee] {
			return steps
		}
		steps = append(steps, b)
		seen[b.callee] = true
		cur = b.callee
	}
}

// errorNext is the next step of an error blame chain: from a workload whose
// errors are a symptom, or whose calls fail without server-side metrics of
// its own (an edge only seen from its caller).
func (v *view) errorNext(w wl) (blame, bool) {
	s := v.errorSymptom(w)
	if !s.err && s.errM == nil {
		// No server-side view of w: its callers' edges were the symptom;
		// w's own calls may still show where the failures come from.
		s = v.edgeOnlyErrorSymptom(w)
	}
	return v.errorBlame(s)
}

// edgeOnlyErrorSymptom stands in for w's server-side 5xx share with the
// largest rise its callers see on their calls to it.
func (v *view) edgeOnlyErrorSymptom(w wl) symptom {
	s := symptom{w: w}
	for _, c := range v.callers(w) {
		t, _ := v.edgeErrors(c, w)
		if t == nil {
			continue
		}
		if r := math.Max(v.excess(t), peakExcess(t)/2); r > s.errRise {
			s.errM, s.errRise = t, r
		}
	}
	s.err = s.errRise >= MinErrorExcess
	return s
}

func (v *view) latencyNext(w wl) (blame, bool) { return v.latencyBlame(v.latencySymptom(w)) }

// ---- timeouts ----

// MinTimeoutShare is the share of a caller's calls to a dependency that
// must end in its route timeout (504 UT) or exhausted retries (URX) for the
// edge to count as timing out.
const MinTimeoutShare = 0.05

// timeoutFlags are Envoy's response flags of a call given up on: UT the
// route's timeout expired, URX the retries (per-try timeouts) ran out.
var timeoutFlags = []string{"UT", "URX"}

func hasFlag(m *evidence.Metric, flags ...string) bool {
	for _, f := range strings.Split(m.Detail["flags"], ",") {
		for _, want := range flags {
			if strings.TrimSpace(f) == want {
				return true
			}
		}
	}
	return false
}

// timeoutShare is the share of w's calls to c that timed out, with the
// detail metrics that show it (UT first).
func (v *view) timeoutShare(w, c wl) (float64, []*evidence.Metric) {
	_, d := v.edgeErrors(w, c)
	var share, ut float64
	var ms []*evidence.Metric
	for _, m := range d {
		if !hasFlag(m, timeoutFlags...) {
			continue
		}
		lvl := math.Max(v.level(m), m.Max/2)
		if hasFlag(m, "UT") {
			ut += lvl
		}
		share += lvl
		ms = append(ms, m)
	}
	if ut == 0 {
		return 0, nil // retries exhausted on 5xx alone are errors, not timeouts
	}
	sort.SliceStable(ms, func(i, j int) bool { return hasFlag(ms[i], "UT") && !hasFlag(ms[j], "UT") })
	return share, ms
}

// flagsText describes the detail series of an edge: "504 UT 80 %, 503 URX 10 %".
func (v *view) flagsText(d []*evidence.Metric, n int) string {
	var parts []string
	for _, m := range d {
		if len(parts) == n {
			break
		}
		lvl := math.Max(v.level(m), m.Window)
		if lvl < 0.001 {
			continue
		}
		s := m.Detail["code"]
		if f := m.Detail["flags"]; f != "" && f != "-" {
			s += " " + f
		}
		parts = append(parts, s+" "+pct(lvl))
	}
	return join(parts)
}

// at writes a change point's time of day, " from 13:03", or "".
func at(t *time.Time) string {
	if t == nil {
		return ""
	}
	return " from " + t.UTC().Format("15:04")
}

func name(w wl, rel wl) string {
	if w.Namespace == rel.Namespace {
		return w.Workload
	}
	return w.Namespace + "/" + w.Workload
}

func chainText(start wl, steps []blame) string {
	parts := []string{name(start, start)}
	for _, s := range steps {
		parts = append(parts, name(s.callee, start))
	}
	return strings.Join(parts, " → ")
}

// chainsInto are the workloads whose error symptoms' blame chains end at w.
func (v *view) chainsInto(w wl) []wl {
	var out []wl
	for _, x := range v.workloads() {
		if x == w || !v.errorSymptom(x).err {
			continue
		}
		if steps := v.chain(x, v.errorNext); len(steps) > 0 && steps[len(steps)-1].callee == w {
			out = append(out, x)
		}
	}
	return out
}
