// Package eval measures MeshWatch's findings end to end against the
// simulator's ground truth: each scenario runs on the simulated mesh, its
// metrics backfilled into a real Prometheus (with MeshWatch's alert rules)
// and its logs pushed into a real Loki; the mesh alert rules are evaluated
// over the run as Prometheus' rule manager evaluates them (each rule's
// expression at its group's interval, `for` held), and the alerts that
// fired are the incident input, grouped by namespace and workload as
// MeshWatch groups incidents. Each incident's evidence pack is collected
// (pkg/evidence) as of the run's end, the detectors run (pkg/findings),
// and the incidents of one fault are grouped into one as the product
// groups them (incidents.Faults: findings.Correlate's blame, onsets within
// one evidence window, neighbours in the request graph). A fault scores
// when a top group's finding names its workload and cause; a control run
// scores when nothing is found, its incidents none and, so the check has
// teeth, every workload of its mesh probed with an alert of its own.
//
// testdata/unseen holds scenarios on a mesh none of the built-in ones has
// (namespaces media, media-data and ml, a StatefulSet, the canary on another
// service, a cascade through a passed-on 504), for a check of generality:
//
//	meshwatch eval $(for f in pkg/devkit/eval/testdata/unseen/*.yaml; do echo --scenario-file $f; done)
package eval

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/meshwatch/meshwatch/pkg/devkit/contractfake"
	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/devkit/promrules"
	"github.com/meshwatch/meshwatch/pkg/devkit/simulator"
	"github.com/meshwatch/meshwatch/pkg/evidence"
	"github.com/meshwatch/meshwatch/pkg/findings"
	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/incidents"
	"github.com/meshwatch/meshwatch/pkg/settings"
	"github.com/meshwatch/meshwatch/pkg/systems/loki"
	"github.com/meshwatch/meshwatch/pkg/systems/prometheus"
	"github.com/meshwatch/meshwatch/pkg/systems/tempo"
)

// Options configure Run.
type Options struct {
	// Scenarios are the built-in simulator scenarios to run, and Files
	// scenarios of one's own (simulator.ParseScenario: a built-in topology
	// or a mesh declared in the file); both empty means every built-in one.
	Scenarios []string
	Files     []*simulator.Scenario
	// Seed of every run (default 1).
	Seed int64
	// Duration of each run; zero means the scenario's own (effects scale
	// with it).
	Duration time.Duration
	// RulesDir holds the alert rule files (*.yaml) Prometheus evaluates.
	RulesDir string
	// Logf receives progress lines (nil: dropped).
	Logf func(format string, args ...any)
	// Inspect, when set, is called with each scenario's result while its
	// sources still answer (to capture more from them: testdata of
	// pkg/analysis); it changes nothing of the evaluation.
	Inspect func(res Result, src evidence.Sources)
}

// Gap between runs: each run starts Gap after the previous one ended, so
// one Prometheus and one Loki hold them all, and no rule that looks back
// hours (a workload's traffic stopped: 3 hours and 10 minutes) sees the
// previous run's mesh go quiet.
const Gap = 3*time.Hour + 30*time.Minute

// TempoVersion the contract fake reports.
const TempoVersion = "2.8.2"

// ProbeAlertname names the alerts a control run's workloads are probed
// with (not a MeshWatch rule: the 5-minute window minimum applies).
const ProbeAlertname = "MeshWatchEvalProbe"

// ProbeLead is how long before the run's end a probe alert starts.
const ProbeLead = 25 * time.Minute

// Fault is an expected finding: the ground truth's workload and cause.
type Fault struct {
	Namespace, Workload string
	Cause               findings.Cause
	// Class is the truth's own cause class (a legacy name maps to Cause).
	Class string
}

func (f Fault) String() string { return f.Namespace + "/" + f.Workload + " " + string(f.Cause) }

// Incident is one incident of a run: its alerts, pack and findings.
type Incident struct {
	Key      incident.Key
	Alerts   []incident.Alert
	Pack     evidence.Pack
	Findings []findings.Finding
	// Took is the time from the alerts to the pack and findings ready.
	Took time.Duration
	// Probe: a control run's synthetic alert, not a rule's.
	Probe bool
}

// Result is one scenario's outcome.
type Result struct {
	Scenario string
	End      time.Time
	// Faults expected; empty for a control run.
	Faults []Fault
	// Alerts that fired; Incidents they made (and probes); Groups the
	// incidents correlated into one per fault.
	Alerts    int
	Incidents []Incident
	Groups    []findings.Group
	// Matched[i] is the group index whose top finding matched Faults[i]
	// (-1: none). For a control run, Quiet says nothing was found.
	Matched []int
	Quiet   bool
	Err     error
}

