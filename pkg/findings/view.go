package findings

import (
	"math"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/meshwatch/meshwatch/pkg/evidence"
)

// wl is a workload key.
type wl = evidence.Workload

// view indexes a pack for the detectors: its metrics by kind and workload,
// the request graph its edge metrics draw, and Flagger's version pairs.
type view struct {
	p      *evidence.Pack
	window evidence.Window
	byKind map[evidence.Kind][]*evidence.Metric
}

func newView(p *evidence.Pack) *view {
	v := &view{p: p, window: p.Window, byKind: map[evidence.Kind][]*evidence.Metric{}}
	for i := range p.Metrics {
		m := &p.Metrics[i]
		v.byKind[m.Kind] = append(v.byKind[m.Kind], m)
	}
	return v
}

func self(m *evidence.Metric) wl { return wl{Namespace: m.Namespace, Workload: m.Workload} }

// peer is an edge metric's other end: "namespace/workload", or "workload"
// in the metric's namespace.
func peer(m *evidence.Metric) wl {
	if ns, name, ok := strings.Cut(m.Peer, "/"); ok {
		return wl{Namespace: ns, Workload: name}
	}
	return wl{Namespace: m.Namespace, Workload: m.Peer}
}

// metrics returns pointers to the pack's metrics of a kind that match.
func (v *view) metrics(kind evidence.Kind, match func(*evidence.Metric) bool) []*evidence.Metric {
	var out []*evidence.Metric
	for _, m := range v.byKind[kind] {
		if match == nil || match(m) {
			out = append(out, m)
		}
	}
	return out
}

// of matches the metrics about a workload (for edges: the caller).
func of(w wl) func(*evidence.Metric) bool {
	return func(m *evidence.Metric) bool { return self(m) == w }
}

// edge matches the edge metrics from caller to callee.
func edge(caller, callee wl) func(*evidence.Metric) bool {
	return func(m *evidence.Metric) bool { return self(m) == caller && peer(m) == callee }
}

// total is the metric without Detail (all 5xx), nil when absent.
func total(ms []*evidence.Metric) *evidence.Metric {
	for _, m := range ms {
		if len(m.Detail) == 0 {
			return m
		}
	}
	return nil
}

// detailed are the metrics with a Detail.
func detailed(ms []*evidence.Metric) []*evidence.Metric {
	var out []*evidence.Metric
	for _, m := range ms {
		if len(m.Detail) > 0 {
			out = append(out, m)
		}
	}
	return out
}

// workloads are the workloads the pack knows: the subject, its scope and
// every workload a metric is about or an edge reaches, sorted.
func (v *view) workloads() []wl {
	seen := map[wl]bool{}
	add := func(w wl) {
		if w.Workload != "" && w.Workload != "unknown" {
			seen[w] = true
		}
	}
	add(v.p.Subject)
	for _, n := range v.p.Scope {
		add(n.Workload)
	}
	for i := range v.p.Metrics {
		m := &v.p.Metrics[i]
		add(self(m))
		if isEdge(m.Kind) {
			add(peer(m))
		}
	}
	out := make([]wl, 0, len(seen))
	for w := range seen {
		out = append(out, w)
	}
	sortWorkloads(out)
	return out
}

func sortWorkloads(ws []wl) {
	sort.Slice(ws, func(i, j int) bool {
		if ws[i].Namespace != ws[j].Namespace {
			return ws[i].Namespace < ws[j].Namespace
		}
		return ws[i].Workload < ws[j].Workload
	})
}

func isEdge(k evidence.Kind) bool {
	switch k {
	case evidence.KindEdgeRate, evidence.KindEdgeErrorRatio, evidence.KindEdgeLatencyP99,
		evidence.KindEdgeRetries, evidence.KindEdgeOverflow, evidence.KindEdgeEjections:
		return true
	}
	return false
}

// callees of w: the workloads its edge metrics reach, sorted. Calls to an
// "unknown" destination (503 UH: no healthy upstream) reach no workload:
// the callee that is down explains them (errorBlame).
func (v *view) callees(w wl) []wl {
	seen := map[wl]bool{}
	for i := range v.p.Metrics {
		m := &v.p.Metrics[i]
		if isEdge(m.Kind) && self(m) == w {
			if c := peer(m); c != w && c.Workload != "" && c.Workload != "unknown" {
				seen[c] = true
			}
		}
	}
	return keys(seen)
}

// callers of w: the workloads whose edge metrics reach it, sorted.
func (v *view) callers(w wl) []wl {
	seen := map[wl]bool{}
	for i := range v.p.Metrics {
		m := &v.p.Metrics[i]
		if isEdge(m.Kind) && peer(m) == w && self(m) != w {
			seen[self(m)] = true
		}
	}
	return keys(seen)
}

func keys(m map[wl]bool) []wl {
	out := make([]wl, 0, len(m))
	for w := range m {
		out = append(out, w)
	}
	sortWorkloads(out)
	return out
}

// calleesKnown reports whether the pack would show w's callees: the
// subject's and its direct neighbours' are in its scope (Collect adds the
// callees' callees), a second-hop neighbour's (Via) are not.
func (v *view) calleesKnown(w wl) bool {
	if w == v.p.Subject {
		return true
	}
	for _, n := range v.p.Scope {
		if n.Workload == w {
			return n.Via == ""
		}
	}
	return false
}

// hasServerSide reports whether the pack has w's own (server side) request
// metrics: without them, what is known of w is what its callers see.
func (v *view) hasServerSide(w wl) bool {
	for _, k := range []evidence.Kind{evidence.KindRequestRate, evidence.KindErrorRatio, evidence.KindLatencyP99} {
		if len(v.metrics(k, of(w))) > 0 {
			return true
		}
	}
	return false
}

