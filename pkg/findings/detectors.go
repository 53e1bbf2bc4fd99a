package findings

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/meshwatch/meshwatch/pkg/evidence"
	"github.com/meshwatch/meshwatch/pkg/signals"
)

// The sidecar container Istio injects.
const proxyContainer = "istio-proxy"

// ---- memory ----

// Tunables of the memory detectors.
const (
	// LeakHorizon: a sidecar's memory trend is a leak when it projects the
	// working set to its limit within this time...
	LeakHorizon = 48 * time.Hour
	// LeakMinGrowth: ...and it grew by this share of the limit over the
	// baseline already (daily load swings move a few percent).
	LeakMinGrowth = 0.1
	// LeakSoon, LeakSoonMinGrowth: a working set projected to its limit
	// within LeakSoon needs only this much growth: the nearer the OOM
	// kill, the less history a steady climb needs to be believed (an
	// alert's 30-minute window on a leak 1½ hours from its limit holds
	// about 9 % of growth over the baseline).
	LeakSoon          = 6 * time.Hour
	LeakSoonMinGrowth = 0.05
	// OOMSoon: an app container projected to its limit this soon, already
	// near it, is about to be OOM-killed.
	OOMSoon = time.Hour
)

// DetectSidecarMemoryLeak: an istio-proxy's working set trends up towards
// its limit — projected to reach it within LeakHorizon, having grown by
// LeakMinGrowth of the limit over its baseline (within LeakSoon, by
// LeakSoonMinGrowth) — or the sidecar was
// OOM-killed in the window. Scored higher the sooner the limit, the larger
// the growth and the nearer the limit now; an OOM kill of the sidecar is
// the leak's end and scores most.
func DetectSidecarMemoryLeak(p *evidence.Pack) []Finding {
	v := newView(p)
	var out []Finding
	for _, w := range v.workloads() {
		var mem *evidence.Metric
		for _, m := range v.metrics(evidence.KindSidecarMemory, of(w)) {
			if m.Container == "" || m.Container == proxyContainer {
				mem = m
				break
			}
		}
		oom, oomFresh := v.oomKilled(w, proxyContainer)
		rst := v.restarts(w, proxyContainer)
		var score float64
		var why []string
		evid := ids(mem)
		if mem != nil && mem.Points > 0 && mem.Trend > 0 {
			lim := 0.0
			if mem.Limit != nil {
				lim = *mem.Limit
			}
			from := mem.Min
			if mem.Baseline != nil {
				from = math.Min(*mem.Baseline, mem.Min)
			}
			growth, use := 0.0, 0.0
			if lim > 0 {
				growth, use = (mem.Last-from)/lim, mem.Last/lim
			}
			ttl := time.Duration(-1)
			if mem.TimeToLimit != nil {
				ttl = time.Duration(*mem.TimeToLimit)
			}
			minGrowth := LeakMinGrowth
			if ttl <= LeakSoon {
				minGrowth = LeakSoonMinGrowth
			}
			if ttl >= 0 && ttl <= LeakHorizon && growth >= minGrowth {
				score = 0.6 + 0.1*math.Min(1, growth/0.3) + 0.1*math.Min(1, use/0.8)
				if ttl <= 24*time.Hour {
					score += 0.1
				}
				why = append(why, fmt.Sprintf("istio-proxy working set grew from %s to %s of its %s limit (%+.1f MiB/min), reaching it in %s",
					mib(from), mib(mem.Last), mib(lim), mem.Trend/(1<<20), evidence.Duration(ttl)))
			}
		}
		if oomFresh {
			score = math.Max(score+0.1, 0.85)
			why = append(why, "the sidecar was OOM-killed in the window")
			evid = append(evid, ids(oom, rst)...)
		}
		if score == 0 {
			continue
		}
		out = append(out, Finding{Namespace: w.Namespace, Workload: w.Workload, Score: score,
			Explanation: w.Workload + ": " + strings.Join(why, "; "), Evidence: evid})
	}
	return out
}