// Tops are the results' top findings: one per fault (its matched group's,
// or the next unmatched top group's), or the control run's highest.
func (r Result) Tops() []findings.Finding {
	if len(r.Faults) == 0 {
		best := findings.Finding{Cause: findings.None}
		for _, inc := range r.Incidents {
			if len(inc.Findings) > 0 && inc.Findings[0].Score > best.Score {
				best = inc.Findings[0]
			}
		}
		return []findings.Finding{best}
	}
	used := map[int]bool{}
	for _, g := range r.Matched {
		used[g] = true
	}
	out := make([]findings.Finding, len(r.Faults))
	next := 0
	for i, g := range r.Matched {
		if g >= 0 {
			out[i] = r.Groups[g].Top
			continue
		}
		for next < len(r.Groups) && used[next] {
			next++
		}
		if next < len(r.Groups) {
			out[i] = r.Groups[next].Top
			used[next] = true
		} else {
			out[i] = findings.Finding{Cause: findings.None}
		}
	}
	return out
}

// Passed counts the result's correct items: the faults matched, or 1 for
// a quiet control run.
func (r Result) Passed() (passed, items int) {
	if r.Err != nil {
		return 0, max(1, len(r.Faults))
	}
	if len(r.Faults) == 0 {
		if r.Quiet {
			return 1, 1
		}
		return 0, 1
	}
	for _, g := range r.Matched {
		if g >= 0 {
			passed++
		}
	}
	return passed, len(r.Faults)
}

// Report is the whole evaluation.
type Report struct {
	Results []Result
	// Setup is the time spent simulating, backfilling and starting servers.
	Setup time.Duration
}

// Accuracy is the top-1 accuracy over every fault and control run.
func (r *Report) Accuracy() (passed, items int, ratio float64) {
	for _, res := range r.Results {
		p, n := res.Passed()
		passed += p
		items += n
	}
	if items == 0 {
		return 0, 0, 0
	}
	return passed, items, float64(passed) / float64(items)
}

// CauseOf maps a ground-truth cause class to the findings' vocabulary:
// the vocabulary's own names, and the older names some scenarios keep.
func CauseOf(class string) (findings.Cause, error) {
	if c := findings.Cause(class); c.Valid() {
		return c, nil
	}
	legacy := map[string]findings.Cause{
		"oom-killed":        findings.AppMemoryOOM,
		"canary-regression": findings.ErrorRegression,
		"latency":           findings.LatencyRegression,
		"plaintext-traffic": findings.PlaintextUnderStrict,
		"xds-config-reject": findings.ControlPlaneRejects,
	}
	if c, ok := legacy[class]; ok {
		return c, nil
	}
	return "", fmt.Errorf("ground truth cause class %q is not in the findings' vocabulary %v", class, findings.Causes)
}

// run is one scenario placed on the shared clock.
type run struct {
	sc    *simulator.Scenario
	end   time.Time
	start time.Time
	truth simulator.GroundTruth
	tempo string
}

