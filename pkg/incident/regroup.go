package incident

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Merger is the store's part in "one fault, one incident" (see Merge):
// grouping incidents under a root, atomically and on the record. It is
// embedded in Store.
type Merger interface {
	// Regroup applies a grouping in one transaction at time now (see
	// PlanRegroup for what it changes) and records a MergeEvent for every
	// merge and split it made; it returns them (none when the grouping was
	// already in place). ErrNotFound when it names an incident the store
	// does not hold; nothing is changed then, nor on any other error.
	Regroup(ctx context.Context, now time.Time, r Regrouping) ([]MergeEvent, error)
	// MergeEvents returns the events that name incident id, as root or as
	// member, oldest first.
	MergeEvents(ctx context.Context, id int64) ([]MergeEvent, error)
}

// MergeGroup is one group of a Regrouping: the root incident and the
// incidents merged into it.
type MergeGroup struct {
	Root    int64
	Members []int64
	// Reason says why they are one fault (recorded with the merge).
	Reason string
}

// Regrouping is the grouping the incidents worker decided for a set of
// incidents.
type Regrouping struct {
	// Scope are the incidents the grouping decided about: each one that is
	// in no group stands alone afterwards (it is split off its root if it
	// was merged). The groups' incidents are in scope too.
	Scope []int64
	// Groups are the groups of two or more incidents.
	Groups []MergeGroup
	// SplitReason is recorded with the splits (DefaultSplitReason when
	// empty).
	SplitReason string
}

// DefaultSplitReason is the reason recorded with a split when the
// Regrouping gives none.
const DefaultSplitReason = "the latest evidence no longer ties it to this incident's fault"

// ErrInvalidRegrouping: a Regrouping that names an incident twice, an
// empty group, or an id below 1.
var ErrInvalidRegrouping = errors.New("invalid regrouping")

// PlanRegroup is the regrouping stage, pure: given current, the MergedInto
// of every incident r names and of every incident merged into one of them,
// it returns the MergedInto values to write and the events to record (with
// At now, ID 0).
//
//   - Each group's members are merged into its root, and the root stands
//     alone (a root that was merged into another incident is split off it).
//   - Each incident of the scope in no group stands alone.
//   - Incidents outside the scope keep their root, except that an incident
//     merged into one that now joins a group follows it to the group's
//     root: a root is never itself merged, so a group is one level deep.
//   - An incident that moves from one root to another is recorded as a
//     split off the first and a merge into the second.
//
// Events come splits first, then merges, each by root.
func PlanRegroup(current map[int64]int64, r Regrouping, now time.Time) (map[int64]int64, []MergeEvent, error) {
	desired := map[int64]int64{}
	reason := map[int64]string{}
	named := map[int64]bool{}
	name := func(id int64) error {
		if id < 1 {
			return fmt.Errorf("%w: incident id %d", ErrInvalidRegrouping, id)
		}
		if named[id] {
			return fmt.Errorf("%w: incident %d is in two groups", ErrInvalidRegrouping, id)
		}
		named[id] = true
		return nil
	}
	for _, g := range r.Groups {
		if len(g.Members) == 0 {
			return nil, nil, fmt.Errorf("%w: the group of %d has no members", ErrInvalidRegrouping, g.Root)
		}
		if err := name(g.Root); err != nil {
			return nil, nil, err
		}
		desired[g.Root], reason[g.Root] = 0, g.Reason
		for _, m := range g.Members {
			if err := name(m); err != nil {
				return nil, nil, err
			}
			desired[m] = g.Root
		}
	}
	for _, id := range r.Scope {
		if id < 1 {
			return nil, nil, fmt.Errorf("%w: incident id %d", ErrInvalidRegrouping, id)
		}
		if _, ok := desired[id]; !ok {
			desired[id] = 0
		}
	}
	for id := range desired {
		if _, ok := current[id]; !ok {
			return nil, nil, fmt.Errorf("regroup incident %d: %w", id, ErrNotFound)
		}
	}
	for id, root := range current {
		if _, ok := desired[id]; ok || root == 0 {
			continue
		}
		if to, moved := desired[root]; moved && to != 0 {
			desired[id] = to
		}
	}

	set := map[int64]int64{}
	splits, merges := map[int64][]int64{}, map[int64][]int64{}
	for id, to := range desired {
		from := current[id]
		if from == to {
			continue
		}
		set[id] = to
		if from != 0 {
			splits[from] = append(splits[from], id)
		}
		if to != 0 {
			merges[to] = append(merges[to], id)
		}
	}
	split := r.SplitReason
	if split == "" {
		split = DefaultSplitReason
	}
	var events []MergeEvent
	for _, e := range []struct {
		kind MergeKind
		by   map[int64][]int64
	}{{MergeKindSplit, splits}, {MergeKindMerge, merges}} {
		roots := make([]int64, 0, len(e.by))
		for root := range e.by {
			roots = append(roots, root)
		}
		sort.Slice(roots, func(i, j int) bool { return roots[i] < roots[j] })
		for _, root := range roots {
			ms := e.by[root]
			sort.Slice(ms, func(i, j int) bool { return ms[i] < ms[j] })
			why := split
			if e.kind == MergeKindMerge {
				why = reason[root]
			}
			events = append(events, MergeEvent{At: now.UTC(), Kind: e.kind, Root: root, Members: ms, Reason: why})
		}
	}
	return set, events, nil
}

// Ids returns every incident r names (scope, roots and members), unsorted,
// each once: what a store loads current MergedInto values for.
func (r Regrouping) Ids() []int64 {
	seen := map[int64]bool{}
	var out []int64
	add := func(id int64) {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	for _, id := range r.Scope {
		add(id)
	}
	for _, g := range r.Groups {
		add(g.Root)
		for _, m := range g.Members {
			add(m)
		}
	}
	return out
}