// DetectAppMemoryOOM: an app container (not the sidecar) was OOM-killed in
// the window — its last termination reason is OOMKilled and it restarted,
// or the OOM count rose — or its working set is within OOMSoon of its limit
// and above 90 % of it. Several OOM kills, or one with restarts, score
// highest; memory heading there alone scores less.
func DetectAppMemoryOOM(p *evidence.Pack) []Finding {
	v := newView(p)
	var out []Finding
	for _, w := range v.workloads() {
		containers := map[string]bool{}
		for _, k := range []evidence.Kind{evidence.KindOOMKills, evidence.KindAppMemory, evidence.KindRestarts} {
			for _, m := range v.metrics(k, of(w)) {
				if m.Container != proxyContainer {
					containers[m.Container] = true
				}
			}
		}
		for _, c := range sortedKeys(containers) {
			oom, fresh := v.oomKilled(w, c)
			rst := v.restarts(w, c)
			mem := v.appMemory(w, c)
			var score float64
			var why []string
			evid := []string{}
			label := w.Workload
			if c != "" {
				label += "/" + c
			}
			if fresh {
				n := v.restartCount(rst)
				score = 0.85
				if n >= 2 {
					score = 0.92
				}
				why = append(why, fmt.Sprintf("container %s OOM-killed (last termination OOMKilled, %s)", label, restartsText(n)))
				evid = append(evid, ids(oom, rst, mem)...)
			}
			if mem != nil && mem.Limit != nil && *mem.Limit > 0 && mem.Points > 0 {
				use := mem.Max / *mem.Limit
				soon := mem.TimeToLimit != nil && time.Duration(*mem.TimeToLimit) <= OOMSoon
				if fresh && use >= 0.8 {
					why = append(why, fmt.Sprintf("working set peaked at %s of its %s limit", mib(mem.Max), mib(*mem.Limit)))
					score += 0.03
				} else if !fresh && soon && mem.Last / *mem.Limit >= 0.9 {
					score = math.Max(score, 0.6)
					why = append(why, fmt.Sprintf("working set %s of its %s limit, reaching it in %s", mib(mem.Last), mib(*mem.Limit), *mem.TimeToLimit))
					evid = append(evid, mem.ID)
				}
			}
			if score == 0 {
				continue
			}
			out = append(out, Finding{Namespace: w.Namespace, Workload: w.Workload, Score: score,
				Explanation: strings.Join(why, "; "), Evidence: evid})
		}
	}
	return out
}

// oomKilled returns w's OOM-kill metric for container c and whether it
// shows a kill in the window: the count rose over its baseline, or it is
// set and the container restarted in the window (the reason of a restart
// long ago stays set and is not news).
func (v *view) oomKilled(w wl, c string) (*evidence.Metric, bool) {
	for _, m := range v.metrics(evidence.KindOOMKills, of(w)) {
		if m.Container != c && !(c == "" && m.Container != proxyContainer) {
			continue
		}
		if m.Points == 0 || m.Max <= 0 {
			return m, false
		}
		if m.Max > base(m) || m.Baseline == nil || v.changedAt(m) != nil {
			return m, true
		}
		return m, v.restartCount(v.restarts(w, m.Container)) > 0
	}
	return nil, false
}

// restarts returns w's restart metric for container c.
func (v *view) restarts(w wl, c string) *evidence.Metric {
	for _, m := range v.metrics(evidence.KindRestarts, of(w)) {
		if m.Container == c {
			return m
		}
	}
	return nil
}

func (v *view) appMemory(w wl, c string) *evidence.Metric {
	for _, m := range v.metrics(evidence.KindAppMemory, of(w)) {
		if m.Container == c {
			return m
		}
	}
	return nil
}

// RestartsSpan is the span of the increase the pack's restart (and OOM
// kill) series hold at each point: Collect reads
// increase(kube_pod_container_status_restarts_total[5m]).
const RestartsSpan = 5 * time.Minute

// restartCount is how many restarts the window saw: the series' mean
// increase per RestartsSpan times the spans the window holds (the integral
// of the rate), at least the largest single increase.
func (v *view) restartCount(m *evidence.Metric) int {
	if m == nil || m.Points == 0 {
		return 0
	}
	spans := v.window.Duration().Seconds() / RestartsSpan.Seconds()
	return int(math.Round(math.Max(m.Window*spans, m.Max)))
}

func restartsText(n int) string {
	switch n {
	case 0:
		return "no restart counted"
	case 1:
		return "1 restart"
	}
	return fmt.Sprintf("%d restarts", n)
}

// ---- restarts ----

// CrashloopRestarts is the number of restarts in the window from which a
// container is crash-looping (one restart is an event, not a loop).
const CrashloopRestarts = 2

// DetectCrashloop: a container restarted CrashloopRestarts times or more
// in the window for another reason than an OOM kill (that one is
// app-memory-oom or a sidecar leak). More restarts score higher; the
// workload's error log patterns join the evidence.
func DetectCrashloop(p *evidence.Pack) []Finding {
	v := newView(p)
	var out []Finding
	for i := range p.Metrics {
		m := &p.Metrics[i]
		if m.Kind != evidence.KindRestarts {
			continue
		}
		n := v.restartCount(m)
		if n == 0 {
			continue
		}
		w := self(m)
		score := 0.3
		if n >= CrashloopRestarts {
			score = 0.6 + 0.08*math.Min(4, float64(n-CrashloopRestarts+1))
		}
		_, oom := v.oomKilled(w, m.Container)
		if oom {
			score *= 0.6
		}
		evid := []string{m.ID}
		evid = append(evid, v.logIDs(w, 2)...)
		c := m.Container
		if c == "" {
			c = "a container"
		}
		expl := fmt.Sprintf("%s: container %s restarted %d times in the window", w.Workload, c, n)
		if oom {
			expl += " (last termination OOMKilled)"
		}
		if l := v.topLog(w); l != nil {
			expl += fmt.Sprintf("; its logs: %q", cut(l.Pattern, 80))
		}
		out = append(out, Finding{Namespace: w.Namespace, Workload: w.Workload, Score: score, Explanation: expl, Evidence: evid})
	}
	return out
}

