// Package storetest is the conformance suite every incident.Store driver
// passes (SQLite now, PostgreSQL for Grafana in HA later): the behaviour
// users rely on, checked through the Store interface only.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/incident"
)

// Config is the configuration the suite expects its stores to have: the
// default grouping labels and incident.DefaultRules.
var Config = incident.Config{Rules: incident.DefaultRules}

// Run runs the suite. open must return a new, empty store opened with
// Config; the suite closes it.
func Run(t *testing.T, open func(t *testing.T) incident.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s incident.Store)
	}{
		{"Dedupe", testDedupe},
		{"Grouping", testGrouping},
		{"ResolveWhenAllResolve", testResolve},
		{"ReopenWithinWindow", testReopen},
		{"NewIncidentAfterWindow", testNewAfterWindow},
		{"ReopenTakesLatestResolved", testReopenLatest},
		{"Flapping", testFlapping},
		{"StaleFiringAfterResolveIgnored", testStale},
		{"ResolvedNeverSeenFiring", testResolvedOnly},
		{"CompleteBatchResolvesMissingOfItsSource", testComplete},
		{"ListFiltersAndOrder", testList},
		{"GetRecords", testGet},
		{"Prune", testPrune},
		{"SchemaVersion", testSchemaVersion},
		{"Evidence", testEvidence},
		{"Analyses", testAnalyses},
		{"CancelledIngestStoresNothing", testCancelled},
		{"ConcurrentIngest", testConcurrent},
	}
	tests = append(tests, mergeTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

var ctx = context.Background()

func ingest(t *testing.T, s incident.Store, now time.Time, alerts ...incident.Alert) incident.Ingested {
	t.Helper()
	return ingestBatch(t, s, now, incident.Batch{Source: sourceOf(alerts), Alerts: alerts})
}

func ingestBatch(t *testing.T, s incident.Store, now time.Time, b incident.Batch) incident.Ingested {
	t.Helper()
	res, err := s.Ingest(ctx, now, b)
	if err != nil {
		t.Fatalf("Ingest at %s: %v", now.Sub(t0), err)
	}
	for _, c := range res.Changes {
		if c.Incident.ID == 0 {
			t.Fatalf("Ingest returned a change without an incident id: %+v", c.Incident)
		}
	}
	return res
}

func sourceOf(alerts []incident.Alert) string {
	if len(alerts) == 0 {
		return incident.SourceAlertmanager
	}
	return alerts[0].Source
}

// one returns the only change of res.
func one(t *testing.T, res incident.Ingested) incident.Change {
	t.Helper()
	if len(res.Changes) != 1 {
		t.Fatalf("want 1 changed incident, got %d: %+v", len(res.Changes), res.Changes)
	}
	return res.Changes[0]
}

func get(t *testing.T, s incident.Store, id int64) (incident.Incident, []incident.Record) {
	t.Helper()
	inc, recs, err := s.Get(ctx, id)
	if err != nil {
		t.Fatalf("Get(%d): %v", id, err)
	}
	return inc, recs
}

func list(t *testing.T, s incident.Store, f incident.Filter) []incident.Incident {
	t.Helper()
	l, err := s.List(ctx, f)
	if err != nil {
		t.Fatalf("List(%+v): %v", f, err)
	}
	return l
}

func ids(l []incident.Incident) []int64 {
	out := make([]int64, len(l))
	for i, inc := range l {
		out[i] = inc.ID
	}
	return out
}

func fingerprints(recs []incident.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Fingerprint
	}
	return out
}

func sortedFPs(alerts ...incident.Alert) []string {
	out := make([]string, len(alerts))
	for i, a := range alerts {
		out[i] = a.Fingerprint
	}
	sort.Strings(out)
	return out
}