// ---- reading a Summary ----

// base is the baseline, or 0 when the series had no points before the
// window (a ratio of 5xx that only exists once there are errors).
func base(m *evidence.Metric) float64 {
	if m == nil || m.Baseline == nil {
		return 0
	}
	return *m.Baseline
}

// level is the series' level during the incident: the window's mean, or the
// mean after a change point at or after the window's start (a fault that
// began late in a long window) when that is higher.
func (v *view) level(m *evidence.Metric) float64 {
	if m == nil {
		return 0
	}
	l := m.Window
	if m.ChangeAt != nil && m.After != nil && !m.ChangeAt.Before(v.window.From.Add(-15*time.Minute)) {
		l = math.Max(l, *m.After)
	}
	return l
}

// excess is how far the level rose over the baseline (0 when it did not).
func (v *view) excess(m *evidence.Metric) float64 {
	if m == nil {
		return 0
	}
	return math.Max(0, v.level(m)-base(m))
}

// peakExcess is how far the window's maximum rose over the baseline.
func peakExcess(m *evidence.Metric) float64 {
	if m == nil {
		return 0
	}
	return math.Max(0, m.Max-base(m))
}

// changedAt is the change point when it lies in (or just before) the
// window, else nil.
func (v *view) changedAt(m *evidence.Metric) *time.Time {
	if m == nil || m.ChangeAt == nil || m.ChangeAt.Before(v.window.From.Add(-30*time.Minute)) {
		return nil
	}
	return m.ChangeAt
}

func ids(ms ...*evidence.Metric) []string {
	var out []string
	for _, m := range ms {
		if m != nil {
			out = append(out, m.ID)
		}
	}
	return out
}

// ---- Flagger's versions ----

// primarySuffix is what Flagger appends to a canary target's name for the
// primary Deployment it creates.
const primarySuffix = "-primary"

// versions returns the other versions of w the pack knows: Flagger's
// primary (<w>-primary) of a canary w or the canary of a primary, and the
// scope's workloads with the version role.
func (v *view) versions(w wl) []wl {
	seen := map[wl]bool{}
	for _, o := range v.workloads() {
		if o == w || o.Namespace != w.Namespace {
			continue
		}
		if o.Workload == w.Workload+primarySuffix || w.Workload == o.Workload+primarySuffix {
			seen[o] = true
		}
		if a, ok := versionStem(w.Workload); ok {
			if b, ok := versionStem(o.Workload); ok && a == b {
				seen[o] = true
			}
		}
	}
	if w == v.p.Subject {
		for _, n := range v.p.Scope {
			if n.Role == evidence.RoleVersion {
				seen[n.Workload] = true
			}
		}
	} else {
		for _, n := range v.p.Scope {
			if n.Workload == w && n.Role == evidence.RoleVersion {
				seen[v.p.Subject] = true
			}
		}
	}
	return keys(seen)
}

// versionSuffix is the conventional suffix of one version's Deployment
// among several of an app (reviews-v1, reviews-v2, api-v2-1).
var versionSuffix = regexp.MustCompile(`^(.+)-v[0-9]+(?:[-.][0-9a-z]+)*$`)

// versionStem is the app name of a versioned workload name.
func versionStem(name string) (string, bool) {
	m := versionSuffix.FindStringSubmatch(name)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// canaryTarget is the name of the Flagger canary (its target Deployment)
// that w belongs to: w itself, or w without -primary.
func canaryTarget(w wl) wl {
	return wl{Namespace: w.Namespace, Workload: strings.TrimSuffix(w.Workload, primarySuffix)}
}

// isPrimary reports whether w is a Flagger primary of a canary the pack
// shows (its name ends in -primary and the target's status or weight is
// there, or the target is a version of it).
func isPrimary(w wl) bool { return strings.HasSuffix(w.Workload, primarySuffix) }

// canaryStatus is the Flagger status metric of the canary w belongs to.
func (v *view) canaryStatus(w wl) *evidence.Metric {
	t := canaryTarget(w)
	ms := v.metrics(evidence.KindCanaryStatus, of(t))
	if len(ms) == 0 {
		return nil
	}
	return ms[0]
}

// canaryWeight is the Flagger weight metric of w.
func (v *view) canaryWeight(w wl) *evidence.Metric {
	ms := v.metrics(evidence.KindCanaryWeight, of(w))
	if len(ms) == 0 {
		return nil
	}
	return ms[0]
}

// canaryFailed reports whether Flagger's status for w's canary reached
// failed (2: rolled back) in the window.
func (v *view) canaryFailed(w wl) (*evidence.Metric, bool) {
	m := v.canaryStatus(w)
	return m, m != nil && m.Points > 0 && m.Max >= 2
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// sortByLevel orders metrics by their level, largest first (id breaks ties).
func sortByLevel(v *view, ms []*evidence.Metric) {
	sort.SliceStable(ms, func(i, j int) bool {
		a, b := math.Max(v.level(ms[i]), ms[i].Max/2), math.Max(v.level(ms[j]), ms[j].Max/2)
		if a != b {
			return a > b
		}
		return ms[i].ID < ms[j].ID
	})
}

// sortLogs orders log patterns by count, largest first (id breaks ties).
func sortLogs(ls []*evidence.LogPattern) {
	sort.SliceStable(ls, func(i, j int) bool {
		if ls[i].Count != ls[j].Count {
			return ls[i].Count > ls[j].Count
		}
		return ls[i].ID < ls[j].ID
	})
}