// ---- errors, latency, dependencies ----

// DetectErrorRegression: a workload answers a clearly larger share of 5xx
// than its baseline (a steady rise, or a burst to MinErrorPeak), its own
// calls to its dependencies do not explain it, and it regressed: it is a
// Flagger canary or one of several versions of an app (the other version's
// share is the reference: a canary failing while its primary does not
// scores higher, and so does Flagger's failed, rolled-back status; a
// regression every version shares scores lower), or a workload with
// dependencies of its own, all healthy. A backend with no dependencies of
// its own whose callers fail with it is a failing dependency
// (DetectUpstreamDependency); its error-regression finding is weak. A
// canary Flagger rolled back whose 5xx the pack no longer shows still
// yields a finding.
func DetectErrorRegression(p *evidence.Pack) []Finding {
	v := newView(p)
	var out []Finding
	for _, w := range v.workloads() {
		s := v.errorSymptom(w)
		status, failed := v.canaryFailed(w)
		if !s.err {
			if failed && !isPrimary(w) && (s.errM == nil || !v.hasServerSide(w)) {
				out = append(out, Finding{Namespace: w.Namespace, Workload: w.Workload, Score: 0.55,
					Explanation: fmt.Sprintf("Flagger rolled back the canary %s (status failed); the pack holds no 5xx of it", w.Workload),
					Evidence:    ids(status)})
			}
			continue
		}
		r, ok := v.errorRoot(s)
		if !ok {
			continue
		}
		score := 0.6 + 0.25*math.Min(1, s.errRise/0.05)
		expl, evid := v.errorText(r)
		lvl := math.Max(v.level(s.errM), s.errM.Max)
		for _, o := range r.siblings {
			os := v.errorSymptom(o)
			olvl := 0.0
			if os.errM != nil {
				olvl = math.Max(v.level(os.errM), os.errM.Max)
				evid = append(evid, os.errM.ID)
			}
			if olvl <= 0.3*lvl {
				score += 0.07
				expl += fmt.Sprintf("; %s stays at %s", o.Workload, pct(olvl))
			} else {
				score -= 0.1
				expl += fmt.Sprintf("; %s too (%s)", o.Workload, pct(olvl))
			}
		}
		if failed {
			evid = append(evid, status.ID)
			if !isPrimary(w) {
				score += 0.05
				expl += "; Flagger rolled the canary back"
			}
		} else if r.canary && !isPrimary(w) {
			expl += "; a Flagger canary under analysis"
		}
		if r.dependency() {
			score *= 0.65
			expl += "; a backend its callers fail with (see upstream-dependency)"
		}
		evid = append(evid, v.logIDs(w, 1)...)
		out = append(out, Finding{Namespace: w.Namespace, Workload: w.Workload, Score: score, Explanation: expl, Evidence: evid})
	}
	return out
}

// errRoot is a workload whose 5xx are its own (no callee explains them),
// with what tells a regression from a failing dependency.
type errRoot struct {
	s symptom
	// siblings are other versions of the app with traffic in the pack
	// (Flagger's other half, other workloads serving its service); canary:
	// Flagger analysed it (progressing or failed) or routed it traffic in
	// the window. Either makes it a regression of this version.
	siblings []wl
	canary   bool
	// feltBy are the callers whose calls to it fail; leaf: it has no
	// dependencies of its own in the pack.
	feltBy []wl
	leaf   bool
}

// dependency: a backend (no dependencies of its own) that is no new
// version, failing the callers that depend on it.
func (r errRoot) dependency() bool {
	return len(r.siblings) == 0 && !r.canary && r.leaf && len(r.feltBy) > 0
}

