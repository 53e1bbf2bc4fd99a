package dashboards

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch/pkg/devkit/harness"
	"github.com/meshwatch/meshwatch/pkg/devkit/simulator"
)

// The fixture: every built-in simulator scenario, 6 hours each, backfilled
// into one Prometheus TSDB (promtool create-blocks-from openmetrics) with
// each run on its own day (06:00–12:00 UTC of consecutive days, so rate
// windows and offsets never reach into another scenario), and the runs' logs
// for Loki. It is built once per `go test` process and shared by the tests
// and benchmarks, each of which starts its own real Prometheus and Loki on it.

const fixtureSeed = 1

type scenarioRun struct {
	Name       string
	Start, End time.Time
	Truth      simulator.GroundTruth
}

type fixture struct {
	blocks string // TSDB blocks of every run
	logs   map[string][]simulator.LogEntry
	runs   []scenarioRun
}

var (
	fixOnce sync.Once
	fix     *fixture
	fixDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixDir != "" {
		_ = os.RemoveAll(fixDir)
	}
	os.Exit(code)
}

// getFixture builds (once) and returns the backfilled scenarios. It skips
// the test when promtool is not installed (fails under CI=true).
func getFixture(t testing.TB) *fixture {
	t.Helper()
	harness.RequireBinary(t, harness.BinPromtool)
	fixOnce.Do(func() {
		t0 := time.Now()
		dir, err := os.MkdirTemp("", "meshwatch-dashboards-")
		if err != nil {
			t.Fatal(err)
		}
		fixDir = dir
		f := &fixture{blocks: filepath.Join(dir, "blocks"), logs: map[string][]simulator.LogEntry{}}
		if err := os.MkdirAll(f.blocks, 0o755); err != nil {
			t.Fatal(err)
		}
		scs := simulator.Scenarios()
		// The runs end at 12:00 UTC on consecutive days, the last one
		// yesterday: recent enough for Loki to take the logs.
		last := time.Now().UTC().Truncate(24 * time.Hour).Add(-12 * time.Hour)
		for k, sc := range scs {
			end := last.Add(-time.Duration(len(scs)-1-k) * 24 * time.Hour)
			e, err := simulator.Simulate(context.Background(), simulator.Options{Scenario: sc, Seed: fixtureSeed, End: end})
			if err != nil {
				t.Fatalf("simulate %s: %v", sc.Name, err)
			}
			om := filepath.Join(dir, sc.Name+".om")
			if err := writeOpenMetrics(om, e); err != nil {
				t.Fatal(err)
			}
			blocks := harness.Backfill(t, om)
			ents, err := os.ReadDir(blocks)
			if err != nil {
				t.Fatal(err)
			}
			for _, ent := range ents {
				if err := os.Rename(filepath.Join(blocks, ent.Name()), filepath.Join(f.blocks, ent.Name())); err != nil {
					t.Fatal(err)
				}
			}
			_ = os.Remove(om) // 0.5 GB of text; the blocks are what counts
			f.logs[sc.Name] = e.DrainLogs()
			truth := e.Truth()
			f.runs = append(f.runs, scenarioRun{Name: sc.Name, Start: truth.Start, End: truth.End, Truth: truth})
		}
		t.Logf("fixture: %d scenarios simulated and backfilled in %s", len(f.runs), time.Since(t0).Round(time.Second))
		fix = f
	})
	if fix == nil {
		t.Fatal("the scenario fixture failed to build in an earlier test")
	}
	return fix
}

