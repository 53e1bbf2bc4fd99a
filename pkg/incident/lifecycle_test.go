package incident

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

// crashLooping is kube-prometheus-stack's alert for a pod of a Deployment.
func crashLooping(pod string, status Status, starts time.Time) Alert {
	a, err := Normalize(Alert{
		Status:      status,
		Labels:      map[string]string{"alertname": "KubePodCrashLooping", "namespace": "payments", "pod": pod, "container": "app", "severity": "warning"},
		Annotations: map[string]string{"summary": "Pod is crash looping."},
		StartsAt:    starts,
		EndsAt:      starts.Add(10 * time.Minute),
		Source:      SourceAlertmanager,
	})
	if err != nil {
		panic(err)
	}
	return a
}

func errorRate(app, severity string, status Status, starts time.Time) Alert {
	a, err := Normalize(Alert{
		Status:   status,
		Labels:   map[string]string{"alertname": "HighErrorRate", "namespace": "payments", "app": app, "severity": severity},
		StartsAt: starts, EndsAt: starts.Add(5 * time.Minute), Source: SourceGrafana,
	})
	if err != nil {
		panic(err)
	}
	return a
}

// store is the smallest store there is: Apply over one key's latest group.
type memGroup struct {
	g       Group
	created int
}

func (m *memGroup) apply(t *testing.T, now time.Time, alerts ...Alert) Outcome {
	t.Helper()
	key := Grouping{}.Of(alerts[0].Labels)
	out := Apply(m.g, key, alerts, now, DefaultRules)
	for _, c := range out.Changes {
		inc := c.Incident
		if c.Created {
			m.created++
			inc.ID = int64(m.created)
			m.g = Group{Incident: &inc}
		} else {
			m.g.Incident = &inc
		}
		for _, r := range c.Records {
			replaced := false
			for i := range m.g.Records {
				if m.g.Records[i].Fingerprint == r.Fingerprint {
					m.g.Records[i], replaced = r, true
				}
			}
			if !replaced {
				m.g.Records = append(m.g.Records, r)
			}
		}
	}
	return out
}

func TestGroupKeyFollowsTheFirstWorkloadLabel(t *testing.T) {
	cases := []struct {
		labels map[string]string
		want   string
	}{
		{map[string]string{"namespace": "shop", "destination_workload": "cart", "app": "other"}, "shop/cart"},
		{map[string]string{"namespace": "payments", "pod": "ledger-7d9c6b5f4-x2x9z"}, "payments/ledger"},
		{map[string]string{"namespace": "db", "pod": "orders-db-0"}, "db/orders-db"},
		{map[string]string{"namespace": "kube-system", "daemonset": "kube-proxy", "pod": "kube-proxy-abcde"}, "kube-system/kube-proxy"},
		{map[string]string{"exported_namespace": "web", "service": "frontend"}, "web/frontend"},
		{map[string]string{"alertname": "NodeFilesystemAlmostOutOfSpace", "instance": "node-1"}, "/alertname=NodeFilesystemAlmostOutOfSpace"},
	}
	for _, c := range cases {
		if got := (Grouping{}).Of(c.labels).String(); got != c.want {
			t.Errorf("key of %v = %q, want %q", c.labels, got, c.want)
		}
	}
	custom := Grouping{WorkloadLabels: []string{"team_service"}}
	if got := custom.Of(map[string]string{"namespace": "a", "team_service": "x", "app": "y"}).Workload; got != "x" {
		t.Errorf("a configured label list is not used: workload %q", got)
	}
}