// errorRoot classifies an unexplained error symptom; ok is false when a
// callee explains it (or it is no symptom).
func (v *view) errorRoot(s symptom) (errRoot, bool) {
	if !s.err {
		return errRoot{}, false
	}
	if _, explained := v.errorBlame(s); explained {
		return errRoot{}, false
	}
	r := errRoot{s: s, leaf: len(v.calleesOf(s.w)) == 0 && v.calleesKnown(s.w)}
	for _, o := range v.versions(s.w) {
		if rr := v.requestRate(o); rr != nil && rr.Points > 0 && math.Max(v.level(rr), rr.Max) > 0 {
			r.siblings = append(r.siblings, o)
		}
	}
	if st := v.canaryStatus(s.w); st != nil && st.Points > 0 && !isPrimary(s.w) {
		cw := v.canaryWeight(s.w)
		r.canary = st.Max >= 2 || st.Min == 0 || (cw != nil && cw.Max > 0)
	}
	for _, c := range v.callers(s.w) {
		if t, _ := v.edgeErrors(c, s.w); t != nil && math.Max(v.excess(t), peakExcess(t)/2) >= MinErrorExcess {
			r.feltBy = append(r.feltBy, c)
		}
	}
	return r, true
}

// errorText is the explanation and evidence of an error root's own 5xx.
func (v *view) errorText(r errRoot) (string, []string) {
	s, w := r.s, r.s.w
	expl := fmt.Sprintf("%s answers %s 5xx (baseline %s%s)", w.Workload, pct(v.level(s.errM)), pct(base(s.errM)), at(v.changedAt(s.errM)))
	if v.level(s.errM) < s.errM.Max/2 {
		expl = fmt.Sprintf("%s answered up to %s 5xx (baseline %s%s)", w.Workload, pct(s.errM.Max), pct(base(s.errM)), at(v.changedAt(s.errM)))
	}
	evid := ids(s.errM)
	if _, d := v.serverErrorDetails(w); len(d) > 0 {
		expl += " — " + v.flagsText(d, 2)
		evid = append(evid, ids(d...)...)
	}
	return expl, evid
}

// serverErrorDetails are w's 5xx shares by code and flags, largest first.
func (v *view) serverErrorDetails(w wl) (*evidence.Metric, []*evidence.Metric) {
	ms := v.metrics(evidence.KindErrorRatio, of(w))
	var d []*evidence.Metric
	for _, m := range detailed(ms) {
		if isServerError(m) && math.Max(v.level(m), m.Max) >= 0.001 {
			d = append(d, m)
		}
	}
	sortByLevel(v, d)
	return total(ms), d
}

// DetectLatencyRegression: a workload's P99 rose by MinLatencyRatio and
// MinLatencyRise over its baseline, and its calls to its dependencies do
// not explain it (none slowed down, or timed out, by half as much). Scored
// by how many times slower it got; a CPU near its limit joins the evidence.
func DetectLatencyRegression(p *evidence.Pack) []Finding {
	v := newView(p)
	var out []Finding
	for _, w := range v.workloads() {
		s := v.latencySymptom(w)
		if !s.lat {
			continue
		}
		if _, ok := v.latencyBlame(s); ok {
			continue
		}
		score := 0.55 + 0.3*math.Min(1, math.Log10(s.latRatio))
		if s.latRise >= 200 {
			score += 0.05
		}
		expl := fmt.Sprintf("%s P99 %s, %.1f× its %s baseline%s, not explained by its dependencies",
			w.Workload, ms(v.level(s.latM)), s.latRatio, ms(*s.latM.Baseline), at(v.changedAt(s.latM)))
		evid := ids(s.latM)
		for _, m := range v.metrics(evidence.KindCPU, of(w)) {
			if m.Limit != nil && *m.Limit > 0 && m.Max / *m.Limit >= 0.8 {
				expl += fmt.Sprintf("; CPU of %s at %.0f %% of its limit", m.Container, 100*m.Max / *m.Limit)
				evid = append(evid, m.ID)
			}
		}
		for _, c := range v.callers(w) {
			if e := v.edgeLatency(c, w); e != nil {
				evid = append(evid, e.ID)
			}
		}
		out = append(out, Finding{Namespace: w.Namespace, Workload: w.Workload, Score: score, Explanation: expl, Evidence: evid})
	}
	return out
}

