package incident

import "time"

// One fault, one incident. A fault in one service fires alerts on every
// workload that calls it, and grouping by labels makes an incident of
// each. The incidents worker correlates the open incidents by their
// evidence (pkg/findings' Correlate) and merges the ones that are one fault
// into one: the root, the incident of the workload the findings blame, and
// its affected incidents, each keeping its own alerts and lifecycle. A
// merged incident is not listed on its own; its root's row counts the whole
// group. Every merge and split is recorded (MergeEvent), and a merge is
// undone when later evidence splits the fault apart.

// Merge is an incident's place in a group of incidents that are one fault.
// The store fills it on every read.
type Merge struct {
	// MergedInto is the root incident this one is merged into; 0 when it is
	// not merged (it stands alone, or heads a group).
	MergedInto int64 `json:"mergedInto,omitempty"`
	// Affected are the incidents merged into this one, ascending; empty
	// unless it heads a group.
	Affected []int64 `json:"affected,omitempty"`
	// GroupAlerts and GroupFiring count the alert instances (and those
	// firing now) of the incident and its affected incidents; GroupWorkloads
	// the distinct group keys among them (1 for an incident that heads no
	// group). The list shows "GroupAlerts alerts on GroupWorkloads
	// workloads".
	GroupAlerts    int `json:"groupAlerts,omitempty"`
	GroupFiring    int `json:"groupFiring,omitempty"`
	GroupWorkloads int `json:"groupWorkloads,omitempty"`
	// GroupSeverity is the most severe Severity among the incident and its
	// affected incidents: a caller's critical alert is not hidden behind a
	// root that only warns.
	GroupSeverity string `json:"groupSeverity,omitempty"`
}

// MergeKind is what a MergeEvent did.
type MergeKind string

const (
	// MergeKindMerge: Members were merged into Root.
	MergeKindMerge MergeKind = "merge"
	// MergeKindSplit: Members were split off Root (each stands alone again,
	// or joins another group: a merge event of its own says so).
	MergeKindSplit MergeKind = "split"
)

// MergeEvent is one recorded change of a grouping: when, which incidents,
// which root, and why.
type MergeEvent struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	Kind    MergeKind `json:"kind"`
	Root    int64     `json:"root"`
	Members []int64   `json:"members"`
	Reason  string    `json:"reason"`
}