// Run evaluates the scenarios.
func Run(ctx context.Context, o Options) (*Report, error) {
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	names := o.Scenarios
	if len(names) == 0 && len(o.Files) == 0 {
		names = simulator.ScenarioNames()
	}
	var scs []*simulator.Scenario
	seen := map[string]bool{}
	for _, n := range names {
		sc, err := simulator.LookupScenario(n)
		if err != nil {
			return nil, err
		}
		scs = append(scs, sc)
		seen[sc.Name] = true
	}
	for _, sc := range o.Files {
		if seen[sc.Name] {
			return nil, fmt.Errorf("scenario %q twice", sc.Name)
		}
		seen[sc.Name] = true
		scs = append(scs, sc)
	}
	ruleFiles, err := filepath.Glob(filepath.Join(o.RulesDir, "*.yaml"))
	if err != nil || len(ruleFiles) == 0 {
		return nil, fmt.Errorf("no alert rule files (*.yaml) in %q: run from the repository root or pass the rules directory", o.RulesDir)
	}
	rules, err := promrules.ReadAlertRules(ruleFiles...)
	if err != nil {
		return nil, err
	}
	session, err := harness.NewSession(logf)
	if err != nil {
		return nil, err
	}
	defer session.Close()

	began := time.Now()
	// Runs end oldest first, the last one a minute ago.
	now := time.Now().UTC().Truncate(time.Minute)
	runs := make([]*run, len(scs))
	end := now.Add(-time.Minute)
	for i := len(scs) - 1; i >= 0; i-- {
		d := o.Duration
		if d == 0 {
			d = time.Duration(scs[i].Duration)
		}
		runs[i] = &run{sc: scs[i], end: end, start: end.Add(-d)}
		end = end.Add(-d - Gap)
	}
	var promURL, lokiURL string
	err = session.Do(func(t harness.T) {
		blocks := filepath.Join(t.TempDir(), "blocks")
		if err := os.MkdirAll(blocks, 0o755); err != nil {
			t.Fatal(err)
		}
		var logs []simulator.LogEntry
		for _, r := range runs {
			t0 := time.Now()
			e, err := simulator.Simulate(ctx, simulator.Options{Scenario: r.sc, Seed: o.Seed, End: r.end,
				Duration: r.end.Sub(r.start), Resolution: 30 * time.Second})
			if err != nil {
				t.Fatalf("simulate %s: %v", r.sc.Name, err)
			}
			r.truth = e.Truth()
			om := filepath.Join(t.TempDir(), r.sc.Name+".om")
			f, err := os.Create(om)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.WriteOpenMetrics(f); err != nil {
				t.Fatal(err)
			}
			f.Close()
			out := harness.Backfill(t, om)
			_ = os.Remove(om)
			ents, _ := os.ReadDir(out)
			for _, b := range ents {
				if err := os.Rename(filepath.Join(out, b.Name()), filepath.Join(blocks, b.Name())); err != nil {
					t.Fatal(err)
				}
			}
			dir := filepath.Join(t.TempDir(), "tempo")
			if err := e.WriteTempoFiles(dir); err != nil {
				t.Fatal(err)
			}
			r.tempo = contractfake.TempoWithTraces(t, TempoVersion, dir).URL
			logs = append(logs, e.DrainLogs()...)
			logf("eval: %s simulated and backfilled (%s → %s) in %s", r.sc.Name, r.start.Format(time.RFC3339), r.end.Format(time.RFC3339),
				time.Since(t0).Round(time.Millisecond))
		}
		p := harness.StartPrometheus(t, harness.PrometheusOptions{Blocks: blocks, RuleFiles: ruleFiles})
		l := harness.StartLoki(t)
		if err := (&simulator.LokiPusher{URL: l.URL}).Push(ctx, logs); err != nil {
			t.Fatalf("push logs to Loki: %v", err)
		}
		promURL, lokiURL = p.URL, l.URL
	})
	if err != nil {
		return nil, err
	}
	rep := &Report{Setup: time.Since(began)}
	logf("eval: %d scenarios ready in %s (Prometheus %s, Loki %s)", len(runs), rep.Setup.Round(time.Millisecond), promURL, lokiURL)

	prom, err := prometheus.New(settings.Endpoint{URL: promURL, TimeoutSeconds: 30})
	if err != nil {
		return nil, err
	}
	defer prom.Close()
	lk, err := loki.New(settings.Endpoint{URL: lokiURL, TimeoutSeconds: 30})
	if err != nil {
		return nil, err
	}
	defer lk.Close()
	// Loki answers for the pushed lines once its ingester has them.
	if err := waitForLogs(ctx, lk, runs); err != nil {
		logf("eval: %v", err)
	}
	for _, r := range runs {
		tc, err := tempo.New(settings.Endpoint{URL: r.tempo, TimeoutSeconds: 10})
		if err != nil {
			return nil, err
		}
		src := evidence.Sources{Prometheus: prom.API(), Loki: lk, Tempo: tc}
		res := evaluate(ctx, prom.API(), src, rules, r)
		if o.Inspect != nil {
			o.Inspect(res, src)
		}
		tc.Close()
		logf("eval: %s: %d alerts, %d incidents, %d groups", r.sc.Name, res.Alerts, len(res.Incidents), len(res.Groups))
		rep.Results = append(rep.Results, res)
	}
	return rep, nil
}