// DetectUpstreamDependency: a workload's 5xx or latency symptom is
// explained by a callee (its calls to it fail — 5xx, 504 UT, 503 URX/UH/UO
// — or slow down by at least ExplainShare of its own rise), and that
// callee's by its own callee, and so on: the blame moves to the end of the
// chain, the dependency at fault. The finding names it. It scores more when
// the chain is long (the dependency explains several workloads) and when
// the pack has no server-side view of the dependency at all (nothing more
// specific can be said of it); a specific cause found for the dependency
// supersedes it.
func DetectUpstreamDependency(p *evidence.Pack) []Finding {
	v := newView(p)
	type acc struct {
		f     Finding
		chain int
	}
	byRoot := map[wl]*acc{}
	var order []wl
	add := func(start wl, steps []blame, what string, strength float64) {
		if len(steps) == 0 {
			return
		}
		root := steps[len(steps)-1].callee
		score := 0.5 + 0.2*strength + 0.05*float64(min(len(steps), 3)-1)
		if !v.hasServerSide(root) {
			score += 0.1
		}
		first := steps[0]
		expl := fmt.Sprintf("%s's %s come from its calls to %s", start.Workload, what, name(first.callee, start))
		if len(steps) > 1 {
			expl = fmt.Sprintf("%s's %s follow the calls %s", start.Workload, what, chainText(start, steps))
		}
		caller := start
		if len(steps) > 1 {
			caller = steps[len(steps)-2].callee
		}
		if _, d := v.edgeErrors(caller, root); len(d) > 0 && what == "5xx" {
			expl += " (" + v.flagsText(d, 2) + ")"
		}
		evid := []string{}
		for _, s := range steps {
			evid = append(evid, ids(s.m)...)
		}
		a := byRoot[root]
		if a == nil {
			a = &acc{f: Finding{Namespace: root.Namespace, Workload: root.Workload}}
			byRoot[root] = a
			order = append(order, root)
		}
		if score > a.f.Score {
			a.f.Score, a.f.Explanation = score, expl
			a.f.Evidence = append(evid, a.f.Evidence...)
		} else {
			a.f.Evidence = append(a.f.Evidence, evid...)
		}
		a.chain = max(a.chain, len(steps))
	}
	for _, w := range v.workloads() {
		if s := v.errorSymptom(w); s.err {
			if steps := v.chain(w, v.errorNext); len(steps) > 0 {
				add(w, steps, "5xx", math.Min(1, s.errRise/0.05))
			}
		}
		if s := v.latencySymptom(w); s.lat {
			if steps := v.chain(w, v.latencyNext); len(steps) > 0 {
				add(w, steps, "latency", math.Min(1, math.Log10(s.latRatio)))
			}
		}
	}
	// A backend failing its callers with 5xx of its own: the dependency at
	// fault, named with its own errors.
	for _, w := range v.workloads() {
		r, ok := v.errorRoot(v.errorSymptom(w))
		if !ok || !r.dependency() {
			continue
		}
		score := 0.6 + 0.25*math.Min(1, r.s.errRise/0.05)
		if len(r.feltBy) > 1 || len(v.chainsInto(w)) > 1 {
			score += 0.05
		}
		expl, evid := v.errorText(r)
		var callers []string
		for _, c := range r.feltBy {
			callers = append(callers, name(c, w))
			if t, d := v.edgeErrors(c, w); t != nil {
				evid = append(evid, t.ID)
				if len(d) > 0 {
					evid = append(evid, d[0].ID)
				}
			}
		}
		expl += "; its callers fail with it: " + join(callers)
		evid = append(evid, v.logIDs(w, 1)...)
		a := byRoot[w]
		if a == nil {
			a = &acc{f: Finding{Namespace: w.Namespace, Workload: w.Workload}}
			byRoot[w] = a
			order = append(order, w)
		}
		if score > a.f.Score {
			a.f.Score, a.f.Explanation = score, expl
		}
		a.f.Evidence = append(evid, a.f.Evidence...)
	}
	// Callers failing on a dependency the pack has no server-side view of
	// (outside the mesh, or beyond the scope) with no symptom of their own
	// in the pack: their edges are the only evidence.
	for _, w := range v.workloads() {
		if v.hasServerSide(w) || byRoot[w] != nil {
			continue
		}
		s := v.edgeOnlyErrorSymptom(w)
		if !s.err {
			continue
		}
		steps := append([]blame{{callee: w, m: s.errM, rise: s.errRise}}, v.chain(w, v.errorNext)...)
		add(self(s.errM), steps, "calls", math.Min(1, s.errRise/0.05))
	}
	sortWorkloads(order)
	out := make([]Finding, 0, len(order))
	for _, r := range order {
		f := byRoot[r].f
		// Its callers' outlier detection ejecting it is the mesh at work on
		// the same fault: evidence, not a cause of its own.
		if txt, evid := v.ejectionText(r); txt != "" {
			f.Explanation += "; " + txt
			f.Evidence = append(f.Evidence, evid...)
		}
		out = append(out, f)
	}
	return out
}

