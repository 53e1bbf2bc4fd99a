package evidence

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"
)

// FlatScore: a metric scoring below it shows nothing happening (no change,
// no trend, no errors, far from its limit). Compact drops those first.
const FlatScore = 1.0

// MetricScore is how informative a metric is about the incident, from its
// Summary and kind (higher is more):
//
//   - +3 for a change point; for a time to its limit, +4 within 24 hours
//     and +2 beyond for memory (the kernel kills at the limit), +1 for CPU
//     (throttled at its limit);
//   - up to +3 for the shift between baseline and window (relative to the
//     larger; +2 for a series new in the window);
//   - up to +2 for the window's trend (its rise over the window relative
//     to the level);
//   - by kind: a 5xx ratio over 0.5 % +2 (and +1 if it peaked over 1 %);
//     a P99 at twice its baseline or more +3 (1.5 times: +1.5);
//     restarts, OOM kills, istiod rejects, circuit-breaker overflows,
//     ejections or a failed canary +4; retries +2; any
//     plaintext (mtls-share under 99.9 %) +4; memory or CPU over 80 % of
//     the limit +2; a canary taking traffic +1, progressing +1;
//   - +1 when it is about the subject (or an edge touching it).
//
// A flat metric scores under FlatScore.
func MetricScore(m Metric, subject Workload, w Window) float64 {
	s := 0.0
	if m.ChangeAt != nil {
		s += 3
	}
	if m.TimeToLimit != nil {
		switch {
		case m.Kind != KindSidecarMemory && m.Kind != KindAppMemory:
			s++ // a CPU limit throttles; it does not kill
		case time.Duration(*m.TimeToLimit) <= 24*time.Hour:
			s += 4
		default:
			s += 2
		}
	}
	if m.Points > 0 {
		switch {
		case m.Baseline == nil && m.Window != 0:
			s += 2
		case m.Baseline != nil:
			if l := math.Max(math.Abs(*m.Baseline), math.Abs(m.Window)); l > 0 {
				s += 3 * math.Min(1, math.Abs(m.Window-*m.Baseline)/l)
			}
		}
		if l := math.Max(math.Abs(m.Last), math.Abs(m.Window)); l > 0 {
			s += 2 * math.Min(1, math.Abs(m.Trend*w.Duration().Minutes())/l)
		}
	}
	switch m.Kind {
	case KindErrorRatio, KindEdgeErrorRatio:
		if m.Window >= 0.005 {
			s += 2
		}
		if m.Max >= 0.01 {
			s++
		}
	case KindLatencyP99, KindEdgeLatencyP99:
		if m.Baseline != nil && *m.Baseline > 0 {
			switch r := m.Window / *m.Baseline; {
			case r >= 2:
				s += 3
			case r >= 1.5:
				s += 1.5
			}
		}
	case KindRestarts, KindOOMKills, KindIstiodRejects, KindEdgeOverflow, KindEdgeEjections:
		if m.Max > 0 {
			s += 4
		}
	case KindEdgeRetries:
		if m.Max > 0 {
			s += 2
		}
	case KindCanaryStatus:
		if m.Max >= 2 {
			s += 4
		}
		if m.Points > 0 && m.Min == 0 {
			s++
		}
	case KindCanaryWeight:
		if m.Max > 0 {
			s++
		}
	case KindMTLSShare:
		if m.Points > 0 && m.Min < 0.999 {
			s += 4
		}
	case KindSidecarMemory, KindAppMemory, KindCPU:
		if m.Limit != nil && *m.Limit > 0 && m.Max/(*m.Limit) >= 0.8 {
			s += 2
		}
	}
	if subject.Workload != "" && ((m.Namespace == subject.Namespace && m.Workload == subject.Workload) ||
		(m.Peer != "" && (m.Peer == subject.Workload && m.Namespace == subject.Namespace || m.Peer == subject.String()))) {
		s++
	}
	return s
}

// IsFlat reports whether a metric shows nothing happening: its score,
// without the subject's bonus, is under FlatScore.
func IsFlat(m Metric, w Window) bool { return MetricScore(m, Workload{}, w) < FlatScore }

// LogScore: 2, plus half the log2 of the count, plus 1 for the subject's
// own lines. Any error pattern outranks a flat metric.
func LogScore(l LogPattern, subject Workload) float64 {
	s := 2 + math.Log2(float64(max(l.Count, 1)))/2
	if l.Namespace == subject.Namespace && l.Workload == subject.Workload {
		s++
	}
	return s
}

// TraceScore: an error trace 3, a slow one 2.5, each further trace of the
// same workload and kind half a point less (they repeat each other).
func traceScores(ts []Trace) []float64 {
	out := make([]float64, len(ts))
	seen := map[string]int{}
	for i, t := range ts {
		k := t.Workload
		base := 2.5
		if t.Error {
			k += "\x00err"
			base = 3
		}
		out[i] = base - 0.5*float64(seen[k])
		seen[k]++
	}
	return out
}