func writeOpenMetrics(path string, e *simulator.Engine) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(out, 1<<20)
	if err := e.WriteOpenMetrics(w); err != nil {
		out.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func (f *fixture) run(t testing.TB, name string) scenarioRun {
	t.Helper()
	for _, r := range f.runs {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no scenario %q in the fixture", name)
	return scenarioRun{}
}

// startPrometheus starts a real Prometheus over the fixture's blocks.
func (f *fixture) startPrometheus(t testing.TB, ruleFiles ...string) *promClient {
	t.Helper()
	p := harness.StartPrometheus(t, harness.PrometheusOptions{Blocks: f.blocks, RuleFiles: ruleFiles})
	return &promClient{url: p.URL}
}

// lokiScenarios are the runs whose log panels the tests look at.
var lokiScenarios = []string{"healthy", "canary-5xx-regression", "istiod-config-rejects"}

// startLoki starts a real Loki and pushes the logs of lokiScenarios into it.
// Loki as the harness configures it answers nothing for lines older than
// about a day (pushes of older lines are accepted, queries come back empty),
// so each run's logs are re-timed into the last day — 7 h apart, so they do
// not mix — keeping their timing within the run; queries for that run are
// shifted by the same amount (lokiClient.shift).
func (f *fixture) startLoki(t testing.TB) *lokiClient {
	t.Helper()
	l := harness.StartLoki(t)
	c := &lokiClient{url: l.URL, shift: map[string]time.Duration{}}
	slot := time.Now().UTC().Truncate(time.Minute).Add(-time.Hour)
	var all []simulator.LogEntry
	for k, name := range lokiScenarios {
		run := f.run(t, name)
		d := slot.Add(-time.Duration(k) * 7 * time.Hour).Sub(run.End)
		c.shift[name] = d
		for _, e := range f.logs[name] {
			e.Time = e.Time.Add(d)
			all = append(all, e)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := (&simulator.LokiPusher{URL: l.URL}).Push(ctx, all); err != nil {
		t.Fatalf("push logs to Loki: %v", err)
	}
	// Wait until the last line is queryable.
	last := all[0]
	for _, e := range all {
		if e.Time.After(last.Time) {
			last = e
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		q := rendered{Expr: fmt.Sprintf(`{namespace=%q, pod=%q}`, last.Labels.Namespace, last.Labels.Pod), Start: last.Time.Add(-time.Minute), End: last.Time.Add(time.Second), Limit: 1}
		if s, err := c.query(q); err == nil && len(s) > 0 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("Loki does not return the pushed lines (%v)", err)
		}
		time.Sleep(time.Second)
	}
	return c
}

// ---- Prometheus HTTP API ----

type promClient struct{ url string }

type promSeries struct {
	Metric map[string]string `json:"metric"`
	Values [][2]any          `json:"values"` // range: [ts, "v"]
	Value  [2]any            `json:"value"`  // instant
}

type promStats struct {
	Timings struct {
		EvalTotalTime        float64 `json:"evalTotalTime"`
		ExecTotalTime        float64 `json:"execTotalTime"`
		QueryPreparationTime float64 `json:"queryPreparationTime"`
		InnerEvalTime        float64 `json:"innerEvalTime"`
	} `json:"timings"`
	Samples struct {
		TotalQueryableSamples int64 `json:"totalQueryableSamples"`
		PeakSamples           int64 `json:"peakSamples"`
	} `json:"samples"`
}

type promResult struct {
	Series []promSeries
	Stats  promStats
}

// points returns every (timestamp, value) of the result.
func (r *promResult) points() []float64 {
	var out []float64
	for _, s := range r.Series {
		if s.Values == nil {
			out = append(out, parseValue(s.Value[1]))
			continue
		}
		for _, v := range s.Values {
			out = append(out, parseValue(v[1]))
		}
	}
	return out
}

func parseValue(v any) float64 {
	s, _ := v.(string)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

func (c *promClient) get(path string, params url.Values, out any) error {
	resp, err := http.Get(c.url + path + "?" + params.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var env struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("%s: %s: %.300s", path, resp.Status, body)
	}
	if env.Status != "success" {
		return fmt.Errorf("%s: %s", path, env.Error)
	}
	return json.Unmarshal(env.Data, out)
}

// query runs one rendered query (range or instant) with statistics.
func (c *promClient) query(q rendered) (*promResult, error) {
	params := url.Values{"query": {q.Expr}, "stats": {"all"}}
	path := "/api/v1/query_range"
	if q.Instant {
		path = "/api/v1/query"
		params.Set("time", fmtTime(q.End))
	} else {
		params.Set("start", fmtTime(q.Start))
		params.Set("end", fmtTime(q.End))
		params.Set("step", fmt.Sprint(q.Step.Seconds()))
	}
	var data struct {
		Result json.RawMessage `json:"result"`
		Stats  promStats       `json:"stats"`
	}
	if err := c.get(path, params, &data); err != nil {
		return nil, err
	}
	res := &promResult{Stats: data.Stats}
	if err := json.Unmarshal(data.Result, &res.Series); err != nil {
		// scalar results ([ts, "v"])
		var sc [2]any
		if err2 := json.Unmarshal(data.Result, &sc); err2 != nil {
			return nil, err
		}
		res.Series = []promSeries{{Value: sc}}
	}
	return res, nil
}

// labelValues answers a label_values(selector, label) variable query the way
// Grafana does (the label values API with a match[] selector).
func (c *promClient) labelValues(label, selector string, start, end time.Time) ([]string, error) {
	var out []string
	err := c.get("/api/v1/label/"+label+"/values", url.Values{"match[]": {selector}, "start": {fmtTime(start)}, "end": {fmtTime(end)}}, &out)
	sort.Strings(out)
	return out, err
}

func fmtTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)
}

// ---- Loki HTTP API ----

type lokiClient struct {
	url   string
	shift map[string]time.Duration // scenario → how far its logs were moved
}

type lokiStream struct {
	Stream map[string]string `json:"stream"`
	Values [][2]string       `json:"values"`
}

// query runs a log query over [start, end], newest first, like Grafana's
// logs panels (direction backward, limit = maxLines).
func (c *lokiClient) query(q rendered) ([]lokiStream, error) {
	params := url.Values{
		"query": {q.Expr}, "start": {fmt.Sprint(q.Start.UnixNano())}, "end": {fmt.Sprint(q.End.UnixNano())},
		"direction": {"backward"}, "limit": {fmt.Sprint(max(q.Limit, 1))},
	}
	resp, err := http.Get(c.url + "/loki/api/v1/query_range?" + params.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("loki: %s: %.300s", resp.Status, body)
	}
	var env struct {
		Data struct {
			ResultType string       `json:"resultType"`
			Result     []lokiStream `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, err
	}
	if env.Data.ResultType != "streams" {
		return nil, fmt.Errorf("loki: result type %s, want streams", env.Data.ResultType)
	}
	return env.Data.Result, nil
}