// DetectTimeoutCascade: callers' calls to a dependency end in their route
// timeout (504 UT, or retries exhausted after per-try timeouts, 503 URX) for
// MinTimeoutShare of the calls or more, and the failure leads, along the
// calls that fail (timeouts, or 5xx a slow dependency's own callers pass
// on), to a root that is slow. Nested timeouts — the callers' callers time
// out on them in turn, the signature of an outer route timeout shorter than
// the inner one — make it a cascade and score highest; a single level of
// heavy timeouts on a slow callee scores less, and a few timeouts are left
// to latency-regression. The finding names the root.
func DetectTimeoutCascade(p *evidence.Pack) []Finding {
	v := newView(p)
	ws := v.workloads()
	timedOut := map[[2]wl]float64{}
	evid := map[[2]wl][]*evidence.Metric{}
	var callees []wl
	seen := map[wl]bool{}
	for _, w := range ws {
		for _, c := range v.callees(w) {
			if sh, ms := v.timeoutShare(w, c); sh >= MinTimeoutShare {
				timedOut[[2]wl{w, c}], evid[[2]wl{w, c}] = sh, ms
				if !seen[c] {
					seen[c] = true
					callees = append(callees, c)
				}
			}
		}
	}
	sortWorkloads(callees)
	// Each timed-out callee's failure leads to a root: where its own
	// errors (or latency) stop being explained by its calls.
	roots := map[wl][]wl{}
	var order []wl
	for _, c := range callees {
		r := c
		steps := v.chain(c, v.errorNext)
		if len(steps) == 0 {
			steps = v.chain(c, v.latencyNext)
		}
		if len(steps) > 0 {
			r = steps[len(steps)-1].callee
		}
		if _, ok := roots[r]; !ok {
			order = append(order, r)
		}
		roots[r] = append(roots[r], c)
	}
	var out []Finding
	for _, r := range order {
		depth, path := v.failureDepth(r, timedOut, map[wl]bool{})
		var e []string
		var shareText []string
		maxShare := 0.0
		for i := 0; i+1 < len(path); i++ {
			k := [2]wl{path[i], path[i+1]}
			if sh, ok := timedOut[k]; ok {
				maxShare = math.Max(maxShare, sh)
				e = append(e, ids(evid[k]...)...)
				shareText = append(shareText, fmt.Sprintf("%s→%s %s timed out", name(path[i], r), name(path[i+1], r), pct(sh)))
			}
		}
		slow := false
		var slowText string
		if s := v.latencySymptom(r); s.latM != nil && (s.lat || s.latRatio >= 2) {
			slow = true
			slowText = fmt.Sprintf("; %s P99 %s (baseline %s)", r.Workload, ms(v.level(s.latM)), ms(*s.latM.Baseline))
			e = append(e, s.latM.ID)
		} else {
			for _, x := range v.callers(r) {
				if l := v.edgeLatency(x, r); l != nil && (l.Baseline == nil || v.level(l) >= 2**l.Baseline) {
					slow = true
					slowText = fmt.Sprintf("; %s→%s P99 %s", name(x, r), r.Workload, ms(v.level(l)))
					e = append(e, l.ID)
					break
				}
			}
		}
		var score float64
		expl := fmt.Sprintf("%s is slow and its callers give up: %s", r.Workload, join(shareText))
		switch {
		case depth >= 2:
			score = 0.82
			if slow {
				score += 0.08
			}
			expl = fmt.Sprintf("timeouts cascade along %s: %s", pathText(path), join(shareText))
			// An outer call's P99 under an inner one: the outer route
			// timeout is the shorter.
			if outer, inner := v.invertedTimeouts(path, timedOut); outer != nil {
				score += 0.04
				expl += fmt.Sprintf("; nested timeouts: %s P99 %s < %s P99 %s", edgeText(outer, r), ms(v.level(outer)), edgeText(inner, r), ms(v.level(inner)))
				e = append(e, outer.ID, inner.ID)
			}
		case slow && maxShare >= 0.2:
			score = 0.75 + 0.1*math.Min(1, maxShare/0.5)
		case slow:
			score = 0.55
		default:
			score = 0.4
		}
		out = append(out, Finding{Namespace: r.Namespace, Workload: r.Workload, Score: score, Explanation: expl + slowText, Evidence: e})
	}
	return out
}

// failureDepth is the number of timing-out calls on the longest chain of
// failing calls (timeouts, or 5xx passed on) that ends at c, and the
// chain's workloads (c last).
func (v *view) failureDepth(c wl, timedOut map[[2]wl]float64, seen map[wl]bool) (int, []wl) {
	if seen[c] {
		return 0, []wl{c}
	}
	seen[c] = true
	defer delete(seen, c)
	best, bestPath := 0, []wl{c}
	for _, x := range v.callers(c) {
		step := 0
		if _, ok := timedOut[[2]wl{x, c}]; ok {
			step = 1
		} else if t, _ := v.edgeErrors(x, c); t == nil || math.Max(v.excess(t), peakExcess(t)/2) < MinErrorExcess {
			continue // x's calls to c do not fail
		}
		d, path := v.failureDepth(x, timedOut, seen)
		if d+step > best || (d+step == best && len(path)+1 > len(bestPath)) {
			best, bestPath = d+step, append(append([]wl(nil), path...), c)
		}
	}
	return best, bestPath
}

