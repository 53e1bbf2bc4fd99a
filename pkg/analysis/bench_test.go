package analysis

// Benchmarks over the captured scenarios (testdata/packs, testdata/raw):
//
//	go test ./pkg/analysis/ -run '^$' -bench . -benchtime 20x
//
// BenchmarkPromptTokens reports per scenario the prompt's estimated tokens
// with the default settings (goal: at most 1,500 for a five-service
// incident), the workloads the pack covers, and the ratio against a naive
// prompt of the same incident (goal: at least 5×). The naive prompt is the
// same system prompt followed by the raw window Collect read for the pack:
// every Prometheus range series it queried, restricted to the evidence
// window, in Prometheus' own query_range JSON ({"metric":{labels},
// "values":[[unix,"value"],…]}), and every log line Loki returned for it,
// in Loki's stream JSON ({"stream":{labels},"values":[["unix ns","line"],
// …]}); traces left out. Both are counted with the same estimator
// (EstimateTokens).
//
// BenchmarkPipeline measures the work from a stored pack and findings to
// the request's bytes (InputFromJSON, Fit, Request, the JSON sent), the
// model excluded (goal: at most 100 ms); BenchmarkRunAgainstFake a whole
// Run against the contract fake answering at once (queue, /api/show,
// /api/ps, the streamed chat on loopback, parse, guard).

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/ollama/ollama/api"

	"github.com/meshwatch/meshwatch/pkg/devkit/contractfake"
	"github.com/meshwatch/meshwatch/pkg/settings"
)

// NaivePrompt is the naive prompt of a raw window (see above).
func NaivePrompt(raw RawWindow) Prompt {
	type matrix struct {
		Metric map[string]string `json:"metric"`
		Values [][2]any          `json:"values"`
	}
	type stream struct {
		Stream map[string]string `json:"stream"`
		Values [][2]string       `json:"values"`
	}
	var ms []matrix
	for _, s := range raw.Series {
		m := matrix{Metric: s.Metric}
		for _, p := range s.Values {
			m.Values = append(m.Values, [2]any{float64(p.T.UnixMilli()) / 1000, p.V})
		}
		ms = append(ms, m)
	}
	byLabels := map[string]*stream{}
	var keys []string
	for _, l := range raw.Lines {
		b, _ := json.Marshal(l.Labels)
		k := string(b)
		if byLabels[k] == nil {
			byLabels[k] = &stream{Stream: l.Labels}
			keys = append(keys, k)
		}
		byLabels[k].Values = append(byLabels[k].Values, [2]string{strconv.FormatInt(l.T.UnixNano(), 10), l.Line})
	}
	var ss []stream
	for _, k := range keys {
		ss = append(ss, *byLabels[k])
	}
	data, _ := json.Marshal(map[string]any{"prometheus": ms, "loki": ss})
	pr := Prompt{System: SystemPrompt, DataJSON: data, User: DataOpen + "\n" + string(data) + "\n" + DataClose + "\n" + Task}
	pr.Estimate = EstimateTokens(pr)
	return pr
}

// services counts the workloads a pack covers: its subject and scope.
func services(c CapturedCase) int {
	seen := map[string]bool{c.Pack.Subject.String(): true}
	for _, n := range c.Pack.Scope {
		seen[n.Workload.String()] = true
	}
	return len(seen)
}

func BenchmarkPromptTokens(b *testing.B) {
	s := settings.Defaults().Ollama
	for _, sc := range loadScenarios(b) {
		raws := loadRaw(b, sc.Scenario)
		for i, c := range sc.Cases {
			name := sc.Scenario
			if len(sc.Cases) > 1 {
				name = fmt.Sprintf("%s.%d", sc.Scenario, i)
			}
			b.Run(name, func(b *testing.B) {
				var pr Prompt
				for n := 0; n < b.N; n++ {
					pr, _, _ = Fit(c.Pack, c.Findings, PromptBudget(s.NumCtx, s.NumPredict))
				}
				naive := NaivePrompt(raws[i])
				b.ReportMetric(float64(pr.Estimate), "tokens")
				b.ReportMetric(float64(services(c)), "services")
				b.ReportMetric(float64(naive.Estimate), "naive-tokens")
				b.ReportMetric(float64(naive.Estimate)/float64(pr.Estimate), "naive/prompt")
			})
		}
	}
}

// pipelineCase is the captured case with the largest pack.
func pipelineCase(b *testing.B) CapturedCase {
	var all []CapturedCase
	for _, sc := range loadScenarios(b) {
		all = append(all, sc.Cases...)
	}
	sort.Slice(all, func(i, j int) bool { return len(all[i].Pack.JSON()) > len(all[j].Pack.JSON()) })
	return all[0]
}

func BenchmarkPipeline(b *testing.B) {
	c := pipelineCase(b)
	packJSON, _ := json.Marshal(c.Pack)
	findingsJSON, _ := json.Marshal(c.Findings)
	s := settings.Defaults().Ollama
	b.ReportAllocs()
	b.ResetTimer()
	var size int
	for n := 0; n < b.N; n++ {
		in, err := InputFromJSON("1", packJSON, findingsJSON)
		if err != nil {
			b.Fatal(err)
		}
		req, _, _, err := Prepare(s, in)
		if err != nil {
			b.Fatal(err)
		}
		body, err := json.Marshal(req)
		if err != nil {
			b.Fatal(err)
		}
		size = len(body)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/pipeline")
	b.ReportMetric(float64(size), "request-bytes")
}

func BenchmarkRunAgainstFake(b *testing.B) {
	c := pipelineCase(b)
	fake := contractfake.NewOllamaFake(b, "0.17.4", func(req api.ChatRequest, n int) contractfake.OllamaReply {
		r := structuralModel(req, n)
		r.ChunkBytes = 1 << 20 // at once: the model is excluded
		return r
	}, contractfake.OllamaModel{Name: "phi3:mini"})
	s := settings.Defaults().Ollama
	s.URL = fake.URL
	a, err := New(s, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		if _, err := a.Run(context.Background(), Input{ID: strings.Repeat("x", n%3+1), Pack: c.Pack, Findings: c.Findings}, Events{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/run")
}
