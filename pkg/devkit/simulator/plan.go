package simulator

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// DefaultStep is the scrape interval the simulation ticks at.
const DefaultStep = 15 * time.Second

// Options configure one run of a scenario.
type Options struct {
	Scenario *Scenario
	Seed     int64
	// Start of the run. Zero means End - Duration (backfill).
	Start time.Time
	// End of the run. Zero means Start + Duration; with both zero, now.
	End time.Time
	// Duration of the run; zero means the scenario's. Effect offsets scale
	// with it (see Effect.At).
	Duration time.Duration
	// Step is the tick (scrape) interval; zero means 15s. It must divide a minute.
	Step time.Duration
	// Resolution is how often Simulate records samples for WriteOpenMetrics
	// (a multiple of Step); zero means every Step. 30s halves the file and
	// still gives every 1m rate() window two samples.
	Resolution time.Duration
	// LogSampleEvery logs 1 in N successful requests per service (errors
	// are always logged); zero means 20.
	LogSampleEvery int
	// MaxTraces caps the trace reservoir (errors, slow, normal); zero means 120.
	MaxTraces int
}

// TimelineEvent is something that happened during the run (a crash, a
// canary transition), recorded in the ground truth.
type TimelineEvent struct {
	Time time.Time `json:"time"`
	What string    `json:"what"`
}

// ResolvedEffect is an effect placed on the run's clock.
type ResolvedEffect struct {
	Effect
	Start time.Time  `json:"start"`
	End   *time.Time `json:"end,omitempty"`
}

// GroundTruth is what truth.json holds: the scenario's truth on the run's clock.
type GroundTruth struct {
	Scenario    string     `json:"scenario"`
	Description string     `json:"description"`
	Seed        int64      `json:"seed"`
	Start       time.Time  `json:"start"`
	End         time.Time  `json:"end"`
	Step        string     `json:"step"`
	Workload    string     `json:"workload,omitempty"`
	Namespace   string     `json:"namespace,omitempty"`
	Container   string     `json:"container,omitempty"`
	Version     string     `json:"version,omitempty"`
	CauseClass  string     `json:"causeClass"`
	Affected    []string   `json:"affected,omitempty"`
	Detail      string     `json:"detail,omitempty"`
	Onset       *time.Time `json:"onset,omitempty"`
	// Additional are the other faults of a scenario with several at once
	// (Truth.Additional on the run's clock); Faults lists all of them.
	Additional []GroundFault `json:"additional,omitempty"`
	// Topology is the mesh the run simulated; empty for the default shop.
	Topology string           `json:"topology,omitempty"`
	Effects  []ResolvedEffect `json:"effects"`
	Timeline []TimelineEvent  `json:"timeline,omitempty"`
}

// GroundFault is one fault of a run's ground truth (see Fault).
type GroundFault struct {
	Workload   string     `json:"workload"`
	Namespace  string     `json:"namespace"`
	Container  string     `json:"container,omitempty"`
	Version    string     `json:"version,omitempty"`
	CauseClass string     `json:"causeClass"`
	Affected   []string   `json:"affected,omitempty"`
	Detail     string     `json:"detail,omitempty"`
	Onset      *time.Time `json:"onset,omitempty"`
}

// Faults returns every fault of the run: the first (the GroundTruth's own
// fields) and the Additional ones; none for a control run (causeClass
// "none"). Each fault is its own incident, rooted at its Workload.
func (g GroundTruth) Faults() []GroundFault {
	var out []GroundFault
	if g.CauseClass != "none" && g.CauseClass != "" {
		out = append(out, GroundFault{Workload: g.Workload, Namespace: g.Namespace, Container: g.Container, Version: g.Version,
			CauseClass: g.CauseClass, Affected: slices.Clone(g.Affected), Detail: g.Detail, Onset: g.Onset})
	}
	for _, f := range g.Additional {
		f.Affected = slices.Clone(f.Affected)
		out = append(out, f)
	}
	return out
}