func TestNormalizeRecomputesTheFingerprintAndRefusesBadAlerts(t *testing.T) {
	labels := map[string]string{"alertname": "KubePodCrashLooping", "namespace": "payments", "pod": "p-1"}
	a, err := Normalize(Alert{Fingerprint: "sender-says-so", Status: StatusFiring, Labels: labels, StartsAt: t0, EndsAt: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if a.Fingerprint != FingerprintOf(labels) || len(a.Fingerprint) != 16 {
		t.Errorf("fingerprint %q, want the label set's %q", a.Fingerprint, FingerprintOf(labels))
	}
	if !a.EndsAt.IsZero() {
		t.Errorf("a firing alert keeps endsAt %v", a.EndsAt)
	}
	bad := []Alert{
		{Status: StatusFiring, StartsAt: t0},
		{Status: StatusFiring, Labels: map[string]string{"namespace": "x"}, StartsAt: t0},
		{Status: "pending", Labels: labels, StartsAt: t0},
		{Status: StatusFiring, Labels: labels},
		{Status: StatusFiring, Labels: map[string]string{"alertname": "A", "": "x"}, StartsAt: t0},
	}
	for i, b := range bad {
		if _, err := Normalize(b); err == nil {
			t.Errorf("bad alert %d accepted", i)
		}
	}
}

func TestRepeatedDeliveriesMakeOneIncident(t *testing.T) {
	var m memGroup
	a := crashLooping("ledger-7d9c6b5f4-x2x9z", StatusFiring, t0)
	first := m.apply(t, t0.Add(time.Minute), a)
	if len(first.Changes) != 1 || !first.Changes[0].Created {
		t.Fatalf("first delivery: %+v", first)
	}
	again := m.apply(t, t0.Add(2*time.Minute), a, a)
	if len(again.Changes) != 0 || again.Ignored != 2 {
		t.Fatalf("repeat delivery changed something: %+v", again)
	}
	sibling := crashLooping("ledger-7d9c6b5f4-k8p2m", StatusFiring, t0.Add(30*time.Second))
	out := m.apply(t, t0.Add(3*time.Minute), sibling)
	inc := out.Changes[0].Incident
	if out.Changes[0].Created || inc.Alerts != 2 || inc.Firing != 2 || inc.ID != 1 {
		t.Fatalf("a second pod of the same workload: %+v", out.Changes[0])
	}
	if inc.Key.String() != "payments/ledger" || inc.Title != "KubePodCrashLooping" || inc.Severity != "warning" || !inc.StartedAt.Equal(t0) {
		t.Errorf("incident summary: %+v", inc)
	}
}

func TestAnIncidentResolvesWhenAllItsAlertsResolve(t *testing.T) {
	var m memGroup
	a, b := crashLooping("ledger-7d9c6b5f4-x2x9z", StatusFiring, t0), crashLooping("ledger-7d9c6b5f4-k8p2m", StatusFiring, t0)
	m.apply(t, t0, a, b)
	out := m.apply(t, t0.Add(5*time.Minute), crashLooping("ledger-7d9c6b5f4-x2x9z", StatusResolved, t0))
	if c := out.Changes[0]; c.Resolved || c.Incident.State != StateOpen || c.Incident.Firing != 1 {
		t.Fatalf("one of two resolved: %+v", c)
	}
	resolvedB := crashLooping("ledger-7d9c6b5f4-k8p2m", StatusResolved, t0)
	out = m.apply(t, t0.Add(20*time.Minute), resolvedB)
	c := out.Changes[0]
	if !c.Resolved || c.Incident.State != StateResolved || !c.Incident.ResolvedAt.Equal(resolvedB.EndsAt) {
		t.Fatalf("both resolved: %+v", c)
	}
	// A firing retry that arrives after the resolution is stale.
	late := m.apply(t, t0.Add(21*time.Minute), b)
	if len(late.Changes) != 0 || late.Ignored != 1 {
		t.Fatalf("a late firing retry reopened the incident: %+v", late)
	}
}

func TestReopenWithinTheWindowThenANewIncident(t *testing.T) {
	var m memGroup
	m.apply(t, t0, errorRate("checkout", "critical", StatusFiring, t0))
	m.apply(t, t0.Add(5*time.Minute), errorRate("checkout", "critical", StatusResolved, t0))
	resolvedAt := m.g.Incident.ResolvedAt

	refire := errorRate("checkout", "critical", StatusFiring, resolvedAt.Add(10*time.Minute))
	out := m.apply(t, resolvedAt.Add(10*time.Minute), refire)
	c := out.Changes[0]
	if !c.Reopened || c.Created || c.Incident.ID != 1 || c.Incident.State != StateOpen || len(c.Incident.Reopens) != 1 {
		t.Fatalf("a re-fire 10 minutes after resolving should reopen incident 1: %+v", c)
	}
	m.apply(t, resolvedAt.Add(12*time.Minute), errorRate("checkout", "critical", StatusResolved, refire.StartsAt))

	later := m.g.Incident.ResolvedAt.Add(DefaultRules.ReopenWindow + time.Minute)
	out = m.apply(t, later, errorRate("checkout", "critical", StatusFiring, later))
	if c := out.Changes[0]; !c.Created || m.g.Incident.ID != 2 || len(c.Incident.Reopens) != 0 {
		t.Fatalf("a re-fire after the reopen window should open incident 2: %+v", c)
	}
}

func TestThreeReopensInAnHourIsFlapping(t *testing.T) {
	var m memGroup
	now := t0
	var last Outcome
	for i := 0; i < 4; i++ {
		starts := now
		last = m.apply(t, now, errorRate("search", "warning", StatusFiring, starts))
		if got := last.Changes[0].Incident.Flapping; got != (i >= 3) {
			t.Fatalf("fire %d: flapping = %v", i, got)
		}
		now = now.Add(2 * time.Minute)
		m.apply(t, now, errorRate("search", "warning", StatusResolved, starts))
		now = now.Add(5 * time.Minute)
	}
	if inc := last.Changes[0].Incident; inc.ID != 1 || len(inc.Reopens) != 3 {
		t.Fatalf("all four fires should be one incident reopened 3 times: %+v", inc)
	}
	// Past the reopen window the next fire is a new incident, not flapping.
	later := m.g.Incident.ResolvedAt.Add(DefaultRules.ReopenWindow + time.Second)
	out := m.apply(t, later, errorRate("search", "warning", StatusFiring, later))
	if c := out.Changes[0]; !c.Created || c.Incident.Flapping || m.g.Incident.ID != 2 {
		t.Errorf("a fire after the reopen window: %+v", c)
	}
}

func TestTheMostSevereFiringAlertTitlesTheIncident(t *testing.T) {
	var m memGroup
	warn := errorRate("checkout", "warning", StatusFiring, t0)
	crit, _ := Normalize(Alert{Status: StatusFiring, StartsAt: t0.Add(time.Minute), Source: SourceAlertmanager,
		Labels:      map[string]string{"alertname": "CheckoutLatencyBudgetBurn", "namespace": "payments", "app": "checkout", "severity": "critical"},
		Annotations: map[string]string{"description": "p99 above 2 s"}})
	out := m.apply(t, t0.Add(2*time.Minute), warn, crit)
	inc := out.Changes[0].Incident
	if inc.Title != "CheckoutLatencyBudgetBurn" || inc.Severity != "critical" || inc.Summary != "p99 above 2 s" {
		t.Fatalf("title/severity: %+v", inc)
	}
	resolvedCrit := crit
	resolvedCrit.Status, resolvedCrit.EndsAt = StatusResolved, t0.Add(3*time.Minute)
	out = m.apply(t, t0.Add(3*time.Minute), resolvedCrit)
	if inc := out.Changes[0].Incident; inc.Severity != "warning" || inc.Title != "HighErrorRate" {
		t.Errorf("after the critical resolved, the firing warning should lead: %+v", inc)
	}
}

func TestAResolvedAlertNeverSeenFiringIsKeptAsHistory(t *testing.T) {
	var m memGroup
	out := m.apply(t, t0.Add(time.Hour), crashLooping("ledger-7d9c6b5f4-x2x9z", StatusResolved, t0))
	c := out.Changes[0]
	if !c.Created || c.Resolved || c.Incident.State != StateResolved || c.Incident.Firing != 0 || c.Incident.Alerts != 1 {
		t.Fatalf("%+v", c)
	}
}

func TestPlanGroupsByKeyInCanonicalOrder(t *testing.T) {
	alerts := []Alert{
		errorRate("search", "warning", StatusFiring, t0),
		crashLooping("ledger-7d9c6b5f4-x2x9z", StatusFiring, t0),
		errorRate("checkout", "warning", StatusFiring, t0),
		crashLooping("ledger-7d9c6b5f4-k8p2m", StatusFiring, t0),
	}
	keys, by := Plan(Grouping{}, alerts)
	var got []string
	for _, k := range keys {
		got = append(got, k.String())
	}
	want := []string{"payments/checkout", "payments/ledger", "payments/search"}
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("keys %v, want %v", got, want)
	}
	if n := len(by[keys[1]]); n != 2 {
		t.Errorf("ledger has %d alerts, want 2", n)
	}
}

// Alertmanager repeats a group's resolved alerts in later notifications;
// long after the incident resolved they must not open new incidents.
func TestLateResolvedRepeatsOpenNothing(t *testing.T) {
	var m memGroup
	a := crashLooping("ledger-7d9c6b5f4-x2x9z", StatusFiring, t0)
	m.apply(t, t0, a)
	m.apply(t, t0.Add(10*time.Minute), crashLooping("ledger-7d9c6b5f4-x2x9z", StatusResolved, t0))
	later := t0.Add(3 * time.Hour)
	other := crashLooping("ledger-7d9c6b5f4-k8p2m", StatusResolved, t0.Add(time.Hour))
	for i := 0; i < 3; i++ {
		out := m.apply(t, later.Add(time.Duration(i)*time.Minute), other)
		if len(out.Changes) != 0 || out.Ignored != 1 {
			t.Fatalf("repeat %d of a late resolved alert: %+v", i, out)
		}
	}
	if m.created != 1 {
		t.Fatalf("%d incidents, want 1", m.created)
	}
}
