package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/incident"
)

// mergeTests are the suite's tests of incident.Merger (one fault, one
// incident), run by Run.
var mergeTests = []struct {
	name string
	fn   func(t *testing.T, s incident.Store)
}{
	{"MergeOneFault", testMergeOneFault},
	{"MergeUndoneBySplit", testMergeSplit},
	{"MergeFollowsRootIntoAnotherGroup", testMergeFlatten},
	{"MergeRefusedLeavesAllAsItWas", testMergeRefused},
	{"MergeSurvivesIngestAndPrune", testMergeIngestPrune},
	{"MergeGroupSeverity", testMergeSeverity},
}

// cascade ingests a timeout cascade's alerts: six alerts on three
// workloads of shop (web and api call stock), and returns the incident ids
// of web, api and stock.
func cascade(t *testing.T, s incident.Store) (web, api, stock int64) {
	t.Helper()
	res := ingest(t, s, at(2*time.Minute),
		istio5xx(t, at(0), "shop", "stock"),
		errorBudget(t, at(10*time.Second), "shop", "stock", "critical"),
		istio5xx(t, at(40*time.Second), "shop", "api"),
		errorBudget(t, at(50*time.Second), "shop", "api", "warning"),
		istio5xx(t, at(70*time.Second), "shop", "web"),
		errorBudget(t, at(80*time.Second), "shop", "web", "warning"),
	)
	byKey := map[string]int64{}
	for _, c := range res.Changes {
		byKey[c.Incident.Key.String()] = c.Incident.ID
	}
	web, api, stock = byKey["shop/web"], byKey["shop/api"], byKey["shop/stock"]
	if web == 0 || api == 0 || stock == 0 || len(byKey) != 3 {
		t.Fatalf("the cascade's incidents: %v", byKey)
	}
	return web, api, stock
}

func regroup(t *testing.T, s incident.Store, now time.Time, r incident.Regrouping) []incident.MergeEvent {
	t.Helper()
	ev, err := s.Regroup(ctx, now, r)
	if err != nil {
		t.Fatalf("Regroup(%+v): %v", r, err)
	}
	return ev
}

func sameIDs(a, b []int64) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// Merging the cascade's incidents under the root: the grouped list has one
// row counting all six alerts on three workloads; the root lists its
// affected incidents, each keeps its own alerts and points to the root; the
// merge is recorded once, and applying the same grouping again records
// nothing. Merging is no lifecycle change (Version stays).
func testMergeOneFault(t *testing.T, s incident.Store) {
	web, api, stock := cascade(t, s)
	before, _ := get(t, s, web)
	r := incident.Regrouping{Scope: []int64{web, api, stock},
		Groups: []incident.MergeGroup{{Root: stock, Members: []int64{web, api}, Reason: "web and api blame stock: timeout-cascade"}}}
	now := at(3 * time.Minute)
	ev := regroup(t, s, now, r)
	if len(ev) != 1 || ev[0].Kind != incident.MergeKindMerge || ev[0].Root != stock || !ev[0].At.Equal(now) || ev[0].ID == 0 ||
		!sameIDs(ev[0].Members, sortedIDs(web, api)) || ev[0].Reason != r.Groups[0].Reason {
		t.Fatalf("events: %+v", ev)
	}
	rows := list(t, s, incident.Filter{Grouped: true})
	if len(rows) != 1 || rows[0].ID != stock {
		t.Fatalf("grouped list: %v, want only the root %d", ids(rows), stock)
	}
	root := rows[0]
	if root.GroupAlerts != 6 || root.GroupFiring != 6 || root.GroupWorkloads != 3 || root.Alerts != 2 ||
		!sameIDs(root.Affected, sortedIDs(web, api)) || root.MergedInto != 0 {
		t.Errorf("root row: alerts %d (own %d) firing %d on %d workloads, affected %v, merged into %d",
			root.GroupAlerts, root.Alerts, root.GroupFiring, root.GroupWorkloads, root.Affected, root.MergedInto)
	}
	if all := list(t, s, incident.Filter{}); len(all) != 3 {
		t.Errorf("the full list has %d incidents, want 3 (merging deletes nothing)", len(all))
	}
	m, recs := get(t, s, web)
	if m.MergedInto != stock || len(recs) != 2 || m.Alerts != 2 || len(m.Affected) != 0 || m.GroupWorkloads != 1 {
		t.Errorf("member: merged into %d, %d records, affected %v, %d workloads", m.MergedInto, len(recs), m.Affected, m.GroupWorkloads)
	}
	if m.Version != before.Version || !m.UpdatedAt.Equal(before.UpdatedAt) {
		t.Errorf("merging changed the lifecycle: version %d→%d", before.Version, m.Version)
	}
	if g, _ := get(t, s, stock); g.GroupAlerts != 6 || !sameIDs(g.Affected, sortedIDs(web, api)) {
		t.Errorf("Get(root): %d alerts, affected %v", g.GroupAlerts, g.Affected)
	}
	if again := regroup(t, s, at(4*time.Minute), r); len(again) != 0 {
		t.Errorf("the same grouping again recorded %+v", again)
	}
	for _, id := range []int64{web, stock} {
		es, err := s.MergeEvents(ctx, id)
		if err != nil || len(es) != 1 || es[0].ID != ev[0].ID || !es[0].At.Equal(now) || !sameIDs(es[0].Members, ev[0].Members) {
			t.Errorf("MergeEvents(%d): %+v %v", id, es, err)
		}
	}
}

