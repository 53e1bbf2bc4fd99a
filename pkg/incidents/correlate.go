package incidents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"time"

	"github.com/meshwatch/meshwatch/pkg/evidence"
	"github.com/meshwatch/meshwatch/pkg/findings"
	"github.com/meshwatch/meshwatch/pkg/incident"
)

// One fault, one incident: after each capture round the worker groups the
// open incidents whose evidence is captured (Correlate, pure) and applies
// the grouping to the store (incident.Merger.Regroup), which merges and
// splits them on the record.

// Candidate is an open incident with a captured evidence pack, as the
// grouping stage sees it.
type Candidate struct {
	ID int64
	// Onset is when its trouble started (the incident's StartedAt).
	Onset time.Time
	// Case is its pack's subject, window and scope, and its ranked
	// findings.
	Case findings.Case
}

// Faults is the grouping stage, pure, at time now: it decides which of the
// candidates (open incidents) are one fault. Every candidate is in exactly
// one group; a group's Members are indexes into cands, its root incident
// first, the rest ascending; groups come ranked by their top finding
// (findings.Rank's order), as findings.Correlate ranks them.
//
// Incidents are one fault when
//
//   - their onsets fall within one evidence window: sorted by onset, an
//     incident whose onset is later than the one before it by more than
//     the larger of the two windows' leads (the rule's `for`, at least
//     evidence.MinWindowLead: how far a pack reaches back before its
//     alert) starts a new fault;
//   - their findings blame one root (findings.Correlate: an incident
//     whose top finding blames another's workload joins it, incidents
//     blaming the same workload join each other, the blame followed on);
//   - and their workloads are neighbours: in the request graph (the pack's
//     scope), or tied by the evidence the blame cites (istiod's rejects of
//     a proxy's configuration: no request links them, istiod's pack holds
//     the rejects). A member joins only when its workload is the root, has
//     the root in its scope or blames it so, or neighbours a member that
//     does; a blame that cites no evidence and names a workload outside
//     the pack's scope ties nothing.
//
// The group's root incident is the root workload's own incident; when the
// root has none (it fires no alert of its own), the member whose pack sees
// the root best (as its subject or a direct neighbour, before a second-hop
// callee), then the earliest, then the lowest id. The others are its
// affected incidents. Open incidents' windows run to now.
func Faults(cands []Candidate, now time.Time) []findings.Group {
	order := make([]int, len(cands))
	c := make([]Candidate, len(cands))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		x, y := cands[order[a]], cands[order[b]]
		if !x.Onset.Equal(y.Onset) {
			return x.Onset.Before(y.Onset)
		}
		return x.ID < y.ID
	})
	for k, i := range order {
		c[k] = cands[i]
		if c[k].Case.Window.To.Before(now) {
			c[k].Case.Window.To = now
		}
		if !blameTies(c[k].Case) {
			c[k].Case.Findings = nil
		}
	}
	var out []findings.Group
	for start := 0; start < len(c); {
		end := start + 1
		for end < len(c) && c[end].Onset.Sub(c[end-1].Onset) <= max(lead(c[end-1]), lead(c[end])) {
			end++
		}
		for _, g := range faults(c[start:end]) {
			for k := range g.Members {
				g.Members[k] = order[start+g.Members[k]]
			}
			if len(g.Members) > 2 {
				sort.Ints(g.Members[1:])
			}
			out = append(out, g)
		}
		start = end
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Top, out[j].Top
		if ranksBefore(a, b) != ranksBefore(b, a) {
			return ranksBefore(a, b)
		}
		return out[i].Members[0] < out[j].Members[0]
	})
	return out
}

// ranksBefore reports whether findings.Rank puts a before b.
func ranksBefore(a, b findings.Finding) bool {
	fs := []findings.Finding{b, a}
	findings.Rank(fs)
	return !reflect.DeepEqual(fs[0], b)
}