// invertedTimeouts finds, along a failing chain, a timed-out call whose P99
// (capped by its route timeout) is under that of a timed-out call further
// in: the outer timeout shorter than the inner one.
func (v *view) invertedTimeouts(path []wl, timedOut map[[2]wl]float64) (outer, inner *evidence.Metric) {
	var lat []*evidence.Metric
	for i := 0; i+1 < len(path); i++ {
		if _, ok := timedOut[[2]wl{path[i], path[i+1]}]; ok {
			if l := v.edgeLatency(path[i], path[i+1]); l != nil {
				lat = append(lat, l)
			}
		}
	}
	for i := 0; i < len(lat); i++ {
		for j := i + 1; j < len(lat); j++ {
			if v.level(lat[i]) < v.level(lat[j]) {
				return lat[i], lat[j]
			}
		}
	}
	return nil, nil
}

func edgeText(m *evidence.Metric, rel wl) string {
	return name(self(m), rel) + "→" + name(peer(m), rel)
}

func pathText(path []wl) string {
	parts := make([]string, len(path))
	for i, w := range path {
		parts[i] = name(w, path[len(path)-1])
	}
	return strings.Join(parts, " → ")
}

// ---- security and control plane ----

// MaxMTLSShare: a workload serving less than this share over mutual TLS
// accepts plaintext.
const MaxMTLSShare = 0.999

// DetectPlaintextUnderStrict: a workload's sidecar served requests without
// mutual TLS in the window (its mTLS share fell under MaxMTLSShare). New
// plaintext (the share was whole before, or dropped at a change point)
// scores higher than plaintext that was there all along. The sources that
// send it ("unknown": outside the mesh) are named.
func DetectPlaintextUnderStrict(p *evidence.Pack) []Finding {
	v := newView(p)
	var out []Finding
	for _, w := range v.workloads() {
		var overall *evidence.Metric
		var sources []*evidence.Metric
		for _, m := range v.metrics(evidence.KindMTLSShare, of(w)) {
			if m.Points == 0 || m.Min >= MaxMTLSShare {
				continue
			}
			if m.Peer == "" {
				overall = m
			} else {
				sources = append(sources, m)
			}
		}
		if overall == nil && len(sources) == 0 {
			continue
		}
		ref := overall
		if ref == nil {
			ref = sources[0]
		}
		fresh := ref.Baseline == nil || *ref.Baseline >= MaxMTLSShare || v.changedAt(ref) != nil
		score := 0.7
		if fresh {
			score = 0.9
		}
		expl := fmt.Sprintf("%s accepts requests without mutual TLS: mTLS share %s (min %s, baseline %s)",
			w.Workload, pct(ref.Window), pct(ref.Min), baselineText(ref, pct))
		if len(sources) > 0 {
			var names []string
			for _, s := range sources {
				n := s.Peer
				if strings.HasSuffix(n, "unknown") {
					n = "unknown (outside the mesh)"
				}
				names = append(names, fmt.Sprintf("%s at %s mTLS", n, pct(s.Window)))
			}
			expl += "; from " + join(names)
		}
		out = append(out, Finding{Namespace: w.Namespace, Workload: w.Workload, Score: score, Explanation: expl,
			Evidence: append(ids(overall), ids(sources...)...)})
	}
	return out
}

func baselineText(m *evidence.Metric, f func(float64) string) string {
	if m.Baseline == nil {
		return "none"
	}
	return f(*m.Baseline)
}

// DetectControlPlaneRejects: proxies rejected (NACKed) config istiod pushed
// in the window: the rejects count rose. The finding names the proxies'
// workloads: a rejects series about a data-plane workload names it; for
// istiod's own count, the xDS node ids its log lines name
// (sidecar~<ip>~<pod>.<namespace>~…), and the incident's workload when its
// sidecar logs a rejected config; istiod itself when nothing names a proxy.
func DetectControlPlaneRejects(p *evidence.Pack) []Finding {
	v := newView(p)
	var out []Finding
	index := map[wl]int{}
	for i := range p.Metrics {
		m := &p.Metrics[i]
		if m.Kind != evidence.KindIstiodRejects || m.Points == 0 || math.Max(m.Max, m.Last) <= 0 {
			continue
		}
		n := math.Max(m.Window*v.window.Duration().Seconds()/RestartsSpan.Seconds(), m.Max)
		if m.Baseline != nil && *m.Baseline > 0 && m.Max <= *m.Baseline && v.changedAt(m) == nil {
			continue // as many rejects before the window: not news
		}
		typ := strings.ToUpper(m.Detail["type"])
		if typ == "" {
			typ = "xDS"
		}
		type target struct {
			w    wl
			logs []string
			text string
		}
		var targets []target
		if w := self(m); !isControlPlane(w) && w.Workload != "" {
			targets = append(targets, target{w: w})
		} else {
			for _, px := range v.rejectingProxies() {
				targets = append(targets, target{w: px.w, logs: px.logs, text: fmt.Sprintf("istiod logs the NACKs of %s's proxy", px.w.Workload)})
			}
			if s := p.Subject; !isControlPlane(s) && s.Workload != "" {
				if l := v.rejectLog(s); l != nil {
					targets = append(targets, target{w: s, logs: []string{l.ID}, text: fmt.Sprintf("%s's proxy logs %q", s.Workload, cut(l.Pattern, 90))})
				}
			}
			if len(targets) == 0 {
				w := self(m)
				if w.Workload == "" {
					w = p.Subject
				}
				targets = append(targets, target{w: w, text: "no proxy named in the pack"})
			}
		}
		for _, t := range targets {
			expl := fmt.Sprintf("%s: %s config pushed by istiod rejected about %.0f times in the window", t.w.Workload, typ, math.Max(1, n))
			if t.text != "" {
				expl += "; " + t.text
			}
			evid := append([]string{m.ID}, t.logs...)
			if l := v.rejectLog(t.w); l != nil {
				evid = append(evid, l.ID)
			}
			if i, ok := index[t.w]; ok {
				out[i].Evidence = append(out[i].Evidence, evid...)
				continue
			}
			index[t.w] = len(out)
			out = append(out, Finding{Namespace: t.w.Namespace, Workload: t.w.Workload, Score: 0.85, Explanation: expl, Evidence: evid})
		}
	}
	return out
}

