package stack

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/devkit/promrules"
	"github.com/meshwatch/meshwatch/pkg/upstream"
)

// Alerts that were already pending or firing when the stack starts.
//
// Prometheus evaluates alert rules only at "now", so over a backfilled
// history every alert would start Pending and wait out its `for` (30 min for
// the sidecar leak). A Prometheus that had been running through that history
// would have recorded each alert's start in ALERTS_FOR_STATE and, after a
// restart, restored it from there. The stack reproduces that record: it
// evaluates each rule's expression over the history with a real Prometheus
// (as the rule manager would have, at the group's interval), finds the
// alerts true at the end and since when, and backfills their
// ALERTS_FOR_STATE samples, so the Prometheus that runs the rules restores
// them on start (with --rules.alert.for-grace-period short enough to apply).

// restoreForState replays the rules over the backfilled history on a
// throwaway Prometheus and adds the ALERTS_FOR_STATE samples of the alerts
// active at its end to blocks. It returns how many.
func restoreForState(ctx context.Context, t harness.T, blocks string, rules []promrules.AlertRule, start, end time.Time, logf func(string, ...any)) int {
	replay, err := harness.NewSession(logf)
	if err != nil {
		t.Fatalf("stack: %v", err)
	}
	var active []activeAlert
	err = replay.Do(func(rt harness.T) {
		p := harness.StartPrometheus(rt, harness.PrometheusOptions{Blocks: blocks})
		prom, err := upstream.New(upstream.Config{Name: "Prometheus (replay)", BaseURL: p.URL, Timeout: time.Minute, MaxResponseBytes: 64 << 20})
		if err != nil {
			rt.Fatalf("stack: %v", err)
		}
		var qerr error
		if active, qerr = activeAlerts(ctx, prom, rules, start, end); qerr != nil {
			rt.Fatalf("stack: replaying the alert rules over the history: %v", qerr)
		}
	})
	_ = replay.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(active) == 0 {
		return 0
	}
	om := filepath.Join(t.TempDir(), "for-state.om")
	if err := writeForState(om, active, end); err != nil {
		t.Fatalf("stack: %v", err)
	}
	if err := mergeBlocks(harness.Backfill(t, om), blocks); err != nil {
		t.Fatalf("stack: %v", err)
	}
	return len(active)
}

// activeAlert is an alert true at the end of the history.
type activeAlert struct {
	labels   map[string]string // the alert's labels, alertname included
	activeAt time.Time
}

// rangeSeries is one series of a query_range answer.
type rangeSeries struct {
	Metric map[string]string `json:"metric"`
	Values [][2]any          `json:"values"`
}

// activeAlerts evaluates each rule's expression over [start, end] at its
// group's interval on the Prometheus behind prom and returns the alerts whose
// expression holds at end, each with the start of its unbroken run.
func activeAlerts(ctx context.Context, prom *upstream.Client, rules []promrules.AlertRule, start, end time.Time) ([]activeAlert, error) {
	var out []activeAlert
	for _, r := range rules {
		if templated(r.Labels) {
			continue // labels that depend on the value: not reproducible here
		}
		series, err := queryRange(ctx, prom, r.Expr, start, end, r.Interval)
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", r.Alert, err)
		}
		for _, s := range series {
			at, ok := runEndingAt(s.Values, end, r.Interval)
			if !ok {
				continue
			}
			ls := map[string]string{}
			for k, v := range s.Metric {
				if k != "__name__" {
					ls[k] = v
				}
			}
			for k, v := range r.Labels {
				ls[k] = v
			}
			ls["alertname"] = r.Alert
			out = append(out, activeAlert{labels: ls, activeAt: at})
		}
	}
	return out, nil
}

func templated(labels map[string]string) bool {
	for _, v := range labels {
		if strings.Contains(v, "{{") {
			return true
		}
	}
	return false
}

// runEndingAt finds, in samples at step intervals, the unbroken run that
// reaches the last step at or before end, and returns its first timestamp.
func runEndingAt(values [][2]any, end time.Time, step time.Duration) (time.Time, bool) {
	if len(values) == 0 {
		return time.Time{}, false
	}
	ts := func(i int) float64 { f, _ := values[i][0].(float64); return f }
	last := len(values) - 1
	if end.Sub(time.Unix(int64(ts(last)), 0)) >= step {
		return time.Time{}, false // not true at the end
	}
	first := last
	for first > 0 && ts(first)-ts(first-1) <= step.Seconds()+0.001 {
		first--
	}
	return time.Unix(int64(ts(first)), 0).UTC(), true
}

func queryRange(ctx context.Context, prom *upstream.Client, expr string, start, end time.Time, step time.Duration) ([]rangeSeries, error) {
	q := url.Values{
		"query": {expr},
		"start": {strconv.FormatInt(start.Unix(), 10)},
		"end":   {strconv.FormatInt(end.Unix(), 10)},
		"step":  {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)},
	}
	var ans struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []rangeSeries `json:"result"`
		} `json:"data"`
	}
	if err := prom.GetJSON(ctx, "/api/v1/query_range", q, &ans); err != nil {
		return nil, err
	}
	if ans.Status != "success" {
		return nil, fmt.Errorf("query_range: %s", ans.Error)
	}
	return ans.Data.Result, nil
}

// writeForState writes the alerts' ALERTS_FOR_STATE samples (value: the
// unix time the alert became active) at `at`, as OpenMetrics for promtool.
func writeForState(path string, alerts []activeAlert, at time.Time) error {
	var b strings.Builder
	b.WriteString("# TYPE ALERTS_FOR_STATE gauge\n")
	lines := make([]string, 0, len(alerts))
	for _, a := range alerts {
		keys := make([]string, 0, len(a.labels))
		for k := range a.labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		pairs := make([]string, len(keys))
		for i, k := range keys {
			pairs[i] = k + "=" + strconv.Quote(a.labels[k])
		}
		lines = append(lines, fmt.Sprintf("ALERTS_FOR_STATE{%s} %d %d\n", strings.Join(pairs, ","), a.activeAt.Unix(), at.Unix()))
	}
	sort.Strings(lines) // one series per label set, in a stable order
	for _, l := range lines {
		b.WriteString(l)
	}
	b.WriteString("# EOF\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// mergeBlocks moves the TSDB blocks of src into dst.
func mergeBlocks(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := os.Rename(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}