// Correlate is the grouping for the store: Faults' groups of two or more
// incidents, scoped to every candidate (so one left out of every group is
// split off the root it had).
func Correlate(cands []Candidate, now time.Time) incident.Regrouping {
	r := incident.Regrouping{Scope: make([]int64, 0, len(cands)),
		SplitReason: "the latest evidence no longer ties it to this incident's fault"}
	for _, c := range cands {
		r.Scope = append(r.Scope, c.ID)
	}
	for _, g := range Faults(cands, now) {
		if len(g.Members) < 2 {
			continue
		}
		mg := incident.MergeGroup{Root: cands[g.Members[0]].ID}
		workloads := map[evidence.Workload]bool{}
		for k, i := range g.Members {
			workloads[cands[i].Case.Subject] = true
			if k > 0 {
				mg.Members = append(mg.Members, cands[i].ID)
			}
		}
		sort.Slice(mg.Members, func(i, j int) bool { return mg.Members[i] < mg.Members[j] })
		mg.Reason = fmt.Sprintf("%d incidents on %d workloads blame %s (%s), their onsets within one evidence window",
			len(g.Members), len(workloads), g.Root, g.Top.Cause)
		r.Groups = append(r.Groups, mg)
	}
	return r
}

// lead is how far the candidate's evidence window reaches back before its
// onset (at least evidence.MinWindowLead).
func lead(c Candidate) time.Duration {
	d := evidence.MinWindowLead
	if !c.Case.Window.From.IsZero() && c.Onset.Sub(c.Case.Window.From) > d {
		d = c.Onset.Sub(c.Case.Window.From)
	}
	return d
}

// faults groups candidates whose onsets are within one window: members as
// indexes into c, the root incident first.
func faults(c []Candidate) []findings.Group {
	cases := make([]findings.Case, len(c))
	for i := range c {
		cases[i] = c[i].Case
	}
	var out []findings.Group
	for _, g := range findings.Correlate(cases) {
		if len(g.Members) < 2 {
			out = append(out, g)
			continue
		}
		members := connected(c, g.Members, g.Root)
		if len(members) < 2 {
			members = nil
		}
		in := map[int]bool{}
		for _, i := range members {
			in[i] = true
		}
		// The members the request graph does not join stand alone.
		for _, i := range g.Members {
			if !in[i] {
				alone := findings.Correlate([]findings.Case{cases[i]})[0]
				alone.Members = []int{i}
				out = append(out, alone)
			}
		}
		if len(members) == 0 {
			continue
		}
		root := rootOf(c, members, g.Root)
		g.Members = []int{root}
		for _, i := range members {
			if i != root {
				g.Members = append(g.Members, i)
			}
		}
		out = append(out, g)
	}
	return out
}

// sight is how well c's pack sees w: 0 its subject or a direct neighbour,
// 1 a second-hop callee, 2 not at all.
func sight(c findings.Case, w evidence.Workload) int {
	if c.Subject == w {
		return 0
	}
	for _, n := range c.Scope {
		if n.Workload == w {
			if n.Via == "" {
				return 0
			}
			return 1
		}
	}
	return 2
}

// blame is the workload c's top shown finding blames, and whether the
// pack ties it to c: the workload is in the pack's scope (the request
// graph), or the finding cites the pack's evidence about it (istiod's
// rejects of a proxy's configuration are no request, yet its pack holds
// them). ok is false when it blames nothing.
func blame(c findings.Case) (w evidence.Workload, ties, ok bool) {
	for _, f := range c.Findings {
		if f.Score >= findings.Threshold && f.Cause != findings.None {
			return f.Subject(), sight(c, f.Subject()) < 2 || len(f.Evidence) > 0, true
		}
	}
	return evidence.Workload{}, false, false
}

// blameTies reports whether c's blame, if any, is tied to c by its pack.
func blameTies(c findings.Case) bool {
	_, ties, ok := blame(c)
	return !ok || ties
}

// linked reports whether a and b are neighbours: in the request graph (one
// is in the other's scope) or by a tied blame of one on the other.
func linked(a, b findings.Case) bool {
	if sight(a, b.Subject) < 2 || sight(b, a.Subject) < 2 {
		return true
	}
	wa, ta, _ := blame(a)
	wb, tb, _ := blame(b)
	return ta && wa == b.Subject || tb && wb == a.Subject
}

