package findings

import (
	"sort"
	"time"

	"github.com/meshwatch/meshwatch/pkg/evidence"
)

// One fault, one incident. A fault in one service fires alerts on every
// workload that calls it, and Alertmanager, grouping by labels, makes an
// incident of each; the findings know better. Correlate merges the
// incidents whose findings blame the same root: an incident whose top
// finding blames another incident's workload joins it, incidents that blame
// the same workload join each other, and the blame is followed on
// (A blames B, B blames C: one fault, root C) — as long as their windows
// overlap, so a later, unrelated fault of the same workload stays apart.
// Two faults at once stay two incidents because their blame ends at two
// roots.

// Case is one incident as Correlate sees it.
type Case struct {
	// Subject is the incident's workload; Window its evidence window.
	Subject evidence.Workload
	Window  evidence.Window
	// Findings are the incident's ranked findings (Detect).
	Findings []Finding
	// Scope is the pack's scope: how well the incident's pack sees a
	// workload (Group.Top prefers the pack that sees the root best).
	Scope []evidence.Neighbour
}

// sight is how well a case's pack sees w: 0 its subject or a direct
// neighbour (the scope holds their callees too), 1 a second-hop neighbour
// (its callees unseen), 2 not in its scope.
func (c Case) sight(w evidence.Workload) int {
	if w == c.Subject {
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

// Group is the incidents that are one fault.
type Group struct {
	// Root is the workload the group's findings blame.
	Root evidence.Workload
	// Top is the group's finding: the highest-scored finding about Root
	// among the members whose packs see Root best (as their subject or a
	// direct neighbour, whose callees they hold too, before those that
	// have it two calls away); a None finding about Root when none has one.
	Top Finding
	// Members are indexes into the cases, ascending; the first is the
	// root's own incident when it has one.
	Members []int
}

// blamed is the workload a case's top shown finding blames (its own subject
// when it has none).
func (c Case) blamed() evidence.Workload {
	for _, f := range c.Findings {
		if f.Score >= Threshold && f.Cause != None {
			return f.Subject()
		}
	}
	return c.Subject
}

func overlap(a, b evidence.Window) bool {
	if a.From.IsZero() || b.From.IsZero() {
		return true
	}
	end := func(w evidence.Window) time.Time {
		if w.To.IsZero() {
			return w.From.Add(24 * time.Hour)
		}
		return w.To
	}
	return !a.From.After(end(b)) && !b.From.After(end(a))
}

// Correlate groups the cases by the fault their findings blame. Groups come
// ranked by their top finding (Rank's order), the members in case order.
func Correlate(cases []Case) []Group {
	parent := make([]int, len(cases))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	union := func(a, b int) {
		ra, rb := find(a), find(b)
		if ra != rb {
			if ra < rb {
				parent[rb] = ra
			} else {
				parent[ra] = rb
			}
		}
	}
	bySubject := map[evidence.Workload][]int{}
	for i, c := range cases {
		bySubject[c.Subject] = append(bySubject[c.Subject], i)
	}
	for i, c := range cases {
		b := c.blamed()
		for _, j := range bySubject[b] {
			if j != i && overlap(c.Window, cases[j].Window) {
				union(i, j)
			}
		}
		for j := i + 1; j < len(cases); j++ {
			if cases[j].blamed() == b && b != c.Subject && overlap(c.Window, cases[j].Window) {
				union(i, j)
			}
		}
	}
	members := map[int][]int{}
	var roots []int
	for i := range cases {
		r := find(i)
		if _, ok := members[r]; !ok {
			roots = append(roots, r)
		}
		members[r] = append(members[r], i)
	}
	var out []Group
	for _, r := range roots {
		out = append(out, group(cases, members[r]))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if less(out[i].Top, out[j].Top) != less(out[j].Top, out[i].Top) {
			return less(out[i].Top, out[j].Top)
		}
		return out[i].Members[0] < out[j].Members[0]
	})
	return out
}

// group finds a group's root: the blame followed from member to member
// until it stays (or circles), starting from the member whose top finding
// scores highest.
func group(cases []Case, idx []int) Group {
	in := map[evidence.Workload]int{}
	for _, i := range idx {
		if _, ok := in[cases[i].Subject]; !ok {
			in[cases[i].Subject] = i
		}
	}
	best := idx[0]
	for _, i := range idx[1:] {
		if topScore(cases[i]) > topScore(cases[best]) {
			best = i
		}
	}
	root := cases[best].blamed()
	seen := map[evidence.Workload]bool{}
	for !seen[root] {
		seen[root] = true
		j, ok := in[root]
		if !ok {
			break
		}
		next := cases[j].blamed()
		if next == root {
			break
		}
		root = next
	}
	g := Group{Root: root}
	found, sight := false, 4
	for _, i := range idx {
		si := cases[i].sight(root)
		for _, f := range cases[i].Findings {
			if f.Subject() != root || f.Cause == None || f.Score < Threshold {
				continue
			}
			if !found || si < sight || si == sight && less(f, g.Top) {
				g.Top, found, sight = f, true, si
			}
		}
	}
	if !found || g.Top.Score < Threshold {
		g.Top = Finding{Namespace: root.Namespace, Workload: root.Workload, Cause: None, Evidence: []string{},
			Explanation: "no detector found a cause scoring at or above the threshold"}
	}
	if j, ok := in[root]; ok {
		g.Members = append(g.Members, j)
	}
	for _, i := range idx {
		if len(g.Members) == 0 || g.Members[0] != i {
			g.Members = append(g.Members, i)
		}
	}
	sort.Ints(g.Members[1:])
	return g
}

func topScore(c Case) float64 {
	for _, f := range c.Findings {
		if f.Cause != None {
			return f.Score
		}
	}
	return 0
}