// sameAlert reports how stored record r differs from delivered alert a.
func sameAlert(r incident.Record, a incident.Alert) error {
	switch {
	case r.Fingerprint != a.Fingerprint:
		return fmt.Errorf("fingerprint %s, delivered %s", r.Fingerprint, a.Fingerprint)
	case r.Status != a.Status:
		return fmt.Errorf("status %s, delivered %s", r.Status, a.Status)
	case !r.StartsAt.Equal(a.StartsAt):
		return fmt.Errorf("startsAt %s, delivered %s", r.StartsAt.Format(time.RFC3339Nano), a.StartsAt.Format(time.RFC3339Nano))
	case !r.EndsAt.Equal(a.EndsAt):
		return fmt.Errorf("endsAt %s, delivered %s", r.EndsAt.Format(time.RFC3339Nano), a.EndsAt.Format(time.RFC3339Nano))
	case !mapsEqual(r.Labels, a.Labels):
		return fmt.Errorf("labels %v, delivered %v", r.Labels, a.Labels)
	case !mapsEqual(r.Annotations, a.Annotations):
		return fmt.Errorf("annotations %v, delivered %v", r.Annotations, a.Annotations)
	case r.GeneratorURL != a.GeneratorURL:
		return fmt.Errorf("generatorURL %q, delivered %q", r.GeneratorURL, a.GeneratorURL)
	case r.Source != a.Source:
		return fmt.Errorf("source %q, delivered %q", r.Source, a.Source)
	}
	return nil
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// The same alerts delivered twice (and once more by a reconcile) are one
// incident with the same alerts; the repeats are counted as ignored.
func testDedupe(t *testing.T, s incident.Store) {
	pod := crashLooping(t, at(0), "shop", "checkout-7d9f8b6c5d-x2x9q")
	dep := replicasMismatch(t, at(time.Minute), "shop", "checkout")
	slo := errorBudget(t, at(2*time.Minute), "finance", "ledger", "critical")

	first := ingest(t, s, at(3*time.Minute), pod, dep, slo)
	if len(first.Changes) != 2 || first.Ignored != 0 {
		t.Fatalf("first delivery: want 2 new incidents and nothing ignored, got %d changes, %d ignored", len(first.Changes), first.Ignored)
	}
	for _, c := range first.Changes {
		if !c.Created {
			t.Errorf("first delivery: incident %s not reported as created", c.Incident.Key)
		}
	}

	second := ingest(t, s, at(4*time.Minute), pod, dep, slo)
	if len(second.Changes) != 0 || second.Ignored != 3 {
		t.Errorf("repeat delivery: want no change and 3 ignored, got %d changes, %d ignored", len(second.Changes), second.Ignored)
	}
	reconcile := ingestBatch(t, s, at(5*time.Minute), incident.Batch{Source: incident.SourceAlertmanager, Alerts: []incident.Alert{slo, dep, pod}, Complete: true})
	if len(reconcile.Changes) != 0 || reconcile.Ignored != 3 || reconcile.MissingResolved != 0 {
		t.Errorf("reconcile of the same alerts: want no change, 3 ignored, 0 resolved; got %d changes, %d ignored, %d resolved",
			len(reconcile.Changes), reconcile.Ignored, reconcile.MissingResolved)
	}

	l := list(t, s, incident.Filter{})
	if len(l) != 2 {
		t.Fatalf("want 2 incidents, got %d: %+v", len(l), l)
	}
	for _, inc := range l {
		want := map[string]int{"shop/checkout": 2, "finance/ledger": 1}[inc.Key.String()]
		if inc.Alerts != want || inc.Firing != want || inc.Version != 1 {
			t.Errorf("incident %s: want %d alerts, all firing, version 1; got %d alerts, %d firing, version %d",
				inc.Key, want, inc.Alerts, inc.Firing, inc.Version)
		}
	}
	var checkout incident.Change
	for _, c := range first.Changes {
		if c.Incident.Key.Workload == "checkout" {
			checkout = c
		}
	}
	_, recs := get(t, s, checkout.Incident.ID)
	if got, want := fingerprints(recs), sortedFPs(pod, dep); !slices.Equal(sorted(got), want) {
		t.Fatalf("checkout's records: want %v, got %v", want, got)
	}
	for _, r := range recs {
		a := pod
		if r.Fingerprint == dep.Fingerprint {
			a = dep
		}
		if err := sameAlert(r, a); err != nil {
			t.Errorf("record %s (%s): %v", r.Fingerprint, r.Name(), err)
		}
		if !r.FirstSeen.Equal(at(3 * time.Minute)) {
			t.Errorf("record %s: firstSeen %s, want the first delivery's time", r.Fingerprint, r.FirstSeen)
		}
	}
}

// podHash is the j-th five-character pod hash, in the alphabet Kubernetes
// draws them from.
func podHash(j int) string {
	const safe = "bcdfghjklmnpqrstvwxz2456789"
	b := []byte("xxxxx")
	for i := range b {
		b[i] = safe[j%len(safe)]
		j /= len(safe)
	}
	return string(b)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

// Alerts group by namespace and workload, whichever label names the
// workload; a pod's ReplicaSet hash is dropped; node alerts group by name.
func testGrouping(t *testing.T, s incident.Store) {
	alerts := []incident.Alert{
		crashLooping(t, at(0), "shop", "checkout-7d9f8b6c5d-x2x9q"),
		replicasMismatch(t, at(time.Second), "shop", "checkout"),
		crashLooping(t, at(2*time.Second), "shop", "checkout-7d9f8b6c5d-h7k4p"),
		crashLooping(t, at(3*time.Second), "shop", "cart-5b8f9c6d4-qk2lm"),
		replicasMismatch(t, at(4*time.Second), "staging", "checkout"),
		istio5xx(t, at(5*time.Second), "shop", "recommendation"),
		errorBudget(t, at(6*time.Second), "finance", "ledger", "critical"),
		filesystemFilling(t, at(7*time.Second), "10.0.0.12:9100"),
		filesystemFilling(t, at(8*time.Second), "10.0.0.13:9100"),
		clockSkew(t, at(9*time.Second), "10.0.0.12:9100"),
	}
	res := ingest(t, s, at(time.Minute), alerts...)
	want := map[string]int{ // key → alerts
		"shop/checkout":       3,
		"shop/cart":           1,
		"staging/checkout":    1,
		"shop/recommendation": 1,
		"finance/ledger":      1,
		"/alertname=NodeFilesystemSpaceFillingUp": 2,
		"/alertname=NodeClockSkewDetected":        1,
	}
	var keys []string
	for _, c := range res.Changes {
		keys = append(keys, c.Incident.Key.String())
	}
	if !sort.StringsAreSorted(keys) {
		t.Errorf("Ingested.Changes not in group-key order: %v", keys)
	}
	got := map[string]int{}
	for _, inc := range list(t, s, incident.Filter{}) {
		if _, dup := got[inc.Key.String()]; dup {
			t.Errorf("two incidents for %s", inc.Key)
		}
		got[inc.Key.String()] = inc.Alerts
		if inc.State != incident.StateOpen {
			t.Errorf("incident %s is %s, want open", inc.Key, inc.State)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("incidents by key (alerts in each):\n got %v\nwant %v", got, want)
	}
	for _, inc := range list(t, s, incident.Filter{}) {
		if inc.Key.Namespace == "" && inc.Key.Workload != "" {
			t.Errorf("node alert grouped under workload %q", inc.Key.Workload)
		}
		if inc.Key.String() == "shop/recommendation" && (inc.Title != "IstioDestination5xxRatioHigh" || inc.Severity != "critical") {
			t.Errorf("Istio incident: title %q severity %q", inc.Title, inc.Severity)
		}
	}
}

// An incident stays open while any alert fires, and resolves when the last
// one does, at that alert's endsAt.
func testResolve(t *testing.T, s incident.Store) {
	pod := crashLooping(t, at(0), "shop", "checkout-7d9f8b6c5d-x2x9q")
	dep := replicasMismatch(t, at(time.Minute), "shop", "checkout")
	id := one(t, ingest(t, s, at(2*time.Minute), pod, dep)).Incident.ID

	c := one(t, ingest(t, s, at(10*time.Minute), resolve(t, pod, at(9*time.Minute))))
	if c.Incident.ID != id || c.Incident.State != incident.StateOpen || c.Incident.Firing != 1 || c.Resolved {
		t.Fatalf("one of two resolved: want incident %d open with 1 firing, got %+v (resolved=%v)", id, c.Incident, c.Resolved)
	}
	c = one(t, ingest(t, s, at(13*time.Minute), resolve(t, dep, at(12*time.Minute))))
	if c.Incident.State != incident.StateResolved || !c.Resolved || c.Incident.Firing != 0 || c.Incident.Alerts != 2 {
		t.Fatalf("both resolved: want resolved with 2 alerts, 0 firing, got %+v (resolved=%v)", c.Incident, c.Resolved)
	}
	inc, recs := get(t, s, id)
	if inc.State != incident.StateResolved || !inc.ResolvedAt.Equal(at(12*time.Minute)) {
		t.Errorf("stored: state %s resolvedAt %s, want resolved at the last endsAt %s", inc.State, inc.ResolvedAt, at(12*time.Minute))
	}
	if !inc.StartedAt.Equal(at(0)) || !inc.UpdatedAt.Equal(at(13*time.Minute)) {
		t.Errorf("stored: startedAt %s updatedAt %s", inc.StartedAt, inc.UpdatedAt)
	}
	for _, r := range recs {
		if !r.Resolved() || r.EndsAt.IsZero() {
			t.Errorf("record %s: %s, endsAt %s; want resolved with its endsAt", r.Name(), r.Status, r.EndsAt)
		}
	}
	if open := list(t, s, incident.Filter{State: incident.StateOpen}); len(open) != 0 {
		t.Errorf("open incidents after resolution: %+v", open)
	}
}

// resolvedIncident fires and resolves the ledger alert, returning it, the
// incident's id and when it resolved.
func resolvedIncident(t *testing.T, s incident.Store) (incident.Alert, int64, time.Time) {
	a := errorBudget(t, at(0), "finance", "ledger", "critical")
	id := one(t, ingest(t, s, at(time.Minute), a)).Incident.ID
	end := at(20 * time.Minute)
	if c := one(t, ingest(t, s, end, resolve(t, a, end))); !c.Resolved {
		t.Fatalf("not resolved: %+v", c)
	}
	return a, id, end
}

// An alert of the key firing again within the reopen window reopens the
// same incident.
func testReopen(t *testing.T, s incident.Store) {
	a, id, end := resolvedIncident(t, s)
	now := end.Add(incident.DefaultRules.ReopenWindow / 2)
	c := one(t, ingest(t, s, now, again(t, a, now)))
	if c.Incident.ID != id || !c.Reopened || c.Created || c.Incident.State != incident.StateOpen {
		t.Fatalf("want incident %d reopened, got %+v (created=%v reopened=%v)", id, c.Incident, c.Created, c.Reopened)
	}
	inc, recs := get(t, s, id)
	if len(inc.Reopens) != 1 || !inc.Reopens[0].Equal(now) || !inc.ResolvedAt.IsZero() || inc.Alerts != 1 || inc.Firing != 1 {
		t.Errorf("stored after reopen: %+v", inc)
	}
	if len(recs) != 1 || recs[0].Status != incident.StatusFiring || !recs[0].StartsAt.Equal(now) {
		t.Errorf("records after reopen: %+v", recs)
	}
	// Another key's alert does not reopen it.
	other := one(t, ingest(t, s, now, errorBudget(t, now, "finance", "ledger-worker", "critical")))
	if other.Incident.ID == id || !other.Created {
		t.Errorf("another workload's alert joined incident %d", id)
	}
}

// Past the reopen window, the same alert opens a new incident; the old one
// stays resolved.
func testNewAfterWindow(t *testing.T, s incident.Store) {
	a, id, end := resolvedIncident(t, s)
	now := end.Add(incident.DefaultRules.ReopenWindow + time.Minute)
	c := one(t, ingest(t, s, now, again(t, a, now)))
	if c.Incident.ID == id || !c.Created || c.Incident.State != incident.StateOpen {
		t.Fatalf("want a new open incident, got %+v (created=%v)", c.Incident, c.Created)
	}
	old, _ := get(t, s, id)
	if old.State != incident.StateResolved || len(old.Reopens) != 0 {
		t.Errorf("the old incident changed: %+v", old)
	}
	if l := list(t, s, incident.Filter{}); len(l) != 2 {
		t.Errorf("want 2 incidents, got %d", len(l))
	}
}

// Of several resolved incidents of one key, the one that resolved last is
// the one an alert reopens.
func testReopenLatest(t *testing.T, s incident.Store) {
	a, first, end := resolvedIncident(t, s)
	now := end.Add(incident.DefaultRules.ReopenWindow + time.Minute)
	second := one(t, ingest(t, s, now, again(t, a, now))).Incident.ID
	end2 := now.Add(5 * time.Minute)
	one(t, ingest(t, s, end2, resolve(t, again(t, a, now), end2)))
	now = end2.Add(time.Minute)
	c := one(t, ingest(t, s, now, again(t, a, now)))
	if c.Incident.ID != second || !c.Reopened {
		t.Errorf("want incident %d (resolved last) reopened, got %d (first was %d)", second, c.Incident.ID, first)
	}
}

// Three reopens within an hour flag the incident as flapping; once they
// are older than the hour, the next change clears the flag.
func testFlapping(t *testing.T, s incident.Store) {
	a := istio5xx(t, at(0), "shop", "recommendation")
	id := one(t, ingest(t, s, at(0), a)).Incident.ID
	cur := a
	var c incident.Change
	for i := 1; i <= incident.DefaultRules.FlapReopens; i++ {
		end := at(time.Duration(4*i-2) * time.Minute)
		one(t, ingest(t, s, end, resolve(t, cur, end)))
		start := at(time.Duration(4*i) * time.Minute)
		cur = again(t, a, start)
		c = one(t, ingest(t, s, start, cur))
		if c.Incident.ID != id || !c.Reopened {
			t.Fatalf("reopen %d: want incident %d reopened, got %+v", i, id, c.Incident)
		}
		if want := i >= incident.DefaultRules.FlapReopens; c.Incident.Flapping != want {
			t.Errorf("after %d reopens in %s: flapping %v, want %v", i, start.Sub(at(0)), c.Incident.Flapping, want)
		}
	}
	if inc, _ := get(t, s, id); !inc.Flapping || len(inc.Reopens) != incident.DefaultRules.FlapReopens {
		t.Errorf("stored: flapping %v with %d reopens", inc.Flapping, len(inc.Reopens))
	}
	later := c.Incident.Reopens[0].Add(incident.DefaultRules.FlapWindow + 15*time.Minute)
	c = one(t, ingest(t, s, later, resolve(t, cur, later)))
	if c.Incident.Flapping {
		t.Errorf("an hour after the reopens: still flapping (reopens %v, now %s)", c.Incident.Reopens, later)
	}
}

// A firing retry that arrives after its resolution is ignored: it neither
// reopens the incident nor marks the alert firing again.
func testStale(t *testing.T, s incident.Store) {
	a := crashLooping(t, at(0), "shop", "cart-5b8f9c6d4-qk2lm")
	id := one(t, ingest(t, s, at(time.Minute), a)).Incident.ID
	one(t, ingest(t, s, at(5*time.Minute), resolve(t, a, at(5*time.Minute))))

	res := ingest(t, s, at(6*time.Minute), a) // the same firing delivery, late
	if len(res.Changes) != 0 || res.Ignored != 1 {
		t.Errorf("late firing retry: want ignored, got %d changes, %d ignored", len(res.Changes), res.Ignored)
	}
	older := a
	older.StartsAt = at(-time.Hour)
	if res := ingest(t, s, at(7*time.Minute), normalize(t, older)); len(res.Changes) != 0 || res.Ignored != 1 {
		t.Errorf("delivery older than the record: want ignored, got %d changes, %d ignored", len(res.Changes), res.Ignored)
	}
	inc, recs := get(t, s, id)
	if inc.State != incident.StateResolved || len(inc.Reopens) != 0 || len(recs) != 1 || !recs[0].Resolved() {
		t.Errorf("after stale deliveries: %+v %+v", inc, recs)
	}
}

// A resolved alert MeshWatch never saw firing is kept, in a resolved
// incident.
func testResolvedOnly(t *testing.T, s incident.Store) {
	a := resolve(t, clockSkew(t, at(0), "10.0.0.12:9100"), at(3*time.Minute))
	c := one(t, ingest(t, s, at(4*time.Minute), a))
	if !c.Created || c.Incident.State != incident.StateResolved || !c.Incident.ResolvedAt.Equal(at(3*time.Minute)) {
		t.Fatalf("want a new resolved incident, got %+v", c.Incident)
	}
	inc, recs := get(t, s, c.Incident.ID)
	if inc.State != incident.StateResolved || len(recs) != 1 {
		t.Fatalf("stored: %+v %+v", inc, recs)
	}
	if err := sameAlert(recs[0], a); err != nil {
		t.Error(err)
	}
}

// A complete batch (a reconcile) resolves, at its time, the alerts of its
// source the store holds as firing and the batch lacks; alerts of other
// sources are left alone.
func testComplete(t *testing.T, s incident.Store) {
	pod := crashLooping(t, at(0), "shop", "checkout-7d9f8b6c5d-x2x9q")
	dep := replicasMismatch(t, at(0), "shop", "checkout")
	node := filesystemFilling(t, at(0), "10.0.0.12:9100")
	disk := grafanaDisk(t, at(0), "media", "jellyfin")
	ingest(t, s, at(time.Minute), pod, dep, node)
	gid := one(t, ingest(t, s, at(time.Minute), disk)).Incident.ID
	// The reconcile lists the three; an alert that then comes only by
	// webhook (from another Alertmanager, say) is never listed.
	if res := ingestBatch(t, s, at(2*time.Minute), incident.Batch{Source: incident.SourceAlertmanager,
		Alerts: []incident.Alert{pod, dep, node}, Complete: true}); res.MissingResolved != 0 || len(res.Changes) != 0 {
		t.Fatalf("a reconcile that lists what is stored changed something: %+v", res)
	}
	ingestBatch(t, s, at(2*time.Minute), incident.Batch{Source: incident.SourceGrafana, Alerts: []incident.Alert{disk}, Complete: true})
	other := fire(t, incident.SourceAlertmanager, at(3*time.Minute),
		map[string]string{"alertname": "KubeJobFailed", "namespace": "batch", "job_name": "nightly-backup", "severity": "warning"}, nil)
	ingest(t, s, at(3*time.Minute), other)

	now := at(10 * time.Minute)
	res := ingestBatch(t, s, now, incident.Batch{Source: incident.SourceAlertmanager, Alerts: []incident.Alert{pod}, Complete: true})
	if res.MissingResolved != 2 {
		t.Errorf("want the 2 missing alertmanager alerts resolved, got %d", res.MissingResolved)
	}
	if res.Ignored != 1 {
		t.Errorf("the alert still active: want ignored as a repeat, got %d ignored", res.Ignored)
	}
	for _, inc := range list(t, s, incident.Filter{}) {
		_, recs := get(t, s, inc.ID)
		for _, r := range recs {
			wantFiring := r.Fingerprint == pod.Fingerprint || r.Fingerprint == disk.Fingerprint || r.Fingerprint == other.Fingerprint
			if r.Resolved() == wantFiring {
				t.Errorf("%s (%s): %s after the reconcile", r.Name(), r.Source, r.Status)
			}
			if r.Resolved() && !r.EndsAt.Equal(now) {
				t.Errorf("%s resolved by the reconcile: endsAt %s, want the batch's time %s", r.Name(), r.EndsAt, now)
			}
		}
		switch inc.Key.String() {
		case "shop/checkout":
			if inc.State != incident.StateOpen || inc.Firing != 1 || inc.Alerts != 2 {
				t.Errorf("checkout: %+v", inc)
			}
		case "/alertname=NodeFilesystemSpaceFillingUp":
			if inc.State != incident.StateResolved || !inc.ResolvedAt.Equal(now) {
				t.Errorf("node: %+v", inc)
			}
		}
	}

	// Nothing active at Alertmanager any more: its last listed alert
	// resolves; the Grafana-managed one and the never-listed one still fire.
	now = at(15 * time.Minute)
	res = ingestBatch(t, s, now, incident.Batch{Source: incident.SourceAlertmanager, Complete: true})
	if res.MissingResolved != 1 {
		t.Errorf("empty complete batch: want 1 resolved, got %d", res.MissingResolved)
	}
	open := list(t, s, incident.Filter{State: incident.StateOpen})
	if len(open) != 2 || (open[0].ID != gid && open[1].ID != gid) {
		t.Errorf("open after Alertmanager reported nothing: want the Grafana incident %d and the never-listed one, got %+v", gid, open)
	}
	res = ingestBatch(t, s, at(16*time.Minute), incident.Batch{Source: incident.SourceGrafana, Complete: true})
	if open := list(t, s, incident.Filter{State: incident.StateOpen}); res.MissingResolved != 1 || len(open) != 1 || open[0].Key.Namespace != "batch" {
		t.Errorf("empty Grafana complete batch: %d resolved, open left %v", res.MissingResolved, open)
	}
	// A complete batch that lacks nothing changes nothing.
	if res := ingestBatch(t, s, at(17*time.Minute), incident.Batch{Source: incident.SourceGrafana, Complete: true}); res.MissingResolved != 0 || len(res.Changes) != 0 {
		t.Errorf("second empty complete batch: %+v", res)
	}
}

// List: open first, then the most recently updated; filters by state,
// severity (any case) and namespace; Limit.
func testList(t *testing.T, s incident.Store) {
	ledger := errorBudget(t, at(0), "finance", "ledger", "Critical")
	checkout := replicasMismatch(t, at(0), "shop", "checkout")
	node := filesystemFilling(t, at(0), "10.0.0.12:9100")
	reco := istio5xx(t, at(0), "shop", "recommendation")

	idReco := one(t, ingest(t, s, at(1*time.Minute), reco)).Incident.ID
	idLedger := one(t, ingest(t, s, at(2*time.Minute), ledger)).Incident.ID
	idNode := one(t, ingest(t, s, at(3*time.Minute), node)).Incident.ID
	idCheckout := one(t, ingest(t, s, at(4*time.Minute), checkout)).Incident.ID
	one(t, ingest(t, s, at(5*time.Minute), resolve(t, reco, at(5*time.Minute))))
	one(t, ingest(t, s, at(6*time.Minute), resolve(t, node, at(6*time.Minute))))

	cases := []struct {
		f    incident.Filter
		want []int64
	}{
		{incident.Filter{}, []int64{idCheckout, idLedger, idNode, idReco}},
		{incident.Filter{State: incident.StateOpen}, []int64{idCheckout, idLedger}},
		{incident.Filter{State: incident.StateResolved}, []int64{idNode, idReco}},
		{incident.Filter{Severity: "critical"}, []int64{idLedger, idNode, idReco}},
		{incident.Filter{Severity: "CRITICAL", State: incident.StateOpen}, []int64{idLedger}},
		{incident.Filter{Severity: "warning"}, []int64{idCheckout}},
		{incident.Filter{Namespace: "shop"}, []int64{idCheckout, idReco}},
		{incident.Filter{Namespace: "shop", State: incident.StateResolved}, []int64{idReco}},
		{incident.Filter{Namespace: "media"}, []int64{}},
		{incident.Filter{Limit: 3}, []int64{idCheckout, idLedger, idNode}},
	}
	for _, c := range cases {
		if got := ids(list(t, s, c.f)); !slices.Equal(got, c.want) {
			t.Errorf("List(%+v) = %v, want %v", c.f, got, c.want)
		}
	}
	if l := list(t, s, incident.Filter{Severity: "critical"}); len(l) > 0 && l[0].Severity != "critical" {
		t.Errorf("severity listed as %q, want lower-cased", l[0].Severity)
	}
	if _, err := s.List(ctx, incident.Filter{State: "acknowledged"}); err == nil {
		t.Error("List with an unknown state: want an error")
	}
}

// Get returns the incident with every alert record, firing first, as
// delivered; an unknown id is incident.ErrNotFound.
func testGet(t *testing.T, s incident.Store) {
	early := crashLooping(t, at(0), "shop", "checkout-7d9f8b6c5d-x2x9q")
	late := crashLooping(t, at(time.Minute), "shop", "checkout-7d9f8b6c5d-h7k4p")
	dep := replicasMismatch(t, at(2*time.Minute), "shop", "checkout")
	c := one(t, ingest(t, s, at(3*time.Minute), early, late, dep))
	gone := resolve(t, early, at(4*time.Minute))
	ingest(t, s, at(4*time.Minute), gone)

	inc, recs := get(t, s, c.Incident.ID)
	if inc.ID != c.Incident.ID || inc.Key != c.Incident.Key || inc.Alerts != 3 || inc.Firing != 2 || inc.Title != "KubePodCrashLooping" {
		t.Errorf("incident: %+v", inc)
	}
	if inc.Summary != "Pod is crash looping." {
		t.Errorf("summary %q", inc.Summary)
	}
	want := []incident.Alert{late, dep, gone} // firing (by startsAt), then resolved
	if len(recs) != len(want) {
		t.Fatalf("want %d records, got %d", len(want), len(recs))
	}
	for i, w := range want {
		if err := sameAlert(recs[i], w); err != nil {
			t.Errorf("record %d (%s): %v", i, w.Name(), err)
		}
	}
	if recs[2].FirstSeen.IsZero() || !recs[2].LastSeen.Equal(at(4*time.Minute)) {
		t.Errorf("resolved record: firstSeen %s lastSeen %s", recs[2].FirstSeen, recs[2].LastSeen)
	}
	if _, _, err := s.Get(ctx, c.Incident.ID+1000); !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("Get of an unknown id: %v, want ErrNotFound", err)
	}
}

// Prune deletes incidents resolved before the cut with their alerts, keeps
// the others and every open one, and never hands a pruned id out again.
func testPrune(t *testing.T, s incident.Store) {
	oldA := crashLooping(t, at(0), "shop", "cart-5b8f9c6d4-qk2lm")
	newA := errorBudget(t, at(0), "finance", "ledger", "critical")
	openA := filesystemFilling(t, at(-48*time.Hour), "10.0.0.12:9100")
	idOld := one(t, ingest(t, s, at(0), oldA)).Incident.ID
	idNew := one(t, ingest(t, s, at(0), newA)).Incident.ID
	idOpen := one(t, ingest(t, s, at(0), openA)).Incident.ID
	one(t, ingest(t, s, at(time.Hour), resolve(t, oldA, at(time.Hour))))
	one(t, ingest(t, s, at(3*time.Hour), resolve(t, newA, at(3*time.Hour))))

	n, err := s.Prune(ctx, at(2*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("Prune: %d, %v; want 1 pruned", n, err)
	}
	if _, _, err := s.Get(ctx, idOld); !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("pruned incident: Get gives %v", err)
	}
	for _, id := range []int64{idNew, idOpen} {
		if _, recs := get(t, s, id); len(recs) != 1 {
			t.Errorf("kept incident %d has %d records", id, len(recs))
		}
	}
	if n, err := s.Prune(ctx, at(2*time.Hour)); err != nil || n != 0 {
		t.Errorf("second Prune: %d, %v; want 0", n, err)
	}
	// The pruned alert firing again starts afresh, under a new id.
	c := one(t, ingest(t, s, at(4*time.Hour), again(t, oldA, at(4*time.Hour))))
	if !c.Created || c.Incident.ID == idOld || c.Incident.Alerts != 1 {
		t.Errorf("after prune: %+v (created=%v), pruned id was %d", c.Incident, c.Created, idOld)
	}
	// Pruning everything resolved, then opening anew, reuses no id.
	one(t, ingest(t, s, at(5*time.Hour), resolve(t, again(t, oldA, at(4*time.Hour)), at(5*time.Hour))))
	one(t, ingest(t, s, at(5*time.Hour), resolve(t, openA, at(5*time.Hour))))
	maxID := max(idOld, idNew, idOpen, c.Incident.ID)
	if n, err := s.Prune(ctx, at(24*time.Hour)); err != nil || n != 3 {
		t.Fatalf("Prune of all: %d, %v; want 3", n, err)
	}
	if l := list(t, s, incident.Filter{}); len(l) != 0 {
		t.Fatalf("after pruning all: %+v", l)
	}
	c = one(t, ingest(t, s, at(25*time.Hour), clockSkew(t, at(25*time.Hour), "10.0.0.12:9100")))
	if c.Incident.ID <= maxID {
		t.Errorf("new incident got id %d, not above the pruned ids (up to %d)", c.Incident.ID, maxID)
	}
}

func testSchemaVersion(t *testing.T, s incident.Store) {
	v, err := s.SchemaVersion(ctx)
	if err != nil || v < 1 {
		t.Errorf("SchemaVersion: %d, %v", v, err)
	}
}

// An Ingest whose context is already done is not acknowledged and stores
// nothing.
func testCancelled(t *testing.T, s incident.Store) {
	c, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Ingest(c, at(0), incident.Batch{Source: incident.SourceAlertmanager,
		Alerts: []incident.Alert{crashLooping(t, at(0), "shop", "cart-5b8f9c6d4-qk2lm")}}); err == nil {
		t.Error("Ingest with a cancelled context succeeded")
	}
	if l := list(t, s, incident.Filter{}); len(l) != 0 {
		t.Errorf("stored after a failed Ingest: %+v", l)
	}
}

// Several senders ingesting overlapping batches at once (webhook retries,
// two Alertmanagers, a reconcile) end with exactly one open incident per key
// and every alert stored once; reads run meanwhile.
func testConcurrent(t *testing.T, s incident.Store) {
	const (
		workers = 6
		batches = 8
		perKey  = 8
		perB    = 12
	)
	workloads := []string{"checkout", "cart", "recommendation", "ledger", "jellyfin"}
	var pool []incident.Alert
	for i, w := range workloads {
		for j := 0; j < perKey; j++ {
			pool = append(pool, crashLooping(t, at(time.Duration(i*perKey+j)*time.Second), "shop",
				w+"-6c9d8f7b5-"+podHash(j)))
		}
	}
	sent := make([]map[string]bool, workers)
	var wg sync.WaitGroup
	errs := make(chan error, workers*batches+1)
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() { // a page listing while alerts arrive
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			l, err := s.List(ctx, incident.Filter{State: incident.StateOpen})
			if err != nil {
				errs <- fmt.Errorf("List during ingest: %w", err)
				return
			}
			seen := map[incident.Key]bool{}
			for _, inc := range l {
				if seen[inc.Key] {
					errs <- fmt.Errorf("List during ingest: two open incidents for %s", inc.Key)
					return
				}
				seen[inc.Key] = true
			}
		}
	}()
	for w := 0; w < workers; w++ {
		sent[w] = map[string]bool{}
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			// A seeded shuffle per worker, so the batches overlap differently
			// and the run repeats; not for security.
			rng := rand.New(rand.NewPCG(uint64(w)+1, 42)) // #nosec G115 G404 -- w is a small non-negative index; test data, not a secret
			for b := 0; b < batches; b++ {
				var alerts []incident.Alert
				for _, i := range rng.Perm(len(pool))[:perB] {
					alerts = append(alerts, pool[i])
					sent[w][pool[i].Fingerprint] = true
				}
				now := at(time.Hour + time.Duration(b*workers+w)*time.Second)
				if _, err := s.Ingest(ctx, now, incident.Batch{Source: incident.SourceAlertmanager, Alerts: alerts}); err != nil {
					errs <- fmt.Errorf("worker %d batch %d: %w", w, b, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	want := map[string]bool{}
	for _, m := range sent {
		for fp := range m {
			want[fp] = true
		}
	}

	l := list(t, s, incident.Filter{})
	keys := map[incident.Key]int{}
	stored := map[string]int64{}
	total := 0
	for _, inc := range l {
		keys[inc.Key]++
		if inc.State != incident.StateOpen {
			t.Errorf("incident %s is %s", inc.Key, inc.State)
		}
		_, recs := get(t, s, inc.ID)
		if len(recs) != inc.Alerts {
			t.Errorf("incident %s counts %d alerts but holds %d", inc.Key, inc.Alerts, len(recs))
		}
		for _, r := range recs {
			if prev, dup := stored[r.Fingerprint]; dup {
				t.Errorf("alert %s stored in incidents %d and %d", r.Fingerprint, prev, inc.ID)
			}
			stored[r.Fingerprint] = inc.ID
		}
		total += inc.Alerts
	}
	for k, n := range keys {
		if n != 1 {
			t.Errorf("%d incidents for %s, want 1", n, k)
		}
	}
	var lost []string
	for fp := range want {
		if _, ok := stored[fp]; !ok {
			lost = append(lost, fp)
		}
	}
	if len(lost) > 0 || total != len(want) {
		t.Errorf("sent %d distinct alerts, stored %d; lost %v", len(want), total, lost)
	}
	t.Logf("%d workers × %d batches of %d overlapping alerts: %d incidents, %d distinct alerts stored", workers, batches, perB, len(l), total)
}

// An incident's evidence capture: saved, read back, replaced by the next;
// its top finding shows in the list without touching the lifecycle's
// version, survives later ingests, and goes with the incident when pruned.
func testEvidence(t *testing.T, s incident.Store) {
	a := crashLooping(t, at(0), "shop", "checkout-7d9f8b6c5d-x2x9q")
	c := one(t, ingest(t, s, at(time.Minute), a))
	id := c.Incident.ID
	if _, err := s.Evidence(ctx, id); !errors.Is(err, incident.ErrNotFound) {
		t.Fatalf("evidence before any capture: %v, want ErrNotFound", err)
	}
	first := incident.Evidence{CapturedAt: at(2 * time.Minute), Pack: []byte(`{"window":{"from":"x"}}`),
		Findings: []byte(`[{"cause":"crashloop"}]`), TopFinding: "checkout restarts every 40 s", Partial: []string{"tempo"}}
	if err := s.SaveEvidence(ctx, id, first); err != nil {
		t.Fatal(err)
	}
	got, err := s.Evidence(ctx, id)
	if err != nil || !got.CapturedAt.Equal(first.CapturedAt) || string(got.Pack) != string(first.Pack) ||
		string(got.Findings) != string(first.Findings) || got.TopFinding != first.TopFinding || len(got.Partial) != 1 {
		t.Fatalf("read back: %+v %v", got, err)
	}
	inc, _ := get(t, s, id)
	if inc.TopFinding != first.TopFinding || inc.Version != c.Incident.Version {
		t.Errorf("incident after the capture: top %q version %d (was %d)", inc.TopFinding, inc.Version, c.Incident.Version)
	}
	second := incident.Evidence{CapturedAt: at(3 * time.Minute), Pack: []byte(`{}`), Findings: []byte(`[]`)}
	if err := s.SaveEvidence(ctx, id, second); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Evidence(ctx, id); !got.CapturedAt.Equal(second.CapturedAt) || got.TopFinding != "" || len(got.Partial) != 0 {
		t.Errorf("the later capture did not replace the first: %+v", got)
	}
	if err := s.SaveEvidence(ctx, id, incident.Evidence{CapturedAt: at(4 * time.Minute), Pack: []byte(`{`), Findings: []byte(`[]`)}); err == nil {
		t.Error("a pack that is not JSON was saved")
	}
	if err := s.SaveEvidence(ctx, id+1000, second); !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("evidence of an unknown incident: %v, want ErrNotFound", err)
	}
	if err := s.SaveEvidence(ctx, id, first); err != nil {
		t.Fatal(err)
	}
	one(t, ingest(t, s, at(5*time.Minute), resolve(t, a, at(5*time.Minute))))
	if l := list(t, s, incident.Filter{}); len(l) != 1 || l[0].TopFinding != first.TopFinding {
		t.Errorf("after an ingest the list shows %+v", l)
	}
	if n, err := s.Prune(ctx, at(time.Hour)); err != nil || n != 1 {
		t.Fatalf("prune: %d %v", n, err)
	}
	if _, err := s.Evidence(ctx, id); !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("evidence of a pruned incident: %v", err)
	}
}