// xdsNode matches an xDS node id as istiod logs it:
// <type>~<ip>~<pod>.<namespace>~<namespace>.svc.<domain>. The pod may be
// normalized to <workload>-<pod> in a pattern.
var xdsNode = regexp.MustCompile(`(?:sidecar|router)~[^~\s]*~([a-z0-9](?:[-a-z0-9<>]*[a-z0-9>])?)\.([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)~`)

type proxyRef struct {
	w    wl
	logs []string
}

// rejectingProxies are the workloads whose proxies the control plane's
// reject log lines name (by their xDS node ids), sorted.
func (v *view) rejectingProxies() []proxyRef {
	found := map[wl][]string{}
	for i := range v.p.Logs {
		l := &v.p.Logs[i]
		if !isControlPlane(wl{Namespace: l.Namespace, Workload: l.Workload}) {
			continue
		}
		for _, text := range []string{l.Pattern, l.Example} {
			low := strings.ToLower(text)
			if !strings.Contains(low, "ack error") && !strings.Contains(low, "nack") && !strings.Contains(low, "reject") {
				continue
			}
			for _, mm := range xdsNode.FindAllStringSubmatch(text, -1) {
				pod := strings.TrimSuffix(mm[1], "-"+evidence.PhPod)
				w := pod
				if !strings.Contains(mm[1], evidence.PhPod) {
					w = signals.WorkloadOf(pod)
				}
				if w == "" || strings.Contains(w, "<") {
					continue
				}
				k := wl{Namespace: mm[2], Workload: w}
				if !contains(found[k], l.ID) {
					found[k] = append(found[k], l.ID)
				}
			}
		}
	}
	out := make([]proxyRef, 0, len(found))
	for _, w := range keys(mapKeys(found)) {
		out = append(out, proxyRef{w: w, logs: found[w]})
	}
	return out
}

func mapKeys(m map[wl][]string) map[wl]bool {
	out := map[wl]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// isControlPlane: istiod and its revisions (istiod-1-24, …), by the
// workload name Istio's charts give it.
func isControlPlane(w wl) bool { return strings.HasPrefix(w.Workload, "istiod") }

// rejectLog is a log pattern of w that says a config was rejected.
func (v *view) rejectLog(w wl) *evidence.LogPattern {
	for i := range v.p.Logs {
		l := &v.p.Logs[i]
		if l.Namespace == w.Namespace && l.Workload == w.Workload {
			p := strings.ToLower(l.Pattern)
			if strings.Contains(p, "rejected") || strings.Contains(p, "nack") || strings.Contains(p, "ack error") {
				return l
			}
		}
	}
	return nil
}

// ---- logs ----

// logIDs are the ids of w's most frequent log patterns (at most n).
func (v *view) logIDs(w wl, n int) []string {
	var out []string
	for _, l := range v.logsOf(w) {
		if len(out) == n {
			break
		}
		out = append(out, l.ID)
	}
	return out
}

func (v *view) topLog(w wl) *evidence.LogPattern {
	ls := v.logsOf(w)
	if len(ls) == 0 {
		return nil
	}
	return ls[0]
}

func (v *view) logsOf(w wl) []*evidence.LogPattern {
	var out []*evidence.LogPattern
	for i := range v.p.Logs {
		l := &v.p.Logs[i]
		if l.Namespace == w.Namespace && l.Workload == w.Workload {
			out = append(out, l)
		}
	}
	sortLogs(out)
	return out
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
