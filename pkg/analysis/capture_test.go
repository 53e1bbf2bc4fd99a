package analysis_test

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

	"github.com/meshwatch/meshwatch/pkg/analysis"
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
	series []analysis.RawSeries
}

func (r *recordingProm) QueryRange(ctx context.Context, q string, rg v1.Range, opts ...v1.Option) (model.Value, v1.Warnings, error) {
	v, w, err := r.API.QueryRange(ctx, q, rg, opts...)
	if m, ok := v.(model.Matrix); ok && err == nil {
		r.mu.Lock()
		for _, s := range m {
			rs := analysis.RawSeries{Metric: map[string]string{}}
			for k, val := range s.Metric {
				rs.Metric[string(k)] = string(val)
			}
			for _, p := range s.Values {
				rs.Values = append(rs.Values, analysis.RawPoint{T: p.Timestamp.Time().UTC(), V: p.Value.String()})
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
	lines []analysis.RawLine
}

func (r *recordingLoki) QueryRange(ctx context.Context, q loki.LogQuery) ([]loki.Stream, error) {
	streams, err := r.LogSource.QueryRange(ctx, q)
	r.mu.Lock()
	for _, s := range streams {
		for _, e := range s.Entries {
			r.lines = append(r.lines, analysis.RawLine{Labels: s.Labels, T: e.T, Line: e.Line})
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
			file := analysis.CapturedScenario{Scenario: res.Scenario}
			var raw []analysis.RawWindow
			for i, inc := range eval.Candidates(res) {
				rp := &recordingProm{API: src.Prometheus}
				rl := &recordingLoki{LogSource: src.Loki}
				rsrc := src
				rsrc.Prometheus, rsrc.Loki = rp, rl
				pack := evidence.Collect(context.Background(), rsrc, incidentOf(inc), res.End)
				c := analysis.CapturedCase{Pack: pack, Findings: findings.Detect(&pack)}
				if i < len(res.Faults) {
					f := res.Faults[i]
					c.Truth = &analysis.Truth{Namespace: f.Namespace, Workload: f.Workload, Cause: f.Cause}
				}
				file.Cases = append(file.Cases, c)
				raw = append(raw, inWindow(analysis.RawWindow{Series: rp.series, Lines: rl.lines}, pack.Window))
			}
			writeJSON(t, filepath.Join("testdata", "packs", res.Scenario+".json"), file, false)
			writeJSON(t, filepath.Join("testdata", "raw", res.Scenario+".json.gz"), raw, true)
		}})
	if err != nil {
		t.Fatal(err)
	}
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
func inWindow(r analysis.RawWindow, w evidence.Window) analysis.RawWindow {
	in := func(t time.Time) bool { return !t.Before(w.From) && !t.After(w.To) }
	var out analysis.RawWindow
	for _, s := range r.Series {
		var vs []analysis.RawPoint
		for _, p := range s.Values {
			if in(p.T) {
				vs = append(vs, p)
			}
		}
		if len(vs) > 0 {
			out.Series = append(out.Series, analysis.RawSeries{Metric: s.Metric, Values: vs})
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
