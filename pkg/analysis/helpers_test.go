package analysis

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/meshwatch/meshwatch/pkg/devkit/contractfake"
	"github.com/meshwatch/meshwatch/pkg/evidence"
	"github.com/meshwatch/meshwatch/pkg/findings"
	"github.com/meshwatch/meshwatch/pkg/settings"
)

func f64(v float64) *float64 { return &v }

// samplePack is a small hand-made pack: shop/checkout's sidecar grows
// towards its limit and restarts; its caller sees 503s; one error log
// pattern and one trace.
func samplePack() (evidence.Pack, []findings.Finding) {
	from := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	to := from.Add(10 * time.Minute)
	mem := evidence.Metric{Kind: evidence.KindSidecarMemory, Namespace: "shop", Workload: "checkout", Container: "istio-proxy",
		Unit: evidence.UnitBytes, Summary: evidence.Summary{Baseline: f64(9e7), Window: 2.1e8, Last: 2.5e8, Min: 1.2e8, Max: 2.5e8,
			Trend: 1.2e7, Limit: f64(2.68e8), TimeToLimit: evidence.D(90 * time.Second), Points: 20}}
	mem.ID = evidence.MetricID(mem.Kind, mem.Namespace, mem.Workload, mem.Peer, mem.Container, nil)
	rst := evidence.Metric{Kind: evidence.KindRestarts, Namespace: "shop", Workload: "checkout", Container: "istio-proxy", Unit: evidence.UnitCount,
		Summary: evidence.Summary{Baseline: f64(0), Window: 1, Last: 2, Max: 2, Points: 20}}
	rst.ID = evidence.MetricID(rst.Kind, rst.Namespace, rst.Workload, rst.Peer, rst.Container, nil)
	edge := evidence.Metric{Kind: evidence.KindEdgeErrorRatio, Namespace: "shop", Workload: "frontend", Peer: "checkout",
		Detail: map[string]string{"code": "503", "flags": "UC"}, Unit: evidence.UnitRatio,
		Summary: evidence.Summary{Baseline: f64(0), Window: 0.04, Last: 0.08, Max: 0.1, Points: 20}}
	edge.ID = evidence.MetricID(edge.Kind, edge.Namespace, edge.Workload, edge.Peer, edge.Container, edge.Detail)
	pattern := "upstream connect error or disconnect/reset before headers. reset reason: connection termination"
	log := evidence.LogPattern{Namespace: "shop", Workload: "frontend", Container: "istio-proxy", Pattern: pattern, Count: 42,
		First: from.Add(3 * time.Minute), Last: to, Example: "[2026-11-20T10:03:12Z] \"POST /checkout HTTP/1.1\" 503 UC upstream connect error"}
	log.ID = evidence.LogID(log.Namespace, log.Workload, log.Container, log.Pattern)
	tr := evidence.Trace{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", Service: "frontend.shop", Workload: "frontend", Root: "POST /checkout",
		DurationMs: 3012, Error: true, Start: from.Add(4 * time.Minute)}
	tr.ID = evidence.TraceEvidenceID(tr.TraceID)
	p := evidence.Pack{Incident: 7, Window: evidence.Window{From: from, To: to}, Subject: evidence.Workload{Namespace: "shop", Workload: "checkout"},
		Scope:   []evidence.Neighbour{{Workload: evidence.Workload{Namespace: "shop", Workload: "frontend"}, Role: evidence.RoleCaller}},
		Metrics: []evidence.Metric{mem, rst, edge}, Logs: []evidence.LogPattern{log}, Traces: []evidence.Trace{tr}, CapturedAt: to}
	fs := []findings.Finding{{Namespace: "shop", Workload: "checkout", Cause: findings.SidecarMemoryLeak, Score: 0.92,
		Explanation: "istio-proxy memory grows 12 MB/min and reaches its limit in 1m30s; 2 restarts", Evidence: []string{mem.ID, rst.ID}}}
	return p, fs
}

// structuralModel is the scripted "model" of the tests: it reads the
// prompt's fenced JSON as a program would (never the prose) and answers
// with the top finding, citing its evidence. Its answer depends only on
// the data's structure and ids, so the same pack with other strings gets
// the same answer.
func structuralModel(req api.ChatRequest, _ int) contractfake.OllamaReply {
	var user string
	for _, m := range req.Messages {
		if m.Role == "user" {
			user = m.Content
		}
	}
	start := strings.Index(user, DataOpen+"\n")
	end := strings.LastIndex(user, "\n"+DataClose)
	if start < 0 || end < start {
		return contractfake.OllamaReply{Content: `{"error":"no data"}`}
	}
	var d Data
	if err := json.Unmarshal([]byte(user[start+len(DataOpen)+1:end]), &d); err != nil {
		return contractfake.OllamaReply{Content: `{"error":"data is not JSON"}`}
	}
	a := Answer{Summary: "insufficient evidence: no finding", RootCause: RootCause{Cause: findings.None, Evidence: []string{}},
		Confidence: "low", Remediation: []Step{}}
	if len(d.Findings) > 0 {
		f := d.Findings[0]
		a = Answer{
			Summary:    fmt.Sprintf("%s/%s: %s", f.Namespace, f.Workload, f.Cause),
			RootCause:  RootCause{Namespace: f.Namespace, Workload: f.Workload, Cause: f.Cause, Explanation: "as the top finding says", Evidence: f.Evidence},
			Confidence: "high",
			Remediation: []Step{{Action: "Look at the workload's pods", Why: "to confirm", Evidence: f.Evidence, Risk: "low",
				Command: fmt.Sprintf("kubectl get pods -n %s", f.Namespace)}},
		}
	}
	b, _ := json.Marshal(a)
	return contractfake.OllamaReply{Content: string(b), ChunkBytes: 16}
}

func llmSettings(url string) settings.LLM {
	s := settings.Defaults().Ollama
	s.URL, s.TimeoutSeconds = url, 10
	return s
}

func newAnalyzer(t *testing.T, s settings.LLM, q *Queue) *Analyzer {
	t.Helper()
	a, err := New(s, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}