func sortedIDs(ids ...int64) []int64 {
	out := append([]int64{}, ids...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// Later evidence splits the fault apart: an incident left out of every
// group stands alone again, listed on its own, and the split is recorded;
// one that moves to another root is split off the first and merged into
// the second.
func testMergeSplit(t *testing.T, s incident.Store) {
	web, api, stock := cascade(t, s)
	all := []int64{web, api, stock}
	regroup(t, s, at(3*time.Minute), incident.Regrouping{Scope: all,
		Groups: []incident.MergeGroup{{Root: stock, Members: []int64{web, api}, Reason: "cascade"}}})
	ev := regroup(t, s, at(5*time.Minute), incident.Regrouping{Scope: all, SplitReason: "api crashes on its own",
		Groups: []incident.MergeGroup{{Root: stock, Members: []int64{web}, Reason: "cascade"}}})
	if len(ev) != 1 || ev[0].Kind != incident.MergeKindSplit || ev[0].Root != stock || !sameIDs(ev[0].Members, []int64{api}) ||
		ev[0].Reason != "api crashes on its own" {
		t.Fatalf("split events: %+v", ev)
	}
	rows := list(t, s, incident.Filter{Grouped: true})
	if !sameIDs(sortedIDs(ids(rows)...), sortedIDs(api, stock)) {
		t.Fatalf("grouped list after the split: %v", ids(rows))
	}
	if a, _ := get(t, s, api); a.MergedInto != 0 {
		t.Errorf("api still merged into %d", a.MergedInto)
	}
	if r, _ := get(t, s, stock); r.GroupAlerts != 4 || r.GroupWorkloads != 2 || !sameIDs(r.Affected, []int64{web}) {
		t.Errorf("root after the split: %d alerts on %d workloads, affected %v", r.GroupAlerts, r.GroupWorkloads, r.Affected)
	}
	// web now blames api: split off stock, merged into api.
	ev = regroup(t, s, at(6*time.Minute), incident.Regrouping{Scope: all,
		Groups: []incident.MergeGroup{{Root: api, Members: []int64{web}, Reason: "web blames api"}}})
	if len(ev) != 2 || ev[0].Kind != incident.MergeKindSplit || ev[0].Root != stock || ev[1].Kind != incident.MergeKindMerge ||
		ev[1].Root != api || !sameIDs(ev[1].Members, []int64{web}) || ev[0].Reason != incident.DefaultSplitReason {
		t.Fatalf("move events: %+v", ev)
	}
	es, err := s.MergeEvents(ctx, web)
	if err != nil || len(es) != 3 || es[0].Kind != incident.MergeKindMerge || es[2].Root != api {
		t.Errorf("web's record: %+v %v", es, err)
	}
	// Everything apart: each stands alone.
	ev = regroup(t, s, at(7*time.Minute), incident.Regrouping{Scope: all})
	if len(ev) != 1 || ev[0].Kind != incident.MergeKindSplit || ev[0].Root != api {
		t.Errorf("last split: %+v", ev)
	}
	if rows := list(t, s, incident.Filter{Grouped: true}); len(rows) != 3 {
		t.Errorf("grouped list with no group: %v", ids(rows))
	}
}

// A group is one level deep: when a root joins another group, the
// incidents merged into it that the grouping did not name (a member that
// resolved and left the worker's scope) follow it to the new root.
func testMergeFlatten(t *testing.T, s incident.Store) {
	web, api, stock := cascade(t, s)
	regroup(t, s, at(3*time.Minute), incident.Regrouping{Scope: []int64{web, api},
		Groups: []incident.MergeGroup{{Root: api, Members: []int64{web}, Reason: "web blames api"}}})
	ev := regroup(t, s, at(4*time.Minute), incident.Regrouping{Scope: []int64{api, stock},
		Groups: []incident.MergeGroup{{Root: stock, Members: []int64{api}, Reason: "api blames stock"}}})
	if len(ev) != 2 || ev[1].Kind != incident.MergeKindMerge || ev[1].Root != stock || !sameIDs(ev[1].Members, sortedIDs(web, api)) {
		t.Fatalf("events: %+v", ev)
	}
	if w, _ := get(t, s, web); w.MergedInto != stock {
		t.Errorf("web merged into %d, want the new root %d", w.MergedInto, stock)
	}
	if rows := list(t, s, incident.Filter{Grouped: true}); len(rows) != 1 || rows[0].GroupWorkloads != 3 {
		t.Errorf("grouped list: %+v", rows)
	}
}

// A grouping the store refuses (an unknown incident, one incident in two
// groups, an empty group, a cancelled context) changes nothing and records
// nothing.
func testMergeRefused(t *testing.T, s incident.Store) {
	web, api, stock := cascade(t, s)
	for name, r := range map[string]incident.Regrouping{
		"unknown incident": {Scope: []int64{web, api, stock}, Groups: []incident.MergeGroup{
			{Root: stock, Members: []int64{web}}, {Root: api, Members: []int64{stock + 1000}}}},
		"in two groups": {Groups: []incident.MergeGroup{{Root: stock, Members: []int64{web}}, {Root: api, Members: []int64{web}}}},
		"root a member": {Groups: []incident.MergeGroup{{Root: stock, Members: []int64{web, stock}}}},
		"empty group":   {Groups: []incident.MergeGroup{{Root: stock}}},
		"zero id":       {Groups: []incident.MergeGroup{{Root: stock, Members: []int64{0}}}},
	} {
		ev, err := s.Regroup(ctx, at(3*time.Minute), r)
		if err == nil {
			t.Errorf("%s: accepted, events %+v", name, ev)
		}
		if name == "unknown incident" && !errors.Is(err, incident.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
	}
	c, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Regroup(c, at(3*time.Minute), incident.Regrouping{
		Groups: []incident.MergeGroup{{Root: stock, Members: []int64{web, api}}}}); err == nil {
		t.Error("Regroup with a cancelled context succeeded")
	}
	if _, err := s.Regroup(ctx, time.Time{}, incident.Regrouping{Groups: []incident.MergeGroup{{Root: stock, Members: []int64{web}}}}); err == nil {
		t.Error("Regroup without a time succeeded")
	}
	if rows := list(t, s, incident.Filter{Grouped: true}); len(rows) != 3 {
		t.Errorf("after refused groupings the grouped list has %d rows, want 3", len(rows))
	}
	for _, id := range []int64{web, api, stock} {
		if es, err := s.MergeEvents(ctx, id); err != nil || len(es) != 0 {
			t.Errorf("MergeEvents(%d) after refused groupings: %+v %v", id, es, err)
		}
	}
}

// A member's alerts keep arriving into the member (its own lifecycle),
// counted in its root's row; a member that resolves stays merged (the
// fault's history); pruning the root leaves its members standing alone and
// takes the root's record with it.
func testMergeIngestPrune(t *testing.T, s incident.Store) {
	web, api, stock := cascade(t, s)
	regroup(t, s, at(3*time.Minute), incident.Regrouping{Scope: []int64{web, api, stock},
		Groups: []incident.MergeGroup{{Root: stock, Members: []int64{web, api}, Reason: "cascade"}}})
	one(t, ingest(t, s, at(4*time.Minute), crashLooping(t, at(4*time.Minute), "shop", "web-6c9d8f7b5-x2x9q")))
	if w, _ := get(t, s, web); w.MergedInto != stock || w.Alerts != 3 {
		t.Errorf("web after a new alert: merged into %d, %d alerts", w.MergedInto, w.Alerts)
	}
	if r := list(t, s, incident.Filter{Grouped: true}); len(r) != 1 || r[0].GroupAlerts != 7 {
		t.Errorf("grouped list after a member's new alert: %+v", r)
	}
	// The fault resolves: the root first, then its callers.
	resolveAll := func(id int64, when time.Time) {
		_, recs := get(t, s, id)
		var ends []incident.Alert
		for _, r := range recs {
			ends = append(ends, resolve(t, r.Alert, when))
		}
		ingest(t, s, when, ends...)
	}
	resolveAll(stock, at(10*time.Minute))
	resolveAll(web, at(20*time.Minute))
	resolveAll(api, at(20*time.Minute))
	if w, _ := get(t, s, web); w.State != incident.StateResolved || w.MergedInto != stock {
		t.Errorf("resolved member: %s, merged into %d", w.State, w.MergedInto)
	}
	if rows := list(t, s, incident.Filter{Grouped: true, State: incident.StateResolved}); len(rows) != 1 || rows[0].ID != stock {
		t.Errorf("resolved grouped list: %v", ids(rows))
	}
	// Prune the root only.
	if n, err := s.Prune(ctx, at(15*time.Minute)); err != nil || n != 1 {
		t.Fatalf("prune: %d %v", n, err)
	}
	if w, _ := get(t, s, web); w.MergedInto != 0 {
		t.Errorf("web still merged into the pruned %d", w.MergedInto)
	}
	if rows := list(t, s, incident.Filter{Grouped: true}); !sameIDs(sortedIDs(ids(rows)...), sortedIDs(web, api)) {
		t.Errorf("grouped list after pruning the root: %v", ids(rows))
	}
	if es, err := s.MergeEvents(ctx, web); err != nil || len(es) != 0 {
		t.Errorf("merge events after pruning the root: %+v %v", es, err)
	}
}

// A group is as severe as its most severe incident: a root that only warns
// heads a critical caller's incident, and the grouped row says critical.
func testMergeSeverity(t *testing.T, s incident.Store) {
	res := ingest(t, s, at(time.Minute),
		crashLooping(t, at(0), "shop", "cart-5b8f9c6d4-qk2lm"),
		istio5xx(t, at(10*time.Second), "shop", "checkout"))
	byKey := map[string]incident.Incident{}
	for _, c := range res.Changes {
		byKey[c.Incident.Key.String()] = c.Incident
	}
	cart, checkout := byKey["shop/cart"], byKey["shop/checkout"]
	if cart.Severity != "warning" || checkout.Severity != "critical" {
		t.Fatalf("fixture severities: cart %q checkout %q", cart.Severity, checkout.Severity)
	}
	if l := list(t, s, incident.Filter{}); len(l) != 2 || l[0].GroupSeverity != l[0].Severity {
		t.Errorf("an incident on its own: group severity %q, own %q", l[0].GroupSeverity, l[0].Severity)
	}
	regroup(t, s, at(2*time.Minute), incident.Regrouping{Scope: []int64{cart.ID, checkout.ID},
		Groups: []incident.MergeGroup{{Root: cart.ID, Members: []int64{checkout.ID}, Reason: "checkout blames cart"}}})
	rows := list(t, s, incident.Filter{Grouped: true})
	if len(rows) != 1 || rows[0].ID != cart.ID || rows[0].Severity != "warning" || rows[0].GroupSeverity != "critical" {
		t.Errorf("the grouped row: %+v", rows)
	}
	if g, _ := get(t, s, cart.ID); g.GroupSeverity != "critical" {
		t.Errorf("Get(root): group severity %q", g.GroupSeverity)
	}
}
