package canaries

import (
	"context"
	"fmt"
	"time"

	"github.com/meshwatch/meshwatch/pkg/evidence"
	"github.com/meshwatch/meshwatch/pkg/incident"
)

// AlertName is the alertname of the alert MeshWatch raises for a canary
// Flagger failed. It is MeshWatch's own: a rollback becomes an incident
// whatever alert rules the user runs (and groups with theirs, by the
// target's namespace and workload labels).
const AlertName = "FlaggerCanaryFailed"

// Raise takes the complete set of failed-canary alerts (source
// incident.SourceFlagger, Complete): an alert missing from the next set
// resolves.
type Raise func(ctx context.Context, alerts []incident.Alert) error

// FailedAlerts are the alerts of the canaries in phase Failed: Flagger
// rolled them back (or their analysis failed before it started). The
// labels name the target workload, so the incident is about the
// Deployment the user shipped; the annotations say what failed, from the
// canary's last warnings. A canary that leaves Failed (a new revision
// starts, or it is deleted) is missing from the next set, which resolves
// its alert.
func FailedAlerts(list []Canary, now time.Time) []incident.Alert {
	var out []incident.Alert
	for _, c := range list {
		if c.Phase != PhaseFailed || c.TargetName == "" {
			continue
		}
		labels := map[string]string{
			"alertname": AlertName,
			"namespace": c.Namespace,
			"workload":  c.TargetName,
			"canary":    c.Name,
			"severity":  "warning",
		}
		started := c.LastTransition
		if started.IsZero() || started.After(now) {
			started = now
		}
		desc := fmt.Sprintf("Flagger failed the analysis of the canary %s/%s (%d of %d checks failed) and routed all traffic back to %s-primary.",
			c.Namespace, c.Name, c.FailedChecks, c.Threshold, c.TargetName)
		if why := lastWarnings(c.History, 3); why != "" {
			desc += " Flagger said: " + why
		}
		a := incident.Alert{
			Status:   incident.StatusFiring,
			Labels:   labels,
			StartsAt: started.UTC(),
			Source:   incident.SourceFlagger,
			Annotations: map[string]string{
				"summary":     fmt.Sprintf("Flagger rolled back the canary %s/%s", c.Namespace, c.Name),
				"description": desc,
			},
		}
		if n, err := incident.Normalize(a); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// lastWarnings joins the messages of the last n warning entries of h
// (Flagger's "Halt advancement …", "Rolling back …", "Canary failed! …").
func lastWarnings(h []HistoryEntry, n int) string {
	var msgs []string
	for i := len(h) - 1; i >= 0 && len(msgs) < n; i-- {
		if h[i].Warning && h[i].Message != "" {
			msgs = append([]string{h[i].Message}, msgs...)
		}
	}
	out := ""
	for i, m := range msgs {
		if i > 0 {
			out += " / "
		}
		out += m
	}
	return out
}

// raiseFailed hands the failed canaries to o.Raise as one complete set,
// only while every informer has listed and none fails: an empty set from a
// watch that cannot read would resolve every canary incident.
func (s *Service) raiseFailed(ctx context.Context) {
	if s.o.Raise == nil || !s.Synced() || s.watchError() != nil {
		return
	}
	err := s.o.Raise(ctx, FailedAlerts(s.Snapshot(ctx), s.o.Now()))
	s.mu.Lock()
	s.raiseErr = err
	s.mu.Unlock()
}

func (s *Service) raiseError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.raiseErr
}

// Evidence is c as an incident's evidence (evidence.Canary): its phase,
// weight, failed checks, metric checks and last events.
func Evidence(c Canary) *evidence.Canary {
	k := &evidence.Canary{ID: evidence.CanaryID, Namespace: c.Namespace, Name: c.Name, Target: c.TargetName,
		Phase: c.Phase, Weight: c.Weight, FailedChecks: c.FailedChecks, Threshold: c.Threshold}
	for _, m := range c.Metrics {
		k.Checks = append(k.Checks, evidence.CanaryCheck{Name: m.Name, Min: m.Min, Max: m.Max, Value: m.Value, Passing: m.Passing})
	}
	h := c.History
	if len(h) > evidence.MaxCanaryEvents {
		h = h[len(h)-evidence.MaxCanaryEvents:]
	}
	for _, e := range h {
		k.Events = append(k.Events, evidence.CanaryEvent{At: e.At.UTC(), Message: e.Message, Warning: e.Warning})
	}
	return k
}