// Rank orders the pack's metrics by MetricScore (highest first, then by
// id), its log patterns by count (then most recent, then id) and its traces
// errors first, then slowest; it changes nothing else.
func Rank(p *Pack) {
	scores := map[string]float64{}
	for _, m := range p.Metrics {
		scores[m.ID] = MetricScore(m, p.Subject, p.Window)
	}
	sort.SliceStable(p.Metrics, func(i, j int) bool {
		a, b := p.Metrics[i], p.Metrics[j]
		if scores[a.ID] != scores[b.ID] {
			return scores[a.ID] > scores[b.ID]
		}
		return a.ID < b.ID
	})
	sort.SliceStable(p.Logs, func(i, j int) bool {
		a, b := p.Logs[i], p.Logs[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		if !a.Last.Equal(b.Last) {
			return a.Last.After(b.Last)
		}
		return a.ID < b.ID
	})
	sort.SliceStable(p.Traces, func(i, j int) bool {
		a, b := p.Traces[i], p.Traces[j]
		if a.Error != b.Error {
			return a.Error
		}
		if a.DurationMs != b.DurationMs {
			return a.DurationMs > b.DurationMs
		}
		return a.ID < b.ID
	})
}

// CompactReport says what Compact did.
type CompactReport struct {
	// Before and After are the pack's JSON sizes in bytes.
	Before, After int
	// Dropped are the evidence ids left out, in the order they went;
	// Examples the log patterns whose example was cut; Scope the
	// neighbours left out.
	Dropped  []string
	Examples int
	Scope    int
	// Fits: After ≤ maxBytes. False only when even the skeleton (window,
	// subject, partial sources) and the single best item do not fit.
	Fits bool
}

// Compact returns the pack ranked (Rank) and cut until its JSON is at most
// maxBytes, and what it left out (also counted in the pack's Dropped, so the
// reader knows evidence is missing). It drops, each time the least
// informative first:
//
//  1. flat metrics (IsFlat), the neighbours' before the subject's, and
//     metrics whose numbers repeat a better-ranked metric's (same unit,
//     detail and summary: a callee's server-side 504s as its only caller
//     sees them);
//  2. the examples of the log patterns, fewest lines first, all but the
//     top pattern's;
//  3. any item — metric, log pattern or trace — by score (MetricScore,
//     LogScore, trace scores), so low-count patterns and repeated traces
//     go before the metrics that changed;
//  4. the scope's neighbours that no remaining item is about, then the
//     top pattern's example.
//
// Items whose ids are in keep (the ids the findings cite: the prompt must
// hold what a finding names) are never dropped, though their log examples
// may be cut; when they alone exceed maxBytes the report says it does not
// fit.
//
// The input pack is not modified. A pack that fits is returned ranked and
// otherwise unchanged.
func Compact(in Pack, maxBytes int, keep ...string) (Pack, CompactReport) {
	kept := make(map[string]bool, len(keep))
	for _, id := range keep {
		kept[id] = true
	}
	p := in
	p.Metrics = append([]Metric(nil), in.Metrics...)
	p.Logs = append([]LogPattern(nil), in.Logs...)
	p.Traces = append([]Trace(nil), in.Traces...)
	p.Scope = append([]Neighbour(nil), in.Scope...)
	if in.Dropped != nil {
		d := *in.Dropped
		p.Dropped = &d
	}
	Rank(&p)
	sz := newSizer(&p)
	rep := CompactReport{Before: sz.total()}
	fits := func() bool { return sz.total() <= maxBytes }
	drop := func() *Dropped {
		if p.Dropped == nil {
			p.Dropped = &Dropped{}
		}
		return p.Dropped
	}

	type item struct {
		list         int // 0 metrics, 1 logs, 2 traces
		id           string
		score        float64
		flat, repeat bool
	}
	var items []item
	numbers := map[string]bool{}
	for _, m := range p.Metrics { // ranked: the better of two equals comes first
		key := m.Unit + "\x00" + fmt.Sprint(m.Detail) + "\x00" + string(jsonOf(m.Summary))
		items = append(items, item{list: 0, id: m.ID, score: MetricScore(m, p.Subject, p.Window), flat: IsFlat(m, p.Window),
			repeat: numbers[key] && m.Points > 0})
		numbers[key] = true
	}
	for _, l := range p.Logs {
		items = append(items, item{list: 1, id: l.ID, score: LogScore(l, p.Subject)})
	}
	for i, s := range traceScores(p.Traces) {
		items = append(items, item{list: 2, id: p.Traces[i].ID, score: s})
	}
	// Least informative first; at equal score the later in pack order.
	order := make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return items[order[a]].score < items[order[b]].score })
	gone := make([]bool, len(items))
	remove := func(k int) {
		it := items[k]
		gone[k] = true
		rep.Dropped = append(rep.Dropped, it.id)
		switch it.list {
		case 0:
			i := indexMetric(p.Metrics, it.id)
			p.Metrics = append(p.Metrics[:i], p.Metrics[i+1:]...)
			sz.remove(0, i)
			drop().Metrics++
		case 1:
			i := indexLog(p.Logs, it.id)
			p.Logs = append(p.Logs[:i], p.Logs[i+1:]...)
			sz.remove(1, i)
			drop().Logs++
		case 2:
			i := indexTrace(p.Traces, it.id)
			p.Traces = append(p.Traces[:i], p.Traces[i+1:]...)
			sz.remove(2, i)
			drop().Traces++
		}
		sz.skeletonOf(&p)
	}

	// 1. Flat metrics, and metrics that repeat a better-ranked one's
	// numbers (a callee's server-side 504s seen by its only caller).
	for _, k := range order {
		if fits() {
			break
		}
		if (items[k].flat || items[k].repeat) && !kept[items[k].id] {
			remove(k)
		}
	}
	// 2. Examples, fewest lines first, all but the top pattern's.
	for i := len(p.Logs) - 1; i >= 1 && !fits(); i-- {
		if p.Logs[i].Example != "" {
			p.Logs[i].Example = ""
			rep.Examples++
			sz.lists[1][i] = jsonLen(p.Logs[i])
		}
	}
	// 3. Any item by score, keeping the single best.
	for n, k := range order {
		if fits() || n == len(order)-1 {
			break
		}
		if !gone[k] && !kept[items[k].id] {
			remove(k)
		}
	}
	// 4. Neighbours nothing is about, then the last example.
	if !fits() {
		about := map[string]bool{}
		for _, m := range p.Metrics {
			about[m.Namespace+"/"+m.Workload] = true
			about[m.Peer] = true
			about[m.Namespace+"/"+m.Peer] = true
		}
		for _, l := range p.Logs {
			about[l.Namespace+"/"+l.Workload] = true
		}
		for i := len(p.Scope) - 1; i >= 0 && !fits(); i-- {
			if !about[p.Scope[i].String()] {
				p.Scope = append(p.Scope[:i], p.Scope[i+1:]...)
				rep.Scope++
				drop().Scope++
				sz.skeletonOf(&p)
			}
		}
	}
	if !fits() && len(p.Logs) > 0 && p.Logs[0].Example != "" {
		p.Logs[0].Example = ""
		rep.Examples++
		sz.lists[1][0] = jsonLen(p.Logs[0])
	}
	rep.After = len(p.JSON())
	rep.Fits = rep.After <= maxBytes
	return p, rep
}

