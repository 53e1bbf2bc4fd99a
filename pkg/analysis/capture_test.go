package analysis

// Testdata captured once from real runs: every built-in simulator scenario
// evaluated end to end (pkg/devkit/eval: metrics in a real Prometheus, logs
// in a real Loki, the alert rules evaluated, incidents grouped, packs
// collected, detectors run). For each fault (or a control run) the incident
// whose pack holds the run's top finding is collected again with its
// sources recorded, and saved as testdata/packs/<scenario>.json (pack,
// findings, ground truth) and testdata/raw/<scenario>.json.gz (the raw
// window Collect read: every Prometheus range series' points inside the
// evidence window, every Loki line; the naive prompt of the benchmarks).
// It takes about 20 minutes; regenerate with
//
//	CI=true MESHWATCH_TOOLS=$HOME/.cache/meshwatch/tools go test ./pkg/analysis/ -run TestCapture -capture -v -timeout 60m
//
// and then the golden prompts with go test ./pkg/analysis/ -run Golden -update.

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/meshwatch/meshwatch/pkg/devkit/eval"
	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/evidence"
	"github.com/meshwatch/meshwatch/pkg/findings"
	"github.com/meshwatch/meshwatch/pkg/incident"
	"github.com/meshwatch/meshwatch/pkg/systems/loki"
)

var capture = flag.Bool("capture", false, "capture testdata/packs and testdata/raw from real runs of every scenario (about 20 minutes)")

// recordingProm records the range queries' answers.
type recordingProm struct {
	v1.API
	mu     sync.Mutex
	series []RawSeries
}

func (r *recordingProm) QueryRange(ctx context.Context, q string, rg v1.Range, opts ...v1.Option) (model.Value, v1.Warnings, error) {
	v, w, err := r.API.QueryRange(ctx, q, rg, opts...)
	if m, ok := v.(model.Matrix); ok && err == nil {
		r.mu.Lock()
		for _, s := range m {
			rs := RawSeries{Metric: map[string]string{}}
			for k, val := range s.Metric {
				rs.Metric[string(k)] = string(val)
			}
			for _, p := range s.Values {
				rs.Values = append(rs.Values, RawPoint{T: p.Timestamp.Time().UTC(), V: float64(p.Value)})
			}
			r.series = append(r.series, rs)
		}
		r.mu.Unlock()
	}
	return v, w, err
}

// recordingLoki records the log lines read.
type recordingLoki struct {
	evidence.LogSource
	mu    sync.Mutex
	lines []RawLine
}

func (r *recordingLoki) QueryRange(ctx context.Context, q loki.LogQuery) ([]loki.Stream, error) {
	streams, err := r.LogSource.QueryRange(ctx, q)
	r.mu.Lock()
	for _, s := range streams {
		for _, e := range s.Entries {
			r.lines = append(r.lines, RawLine{Labels: s.Labels, T: e.T, Line: e.Line})
		}
	}
	r.mu.Unlock()
	return streams, err
}

func TestCapture(t *testing.T) {
	if !*capture {
		t.Skip("pass -capture to capture testdata from real runs (about 20 minutes)")
	}
	for _, b := range []string{harness.BinPromtool, harness.BinPrometheus, harness.BinLoki} {
		harness.RequireBinary(t, b)
	}
	_, err := eval.Run(context.Background(), eval.Options{RulesDir: "../../deploy/base/monitoring/rules",
		Logf: func(format string, args ...any) { t.Logf(format, args...) },
		Inspect: func(res eval.Result, src evidence.Sources) {
			if res.Err != nil {
				t.Errorf("%s: %v", res.Scenario, res.Err)
				return
			}
			file := CapturedScenario{Scenario: res.Scenario}
			var raw []RawWindow
			for i, inc := range chosen(res) {
				rp := &recordingProm{API: src.Prometheus}
				rl := &recordingLoki{LogSource: src.Loki}
				rsrc := src
				rsrc.Prometheus, rsrc.Loki = rp, rl
				pack := evidence.Collect(context.Background(), rsrc, incidentOf(inc), res.End)
				c := CapturedCase{Pack: pack, Findings: findings.Detect(&pack)}
				if i < len(res.Faults) {
					f := res.Faults[i]
					c.Truth = &Truth{Namespace: f.Namespace, Workload: f.Workload, Cause: f.Cause}
				}
				file.Cases = append(file.Cases, c)
				raw = append(raw, inWindow(RawWindow{Series: rp.series, Lines: rl.lines}, pack.Window))
			}
			writeJSON(t, filepath.Join("testdata", "packs", res.Scenario+".json"), file, false)
			writeJSON(t, filepath.Join("testdata", "raw", res.Scenario+".json.gz"), raw, true)
		}})
	if err != nil {
		t.Fatal(err)
	}
}

// chosen are the incidents of a result to capture: per fault the one whose
// findings hold its top finding (Result.Tops); for a control run the
// incident with the highest finding, else the first.
func chosen(res eval.Result) []eval.Incident {
	var real []eval.Incident
	for _, inc := range res.Incidents {
		if !inc.Probe {
			real = append(real, inc)
		}
	}
	if len(real) == 0 {
		real = res.Incidents
	}
	var out []eval.Incident
	for _, top := range res.Tops() {
		best := real[0]
		for _, inc := range real {
			for _, f := range inc.Findings {
				if f.Namespace == top.Namespace && f.Workload == top.Workload && f.Cause == top.Cause && f.Score == top.Score {
					best = inc
				}
			}
		}
		out = append(out, best)
	}
	return out
}

// incidentOf is what eval collects an incident's pack for.
func incidentOf(inc eval.Incident) evidence.Incident {
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
	return ev
}

// inWindow keeps the points and lines inside the evidence window.
func inWindow(r RawWindow, w evidence.Window) RawWindow {
	in := func(t time.Time) bool { return !t.Before(w.From) && !t.After(w.To) }
	var out RawWindow
	for _, s := range r.Series {
		var vs []RawPoint
		for _, p := range s.Values {
			if in(p.T) {
				vs = append(vs, p)
			}
		}
		if len(vs) > 0 {
			out.Series = append(out.Series, RawSeries{Metric: s.Metric, Values: vs})
		}
	}
	for _, l := range r.Lines {
		if in(l.T) {
			out.Lines = append(out.Lines, l)
		}
	}
	return out
}

func writeJSON(t *testing.T, path string, v any, gz bool) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if gz {
		zw := gzip.NewWriter(f)
		if err := json.NewEncoder(zw).Encode(v); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		return
	}
	enc := json.NewEncoder(f)
	enc.SetIndent("", " ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
}