// connected keeps the members (indexes into c) joined to root: those that
// are root, see it in their scope or blame it, and those linked to one
// kept.
func connected(c []Candidate, members []int, root evidence.Workload) []int {
	kept := make([]bool, len(members))
	var queue []int
	for k, i := range members {
		w, ties, _ := blame(c[i].Case)
		if sight(c[i].Case, root) < 2 || ties && w == root {
			kept[k] = true
			queue = append(queue, k)
		}
	}
	for len(queue) > 0 {
		a := c[members[queue[0]]].Case
		queue = queue[1:]
		for k, i := range members {
			if !kept[k] && linked(a, c[i].Case) {
				kept[k] = true
				queue = append(queue, k)
			}
		}
	}
	var out []int
	for k, i := range members {
		if kept[k] {
			out = append(out, i)
		}
	}
	return out
}

// rootOf picks the group's root incident (an index into c) among members.
func rootOf(c []Candidate, members []int, root evidence.Workload) int {
	best := members[0]
	for _, i := range members[1:] {
		si, sb := sight(c[i].Case, root), sight(c[best].Case, root)
		own, bestOwn := c[i].Case.Subject == root, c[best].Case.Subject == root
		switch {
		case own != bestOwn:
			if own {
				best = i
			}
		case si != sb:
			if si < sb {
				best = i
			}
		case !c[i].Onset.Equal(c[best].Onset):
			if c[i].Onset.Before(c[best].Onset) {
				best = i
			}
		case c[i].ID < c[best].ID:
			best = i
		}
	}
	return best
}

// capturedPack is what the grouping reads of a stored pack.
type capturedPack struct {
	Subject evidence.Workload    `json:"subject"`
	Window  evidence.Window      `json:"window"`
	Scope   []evidence.Neighbour `json:"scope"`
}

// candidateOf reads an open incident's stored capture; false when it has
// none the grouping can read.
func candidateOf(inc incident.Incident, ev incident.Evidence) (Candidate, bool) {
	var p capturedPack
	if err := json.Unmarshal(ev.Pack, &p); err != nil || p.Subject.Workload == "" {
		return Candidate{}, false
	}
	var fs []findings.Finding
	if len(ev.Findings) > 0 {
		if err := json.Unmarshal(ev.Findings, &fs); err != nil {
			return Candidate{}, false
		}
	}
	return Candidate{ID: inc.ID, Onset: inc.StartedAt,
		Case: findings.Case{Subject: p.Subject, Window: p.Window, Scope: p.Scope, Findings: fs}}, true
}

// GroupOnce groups the open incidents whose evidence is captured
// (Correlate) and applies the grouping to the store; it returns the merges
// and splits it recorded.
func (s *Service) GroupOnce(ctx context.Context) ([]incident.MergeEvent, error) {
	if s.store == nil {
		return nil, errors.New("the incident store is unavailable")
	}
	open, err := s.store.List(ctx, incident.Filter{State: incident.StateOpen, Limit: incident.DefaultListLimit})
	if err != nil {
		return nil, err
	}
	var cands []Candidate
	for _, inc := range open {
		ev, err := s.store.Evidence(ctx, inc.ID)
		if err != nil {
			continue
		}
		if c, ok := candidateOf(inc, ev); ok {
			cands = append(cands, c)
		}
	}
	now := s.opts.Now()
	events, err := s.store.Regroup(ctx, now, Correlate(cands, now))
	if err != nil {
		return nil, err
	}
	if len(events) > 0 {
		s.hub.Changed()
	}
	return events, nil
}

// group adds to a detail answer the incident's affected incidents with
// their alerts (a root), and the merges and splits that name it.
func (s *Service) group(ctx context.Context, resp *DetailResponse) error {
	for _, id := range resp.Incident.Affected {
		inc, recs, err := s.store.Get(ctx, id)
		if errors.Is(err, incident.ErrNotFound) {
			continue // pruned since
		}
		if err != nil {
			return err
		}
		if recs == nil {
			recs = []incident.Record{}
		}
		resp.Affected = append(resp.Affected, AffectedIncident{Incident: inc, Alerts: recs})
	}
	events, err := s.store.MergeEvents(ctx, resp.Incident.ID)
	if err != nil {
		return err
	}
	if len(events) > 0 {
		resp.Merges = events
	}
	return nil
}