func indexMetric(ms []Metric, id string) int {
	for i := range ms {
		if ms[i].ID == id {
			return i
		}
	}
	panic("evidence: metric " + id + " not in pack")
}

func indexLog(ls []LogPattern, id string) int {
	for i := range ls {
		if ls[i].ID == id {
			return i
		}
	}
	panic("evidence: log pattern " + id + " not in pack")
}

func indexTrace(ts []Trace, id string) int {
	for i := range ts {
		if ts[i].ID == id {
			return i
		}
	}
	panic("evidence: trace " + id + " not in pack")
}

// sizer computes a pack's JSON size from the sizes of its parts, so
// dropping an item costs one small marshal instead of the whole pack.
type sizer struct {
	skeleton int
	lists    [3][]int
}

// newSizer measures each item once.
func newSizer(p *Pack) *sizer {
	s := &sizer{}
	s.skeletonOf(p)
	for _, m := range p.Metrics {
		s.lists[0] = append(s.lists[0], jsonLen(m))
	}
	for _, l := range p.Logs {
		s.lists[1] = append(s.lists[1], jsonLen(l))
	}
	for _, t := range p.Traces {
		s.lists[2] = append(s.lists[2], jsonLen(t))
	}
	return s
}

// skeletonOf re-measures the pack without its item lists (after the scope
// or the dropped counts changed).
func (s *sizer) skeletonOf(p *Pack) {
	sk := *p
	sk.Metrics, sk.Logs, sk.Traces = nil, nil, nil
	s.skeleton = len(sk.JSON())
}

// remove forgets item i of list l.
func (s *sizer) remove(l, i int) { s.lists[l] = append(s.lists[l][:i], s.lists[l][i+1:]...) }

var listKeys = [3]string{`"metrics":`, `"logs":`, `"traces":`}

func (s *sizer) total() int {
	n := s.skeleton
	for i, l := range s.lists {
		if len(l) == 0 {
			continue
		}
		n += len(listKeys[i]) + 2 + 1 + len(l) - 1 // key, brackets, the comma before the key, commas between
		for _, x := range l {
			n += x
		}
	}
	return n
}

func jsonLen(v any) int { return len(jsonOf(v)) }

func jsonOf(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