// waitForLogs waits (up to a minute) until Loki answers with lines of the
// newest run.
func waitForLogs(ctx context.Context, lk *loki.Client, runs []*run) error {
	if len(runs) == 0 {
		return nil
	}
	r := runs[len(runs)-1]
	ns := r.truth.Namespace
	if ns == "" {
		ns = ".+"
	}
	deadline := time.Now().Add(time.Minute)
	for {
		got, err := lk.QueryVector(ctx, `sum(count_over_time({namespace=~".+"}[1h]))`, r.end)
		if err == nil && len(got) > 0 && got[0].Value > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("loki has no lines of %s yet (%v)", r.sc.Name, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// evaluate runs one scenario's incidents through the pipeline and scores
// them.
func evaluate(ctx context.Context, api v1.API, src evidence.Sources, rules []promrules.AlertRule, r *run) Result {
	res := Result{Scenario: r.sc.Name, End: r.end}
	for _, f := range r.truth.Faults() {
		c, err := CauseOf(f.CauseClass)
		if err != nil {
			res.Err = err
			return res
		}
		res.Faults = append(res.Faults, Fault{Namespace: f.Namespace, Workload: f.Workload, Cause: c, Class: f.CauseClass})
	}
	alerts, err := FiredAlerts(ctx, api, rules, r.start, r.end)
	if err != nil {
		res.Err = err
		return res
	}
	res.Alerts = len(alerts)
	for _, inc := range Incidents(alerts) {
		res.Incidents = append(res.Incidents, investigate(ctx, src, inc, r.end))
	}
	if len(res.Faults) == 0 {
		// A control run: probe every workload of the mesh too.
		ws, err := meshWorkloads(ctx, api, r.end)
		if err != nil {
			res.Err = err
			return res
		}
		for _, w := range ws {
			labels := map[string]string{"alertname": ProbeAlertname, "namespace": w.Namespace, "workload": w.Workload}
			a := incident.Alert{Labels: labels, Status: incident.StatusFiring, StartsAt: r.end.Add(-ProbeLead),
				Source: incident.SourcePrometheus, Fingerprint: incident.FingerprintOf(labels)}
			inc := Incident{Key: incident.Key{Namespace: w.Namespace, Workload: w.Workload}, Alerts: []incident.Alert{a}, Probe: true}
			res.Incidents = append(res.Incidents, investigate(ctx, src, inc, r.end))
		}
	}
	// The product's grouping stage, so eval scores what the Incidents page
	// shows: members index the real incidents, in order.
	var cands []incidents.Candidate
	for _, inc := range res.Incidents {
		if inc.Probe {
			continue
		}
		cands = append(cands, incidents.Candidate{ID: int64(len(cands) + 1), Onset: onset(inc.Alerts),
			Case: findings.Case{Subject: inc.Pack.Subject, Window: inc.Pack.Window, Findings: inc.Findings, Scope: inc.Pack.Scope}})
	}
	res.Groups = incidents.Faults(cands, r.end)
	res.Matched, res.Quiet = score(res)
	return res
}

// onset is the earliest startsAt of alerts (an incident's StartedAt).
func onset(alerts []incident.Alert) time.Time {
	var t time.Time
	for _, a := range alerts {
		if t.IsZero() || a.StartsAt.Before(t) {
			t = a.StartsAt
		}
	}
	return t
}

// score matches the faults to the top groups (top-1 per fault: with k
// faults, the k highest groups), or says whether a control run is quiet.
func score(res Result) ([]int, bool) {
	if len(res.Faults) == 0 {
		for _, inc := range res.Incidents {
			if len(inc.Findings) > 0 {
				return nil, false
			}
		}
		return nil, true
	}
	matched := make([]int, len(res.Faults))
	used := map[int]bool{}
	k := min(len(res.Faults), len(res.Groups))
	for i, f := range res.Faults {
		matched[i] = -1
		for g := 0; g < k; g++ {
			t := res.Groups[g].Top
			if !used[g] && t.Namespace == f.Namespace && t.Workload == f.Workload && t.Cause == f.Cause {
				matched[i], used[g] = g, true
				break
			}
		}
	}
	return matched, false
}

// investigate collects an incident's pack as of at and runs the detectors.
func investigate(ctx context.Context, src evidence.Sources, inc Incident, at time.Time) Incident {
	t0 := time.Now()
	ev := evidence.Incident{Namespace: inc.Key.Namespace, Workload: inc.Key.Workload, Alerts: inc.Alerts}
	resolved := true
	for _, a := range inc.Alerts {
		if a.Status != incident.StatusResolved {
			resolved = false
		} else if a.EndsAt.After(ev.EndsAt) {
			ev.EndsAt = a.EndsAt
		}
	}
	if !resolved {
		ev.EndsAt = time.Time{}
	}
	inc.Pack = evidence.Collect(ctx, src, ev, at)
	inc.Findings = findings.Detect(&inc.Pack)
	inc.Took = time.Since(t0)
	return inc
}

// Incidents groups alerts as MeshWatch does (incident.Grouping's defaults:
// namespace and workload), in a stable order.
func Incidents(alerts []incident.Alert) []Incident {
	var g incident.Grouping
	byKey := map[incident.Key]*Incident{}
	var order []incident.Key
	for _, a := range alerts {
		k := g.Of(a.Labels)
		inc := byKey[k]
		if inc == nil {
			inc = &Incident{Key: k}
			byKey[k] = inc
			order = append(order, k)
		}
		inc.Alerts = append(inc.Alerts, a)
	}
	sort.Slice(order, func(i, j int) bool { return order[i].String() < order[j].String() })
	out := make([]Incident, 0, len(order))
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	return out
}

// FiredAlerts evaluates the alert rules over [start, end] as Prometheus'
// rule manager would have: each rule's expression at its group's interval
// (a range query on the grid ending at end), an alert active from the
// first evaluation its series appears in, firing once it held for the
// rule's `for` (startsAt is that evaluation, as Prometheus sends it to
// Alertmanager), resolved at the first evaluation it is gone. One alert
// per label set: from its first firing to its last resolution (or still
// firing at end).
func FiredAlerts(ctx context.Context, api v1.API, rules []promrules.AlertRule, start, end time.Time) ([]incident.Alert, error) {
	var out []incident.Alert
	for _, rule := range rules {
		iv := rule.Interval
		if iv <= 0 {
			iv = promrules.DefaultInterval
		}
		first := end.Add(-end.Sub(start).Truncate(iv))
		v, _, err := api.QueryRange(ctx, rule.Expr, v1.Range{Start: first, End: end, Step: iv})
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", rule.Alert, err)
		}
		m, ok := v.(model.Matrix)
		if !ok {
			return nil, fmt.Errorf("rule %s: the answer is no matrix", rule.Alert)
		}
		for _, s := range m {
			a, ok := episode(s.Values, iv, rule.For, end)
			if !ok {
				continue
			}
			labels := map[string]string{}
			for k, val := range s.Metric {
				if k != model.MetricNameLabel {
					labels[string(k)] = string(val)
				}
			}
			for k, val := range rule.Labels {
				labels[k] = val
			}
			labels["alertname"] = rule.Alert
			a.Labels = labels
			a.Annotations = map[string]string{}
			for k, val := range rule.Annotations {
				if !strings.Contains(val, "{{") {
					a.Annotations[k] = val
				}
			}
			a.Source = incident.SourceAlertmanager
			a.Fingerprint = incident.FingerprintOf(labels)
			n, err := incident.Normalize(a)
			if err != nil {
				return nil, fmt.Errorf("rule %s: %w", rule.Alert, err)
			}
			out = append(out, n)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].StartsAt.Before(out[j].StartsAt) })
	return out, nil
}

// episode finds, in one series' evaluations (every iv), when its alert
// first fired (held for hold) and whether it still fires at end, else when
// its last firing run resolved (the evaluation after its last sample).
func episode(values []model.SamplePair, iv, hold time.Duration, end time.Time) (incident.Alert, bool) {
	var startsAt, endsAt, runStart, prev time.Time
	firing := false
	for i, p := range values {
		t := p.Timestamp.Time().UTC()
		if i == 0 || t.Sub(prev) > iv+iv/2 {
			if firing {
				endsAt = prev.Add(iv)
			}
			firing, runStart = false, t
		}
		prev = t
		if !firing && t.Sub(runStart) >= hold {
			firing = true
			if startsAt.IsZero() {
				startsAt = t
			}
		}
	}
	if startsAt.IsZero() {
		return incident.Alert{}, false
	}
	a := incident.Alert{StartsAt: startsAt, Status: incident.StatusFiring}
	if !firing || end.Sub(prev) >= iv {
		if firing {
			endsAt = prev.Add(iv)
		}
		a.Status, a.EndsAt = incident.StatusResolved, endsAt
	}
	return a, true
}

// meshWorkloads are the workloads that served requests in the last 30
// minutes before at, from the request graph.
func meshWorkloads(ctx context.Context, api v1.API, at time.Time) ([]evidence.Workload, error) {
	q := `sum by (destination_workload_namespace, destination_workload) (increase(istio_requests_total{reporter="destination"}[30m])) > 0`
	v, _, err := api.Query(ctx, q, at)
	if err != nil {
		return nil, err
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, errors.New("request graph: the answer is no vector")
	}
	var out []evidence.Workload
	for _, s := range vec {
		w := evidence.Workload{Namespace: string(s.Metric["destination_workload_namespace"]), Workload: string(s.Metric["destination_workload"])}
		if w.Workload != "" && w.Workload != "unknown" {
			out = append(out, w)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}
