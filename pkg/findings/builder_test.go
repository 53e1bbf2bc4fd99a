package findings

import (
	"strings"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/evidence"
)

// A small builder of hand-made packs: the tests state the summaries a
// scenario's metrics would have, nothing else.

var (
	tFrom = time.Date(2026, 10, 30, 13, 0, 0, 0, time.UTC)
	tTo   = tFrom.Add(40 * time.Minute)
	tOn   = tFrom.Add(5 * time.Minute) // the fault's onset
)

type packB struct{ p evidence.Pack }

// newPack: subject "ns/wl" (or "wl" in shop).
func newPack(subject string) *packB {
	return &packB{p: evidence.Pack{
		Window:     evidence.Window{From: tFrom, To: tTo, RuleFor: evidence.Duration(5 * time.Minute)},
		Subject:    ref(subject),
		CapturedAt: tTo,
	}}
}

func ref(s string) evidence.Workload {
	if ns, w, ok := strings.Cut(s, "/"); ok {
		return evidence.Workload{Namespace: ns, Workload: w}
	}
	return evidence.Workload{Namespace: "shop", Workload: s}
}

func (b *packB) scope(role evidence.Role, ws ...string) *packB {
	for _, w := range ws {
		b.p.Scope = append(b.p.Scope, evidence.Neighbour{Workload: ref(w), Role: role})
	}
	return b
}

// mb builds one metric.
type mb struct {
	b *packB
	m evidence.Metric
}

func (b *packB) metric(kind evidence.Kind, w string) *mb {
	r := ref(w)
	return &mb{b: b, m: evidence.Metric{Kind: kind, Namespace: r.Namespace, Workload: r.Workload, Summary: evidence.Summary{Points: 80}}}
}

// edgeM is an edge metric from caller to callee.
func (b *packB) edgeM(kind evidence.Kind, caller, callee string) *mb {
	x := b.metric(kind, caller)
	c := ref(callee)
	if c.Namespace == x.m.Namespace {
		x.m.Peer = c.Workload
	} else {
		x.m.Peer = c.String()
	}
	return x
}

func (x *mb) base(v float64) *mb { x.m.Baseline = &v; return x }
func (x *mb) win(v float64) *mb {
	x.m.Window = v
	if x.m.Last == 0 {
		x.m.Last = v
	}
	if x.m.Max < v {
		x.m.Max = v
	}
	if x.m.Min == 0 || x.m.Min > v {
		x.m.Min = v
	}
	return x
}
func (x *mb) last(v float64) *mb { x.m.Last = v; return x }
func (x *mb) minmax(lo, hi float64) *mb {
	x.m.Min, x.m.Max = lo, hi
	return x
}
func (x *mb) trend(v float64) *mb { x.m.Trend = v; return x }
func (x *mb) change(at time.Time, after float64) *mb {
	x.m.ChangeAt, x.m.After = &at, &after
	return x
}
func (x *mb) limit(v float64) *mb { x.m.Limit = &v; return x }
func (x *mb) ttl(d time.Duration) *mb {
	x.m.TimeToLimit = evidence.D(d)
	return x
}
func (x *mb) ctr(c string) *mb { x.m.Container = c; return x }
func (x *mb) points(n int) *mb { x.m.Points = n; return x }
func (x *mb) detail(kv ...string) *mb {
	x.m.Detail = map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		x.m.Detail[kv[i]] = kv[i+1]
	}
	return x
}

// add finishes the metric (its id as Collect would make it) and returns
// the pack builder.
func (x *mb) add() *packB {
	m := x.m
	m.ID = evidence.MetricID(m.Kind, m.Namespace, m.Workload, m.Peer, m.Container, m.Detail)
	x.b.p.Metrics = append(x.b.p.Metrics, m)
	return x.b
}

func (b *packB) log(w, ctr, pattern string, n int) *packB {
	r := ref(w)
	b.p.Logs = append(b.p.Logs, evidence.LogPattern{
		ID: evidence.LogID(r.Namespace, r.Workload, ctr, pattern), Namespace: r.Namespace, Workload: r.Workload,
		Container: ctr, Pattern: pattern, Count: n, First: tOn, Last: tTo,
	})
	return b
}

func (b *packB) pack() *evidence.Pack { p := b.p; return &p }

// id is the evidence id of a metric the builder added.
func (b *packB) id(kind evidence.Kind, w, peer, ctr string, kv ...string) string {
	r := ref(w)
	var d map[string]string
	if len(kv) > 0 {
		d = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			d[kv[i]] = kv[i+1]
		}
	}
	return evidence.MetricID(kind, r.Namespace, r.Workload, peer, ctr, d)
}

// ---- assertions ----

// wantTop: the first shown finding blames w with cause c, and cites ids.
func wantTop(t *testing.T, p *evidence.Pack, w string, c Cause, cites ...string) Finding {
	t.Helper()
	fs := Detect(p)
	if len(fs) == 0 {
		t.Fatalf("no finding; want %s %s. All: %s", w, c, dump(DetectAll(p)))
	}
	r := ref(w)
	top := fs[0]
	if top.Cause != c || top.Namespace != r.Namespace || top.Workload != r.Workload {
		t.Fatalf("top finding %s; want %s %s. All: %s", top, r, c, dump(DetectAll(p)))
	}
	for _, id := range cites {
		if !contains(top.Evidence, id) {
			t.Errorf("top finding does not cite %s: %s", id, top)
		}
	}
	known := map[string]bool{}
	for _, id := range p.IDs() {
		known[id] = true
	}
	for _, f := range fs {
		if len(f.Evidence) == 0 {
			t.Errorf("finding cites no evidence: %s", f)
		}
		for _, id := range f.Evidence {
			if !known[id] {
				t.Errorf("finding cites %s, not in the pack: %s", id, f)
			}
		}
		if f.Explanation == "" || strings.Contains(f.Explanation, "\n") {
			t.Errorf("explanation must be one line: %q", f.Explanation)
		}
		if !f.Cause.Valid() || f.Score < Threshold || f.Score > 1 {
			t.Errorf("bad finding %s", f)
		}
	}
	return top
}

// wantNone: no shown finding blames w with cause c.
func wantNone(t *testing.T, p *evidence.Pack, w string, c Cause) {
	t.Helper()
	r := ref(w)
	for _, f := range Detect(p) {
		if f.Cause == c && f.Namespace == r.Namespace && f.Workload == r.Workload {
			t.Errorf("unexpected finding %s", f)
		}
	}
}

// wantShown: a shown finding blames w with cause c.
func wantShown(t *testing.T, p *evidence.Pack, w string, c Cause) {
	t.Helper()
	r := ref(w)
	for _, f := range Detect(p) {
		if f.Cause == c && f.Namespace == r.Namespace && f.Workload == r.Workload {
			return
		}
	}
	t.Errorf("no %s finding about %s: %s", c, r, dump(DetectAll(p)))
}

// wantBelow: the finding of cause c about w (if any) ranks below the top.
func wantBelow(t *testing.T, p *evidence.Pack, w string, c Cause, top Finding) {
	t.Helper()
	r := ref(w)
	for _, f := range DetectAll(p) {
		if f.Cause == c && f.Namespace == r.Namespace && f.Workload == r.Workload && f.Score >= top.Score {
			t.Errorf("%s ranks with the top finding %s", f, top)
		}
	}
}

func dump(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("\n  ")
		b.WriteString(f.String())
	}
	return b.String()
}