// resolve places the scenario on the run's clock.
func resolve(o Options) (GroundTruth, []ResolvedEffect, Options, error) {
	if o.Scenario == nil {
		return GroundTruth{}, nil, o, errors.New("no scenario")
	}
	if o.Step == 0 {
		o.Step = DefaultStep
	}
	if o.Step < time.Second || time.Minute%o.Step != 0 {
		return GroundTruth{}, nil, o, fmt.Errorf("step %s must be at least 1s and divide a minute", o.Step)
	}
	if o.Resolution == 0 {
		o.Resolution = o.Step
	}
	if o.Resolution < o.Step || o.Resolution%o.Step != 0 || time.Minute%o.Resolution != 0 {
		return GroundTruth{}, nil, o, fmt.Errorf("resolution %s must be a multiple of the step %s and divide a minute", o.Resolution, o.Step)
	}
	if o.Duration == 0 {
		if !o.Start.IsZero() && !o.End.IsZero() {
			o.Duration = o.End.Sub(o.Start)
		} else {
			o.Duration = time.Duration(o.Scenario.Duration)
		}
	}
	if o.Duration < 10*time.Minute {
		return GroundTruth{}, nil, o, fmt.Errorf("duration %s is too short (minimum 10m)", o.Duration)
	}
	switch {
	case o.Start.IsZero() && o.End.IsZero():
		o.End = time.Now().UTC().Truncate(o.Step)
		o.Start = o.End.Add(-o.Duration)
	case o.Start.IsZero():
		o.End = o.End.UTC().Truncate(o.Step)
		o.Start = o.End.Add(-o.Duration)
	default:
		o.Start = o.Start.UTC().Truncate(o.Step)
		o.End = o.Start.Add(o.Duration)
	}
	if o.LogSampleEvery <= 0 {
		o.LogSampleEvery = 20
	}
	if o.MaxTraces <= 0 {
		o.MaxTraces = 120
	}
	s := o.Scenario
	scale := float64(o.Duration) / float64(s.Duration)
	at := func(d, delay Duration) time.Time {
		return o.Start.Add(time.Duration(float64(d)*scale) + time.Duration(delay)).Truncate(time.Second)
	}
	var effs []ResolvedEffect
	for _, e := range s.Effects {
		r := ResolvedEffect{Effect: e, Start: at(e.At, e.Delay)}
		if e.Until > 0 {
			t := at(e.Until, 0)
			r.End = &t
		}
		effs = append(effs, r)
	}
	gt := GroundTruth{
		Scenario: s.Name, Description: s.Description, Seed: o.Seed, Start: o.Start, End: o.End,
		Step: o.Step.String(), Workload: s.Truth.Workload, Namespace: s.Truth.Namespace,
		Container: s.Truth.Container, Version: s.Truth.Version, CauseClass: s.Truth.CauseClass,
		Affected: s.Truth.Affected, Detail: s.Truth.Detail, Effects: effs,
	}
	switch {
	case s.Truth.Onset > 0:
		t := at(s.Truth.Onset, s.Truth.OnsetDelay)
		gt.Onset = &t
	case len(effs) > 0 && s.Truth.CauseClass != "none":
		t := effs[0].Start
		gt.Onset = &t
	}
	if s.Topology != nil {
		gt.Topology = s.TopologyName()
	}
	for _, f := range s.Truth.Additional {
		g := GroundFault{Workload: f.Workload, Namespace: f.Namespace, Container: f.Container, Version: f.Version,
			CauseClass: f.CauseClass, Affected: f.Affected, Detail: f.Detail}
		if f.Onset > 0 {
			t := at(f.Onset, f.OnsetDelay)
			g.Onset = &t
		} else {
			// The start of the first effect on its workload.
			for _, e := range effs {
				if e.Target == f.Workload || e.Source == f.Workload {
					t := e.Start
					g.Onset = &t
					break
				}
			}
		}
		gt.Additional = append(gt.Additional, g)
	}
	return gt, effs, o, nil
}

// active reports whether e is in force at t, and its ramp factor (0..1].
func (e *ResolvedEffect) active(t time.Time) (bool, float64) {
	if t.Before(e.Start) || (e.End != nil && !t.Before(*e.End)) {
		return false, 0
	}
	if e.Ramp > 0 {
		if f := float64(t.Sub(e.Start)) / float64(e.Ramp); f < 1 {
			return true, f
		}
	}
	return true, 1
}
