package canaries_test

import (
	"strings"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/canaries"
	"github.com/meshwatch/meshwatch/pkg/evidence"
	"github.com/meshwatch/meshwatch/pkg/incident"
)

func TestFailedCanariesBecomeAlertsAboutTheirTarget(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	failedAt := now.Add(-3 * time.Minute)
	hist := []canaries.HistoryEntry{
		{At: failedAt.Add(-2 * time.Minute), Kind: canaries.HistoryProgression, Message: "Advance web.team-a canary weight 20"},
		{At: failedAt.Add(-time.Minute), Kind: canaries.HistoryHalt, Message: "Halt web.team-a advancement success rate 91.20% < 99%", Warning: true},
		{At: failedAt, Kind: canaries.HistoryRollback, Message: "Rolling back web.team-a failed checks threshold reached 2", Warning: true},
		{At: failedAt, Kind: canaries.HistoryRollback, Message: "Canary failed! Scaling down web.team-a", Warning: true},
	}
	list := []canaries.Canary{
		{Namespace: "team-a", Name: "web-canary", TargetName: "web", Phase: canaries.PhaseFailed, FailedChecks: 2, Threshold: 2, LastTransition: failedAt, History: hist},
		{Namespace: "team-a", Name: "api", TargetName: "api", Phase: canaries.PhaseProgressing, Weight: 20},
		{Namespace: "team-b", Name: "db", TargetName: "db", Phase: canaries.PhaseSucceeded},
		{Namespace: "team-b", Name: "new", Phase: canaries.PhaseFailed}, // no target yet: nothing to blame
	}
	got := canaries.FailedAlerts(list, now)
	if len(got) != 1 {
		t.Fatalf("alerts %+v, want one for the failed canary", got)
	}
	a := got[0]
	if a.Labels["namespace"] != "team-a" || a.Labels["workload"] != "web" || a.Labels["canary"] != "web-canary" || a.Name() != canaries.AlertName {
		t.Errorf("labels %v: want the target web in team-a, the canary named", a.Labels)
	}
	if a.Source != incident.SourceFlagger || a.Status != incident.StatusFiring || !a.StartsAt.Equal(failedAt) || a.Fingerprint == "" {
		t.Errorf("alert %+v: want a normalized firing flagger alert starting at the failure", a)
	}
	d := a.Annotations["description"]
	for _, want := range []string{"2 of 2 checks failed", "web-primary", "success rate 91.20% < 99%", "Canary failed!"} {
		if !strings.Contains(d, want) {
			t.Errorf("description %q lacks %q", d, want)
		}
	}
	if strings.Contains(d, "Advance web.team-a") {
		t.Errorf("description %q quotes a progression, not only the warnings", d)
	}
	// A transition time in the future (clock skew) starts the alert now.
	list[0].LastTransition = now.Add(time.Hour)
	if got := canaries.FailedAlerts(list, now); !got[0].StartsAt.Equal(now) {
		t.Errorf("startsAt %s, want now for a future transition", got[0].StartsAt)
	}
	if got := canaries.FailedAlerts(nil, now); len(got) != 0 {
		t.Errorf("no canaries raised %v", got)
	}
}

func TestCanaryEvidenceKeepsTheLastEvents(t *testing.T) {
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	lo, v, pass := 99.0, 91.2, false
	c := canaries.Canary{Namespace: "n", Name: "c", TargetName: "t", Phase: canaries.PhaseFailed, Weight: 0, FailedChecks: 2, Threshold: 2,
		Metrics: []canaries.Metric{{Name: "request-success-rate", Min: &lo, Value: &v, Passing: &pass}}}
	for i := 0; i < 8; i++ {
		c.History = append(c.History, canaries.HistoryEntry{At: at.Add(time.Duration(i) * time.Minute), Message: strings.Repeat("x", i+1), Warning: i == 7})
	}
	k := canaries.Evidence(c)
	if k.ID != evidence.CanaryID || k.Target != "t" || k.Phase != canaries.PhaseFailed || k.FailedChecks != 2 || k.Threshold != 2 {
		t.Errorf("evidence %+v", k)
	}
	if len(k.Checks) != 1 || k.Checks[0].Name != "request-success-rate" || *k.Checks[0].Value != 91.2 || *k.Checks[0].Passing {
		t.Errorf("checks %+v", k.Checks)
	}
	if len(k.Events) != evidence.MaxCanaryEvents || k.Events[0].Message != "xxxx" || !k.Events[len(k.Events)-1].Warning {
		t.Errorf("events %+v: want the last %d, oldest first", k.Events, evidence.MaxCanaryEvents)
	}
	p := evidence.Pack{Canary: k}
	if ids := p.IDs(); len(ids) != 1 || ids[0] != evidence.CanaryID {
		t.Errorf("pack ids %v: the canary is citable evidence", ids)
	}
}
