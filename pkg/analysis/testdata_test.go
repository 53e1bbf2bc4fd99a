package analysis

import (
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/evidence"
	"github.com/meshwatch/meshwatch/pkg/findings"
)

// CapturedScenario is testdata/packs/<scenario>.json (capture_test.go).
type CapturedScenario struct {
	Scenario string         `json:"scenario"`
	Cases    []CapturedCase `json:"cases"`
}

// CapturedCase is one incident of a scenario: its stored pack and findings
// as the incident store keeps them, and the ground truth (nil: a control
// run, where the right answer is cause none).
type CapturedCase struct {
	Truth    *Truth             `json:"truth,omitempty"`
	Pack     evidence.Pack      `json:"pack"`
	Findings []findings.Finding `json:"findings"`
}

// Truth is the fault the scenario injected.
type Truth struct {
	Namespace string         `json:"namespace"`
	Workload  string         `json:"workload"`
	Cause     findings.Cause `json:"cause"`
}

// RawWindow is what Collect read inside the evidence window: the naive
// prompt's content.
type RawWindow struct {
	Series []RawSeries `json:"series"`
	Lines  []RawLine   `json:"lines"`
}

// RawSeries is one range series as Prometheus answered it.
type RawSeries struct {
	Metric map[string]string `json:"metric"`
	Values []RawPoint        `json:"values"`
}

// RawPoint is one sample; V as Prometheus writes it ("0.25", "NaN").
type RawPoint struct {
	T time.Time `json:"t"`
	V string    `json:"v"`
}

// RawLine is one log line as Loki answered it.
type RawLine struct {
	Labels map[string]string `json:"labels"`
	T      time.Time         `json:"t"`
	Line   string            `json:"line"`
}

// loadScenarios reads every captured scenario, sorted by name.
func loadScenarios(t testing.TB) []CapturedScenario {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("testdata", "packs", "*.json"))
	if len(files) == 0 {
		t.Fatal("no testdata/packs/*.json: capture them (capture_test.go)")
	}
	sort.Strings(files)
	var out []CapturedScenario
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var s CapturedScenario
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if s.Scenario != strings.TrimSuffix(filepath.Base(f), ".json") || len(s.Cases) == 0 {
			t.Fatalf("%s: scenario %q with %d cases", f, s.Scenario, len(s.Cases))
		}
		out = append(out, s)
	}
	return out
}

// loadRaw reads a scenario's raw windows (one per case).
func loadRaw(t testing.TB, scenario string) []RawWindow {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "raw", scenario+".json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []RawWindow
	if err := json.NewDecoder(zr).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}
